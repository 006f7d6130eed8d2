"""``audiolm prepare ...`` verbs: the embedded synthetic corpus, real corpora and text corpora."""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger("audiolm")


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


# -- synth -------------------------------------------------------------------------------------
def configure_prepare_synth(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="output folder (audio/, cuts_{train,dev,test}.jsonl.gz, stats.json)")
    p.add_argument("--utterances", type=int, default=2000, help="number of utterances (default 2000)")
    p.add_argument("--speakers", type=int, default=8, help="number of distinct voices K (default 8)")
    p.add_argument("--seed", type=int, default=0, help="same seed -> same corpus (default 0)")
    p.add_argument("--test-speakers", type=int, default=None,
                   help="voices heard only in test (default: 2 when K >= 4, one of each gender)")
    p.add_argument("--dev-fraction", type=float, default=0.05, help="share of documents in dev (default 0.05)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="share of documents in test (default 0.1)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")


def run_prepare_synth(args: argparse.Namespace) -> int:
    from audiolm.data.synth import build_synth_corpus

    try:
        stats = build_synth_corpus(args.out, args.utterances, args.speakers, args.seed, args.test_speakers,
                                   jobs=args.jobs, dev_fraction=args.dev_fraction, test_fraction=args.test_fraction)
    except ValueError as e:
        return _fail(str(e))
    sp = stats["splits"]
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v['utterances']} utts / {v['hours']:.3f} h" for k, v in sp.items())
          + f"; {len(stats['speakers'])} speakers ({len(stats['unseen_test_speakers'])} unseen in train)"
          + f"; {stats['wall_seconds']:.1f} s")
    return 0
