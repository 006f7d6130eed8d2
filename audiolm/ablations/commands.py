"""``audiolm ablations run|summarize``: the CPU ablation study and its tables/plots."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_STUDY = "recipes/ablations/study.yaml"
DEFAULT_EXP = "exp/ablations"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--study", default=DEFAULT_STUDY, help=f"the study file (default {DEFAULT_STUDY})")
    p.add_argument("--exp", default=DEFAULT_EXP, help=f"the study's folder (default {DEFAULT_EXP})")


def configure_ablations_run(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--jobs", type=int, default=0, help="runs in parallel, one thread each (default: the study's `jobs`)")
    p.add_argument("--only", default="", help="comma-separated variants (and what they depend on); default all")
    p.add_argument("--no-third-seed", action="store_true", help="skip the extra seed for differences within 2 s.e.")
    p.add_argument("--dry-run", action="store_true", help="print the runs and their state, train nothing")
    p.add_argument("--budget-tokens", type=int, default=0, help="override the study's token budget (a quick look)")
    p.add_argument("--max-items", type=int, default=0, help="override the study's items per benchmark")
    p.add_argument("--seeds", default="", help="override the study's seeds, e.g. 0,1,2")


def configure_ablations_summarize(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--no-plots", action="store_true", help="tables and verdicts only")


def collect(study, exp: Path) -> list[dict]:
    """Every trained run of the study's variants -> ``EXP/results.csv`` (rewritten whole: reruns never duplicate)."""
    from audiolm.ablations.results import run_row, write_results

    rows = []
    for name in study.variants:
        for d in sorted((exp / "runs" / name).glob("seed*")):
            if (d / "final.json").is_file():
                rows.append(run_row(d, name, int(d.name[4:])))
    write_results(rows, exp / "results.csv")
    return rows


def prepare_sources(study, exp: Path, names: set[str], log=print) -> None:
    """The data-source proxies: an embedded corpus of another delivery, tokenized with the quickstart's codec."""
    from audiolm.ablations.runner import source_dir

    codec = Path(study.quickstart) / "codec" / "checkpoints" / "last.ckpt"
    for name in sorted(names):
        d = source_dir(exp, name)
        if (d / ".done").is_file():
            continue
        opts = {"utterances": 2000, "speakers": 8, "rate_jitter": 0.0, "condition": "clean", **study.data_sources[name]}
        log(f"[ablations] data source {name}: {opts}")
        steps = [
            [sys.executable, "-m", "audiolm", "prepare", "synth", str(d / "corpus"), "--utterances", str(opts["utterances"]),
             "--speakers", str(opts["speakers"]), "--rate-jitter", str(opts["rate_jitter"]), "--condition", opts["condition"],
             "--jobs", "2"],
            [sys.executable, "-m", "audiolm", "tokenize", "--codec", str(codec), str(d / "corpus" / "cuts_train.jsonl.gz"),
             str(d / "tokens" / "train"), "--jobs", "2"],
        ]
        d.mkdir(parents=True, exist_ok=True)
        for cmd in steps:
            with (d / "prepare.log").open("a") as f:
                rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
            if rc != 0:
                raise SystemExit(f"audiolm ablations: preparing {name} failed (exit {rc}); see {d / 'prepare.log'}")
        (d / ".done").write_text(json.dumps(opts) + "\n")


def run_ablations_run(args: argparse.Namespace) -> int:
    from audiolm.ablations.runner import StudyRunError, is_done, run_all, runs_of
    from audiolm.ablations.spec import SpecError, load_study
    from audiolm.ablations.summary import needs_more_seeds, summarize

    try:
        study = load_study(args.study)
    except SpecError as e:
        print(f"audiolm ablations: {e}", file=sys.stderr)
        return 2
    import dataclasses

    changes = {}
    if args.budget_tokens:
        changes["budget_tokens"] = args.budget_tokens
    if args.max_items:
        changes["eval_max_items"] = args.max_items
    if args.seeds:
        changes["seeds"] = [int(x) for x in args.seeds.split(",")]
    study = dataclasses.replace(study, **changes)
    exp = Path(args.exp)
    only = {s for s in args.only.split(",") if s}
    unknown = sorted(only - set(study.variants))
    if unknown:
        print(f"audiolm ablations: --only: unknown variant(s) {unknown}; known: {', '.join(study.variants)}", file=sys.stderr)
        return 2
    q = Path(study.quickstart)
    need = [q / "tokenizer.json", q / "tokens" / "train", q / "tokens" / "dev", q / "data" / "benchmarks",
            q / "data" / "text" / "text_train.jsonl.gz", q / "codec" / "checkpoints" / "last.ckpt"]
    missing = [str(p) for p in need if not p.exists()]
    if missing:
        print(f"audiolm ablations: missing {', '.join(missing)}: run `bash recipes/quickstart/run.sh --stop-stage 5` "
              "first", file=sys.stderr)
        return 2
    runs = runs_of(study, study.seeds, only or None)
    if args.dry_run:
        for r in runs:
            print(f"{r.key}\t{'done' if is_done(exp, r) else 'to run'}")
        return 0
    t0 = time.time()
    jobs = args.jobs or study.jobs
    exp.mkdir(parents=True, exist_ok=True)
    try:
        prepare_sources(study, exp, {r.variant.data for r in runs if r.variant.data})
        records = run_all(study, exp, runs, jobs)
        rows = collect(study, exp)
        if study.third_seed and not args.no_third_seed:
            extra = needs_more_seeds(rows, study) & {r.variant.name for r in runs}
            if extra:
                seed = max(study.seeds) + 1
                print(f"[ablations] within 2 s.e. after {len(study.seeds)} seeds: {', '.join(sorted(extra))}; seed {seed}")
                records += run_all(study, exp, runs_of(study, [seed], extra), jobs)
                rows = collect(study, exp)
    except StudyRunError as e:
        print(f"audiolm ablations: {e}", file=sys.stderr)
        collect(study, exp)
        return 1
    summarize(rows, study, exp)
    wall = time.time() - t0
    log = exp / "study_time.jsonl"
    with log.open("a") as f:
        f.write(json.dumps({"wall_s": round(wall, 1), "jobs": jobs, "runs_done_now": len(records), "records": records}) + "\n")
    print(f"[ablations] {len(records)} runs trained/evaluated now, {len(rows)} in {exp / 'results.csv'}; "
          f"{wall / 60:.1f} min; tables and verdicts in {exp / 'summary.md'}")
    return 0


def run_ablations_summarize(args: argparse.Namespace) -> int:
    from audiolm.ablations.results import read_results
    from audiolm.ablations.spec import SpecError, load_study
    from audiolm.ablations.summary import summarize

    try:
        study = load_study(args.study)
        rows = read_results(Path(args.exp) / "results.csv")
    except (SpecError, FileNotFoundError) as e:
        print(f"audiolm ablations: {e}", file=sys.stderr)
        return 2
    verdicts = summarize(rows, study, Path(args.exp), plots=not args.no_plots)
    for axis, vs in verdicts.items():
        for v in vs:
            print(f"{axis:12s} {v['verdict']:28s} {v['claim']}")
    print(f"wrote {Path(args.exp) / 'summary.md'}")
    return 0
