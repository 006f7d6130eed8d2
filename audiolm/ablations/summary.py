"""``results.csv`` -> per-axis tables (mean +- standard error over seeds), verdicts, plots.

A verdict is decided by the interval of the difference between two variants, never by eye:
``d`` is signed so that positive means "as the finding says"; its standard error combines the
seed-to-seed spread of each variant with the benchmark's own item-level error.
*reproduced*: ``d > 2 s.e.``; *opposite*: ``d < -2 s.e.``; otherwise *inconclusive at this scale*
(a finding may also set ``min_effect``: a smaller difference is inconclusive however tight).
A "no change" finding is reproduced when the whole 2-s.e. interval lies within its tolerance
(relative to the reference), opposite when the difference is both significant and beyond it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiolm.ablations.results import ACCURACY_TASKS, lower_is_better
from audiolm.ablations.spec import Finding, Study

TABLE_METRICS = [  # (column, header, digits)
    ("text_nll", "text NLL", 3), ("val_bits_per_audio_second", "bits/audio s", 0), ("audio_nll", "audio NLL", 3),
    ("text_gain", "cross-modal gain", 3), ("twuggy", "tWUGGY", 3), ("tblimp", "tBLIMP", 3),
    ("swuggy", "sWUGGY", 3), ("sblimp", "sBLIMP", 3), ("salmon_acoustic", "SALMon (acoustic)", 3),
    ("asr_wer", "ASR WER", 3),
]


@dataclass
class Stat:
    mean: float
    se: float  # seed spread and item error combined (see module docstring)
    k: int  # seeds

    def fmt(self, digits: int) -> str:
        return f"{self.mean:.{digits}f} ± {self.se:.{digits}f}"


def stat(rows: list[dict], variant: str, metric: str) -> Stat | None:
    vals = [r[metric] for r in rows if r["variant"] == variant and isinstance(r.get(metric), float)]
    if not vals:
        return None
    k = len(vals)
    seed_var = float(np.var(vals, ddof=1)) / k if k > 1 else 0.0
    item = [r[f"{metric}_se"] for r in rows if r["variant"] == variant and isinstance(r.get(f"{metric}_se"), float)]
    item_var = (float(np.mean(item)) ** 2) / k if item else 0.0
    return Stat(float(np.mean(vals)), math.sqrt(seed_var + item_var), k)


def verdict(rows: list[dict], f: Finding) -> dict:
    a, b = f.pair
    sa = stat(rows, a, f.metric)
    if f.than_value is not None:
        sb = Stat(float(f.than_value), 0.0, sa.k) if sa else None
    else:
        sb = stat(rows, b, f.than_metric or f.metric)
    out = {"claim": f.claim, "metric": f.metric, "variants": [a, b] if f.than or f.same else [a], "against": f.against}
    if sa is None or sb is None:
        return {**out, "verdict": "not measured"}
    if sa.se == 0 and sb.se == 0 and min(sa.k, sb.k) < 2:  # no item-level error and one seed: no interval yet
        return {**out, "a": sa.mean, "b": sb.mean, "seeds": [sa.k, sb.k], "verdict": "needs a second seed"}
    sign = -1.0 if lower_is_better(f.metric) else 1.0
    d = sign * (sa.mean - sb.mean)
    se = math.sqrt(sa.se**2 + sb.se**2)
    z = d / se if se > 0 else (math.inf if d > 0 else -math.inf if d < 0 else 0.0)
    out.update(a=sa.mean, a_se=sa.se, b=sb.mean, b_se=sb.se, seeds=[sa.k, sb.k], difference=d, difference_se=se,
               interval=[d - 2 * se, d + 2 * se], z=z)
    if f.better:  # significant (2 s.e.) and, where the finding sets one, at least its smallest effect that matters
        big = abs(d) >= f.min_effect
        out["verdict"] = ("reproduced" if z >= 2 and big else "opposite" if z <= -2 and big
                          else "inconclusive at this scale")
    else:
        tol = f.tolerance * abs(sb.mean)
        if abs(d) + 2 * se <= tol:
            out["verdict"] = "reproduced"
        elif abs(z) >= 2 and abs(d) > tol:
            out["verdict"] = "opposite"
        else:
            out["verdict"] = "inconclusive at this scale"
        out["tolerance"] = tol
    return out


def needs_more_seeds(rows: list[dict], study: Study) -> set[str]:
    """Variants of a finding whose difference lies within two standard errors and that have fewer than three seeds."""
    want: set[str] = set()
    for axis in study.axes.values():
        for f in axis.findings:
            v = verdict(rows, f)
            if v["verdict"] in ("inconclusive at this scale", "needs a second seed") and min(v["seeds"]) < 3:
                want.update(v["variants"])
    return want


def _table(rows: list[dict], names: list[str]) -> list[str]:
    present = [(c, h, d) for c, h, d in TABLE_METRICS if any(stat(rows, n, c) for n in names)]
    lines = ["| variant | seeds | tokens | audio h | " + " | ".join(h for _, h, _ in present) + " |",
             "|---" * (len(present) + 4) + "|"]
    for n in names:
        mine = [r for r in rows if r["variant"] == n]
        if not mine:
            lines.append(f"| {n} | 0 | not run |" + " |" * len(present))
            continue
        tokens = np.mean([r.get("tokens", 0.0) for r in mine])
        hours = np.mean([r.get("train_audio_seconds", 0.0) for r in mine]) / 3600
        cells = [(s.fmt(d) if (s := stat(rows, n, c)) else "–") for c, _, d in present]
        lines.append(f"| {n} | {len(mine)} | {tokens / 1e6:.2f}M | {hours:.2f} | " + " | ".join(cells) + " |")
    return lines


def _fmt_verdict(v: dict) -> str:
    if v["verdict"] == "not measured":
        return f"| {v['claim']} | {v['metric']} | – | – | not measured |"
    a = v["variants"][0]
    measured = f"`{v['metric']}`: {a} {v['a']:.3f} vs {v['against']} {v['b']:.3f}"
    if "interval" not in v:
        return f"| {v['claim']} | {measured} | – | – | {v['verdict']} |"
    lo, hi = v["interval"]
    return f"| {v['claim']} | {measured} | {v['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {v['z']:+.1f} | **{v['verdict']}** |"


def summarize(rows: list[dict], study: Study, out_dir: Path, plots: bool = True) -> dict:
    """Write ``summary.md``, ``verdicts.json`` and ``plots/<axis>.png`` under ``out_dir``; return the verdicts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = ["# Ablation study: tables and verdicts", "",
          f"{len(rows)} runs; means ± one standard error over seeds (item-level error included); a verdict needs "
          "the difference's 2-s.e. interval to exclude 0 (see `audiolm/ablations/summary.py`).", ""]
    verdicts: dict[str, list[dict]] = {}
    for axis in study.axes.values():
        md += [f"## {axis.title}", ""] + _table(rows, axis.variants) + [""]
        vs = [verdict(rows, f) for f in axis.findings]
        verdicts[axis.name] = vs
        if vs:
            md += ["| finding | measured | difference [2 s.e.] | z | verdict |", "|---|---|---|---|---|"]
            md += [_fmt_verdict(v) for v in vs] + [""]
        if plots and rows:
            png = plot_axis(rows, axis, out_dir / "plots" / f"{axis.name}.png")
            if png:
                md += [f"![{axis.title}](plots/{png.name})", ""]
    (out_dir / "summary.md").write_text("\n".join(md) + "\n")
    (out_dir / "verdicts.json").write_text(json.dumps(verdicts, indent=2) + "\n")
    return verdicts


