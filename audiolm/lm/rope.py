"""Rotary position embeddings (Qwen3/Llama "rotate half" convention) with optional Llama-3 scaling."""

from __future__ import annotations

import math

import torch
from torch import nn

from audiolm.lm.config import RopeScalingConfig


def rope_inv_freq(head_dim: int, theta: float, scaling: RopeScalingConfig | None = None) -> torch.Tensor:
    """Inverse frequencies ``[head_dim // 2]`` (float32), Llama-3.1 scaled when ``scaling.type == "llama3"``.

    Same formula as ``transformers``' ``_compute_llama3_parameters``: wavelengths shorter than
    ``original_max_position / high_freq_factor`` are kept, longer than
    ``original_max_position / low_freq_factor`` divided by ``factor``, smoothly interpolated between.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    if scaling is None or scaling.type == "none":
        return inv_freq
    if scaling.type != "llama3":
        raise ValueError(f"unknown rope_scaling.type {scaling.type!r}")
    factor, lo, hi = scaling.factor, scaling.low_freq_factor, scaling.high_freq_factor
    old_len = scaling.original_max_position
    low_freq_wavelen = old_len / lo
    high_freq_wavelen = old_len / hi
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


class RotaryEmbedding(nn.Module):
    """Computes ``(cos, sin)`` of shape ``[B or 1, L, head_dim]`` for given positions (float32 math)."""

    def __init__(self, head_dim: int, theta: float, scaling: RopeScalingConfig | None = None):
        super().__init__()
        self.head_dim = head_dim
        self.register_buffer("inv_freq", rope_inv_freq(head_dim, theta, scaling), persistent=False)

    @torch.no_grad()
    def forward(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids[..., None].float() * self.inv_freq.float()
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` of shape ``[B, L, H, D]`` by ``cos``/``sin`` of shape ``[B|1, L, D]``."""
    cos = cos.unsqueeze(2)
    sin = sin.unsqueeze(2)
    return x * cos + rotate_half(x) * sin
