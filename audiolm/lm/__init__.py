"""The interleaved LM: Qwen3-style model, attention backends, generation, HF interop."""

from audiolm.lm.config import ModelConfig, RopeScalingConfig
from audiolm.lm.model import AudioLM

__all__ = ["AudioLM", "ModelConfig", "RopeScalingConfig"]
