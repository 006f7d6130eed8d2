"""Token layouts: which codebooks of the codec are used and how frames become a 1-D sequence.

Two layouts (audiocraft's "pattern provider" idea), swappable by name through :func:`make_layout`:

``frame_major`` (SODA)
    For each frame ``t``: codebook ``c_0, c_1, ..., c_{K-1}`` (the selected codebooks, in order).
    ``T`` frames -> ``T*K`` tokens.
``delay`` (MusicGen)
    Selected codebook number ``j`` is delayed by ``j`` frames. The span is ``T + K - 1`` steps of
    ``K`` tokens (step-major; step ``s`` holds ``codes[c_j, s - j]`` for ``j = 0..K-1``). Positions
    where ``s - j`` falls outside ``[0, T)`` hold the *fill code* (``fill_code``, default 0) of
    that codebook. Fill positions carry no information: :meth:`Layout.codebook_index` reports -1
    for them and :meth:`Layout.audio_mask` is False there.

Every layout has an exact inverse :meth:`Layout.decode` (ids -> codes) for generated audio.
Codebook selections: ``[0]`` (semantic only), ``[0..k]``, or all codebooks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from audiolm.tokens.vocab import Vocabulary

LAYOUTS = ("frame_major", "delay")


def _codebook_list(codebooks, vocab: Vocabulary) -> list[int]:
    if codebooks is None or codebooks == "all":
        return list(range(vocab.n_codebooks))
    if isinstance(codebooks, (int, np.integer)):
        if not 1 <= codebooks <= vocab.n_codebooks:
            raise ValueError(f"codebooks={codebooks}: need 1..{vocab.n_codebooks}")
        return list(range(int(codebooks)))
    cbs = [int(c) for c in codebooks]
    if not cbs:
        raise ValueError("codebooks: select at least one codebook")
    if any(b <= a for a, b in zip(cbs, cbs[1:])):
        raise ValueError(f"codebooks must be strictly increasing, got {cbs}")
    if cbs[0] < 0 or cbs[-1] >= vocab.n_codebooks:
        raise ValueError(f"codebooks {cbs} out of range for a vocabulary of {vocab.n_codebooks} codebooks")
    return cbs


def _runs(mask: np.ndarray):
    """Offsets inside maximal runs of True and each run's length, per position (vectorised)."""
    n = len(mask)
    idx = np.arange(n)
    start = mask & ~np.concatenate(([False], mask[:-1]))
    run_id = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    offset = idx - starts[np.maximum(run_id, 0)] if len(starts) else np.zeros(n, dtype=np.int64)
    lengths = np.bincount(run_id[mask], minlength=len(starts)) if len(starts) else np.zeros(0, dtype=np.int64)
    run_len = lengths[np.maximum(run_id, 0)] if len(starts) else np.zeros(n, dtype=np.int64)
    return offset, run_len


