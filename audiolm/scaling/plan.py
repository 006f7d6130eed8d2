"""IsoFLOP sweep planner: FLOP budgets -> a grid of complete LM training configs.

SODA's grid rules (DESIGN.md), each a field of :class:`PlanConfig` so any of them can change:

* widths ``d`` from ``width.min`` to ``width.max`` in steps of ``width.step`` (128..2048 step 128),
  or an explicit ``width.values`` list;
* layers ``= round(d / (a + b·log2 d − c))`` with ``(a, b, c) = (64, 4, 7)``, at least ``depth.min_layers``;
* heads ``= d / head_dim`` with ``head_dim = 128``; a width that is not a multiple of ``head_dim``
  gets ``round(d / head_dim)`` heads of ``head_dim``; a width below ``head_dim`` gets one head of
  size ``d`` (SODA's smallest width, 128, is exactly one head of 128);
* ``n_kv_heads = n_heads // heads.kv_ratio`` (``kv_ratio: 1`` = multi-head attention, our
  default for the grid: SODA states no GQA rule for it), lowered until it divides ``n_heads``;
* ``ffn_dim = ffn.mult · d`` (4d), rounded up to a multiple of ``ffn.multiple_of``;
* learning rate ``lr.base · (lr.ref_width / d) ** lr.width_power · (B / lr.ref_batch) ** lr.batch_power``
  clipped to ``[lr.min, lr.max]`` (``width_power: 0`` = one lr for all sizes), the batch B halved
  while the lr exceeds ``lr.halve_batch_above`` (when set);
* ``batch.steps > 0`` (SODA's released sweep): per model, the power-of-two batch that trains the
  budget in about that many steps; ``betas.beta2_base > 0``: ``beta2 = beta2_base ** (B / ref_batch)``;
* batch in tokens ``batch.tokens · (C / batch.ref_budget) ** batch.budget_power``; the
  sequences per optimizer step ``max(batch.min_batch_size, round(tokens / seq_len))`` go to
  ``trainer.global_batch_size`` (rounded to whole micro batches) and ``data.batch_size`` is
  ``batch.micro_batch_size`` (per device pass; 0 = the whole batch in one pass);
* tokens ``D = C / F(model)``, ``F`` = training FLOPs per token under ``convention``
  (:mod:`audiolm.lm.flops`; ``exact`` = 3 × forward FLOPs, SODA's), rounded to whole steps;
* skip a (budget, width) when ``D / N`` (``N`` in ``skip.param_convention``) falls outside
  ``[skip.min_tokens_per_param, skip.max_tokens_per_param]``, when it would train fewer than
  ``skip.min_steps`` optimizer steps, or when ``N`` exceeds ``skip.max_params`` (0 = no limit);
  optionally (SODA's sweep) at ``>= skip.max_steps`` steps, a batch below ``skip.min_batch_size``,
  or whole steps missing the budget by more than ``skip.flop_tolerance``.

Each kept run becomes ``runs/<name>.yaml`` next to the sweep file: ``_base_`` = the base training
config, plus ``name``, ``model.{d_model,n_layers,n_heads,n_kv_heads,head_dim,ffn_dim}``,
``trainer.max_tokens``, ``trainer.global_batch_size``, ``optim.lr``, ``data.batch_size``,
``data.seq_len`` (and ``exp_dir``, ``model.max_seq_len`` when the base's is shorter than
``seq_len``, and any ``overrides``). The sweep file lists the runs with their shapes, parameters, FLOPs per
token and the planned tokens, and the skipped cells with the reason.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audiolm.lm import flops as F

PARAM_CONVENTIONS = ("total", "non_embedding", "non_embedding_plus_head")


@dataclass
class WidthRule:
    min: int = 128
    max: int = 2048
    step: int = 128
    values: list[int] = field(default_factory=list)  # explicit widths; overrides min/max/step
    coarse_above: float = 0.0  # budgets above this use ``coarse_step`` (SODA: 256 above 9e18); 0 = never
    coarse_step: int = 0

    def widths(self, budget: float = 0.0) -> list[int]:
        if self.values:
            return sorted(set(int(v) for v in self.values))
        step = self.coarse_step if self.coarse_above and self.coarse_step and budget > self.coarse_above else self.step
        if step <= 0 or self.min <= 0 or self.max < self.min:
            raise ValueError(f"bad width grid min={self.min} max={self.max} step={step}")
        return list(range(self.min, self.max + 1, step))


@dataclass
class DepthRule:
    """layers = round(d / (a + b·log2 d − c))."""

    a: float = 64.0
    b: float = 4.0
    c: float = 7.0
    min_layers: int = 1

    def layers(self, d: int) -> int:
        denom = self.a + self.b * math.log2(d) - self.c
        if denom <= 0:
            raise ValueError(f"depth rule denominator {denom} <= 0 at width {d}")
        # round half away from zero (Python's round() is banker's rounding)
        return max(self.min_layers, int(math.floor(d / denom + 0.5)))


@dataclass
class HeadRule:
    head_dim: int = 128
    kv_ratio: int = 1  # n_kv_heads = n_heads // kv_ratio (1 = MHA)

    def heads(self, d: int) -> tuple[int, int, int]:
        """(n_heads, n_kv_heads, head_dim) for width d."""
        if d < self.head_dim:
            n_heads, hd = 1, d
        else:
            n_heads, hd = max(1, int(math.floor(d / self.head_dim + 0.5))), self.head_dim
        kv = max(1, n_heads // max(1, self.kv_ratio))
        while n_heads % kv:
            kv -= 1
        return n_heads, kv, hd


@dataclass
class FFNRule:
    mult: float = 4.0
    multiple_of: int = 1

    def ffn(self, d: int) -> int:
        m = max(1, self.multiple_of)
        return int(math.ceil(self.mult * d / m) * m)


@dataclass
class LRRule:
    """lr = base · (ref_width / d) ** width_power · (B / ref_batch) ** batch_power, clipped to [min, max].

    ``halve_batch_above`` > 0: while the lr exceeds it, the batch B is halved (SODA's sweep:
    lr = 0.33·sqrt(B)/d, halving B while lr > 0.01)."""

    base: float = 2e-3
    ref_width: float = 512
    width_power: float = 0.5
    batch_power: float = 0.0
    ref_batch: float = 1.0
    halve_batch_above: float = 0.0
    min: float = 0.0
    max: float = 1.0

    def lr(self, d: int, batch: int = 1) -> float:
        v = self.base * (self.ref_width / d) ** self.width_power * (batch / self.ref_batch) ** self.batch_power
        return float(min(self.max, max(self.min, v)))


@dataclass
class BetasRule:
    """``beta2_base > 0``: betas = [beta1, beta2_base ** (B / ref_batch)] (SODA's sweep: 0.98^(B/128),
    after arXiv:2507.07101); 0 = the base config's betas."""

    beta1: float = 0.0  # 0 = the base config's beta1
    beta2_base: float = 0.0
    ref_batch: float = 128.0


