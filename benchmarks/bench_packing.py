"""Data-path throughput on one CPU core: packing alone, and the whole training stream.

``pack``    :class:`audiolm.tokens.packing.Packer` on prebuilt documents (SODA-sized: text-first and
            audio-first documents of 20 utterances x ~5 s of 8-codebook audio at 12.5 Hz, plus 5%
            text tokens), ``batch_size x seq_len`` rows.
``stream``  :class:`audiolm.tokens.stream.TrainStream` end to end from codes + transcripts in memory:
            tokenize transcripts, lay out codes, build documents in both formats, mix 5% text by
            tokens, pack (what one dataloader worker does after reading a shard).
``shar``    the same stream fed from lhotse Shar token shards on disk (adds reading + grouping).

    python benchmarks/bench_packing.py                  # all three, table
    python benchmarks/bench_packing.py --json           # machine-readable

Target: >= 1M tokens/s per core for packing, so data is never the bottleneck of a GPU run.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from audiolm.tokens.documents import build_formats, text_document  # noqa: E402
from audiolm.tokens.layout import make_layout  # noqa: E402
from audiolm.tokens.packing import Packer, TokenMixer, mix_documents  # noqa: E402
from audiolm.tokens.sources import MemorySpeechSource, MemoryTextSource, ShardSpeechSource  # noqa: E402
from audiolm.tokens.stream import ItemBuilder, TrainStream  # noqa: E402
from audiolm.tokens.testing import WORDS, tiny_tokenizer, write_token_shards  # noqa: E402


def corpus(n_docs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    docs = []
    for d in range(n_docs):
        utts = []
        for _ in range(20):
            T = int(rng.integers(30, 95))  # 2.4..7.6 s at 12.5 Hz
            text = " ".join(rng.choice(WORDS, int(T / 12.5 * 2.5)))  # ~2.5 words/s
            utts.append((rng.integers(0, 2048, (8, T)), text))
        docs.append((f"doc{d}", utts))
    texts = [" ".join(rng.choice(WORDS, int(rng.integers(200, 1500)))) for _ in range(2 * n_docs)]
    return docs, texts


def timed(fn, min_s: float = 2.0):
    """Run ``fn() -> tokens`` repeatedly for at least ``min_s``; tokens/s of the best third."""
    rates, t_end = [], time.perf_counter() + min_s
    while time.perf_counter() < t_end or len(rates) < 3:
        t0 = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t0))
    rates.sort()
    return float(np.median(rates[len(rates) * 2 // 3:])), float(np.median(rates))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--docs", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    tok = tiny_tokenizer(n_codebooks=8, codebook_size=2048, vocab_size=1024)
    layout = make_layout("frame_major", None, tok.vocab)
    docs, texts = corpus(args.docs)
    L, B = args.seq_len, args.batch_size
    results = {}

    # 1. packing alone
    speech = [build_formats(u, ["text_first", "audio_first"], layout, tok, L, source=d) for d, u in docs]
    text_docs = [text_document(tok, t) for t in texts]
    mixed = list(mix_documents(speech, text_docs, 0.05))
    n_tok = sum(len(d) for d in mixed)

    def pack():
        pk = Packer(L, B, tok.pad_id)
        for d in mixed:
            pk.add(d)
            while pk.ready():
                pk.pop()
        return n_tok - len(pk)

    results["pack"] = timed(pack)

    # 2. the whole stream from memory
    builder = ItemBuilder(tok, layout, ("text_first", "audio_first"), L)
    sp, tx = MemorySpeechSource(docs, 8), MemoryTextSource(texts, 64)
    per_pass = 2 * n_tok

    def stream(source=sp):
        s = iter(TrainStream(source, tx, builder, 0.05, L, B))
        n = 0
        while n < per_pass:
            b, _ = next(s)
            n += b["n_tokens"]
        return n

    results["stream"] = timed(stream)

    # 3. the stream from Shar shards on disk
    with tempfile.TemporaryDirectory() as tmp:
        write_token_shards(Path(tmp) / "shar", docs, codebook_size=2048, shard_size=100)
        shar = ShardSpeechSource([str(Path(tmp) / "shar")])
        results["shar"] = timed(lambda: stream(shar))

    mixer = TokenMixer(0.05)
    list(mix_documents(speech, text_docs, 0.05, mixer))
    meta = {"cpu": platform.processor() or platform.machine(), "cores_used": 1, "seq_len": L, "batch_size": B,
            "tokens_per_pass": n_tok, "text_share": round(mixer.achieved, 4)}
    if args.json:
        print(json.dumps({"meta": meta, "tokens_per_s": {k: {"best": v[0], "median": v[1]} for k, v in results.items()}}))
        return
    print(f"one core, seq_len {L} x batch {B}, {n_tok} tokens per pass, text share {mixer.achieved:.3f}")
    print(f"{'path':<8} {'M tokens/s (best third)':>24} {'median':>10}")
    for k, (best, med) in results.items():
        print(f"{k:<8} {best / 1e6:>24.2f} {med / 1e6:>10.2f}")


if __name__ == "__main__":
    main()
