"""Attention backends: xformers (CUDA, block-diagonal causal masks over packed documents),
PyTorch's varlen attention (CUDA flash kernels over the packed documents as one ragged batch:
no work on masked blocks) and PyTorch SDPA (everywhere: on CPU the packed documents as causal
segments bucketed by length, on CUDA an equivalent document-causal boolean mask).

All functions take and return tensors in ``[B, L, H, D]`` layout (the layout of the projections),
with ``n_heads`` query heads and ``n_kv_heads`` key/value heads (grouped-query attention).

A :class:`AttentionPlan` is built once per forward pass (mask construction costs one host sync
for packed batches) and shared by every layer. xformers is imported lazily: it has no CPU
kernels, and the package must import and train without it.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=1)
def xformers_available() -> bool:
    """True when xformers imports AND its CUDA kernels run here.

    An xformers wheel built for another torch/CUDA imports fine but has no kernels ("xFormers
    can't load C++/CUDA extensions"); probing one tiny call keeps ``auto`` on SDPA in that case
    instead of failing at the first forward pass.
    """
    if not torch.cuda.is_available():
        return False
    from audiolm.lm.cuda_libs import preload_cudart12

    preload_cudart12()  # the PyPI wheel needs libcudart.so.12 and has no RPATH to it (cuda_libs.py)
    try:
        from xformers.ops import memory_efficient_attention

        q = torch.zeros(1, 8, 1, 64, device="cuda", dtype=torch.float16)
        memory_efficient_attention(q, q, q)
    except Exception as exc:  # ImportError, or NotImplementedError from a kernel-less build
        warnings.warn(f"xformers unusable here, attention falls back to SDPA: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''}", stacklevel=2)
        return False
    return True


def _varlen_attn():
    """PyTorch's varlen attention entry point (torch >= 2.10); a function so tests can stand in for it."""
    from torch.nn.attention.varlen import varlen_attn

    return varlen_attn


@functools.lru_cache(maxsize=1)
def varlen_available() -> bool:
    """True when PyTorch's varlen attention imports and its CUDA kernel runs here (one probe call)."""
    if not torch.cuda.is_available():
        return False
    try:
        q = torch.zeros(4, 1, 64, device="cuda", dtype=torch.bfloat16)
        cu = torch.tensor([0, 4], device="cuda", dtype=torch.int32)
        _varlen_attn()(q, q, q, cu, cu, 4, 4, window_size=(-1, 0))
    except Exception as exc:  # ImportError (older torch), NotImplementedError (no kernel for this GPU)
        warnings.warn(f"varlen attention unusable here: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''}", stacklevel=2)
        return False
    return True


def resolve_backend(name: str, device: torch.device | str) -> str:
    """``auto`` -> ``xformers`` on CUDA when importable, else ``sdpa``; explicit names are checked."""
    device = torch.device(device)
    if name == "auto":
        return "xformers" if device.type == "cuda" and xformers_available() else "sdpa"
    if name == "xformers":
        if device.type != "cuda":
            raise RuntimeError("attention=xformers needs a CUDA device (xformers has no CPU kernels); use auto or sdpa")
        if not xformers_available():
            raise RuntimeError("attention=xformers but xformers is not importable or has no CUDA kernels for this "
                               "torch build (pip install 'audiolm[xformers]' matching your torch)")
        return "xformers"
    if name == "varlen":
        if device.type != "cuda" or not varlen_available():
            raise RuntimeError("attention=varlen needs a CUDA device and a torch with torch.nn.attention.varlen "
                               "(flash kernels); use auto or sdpa")
        return "varlen"
    if name == "sdpa":
        return "sdpa"
    raise ValueError(f"unknown attention backend {name!r} (auto | xformers | varlen | sdpa)")


def single_document_rows(document_ids: torch.Tensor) -> bool:
    """True when every row holds one document followed only by padding (-1): plain causal suffices.

    (Padding positions may then see the document, but their outputs are never used.)
    """
    nxt = document_ids[:, 1:]
    return bool(((nxt == document_ids[:, :-1]) | (nxt < 0)).all())


def document_causal_mask(document_ids: torch.Tensor) -> torch.Tensor:
    """Boolean ``[B, 1, L, L]``: query i sees key j iff j <= i and both are in the same document.

    The diagonal is always allowed, so no row is empty (padding attends to padding).
    """
    L = document_ids.shape[1]
    same = document_ids[:, :, None] == document_ids[:, None, :]
    causal = torch.ones(L, L, dtype=torch.bool, device=document_ids.device).tril_()
    return (same & causal).unsqueeze(1)


def packed_seqlens(document_ids: torch.Tensor) -> list[int]:
    """Lengths of the contiguous same-document runs of all rows, concatenated row after row.

    A run never crosses a row boundary; padding runs count as their own segments.
    """
    B, L = document_ids.shape
    change = torch.ones(B, L, dtype=torch.bool, device=document_ids.device)
    change[:, 1:] = document_ids[:, 1:] != document_ids[:, :-1]
    starts = change.reshape(-1).nonzero().squeeze(1)
    ends = torch.cat([starts[1:], starts.new_tensor([B * L])])
    return (ends - starts).tolist()


SEGMENT_ROUND = 32  # segment lengths are padded up to a multiple of this (fewer, larger SDPA calls)


def causal_segments(document_ids: torch.Tensor, round_to: int = SEGMENT_ROUND) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The packed rows' documents as causal segments, grouped by padded length (CPU SDPA).

    Returns ``gathers``: per padded length, long ``[n, Lp]`` indices into the ``B*L`` flat tokens
    (each segment's last token repeats as end padding: causal attention never lets a real token see
    it), and ``inverse``: for each flat token, its row in the concatenation of the buckets' flattened
    outputs. Attention then costs the sum of squared document lengths, not ``L^2`` per row.
    """
    lens = packed_seqlens(document_ids)
    starts = list(itertools.accumulate([0, *lens[:-1]]))
    buckets: dict[int, list[tuple[int, int]]] = {}
    for st, n in zip(starts, lens):
        buckets.setdefault(-(-n // round_to) * round_to, []).append((st, n))
    dev = document_ids.device
    gathers, inverse, offset = [], torch.empty(sum(lens), dtype=torch.long), 0
    for width, segs in sorted(buckets.items()):
        st = torch.tensor([a for a, _ in segs])
        n = torch.tensor([b for _, b in segs])
        col = torch.arange(width)
        gathers.append((st[:, None] + torch.minimum(col[None], n[:, None] - 1)).to(dev))
        real = col[None] < n[:, None]  # [segments, width]
        flat = (st[:, None] + col[None])[real]
        inverse[flat] = offset + real.reshape(-1).nonzero().squeeze(1)
        offset += len(segs) * width
    return gathers, inverse.to(dev)


def document_ids_from_positions(position_ids: torch.Tensor) -> torch.Tensor:
    """Document ids from positions that restart at 0 for each document (row-local numbering)."""
    starts = position_ids == 0
    starts[:, 0] = True
    return starts.long().cumsum(1) - 1


@dataclass
class AttentionPlan:
    """How every layer of one forward pass attends."""

    backend: str  # "sdpa" | "xformers" | "varlen"
    is_causal: bool = True
    mask: torch.Tensor | None = None  # sdpa: bool [B, 1, Lq, Lk] (True = attend)
    segments: tuple[list[torch.Tensor], torch.Tensor] | None = None  # sdpa on CPU: causal_segments()
    document_ids: torch.Tensor | None = None  # sdpa with segments: what full_mask() builds from
    bias: Any = None  # xformers attention bias
    packed: bool = False  # xformers: rows flattened into one [1, B*L] sequence
    cu_seqlens: torch.Tensor | None = None  # varlen: int32 [n_segments + 1] offsets into the B*L tokens
    max_seqlen: int = 0  # varlen: the longest segment

    @classmethod
    def build(cls, backend: str, document_ids: torch.Tensor | None, segments: bool = True) -> "AttentionPlan":
        """Plan for a full (uncached) pass over ``[B, L]`` tokens, causal within documents.
        ``segments=False``: SDPA on CPU keeps the mask too (fixed shapes, for ``torch.compile``)."""
        one_doc = document_ids is None or single_document_rows(document_ids)
        if backend == "sdpa":
            if one_doc:
                return cls("sdpa", is_causal=True)
            if segments and document_ids.device.type == "cpu":  # no work on masked blocks; shapes vary
                return cls("sdpa", is_causal=False, segments=causal_segments(document_ids), document_ids=document_ids)
            return cls("sdpa", is_causal=False, mask=document_causal_mask(document_ids))
        if backend == "xformers":
            from xformers.ops import fmha

            if one_doc:
                return cls("xformers", bias=fmha.attn_bias.LowerTriangularMask())
            bias = fmha.attn_bias.BlockDiagonalCausalMask.from_seqlens(packed_seqlens(document_ids))
            return cls("xformers", bias=bias, packed=True)
        if backend == "varlen":  # document_ids: the model passes zeros for rows of one document
            lens = packed_seqlens(document_ids)
            cu = torch.tensor([0, *itertools.accumulate(lens)], dtype=torch.int32, device=document_ids.device)
            return cls("varlen", cu_seqlens=cu, max_seqlen=max(lens), packed=True)
        raise ValueError(f"unknown attention backend {backend!r}")

    def full_mask(self) -> torch.Tensor | None:
        """The boolean ``[B, 1, Lq, Lk]`` mask this plan means, whichever kernel path it takes (for
        a backend of your own); ``None`` when it is plain causal (``is_causal``) or sees everything."""
        if self.mask is not None:
            return self.mask
        return document_causal_mask(self.document_ids) if self.document_ids is not None else None

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> "AttentionPlan":
        """Explicit boolean mask ``[B, 1, Lq, Lk]`` (KV-cache decoding); always SDPA."""
        return cls("sdpa", is_causal=False, mask=mask)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plan: AttentionPlan) -> torch.Tensor:
    """``q [B, Lq, H, D]``, ``k/v [B, Lk, Hkv, D]`` -> ``[B, Lq, H, D]`` (scale 1/sqrt(D))."""
    if plan.backend == "xformers":
        return _attend_xformers(q, k, v, plan)
    if plan.backend == "varlen":
        return _attend_varlen(q, k, v, plan)
    return _attend_sdpa(q, k, v, plan)


def _attend_sdpa(q, k, v, plan: AttentionPlan) -> torch.Tensor:
    gqa = q.shape[2] != k.shape[2]
    if plan.segments is not None:
        return _attend_segments(q, k, v, plan.segments, gqa)
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2),
        k.transpose(1, 2),
        v.transpose(1, 2),
        attn_mask=plan.mask,
        is_causal=plan.is_causal and plan.mask is None,
        enable_gqa=gqa,
    )
    return out.transpose(1, 2)


def _attend_segments(q, k, v, segments, gqa: bool) -> torch.Tensor:
    """Causal SDPA over each bucket of equal-width document segments (see :func:`causal_segments`)."""
    B, L, H, D = q.shape
    flat = [t.reshape(B * L, t.shape[2], D) for t in (q, k, v)]
    outs = []
    for idx in segments[0]:
        qs, ks, vs = (t[idx].transpose(1, 2) for t in flat)  # [n, heads, width, D]
        o = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, enable_gqa=gqa)
        outs.append(o.transpose(1, 2).reshape(-1, H, D))
    return torch.cat(outs)[segments[1]].reshape(B, L, H, D)


@torch.compiler.disable  # an opaque fused kernel; its block-diagonal bias differs every batch (no recompiles)
def _attend_xformers(q, k, v, plan: AttentionPlan) -> torch.Tensor:
    from xformers.ops import memory_efficient_attention

    B, Lq, H, D = q.shape
    Hkv = k.shape[2]
    if plan.packed:  # block-diagonal masks want one long sequence
        q = q.reshape(1, B * Lq, H, D)
        k = k.reshape(1, B * k.shape[1], Hkv, D)
        v = v.reshape(1, B * v.shape[1], Hkv, D)
    if H != Hkv:  # GQA: the 5-D [B, M, G, H/G, D] form, kv broadcast over the group (stride 0)
        rep = H // Hkv
        q = q.reshape(q.shape[0], q.shape[1], Hkv, rep, D)
        k = k.unsqueeze(3).expand(-1, -1, -1, rep, -1)
        v = v.unsqueeze(3).expand(-1, -1, -1, rep, -1)
    out = memory_efficient_attention(q, k, v, attn_bias=plan.bias)
    return out.reshape(B, Lq, H, D)


def _attend_varlen(q, k, v, plan: AttentionPlan) -> torch.Tensor:
    """The packed rows as one ragged batch of segments (causal within each: window (-1, 0))."""
    B, L, H, D = q.shape
    Hkv = k.shape[2]
    out = _varlen_attn()(q.reshape(B * L, H, D), k.reshape(B * L, Hkv, D), v.reshape(B * L, Hkv, D),
                         plan.cu_seqlens, plan.cu_seqlens, plan.max_seqlen, plan.max_seqlen,
                         window_size=(-1, 0), enable_gqa=H != Hkv)
    return out.reshape(B, L, H, D)
