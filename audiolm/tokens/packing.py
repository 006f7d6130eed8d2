"""Mixing speech and text documents by token share, and packing them into fixed-length rows.

Packing is concat-and-chunk over the document stream, with document boundaries kept:

* The stream is the documents one after another; rows are consecutive ``seq_len`` windows of it.
* ``labels[p]`` is the next token of the stream when it belongs to the same document, else -100.
  The last position of a row gets the first token of the next row as its label when the document
  continues there, so **every token of every document except its first (BOS) is a label exactly
  once, and every token is an input exactly once.** Nothing is dropped or duplicated.
* A document that crosses a row boundary (or is longer than ``seq_len``) continues in the next
  row as a new segment: ``position_ids`` restart at 0 at every document start and every row start,
  and ``document_ids`` number the segments of a row 0, 1, 2, ... (-1 = padding). Attention is
  causal within a segment (block-diagonal).
* Tail policy: a streaming :class:`Packer` carries the unfinished rest of the stream over to the
  next batch (training streams are infinite, so nothing is lost). :meth:`Packer.flush` /
  :func:`pack_documents` (finite streams, validation) pad the last batch to full shape with
  ``pad_id`` inputs, -100 labels, position 0, document id -1, modality -1.

A document may mark which of its tokens are loss targets (:attr:`TokenDocument.loss_mask`, e.g. the
response of a fine-tuning pair): a token outside it is still an input but never a label (-100).

``modality`` in a batch is the modality of the *label* token (-1 where there is no label) and
``n_audio_labels`` counts labels that are real audio codes (delay fills excluded), from which the
data module derives ``audio_seconds``.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from audiolm.tokens.documents import TokenDocument
from audiolm.tokens.modality import NONE

IGNORE = -100
BATCH_KEYS = ("input_ids", "labels", "position_ids", "document_ids", "modality")


def pack_arrays(ids, modality, audio, start, lookahead, seq_len: int, rows: int, pad_id: int, target=None) -> dict:
    """Pack one window of the token stream into ``rows x seq_len`` (vectorised).

    ``ids/modality/audio/start`` (``start`` = first token of a document) hold ``n <= rows*seq_len``
    tokens; ``target`` (default: all) marks tokens that may be labels; ``lookahead`` is
    ``(id, modality, audio[, target])`` of the stream's next token when it continues the last
    document, else None.
    """
    n = len(ids)
    N = rows * seq_len
    if n > N:
        raise ValueError(f"{n} tokens do not fit {rows} x {seq_len}")
    inp = np.full(N, pad_id, dtype=np.int64)
    inp[:n] = ids
    lab = np.full(N, IGNORE, dtype=np.int64)
    lmod = np.full(N, NONE, dtype=np.int64)
    laud = np.zeros(N, dtype=bool)
    if n > 1:
        cont = ~start[1:n] if target is None else ~start[1:n] & target[1:n]
        lab[: n - 1] = np.where(cont, ids[1:n], IGNORE)
        lmod[: n - 1] = np.where(cont, modality[1:n], NONE)
        laud[: n - 1] = audio[1:n] & cont
    if n and lookahead is not None and (len(lookahead) < 4 or lookahead[3]):
        lab[n - 1], lmod[n - 1], laud[n - 1] = lookahead[:3]
    pos = np.zeros(N, dtype=np.int64)
    doc = np.full(N, -1, dtype=np.int64)
    if n:
        b = np.array(start[:n], dtype=bool, copy=True)
        b[::seq_len] = True
        seg = np.cumsum(b) - 1
        seg_start = np.flatnonzero(b)
        ar = np.arange(n)
        pos[:n] = ar - seg_start[seg]
        doc[:n] = seg - seg[::seq_len][ar // seq_len]
    shape = (rows, seq_len)
    return {
        "input_ids": inp.reshape(shape),
        "labels": lab.reshape(shape),
        "position_ids": pos.reshape(shape),
        "document_ids": doc.reshape(shape),
        "modality": lmod.reshape(shape),
        "n_tokens": n,
        "n_labels": int((lab != IGNORE).sum()),
        "n_audio_labels": int(laud.sum()),
    }


class Packer:
    """Streaming packer: :meth:`add` documents, :meth:`pop` full batches while :meth:`ready`."""

    def __init__(self, seq_len: int, batch_size: int, pad_id: int) -> None:
        if seq_len < 1 or batch_size < 1:
            raise ValueError("seq_len and batch_size must be >= 1")
        self.seq_len, self.batch_size, self.pad_id = seq_len, batch_size, pad_id
        self.need = seq_len * batch_size
        self._chunks: list[tuple] = []  # (ids, modality, audio, start, target)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, doc: TokenDocument, offset: int = 0) -> None:
        """Append a document (from token ``offset`` on: a resumed carry-over)."""
        n = len(doc.ids) - offset
        if n <= 0:
            return
        start = np.zeros(n, dtype=bool)
        start[0] = offset == 0
        target = doc.loss_mask[offset:] if doc.loss_mask is not None else np.ones(n, dtype=bool)
        self._chunks.append((doc.ids[offset:], doc.modality[offset:], doc.real_audio()[offset:], start, target))
        self._n += n

    def ready(self) -> bool:
        return self._n >= self.need

    def _concat(self):
        if len(self._chunks) == 1:
            return self._chunks[0]
        return tuple(np.concatenate(parts) for parts in zip(*self._chunks))

    def pop(self, allow_partial: bool = False) -> dict | None:
        """The next batch; None if not enough tokens (unless ``allow_partial``: padded)."""
        if not self._n or (self._n < self.need and not allow_partial):
            return None
        ids, mod, aud, start, tgt = self._concat()
        take = min(self._n, self.need)
        look = None
        if self._n > take and not start[take]:
            look = (ids[take], mod[take], aud[take], tgt[take])
        out = pack_arrays(ids[:take], mod[:take], aud[:take], start[:take], look, self.seq_len, self.batch_size,
                          self.pad_id, target=tgt[:take])
        rest = self._n - take
        self._chunks = [(ids[take:], mod[take:], aud[take:], start[take:], tgt[take:])] if rest else []
        self._n = rest
        return out

    def flush(self) -> dict | None:
        """The last, padded batch of a finite stream (None if empty)."""
        return self.pop(allow_partial=True)


def pack_documents(docs: Iterable[TokenDocument], seq_len: int, batch_size: int, pad_id: int) -> Iterator[dict]:
    """Pack a finite document stream; the last batch is padded (see the module docstring)."""
    packer = Packer(seq_len, batch_size, pad_id)
    for d in docs:
        packer.add(d)
        while packer.ready():
            yield packer.pop()
    last = packer.flush()
    if last is not None:
        yield last


def check_mixture(has_speech: bool, has_text: bool, text_ratio: float, *, speech_key: str = "train_shards",
                  text_key: str = "text_train") -> None:
    """The rules of a speech/text mixture (one home: configs, the data module and streams use it)."""
    if not 0.0 <= text_ratio <= 1.0:
        raise ValueError(f"text_ratio must be in [0, 1], got {text_ratio}")
    if not has_speech and not has_text:
        raise ValueError(f"no training data: give speech ({speech_key}: token shards, or string_train: string-form "
                         f"documents) and/or text corpora ({text_key})")
    if not has_text and text_ratio >= 1.0:
        raise ValueError(f"text_ratio=1 needs text corpora ({text_key})")
    if not has_speech and text_ratio < 1.0:
        raise ValueError(f"text_ratio={text_ratio} needs speech ({speech_key}: token shards, or string_train: "
                         "string-form documents); use text_ratio=1 for a text-only run")


class TokenMixer:
    """Chooses speech or text so that text tokens stay at ``text_ratio`` of all tokens.

    Deterministic deficit rule: take a text document whenever the text share so far is below the
    target. After ``n`` tokens the achieved share is within one document's tokens / n of it.
    """

    def __init__(self, text_ratio: float, speech_tokens: int = 0, text_tokens: int = 0) -> None:
        check_mixture(True, True, text_ratio)
        self.text_ratio = text_ratio
        self.speech_tokens, self.text_tokens = int(speech_tokens), int(text_tokens)

    def next_is_text(self) -> bool:
        if self.text_ratio <= 0.0:
            return False
        if self.text_ratio >= 1.0:
            return True
        return self.text_tokens < self.text_ratio * (self.text_tokens + self.speech_tokens)

    def add(self, is_text: bool, n_tokens: int) -> None:
        if is_text:
            self.text_tokens += int(n_tokens)
        else:
            self.speech_tokens += int(n_tokens)

    @property
    def achieved(self) -> float:
        tot = self.text_tokens + self.speech_tokens
        return self.text_tokens / tot if tot else 0.0

    def state(self) -> list[int]:
        return [self.speech_tokens, self.text_tokens]


def mix_documents(
    speech: Iterable[list[TokenDocument]],
    text: Iterable[TokenDocument],
    text_ratio: float,
    mixer: TokenMixer | None = None,
) -> Iterator[TokenDocument]:
    """Interleave speech items (lists of documents) and text documents by token share (finite).

    The speech documents set the length: the stream ends with the last speech item (text-only,
    ``text_ratio=1``: with the last text document); if the text runs out first, the rest is
    speech only. ``mixer.achieved`` reports the share reached.
    """
    mixer = mixer or TokenMixer(text_ratio)
    sp, tx = iter(speech), iter(text)
    text_left = True
    while True:
        if text_left and mixer.next_is_text():
            d = next(tx, None)
            if d is not None:
                mixer.add(True, len(d))
                yield d
                continue
            text_left = False
            if mixer.text_ratio >= 1.0:
                return
        item = next(sp, None)
        if item is None:
            return
        mixer.add(False, sum(len(d) for d in item))
        yield from item
