"""Causal SEANet encoder/decoder and a causal windowed transformer (the Mimi/EnCodec family).

Every conv pads on the left only (plus zeros at the right end to complete the last frame), so
an encoder output frame ``t`` depends on input samples ``< (t + 1) * hop`` only, and encoding a
signal in hop-aligned chunks with enough left context gives the same latents as encoding it
whole. The transformer attends to at most ``context`` past frames, so the receptive field is
finite (see :func:`receptive_field`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _activation(name: str) -> nn.Module:
    return {"elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU, "relu": nn.ReLU}[name]()


class CausalConv1d(nn.Module):
    """Conv1d with causal (left) padding and extra right padding to complete the last frame."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, stride=stride, dilation=dilation, groups=groups)
        self.stride = stride
        self.eff_kernel = (kernel - 1) * dilation + 1
        self.pad_left = self.eff_kernel - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        n_out = math.ceil(n / self.stride)
        extra = (n_out - 1) * self.stride + self.eff_kernel - (n + self.pad_left)
        return self.conv(F.pad(x, (self.pad_left, max(extra, 0))))


class CausalConvTranspose1d(nn.Module):
    """ConvTranspose1d trimmed on the right so output ``i`` depends on inputs ``<= i // stride``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, groups: int = 1):
        super().__init__()
        self.conv = nn.ConvTranspose1d(cin, cout, kernel, stride=stride, groups=groups)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y[..., : x.shape[-1] * self.stride]


class Patchify(nn.Module):
    """[B, C, S] -> [B, C * P, S / P]: consecutive P samples become channels (S padded to a multiple
    of P). Followed by a kernel-2 causal conv this equals a kernel-2P stride-P conv, but CPU conv
    kernels are far faster on it (a 1-channel strided conv's backward is pathological on CPU)."""

    def __init__(self, patch: int):
        super().__init__()
        self.patch = patch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, n = x.shape
        x = F.pad(x, (0, (-n) % self.patch))
        return x.view(b, c, -1, self.patch).permute(0, 1, 3, 2).reshape(b, c * self.patch, -1)


class OverlapAdd(nn.Module):
    """[B, Cin, T] -> [B, Cout, T * P]: a 1x1 conv gives two P-sample pieces per frame; frame t writes
    the first to patch t and the second to patch t + 1 (a causal kernel-2P stride-P transposed conv)."""

    def __init__(self, cin: int, cout: int, patch: int):
        super().__init__()
        self.patch, self.cout = patch, cout
        self.proj = nn.Conv1d(cin, 2 * patch * cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t = x.shape
        y = self.proj(x).view(b, self.cout, 2, self.patch, t)
        cur, nxt = y[:, :, 0], y[:, :, 1]
        out = cur + F.pad(nxt, (1, 0))[..., :t]
        return out.permute(0, 1, 3, 2).reshape(b, self.cout, t * self.patch)


class ResidualUnit(nn.Module):
    def __init__(self, dim: int, kernel: int, dilation: int, compress: int, act: str):
        super().__init__()
        hidden = dim // compress
        self.block = nn.Sequential(
            _activation(act), CausalConv1d(dim, hidden, kernel, dilation=dilation),
            _activation(act), CausalConv1d(hidden, dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SEANetEncoder(nn.Module):
    """Waveform [B, C, S] -> latents [B, dimension, ceil(S / prod(ratios))]."""

    def __init__(self, channels: int = 1, dimension: int = 512, n_filters: int = 64, ratios=(8, 6, 5, 4),
                 n_residual_layers: int = 1, kernel_size: int = 7, last_kernel_size: int = 3,
                 residual_kernel_size: int = 3, dilation_base: int = 2, compress: int = 2,
                 activation: str = "elu", max_filters: int = 0, patch_size: int = 1):
        super().__init__()
        cap = (lambda c: min(c, max_filters)) if max_filters else (lambda c: c)
        # patch_size > 1: the first conv is strided (kernel 2P, stride P), so every later layer runs
        # at sample_rate / P -- the cheap layout for CPU training (the decoder mirrors it).
        if patch_size == 1:
            layers: list[nn.Module] = [CausalConv1d(channels, cap(n_filters), kernel_size)]
        else:
            layers = [Patchify(patch_size), CausalConv1d(channels * patch_size, cap(n_filters), 2)]
        mult = 1
        for ratio in reversed(list(ratios)):  # SEANet convention: the encoder uses the ratios reversed
            dim = cap(mult * n_filters)
            for j in range(n_residual_layers):
                layers.append(ResidualUnit(dim, residual_kernel_size, dilation_base ** j, compress, activation))
            layers += [_activation(activation), CausalConv1d(dim, cap(mult * 2 * n_filters), ratio * 2, stride=ratio)]
            mult *= 2
        layers += [_activation(activation), CausalConv1d(cap(mult * n_filters), dimension, last_kernel_size)]
        self.model = nn.Sequential(*layers)
        self.hop = math.prod(ratios) * patch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class SEANetDecoder(nn.Module):
    """Latents [B, dimension, T] -> waveform [B, C, T * prod(ratios)]."""

    def __init__(self, channels: int = 1, dimension: int = 512, n_filters: int = 64, ratios=(8, 6, 5, 4),
                 n_residual_layers: int = 1, kernel_size: int = 7, last_kernel_size: int = 3,
                 residual_kernel_size: int = 3, dilation_base: int = 2, compress: int = 2,
                 activation: str = "elu", max_filters: int = 0, patch_size: int = 1):
        super().__init__()
        cap = (lambda c: min(c, max_filters)) if max_filters else (lambda c: c)
        mult = 2 ** len(ratios)
        layers: list[nn.Module] = [CausalConv1d(dimension, cap(mult * n_filters), kernel_size)]
        for ratio in ratios:
            layers += [_activation(activation),
                       CausalConvTranspose1d(cap(mult * n_filters), cap(mult * n_filters // 2), ratio * 2, stride=ratio)]
            for j in range(n_residual_layers):
                layers.append(ResidualUnit(cap(mult * n_filters // 2), residual_kernel_size, dilation_base ** j,
                                           compress, activation))
            mult //= 2
        layers.append(_activation(activation))
        if patch_size == 1:
            layers.append(CausalConv1d(cap(n_filters), channels, last_kernel_size))
        else:  # overlap-add of learned 2P-sample kernels back to the full rate
            layers.append(OverlapAdd(cap(n_filters), channels, patch_size))
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)


# --- causal transformer -------------------------------------------------------------------


def _rope(x: torch.Tensor, theta: float = 10000.0) -> torch.Tensor:
    """Rotary embedding over the last dim of x [B, H, T, D] (relative, so chunking is exact)."""
    d = x.shape[-1]
    t = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)
    freqs = theta ** (-torch.arange(0, d, 2, device=x.device, dtype=torch.float32) / d)
    ang = t[:, None] * freqs[None]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, n_heads: int, ffn_dim: int, layer_scale: float):
        super().__init__()
        self.n_heads = n_heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim, bias=False), nn.GELU(), nn.Linear(ffn_dim, dim, bias=False))
        self.scale1 = nn.Parameter(torch.full((dim,), layer_scale))
        self.scale2 = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(_rope(q), _rope(k), v, attn_mask=mask)
        x = x + self.scale1 * self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.scale2 * self.ffn(self.norm2(x))


class CausalTransformer(nn.Module):
    """[B, D, T] -> [B, D, T]; frame t attends to frames (t - context, t]."""

    def __init__(self, dim: int, n_layers: int, n_heads: int, ffn_dim: int, context: int, layer_scale: float = 0.01):
        super().__init__()
        self.context = context
        self.layers = nn.ModuleList(TransformerLayer(dim, n_heads, ffn_dim, layer_scale) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[-1]
        i = torch.arange(t, device=x.device)
        rel = i[:, None] - i[None, :]
        mask = (rel >= 0) & (rel < self.context)
        h = x.transpose(1, 2)
        for layer in self.layers:
            h = layer(h, mask)
        return h.transpose(1, 2)


def receptive_field(module: nn.Module, hop: int) -> int:
    """Past samples an encoder output frame can see (an upper bound), for exact chunked encoding."""
    total = 0
    stride = 1
    for m in module.modules():
        if isinstance(m, Patchify):
            total += m.patch - 1
            stride *= m.patch
        elif isinstance(m, CausalConv1d):
            total += (m.eff_kernel - 1) * stride
            stride *= m.stride
        elif isinstance(m, CausalTransformer):
            total += len(m.layers) * m.context * stride
    return total + hop
