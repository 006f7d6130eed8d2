"""The one opener of line-oriented data files: plain, ``.gz`` or ``.zst`` by name, as bytes.

Text corpora, training text for the BPE and text shards of the LM all read through it, so a
compression format is supported (or not) everywhere at once.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import BinaryIO


def open_compressed(path: str | Path) -> BinaryIO:
    """A binary reader of ``path``, decompressed by its suffix (``.gz`` gzip, ``.zst`` zstandard)."""
    name = str(path)
    if name.endswith(".gz"):
        return gzip.open(name, "rb")
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(name, "rb"), closefd=True))
    return open(name, "rb")
