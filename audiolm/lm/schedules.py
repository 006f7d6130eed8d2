"""Learning-rate schedules as multipliers of the peak lr, for ``torch.optim.lr_scheduler.LambdaLR``.

``factor(k)`` is the multiplier used by optimizer step ``k`` (0-based; LambdaLR is stepped once
per optimizer step). With ``W`` warm-up steps and ``T`` total steps:

* warm-up (all schedules): ``(k + 1) / W`` for ``k < W`` — the first step already moves, step
  ``W - 1`` reaches the peak;
* ``constant``: 1 after warm-up;
* ``wsd`` (warmup-stable-decay, SODA: 10% warm-up, 20% linear decay to 0): 1 until the last
  ``D`` steps, then ``m + (1 - m) * (T - k) / D`` — 1 at ``k = T - D``, reaching ``m``
  (``min_lr_ratio``) exactly at ``k = T``, i.e. when training ends;
* ``cosine``: ``m + (1 - m) * (1 + cos(pi * (k - W) / (T - W))) / 2`` after warm-up.

``W = ceil(warmup_frac * T)``, ``D = ceil(decay_frac * T)``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

SCHEDULES = ("wsd", "cosine", "constant")


def schedule_lengths(max_steps: int, warmup_frac: float, decay_frac: float = 0.0) -> tuple[int, int]:
    """``(W, D)``: warm-up and decay lengths in steps."""
    return int(math.ceil(warmup_frac * max_steps)), int(math.ceil(decay_frac * max_steps))


def lr_factor(
    step: int,
    max_steps: int,
    schedule: str = "wsd",
    warmup_frac: float = 0.1,
    decay_frac: float = 0.2,
    min_lr_ratio: float = 0.0,
) -> float:
    """The lr multiplier at optimizer step ``step`` (see the module docstring)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r} (choose from {SCHEDULES})")
    if max_steps <= 0:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    warmup, decay = schedule_lengths(max_steps, warmup_frac, decay_frac)
    k = min(max(int(step), 0), max_steps)
    if k < warmup:
        return (k + 1) / warmup
    m = min_lr_ratio
    if schedule == "constant":
        return 1.0
    if schedule == "wsd":
        start = max_steps - decay
        if decay <= 0 or k < start:
            return 1.0
        return m + (1.0 - m) * (max_steps - k) / decay
    span = max(max_steps - warmup, 1)
    return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * (k - warmup) / span))


def make_lr_lambda(
    max_steps: int,
    schedule: str = "wsd",
    warmup_frac: float = 0.1,
    decay_frac: float = 0.2,
    min_lr_ratio: float = 0.0,
) -> Callable[[int], float]:
    """A plain function ``step -> multiplier`` (LambdaLR stores no state for plain functions, so a
    resumed run follows the schedule of its current config)."""
    lr_factor(0, max_steps, schedule, warmup_frac, decay_frac, min_lr_ratio)  # validate now

    def factor(step: int) -> float:
        return lr_factor(step, max_steps, schedule, warmup_frac, decay_frac, min_lr_ratio)

    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, max_steps: int, schedule: str = "wsd", warmup_frac: float = 0.1,
                   decay_frac: float = 0.2, min_lr_ratio: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` over ``optimizer`` following :func:`lr_factor`; step it once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, make_lr_lambda(max_steps, schedule, warmup_frac, decay_frac, min_lr_ratio)
    )
