"""The interleaved text/audio language model: a Qwen3-style decoder-only transformer.

Blocks are pre-norm: ``x + Attn(RMSNorm(x))`` then ``x + SwiGLU(RMSNorm(x))``; attention has
QK-norm (RMSNorm over ``head_dim`` on queries and keys, before RoPE), grouped-query heads and
RoPE (θ and Llama-3 scaling configurable). The Q/K/V projections and the SwiGLU gate/up
projections are fused into one matmul each (:mod:`audiolm.lm.hf` splits them for
``transformers``). Input and output embeddings are untied unless ``tie_embeddings``.

``forward(input_ids, position_ids=None, document_ids=None) -> logits [B, L, V]``; attention is
causal within each document of a packed row (``document_ids``, -1 = padding). With ``labels``,
``forward`` returns an :class:`LMLoss` computed by the fused head + cross-entropy of
:mod:`audiolm.lm.fused_ce` instead (the ``[B, L, V]`` logits are never materialised).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from audiolm.lm.attention import AttentionPlan, attend, resolve_backend
from audiolm.lm.config import ModelConfig
from audiolm.lm.fused_ce import linear_cross_entropy
from audiolm.lm.rope import RotaryEmbedding, apply_rope, rope_inv_freq


class LMLoss(NamedTuple):
    """``loss``: mean NLL over labelled tokens + z_loss·mean(lse²) (differentiable);
    ``nll``/``lse``: detached per-token NLL (0 where ignored) and log-sum-exp, ``[B, L]``."""

    loss: torch.Tensor
    nll: torch.Tensor
    lse: torch.Tensor


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        # statistics in float32 (as Qwen3 does), result in the input dtype (bf16 q/k stay bf16
        # under autocast, as the xformers kernels need)
        return F.rms_norm(x.float(), self.weight.shape, None, self.eps).to(x.dtype) * self.weight.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class KVCache:
    """Preallocated keys/values ``[B, max_len, n_kv_heads, head_dim]`` per layer.

    ``valid[b, j]`` says whether slot j of row b holds a real token (False for left padding);
    a query sees earlier valid slots of its row and itself.
    """

    def __init__(self, cfg: ModelConfig, batch_size: int, max_len: int, device, dtype):
        shape = (batch_size, max_len, cfg.n_kv_heads, cfg.resolved_head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.valid = torch.zeros(batch_size, max_len, dtype=torch.bool, device=device)
        self.has_padding = False
        self.length = 0
        self.max_len = max_len

    def plan(self, n_new: int, valid: torch.Tensor | None) -> AttentionPlan:
        """Reserve ``n_new`` slots (marking their validity) and return the attention plan for them."""
        start, end = self.length, self.length + n_new
        if end > self.max_len:
            raise ValueError(f"KV cache overflow: {end} tokens > max_len {self.max_len}")
        if valid is None:
            self.valid[:, start:end] = True
        else:
            self.valid[:, start:end] = valid
            self.has_padding = self.has_padding or not bool(valid.all())
        if n_new == 1 and not self.has_padding:
            return AttentionPlan("sdpa", is_causal=False)  # one query sees every cached slot
        q_pos = torch.arange(start, end, device=self.valid.device)
        k_pos = torch.arange(end, device=self.valid.device)
        causal = k_pos[None, :] <= q_pos[:, None]
        itself = k_pos[None, :] == q_pos[:, None]
        mask = causal[None] & (self.valid[:, None, :end] | itself[None])
        return AttentionPlan.from_mask(mask.unsqueeze(1))

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        start, end = self.length, self.length + k.shape[1]
        self.k[layer][:, start:end] = k
        self.v[layer][:, start:end] = v
        return self.k[layer][:, :end], self.v[layer][:, :end]

    def advance(self, n_new: int) -> None:
        self.length += n_new


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.resolved_head_dim
        qkv_out = (self.n_heads + 2 * self.n_kv_heads) * self.head_dim
        self.qkv = nn.Linear(cfg.d_model, qkv_out, bias=False)
        self.o = nn.Linear(self.n_heads * self.head_dim, cfg.d_model, bias=False)
        self.q_norm = RMSNorm(self.head_dim, cfg.norm_eps) if cfg.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, cfg.norm_eps) if cfg.qk_norm else None

    def forward(self, x, cos, sin, plan: AttentionPlan, cache: KVCache | None = None):
        B, L, _ = x.shape
        qkv = self.qkv(x).view(B, L, self.n_heads + 2 * self.n_kv_heads, self.head_dim)
        q, k, v = qkv.split([self.n_heads, self.n_kv_heads, self.n_kv_heads], dim=2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        out = attend(q, k, v, plan)
        return self.o(out.reshape(B, L, self.n_heads * self.head_dim))


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.ffn_dim, bias=False)  # [gate; up]
        self.down = nn.Linear(cfg.ffn_dim, cfg.d_model, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    """One decoder layer (the unit for activation checkpointing and FSDP wrapping)."""

    def __init__(self, cfg: ModelConfig, layer_idx: int):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg, layer_idx)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, cos, sin, plan: AttentionPlan, cache: KVCache | None = None):
        x = x + self.attn(self.attn_norm(x), cos, sin, plan, cache)
        return x + self.mlp(self.mlp_norm(x))


class AudioLM(nn.Module):
    """Qwen3-style decoder over the unified text + audio vocabulary.

    Set ``model.activation_checkpointing = True`` to recompute each block in the backward pass
    (training only).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.rope = RotaryEmbedding(cfg.resolved_head_dim, cfg.rope_theta, cfg.rope_scaling)
        self.activation_checkpointing = False
        self._compiled_blocks = False  # set by compile_blocks()
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, init_std) everywhere; residual output projections scaled by 1/sqrt(2 n_layers)."""
        std = self.cfg.init_std
        resid_std = std / math.sqrt(2 * self.cfg.n_layers)
        for name, p in self.named_parameters():
            if p.ndim == 1:
                nn.init.ones_(p)
            elif name.endswith(("attn.o.weight", "mlp.down.weight")):
                nn.init.normal_(p, 0.0, resid_std)
            else:
                nn.init.normal_(p, 0.0, std)
        # buffers too, so a model built on the meta device can be materialised with to_empty()
        self.rope.inv_freq.copy_(rope_inv_freq(self.cfg.resolved_head_dim, self.cfg.rope_theta, self.cfg.rope_scaling))

    @property
    def vocab_size(self) -> int:
        return self.cfg.vocab_size

    def compile_blocks(self, **kwargs) -> None:
        """``torch.compile`` each decoder block in place (``nn.Module.compile``: state-dict keys unchanged).

        Blocks share their code, so one graph serves all of them (parameters are graph inputs):
        compile time stays that of one block whatever the depth. The attention plan is built
        outside the compiled region (its mask construction syncs with the host once per pass).
        """
        for layer in self.layers:
            layer.compile(**kwargs)
        self._compiled_blocks = True  # attention plans of fixed shapes from now on (no recompiles)

    def new_cache(self, batch_size: int, max_len: int, device=None, dtype=None) -> KVCache:
        p = self.embed.weight
        return KVCache(self.cfg, batch_size, max_len, device or p.device, dtype or p.dtype)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        document_ids: torch.Tensor | None = None,
        *,
        cache: KVCache | None = None,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Final-norm hidden states ``[B, L, d_model]`` (``lm_head`` turns them into logits).

        With ``cache``, the tokens are appended after the cached ones: ``position_ids`` default to
        continuing from the cache length, ``valid`` (bool ``[B, L]``) marks padding slots that no
        later token may see.
        """
        B, L = input_ids.shape
        if cache is not None:
            if document_ids is not None:
                raise ValueError("document_ids are not supported with a KV cache (one document per row)")
            if position_ids is None:
                position_ids = torch.arange(cache.length, cache.length + L, device=input_ids.device)[None]
            plan = cache.plan(L, valid)
        else:
            if position_ids is None:
                position_ids = torch.arange(L, device=input_ids.device)[None]
            backend = resolve_backend(self.cfg.attention, input_ids.device)
            if backend == "varlen" and document_ids is None:  # each row one segment
                document_ids = torch.zeros_like(input_ids)
            static = self._compiled_blocks or torch.compiler.is_compiling()
            plan = AttentionPlan.build(backend, document_ids, segments=not static)
        x = self.embed(input_ids)
        cos, sin = self.rope(position_ids, torch.float32)
        ckpt = self.activation_checkpointing and self.training and torch.is_grad_enabled() and cache is None
        for layer in self.layers:
            if ckpt:
                x = checkpoint(layer, x, cos, sin, plan, use_reentrant=False)
            else:
                x = layer(x, cos, sin, plan, cache)
        if cache is not None:
            cache.advance(L)
        return self.norm(x)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        document_ids: torch.Tensor | None = None,
        *,
        labels: torch.Tensor | None = None,
        z_loss: float = 0.0,
        cache: KVCache | None = None,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor | LMLoss:
        """Logits ``[B, L, vocab_size]``; with ``labels`` (-100 = ignore) an :class:`LMLoss`."""
        h = self.hidden_states(input_ids, position_ids, document_ids, cache=cache, valid=valid)
        if labels is None:
            return self.lm_head(h)
        return LMLoss(*linear_cross_entropy(h, self.lm_head.weight, labels, z_loss=z_loss))