@dataclass
class BatchRule:
    """Batch in tokens = tokens · (C / ref_budget) ** budget_power (0 = the same batch at every budget)."""

    tokens: int = 1_048_576  # 256 sequences of 4096
    budget_power: float = 0.0
    ref_budget: float = 3e18
    min_batch_size: int = 1
    micro_batch_size: int = 0  # sequences per device pass (data.batch_size); 0 = the whole batch
    steps: int = 0  # > 0: per model, the power of two >= C / (F(N) · seq_len · steps) sequences (SODA: 2^16)

    def steps_batch(self, budget: float, fpt: float, seq_len: int) -> int:
        exact = budget / (fpt * seq_len * self.steps)
        return 1 if exact <= 1 else 2 ** math.ceil(math.log2(exact))

    def batch_size(self, budget: float, seq_len: int) -> int:
        t = self.tokens * (budget / self.ref_budget) ** self.budget_power
        bs = max(self.min_batch_size, int(round(t / seq_len)))
        if self.micro_batch_size > 0:  # whole micro batches per step
            bs = max(1, int(round(bs / self.micro_batch_size))) * self.micro_batch_size
        return bs


@dataclass
class SkipRule:
    min_tokens_per_param: float = 1.5
    max_tokens_per_param: float = 200.0
    param_convention: str = "total"
    min_steps: int = 200
    max_params: int = 0  # 0 = no limit
    max_steps: int = 0  # 0 = no limit (SODA's sweep drops runs of >= 400000 steps)
    min_batch_size: int = 0  # SODA's sweep drops batches < 8
    flop_tolerance: float = 0.0  # > 0: drop a run whose whole steps miss the budget by more (SODA: 0.01)


