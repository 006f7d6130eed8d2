"""Shared helpers of the LM benchmarks (bench_lm_*.py): shapes, twin models, timing."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audiolm.config import load_config  # noqa: E402
from audiolm.lm.config import ModelConfig  # noqa: E402
from audiolm.tokens.vocab import Vocabulary  # noqa: E402

# text vocabularies: a small BPE for the CPU shapes, Llama-3's for the SODA shapes
SMALL_VOCAB = Vocabulary(1024).size  # 17412
SODA_VOCAB = Vocabulary(128256).size  # 144644


def preset(name: str, vocab_size: int | None = None, **overrides) -> ModelConfig:
    from dataclasses import dataclass, field

    @dataclass
    class _W:
        model: ModelConfig = field(default_factory=ModelConfig)

    cfg = load_config(_W, f"model/{name}", group="lm").model
    if vocab_size is None:
        vocab_size = SMALL_VOCAB if name in ("tiny", "small") else SODA_VOCAB
    return replace(cfg, vocab_size=vocab_size, **overrides)


def twin_models(cfg: ModelConfig, seed: int = 0):
    """(AudioLM, transformers Qwen3ForCausalLM) with identical weights (float32, CPU)."""
    from transformers import Qwen3ForCausalLM

    from audiolm.lm.hf import from_hf, hf_config_from

    torch.manual_seed(seed)
    hf_cfg = hf_config_from(cfg)
    hf_cfg._attn_implementation = "sdpa"
    hf = Qwen3ForCausalLM(hf_cfg).float()
    ours = from_hf(hf, attention=cfg.attention)
    return ours, hf


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dev = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads{dev}"


def interleaved_timing(fns: dict, rounds: int, reps: int, sync=lambda: None, clock: str = "wall") -> dict:
    """Median seconds per call of each fn, measured in alternating rounds (fair on a noisy machine).

    ``clock="cpu"`` counts this process's CPU seconds instead of wall time: on a machine shared
    with other jobs it is the steadier measure of the work done (same as wall time when the
    process has its threads' cores to itself).
    """
    now = time.perf_counter if clock == "wall" else time.process_time
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            sync()
            t = now()
            for _ in range(reps):
                fn()
            sync()
            times[k].append((now() - t) / reps)
    return {k: statistics.median(v) for k, v in times.items()}


def emit(rows: list[dict], as_json: bool, header: str) -> None:
    if as_json:
        print(json.dumps({"machine": machine(), "rows": rows}, indent=1))
        return
    print(f"# {header}\n# {machine()}")
    if not rows:
        return
    keys = list(rows[0])
    widths = [max(len(k), *(len(_fmt(r.get(k))) for r in rows)) for k in keys]
    print("| " + " | ".join(k.ljust(w) for k, w in zip(keys, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(_fmt(r.get(k)).ljust(w) for k, w in zip(keys, widths)) + " |")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)
