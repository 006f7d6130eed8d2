"""CPU attention over packed documents: causal segments bucketed by length vs the masked kernel.

One layer's attention, forward + backward, on rows of several documents (the quickstart's rows:
4 x 1,024 tokens, 4 query / 2 key-value heads of 16 dims). Document lengths are drawn from a
list (default: lengths seen in the quickstart's training batches, 10th-99th percentile 31-862
tokens). Both plans are built once, as a forward pass does, and timed in alternating rounds.

    python benchmarks/bench_attention_packed.py
    python benchmarks/bench_attention_packed.py --lengths 256 --json
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from _lm_common import emit, interleaved_timing
from audiolm.lm.attention import AttentionPlan, _attend_sdpa, document_causal_mask


def packed_documents(batch: int, seq: int, lengths: list[int], seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(batch):
        ids, doc = [], 0
        while len(ids) < seq:
            ids += [doc] * int(min(seq - len(ids), rng.choice(lengths)))
            doc += 1
        rows.append(ids)
    return torch.tensor(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--heads", default="4,2", help="query,key-value heads")
    ap.add_argument("--head-dim", type=int, default=16)
    ap.add_argument("--lengths", default="31,45,61,80,120,250,476,700,862", help="document lengths to draw from")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    H, Hkv = (int(x) for x in args.heads.split(","))
    doc = packed_documents(args.batch, args.seq, [int(x) for x in args.lengths.split(",")], seed=0)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(args.batch, args.seq, h, args.head_dim, generator=g, requires_grad=True) for h in (H, Hkv, Hkv))
    plans = {"segments": AttentionPlan.build("sdpa", doc),
             "mask": AttentionPlan("sdpa", is_causal=False, mask=document_causal_mask(doc))}
    assert plans["segments"].segments is not None

    def run(plan):
        return lambda: _attend_sdpa(q, k, v, plan).sum().backward()

    fns = {name: run(p) for name, p in plans.items()}
    for fn in fns.values():
        fn()  # warm-up
    t = interleaved_timing(fns, args.rounds, args.reps)
    docs = [int(x) for r in doc for x in torch.unique_consecutive(r, return_counts=True)[1]]
    emit([{"batch x seq": f"{args.batch} x {args.seq}", "documents/row": round(len(docs) / args.batch, 1),
           "threads": torch.get_num_threads(), "segments ms": 1e3 * t["segments"], "mask ms": 1e3 * t["mask"],
           "speedup": t["mask"] / t["segments"]}], args.json,
         "one layer's attention, forward + backward, packed documents (CPU SDPA)")


if __name__ == "__main__":
    main()
