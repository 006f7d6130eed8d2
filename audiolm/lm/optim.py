"""Optimizers: Cautious AdamW (SODA's optimizer) and the parameter groups for weight decay.

Cautious AdamW (Liang, Chen, Liu, Liu. "Cautious Optimizers: Improving Training with One Line
of Code", arXiv:2411.16085, 2024, Algorithm 2 / the authors' C-AdamW): plain AdamW computes the
update ``u = m_hat / (sqrt(v_hat) + eps)``; the cautious variant keeps only the coordinates where
the update agrees in sign with the current gradient and rescales the survivors by the fraction
kept, so the update's average magnitude is preserved::

    m   <- b1 m + (1 - b1) g                  v <- b2 v + (1 - b2) g^2
    u    = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    phi  = 1[u * g > 0]                       (elementwise; = 1[m * g > 0] since the denominator > 0)
    u   <- u * phi / max(mean(phi), 1e-3)     (mean over each parameter tensor)
    p   <- p - lr * wd * p - lr * u           (decoupled weight decay, not masked)

``adamc=True`` is Defazio's corrected weight decay ("On the Correct Treatment of Weight Decay in
Adam", arXiv:2506.02285), which SODA's runs use (Levanter's ``adamc_weight_decay``): the decay
coefficient follows the schedule, ``wd_t = wd * lr_t / lr_peak``, so ``wd_t / lr_t`` stays constant
(``lr_peak`` is the group's ``initial_lr``, which the LR scheduler records).

The mean normalisation is the form the authors' reference implementation settled on (their
first version used ``numel / (sum + 1)``); the 1e-3 floor guards a tensor whose mask is all
zeros. Under FSDP the mean is taken over each rank's shard, not the whole tensor (documented
in docs/training.md).
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


class CautiousAdamW(torch.optim.Optimizer):
    """AdamW whose update is masked where its sign disagrees with the gradient (see module doc)."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        mask_floor: float = 1e-3,
        adamc: bool = False,
    ):
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError("eps and weight_decay must be >= 0")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, mask_floor=mask_floor,
                        adamc=bool(adamc))
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("CautiousAdamW does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            if params:
                wd = group["weight_decay"]
                if group.get("adamc") and wd:
                    wd = wd * group["lr"] / max(group.get("initial_lr", group["lr"]), 1e-30)
                _cautious_adamw(params, grads, exp_avgs, exp_avg_sqs, steps, lr=group["lr"], betas=group["betas"],
                                eps=group["eps"], weight_decay=wd, mask_floor=group["mask_floor"])
        return loss


def _cautious_adamw(params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, betas, eps, weight_decay, mask_floor):
    beta1, beta2 = betas
    torch._foreach_add_(steps, 1.0)
    if weight_decay:
        torch._foreach_mul_(params, 1.0 - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)
    for p, g, m, v, s in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
        t = float(s)
        bc1 = 1.0 - beta1**t
        bc2 = 1.0 - beta2**t
        denom = (v / bc2).sqrt_().add_(eps)
        mask = (m * g > 0).to(m.dtype)
        mask.div_(mask.mean().clamp_(min=mask_floor))
        p.addcdiv_(m * mask, denom, value=-lr / bc1)


def no_weight_decay(name: str) -> bool:
    """RMSNorm weights and biases take no weight decay; matrices (embeddings included) do.

    Decided by name, not by shape, so that it also holds under FSDP, whose parameter views are
    flat shards (wrapper prefixes such as ``_fsdp_wrapped_module.`` do not matter)."""
    parts = name.split(".")
    return parts[-1] == "bias" or (len(parts) >= 2 and parts[-2].endswith("norm"))


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: decayed (matrices, embeddings included) and not (see :func:`no_weight_decay`)."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (no_decay if no_weight_decay(name) else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(name: str, params: Iterable, lr: float, betas, weight_decay: float, eps: float,
                    adamc: bool = False) -> torch.optim.Optimizer:
    """``cautious_adamw`` (SODA) or ``adamw`` (``torch.optim.AdamW``, fused/foreach as torch picks)."""
    betas = tuple(float(b) for b in betas)
    if name == "cautious_adamw":
        return CautiousAdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, adamc=adamc)
    if adamc:
        raise ValueError("optim.adamc_weight_decay is implemented for cautious_adamw only")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r} (cautious_adamw | adamw)")
