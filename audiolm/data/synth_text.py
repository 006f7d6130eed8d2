"""Text-only documents for the embedded corpus (the "web text" share of SODA's mixture).

SODA mixes 5% text-only tokens (web text, no tags) into the speech-text stream. Offline, the
same sentence grammar that scripts the spoken corpus writes short narrative documents; a
different seed stream keeps them (mostly) apart from what the voices say, so text knowledge
has to come from the text share and transfer, as in the study.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from audiolm.data.manifest import write_jsonl_gz
from audiolm.data.sentences import generate_documents

# Offset of the text stream's seed from the spoken corpus's seed.
TEXT_SEED_OFFSET = 7_919


def build_synth_text(out: str | Path, n_documents: int = 2000, seed: int = 0, dev_fraction: float = 0.05) -> dict:
    """Write ``out/text_{train,dev}.jsonl.gz`` (``{"id", "text"}``); split by a hash of the id."""
    if n_documents <= 0:
        raise ValueError(f"--documents must be positive, got {n_documents}")
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"--dev-fraction must be in [0, 1), got {dev_fraction}")
    docs = generate_documents(n_documents, seed=seed + TEXT_SEED_OFFSET)
    splits: dict[str, list[dict]] = {"train": [], "dev": []}
    for i, sentences in enumerate(docs):
        doc_id = f"synthtext-{seed}-{i:06d}"
        h = int(hashlib.sha1(doc_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        splits["dev" if h < dev_fraction else "train"].append({"id": doc_id, "text": " ".join(sentences)})
    stats = {}
    for split, items in splits.items():
        write_jsonl_gz(Path(out) / f"text_{split}.jsonl.gz", items)
        stats[split] = {"documents": len(items), "words": sum(len(d["text"].split()) for d in items)}
    return stats


def configure_prepare_synth_text(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="output folder for text_{train,dev}.jsonl.gz")
    p.add_argument("--documents", type=int, default=2000, help="number of documents (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="same seed -> same text (default 0)")
    p.add_argument("--dev-fraction", type=float, default=0.05, help="share of documents in dev (default 0.05)")


def run_prepare_synth_text(args: argparse.Namespace) -> int:
    try:
        stats = build_synth_text(args.out, args.documents, args.seed, args.dev_fraction)
    except ValueError as e:
        print(f"error: {e}")
        return 2
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v['documents']} docs / {v['words']} words" for k, v in stats.items()))
    return 0
