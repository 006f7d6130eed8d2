"""``LoadedLM``: what evaluation and generation need of a trained LM, however it was obtained.

One type, made in three places: :func:`audiolm.lm.checkpoint.load_lm` (a ``.ckpt``),
:func:`audiolm.lm.hf_folder.load_hf_lm` (a Hugging Face folder) and
:meth:`audiolm.lm.module.LMModule.loaded` (the module being trained, for the eval callback).
``audiolm.eval.context.EvalContext.from_loaded`` turns it into an evaluation context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadedLM:
    model: Any  # audiolm.lm.model.AudioLM (eval mode after load_lm; as it is during training)
    tokenizer: Any  # audiolm.tokens.tokenizer.UnifiedTokenizer, or None for a run without one
    layout: Any  # audiolm.tokens.layout.Layout of the training data, or None without a tokenizer
    codec_spec: str | None  # for audiolm.codec.load_codec (None when the data had no codec.json)
    config: Any  # audiolm.lm.train_config.LMTrainConfig
    codec_info: Any = field(default=None)  # audiolm.token_shards.CodecInfo of the training data (None: unknown)
    step: int = 0


def layout_of(config, tokenizer):
    """The token layout a run's data used (``config.data.layout`` over ``config.data.codebooks``)."""
    from audiolm.tokens.layout import make_layout

    return make_layout(config.data.layout, list(config.data.codebooks), tokenizer.vocab)
