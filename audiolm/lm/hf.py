"""Hugging Face ``transformers`` interop: Qwen3ForCausalLM <-> AudioLM.

``transformers`` is imported lazily (an optional dependency used only here).

- :func:`from_hf` copies a ``Qwen3ForCausalLM`` into an :class:`AudioLM` (same logits).
- :func:`to_hf` writes a directory that ``Qwen3ForCausalLM.from_pretrained`` loads, with the
  unified ``tokenizer.json`` when a tokenizer is given.
- :func:`load_hf_qwen3` warm-starts from a local Qwen3 checkpoint with the vocabulary extended
  to the audio ids.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from audiolm.lm.config import ModelConfig, RopeScalingConfig
from audiolm.lm.model import AudioLM


def _rope_params(hf_config) -> dict:
    """RoPE parameters of a Qwen3Config, from ``rope_parameters`` (transformers 5) or
    ``rope_theta``/``rope_scaling`` (transformers 4)."""
    params = getattr(hf_config, "rope_parameters", None)
    if params:
        params = dict(params)
    else:
        params = dict(getattr(hf_config, "rope_scaling", None) or {})
        params.setdefault("rope_theta", getattr(hf_config, "rope_theta", 10000.0))
    params.setdefault("rope_type", params.get("type", "default"))
    return params


def config_from_hf(hf_config, attention: str = "auto") -> ModelConfig:
    """ModelConfig of a ``transformers`` Qwen3Config."""
    rp = _rope_params(hf_config)
    rope_type = rp["rope_type"]
    if rope_type in ("default", None):
        scaling = RopeScalingConfig(type="none")
    elif rope_type == "llama3":
        scaling = RopeScalingConfig(
            type="llama3",
            factor=float(rp["factor"]),
            low_freq_factor=float(rp["low_freq_factor"]),
            high_freq_factor=float(rp["high_freq_factor"]),
            original_max_position=int(
                rp.get("original_max_position_embeddings") or hf_config.max_position_embeddings
            ),
        )
    else:
        raise ValueError(f"RoPE type {rope_type!r} of this checkpoint is not supported (default | llama3)")
    if getattr(hf_config, "use_sliding_window", False):
        raise ValueError("Qwen3 checkpoints with sliding-window attention are not supported")
    if getattr(hf_config, "attention_bias", False):
        raise ValueError("Qwen3 checkpoints with attention biases are not supported")
    if getattr(hf_config, "hidden_act", "silu") != "silu":
        raise ValueError(f"hidden_act {hf_config.hidden_act!r} is not supported (silu)")
    return ModelConfig(
        vocab_size=hf_config.vocab_size,
        d_model=hf_config.hidden_size,
        n_layers=hf_config.num_hidden_layers,
        n_heads=hf_config.num_attention_heads,
        n_kv_heads=hf_config.num_key_value_heads or hf_config.num_attention_heads,
        head_dim=getattr(hf_config, "head_dim", None) or hf_config.hidden_size // hf_config.num_attention_heads,
        ffn_dim=hf_config.intermediate_size,
        rope_theta=float(rp["rope_theta"]),
        rope_scaling=scaling,
        max_seq_len=hf_config.max_position_embeddings,
        norm_eps=hf_config.rms_norm_eps,
        qk_norm=True,
        tie_embeddings=bool(getattr(hf_config, "tie_word_embeddings", False)),
        attention=attention,
        init_std=getattr(hf_config, "initializer_range", 0.02),
    )


def hf_config_from(cfg: ModelConfig, **extra: Any):
    """A ``transformers`` Qwen3Config with the shape of ``cfg`` (``extra``: token ids etc.)."""
    from transformers import Qwen3Config

    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": float(cfg.rope_theta)}
    if cfg.rope_scaling.type == "llama3":
        rs = cfg.rope_scaling
        rope.update(
            rope_type="llama3",
            factor=float(rs.factor),
            low_freq_factor=float(rs.low_freq_factor),
            high_freq_factor=float(rs.high_freq_factor),
            original_max_position_embeddings=int(rs.original_max_position),
        )
    kwargs = dict(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_kv_heads,
        head_dim=cfg.resolved_head_dim,
        max_position_embeddings=cfg.max_seq_len,
        rms_norm_eps=cfg.norm_eps,
        tie_word_embeddings=cfg.tie_embeddings,
        initializer_range=cfg.init_std,
        hidden_act="silu",
        attention_bias=False,
        use_sliding_window=False,
        **extra,
    )
    if _transformers_major() >= 5:
        return Qwen3Config(rope_parameters=rope, **kwargs)
    # transformers 4.x: rope_theta + rope_scaling ("type"/"rope_type" both accepted)
    scaling = None if rope["rope_type"] == "default" else {k: v for k, v in rope.items() if k != "rope_theta"}
    return Qwen3Config(rope_theta=rope["rope_theta"], rope_scaling=scaling, **kwargs)


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def _hf_state_to_audiolm(sd: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {"embed.weight": sd["model.embed_tokens.weight"], "norm.weight": sd["model.norm.weight"]}
    out["lm_head.weight"] = sd.get("lm_head.weight", sd["model.embed_tokens.weight"])
    for i in range(cfg.n_layers):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        out[f"layers.{i}.attn_norm.weight"] = sd[p + "input_layernorm.weight"]
        out[f"layers.{i}.mlp_norm.weight"] = sd[p + "post_attention_layernorm.weight"]
        out[f"layers.{i}.attn.qkv.weight"] = torch.cat(
            [sd[a + "q_proj.weight"], sd[a + "k_proj.weight"], sd[a + "v_proj.weight"]], dim=0
        )
        out[f"layers.{i}.attn.o.weight"] = sd[a + "o_proj.weight"]
        out[f"layers.{i}.attn.q_norm.weight"] = sd[a + "q_norm.weight"]
        out[f"layers.{i}.attn.k_norm.weight"] = sd[a + "k_norm.weight"]
        out[f"layers.{i}.mlp.gate_up.weight"] = torch.cat(
            [sd[p + "mlp.gate_proj.weight"], sd[p + "mlp.up_proj.weight"]], dim=0
        )
        out[f"layers.{i}.mlp.down.weight"] = sd[p + "mlp.down_proj.weight"]
    return out


def _audiolm_state_to_hf(model: AudioLM) -> dict[str, torch.Tensor]:
    cfg = model.cfg
    H, Hkv, D = cfg.n_heads, cfg.n_kv_heads, cfg.resolved_head_dim
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    out = {"model.embed_tokens.weight": sd["embed.weight"], "model.norm.weight": sd["norm.weight"]}
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = sd["lm_head.weight"]
    for i in range(cfg.n_layers):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        q, k, v = sd[f"layers.{i}.attn.qkv.weight"].split([H * D, Hkv * D, Hkv * D], dim=0)
        gate, up = sd[f"layers.{i}.mlp.gate_up.weight"].chunk(2, dim=0)
        out.update(
            {
                p + "input_layernorm.weight": sd[f"layers.{i}.attn_norm.weight"],
                p + "post_attention_layernorm.weight": sd[f"layers.{i}.mlp_norm.weight"],
                a + "q_proj.weight": q,
                a + "k_proj.weight": k,
                a + "v_proj.weight": v,
                a + "o_proj.weight": sd[f"layers.{i}.attn.o.weight"],
                a + "q_norm.weight": sd[f"layers.{i}.attn.q_norm.weight"],
                a + "k_norm.weight": sd[f"layers.{i}.attn.k_norm.weight"],
                p + "mlp.gate_proj.weight": gate,
                p + "mlp.up_proj.weight": up,
                p + "mlp.down_proj.weight": sd[f"layers.{i}.mlp.down.weight"],
            }
        )
    return {k: v.contiguous().clone() for k, v in out.items()}


def from_hf(hf_model, attention: str = "auto") -> AudioLM:
    """An :class:`AudioLM` with the weights of a ``transformers`` ``Qwen3ForCausalLM`` (same dtype)."""
    cfg = config_from_hf(hf_model.config, attention=attention)
    sd = hf_model.state_dict()
    dtype = sd["model.embed_tokens.weight"].dtype
    model = AudioLM(cfg)
    model.load_state_dict(_hf_state_to_audiolm(sd, cfg), strict=True)
    return model.to(dtype)


def to_hf(model: AudioLM, out_dir: str | Path, tokenizer=None, dtype: torch.dtype | None = None) -> Path:
    """Write ``out_dir`` loadable by ``transformers.Qwen3ForCausalLM.from_pretrained``.

    ``tokenizer``: any object with ``save(path)`` (e.g. ``UnifiedTokenizer``); it is written as
    ``out_dir/tokenizer.json`` with a ``tokenizer_config.json`` for ``PreTrainedTokenizerFast``.
    Its ``bos_id``/``eos_id``/``pad_id`` (when present) go into the model config.
    """
    from transformers import Qwen3ForCausalLM

    cfg = model.cfg
    if not cfg.qk_norm:
        raise ValueError("to_hf: Qwen3 always has QK-norm; this model was built with qk_norm=false")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = {}
    for ours, theirs in (("bos_id", "bos_token_id"), ("eos_id", "eos_token_id"), ("pad_id", "pad_token_id")):
        val = getattr(tokenizer, ours, None) if tokenizer is not None else None
        if val is not None:
            ids[theirs] = int(val)
    hf_cfg = hf_config_from(cfg, **ids)
    dtype = dtype or model.embed.weight.dtype
    hf_cfg.dtype = dtype  # recorded in config.json
    with torch.device("meta"):
        hf_model = Qwen3ForCausalLM(hf_cfg)
    hf_model.load_state_dict({k: v.to(dtype) for k, v in _audiolm_state_to_hf(model).items()}, strict=False, assign=True)
    if cfg.tie_embeddings:
        hf_model.tie_weights()
    missing = [n for n, p in hf_model.named_parameters() if p.is_meta]
    if missing:
        raise RuntimeError(f"to_hf: parameters left unset: {missing[:5]}")
    hf_model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save(str(out / "tokenizer.json"))
        tok_cfg: dict[str, Any] = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg.max_seq_len}
        _write_special_token_names(tok_cfg, tokenizer, out / "tokenizer.json")
        (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2))
    return out


def _write_special_token_names(tok_cfg: dict, tokenizer, tokenizer_json: Path) -> None:
    """bos/eos/pad token strings for tokenizer_config.json, looked up in the saved tokenizer."""
    try:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_json))
    except Exception:
        return
    for ours, theirs in (("bos_id", "bos_token"), ("eos_id", "eos_token"), ("pad_id", "pad_token")):
        tid = getattr(tokenizer, ours, None)
        if tid is not None:
            name = tok.id_to_token(int(tid))
            if name is not None:
                tok_cfg[theirs] = name


def resize_vocab(model: AudioLM, vocab_size: int, keep_rows: int | None = None) -> AudioLM:
    """Return ``model`` with ``vocab_size`` embedding/output rows.

    Rows ``< keep_rows`` (default: all old rows that fit) are copied; the others are set to the
    mean of the kept rows (input and output embeddings separately), the usual warm start for
    new tokens: their logits start at the average and the embedding is in-distribution.
    """
    old = model.cfg.vocab_size
    keep = min(old, vocab_size) if keep_rows is None else min(keep_rows, old, vocab_size)
    if keep <= 0:
        raise ValueError("resize_vocab: nothing to keep")
    cfg = dataclasses.replace(model.cfg, vocab_size=vocab_size)
    new = AudioLM(cfg).to(model.embed.weight.dtype)
    sd = model.state_dict()
    for name in ("embed.weight", "lm_head.weight"):
        w = sd[name]
        fresh = w[:keep].float().mean(0, keepdim=True).to(w.dtype).expand(vocab_size - keep, -1)
        sd[name] = torch.cat([w[:keep], fresh], dim=0)
    new.load_state_dict(sd, strict=True)
    return new


def load_hf_qwen3(
    path: str | Path,
    vocab_size: int,
    keep_rows: int | None = None,
    attention: str = "auto",
    dtype: torch.dtype = torch.float32,
) -> AudioLM:
    """Warm start: load a local Qwen3 checkpoint directory and extend its vocabulary to ``vocab_size``.

    ``keep_rows``: how many rows of the text vocabulary to keep (the unified vocabulary's
    ``text_vocab_size``); rows past it, padding rows of the checkpoint included, and the new
    special/audio rows are initialised to the mean embedding.
    """
    from transformers import Qwen3ForCausalLM

    path = Path(path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a Hugging Face model directory (no config.json)")
    dtype_kw = "dtype" if _transformers_major() >= 5 else "torch_dtype"
    hf_model = Qwen3ForCausalLM.from_pretrained(str(path), **{dtype_kw: dtype})
    model = from_hf(hf_model, attention=attention)
    del hf_model
    return resize_vocab(model, vocab_size, keep_rows=keep_rows)
