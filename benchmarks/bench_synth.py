"""Synthesis speed of the embedded corpus, as a real-time factor (RTF = compute seconds / audio seconds).

    python benchmarks/bench_synth.py [--utterances 200] [--speakers 8] [--repeats 3]

Measures, with the process pinned to one core:
  - ``Espeak.synthesize`` alone, deterministic (library reloaded per call) and per-document mode;
  - the whole ``audiolm prepare synth`` pipeline (synthesis, alignments, FLAC, manifests) with
    ``--jobs 1``, and with ``--jobs 2`` over two cores when the machine has them.
Prints a markdown table (best of ``--repeats`` and the median) and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiolm.data.espeak import Espeak  # noqa: E402
from audiolm.data.sentences import generate_sentences  # noqa: E402
from audiolm.data.synth import build_synth_corpus, make_speakers  # noqa: E402


def pin(cores: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)


def bench_synthesize(n: int, deterministic: bool, repeats: int) -> list[float]:
    sents = generate_sentences(n, seed=123)
    voices = make_speakers(8, 0)
    tts = Espeak(deterministic=deterministic)
    tts.synthesize("Warm up.", voices[0])
    out = []
    for _ in range(repeats):
        audio_s, t0 = 0.0, time.process_time()
        for i, s in enumerate(sents):
            if not deterministic and i % 5 == 0:
                tts.reset()  # the corpus resets once per document (about 5 utterances)
            audio_s += tts.synthesize(s, voices[i % len(voices)]).duration
        out.append((time.process_time() - t0) / audio_s)
    return out


def bench_corpus(n: int, k: int, jobs: int, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """(wall RTF, wall seconds, CPU RTF of this process: the whole pipeline when jobs == 1)."""
    rtf, wall, cpu = [], [], []
    for r in range(repeats):
        d = Path(tempfile.mkdtemp(prefix="bench_synth_"))
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            stats = build_synth_corpus(d / "c", n, k, seed=r, jobs=jobs, progress=False)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
        finally:
            shutil.rmtree(d, ignore_errors=True)
        audio_s = stats["audio_hours"] * 3600
        wall.append(dt)
        rtf.append(dt / audio_s)
        cpu.append(dc / audio_s)
    return rtf, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--utterances", type=int, default=200)
    ap.add_argument("--speakers", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    ncores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    first = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    pin({first})
    rows = []
    det = bench_synthesize(60, True, args.repeats)
    rows.append(("`Espeak.synthesize`, deterministic (fresh state per call), CPU time", det, None))
    doc = bench_synthesize(60, False, args.repeats)
    rows.append(("`Espeak.synthesize`, fresh state per 5 utterances (as the corpus), CPU time", doc, None))
    c1, w1, cpu1 = bench_corpus(args.utterances, args.speakers, 1, args.repeats)
    rows.append((f"`prepare synth --utterances {args.utterances} --jobs 1`, CPU time", cpu1, None))
    rows.append((f"`prepare synth --utterances {args.utterances} --jobs 1`, wall", c1, w1))
    if ncores >= 2:
        pin(set(sorted(range(os.cpu_count() or 2))[:2]))
        c2, w2, _ = bench_corpus(args.utterances, args.speakers, 2, args.repeats)
        rows.append((f"`prepare synth --utterances {args.utterances} --jobs 2` (2 cores), wall", c2, w2))

    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| what | RTF best / median | x real time (best) | wall s (best) |")
    print("|---|---|---|---|")
    res = {}
    for name, r, w in rows:
        best, med = min(r), statistics.median(r)
        wall = f"{min(w):.1f}" if w else "-"
        print(f"| {name} | {best:.4f} / {med:.4f} | {1 / best:.0f}x | {wall} |")
        res[name] = {"rtf_best": best, "rtf_median": med, "wall_best": min(w) if w else None}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
