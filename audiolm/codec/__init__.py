"""Audio codecs: a trainable Mimi-style split-RVQ codec, pretrained Mimi, and tokenization to shards.

Every later stage goes through :func:`load_codec` and the :class:`AudioCodec` interface
(``encode(wav[B,1,S]) -> codes[B,n_q,T]``, ``decode(codes) -> wav``), so it never knows which
codec it has. See docs/codec.md.
"""

from .api import AudioCodec, MimiCodec, TrainedCodec, load_codec

__all__ = ["AudioCodec", "MimiCodec", "TrainedCodec", "load_codec"]