def plot_axis(rows: list[dict], axis, path: Path) -> Path | None:
    """Bars with error bars per finding metric; the text-ratio axis (with ``x``) as curves of text and audio bits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    if axis.x:
        names = [n for n in axis.variants if n in axis.x and stat(rows, n, "text_nll")]
        if not names:
            return None
        names.sort(key=lambda n: axis.x[n])
        xs = [axis.x[n] for n in names]
        fig, ax1 = plt.subplots(figsize=(6, 4))
        t = [stat(rows, n, "text_nll") for n in names]
        ax1.errorbar(xs, [s.mean / math.log(2) for s in t], yerr=[2 * s.se / math.log(2) for s in t], marker="o",
                     color="tab:blue", capsize=3, label="held-out transcripts alone (bits / token)")
        ax1.set_xlabel("text-only tokens in the mixture (%)")
        ax1.set_ylabel("bits per text token", color="tab:blue")
        ax2 = ax1.twinx()
        a = [stat(rows, n, "val_bits_per_audio_second") for n in names]
        if all(a):
            ax2.errorbar(xs, [s.mean for s in a], yerr=[2 * s.se for s in a], marker="s", color="tab:red", capsize=3,
                         label="audio (bits / second)")
        ax2.set_ylabel("bits per second of audio", color="tab:red")
        ax1.set_title(f"{axis.title} (bars: 2 s.e.)", fontsize=9)
    else:
        metrics = list(dict.fromkeys(f.metric for f in axis.findings))
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), squeeze=False)
        for ax, m in zip(axes[0], metrics):
            names = [n for n in axis.variants if stat(rows, n, m)]
            st = [stat(rows, n, m) for n in names]
            ax.bar(range(len(names)), [s.mean for s in st], yerr=[2 * s.se for s in st], capsize=3, color="tab:gray")
            ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=7)
            ax.set_title(m + (" (lower better)" if lower_is_better(m) else ""), fontsize=8)
            ref = 0.5 if m in ACCURACY_TASKS or m == "salmon_acoustic" else 0.0 if m.endswith("_gain") else None
            if ref is not None:  # chance (two-choice sets) or no gain
                ax.axhline(ref, color="tab:red", ls="--", lw=0.8)
            lo = min(s.mean - 2 * s.se for s in st) if st else 0
            hi = max(s.mean + 2 * s.se for s in st) if st else 1
            if hi > lo:
                ax.set_ylim(lo - 0.15 * (hi - lo), hi + 0.15 * (hi - lo))
        fig.suptitle(f"{axis.title} (bars: 2 s.e.)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