@dataclass
class PlanConfig:
    """Every rule of the IsoFLOP grid (YAML-loadable with ``audiolm.config.load_config``)."""

    base_config: str = ""  # the LM training config each run starts from (``_base_``)
    name_prefix: str = "iso"
    exp_dir: str = ""  # "" = the base config's exp_dir
    budgets: list[float] = field(default_factory=lambda: [3e18, 6e18, 1e19, 3e19, 6e19, 1e20, 3e20])
    convention: str = "exact"
    seq_len: int = 4096
    vocab_size: int = 144644  # 0 = the base config's model.vocab_size, else its data.tokenizer's size
    width: WidthRule = field(default_factory=WidthRule)
    depth: DepthRule = field(default_factory=DepthRule)
    heads: HeadRule = field(default_factory=HeadRule)
    ffn: FFNRule = field(default_factory=FFNRule)
    lr: LRRule = field(default_factory=LRRule)
    batch: BatchRule = field(default_factory=BatchRule)
    betas: BetasRule = field(default_factory=BetasRule)
    skip: SkipRule = field(default_factory=SkipRule)
    tie_embeddings: bool = False  # used only for the accounting; must match the base config
    qk_norm: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)  # extra dotted keys for every run


def fmt_budget(c: float) -> str:
    """3e18 -> '3e18', 1.5e12 -> '1.5e12', 1e19 -> '1e19' (used in run names)."""
    if c <= 0:
        raise ValueError(f"budget must be positive, got {c}")
    exp = int(math.floor(math.log10(c)))
    mant = c / 10**exp
    if round(mant, 3) >= 10:
        exp, mant = exp + 1, mant / 10
    m = f"{mant:.3g}"
    return f"{m}e{exp}"


def model_shape(plan: PlanConfig, d: int) -> dict:
    """The ModelConfig fields the grid sets for width d (plus the accounting-only fields)."""
    n_heads, n_kv, hd = plan.heads.heads(d)
    return {
        "vocab_size": plan.vocab_size,
        "d_model": d,
        "n_layers": plan.depth.layers(d),
        "n_heads": n_heads,
        "n_kv_heads": n_kv,
        "head_dim": hd,
        "ffn_dim": plan.ffn.ffn(d),
        "tie_embeddings": plan.tie_embeddings,
        "qk_norm": plan.qk_norm,
    }


def param_count(params: dict, convention: str) -> int:
    if convention not in PARAM_CONVENTIONS:
        raise ValueError(f"param convention must be one of {PARAM_CONVENTIONS}, got {convention!r}")
    return int(params[convention])


def make_run(plan: PlanConfig, budget: float, d: int, name: str | None = None) -> dict:
    """The run entry for width d at a budget: shape, parameters, FLOPs per token, tokens rounded to
    whole optimizer steps (at least one), lr and batch size."""
    shape = model_shape(plan, d)
    params = F.param_counts(shape)
    fpt = F.training_flops_per_token(shape, plan.seq_len, plan.convention)
    if plan.batch.steps > 0:
        batch_size = plan.batch.steps_batch(budget, fpt, plan.seq_len)
    else:
        batch_size = plan.batch.batch_size(budget, plan.seq_len)
    lr = plan.lr.lr(d, batch_size)
    while plan.lr.halve_batch_above > 0 and lr > plan.lr.halve_batch_above and batch_size > 1:
        batch_size //= 2
        lr = plan.lr.lr(d, batch_size)
    batch_tokens = batch_size * plan.seq_len
    steps = max(1, int(round(budget / fpt / batch_tokens)))
    tokens = steps * batch_tokens
    return {
        "name": name or f"{plan.name_prefix}_C{fmt_budget(budget)}_d{d}",
        "budget": float(budget),
        "model": {k: shape[k] for k in ("d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_dim")},
        "params": {k: int(v) for k, v in params.items() if k != "per_layer"},
        "flops_per_token": float(fpt),
        "convention": F.normalize_convention(plan.convention),
        "tokens": int(tokens),
        "flops": float(tokens * fpt),
        "steps": steps,
        "exact_steps": budget / fpt / batch_tokens,
        "lr": lr,
        "batch_size": batch_size,
        "micro_batch_size": min(batch_size, plan.batch.micro_batch_size or batch_size),
        "seq_len": plan.seq_len,
        **({"betas": [float(plan.betas.beta1), float(plan.betas.beta2_base ** (batch_size / plan.betas.ref_batch))]}
           if plan.betas.beta2_base > 0 else {}),
    }


