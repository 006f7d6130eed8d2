"""report.json and the readable table of an evaluation run."""

from __future__ import annotations

import json
import math
from pathlib import Path

# the metrics shown in the table for each kind of task (all metrics are in report.json)
HEADLINE = ("accuracy", "wer", "cer", "similarity", "wer_reference", "similarity_reference", "bleu", "chrf",
            "transcript_wer", "asr_bleu", "similarity_to_source", "seconds")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def table(tasks: dict[str, dict]) -> str:
    """One line per (task, headline metric), with n and the chance level."""
    rows = [("task", "metric", "value", "chance", "n")]
    for name, m in tasks.items():
        if "error" in m:
            rows.append((name, "ERROR", m["error"][:100], "", ""))
            continue
        shown = [k for k in HEADLINE if k in m]
        for k in shown:
            chance = _fmt(m["chance"]) if (k == "accuracy" and "chance" in m) else (
                _fmt(m["chance_bleu"]) if k == "bleu" and "chance_bleu" in m else "-")
            rows.append((name, k, _fmt(m[k]), chance, str(m.get("n", ""))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_report(path: str | Path, tasks: dict[str, dict], checkpoint: str, **extra) -> dict:
    report = {"tasks": tasks, "checkpoint": str(checkpoint), **extra}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    return report


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)
