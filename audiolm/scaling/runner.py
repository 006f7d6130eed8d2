"""Run an IsoFLOP sweep one run after another, or print one launch command per run; collect results.

A run is *finished* when ``<exp_dir>/<name>/final.json`` exists (written at the end of
``audiolm train lm``); finished runs are skipped, so re-running the sweep command resumes it.
An interrupted run is simply launched again: ``audiolm train lm`` resumes from its
``checkpoints/last.ckpt``.

The launch command is a template (``--train-command``), formatted per run with ``{config}`` (the
run's YAML), ``{name}``, ``{exp_dir}``, ``{run_dir}`` and ``{python}`` (this interpreter). The
default is ``{python} -m audiolm train lm {config}``; a cluster wraps it, e.g.
``sbatch --job-name {name} --wrap '{python} -m audiolm train lm {config}'``.
"""

from __future__ import annotations

import csv
import json
import math
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from audiolm.scaling.plan import load_sweep

DEFAULT_TRAIN_COMMAND = "{python} -m audiolm train lm {config}"
RUNS_CSV_COLUMNS = (
    "budget", "params", "tokens", "loss", "name", "convention", "non_embedding_params", "output_head_params",
    "embedding_params", "flops_per_token", "flops", "wall_time_s", "d_model", "n_layers", "steps", "loss_key",
)


def _lookup(record: dict, key: str):
    """``val_loss`` or a dotted path such as ``val_loss_per_modality.semantic``."""
    node = record
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def run_exp_dir(run: dict, default: str = "exp/lm") -> Path:
    """``<exp_dir>/<name>`` of a run: the sweep entry's exp_dir, else the run config's (with bases)."""
    exp_dir = run.get("exp_dir") or ""
    if not exp_dir:
        try:
            from audiolm.config import load_yaml_with_bases

            cfg = load_yaml_with_bases(run["config"])
            exp_dir = str(cfg.get("exp_dir") or "")
        except Exception:
            exp_dir = ""
    return Path(exp_dir or default) / run["name"]


def is_finished(run: dict) -> bool:
    return (run_exp_dir(run) / "final.json").is_file()


def format_command(template: str, run: dict) -> list[str]:
    run_dir = run_exp_dir(run)
    fields = {
        "config": shlex.quote(str(run["config"])),
        "name": shlex.quote(run["name"]),
        "exp_dir": shlex.quote(str(run_dir.parent)),
        "run_dir": shlex.quote(str(run_dir)),
        "python": shlex.quote(sys.executable),
    }
    return shlex.split(template.format(**fields))


def select_runs(sweep: dict, only: Sequence[str] = (), budgets: Sequence[float] = ()) -> list[dict]:
    runs = sweep["runs"]
    if only:
        names = set(only)
        unknown = names - {r["name"] for r in runs}
        if unknown:
            raise ValueError(f"unknown run name(s): {sorted(unknown)}")
        runs = [r for r in runs if r["name"] in names]
    if budgets:
        runs = [r for r in runs if any(math.isclose(r["budget"], b, rel_tol=1e-6) for b in budgets)]
    return runs


def run_sweep(
    sweep_path: str | Path, *, train_command: str = DEFAULT_TRAIN_COMMAND, only: Sequence[str] = (),
    budgets: Sequence[float] = (), keep_going: bool = False, dry_run: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Train each unfinished run in turn; returns counts ``{"done", "skipped", "failed"}``."""
    sweep = load_sweep(sweep_path)
    runs = select_runs(sweep, only, budgets)
    status = {"done": [], "skipped": [], "failed": []}
    for i, run in enumerate(runs, 1):
        tag = f"[{i}/{len(runs)}] {run['name']}"
        if is_finished(run):
            log(f"{tag}: finished ({run_exp_dir(run) / 'final.json'}), skipped")
            status["skipped"].append(run["name"])
            continue
        cmd = format_command(train_command, run)
        log(f"{tag}: {run['params']['total']:,} params, {run['tokens']:,} tokens -> {shlex.join(cmd)}")
        if dry_run:
            continue
        t0 = time.time()
        rc = subprocess.call(cmd)
        if rc != 0 or not is_finished(run):
            why = f"exit code {rc}" if rc else "no final.json written"
            log(f"{tag}: FAILED ({why}) after {time.time() - t0:.0f}s")
            status["failed"].append(run["name"])
            if not keep_going:
                break
            continue
        log(f"{tag}: done in {time.time() - t0:.0f}s")
        status["done"].append(run["name"])
    return status


def print_commands(sweep_path: str | Path, *, train_command: str = DEFAULT_TRAIN_COMMAND, only: Sequence[str] = (),
                   budgets: Sequence[float] = (), include_finished: bool = False) -> list[str]:
    """One shell line per (unfinished) run, for a scheduler."""
    sweep = load_sweep(sweep_path)
    return [shlex.join(format_command(train_command, r)) for r in select_runs(sweep, only, budgets)
            if include_finished or not is_finished(r)]


def collect(sweep_path: str | Path, out: str | Path, log: Callable[[str], None] = print,
            loss_key: str = "val_loss") -> list[dict]:
    """Write runs.csv (one row per finished run) from the runs' final.json; returns the rows.

    ``loss_key`` picks the loss column from final.json: ``val_loss`` (all validation tokens) or a
    dotted path, e.g. ``val_loss_per_modality.semantic`` or ``val_bits_per_audio_second``."""
    sweep = load_sweep(sweep_path)
    rows, missing = [], []
    for run in sweep["runs"]:
        final = run_exp_dir(run) / "final.json"
        if not final.is_file():
            missing.append(run["name"])
            continue
        res = json.loads(final.read_text())
        planned = run.get("params", {})
        params = res.get("params") or planned
        if isinstance(params, (int, float)):
            params = {"total": params}
        total = int(params.get("total", planned.get("total")))
        if planned.get("total") and total != planned["total"]:
            log(f"warning: {run['name']}: final.json params.total={total:,} differs from the planned "
                f"{planned['total']:,} (is the base config's vocab_size/tie_embeddings what the plan assumed?)")
        non_emb = int(params.get("non_embedding", planned.get("non_embedding", 0)))
        emb = int(params.get("embedding", total - non_emb))
        head = int(planned.get("output_head", emb // 2))
        tokens = int(res.get("tokens") or run["tokens"])
        # the plan's FLOPs per token is in the sweep's convention; final.json's may use another
        fpt = float(run.get("flops_per_token") or res.get("flops_per_token"))
        loss = _lookup(res, loss_key)
        rows.append({
            "budget": run["budget"],
            "params": total,
            "tokens": tokens,
            "loss": float("nan") if loss is None else float(loss),
            "name": run["name"],
            "convention": run.get("convention", sweep.get("plan", {}).get("convention", "")),
            "non_embedding_params": non_emb,
            "output_head_params": head,
            "embedding_params": emb,
            "flops_per_token": fpt,
            "flops": fpt * tokens,
            "wall_time_s": res.get("wall_time_s", ""),
            "d_model": run["model"]["d_model"],
            "n_layers": run["model"]["n_layers"],
            "steps": res.get("steps", run.get("steps", "")),
            "loss_key": loss_key,
        })
    if missing:
        log(f"{len(missing)} of {len(sweep['runs'])} runs not finished (no final.json): {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else ""))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(RUNS_CSV_COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow(r)
    log(f"wrote {out} ({len(rows)} runs)")
    return rows
