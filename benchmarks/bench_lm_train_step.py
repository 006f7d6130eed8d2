"""Training-step throughput (forward + backward + AdamW step) of AudioLM vs transformers' Qwen3.

CPU (default): each shape's AudioLM and a ``transformers`` ``Qwen3ForCausalLM`` with the same
weights, batch and tokens, timed in alternating rounds of the same run; each takes its natural
training path (AudioLM: ``model(x, labels=y)``, fused head + cross-entropy; transformers:
``model(input_ids=x, labels=y).loss``).

    python benchmarks/bench_lm_train_step.py                       # tiny + 135m, CPU table
    python benchmarks/bench_lm_train_step.py --shapes tiny --json

CUDA: tokens/s and MFU of AudioLM at 135M and 600M, bf16 autocast, seq 4096, packed documents,
xformers vs SDPA, eager vs compiled per block (MFU = exact FLOPs of ``audiolm.lm.flops`` /
``--peak-flops``); ``recompiles`` counts graphs compiled after the warm-up steps (should be 0):

    python benchmarks/bench_lm_train_step.py --device cuda --modes eager,compiled   # H100/H200 peak 989 TFLOP/s
    python benchmarks/bench_lm_train_step.py --path device --shapes tiny --seq 128 --batch 2   # the same rows on CPU
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from _lm_common import emit, interleaved_timing, preset, twin_models

CPU_DEFAULTS = {"tiny": (8, 256), "small": (4, 256), "135m": (1, 256)}


def cpu_rows(args) -> list[dict]:
    rows = []
    for shape in args.shapes.split(","):
        batch, seq = CPU_DEFAULTS.get(shape, (1, 256))
        batch, seq = args.batch or batch, args.seq or seq
        cfg = preset(shape, vocab_size=args.vocab or None, attention="sdpa")
        ours, hf = twin_models(cfg)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
        y = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
        opt_o = torch.optim.AdamW(ours.parameters(), lr=1e-4)
        opt_h = torch.optim.AdamW(hf.parameters(), lr=1e-4)

        def step_ours():
            ours(x, labels=y).loss.backward()
            opt_o.step()
            opt_o.zero_grad(set_to_none=True)

        def step_hf():
            hf(input_ids=x, labels=y).loss.backward()
            opt_h.step()
            opt_h.zero_grad(set_to_none=True)

        step_ours(), step_hf()  # warm-up (allocations, optimizer state)
        t = interleaved_timing({"audiolm": step_ours, "transformers": step_hf}, args.rounds, args.reps,
                               clock=args.clock)
        tokens = batch * seq
        rows.append({
            "shape": shape, "vocab": cfg.vocab_size, "batch": batch, "seq": seq,
            "audiolm_tok_s": tokens / t["audiolm"], "transformers_tok_s": tokens / t["transformers"],
            "speedup": t["transformers"] / t["audiolm"], "clock": args.clock,
        })
    return rows


def random_documents(batch: int, seq: int, mean_len: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """document_ids and position_ids of rows packed with documents of random lengths."""
    doc = torch.empty(batch, seq, dtype=torch.long)
    pos = torch.empty(batch, seq, dtype=torch.long)
    for b in range(batch):
        i, d = 0, 0
        while i < seq:
            n = min(int(torch.randint(mean_len // 4, 2 * mean_len, (1,), generator=g)), seq - i)
            doc[b, i : i + n] = d
            pos[b, i : i + n] = torch.arange(n)
            i, d = i + n, d + 1
    return doc, pos


def _graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _measure(cfg, batch_tensors, args, dev: torch.device, mode: str = "eager") -> dict:
    """Tokens/s (and CUDA peak memory) of AudioLM training steps; the model is freed on return."""
    from audiolm.lm.model import AudioLM

    cuda = dev.type == "cuda"
    x, pos, doc, y = batch_tensors
    torch.manual_seed(0)
    model = AudioLM(cfg).to(dev)
    model.activation_checkpointing = args.checkpointing
    step_model = model
    if mode == "compiled":
        if args.compile_scope == "blocks":
            model.compile_blocks()
        else:
            step_model = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            out = step_model(x, pos, doc, labels=y, z_loss=1e-4)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    warm_graphs = _graphs()
    t = interleaved_timing({"s": step}, args.rounds, args.reps, sync=sync)["s"]
    res = {"tok_s": x.numel() / t, "recompiles": _graphs() - warm_graphs}
    if cuda:
        res["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return res


def device_rows(args, dev: torch.device) -> list[dict]:
    """AudioLM alone: tokens/s, MFU and peak memory per shape and attention backend (bf16 autocast)."""
    from audiolm.lm import flops
    from audiolm.lm.attention import varlen_available, xformers_available

    cuda = dev.type == "cuda"
    rows = []
    backends = args.backends.split(",")
    for shape in args.shapes.split(","):
        cfg = preset(shape, vocab_size=args.vocab or None)
        batch, seq = args.batch or 4, args.seq or 4096
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g).to(dev)
        y = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g).to(dev)
        doc, pos = (t.to(dev) for t in random_documents(batch, seq, args.doc_len, g))
        fpt = flops.training_flops_per_token(cfg, seq, convention="exact")
        for backend in backends:
            for mode in args.modes.split(","):
                row = {"shape": shape, "attention": backend, "mode": mode, "batch": batch, "seq": seq}
                rows.append(row)
                usable = {"xformers": xformers_available, "varlen": varlen_available}.get(backend, lambda: True)
                if backend != "sdpa" and not (cuda and usable()):
                    row["tok_s"] = "unavailable"  # not installed, or a build without kernels for this torch/GPU
                else:
                    try:
                        row.update(_measure(replace(cfg, attention=backend), (x, pos, doc, y), args, dev, mode))
                    except torch.cuda.OutOfMemoryError:
                        row["tok_s"] = "OOM"
                ok = isinstance(row["tok_s"], float)
                row["mfu"] = flops.mfu(row["tok_s"], fpt, args.peak_flops) if ok else "-"
                if cuda:
                    torch.cuda.empty_cache()
                torch.compiler.reset()  # each row compiles for itself
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--shapes", default=None, help="presets (default: tiny,135m on CPU; 135m,600m on CUDA)")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--seq", type=int, default=0)
    p.add_argument("--vocab", type=int, default=0, help="0 = 17412 for tiny/small, 144644 for SODA shapes")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="CPU: wall time, or process CPU time (steadier on a shared machine)")
    p.add_argument("--backends", default="xformers,varlen,sdpa", help="CUDA: attention backends to compare")
    p.add_argument("--doc-len", type=int, default=1024, help="CUDA: mean packed document length")
    p.add_argument("--peak-flops", type=float, default=989e12, help="CUDA: device peak (H100 SXM bf16 dense)")
    p.add_argument("--checkpointing", action="store_true", help="CUDA: activation checkpointing")
    p.add_argument("--compile", action="store_true", help="CUDA: same as --modes compiled")
    p.add_argument("--modes", default="eager", help="CUDA: eager and/or compiled, comma-separated")
    p.add_argument("--compile-scope", choices=["blocks", "model"], default="blocks",
                   help="compiled: each decoder block (default; short compile) or the whole model")
    p.add_argument("--path", choices=["auto", "device"], default="auto",
                   help="device: the CUDA rows (backends x modes, bf16 autocast) on --device, CPU included")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compile:
        args.modes = "compiled"
    if args.device == "cuda" or args.path == "device":
        args.shapes = args.shapes or "135m,600m"
        if args.device == "cpu":
            args.backends = ",".join(b for b in args.backends.split(",") if b == "sdpa") or "sdpa"
        rows = device_rows(args, torch.device(args.device))
        emit(rows, args.json, f"AudioLM training step on {args.device} (bf16 autocast, packed documents)")
    else:
        args.shapes = args.shapes or "tiny,135m"
        rows = cpu_rows(args)
        emit(rows, args.json, "training step (fwd+bwd+AdamW), AudioLM vs transformers Qwen3ForCausalLM, CPU fp32")


if __name__ == "__main__":
    main()
