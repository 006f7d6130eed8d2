"""Scaling-law fits on IsoFLOP runs: Chinchilla's Approach 2 and Approach 3.

Input: rows with ``budget`` (the nominal FLOP budget C of the IsoFLOP curve), parameters, tokens
and final loss (``runs.csv`` from ``audiolm scaling collect``; optional columns
``non_embedding_params``, ``output_head_params``, ``flops_per_token``, ``convention``).

**Approach 2.** For each budget, a parabola ``L = p2·x² + p1·x + p0`` in ``x = log10 N`` is fitted
to that budget's runs; its vertex gives ``N*(C)``. ``D*(C) = C / F(N*)`` where ``F(N)`` is the
training FLOPs per token as a function of N in the FLOP convention of the runs (``6N`` makes
``F = 6N``; the ``exact`` convention adds the attention and head terms, so ``F`` is interpolated
(monotone cubic in log-log) from the runs' own ``flops_per_token``, or ``C / tokens`` when that column is absent).
Power laws ``N* = k_N·C^a`` and ``D* = k_D·C^b`` are least-squares lines in log-log. Confidence
intervals: percentile bootstrap that resamples the runs of each budget with replacement and
redoes both stages; a resample in which any budget breaks the point estimate's rule (a convex
parabola from >= 3 sizes, vertex inside the grid) is left out and counted.

**Approach 3.** ``L(N, D) = E + A/N^α + B/D^β`` fitted by minimising the Huber loss (δ = 1e-3) of
``log L̂ − log L`` with ``log L̂ = LSE(a − α log N, b − β log D, e)`` (A = eᵃ, B = eᵇ, E = eᵉ),
from the best points of a grid of initialisations, each refined by L-BFGS-B (scipy). The implied
compute-optimal exponents for ``C ∝ N·D`` are ``a = β/(α+β)``, ``b = α/(α+β)``; intervals by
bootstrap over runs. Predictions minimise ``L(N, C/F(N))`` over N numerically.

Degenerate input never aborts the fit: NaN/inf losses are dropped, a budget with fewer than three
distinct model sizes or a non-convex parabola is left out of Approach 2, a budget whose lowest
loss sits at the edge of its grid is flagged and one whose vertex falls outside its grid is left
out; each such case warns (``ScalingFitWarning``) naming the budget and is listed in
``warnings`` of the result.
"""

from __future__ import annotations

import csv
import itertools
import math
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from audiolm.scaling._threads import single_threaded_blas

PARAM_CONVENTIONS = ("total", "non_embedding", "non_embedding_plus_head")


class ScalingFitWarning(UserWarning):
    """Degenerate scaling-law input (names the budget)."""


# ----------------------------------------------------------------------------------------- data

