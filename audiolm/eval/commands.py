"""``audiolm prepare benchmarks`` and ``audiolm eval``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("audiolm")


# ---------------------------------------------------------------------------------------------
# audiolm prepare benchmarks OUT


def configure_prepare_benchmarks(p: argparse.ArgumentParser) -> None:
    from audiolm.eval.build.benchmarks import BUILD_TASKS, DEFAULT_SIZE, DEFAULT_SIZES

    p.add_argument("out", help="output folder (one sub-folder per benchmark set)")
    p.add_argument("--seed", type=int, default=0, help="seed of every set (default 0)")
    p.add_argument("--size", type=int, default=None,
                   help=f"items (pairs) per set for every set (default {DEFAULT_SIZE}; "
                        + ", ".join(f"{k} {v}" for k, v in DEFAULT_SIZES.items()) + ")")
    p.add_argument("--sizes", default="", help="per-set sizes, e.g. swuggy=1000,salmon=200 (SALMon: per part)")
    p.add_argument("--tasks", default=",".join(BUILD_TASKS), help=f"sets to build (default all: {','.join(BUILD_TASKS)})")
    p.add_argument("--workers", type=int, default=1, help="processes (sets are built in parallel)")
    p.add_argument("--corpus", action="append", default=[], metavar="DIR",
                   help="a training corpus folder (prepare synth / synth-text output; repeatable): benchmark "
                        "sentences and stories are kept out of it, (s/t)WUGGY's real words are words it says often")


def _kv(text: str, what: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in part:
            raise SystemExit(f"{what}: {part!r} is not NAME=VALUE")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def run_prepare_benchmarks(args) -> int:
    from audiolm.eval.build.benchmarks import build_benchmarks

    sizes = {k: int(v) for k, v in _kv(args.sizes, "--sizes").items()}
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    try:
        summary = build_benchmarks(args.out, seed=args.seed, size=args.size, sizes=sizes, tasks=tasks, workers=args.workers,
                                   corpus=args.corpus)
    except (ValueError, FileNotFoundError) as e:
        print(f"audiolm prepare benchmarks: {e}", file=sys.stderr)
        return 2
    for t in tasks:
        print(f"{t:12s} {summary['counts'][t]:6d} cuts/items  {summary['seconds'][t]:7.1f} s")
    print(f"benchmarks written to {args.out} in {summary['total_seconds']:.1f} s (seed {args.seed})")
    return 0


# ---------------------------------------------------------------------------------------------
# audiolm eval CKPT


def configure_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="LM checkpoint (.ckpt written by `audiolm train lm`) or hf:DIR (a Hugging "
                   "Face Qwen3 folder with audiolm.json: `audiolm export hf` output)")
    p.add_argument("--tasks", required=True,
                   help="comma-separated tasks or groups: swuggy, sblimp, salmon (all parts) or salmon_speaker..., "
                        "twuggy, tblimp, sstorycloze, topic_sstorycloze, text_storycloze, hellaswag, asr, tts, continuation, "
                        "cross_modal; groups: likelihood, all")
    p.add_argument("--data", action="append", default=[], metavar="DIR|TASK=PATH",
                   help="benchmark folder (from `audiolm prepare benchmarks`), and/or TASK=PATH for official files "
                        "(e.g. swuggy=zr2021/lexical/dev, salmon=salmon_benchmark, hellaswag=hellaswag_val.jsonl); repeatable")
    p.add_argument("--out", default="report.json", help="report path (default report.json)")
    p.add_argument("--max-items", type=int, default=None, help="items per task (a quick run)")
    p.add_argument("--config", default="default", help="eval config: a name in conf/eval/ or a YAML path")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--codec", default=None, help="codec spec overriding the checkpoint's (needed when it has none)")
    p.add_argument("--cache-dir", default=None, help="where codec encodings are cached (default DIR/.codes)")
    p.add_argument("--save-audio", default=None, help="folder for generated audio samples (TTS, continuation)")
    p.add_argument("--jobs", type=int, default=1,
                   help="CPU worker processes: the tasks are split between them (by expected cost) and each gets "
                        "its share of the CPU threads; one report (default 1: in this process)")
    from audiolm.lm.hf_folder import add_hf_arguments

    add_hf_arguments(p)
    p.add_argument("overrides", nargs="*", help="eval config overrides key=value right after CHECKPOINT (e.g. aggregation=sum)")
    p.add_argument("--set", dest="set_overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="eval config overrides anywhere on the line (e.g. --set aggregation=sum codebooks=[0])")


def _split_data(values: list[str]) -> tuple[str | None, dict]:
    data_dir, paths = None, {}
    for v in values:
        if "=" in v and not Path(v).exists():
            k, path = v.split("=", 1)
            paths[k.strip()] = path
        elif data_dir is None:
            data_dir = v
        else:
            raise SystemExit(f"--data: two data folders given ({data_dir}, {v}); use TASK=PATH for per-task paths")
    return data_dir, paths


def run_eval(args) -> int:
    import torch

    from audiolm.config import ConfigError, load_config
    from audiolm.eval.report import table, write_report
    from audiolm.eval.tasks import TASKS, EvalOptions, UnknownTaskError, add_salmon_mean, expand_tasks

    try:
        names = expand_tasks(args.tasks)
        opts = load_config(EvalOptions, args.config, list(args.overrides) + list(args.set_overrides), group="eval")
    except (UnknownTaskError, ConfigError, ValueError) as e:
        print(f"audiolm eval: {e}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"audiolm eval: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    if args.max_items is not None:
        opts.max_items = args.max_items
    data_dir, paths = _split_data(args.data)
    unknown = [k for k in paths if k not in TASKS and k != "salmon"]
    if unknown:
        print(f"audiolm eval: --data names unknown task(s) {unknown}", file=sys.stderr)
        return 2
    from audiolm.lm.hf_folder import is_hf_spec

    ckpt = args.checkpoint if is_hf_spec(args.checkpoint) else Path(args.checkpoint)
    if not is_hf_spec(args.checkpoint) and not ckpt.is_file():
        print(f"audiolm eval: checkpoint {ckpt} not found", file=sys.stderr)
        return 2
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    job = _EvalJob(args, opts, data_dir, paths, str(ckpt), device)

    t0 = time.time()
    groups = split_tasks(names, args.jobs if device == "cpu" else 1)
    if len(groups) == 1:
        out = job.run(names, threads=0)
    else:
        out = _run_parallel(job, groups, max(1, torch.get_num_threads() // len(groups)))
    if out.get("error"):
        print(f"audiolm eval: {ckpt}: {out['error']}", file=sys.stderr)
        return 2
    tasks = {n: out["tasks"][n] for n in names if n in out["tasks"]}
    add_salmon_mean(tasks)
    from dataclasses import asdict

    write_report(args.out, tasks, str(ckpt), step=out["step"], codec=out["codec"], data=data_dir, paths=paths,
                 options=asdict(opts), device=device, wall_time_s=round(time.time() - t0, 1))
    print()
    print(table(tasks))
    print(f"\nreport written to {args.out}")
    failed = [k for k, m in tasks.items() if "error" in m]
    return 1 if failed else 0


# Expected cost of a task for splitting tasks between --jobs workers: seconds on one CPU thread in
# the quickstart's eval (development VM, 2026-12-02; 400 items per set, SALMon 200 pairs per part,
# 100 ASR/TTS utterances; TTS including its corpus judge's first training, ~113 s). The tasks the
# quickstart does not run are scaled from TTS by their generation length. A task not listed counts
# as a 200-item spoken likelihood set (a SALMon part).
TASK_COST = {"tts": 230.0, "continuation": 80.0, "s2st": 230.0, "s2tt": 80.0, "asr": 11.0, "cross_modal": 9.0,
             "twuggy": 0.3, "tblimp": 1.0, "text_storycloze": 2.4, "hellaswag": 4.2, "swuggy": 7.3, "sblimp": 19.0,
             "sstorycloze": 90.0, "topic_sstorycloze": 77.0}
SPOKEN_SET_COST = 26.0


def split_tasks(names: list[str], jobs: int) -> list[list[str]]:
    """At most ``jobs`` groups of similar expected cost (longest task first onto the lightest group);
    each group keeps the order ``names`` gave. Empty groups are dropped."""
    loads = [0.0] * max(1, jobs)
    member: dict[str, int] = {}
    for n in sorted(names, key=lambda n: -TASK_COST.get(n, SPOKEN_SET_COST)):
        g = loads.index(min(loads))
        member[n] = g
        loads[g] += TASK_COST.get(n, SPOKEN_SET_COST)
    groups = [[n for n in names if member[n] == g] for g in range(len(loads))]
    return [g for g in groups if g]


class _EvalJob:
    """What one process needs to evaluate some tasks of this run (picklable for worker processes)."""

    def __init__(self, args, opts, data_dir, paths: dict, ckpt: str, device: str) -> None:
        self.codec, self.cache_dir, self.save_audio = args.codec, args.cache_dir, args.save_audio
        from audiolm.lm.hf_folder import hf_options

        self.hf = hf_options(args)
        self.opts, self.data_dir, self.paths, self.ckpt, self.device = opts, data_dir, paths, ckpt, device

    def run(self, names: list[str], threads: int = 0) -> dict:
        """{"tasks": {name: metrics}, "step", "codec"} or {"error": message} (a checkpoint the context refuses)."""
        import torch

        from audiolm.eval.context import EvalContext
        from audiolm.eval.tasks import run_tasks
        from audiolm.lm.checkpoint import load_lm
        from audiolm.lm.hf_folder import is_hf_spec

        if threads:
            torch.set_num_threads(threads)
        ckpt = self.ckpt if is_hf_spec(self.ckpt) else Path(self.ckpt)
        loaded = load_lm(ckpt, device=self.device, **self.hf)
        cache = self.cache_dir or (str(Path(self.data_dir) / ".codes") if self.data_dir else None)
        try:
            ctx = EvalContext.from_loaded(loaded, self.device, cache, codec_spec=self.codec)
        except ValueError as e:
            return {"error": str(e)}
        results = run_tasks(ctx, names, self.data_dir, self.opts, self.paths, on_result=_progress, salmon_mean=False)
        if self.save_audio:
            _save_audio(self.save_audio, results)
        return {"tasks": {k: r.metrics for k, r in results.items()}, "step": loaded.step, "codec": ctx.codec_spec}


def _progress(r) -> None:
    m = r.metrics
    head = "ERROR " + m["error"] if "error" in m else ", ".join(
        f"{k}={m[k]:.4f}" for k in ("accuracy", "wer", "similarity", "bleu", "asr_bleu") if isinstance(m.get(k), float))
    print(f"[{r.name}] {head}", flush=True)


def _run_parallel(job: _EvalJob, groups: list[list[str]], threads: int) -> dict:
    """Each group in its own spawned process; a worker that dies marks its tasks failed (never a score)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    print(f"audiolm eval: {len(groups)} workers x {threads} thread(s): " + " | ".join(",".join(g) for g in groups), flush=True)
    merged: dict = {"tasks": {}, "step": None, "codec": None}
    # one single-worker pool per group: a worker that dies breaks its own pool only
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) for _ in groups]
    try:
        futures = [(g, pool.submit(job.run, g, threads)) for g, pool in zip(groups, pools)]
        for g, fut in futures:
            try:
                out = fut.result()
            except Exception as e:  # noqa: BLE001 - a dead worker (signal, memory) fails its tasks, loudly
                for n in g:
                    merged["tasks"][n] = {"error": f"{n}: the worker process failed ({type(e).__name__}: {e})"}
                continue
            if out.get("error"):
                return out
            merged["tasks"].update(out["tasks"])
            merged["step"], merged["codec"] = out["step"], out["codec"]
    finally:
        for pool in pools:
            pool.shutdown(cancel_futures=True)
    return merged


def _save_audio(folder: str, results) -> None:
    import soundfile as sf

    out = Path(folder)
    for r in results.values():
        for name, wav, sr in r.samples:
            f = out / f"{name.replace('/', '_')}.wav"
            f.parent.mkdir(parents=True, exist_ok=True)
            if len(wav):
                sf.write(f, wav, sr)
