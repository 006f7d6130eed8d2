"""Parameter and FLOP accounting for the Qwen3-style decoder (used for MFU, reports and scaling).

Everything here is a pure function of a *ModelConfig-like* object: any object (dataclass,
namespace, dict) with the attributes of :class:`audiolm.lm.config.ModelConfig` that matter:
``vocab_size, d_model, n_layers, n_heads, n_kv_heads, head_dim (0 = d_model // n_heads),
ffn_dim, tie_embeddings`` and optionally ``qk_norm`` (default True). No torch import.

Parameters (no biases anywhere, as in Qwen3):

* ``input_embedding`` = V·d; ``output_head`` = d·V (0 when ``tie_embeddings``; its FLOPs still count);
* per layer: attention ``d·(h + 2·kv)·hd + h·hd·d`` (Q, K, V, O), GLU MLP ``3·d·ffn``
  (gate, up, down), RMSNorms ``2·d`` (pre-attention, pre-MLP) and QK-norm ``2·hd``
  (one RMSNorm weight of size head_dim shared across heads for q and one for k);
* the final RMSNorm ``d``.

``embedding = input_embedding + output_head``, ``non_embedding = total - embedding`` (all
transformer blocks + final norm), ``non_embedding_plus_head = non_embedding + output_head``.

Forward FLOPs per token (a multiply-add = 2 FLOPs; norms, softmax, RoPE, activations and the
embedding lookup are not counted, they are O(d) per token, < 0.1% at any size here):

* QKV projections ``2·d·(h + 2·kv)·hd``, output projection ``2·h·hd·d``;
* attention ``4·h·hd·ctx`` per layer (``2·h·hd·ctx`` for the scores ``QKᵀ``, same for ``A·V``),
  where ``ctx`` is the number of keys a query sees:

  - ``attention="full"`` (default): ``ctx = seq_len``, the Chinchilla/PaLM/Kaplan convention
    (every query scored against the whole window, as a dense kernel computes it);
  - ``attention="causal"``: ``ctx = (seq_len + 1) / 2``, the average number of keys a query at
    positions ``1..seq_len`` actually sees under a causal mask;

* GLU MLP ``2·3·d·ffn``; output head ``2·d·V``.

Training FLOPs conventions (:data:`CONVENTIONS`):

* ``exact``: 3 × forward FLOPs (backward = 2 × forward) with full attention, the convention
  in which SODA's IsoFLOP budgets are stated; ``exact_causal``: the same with causal attention;
* ``6N_total`` (alias ``6ND``): 6 × total parameters per token (tied head counted once);
* ``6N_nonembed``: 6 × non-embedding parameters per token (Kaplan et al.).
"""

from __future__ import annotations

from typing import Any, Mapping

CONVENTIONS = ("exact", "exact_causal", "6N_total", "6N_nonembed")
_ALIASES = {"6ND": "6N_total", "6N": "6N_total", "6N_nonembedding": "6N_nonembed", "6N_non_embedding": "6N_nonembed"}
ATTENTION_MODES = ("full", "causal")


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    if isinstance(cfg, Mapping):
        return cfg.get(key, default)
    return getattr(cfg, key, default)


def _shape(cfg: Any, vocab_size: int | None = None) -> dict:
    """Resolved integer shape of a ModelConfig-like object (head_dim 0 -> d_model // n_heads)."""
    d = int(_get(cfg, "d_model"))
    n_layers = int(_get(cfg, "n_layers"))
    h = int(_get(cfg, "n_heads"))
    kv = int(_get(cfg, "n_kv_heads", 0) or h)
    hd = int(_get(cfg, "head_dim", 0) or 0) or d // h
    ffn = int(_get(cfg, "ffn_dim"))
    v = int(vocab_size if vocab_size is not None else (_get(cfg, "vocab_size", 0) or 0))
    if v <= 0:
        raise ValueError("vocab_size is 0 (= take from the tokenizer): pass vocab_size= explicitly")
    if min(d, n_layers, h, kv, hd, ffn) <= 0:
        raise ValueError(f"non-positive model dimension in {dict(d_model=d, n_layers=n_layers, n_heads=h, n_kv_heads=kv, head_dim=hd, ffn_dim=ffn)}")
    if h % kv:
        raise ValueError(f"n_heads={h} is not a multiple of n_kv_heads={kv}")
    return dict(
        d=d, n_layers=n_layers, h=h, kv=kv, hd=hd, ffn=ffn, v=v,
        tied=bool(_get(cfg, "tie_embeddings", False)),
        qk_norm=bool(_get(cfg, "qk_norm", True)),
    )


