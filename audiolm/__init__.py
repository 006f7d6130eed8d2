"""audiolm: native discrete audio foundation models (interleaved semantic, acoustic and text tokens)."""

__version__ = "0.1.0"
