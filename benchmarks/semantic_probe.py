"""Semantic probe: per-frame phones (corpus alignments) predicted from one codebook's tokens.

    python benchmarks/semantic_probe.py --codec exp/quick/checkpoints/last.ckpt \
        --train-cuts data/synth/cuts_train.jsonl.gz --test-cuts data/synth/cuts_dev.jsonl.gz \
        [--codebooks 0,7] [--max-cuts 400] [--json out.json]

A small classifier over a window of 5 token embeddings (``audiolm.codec.metrics.semantic_probe``)
is trained on the train cuts' tokens of one codebook and scored on the test cuts. The split is
real when codebook 0 predicts phones clearly better than codebook 7; ``chance`` is the
majority-class accuracy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiolm.codec import load_codec  # noqa: E402
from audiolm.codec.metrics import semantic_probe  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--codec", required=True)
    ap.add_argument("--train-cuts", required=True)
    ap.add_argument("--test-cuts", required=True)
    ap.add_argument("--codebooks", default="", help="comma list (default: 0 and the last)")
    ap.add_argument("--max-cuts", type=int, default=400)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    import torch
    from lhotse import CutSet

    torch.set_num_threads(1)
    codec = load_codec(args.codec)
    cbs = [int(x) for x in args.codebooks.split(",") if x] or None
    res = semantic_probe(codec, CutSet.from_file(args.train_cuts), CutSet.from_file(args.test_cuts), codebooks=cbs,
                         max_cuts=args.max_cuts, steps=args.steps)
    print(f"phones: {res['n_phones']} classes, {res['n_train_cuts']} train / {res['n_test_cuts']} test cuts, "
          f"chance (majority) {res['chance']:.3f}")
    for q, acc in res["accuracy"].items():
        print(f"codebook {q}: frame phone accuracy {acc:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
