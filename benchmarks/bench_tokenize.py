"""Tokenization throughput: cuts and audio seconds per second, one process vs a process pool.

    python benchmarks/bench_tokenize.py [--codec CKPT] [--cuts 48] [--seconds 4] [--jobs 2]

Encodes the same synthetic cuts (``audiolm.codec.testing.make_fake_cuts``) with ``audiolm tokenize``
once with ``--jobs 1`` and once with ``--jobs N`` (one thread per process), and reports audio
seconds encoded per wall-clock second and per core, and the ratio of the two runs (the peer
comparison that is robust on a noisy machine). Without ``--codec`` a codec of the ``quick``
architecture is trained for one step first (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _quick_codec(work: Path) -> str:
    from audiolm.codec.testing import make_fake_cuts
    from audiolm.codec.train import load_train_config, train_codec

    cuts = make_fake_cuts(work / "train_audio", n=4, seconds=2.0)
    cuts.to_file(work / "train.jsonl.gz")
    cfg = load_train_config("quick", [f"exp_dir={work / 'exp'}", "name=quick", f"train_cuts={work / 'train.jsonl.gz'}", "val_cuts=''",
                                      "teacher.kind=none", "trainer.max_steps=1", "trainer.val_every_n_steps=1",
                                      "data.batch_size=2"])
    train_codec(cfg, progress=False)
    return str(work / "exp" / "quick" / "checkpoints" / "last.ckpt")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--codec", help="codec checkpoint (default: a one-step `quick` codec)")
    ap.add_argument("--cuts", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    import torch

    from audiolm.codec.testing import make_fake_cuts
    from audiolm.codec.tokenize import tokenize

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="bench_tokenize_"))
    codec = args.codec or _quick_codec(work)
    cuts = make_fake_cuts(work / "audio", n=args.cuts, seconds=args.seconds)
    cuts.to_file(work / "cuts.jsonl.gz")
    audio_s = sum(c.duration for c in cuts)
    rows = {}
    for jobs in (1, args.jobs):
        t0 = time.perf_counter()
        s = tokenize(codec, str(work / "cuts.jsonl.gz"), work / f"out{jobs}", jobs=jobs, shard_size=max(1, args.cuts // 8),
                     progress=False)
        wall = time.perf_counter() - t0
        assert s["complete"] and s["cuts_encoded"] == args.cuts
        rows[jobs] = {"wall_s": round(wall, 2), "audio_s_per_s": round(audio_s / wall, 1),
                      "audio_s_per_s_per_core": round(audio_s / wall / jobs, 1)}
    out = {"codec": codec if args.codec else "quick (1 step)", "cuts": args.cuts, "audio_seconds": round(audio_s, 1),
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "runs": rows,
           "speedup": round(rows[1]["wall_s"] / rows[args.jobs]["wall_s"], 2)}
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
