"""Train and evaluate the study's runs: resumable (a finished run is never redone, an interrupted
one resumes from its checkpoint), a few at a time, each an ``audiolm`` subprocess on one thread.

A run is ``EXP/runs/<variant>/seed<k>/`` (``final.json`` when trained, ``eval.json`` when
evaluated, ``train.log``/``eval.log``). Budgets: the study's token budget (times the variant's
``budget_fraction``), or, for ``seconds_of``, as many tokens as this variant needs to see the
seconds of audio that the named variant's run of the same seed trained on (measured on the
variant's own data stream, so a layout or mixture with more tokens per second gets more tokens).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from audiolm.ablations.spec import Study, Variant


class StudyRunError(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    variant: Variant
    seed: int

    @property
    def key(self) -> str:
        return f"{self.variant.name}/seed{self.seed}"


def run_dir(exp: Path, variant: str, seed: int) -> Path:
    return exp / "runs" / variant / f"seed{seed}"


def source_dir(exp: Path, source: str) -> Path:
    return exp / "data" / source


def is_done(exp: Path, run: Run) -> bool:
    d = run_dir(exp, run.variant.name, run.seed)
    return (d / "final.json").is_file() and (not run.variant.evaluate or (d / "eval.json").is_file())


def check_same_budget(study: Study, exp: Path, run: Run) -> None:
    """A finished run kept by a rerun must have been trained at the budget the study asks now
    (a rerun with another budget never silently mixes the two in one table)."""
    if run.variant.seconds_of:  # its budget follows its reference run, checked through that run
        return
    d = run_dir(exp, run.variant.name, run.seed)
    final = d / "final.json"
    if not final.is_file():
        return
    rec = json.loads(final.read_text())
    had = int(rec.get("tokens") or 0)
    want = int(study.budget_tokens * run.variant.budget_fraction)
    step = had // max(int(rec.get("steps") or 1), 1)  # budgets are rounded to whole steps
    if abs(had - want) >= max(step, 1):
        raise StudyRunError(f"{run.key}: trained on {had} tokens, the study now asks {want}: use another --exp "
                            f"for another budget, or delete {d} to retrain it")


def base_overrides(study: Study, exp: Path, run: Run) -> list[str]:
    """Everything but the token budget: data paths, seed, dependencies, the study's overrides."""
    q = Path(study.quickstart)
    v = run.variant
    train = source_dir(exp, v.data) / "tokens" / "train" if v.data else q / "tokens" / "train"
    out = [f"exp_dir={exp / 'runs' / v.name}", f"name=seed{run.seed}", f"trainer.seed={run.seed}",
           f"data.tokenizer={q / 'tokenizer.json'}", f"data.train_shards=[{train}]",
           f"data.val_shards=[{q / 'tokens' / 'dev'}]", f"data.text_train=[{q / 'data' / 'text' / 'text_train.jsonl.gz'}]",
           f"data.text_val=[{q / 'data' / 'text' / 'text_dev.jsonl.gz'}]", *study.overrides]
    if v.init_from:
        out.append(f"init_from={run_dir(exp, v.init_from, run.seed) / 'checkpoints' / 'last.ckpt'}")
    return out


def tokens_per_audio_second(config: Path, overrides: list[str], batches: int = 40) -> float:
    """Training positions per second of audio whose tokens are labels, over the first ``batches`` batches."""
    from audiolm.lm.module import batch_audio_seconds
    from audiolm.lm.train_config import load_train_config
    from audiolm.tokens.datamodule import LMDataModule
    from audiolm.tokens.tokenizer import UnifiedTokenizer

    cfg = load_train_config(config, [o for o in overrides if not o.startswith("init_from=")])
    dm = LMDataModule(cfg.data, UnifiedTokenizer.from_file(cfg.data.tokenizer))
    dm.setup("fit")
    positions, seconds = 0, 0.0
    for i, batch in enumerate(dm.train_dataloader()):
        if i >= batches:
            break
        positions += int(batch["input_ids"].numel())
        s = batch_audio_seconds(batch, dm.frame_rate)
        seconds += float(s) if s is not None else 0.0
    if seconds <= 0:
        raise StudyRunError(f"{config}: its data stream has no audio; it cannot be matched in seconds of audio")
    return positions / seconds


def budget_tokens(study: Study, exp: Path, run: Run, overrides: list[str]) -> int:
    v = run.variant
    if not v.seconds_of:
        return int(study.budget_tokens * v.budget_fraction)
    ref = json.loads((run_dir(exp, v.seconds_of, run.seed) / "final.json").read_text())
    seconds = float(ref.get("train_audio_seconds") or 0.0)
    if seconds <= 0:
        raise StudyRunError(f"{v.seconds_of}/seed{run.seed}: its final.json records no train_audio_seconds")
    return int(round(seconds * tokens_per_audio_second(study.config_path(v), overrides)))