class Layout:
    """Base class. ``codebooks`` = selected codebooks, ``tokens_per_frame`` = ``len(codebooks)``."""

    name = "base"

    def __init__(self, codebooks: Sequence[int] | int | None, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.codebooks: list[int] = _codebook_list(codebooks, vocab)
        self.tokens_per_frame: int = len(self.codebooks)
        self._cb = np.asarray(self.codebooks, dtype=np.int64)

    # -- to implement -------------------------------------------------------------------------
    def n_tokens(self, n_frames: int) -> int:
        raise NotImplementedError

    def encode(self, codes, check: bool = True) -> np.ndarray:
        raise NotImplementedError

    def decode(self, ids, strict: bool = True) -> np.ndarray:
        raise NotImplementedError

    def audio_mask(self, n_frames: int) -> np.ndarray:
        """bool[n_tokens(n_frames)]: True where the encoded span holds a real code (not a fill)."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    def _select(self, codes, check: bool = True) -> np.ndarray:
        arr = np.asarray(codes)
        if arr.ndim != 2:
            raise ValueError(f"codes must have shape (n_codebooks, T), got {arr.shape}")
        if arr.shape[0] <= self.codebooks[-1]:
            raise ValueError(f"codes have {arr.shape[0]} codebooks; layout needs codebook {self.codebooks[-1]}")
        sel = arr[self._cb].astype(np.int64)
        if check and sel.size and (sel.min() < 0 or sel.max() >= self.vocab.codebook_size):
            raise ValueError(f"codes must lie in [0, {self.vocab.codebook_size}), got [{sel.min()}, {sel.max()}]")
        return sel

    def codebook_at(self, offset):
        """Codebook expected at token ``offset`` inside an audio span (for constrained decoding)."""
        return self._cb[np.asarray(offset) % self.tokens_per_frame]

    def can_end(self, n_tokens: int) -> bool:
        """May an audio span of ``n_tokens`` tokens end here (whole frames / whole delay pattern)?"""
        raise NotImplementedError

    def codebook_index(self, ids) -> np.ndarray:
        """int64[L]: codebook held at each position, -1 for non-audio ids (and delay fills).

        ``ids`` may be a whole token sequence (text, tags, several audio spans); spans are the
        runs of consecutive audio ids and must be whole (as built by the document builder).
        """
        ids = np.asarray(ids, dtype=np.int64)
        audio = self.vocab.is_audio(ids)
        out = np.where(audio, self.vocab.codebook_of(ids), -1)
        fill = self._fill_positions(audio)
        if fill is not None:
            out[fill] = -1
        return out

    def _fill_positions(self, audio: np.ndarray):
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(codebooks={self.codebooks})"


class FrameMajorLayout(Layout):
    """SODA: per frame, the selected codebooks in order."""

    name = "frame_major"

    def n_tokens(self, n_frames: int) -> int:
        return n_frames * self.tokens_per_frame

    def encode(self, codes, check: bool = True) -> np.ndarray:
        sel = self._select(codes, check)  # (K, T)
        return self.vocab.audio_id(self._cb[:, None], sel).T.reshape(-1)

    def decode(self, ids, strict: bool = True) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        K = self.tokens_per_frame
        if len(ids) % K:
            if strict:
                raise ValueError(f"{len(ids)} audio tokens is not a whole number of {K}-token frames")
            ids = ids[: len(ids) - len(ids) % K]
        frames = ids.reshape(-1, K)
        if strict:
            _check_codebooks(frames, self._cb[None, :], self.vocab)
        return self.vocab.code_of(frames).T.copy()

    def audio_mask(self, n_frames: int) -> np.ndarray:
        return np.ones(self.n_tokens(n_frames), dtype=bool)

    def can_end(self, n_tokens: int) -> bool:
        return n_tokens % self.tokens_per_frame == 0


class DelayLayout(Layout):
    """MusicGen delay pattern: selected codebook ``j`` is delayed by ``j`` frames."""

    name = "delay"

    def __init__(self, codebooks, vocab: Vocabulary, fill_code: int = 0) -> None:
        super().__init__(codebooks, vocab)
        if not 0 <= fill_code < vocab.codebook_size:
            raise ValueError(f"fill_code {fill_code} outside [0, {vocab.codebook_size})")
        self.fill_code = int(fill_code)

    def n_tokens(self, n_frames: int) -> int:
        K = self.tokens_per_frame
        return (n_frames + K - 1) * K if n_frames > 0 else 0

    def _grid(self, n_frames: int):
        """(steps, K) frame index into the codes and validity mask."""
        K = self.tokens_per_frame
        steps = n_frames + K - 1
        t = np.arange(steps)[:, None] - np.arange(K)[None, :]
        return t, (t >= 0) & (t < n_frames)

    def encode(self, codes, check: bool = True) -> np.ndarray:
        sel = self._select(codes, check)  # (K, T)
        K, T = sel.shape
        if T == 0:
            return np.zeros(0, dtype=np.int64)
        t, valid = self._grid(T)
        grid = np.full(t.shape, self.fill_code, dtype=np.int64)
        j = np.broadcast_to(np.arange(K)[None, :], t.shape)
        grid[valid] = sel[j[valid], t[valid]]
        return self.vocab.audio_id(self._cb[None, :], grid).reshape(-1)

    def decode(self, ids, strict: bool = True) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        K = self.tokens_per_frame
        if len(ids) % K:
            if strict:
                raise ValueError(f"{len(ids)} audio tokens is not a whole number of {K}-token steps")
            ids = ids[: len(ids) - len(ids) % K]
        steps = len(ids) // K
        if steps == 0:
            return np.zeros((K, 0), dtype=np.int64)
        if steps < K - 1 and strict:
            raise ValueError(f"a delay span needs at least {K - 1} steps, got {steps}")
        grid = ids.reshape(steps, K)
        if strict:
            _check_codebooks(grid, self._cb[None, :], self.vocab)
        T = max(steps - (K - 1), 0)
        t = np.arange(T)[None, :] + np.arange(K)[:, None]  # (K, T): step of codebook j at frame t
        return self.vocab.code_of(grid[t, np.arange(K)[:, None]])

    def audio_mask(self, n_frames: int) -> np.ndarray:
        if n_frames == 0:
            return np.zeros(0, dtype=bool)
        return self._grid(n_frames)[1].reshape(-1)

    def can_end(self, n_tokens: int) -> bool:
        K = self.tokens_per_frame
        return n_tokens % K == 0 and (n_tokens == 0 or n_tokens // K >= K - 1)

    def _fill_positions(self, audio: np.ndarray):
        K = self.tokens_per_frame
        if K == 1 or not audio.any():
            return None
        offset, run_len = _runs(audio)
        T = run_len // K - (K - 1)
        s, j = offset // K, offset % K
        return audio & ((s - j < 0) | (s - j >= T))


def _check_codebooks(grid: np.ndarray, expected: np.ndarray, vocab: Vocabulary) -> None:
    ok = vocab.is_audio(grid) & (vocab.codebook_of(grid) == expected)
    if not ok.all():
        pos = int(np.flatnonzero(~ok.reshape(-1))[0])
        raise ValueError(
            f"token {pos} (id {int(grid.reshape(-1)[pos])}) is not an audio id of codebook "
            f"{int(np.broadcast_to(expected, grid.shape).reshape(-1)[pos])} as the layout expects there"
        )


def make_layout(name: str, codebooks: Sequence[int] | int | None, vocab: Vocabulary, **kwargs) -> Layout:
    """``name`` in ``frame_major | delay``; ``codebooks`` a list, a count (first k) or None (all)."""
    if name == "frame_major":
        return FrameMajorLayout(codebooks, vocab, **kwargs)
    if name == "delay":
        return DelayLayout(codebooks, vocab, **kwargs)
    raise ValueError(f"unknown layout {name!r}; expected one of {', '.join(LAYOUTS)}")
