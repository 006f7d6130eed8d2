"""Peak memory of one training step (forward + backward + AdamW step) per model configuration.

Each measurement runs in a fresh subprocess: on CPU the figure is the growth of the process's
peak RSS over its size before the model was built; on CUDA it is ``max_memory_allocated``.
Every preset also gets the analytic size of its training state (fp32 weights + gradients +
AdamW's two moments = 16 bytes per parameter), which is all that is reported for shapes too
big for the machine (``--measure`` picks the measured ones).

    python benchmarks/bench_lm_memory.py                  # CPU: tiny, small, 135m measured
    python benchmarks/bench_lm_memory.py --device cuda --measure 135m,600m --seq 4096 --batch 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

PRESETS = ["tiny", "small", "135m", "600m", "1.7b", "4b"]


def child(args) -> None:
    import torch

    from _lm_common import preset, twin_models

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cfg = preset(args.shape, attention="auto" if cuda else "sdpa")
    if args.impl == "transformers":
        model = twin_models(cfg)[1]
    else:
        from audiolm.lm.model import AudioLM

        model = AudioLM(cfg)
    model.to(dev)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randint(0, cfg.vocab_size, (args.batch, args.seq), device=dev)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
        if args.impl == "transformers":
            loss = model(input_ids=x, labels=x).loss
        else:
            loss = model(x, labels=x).loss
    loss.backward()
    opt.step()
    if cuda:
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
    print(json.dumps({"peak_gib": peak / 2**30}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--measure", default=None, help="presets to measure (default: tiny,small,135m on CPU)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--compare", action="store_true", help="also measure transformers' Qwen3 at each shape")
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", nargs=2, metavar=("SHAPE", "IMPL"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.shape, args.impl = args.child
        child(args)
        return

    from _lm_common import emit, preset

    from audiolm.lm.flops import param_counts

    measure = (args.measure or "tiny,small,135m").split(",")
    rows = []
    for name in PRESETS:
        cfg = preset(name)
        n = param_counts(cfg)["total"]
        row = {"preset": name, "vocab": cfg.vocab_size, "params_M": n / 1e6, "train_state_gib": 16 * n / 2**30}
        for impl in ["audiolm"] + (["transformers"] if args.compare else []):
            key = f"{impl}_peak_gib"
            if name not in measure:
                row[key] = "-"
                continue
            cmd = [sys.executable, __file__, "--device", args.device, "--batch", str(args.batch),
                   "--seq", str(args.seq), "--child", name, impl]
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parent)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            row[key] = json.loads(lines[-1])["peak_gib"] if out.returncode == 0 and lines else "failed"
        rows.append(row)
    emit(rows, args.json, f"peak memory of one training step, batch {args.batch} x seq {args.seq} ({args.device})")


if __name__ == "__main__":
    main()
