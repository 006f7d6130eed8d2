"""Generation throughput: audiolm ``generate`` (KV cache) vs transformers ``generate``, same weights.

Greedy decoding of ``--new`` tokens after random prompts of ``--prompt`` tokens, batch sizes
``--batches``; both sides produce exactly ``--new`` tokens (no stop token), and the table says
whether their greedy tokens agree.

    python benchmarks/bench_lm_generate.py                 # tiny + 135m, batch 1 and 4, CPU
    python benchmarks/bench_lm_generate.py --device cuda --shapes 135m,600m
"""

from __future__ import annotations

import argparse

import torch

from _lm_common import emit, interleaved_timing, preset, twin_models


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--shapes", default="tiny,135m")
    p.add_argument("--batches", default="1,4")
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from audiolm.lm.generate import generate

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rows = []
    for shape in args.shapes.split(","):
        cfg = preset(shape, attention="sdpa")
        ours, hf = twin_models(cfg)
        ours, hf = ours.to(dev).eval(), hf.to(dev).eval()
        if dev.type == "cuda":
            ours, hf = ours.bfloat16(), hf.bfloat16()
        for batch in (int(b) for b in args.batches.split(",")):
            g = torch.Generator().manual_seed(batch)
            prompts = torch.randint(0, cfg.vocab_size, (batch, args.prompt), generator=g)
            result = {}

            def run_ours():
                result["ours"] = generate(ours, prompts.tolist(), max_new_tokens=args.new, temperature=0)

            def run_hf():
                with torch.no_grad():
                    out = hf.generate(prompts.to(dev), attention_mask=torch.ones_like(prompts).to(dev),
                                      do_sample=False, max_new_tokens=args.new, min_new_tokens=args.new,
                                      eos_token_id=None, pad_token_id=0)
                result["hf"] = out[:, args.prompt:].tolist()

            run_ours(), run_hf()
            t = interleaved_timing({"audiolm": run_ours, "transformers": run_hf}, args.rounds, 1, sync, args.clock)
            n = batch * args.new
            rows.append({
                "shape": shape, "batch": batch, "prompt": args.prompt, "new": args.new,
                "audiolm_tok_s": n / t["audiolm"], "transformers_tok_s": n / t["transformers"],
                "speedup": t["transformers"] / t["audiolm"], "same_tokens": result["ours"] == result["hf"],
            })
    emit(rows, args.json, f"greedy generation, audiolm vs transformers generate ({args.device}, {args.clock} clock)")


if __name__ == "__main__":
    main()
