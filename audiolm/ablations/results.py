"""One finished run -> one row of ``results.csv``: NLL components, bits per audio second, every
benchmark score with its n and standard error, the cross-modal gain, tokens, seconds and time."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

# the acoustic-consistency parts of SALMon (its sentiment/alignment parts need meaning, not sound)
SALMON_ACOUSTIC = ("salmon_speaker", "salmon_gender", "salmon_background", "salmon_room")
ACCURACY_TASKS = ("twuggy", "tblimp", "swuggy", "sblimp", *SALMON_ACOUSTIC)

#: metrics where lower is better (NLLs, bits, error rates); every other metric is better higher
LOWER_IS_BETTER = ("val_", "nll_", "bits_", "asr_wer")


def lower_is_better(metric: str) -> bool:
    return metric.startswith(LOWER_IS_BETTER) or metric.endswith("_nll")


def run_row(run_dir: Path, variant: str, seed: int) -> dict:
    """The row of one run: ``final.json`` (training) and, when evaluated, ``eval.json``."""
    final = json.loads((run_dir / "final.json").read_text())
    per = final.get("val_loss_per_modality") or {}
    row: dict = {
        "variant": variant, "seed": seed,
        "tokens": final.get("tokens"), "steps": final.get("steps"),
        "train_audio_seconds": final.get("train_audio_seconds"),
        "params": (final.get("params") or {}).get("total"),
        "train_wall_s": round(float(final.get("wall_time_s") or 0.0), 1),
        "val_loss": final.get("val_loss"),
        "val_text_nll": per.get("text"), "val_semantic_nll": per.get("semantic"), "val_acoustic_nll": per.get("acoustic"),
        "val_bits_per_audio_second": final.get("val_bits_per_audio_second"),
    }
    ev_path = run_dir / "eval.json"
    if not ev_path.is_file():
        return row
    ev = json.loads(ev_path.read_text())
    tasks = ev.get("tasks", {})
    row["eval_wall_s"] = round(float(ev.get("wall_time_s") or 0.0), 1)
    for t in ACCURACY_TASKS:
        r = tasks.get(t) or {}
        if "accuracy" in r:
            row[t], row[f"{t}_se"], row[f"{t}_n"] = r["accuracy"], r.get("stderr"), r.get("n")
            if "accuracy_codebook0" in r:
                row[f"{t}_cb0"], row[f"{t}_cb0_se"] = r["accuracy_codebook0"], r.get("stderr_codebook0")
    parts = [tasks[t] for t in SALMON_ACOUSTIC if "accuracy" in (tasks.get(t) or {})]
    if parts:  # the mean of the parts; its s.e. from the parts' (independent items)
        row["salmon_acoustic"] = sum(p["accuracy"] for p in parts) / len(parts)
        row["salmon_acoustic_se"] = math.sqrt(sum((p.get("stderr") or 0.0) ** 2 for p in parts)) / len(parts)
        row["salmon_acoustic_n"] = sum(int(p.get("n") or 0) for p in parts)
    cm = tasks.get("cross_modal") or {}
    if "text_gain_nats" in cm:
        row.update(text_nll=cm.get("text_nll_alone"), audio_nll=cm.get("audio_nll_alone"),
                   text_gain=cm["text_gain_nats"], text_gain_se=cm.get("text_gain_stderr"), text_gain_n=cm.get("n"),
                   audio_gain=cm.get("audio_gain_nats"), audio_gain_se=cm.get("audio_gain_stderr"),
                   bits_per_text_token=cm.get("bits_per_text_token"), nll_semantic=cm.get("nll_semantic"),
                   bits_per_audio_second_test=cm.get("bits_per_audio_second"))
        row.update({k: v for k, v in cm.items() if k.startswith("nll_acoustic_")})  # one NLL per acoustic codebook
    asr = tasks.get("asr") or {}
    if "wer" in asr:
        row.update(asr_wer=asr["wer"], asr_n=asr.get("n"), asr_wer_baseline=asr.get("wer_baseline_constant"))
    return row


def write_results(rows: list[dict], path: Path) -> None:
    """All rows, every column any row has (first-seen order), written atomically."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    tmp.replace(path)


def read_results(path: Path) -> list[dict]:
    """Rows of ``results.csv`` with numbers as floats (empty cells dropped)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results (run `audiolm ablations run` first)")
    rows = []
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            out: dict = {}
            for k, v in r.items():
                if v in ("", None):
                    continue
                try:
                    out[k] = float(v) if k not in ("variant",) else v
                except ValueError:
                    out[k] = v
            if "seed" in out:
                out["seed"] = int(out["seed"])
            rows.append(out)
    return rows