def param_counts(cfg: Any, vocab_size: int | None = None) -> dict[str, int]:
    """Parameter counts by part.

    Keys: ``input_embedding``, ``output_head`` (0 when tied), ``embedding`` (their sum),
    ``attention``, ``mlp``, ``norm`` (all RMSNorm and QK-norm weights, final norm included),
    ``per_layer``, ``non_embedding``, ``non_embedding_plus_head``, ``total``.
    ``vocab_size`` overrides ``cfg.vocab_size`` (needed when the config says 0).
    """
    s = _shape(cfg, vocab_size)
    d, hd, h, kv = s["d"], s["hd"], s["h"], s["kv"]
    attn = d * (h + 2 * kv) * hd + h * hd * d
    mlp = 3 * d * s["ffn"]
    norm_layer = 2 * d + (2 * hd if s["qk_norm"] else 0)
    per_layer = attn + mlp + norm_layer
    inp = s["v"] * d
    head = 0 if s["tied"] else d * s["v"]
    non_emb = s["n_layers"] * per_layer + d  # + final norm
    return {
        "input_embedding": inp,
        "output_head": head,
        "embedding": inp + head,
        "attention": s["n_layers"] * attn,
        "mlp": s["n_layers"] * mlp,
        "norm": s["n_layers"] * norm_layer + d,
        "per_layer": per_layer,
        "non_embedding": non_emb,
        "non_embedding_plus_head": non_emb + head,
        "total": non_emb + inp + head,
    }


def attention_context(seq_len: int, attention: str = "full") -> float:
    """Average number of keys one query attends to under the given convention."""
    if attention == "full":
        return float(seq_len)
    if attention == "causal":
        return (seq_len + 1) / 2.0
    raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")


def forward_flops_breakdown(cfg: Any, seq_len: int, attention: str = "full", vocab_size: int | None = None) -> dict[str, float]:
    """Forward FLOPs per token by part: ``qkv``, ``attn_out``, ``attention`` (scores + values),
    ``mlp``, ``head`` (all layers summed) and ``total``."""
    s = _shape(cfg, vocab_size)
    d, hd, h, kv, n = s["d"], s["hd"], s["h"], s["kv"], s["n_layers"]
    ctx = attention_context(seq_len, attention)
    out = {
        "qkv": float(n * 2 * d * (h + 2 * kv) * hd),
        "attn_out": float(n * 2 * h * hd * d),
        "attention": float(n * 4 * h * hd * ctx),
        "mlp": float(n * 2 * 3 * d * s["ffn"]),
        "head": float(2 * d * s["v"]),
    }
    out["total"] = sum(out.values())
    return out


def forward_flops_per_token(cfg: Any, seq_len: int, attention: str = "full", vocab_size: int | None = None) -> float:
    """Exact forward FLOPs per token (see the module docstring for what is counted)."""
    return forward_flops_breakdown(cfg, seq_len, attention, vocab_size)["total"]


def normalize_convention(convention: str) -> str:
    c = _ALIASES.get(convention, convention)
    if c not in CONVENTIONS:
        raise ValueError(f"unknown FLOP convention {convention!r}; choose from {CONVENTIONS + tuple(_ALIASES)}")
    return c


def training_flops_per_token(cfg: Any, seq_len: int, convention: str = "exact", vocab_size: int | None = None) -> float:
    """Training (forward + backward) FLOPs per token under a named convention."""
    c = normalize_convention(convention)
    if c == "exact":
        return 3.0 * forward_flops_per_token(cfg, seq_len, "full", vocab_size)
    if c == "exact_causal":
        return 3.0 * forward_flops_per_token(cfg, seq_len, "causal", vocab_size)
    p = param_counts(cfg, vocab_size)
    return 6.0 * (p["total"] if c == "6N_total" else p["non_embedding"])


def training_flops(cfg: Any, tokens: float, seq_len: int, convention: str = "exact", vocab_size: int | None = None) -> float:
    """Total training FLOPs for ``tokens`` tokens under a named convention."""
    return float(tokens) * training_flops_per_token(cfg, seq_len, convention, vocab_size)


def tokens_for_budget(cfg: Any, budget: float, seq_len: int, convention: str = "exact", vocab_size: int | None = None) -> float:
    """Tokens that spend ``budget`` training FLOPs: budget / training FLOPs per token."""
    return float(budget) / training_flops_per_token(cfg, seq_len, convention, vocab_size)


def mfu(tokens_per_second: float, flops_per_token: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: achieved training FLOP/s over the hardware peak (all devices)."""
    if peak_flops <= 0:
        return float("nan")
    return tokens_per_second * flops_per_token / peak_flops


def summary(cfg: Any, seq_len: int, vocab_size: int | None = None) -> dict:
    """One dict with the parameter counts and per-token FLOPs under every convention (for reports)."""
    return {
        "params": param_counts(cfg, vocab_size),
        "forward_flops_per_token": {a: forward_flops_per_token(cfg, seq_len, a, vocab_size) for a in ATTENTION_MODES},
        "training_flops_per_token": {c: training_flops_per_token(cfg, seq_len, c, vocab_size) for c in CONVENTIONS},
        "seq_len": seq_len,
    }
