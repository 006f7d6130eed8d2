"""The unified text + audio vocabulary of SODA, and the PUA string form of audio tokens.

Layout (DESIGN.md): text tokenizer ids ``[0, V)``, then ``<|text_start|>=V``, ``<|text_end|>=V+1``,
``<|audio_start|>=V+2``, ``<|audio_end|>=V+3``, then audio ``V+4 + q*codebook_size + code``.
With V=128256 (Llama-3), 8 codebooks of 2048: audio(0, 0) = 128260, size = 144644.

PUA form: audio token (q, code) is the character ``chr(0xE000 + q*stride + code)`` with
``stride = max(2048, codebook_size)`` (2048 for every codec up to 2048 entries, SODA's convention).
With a fixed stride the characters say which codebook they belong to, so a unified
``tokenizer.json`` describes its own audio block even for small test codecs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PUA_BASE = 0xE000
PUA_STRIDE = 2048
SPECIAL_TOKENS = ("<|text_start|>", "<|text_end|>", "<|audio_start|>", "<|audio_end|>")


def pua_stride(codebook_size: int = 2048) -> int:
    """Distance between the PUA blocks of consecutive codebooks (2048, or more for bigger codebooks)."""
    return max(PUA_STRIDE, int(codebook_size))


def codes_to_pua(codes, codebook_size: int = 2048) -> str:
    """Audio codes ``(n_codebooks, T)`` -> string, frame-major, one char ``chr(0xE000 + q*2048 + c)``.

    (The stride is ``max(2048, codebook_size)``; see the module docstring.)
    """
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise ValueError(f"codes must have shape (n_codebooks, T), got {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= codebook_size):
        raise ValueError(f"codes must lie in [0, {codebook_size}), got range [{arr.min()}, {arr.max()}]")
    n_q = arr.shape[0]
    offsets = (np.arange(n_q, dtype=np.int64) * pua_stride(codebook_size))[:, None]
    points = (arr.astype(np.int64) + offsets + PUA_BASE).T.reshape(-1)  # frame-major
    return "".join(map(chr, points.tolist()))


def pua_to_codes(text: str, n_codebooks: int, codebook_size: int = 2048) -> np.ndarray:
    """Inverse of :func:`codes_to_pua`: returns an int64 array ``(n_codebooks, T)``."""
    points = np.fromiter((ord(ch) for ch in text), dtype=np.int64, count=len(text)) - PUA_BASE
    if len(points) % n_codebooks:
        raise ValueError(f"PUA string of {len(points)} chars is not a whole number of {n_codebooks}-codebook frames")
    frames = points.reshape(-1, n_codebooks)
    q = np.arange(n_codebooks, dtype=np.int64)[None, :]
    codes = frames - q * pua_stride(codebook_size)
    if frames.size and ((codes < 0) | (codes >= codebook_size)).any():
        bad = int(np.argwhere((codes < 0) | (codes >= codebook_size))[0][0])
        raise ValueError(
            f"character at frame {bad} is not the PUA audio token expected for its codebook position"
        )
    return codes.T.copy()


@dataclass(frozen=True)
class Vocabulary:
    """Id arithmetic of the unified vocabulary (no tokenizer needed)."""

    text_vocab_size: int
    n_codebooks: int = 8
    codebook_size: int = 2048

    @property
    def text_start(self) -> int:
        return self.text_vocab_size

    @property
    def text_end(self) -> int:
        return self.text_vocab_size + 1

    @property
    def audio_start(self) -> int:
        return self.text_vocab_size + 2

    @property
    def audio_end(self) -> int:
        return self.text_vocab_size + 3

    @property
    def audio_offset(self) -> int:
        return self.text_vocab_size + 4

    @property
    def size(self) -> int:
        return self.audio_offset + self.n_codebooks * self.codebook_size

    def audio_id(self, q, code):
        """Token id of ``code`` in codebook ``q`` (ints or numpy/torch arrays)."""
        return self.audio_offset + q * self.codebook_size + code

    def is_audio(self, ids):
        return (ids >= self.audio_offset) & (ids < self.size)

    def is_text(self, ids):
        return ids < self.text_vocab_size

    def codebook_of(self, ids):
        """Codebook index of audio ids (undefined for non-audio ids)."""
        return (ids - self.audio_offset) // self.codebook_size

    def code_of(self, ids):
        return (ids - self.audio_offset) % self.codebook_size

    def audio_id_to_pua(self, ids):
        """PUA code points of audio ids (``0xE000 + q*stride + code``)."""
        return PUA_BASE + self.codebook_of(ids) * pua_stride(self.codebook_size) + self.code_of(ids)