def plan_cell(plan: PlanConfig, budget: float, d: int) -> tuple[dict | None, dict]:
    """Plan one (budget, width) cell: ``(run, {})`` when kept, ``(None, info)`` when a skip rule
    fires (``info`` has ``name, budget, d_model, params, tokens, tokens_per_param, reason``)."""
    run = make_run(plan, budget, d)
    n = param_count(run["params"], plan.skip.param_convention)
    ratio = run["tokens"] / n
    run["tokens_per_param"] = ratio
    sk = plan.skip
    reason = None
    if run.pop("exact_steps") < sk.min_steps:
        reason = f"{budget / run['flops_per_token'] / (run['batch_size'] * plan.seq_len):.1f} steps < min_steps {sk.min_steps}"
    elif ratio < sk.min_tokens_per_param:
        reason = f"tokens/params {ratio:.3g} < {sk.min_tokens_per_param}"
    elif ratio > sk.max_tokens_per_param:
        reason = f"tokens/params {ratio:.3g} > {sk.max_tokens_per_param}"
    elif sk.max_params and n > sk.max_params:
        reason = f"params {n} > max_params {sk.max_params}"
    elif sk.max_steps and run["steps"] >= sk.max_steps:
        reason = f"{run['steps']} steps >= max_steps {sk.max_steps}"
    elif sk.min_batch_size and run["batch_size"] < sk.min_batch_size:
        reason = f"batch {run['batch_size']} < min_batch_size {sk.min_batch_size}"
    elif sk.flop_tolerance and abs(run["flops"] - budget) / budget > sk.flop_tolerance:
        reason = f"whole steps give {run['flops']:.3g} FLOPs, {abs(run['flops'] - budget) / budget:.1%} off the budget"
    if reason is None:
        return run, {}
    return None, {"name": run["name"], "budget": float(budget), "d_model": d, "params": n, "tokens": run["tokens"],
                  "tokens_per_param": ratio, "reason": reason}


def _read_base(plan: PlanConfig) -> dict:
    if not plan.base_config:
        return {}
    from omegaconf import OmegaConf

    from audiolm.config import load_yaml_with_bases

    return OmegaConf.to_container(load_yaml_with_bases(plan.base_config), resolve=False)  # type: ignore[return-value]


def resolve_plan(plan: PlanConfig) -> PlanConfig:
    """Fill vocab_size / tie_embeddings / qk_norm / exp_dir from the base config where asked."""
    base = _read_base(plan)
    model = base.get("model", {}) or {}
    plan = dataclasses.replace(plan)
    if plan.vocab_size <= 0:
        v = int(model.get("vocab_size", 0) or 0)
        tok = (base.get("data", {}) or {}).get("tokenizer")
        if v <= 0 and tok and Path(tok).is_file():
            from audiolm.tokens.tokenizer import UnifiedTokenizer

            v = int(UnifiedTokenizer.from_file(tok).vocab.size)
        if v <= 0:
            raise ValueError(
                "vocab_size is 0 in the plan and in the base config's model.vocab_size, and the base config's "
                "data.tokenizer is not a file: set vocab_size in the plan (144644 for SODA's Llama-3 vocabulary)"
            )
        plan.vocab_size = v
    if plan.betas.beta2_base > 0 and plan.betas.beta1 <= 0:
        betas = (base.get("optim", {}) or {}).get("betas") or [0.98, 0.98]
        plan.betas = dataclasses.replace(plan.betas, beta1=float(betas[0]))
    if base:
        if "tie_embeddings" in model:
            plan.tie_embeddings = bool(model["tie_embeddings"])
        if "qk_norm" in model:
            plan.qk_norm = bool(model["qk_norm"])
        if not plan.exp_dir and base.get("exp_dir"):
            plan.exp_dir = str(base["exp_dir"])
        max_len = int(model.get("max_seq_len", 0) or 0)
        if max_len and max_len < plan.seq_len:
            plan.overrides = {**dict(plan.overrides or {}), "model.max_seq_len": plan.seq_len}
    if not plan.exp_dir:
        from audiolm.lm.train_config import LMTrainConfig

        plan.exp_dir = LMTrainConfig().exp_dir
    return plan