def read_runs_csv(path: str | Path) -> dict[str, np.ndarray]:
    """runs.csv -> column arrays (numeric where possible)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no runs")
    cols: dict[str, np.ndarray] = {}
    for key in rows[0]:
        vals = [r.get(key, "") for r in rows]
        try:
            cols[key] = np.array([float(v) if v not in ("", None) else np.nan for v in vals], dtype=float)
        except ValueError:
            cols[key] = np.array(vals, dtype=object)
    for need in ("budget", "params", "tokens", "loss"):
        if need not in cols:
            raise ValueError(f"{path}: missing column {need!r} (have {list(cols)})")
    return cols


def select_params(cols: dict[str, np.ndarray], convention: str) -> np.ndarray:
    """The N column for a parameter convention."""
    if convention == "total":
        return np.asarray(cols["params"], dtype=float)
    if "non_embedding_params" not in cols:
        raise ValueError(f"param convention {convention!r} needs a non_embedding_params column")
    ne = np.asarray(cols["non_embedding_params"], dtype=float)
    if convention == "non_embedding":
        return ne
    if convention == "non_embedding_plus_head":
        if "output_head_params" not in cols:
            raise ValueError("param convention 'non_embedding_plus_head' needs an output_head_params column")
        return ne + np.asarray(cols["output_head_params"], dtype=float)
    raise ValueError(f"param convention must be one of {PARAM_CONVENTIONS}, got {convention!r}")


class FlopsPerToken:
    """Training FLOPs per token as a function of N (in the fit's param convention).

    Inside the sampled range: a monotone cubic (PCHIP) through the runs' (log N, log F) points,
    exact at every run and smooth between them; outside: a straight line in log-log continuing
    the curve with its end slope (C¹, so Approach 3's optimum moves smoothly with C). ``slope``
    and ``intercept`` (a least-squares line through all points) are kept as a summary.
    """

    def __init__(self, log_n: Sequence[float], log_f: Sequence[float]):
        log_n, log_f = np.asarray(log_n, float), np.asarray(log_f, float)
        ok = np.isfinite(log_n) & np.isfinite(log_f)
        log_n, log_f = log_n[ok], log_f[ok]
        if len(log_n) == 0:
            raise ValueError("no finite (params, flops per token) pairs")
        uniq = np.unique(log_n)
        self.log_n = uniq
        self.log_f = np.array([log_f[log_n == u].mean() for u in uniq])
        if len(uniq) >= 2:
            self.slope, self.intercept = (float(v) for v in np.polyfit(self.log_n, self.log_f, 1))
        else:
            self.slope, self.intercept = 1.0, float(self.log_f[0] - self.log_n[0])
        self._interp = None

    def _inside(self, x: np.ndarray) -> np.ndarray:
        if len(self.log_n) < 3:
            return np.interp(x, self.log_n, self.log_f)
        if self._interp is None:
            from scipy.interpolate import PchipInterpolator

            self._interp = PchipInterpolator(self.log_n, self.log_f, extrapolate=True)
        return self._interp(x)

    def _end_slopes(self) -> tuple[float, float]:
        if len(self.log_n) < 2:
            return self.slope, self.slope
        if len(self.log_n) < 3:
            s = float((self.log_f[1] - self.log_f[0]) / (self.log_n[1] - self.log_n[0]))
            return s, s
        self._inside(self.log_n[:1])
        d = self._interp.derivative()
        return float(d(self.log_n[0])), float(d(self.log_n[-1]))

    def log(self, log_n: np.ndarray | float) -> np.ndarray:
        x = np.asarray(log_n, dtype=float)
        y = self._inside(np.clip(x, self.log_n[0], self.log_n[-1]))
        s_lo, s_hi = self._end_slopes()
        y = np.where(x < self.log_n[0], self.log_f[0] + s_lo * (x - self.log_n[0]), y)
        y = np.where(x > self.log_n[-1], self.log_f[-1] + s_hi * (x - self.log_n[-1]), y)
        return y

    def __call__(self, n):
        return np.exp(self.log(np.log(n)))

    def to_dict(self) -> dict:
        return {"log_n": self.log_n.tolist(), "log_f": self.log_f.tolist(), "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> "FlopsPerToken":
        obj = cls.__new__(cls)
        obj.log_n, obj.log_f = np.asarray(d["log_n"], float), np.asarray(d["log_f"], float)
        obj.slope, obj.intercept = float(d["slope"]), float(d["intercept"])
        obj._interp = None
        return obj


def _warn(msgs: list[str], msg: str) -> None:
    msgs.append(msg)
    warnings.warn(msg, ScalingFitWarning, stacklevel=3)


def fmt_c(c: float) -> str:
    return f"{c:.3g}"


# ----------------------------------------------------------------------------------- Approach 2

def _vertex(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Vertex of the least-squares parabola (nan when < 3 distinct x or not convex)."""
    if len(np.unique(x)) < 3:
        return float("nan"), np.full(3, np.nan)
    p = np.polyfit(x, y, 2)
    if not p[0] > 0:
        return float("nan"), p
    return float(-p[1] / (2 * p[0])), p


def _powerlaw(log_c: np.ndarray, log_y: np.ndarray) -> tuple[float, float]:
    """(exponent, log10 coefficient) of y = k·C^e by least squares in log10."""
    ok = np.isfinite(log_c) & np.isfinite(log_y)
    if ok.sum() < 2 or len(np.unique(log_c[ok])) < 2:
        return float("nan"), float("nan")
    e, k = np.polyfit(log_c[ok], log_y[ok], 1)
    return float(e), float(k)


def _window(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k runs nearest in the size order to the lowest loss (a contiguous block)."""
    order = np.argsort(x, kind="stable")
    if k <= 0 or len(x) <= k:
        return order
    i = int(np.argmin(y[order]))
    lo = min(max(0, i - k // 2), len(x) - k)
    return order[lo : lo + k]


def approach2(
    budget: np.ndarray, n: np.ndarray, loss: np.ndarray, fpt: FlopsPerToken, *,
    n_boot: int = 1000, ci: float = 0.95, seed: int = 0, msgs: list[str] | None = None, window: int = 0,
) -> dict:
    """``window`` > 0: each parabola is fitted to the ``window`` runs around the budget's lowest
    loss (in size order) instead of all of them (for grids wider than the parabolic region)."""
    msgs = [] if msgs is None else msgs
    per_budget, used = [], []
    groups = {}
    for c in np.unique(budget):
        sel = budget == c
        x, y = np.log10(n[sel]), loss[sel]
        bad = ~(np.isfinite(x) & np.isfinite(y))
        if bad.any():
            _warn(msgs, f"budget {fmt_c(c)}: {int(bad.sum())} run(s) with NaN/inf loss or params dropped")
        x, y = x[~bad], y[~bad]
        entry = {"budget": float(c), "n_runs": int(len(x)), "used": False}
        per_budget.append(entry)
        if len(np.unique(x)) < 3:
            _warn(msgs, f"budget {fmt_c(c)}: only {len(np.unique(x))} valid model size(s) (< 3); left out of Approach 2")
            continue
        order = np.argsort(x)
        i_min = int(np.argmin(y[order]))
        entry["edge_minimum"] = bool(i_min in (0, len(x) - 1))
        if window:
            keep = _window(x, y, window)
            x, y = x[keep], y[keep]
            entry["n_fitted"] = int(len(x))
        xv, p = _vertex(x, y)
        entry["parabola"] = [float(v) for v in p]
        entry["log10_params_range"] = [float(x.min()), float(x.max())]
        if not np.isfinite(xv):
            _warn(msgs, f"budget {fmt_c(c)}: IsoFLOP parabola is not convex; left out of Approach 2")
            continue
        if entry["edge_minimum"]:
            _warn(msgs, f"budget {fmt_c(c)}: lowest loss is at the {'small' if i_min == 0 else 'large'} edge of its grid; "
                        "the optimum may lie outside it (extend the width grid)")
        n_opt = 10 ** xv
        d_opt = float(c / fpt(n_opt))
        entry.update({"N_opt": float(n_opt), "D_opt": d_opt, "loss_opt": float(np.polyval(p, xv)),
                      "flops_per_token_per_param": float(fpt(n_opt) / n_opt)})
        if xv < x.min() or xv > x.max():
            _warn(msgs, f"budget {fmt_c(c)}: parabola vertex N={n_opt:.3g} lies outside the grid "
                        f"[{10 ** x.min():.3g}, {10 ** x.max():.3g}]; left out of the power-law fit")
            continue
        entry["used"] = True
        used.append(c)
        groups[c] = (x, y)

    out: dict = {"per_budget": per_budget, "n_budgets_used": len(used)}
    if len(used) < 2:
        _warn(msgs, f"Approach 2 needs >= 2 usable budgets, got {len(used)}; no power law")
        out.update({k: float("nan") for k in ("params_exponent", "params_coefficient", "tokens_exponent", "tokens_coefficient")})
        out.update({"params_exponent_ci": [float("nan")] * 2, "tokens_exponent_ci": [float("nan")] * 2})
        return out
    cs = np.array(used, float)
    log_c = np.log10(cs)
    e_by_c = {e["budget"]: e for e in per_budget}
    log_n = np.log10([e_by_c[c]["N_opt"] for c in used])
    log_d = np.log10([e_by_c[c]["D_opt"] for c in used])
    a, log_kn = _powerlaw(log_c, log_n)
    b, log_kd = _powerlaw(log_c, log_d)

    rng = np.random.default_rng(seed)
    boots = np.full((n_boot, 2), np.nan)
    excluded = {"no_convex_parabola": 0, "vertex_outside_grid": 0}
    for r in range(n_boot):
        bn, bd = np.full(len(used), np.nan), np.full(len(used), np.nan)
        why = None
        for j, c in enumerate(used):
            x, y = groups[c]
            idx = rng.integers(0, len(x), len(x))
            xv, _ = _vertex(x[idx], y[idx])
            if not np.isfinite(xv):
                why = why or "no_convex_parabola"
            elif xv < x.min() or xv > x.max():
                why = why or "vertex_outside_grid"
            bn[j] = xv
            bd[j] = math.log10(c) - float(fpt.log(xv * math.log(10)) / math.log(10)) if np.isfinite(xv) else np.nan
        if why is not None:
            # the point estimate uses a budget only when its parabola opens upward with the vertex inside
            # its grid; a resample that breaks that rule for any budget would fit a different law
            # (fewer budgets, or an extrapolated optimum), so it is left out and counted, not folded in
            excluded[why] += 1
            continue
        boots[r, 0] = _powerlaw(log_c, bn)[0]
        boots[r, 1] = _powerlaw(log_c, bd)[0]
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    good = np.isfinite(boots).all(axis=1)
    ci_a = np.percentile(boots[good, 0], q).tolist() if good.any() else [float("nan")] * 2
    ci_b = np.percentile(boots[good, 1], q).tolist() if good.any() else [float("nan")] * 2
    n_excl = sum(excluded.values())
    if n_excl:
        _warn(msgs, f"Approach 2 bootstrap: {n_excl} of {n_boot} resamples left out of the intervals "
                    f"({excluded['no_convex_parabola']} with a parabola opening downward or < 3 sizes, {excluded['vertex_outside_grid']} "
                    "with the vertex outside its budget's grid)")
    out.update({
        "params_exponent": a, "params_coefficient": float(10 ** log_kn),
        "tokens_exponent": b, "tokens_coefficient": float(10 ** log_kd),
        "params_exponent_ci": ci_a, "tokens_exponent_ci": ci_b,
        "n_boot": int(good.sum()), "ci": ci, "n_boot_requested": int(n_boot), "n_boot_excluded": excluded,
    })
    return out


# ----------------------------------------------------------------------------------- Approach 3

HUBER_DELTA = 1e-3
DEFAULT_INIT_GRID = {
    "alpha": [0.0, 0.5, 1.0, 1.5, 2.0],
    "beta": [0.0, 0.5, 1.0, 1.5, 2.0],
    "e": [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5],
    "a": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
    "b": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
}


def _lse3(t1, t2, t3):
    m = np.maximum(np.maximum(t1, t2), t3)
    w1, w2, w3 = np.exp(t1 - m), np.exp(t2 - m), np.exp(t3 - m)
    s = w1 + w2 + w3
    return m + np.log(s), w1 / s, w2 / s, w3 / s


def _objective(theta, log_n, log_d, log_l, delta):
    """Huber(log L̂ − log L)/δ summed, and its gradient; theta = (a, b, e, alpha, beta)."""
    a, b, e, alpha, beta = theta
    lse, w1, w2, w3 = _lse3(a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e))
    r = lse - log_l
    absr = np.abs(r)
    hub = np.where(absr <= delta, 0.5 * r * r, delta * (absr - 0.5 * delta)) / delta
    dr = np.clip(r, -delta, delta) / delta
    grad = np.array([
        np.sum(dr * w1), np.sum(dr * w2), np.sum(dr * w3),
        np.sum(dr * w1 * -log_n), np.sum(dr * w2 * -log_d),
    ])
    return float(hub.sum()), grad


def _grid_objective(grid: np.ndarray, log_n, log_d, log_l, delta) -> np.ndarray:
    a, b, e, al, be = (grid[:, i : i + 1] for i in range(5))
    lse, *_ = _lse3(a - al * log_n[None], b - be * log_d[None], np.broadcast_to(e, (len(grid), len(log_n))))
    r = np.abs(lse - log_l[None])
    return np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta)).sum(axis=1) / delta


def _lbfgs(theta0, log_n, log_d, log_l, delta):
    from scipy.optimize import minimize

    bounds = [(None, None), (None, None), (None, None), (0.0, 10.0), (0.0, 10.0)]
    res = minimize(_objective, np.asarray(theta0, float), args=(log_n, log_d, log_l, delta), jac=True,
                   method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8})
    return res.x, float(res.fun)


def fit_parametric(n, d, loss, *, delta: float = HUBER_DELTA, init_grid: dict | None = None, top_k: int = 16,
                   extra_inits: Iterable[Sequence[float]] = ()) -> tuple[np.ndarray, float]:
    """Best (a, b, e, alpha, beta) and its objective: grid of initialisations, best top_k refined by L-BFGS-B."""
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(loss)
    g = init_grid or DEFAULT_INIT_GRID
    grid = np.array(list(itertools.product(g["a"], g["b"], g["e"], g["alpha"], g["beta"])), dtype=float)
    vals = _grid_objective(grid, log_n, log_d, log_l, delta)
    starts = [grid[i] for i in np.argsort(vals)[:top_k]] + [np.asarray(t, float) for t in extra_inits]
    best, best_f = None, np.inf
    for t0 in starts:
        theta, f = _lbfgs(t0, log_n, log_d, log_l, delta)
        if f < best_f and np.all(np.isfinite(theta)):
            best, best_f = theta, f
    return best, best_f


def _law_params(theta) -> dict:
    a, b, e, alpha, beta = (float(v) for v in theta)
    s = alpha + beta
    return {
        "E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta,
        "params_exponent": beta / s if s > 0 else float("nan"),
        "tokens_exponent": alpha / s if s > 0 else float("nan"),
    }


def approach3(n, d, loss, *, n_boot: int = 200, ci: float = 0.95, seed: int = 0, delta: float = HUBER_DELTA,
              init_grid: dict | None = None, top_k: int = 16, msgs: list[str] | None = None) -> dict:
    msgs = [] if msgs is None else msgs
    n, d, loss = (np.asarray(v, float) for v in (n, d, loss))
    ok = np.isfinite(n) & np.isfinite(d) & np.isfinite(loss) & (n > 0) & (d > 0) & (loss > 0)
    n, d, loss = n[ok], d[ok], loss[ok]
    if len(n) < 5:
        _warn(msgs, f"Approach 3 needs >= 5 valid runs (5 parameters), got {len(n)}; not fitted")
        return {}
    theta, f = fit_parametric(n, d, loss, delta=delta, init_grid=init_grid, top_k=top_k)
    out = _law_params(theta)
    out.update({"objective": f, "huber_delta": delta, "n_runs": int(len(n))})
    rng = np.random.default_rng(seed)
    keys = ("E", "A", "B", "alpha", "beta", "params_exponent", "tokens_exponent")
    boots = []
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(loss)
    for _ in range(n_boot):
        idx = rng.integers(0, len(n), len(n))
        th, _ = _lbfgs(theta, log_n[idx], log_d[idx], log_l[idx], delta)
        p = _law_params(th)
        boots.append([p[k] for k in keys])
    if boots:
        arr = np.array(boots)
        q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
        for j, k in enumerate(keys):
            col = arr[:, j][np.isfinite(arr[:, j])]
            out[f"{k}_ci"] = np.percentile(col, q).tolist() if len(col) else [float("nan")] * 2
        out["n_boot"] = n_boot
        out["ci"] = ci
    return out


def law_loss(p3: dict, n, d):
    return p3["E"] + p3["A"] / np.asarray(n, float) ** p3["alpha"] + p3["B"] / np.asarray(d, float) ** p3["beta"]


def approach3_optimum(p3: dict, budget: float, fpt: FlopsPerToken, log_n_bounds: tuple[float, float]) -> dict:
    """argmin over N of L(N, C/F(N)) (bounded 1-D search in log N)."""
    from scipy.optimize import minimize_scalar

    def f(ln):
        n = math.exp(ln)
        return float(law_loss(p3, n, budget / float(fpt(n))))

    res = minimize_scalar(f, bounds=log_n_bounds, method="bounded", options={"xatol": 1e-6})
    n = math.exp(res.x)
    out = {"N": n, "D": float(budget / fpt(n)), "loss": float(res.fun)}
    if min(abs(res.x - log_n_bounds[0]), abs(res.x - log_n_bounds[1])) < 1e-3:
        out["at_search_bound"] = True
    return out


# ------------------------------------------------------------------------------------ together

def fit_runs(cols: dict[str, np.ndarray], *, param_convention: str = "total", predict: Sequence[float] = (),
             n_boot: int = 1000, n_boot3: int = 200, ci: float = 0.95, seed: int = 0,
             init_grid: dict | None = None, top_k: int = 16, window: int = 0) -> dict:
    """Both approaches on runs.csv columns; returns the fit.json dict."""
    msgs: list[str] = []
    budget = np.asarray(cols["budget"], float)
    n = select_params(cols, param_convention)
    tokens = np.asarray(cols["tokens"], float)
    loss = np.asarray(cols["loss"], float)
    if "flops_per_token" in cols and np.isfinite(np.asarray(cols["flops_per_token"], float)).all():
        fpt_col = np.asarray(cols["flops_per_token"], float)
    else:
        fpt_col = budget / tokens
    fpt = FlopsPerToken(np.log(n), np.log(fpt_col))
    convention = None
    if "convention" in cols:
        vals = sorted({str(v) for v in cols["convention"]})
        convention = vals[0] if len(vals) == 1 else vals
    import scipy.optimize  # noqa: F401  (load scipy's BLAS before limiting its threads)

    with single_threaded_blas():
        a2 = approach2(budget, n, loss, fpt, n_boot=n_boot, ci=ci, seed=seed, msgs=msgs, window=window)
        a3 = approach3(n, tokens, loss, n_boot=n_boot3, ci=ci, seed=seed, init_grid=init_grid, top_k=top_k, msgs=msgs)
    valid_n = n[np.isfinite(n) & (n > 0)]
    result = {
        "param_convention": param_convention,
        "parabola_window": window,
        "flop_convention": convention,
        "n_runs": int(len(n)),
        "n_valid_runs": int(np.sum(np.isfinite(loss) & np.isfinite(n))),
        "budgets": sorted(float(c) for c in np.unique(budget)),
        "params_exponent": a2.get("params_exponent"),
        "tokens_exponent": a2.get("tokens_exponent"),
        "params_exponent_ci": a2.get("params_exponent_ci"),
        "tokens_exponent_ci": a2.get("tokens_exponent_ci"),
        "approach2": a2,
        "approach3": a3,
        "flops_per_token_model": fpt.to_dict(),
        "log_n_range": [float(np.log(valid_n.min())), float(np.log(valid_n.max()))] if len(valid_n) else None,
        "warnings": msgs,
    }
    result["predictions"] = [predict_budget(result, c) for c in predict]
    return _clean(result)


def predict_budget(fit: dict, budget: float) -> dict:
    """N*, D* and loss at a budget from both approaches (Approach 2's loss from the Approach 3 law)."""
    fpt = FlopsPerToken.from_dict(fit["flops_per_token_model"])
    out: dict = {"budget": float(budget)}
    a2, a3 = fit.get("approach2", {}), fit.get("approach3", {})
    if a2.get("params_exponent") is not None and np.isfinite(a2.get("params_exponent", np.nan)):
        n2 = a2["params_coefficient"] * budget ** a2["params_exponent"]
        d2 = a2["tokens_coefficient"] * budget ** a2["tokens_exponent"]
        out["approach2"] = {"N": float(n2), "D": float(d2), "D_from_flops": float(budget / fpt(n2))}
        if a3:
            out["approach2"]["loss"] = float(law_loss(a3, n2, d2))
    if a3:
        lo, hi = fit.get("log_n_range") or (math.log(1e3), math.log(1e12))
        out["approach3"] = approach3_optimum(a3, budget, fpt, (lo - math.log(1e4), hi + math.log(1e4)))
    return out


def _clean(x):
    """JSON-safe: numpy scalars -> python, nan/inf -> None."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