def _call(cmd: list[str], log: Path, threads: int) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)


def execute(study: Study, exp: Path, run: Run, threads: int = 1) -> dict:
    """Train (or resume) and evaluate one run; returns a record of what it did and how long it took."""
    d = run_dir(exp, run.variant.name, run.seed)
    d.mkdir(parents=True, exist_ok=True)
    overrides = base_overrides(study, exp, run)
    t0 = time.time()
    if not (d / "final.json").is_file():
        tokens = budget_tokens(study, exp, run, overrides)
        rc = _call([sys.executable, "-m", "audiolm", "train", "lm", str(study.config_path(run.variant)), *overrides,
                    f"trainer.max_tokens={tokens}"], d / "train.log", threads)
        if rc != 0 or not (d / "final.json").is_file():
            raise StudyRunError(f"{run.key}: training exited {rc} (log: {d / 'train.log'})")
    t1 = time.time()
    if run.variant.evaluate and not (d / "eval.json").is_file():
        cmd = [sys.executable, "-m", "audiolm", "eval", str(d / "checkpoints" / "last.ckpt"),
               "--data", str(Path(study.quickstart) / "data" / "benchmarks"), "--tasks", ",".join(study.eval_tasks),
               "--device", "cpu", "--out", str(d / "eval.json")]
        if study.eval_max_items:
            cmd += ["--max-items", str(study.eval_max_items)]
        rc = _call(cmd, d / "eval.log", threads)
        if rc not in (0, 1) or not (d / "eval.json").is_file():  # 1: some task failed, the others are in eval.json
            raise StudyRunError(f"{run.key}: evaluation exited {rc} (log: {d / 'eval.log'})")
    return {"run": run.key, "train_s": round(t1 - t0, 1), "eval_s": round(time.time() - t1, 1)}


def run_all(study: Study, exp: Path, runs: list[Run], jobs: int, log=print) -> list[dict]:
    """Execute ``runs`` (skipping finished ones), ``jobs`` at a time, each after the runs it depends on."""
    for r in runs:
        check_same_budget(study, exp, r)
    pending = [r for r in runs if not is_done(exp, r)]
    for r in runs:
        if is_done(exp, r):
            log(f"[ablations] {r.key}: done before, kept")
    failed: dict[str, str] = {}
    records: list[dict] = []

    def deps_of(r: Run) -> list[str]:
        return [Run(study.variants[n], r.seed).key for n in (r.variant.seconds_of, r.variant.init_from) if n]

    def trained(key: str) -> bool:
        return (exp / "runs" / key / "final.json").is_file()  # a key is <variant>/seed<k>: its run folder

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running: dict[Future, Run] = {}
        while pending or running:
            for r in list(pending):
                if len(running) >= jobs:
                    break
                deps = deps_of(r)
                if any(k in failed for k in deps):
                    failed[r.key] = f"needs {', '.join(k for k in deps if k in failed)}, which failed"
                    pending.remove(r)
                elif all(trained(k) for k in deps):
                    log(f"[ablations] {r.key}: start")
                    running[pool.submit(execute, study, exp, r)] = r
                    pending.remove(r)
            if not running:
                if pending:  # waiting on nothing: a dependency outside this list is missing
                    for r in pending:
                        failed[r.key] = f"needs {', '.join(deps_of(r))}, which is not trained and not in this run"
                    pending = []
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                r = running.pop(fut)
                try:
                    rec = fut.result()
                    records.append(rec)
                    log(f"[ablations] {r.key}: done (train {rec['train_s']:.0f} s, eval {rec['eval_s']:.0f} s)")
                except StudyRunError as e:
                    failed[r.key] = str(e)
                    log(f"[ablations] {e}")
    if failed:
        raise StudyRunError("runs failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return records


def runs_of(study: Study, seeds: list[int], only: set[str] | None = None) -> list[Run]:
    """Runs of the variants (dependency order) for each seed; ``only`` adds what those depend on."""
    keep = None
    if only:
        keep = set()
        stack = list(only)
        while stack:
            n = stack.pop()
            if n in keep:
                continue
            keep.add(n)
            v = study.variants[n]
            stack += [x for x in (v.seconds_of, v.init_from) if x]
    return [Run(v, s) for s in seeds for v in study.order() if keep is None or v.name in keep]