def build_sweep(plan: PlanConfig) -> dict:
    """All kept runs (sorted by budget, then width) and skipped cells of the grid."""
    F.normalize_convention(plan.convention)
    if plan.skip.param_convention not in PARAM_CONVENTIONS:
        raise ValueError(f"skip.param_convention must be one of {PARAM_CONVENTIONS}")
    runs, skipped = [], []
    for budget in sorted(float(b) for b in plan.budgets):
        for d in plan.width.widths(budget):
            run, info = plan_cell(plan, budget, d)
            (runs.append(run) if run is not None else skipped.append(info))
    return {"runs": runs, "skipped": skipped}


def _nested(dotted: dict[str, Any]) -> dict:
    out: dict = {}
    for key, value in dotted.items():
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_config(plan: PlanConfig, run: dict, config_path: Path) -> dict:
    """The YAML mapping of one run: ``_base_`` + the grid's overrides."""
    cfg: dict = {}
    if plan.base_config:
        base = os.path.relpath(Path(plan.base_config).resolve(), config_path.parent.resolve())
        cfg["_base_"] = [base]
    cfg["name"] = run["name"]
    if plan.exp_dir:
        cfg["exp_dir"] = plan.exp_dir
    cfg = _deep_merge(cfg, _nested({str(k): v for k, v in (plan.overrides or {}).items()}))
    cfg = _deep_merge(cfg, {
        "model": dict(run["model"]),
        # the global batch is always explicit: a base config's global_batch_size (SODA's 512)
        # would otherwise change the tokens per step behind the plan's back
        "trainer": {"max_tokens": int(run["tokens"]), "global_batch_size": int(run["batch_size"])},
        "optim": {"lr": float(run["lr"]), **({"betas": list(run["betas"])} if "betas" in run else {})},
        "data": {"batch_size": int(run["micro_batch_size"]), "seq_len": int(run["seq_len"])},
    })
    return cfg


def write_sweep(plan: PlanConfig, out: str | Path) -> dict:
    """Plan the grid, write ``out`` (the sweep file) and ``<out dir>/runs/<name>.yaml``; return the sweep."""
    from omegaconf import OmegaConf

    plan = resolve_plan(plan)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep = build_sweep(plan)
    run_dir = out.parent / "runs"
    run_dir.mkdir(exist_ok=True)
    for run in sweep["runs"]:
        path = write_run_config(plan, run, run_dir / f"{run['name']}.yaml")
        run["config"] = os.path.relpath(path, out.parent)
        run["exp_dir"] = plan.exp_dir
    doc = {
        "plan": OmegaConf.to_container(OmegaConf.structured(plan)),
        "runs": sweep["runs"],
        "skipped": sweep["skipped"],
    }
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return doc


def load_sweep(path: str | Path) -> dict:
    """Read a sweep file; run config paths become absolute-or-cwd-relative paths usable as-is."""
    path = Path(path)
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or "runs" not in doc:
        raise ValueError(f"{path}: not a sweep file (no 'runs')")
    for run in doc["runs"]:
        cfg = Path(run["config"])
        if not cfg.is_absolute():
            run["config"] = str(path.parent / cfg)
    return doc


def plan_from_dict(d: dict) -> PlanConfig:
    from audiolm.config import config_from_dict

    return config_from_dict(PlanConfig, d)


def config_for_params(plan: PlanConfig, budget: float, n_target: float, param_convention: str = "total",
                      max_width: int = 32768) -> dict:
    """The grid-rule model whose parameter count (in ``param_convention``) is nearest to ``n_target``
    (in log), trained for ``budget`` FLOPs: a run entry like the planner's (no skip rules)."""
    step = plan.width.step if not plan.width.values else max(1, min(plan.width.values))
    start = plan.width.values[0] if plan.width.values else plan.width.min
    start = max(1, min(start, step))
    best = None
    for d in range(start, max_width + 1, step):
        p = F.param_counts(model_shape(plan, d))
        gap = abs(math.log(param_count(p, param_convention)) - math.log(n_target))
        if best is None or gap < best[0]:
            best = (gap, d)
    run = make_run(plan, budget, best[1], name=f"{plan.name_prefix}_pred_C{fmt_budget(budget)}")
    run.pop("exact_steps")
    run["tokens_per_param"] = run["tokens"] / param_count(run["params"], param_convention)
    return run


def write_run_config(plan: PlanConfig, run: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = run_config(plan, run, path)
    header = f"# budget {run['budget']:.3g} FLOPs ({run['convention']}), {run['params']['total']:,} params, {run['tokens']:,} tokens\n"
    path.write_text(header + yaml.safe_dump(cfg, sort_keys=False))
    return path
