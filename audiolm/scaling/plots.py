"""Figures of a scaling fit (matplotlib, Agg): IsoFLOP curves with their parabolas and minima,
and N*(C), D*(C) with the fitted power laws of both approaches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audiolm.scaling.fit import FlopsPerToken, approach3_optimum, select_params


def plot_fit(cols: dict, fit: dict, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    budget = np.asarray(cols["budget"], float)
    n = select_params(cols, fit["param_convention"])
    loss = np.asarray(cols["loss"], float)
    a2, a3 = fit.get("approach2") or {}, fit.get("approach3") or {}
    per_budget = {e["budget"]: e for e in a2.get("per_budget", [])}
    cs = sorted(float(c) for c in np.unique(budget))
    cmap = plt.get_cmap("viridis")
    colors = {c: cmap(i / max(1, len(cs) - 1)) for i, c in enumerate(cs)}

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    for c in cs:
        sel = (budget == c) & np.isfinite(loss)
        ax.scatter(n[sel], loss[sel], color=colors[c], s=18, label=f"C={c:.2g}")
        e = per_budget.get(c, {})
        if e.get("parabola") and e["parabola"][0] is not None and e.get("log10_params_range"):
            lo, hi = e["log10_params_range"]
            if e.get("N_opt") and lo - 1 <= np.log10(e["N_opt"]) <= hi + 1:
                # draw the parabola out to a vertex up to a decade outside the grid
                lo, hi = min(lo, np.log10(e["N_opt"])), max(hi, np.log10(e["N_opt"]))
            x = np.linspace(lo - 0.1, hi + 0.1, 100)
            ax.plot(10 ** x, np.polyval(e["parabola"], x), color=colors[c], lw=1)
        near = e.get("log10_params_range") and e["log10_params_range"][0] - 1 <= np.log10(e.get("N_opt") or 1e-300) <= e["log10_params_range"][1] + 1
        if e.get("N_opt") and near:  # a vertex far outside the grid is listed in fit.json, not drawn
            ax.scatter([e["N_opt"]], [e["loss_opt"]], color=colors[c], marker="*", s=120,
                       edgecolors="k" if e.get("used") else "r", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel(f"parameters N ({fit['param_convention']})")
    ax.set_ylabel("validation loss")
    ax.set_title("IsoFLOP curves (star: parabola minimum)")
    ax.legend(fontsize=7)

    used = [e for e in a2.get("per_budget", []) if e.get("used")]
    c_line = np.geomspace(min(cs), max(cs + [p["budget"] for p in fit.get("predictions", [])]), 50)
    fpt = FlopsPerToken.from_dict(fit["flops_per_token_model"])
    a3_n, a3_d = [], []
    if a3:
        lo, hi = fit.get("log_n_range") or (np.log(1e3), np.log(1e12))
        for c in c_line:
            o = approach3_optimum(a3, float(c), fpt, (lo - np.log(1e4), hi + np.log(1e4)))
            a3_n.append(o["N"])
            a3_d.append(o["D"])
    for ax, key, coef, expo, label, a3_vals in (
        (axes[1], "N_opt", "params_coefficient", "params_exponent", "N*", a3_n),
        (axes[2], "D_opt", "tokens_coefficient", "tokens_exponent", "D*", a3_d),
    ):
        if used:
            ax.scatter([e["budget"] for e in used], [e[key] for e in used], color="k", zorder=3, label="parabola minima")
        if a2.get(expo) is not None:
            ci = a2.get(f"{expo}_ci") or [None, None]
            ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else ""
            ax.plot(c_line, a2[coef] * c_line ** a2[expo], "C0-", label=f"Approach 2: {label} ∝ C^{a2[expo]:.3f}{ci_txt}")
        if a3_vals:
            ax.plot(c_line, a3_vals, "C1--", label=f"Approach 3: {label} ∝ C^{a3[expo]:.3f}")
        for p in fit.get("predictions", []):
            if p.get("approach2"):
                ax.scatter([p["budget"]], [p["approach2"]["N" if label == "N*" else "D"]], marker="x", color="C0")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel(label + (" (params)" if label == "N*" else " (tokens)"))
        ax.set_title(f"compute-optimal {label}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
