"""Schema of the language model (``model:`` in ``conf/lm``): a Qwen3-style decoder.

Field names are a contract shared with training, scaling and HF interop (docs/architecture.md).
Presets live in ``conf/lm/model/{tiny,small,135m,600m,1.7b,4b}.yaml``, each shaped ``model: {...}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audiolm.config import ConfigError

ATTENTION_BACKENDS = ("auto", "xformers", "varlen", "sdpa")
ROPE_SCALING_TYPES = ("none", "llama3")


@dataclass
class RopeScalingConfig:
    """RoPE frequency scaling. ``llama3``: Llama-3.1's smooth low-frequency interpolation."""

    type: str = "none"  # none | llama3
    factor: float = 8.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position: int = 8192


@dataclass
class ModelConfig:
    """Qwen3-style decoder: RMSNorm, QK-norm, GQA, SwiGLU, RoPE, untied embeddings.

    Defaults are SODA's 135M shape (θ=500000 with Llama-3 scaling); ``vocab_size: 0`` means
    "take it from the tokenizer" (the trainer fills it in before building the model).
    """

    vocab_size: int = 0
    d_model: int = 512
    n_layers: int = 15
    n_heads: int = 8
    n_kv_heads: int = 8
    head_dim: int = 0  # 0 = d_model // n_heads
    ffn_dim: int = 1792
    rope_theta: float = 500000.0
    rope_scaling: RopeScalingConfig = field(default_factory=lambda: RopeScalingConfig(type="llama3"))
    max_seq_len: int = 4096
    norm_eps: float = 1e-6
    qk_norm: bool = True
    tie_embeddings: bool = False
    attention: str = "auto"  # auto | xformers | varlen (PyTorch varlen flash attention, CUDA) | sdpa
    init_std: float = 0.02

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim or self.d_model // self.n_heads

    def validate(self) -> "ModelConfig":
        """Raise :class:`ConfigError` naming the key when the shape is inconsistent."""

        def bad(key: str, msg: str) -> None:
            raise ConfigError(f"model.{key}: {msg}")

        if self.vocab_size <= 0:
            bad("vocab_size", f"is {self.vocab_size}; set it (or let the trainer take it from the tokenizer)")
        for key in ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "max_seq_len"):
            if getattr(self, key) <= 0:
                bad(key, f"must be positive, got {getattr(self, key)}")
        if self.head_dim < 0:
            bad("head_dim", f"must be >= 0 (0 = d_model // n_heads), got {self.head_dim}")
        if self.head_dim == 0 and self.d_model % self.n_heads:
            bad("head_dim", f"is 0 but d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.resolved_head_dim % 2:
            bad("head_dim", f"must be even for RoPE, got {self.resolved_head_dim}")
        if self.n_heads % self.n_kv_heads:
            bad("n_kv_heads", f"n_heads={self.n_heads} must be a multiple of n_kv_heads={self.n_kv_heads}")
        if self.attention not in ATTENTION_BACKENDS:
            bad("attention", f"must be one of {ATTENTION_BACKENDS}, got {self.attention!r}")
        if self.rope_scaling.type not in ROPE_SCALING_TYPES:
            bad("rope_scaling.type", f"must be one of {ROPE_SCALING_TYPES}, got {self.rope_scaling.type!r}")
        if self.rope_scaling.type == "llama3":
            rs = self.rope_scaling
            if rs.factor <= 0:
                bad("rope_scaling.factor", f"must be positive, got {rs.factor}")
            if rs.high_freq_factor <= rs.low_freq_factor:
                bad("rope_scaling.high_freq_factor", "must be greater than rope_scaling.low_freq_factor")
            if rs.original_max_position <= 0:
                bad("rope_scaling.original_max_position", "must be positive")
        if self.rope_theta <= 0:
            bad("rope_theta", f"must be positive, got {self.rope_theta}")
        if self.norm_eps <= 0:
            bad("norm_eps", f"must be positive, got {self.norm_eps}")
        if self.init_std <= 0:
            bad("init_std", f"must be positive, got {self.init_std}")
        return self
