"""Training callbacks: throughput / MFU, RNG state for exact resume, and config-declared callbacks.

``callbacks: [{class_path: pkg.mod.Class, init_args: {...}}]`` in an LM config are built by
:func:`instantiate_callbacks` (import by path), which is how the evaluation callback joins a
training run without ``audiolm.lm`` importing ``audiolm.eval``.
"""

from __future__ import annotations

import importlib
import random
import time
from typing import Any, Iterable

import lightning.pytorch as pl
import numpy as np
import torch

from audiolm.config import ConfigError


def device_peak_flops(device: torch.device, precision: str) -> float | None:
    """Per-device dense peak FLOP/s for the matmul dtype of a Lightning precision (Lightning's
    table of GPUs); None when unknown (CPU, unlisted devices)."""
    from lightning.fabric.utilities.throughput import get_available_flops

    dtype = torch.float32
    if "bf16" in precision:
        dtype = torch.bfloat16
    elif precision.startswith("16"):
        dtype = torch.float16
    if device.type == "cpu":
        return None
    try:
        flops = get_available_flops(device, dtype)
    except Exception:  # unknown device names warn/raise inside lightning
        return None
    return float(flops) if flops else None


class ThroughputMonitor(pl.Callback):
    """Logs ``train/tokens_per_s``, ``train/tokens`` and ``train/mfu`` every ``log_every_n_steps``
    optimizer steps, and accumulates training wall time across resumes (``train_time_s``).

    Tokens per step = global batch x sequence length over all devices (padding included);
    MFU = tokens/s x training FLOPs per token / (per-device peak x world size).
    """

    def __init__(self, tokens_per_step: int, flops_per_token: float, peak_flops: float = 0.0,
                 precision: str = "32-true", log_every_n_steps: int = 10):
        self.tokens_per_step = int(tokens_per_step)
        self.flops_per_token = float(flops_per_token)
        self.peak_flops = float(peak_flops)
        self.precision = precision
        self.log_every_n_steps = max(1, int(log_every_n_steps))
        self.train_time_s = 0.0
        self._t0: float | None = None
        self._window_start: tuple[float, int] | None = None
        self._total_peak: float | None = None

    def _sync(self, trainer: pl.Trainer) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)

    def on_train_start(self, trainer, pl_module) -> None:
        per_device = self.peak_flops or device_peak_flops(trainer.strategy.root_device, self.precision)
        self._total_peak = per_device * trainer.world_size if per_device else None
        self._sync(trainer)
        now = time.perf_counter()
        self._t0 = now
        self._window_start = (now, trainer.global_step)

    def _elapsed(self) -> float:
        return 0.0 if self._t0 is None else time.perf_counter() - self._t0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self._window_start is None or step == self._window_start[1] or step % self.log_every_n_steps:
            return
        self._sync(trainer)
        now = time.perf_counter()
        t_start, s_start = self._window_start
        tok_s = (step - s_start) * self.tokens_per_step / max(now - t_start, 1e-9)
        metrics = {"train/tokens_per_s": tok_s, "train/tokens": float(step * self.tokens_per_step)}
        if self._total_peak:
            metrics["train/mfu"] = tok_s * self.flops_per_token / self._total_peak
        pl_module.log_dict(metrics, rank_zero_only=True)
        self._window_start = (now, step)

    def on_train_end(self, trainer, pl_module) -> None:
        self.train_time_s += self._elapsed()
        self._t0 = None

    def state_dict(self) -> dict:
        return {"train_time_s": self.train_time_s + self._elapsed()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_time_s = float(state_dict.get("train_time_s", 0.0))


class RNGStateCallback(pl.Callback):
    """Saves the python / numpy / torch (and CUDA) RNG states in checkpoints and restores them
    when training resumes, so anything random after a resume continues the same streams.

    States are stored as plain lists and tensors (``weights_only=True`` safe). Lightning keeps
    callback state of rank 0 only: other ranks resume with rank 0's host streams.
    """

    def __init__(self) -> None:
        self._pending: dict | None = None

    def state_dict(self) -> dict:
        np_state = np.random.get_state()
        state = {
            "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = state_dict

    def on_train_start(self, trainer, pl_module) -> None:
        s, self._pending = self._pending, None
        if not s:
            return
        v, internal, gauss = s["python"]
        random.setstate((v, tuple(internal), gauss))
        name, keys, pos, has_gauss, cached = s["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(s["torch"])
        if "cuda" in s and torch.cuda.is_available() and len(s["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(s["cuda"])


def import_object(path: str) -> Any:
    """``pkg.module.Name`` (or ``pkg.module:Name``) -> the object."""
    module_name, sep, attr = path.replace(":", ".").rpartition(".")
    if not sep:
        raise ImportError(f"{path!r} is not an import path of the form package.module.Class")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None


def instantiate_callbacks(specs: Iterable[dict]) -> list[pl.Callback]:
    """Build ``[{class_path, init_args}]`` entries; errors name the entry."""
    out = []
    for i, spec in enumerate(specs):
        path = spec.get("class_path", "")
        try:
            cls = import_object(path)
        except ImportError as e:
            raise ConfigError(f"callbacks[{i}].class_path: cannot import {path!r}: {e}") from None
        try:
            cb = cls(**dict(spec.get("init_args") or {}))
        except TypeError as e:
            raise ConfigError(f"callbacks[{i}].init_args: {path}: {e}") from None
        if not isinstance(cb, pl.Callback):
            raise ConfigError(f"callbacks[{i}].class_path: {path} is not a lightning Callback")
        out.append(cb)
    return out
