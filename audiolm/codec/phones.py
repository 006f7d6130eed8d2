"""Frame-level phone labels from lhotse alignments (``supervision.alignment["phone"]``).

Used by the offline phone-recognizer teacher and by the semantic probe. Alignment times follow
lhotse: relative to the cut start, like ``supervision.start``. Frames not covered by a phone get
the silence label ``SIL`` (id 0).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

SIL = "<sil>"


def phone_items(cut) -> list:
    items = []
    for sup in cut.supervisions:
        ali = getattr(sup, "alignment", None) or {}
        items.extend(ali.get("phone", []) or [])
    return items


def has_phone_alignments(cuts: Iterable) -> bool:
    return any(phone_items(c) for c in cuts)


def phone_inventory(cuts: Iterable) -> list[str]:
    """Sorted phone symbols in ``cuts`` with ``SIL`` first (index = label id)."""
    symbols = {it.symbol for c in cuts for it in phone_items(c)}
    symbols.discard(SIL)
    return [SIL] + sorted(symbols)


def frame_labels(cut, frame_shift: float, n_frames: int, phone_to_id: dict[str, int]) -> np.ndarray:
    """Label of each frame = the phone covering the frame's centre (``SIL`` where none; unknown -> SIL)."""
    labels = np.zeros(n_frames, dtype=np.int64)
    centres = (np.arange(n_frames) + 0.5) * frame_shift
    for it in phone_items(cut):
        lo, hi = it.start, it.start + it.duration
        i0 = max(0, int(np.ceil(lo / frame_shift - 0.5)))
        i1 = min(n_frames, int(np.ceil(hi / frame_shift - 0.5)))
        if i1 > i0:
            sel = (centres[i0:i1] >= lo) & (centres[i0:i1] < hi)
            labels[i0:i1][sel] = phone_to_id.get(it.symbol, 0)
    return labels
