"""Per-token modality labels, used for per-modality losses and metrics.

``TEXT`` = a text-tokenizer token, ``SEMANTIC`` = an audio token of codebook 0 (the semantic
codebook of a split-RVQ codec), ``ACOUSTIC`` = an audio token of codebooks 1.., ``SPECIAL`` =
BOS/EOS and the four span tags. In packed batches positions without a label carry ``NONE``.
"""

from __future__ import annotations

import numpy as np

from audiolm.tokens.vocab import Vocabulary

TEXT = 0
SEMANTIC = 1
ACOUSTIC = 2
SPECIAL = 3
NONE = -1  # packed batches: no label at this position

NAMES = {TEXT: "text", SEMANTIC: "semantic", ACOUSTIC: "acoustic", SPECIAL: "special"}


def modality_of(ids, vocab: Vocabulary, special_text_ids=()) -> np.ndarray:
    """Modality of each id (int8). ``special_text_ids`` (e.g. BOS/EOS) count as SPECIAL."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.full(ids.shape, SPECIAL, dtype=np.int8)
    out[vocab.is_text(ids)] = TEXT
    if len(special_text_ids):
        out[np.isin(ids, np.asarray(special_text_ids, dtype=np.int64))] = SPECIAL
    audio = vocab.is_audio(ids)
    out[audio] = np.where(vocab.codebook_of(ids[audio]) == 0, SEMANTIC, ACOUSTIC)
    return out
