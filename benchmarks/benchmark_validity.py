"""Chance, trivial baselines and oracles that know the training data, for every offline benchmark set.

    python benchmarks/benchmark_validity.py --bench exp/quickstart/data/benchmarks \
        --corpus exp/quickstart/data/corpus --corpus exp/quickstart/data/text \
        [--tokenizer exp/quickstart/tokenizer.json] [--tokens exp/quickstart/tokens/train \
         --codec exp/quickstart/codec/checkpoints/last.ckpt] [--max-items 400] [--out validity.json]

Writes a JSON report (``audiolm report`` shows it beside the model's scores when it lies at
``EXP/eval/validity.json``) and prints a table. See ``audiolm.eval.validity`` for what each
baseline and oracle is; docs/evaluation.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiolm.eval.validity import render_validity, validity_report  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="folder of `audiolm prepare benchmarks`")
    ap.add_argument("--corpus", action="append", required=True, help="training corpus folder (repeatable)")
    ap.add_argument("--tokenizer", default=None, help="unified tokenizer.json (BPE oracle, token-count baseline)")
    ap.add_argument("--tokens", action="append", default=[], help="training token shards (codebook-0 oracle)")
    ap.add_argument("--codec", default=None, help="codec checkpoint that made the shards (encodes benchmark audio)")
    ap.add_argument("--tasks", default=None, help="comma-separated sets (default: every text and spoken set found)")
    ap.add_argument("--max-items", type=int, default=None)
    ap.add_argument("--out", default=None, help="JSON report path")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tok = None
    if args.tokenizer:
        from audiolm.tokens.tokenizer import UnifiedTokenizer

        tok = UnifiedTokenizer.from_file(args.tokenizer)
    if args.tokens and not args.codec:
        ap.error("--tokens needs --codec (the benchmark audio must be encoded by the same codec)")
    t0 = time.time()
    rep = validity_report(args.bench, args.corpus, tokenizer=tok, token_dirs=args.tokens, codec_spec=args.codec,
                          max_items=args.max_items, tasks=args.tasks.split(",") if args.tasks else None)
    rep["seconds"] = round(time.time() - t0, 1)
    rep["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    print(render_validity(rep))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rep, indent=2) + "\n")
        print(f"wrote {args.out} ({rep['seconds']} s)")
    return rep


if __name__ == "__main__":
    main()
