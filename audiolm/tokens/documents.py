"""Interleaved documents: one recording's utterances (codes + transcript) -> token sequences.

Formats (SODA, utterance-level interleaving; ``A_i`` = the layout's tokens of utterance ``i``):

``text_first``   ``BOS <|text_start|>T1<|text_end|><|audio_start|>A1<|audio_end|> ... EOS``
``audio_first``  ``BOS <|audio_start|>A1<|audio_end|><|text_start|>T1<|text_end|> ... EOS``
``audio_only``   ``BOS <|audio_start|>A1<|audio_end|><|audio_start|>A2<|audio_end|> ... EOS``
``text_only``    ``BOS T1 T2 ... EOS`` (transcripts as plain text, joined by spaces, no tags)
``s2st`` / ``s2tt``  a translation pair (source, target utterance) as one sequence with a loss mask
                 on the response (:mod:`audiolm.tokens.translation`).
``word_interleaved``  beyond SODA, as Spirit LM: within each utterance, spans of 1..6 consecutive
                 words alternate between text ``<|text_start|>w_i..w_j<|text_end|>`` and the audio
                 frames of those words ``<|audio_start|>A[i..j]<|audio_end|>`` (cut between words
                 from the word alignment); the modality of the first span is drawn per utterance.
                 Needs :class:`Utterance` ``words`` (token shards of aligned corpora carry them);
                 an utterance without a usable alignment is laid out text-first.

Text-only web documents (:func:`text_document`) are ``BOS text EOS`` without tags.
Documents longer than ``max_tokens`` (BOS/EOS included) are cut at utterance boundaries into
several documents, each with its own BOS/EOS; a single utterance longer than ``max_tokens`` stays
one (over-long) document and the packer splits it across sequences.
Utterances whose transcript is empty (formats with text) or whose codes are missing or malformed
(formats with audio) are skipped and counted in ``skips``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from audiolm.skips import SkipReport
from audiolm.tokens.layout import Layout
from audiolm.tokens.modality import ACOUSTIC, SEMANTIC, SPECIAL, TEXT

FORMATS = ("text_first", "audio_first", "audio_only", "text_only", "word_interleaved", "s2st", "s2tt")
TRANSLATION_FORMATS = ("s2st", "s2tt")  # a translation pair as one sequence: audiolm.tokens.translation
_NEEDS_TEXT = {"text_first", "audio_first", "text_only", "word_interleaved"}
_NEEDS_AUDIO = {"text_first", "audio_first", "audio_only", "word_interleaved"}
MAX_SPAN_WORDS = 6  # word_interleaved: spans of 1..6 words


class Utterance(tuple):
    """``(codes, text)`` that may carry its word alignment: ``words`` = ``[(word, start_s, dur_s)]``,
    ``duration`` (seconds the codes cover), its ``language`` and, for speech-to-text translation
    data, a ``translation`` ``(language, text)``. Unpacks as the plain pair everywhere."""

    def __new__(cls, codes, text, words=None, duration=None, language=None, translation=None):
        obj = super().__new__(cls, (codes, text))
        obj.words = words
        obj.duration = duration
        obj.language = language
        obj.translation = translation
        return obj

    def __reduce__(self):  # pickles (DataLoader workers) with its alignment
        return (Utterance, (self[0], self[1], self.words, self.duration, self.language, self.translation))


@dataclass
class TokenDocument:
    """One document's tokens. ``audio_mask`` marks real audio codes (False on delay fills)."""

    ids: np.ndarray  # int64[L]
    modality: np.ndarray  # int8[L]
    audio_mask: np.ndarray | None = None  # bool[L]; None = modality is SEMANTIC/ACOUSTIC
    source: str = ""
    fmt: str = ""
    #: bool[L]: tokens that may be loss targets (a fine-tuning pair's response); None = all
    loss_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def real_audio(self) -> np.ndarray:
        if self.audio_mask is not None:
            return self.audio_mask
        return (self.modality == SEMANTIC) | (self.modality == ACOUSTIC)


def text_span(tokenizer, text: str) -> list[int]:
    """``<|text_start|> text <|text_end|>`` (prompt piece)."""
    v = tokenizer.vocab
    return [v.text_start, *tokenizer.encode_text(text), v.text_end]


def audio_span(layout: Layout, codes) -> list[int]:
    """``<|audio_start|> audio tokens <|audio_end|>`` in the layout (prompt piece)."""
    v = layout.vocab
    return [v.audio_start, *layout.encode(codes).tolist(), v.audio_end]


class _Piece:
    """Token arrays of one utterance's block in one format."""

    __slots__ = ("ids", "mod", "audio")

    def __init__(self, ids, mod, audio):
        self.ids, self.mod, self.audio = ids, mod, audio


def _special(ids) -> _Piece:
    a = np.asarray(ids, dtype=np.int64)
    return _Piece(a, np.full(len(a), SPECIAL, np.int8), np.zeros(len(a), bool))


def _text(ids) -> _Piece:
    a = np.asarray(ids, dtype=np.int64)
    return _Piece(a, np.full(len(a), TEXT, np.int8), np.zeros(len(a), bool))


def _join(pieces: Sequence[_Piece]) -> _Piece:
    return _Piece(
        np.concatenate([p.ids for p in pieces]),
        np.concatenate([p.mod for p in pieces]),
        np.concatenate([p.audio for p in pieces]),
    )


def _audio_piece(layout: Layout, codes, cache: dict, key) -> _Piece:
    if key not in cache:
        ids = layout.encode(codes, check=False)  # checked by _valid_codes
        cb = layout.vocab.codebook_of(ids)
        mod = np.where(cb == 0, SEMANTIC, ACOUSTIC).astype(np.int8)
        cache[key] = _Piece(ids, mod, layout.audio_mask(np.asarray(codes).shape[1]))
    return cache[key]


def _valid_codes(codes, layout: Layout) -> str | None:
    if codes is None:
        return "missing codes"
    arr = np.asarray(codes)
    if arr.ndim != 2 or arr.shape[0] <= layout.codebooks[-1]:
        return "bad codes shape"
    if arr.shape[1] == 0:
        return "empty codes"
    if arr.min() < 0 or arr.max() >= layout.vocab.codebook_size:
        return "codes out of range"
    return None


def build_documents(
    utterances: Sequence[tuple],
    fmt: str,
    layout: Layout,
    tokenizer,
    max_tokens: int = 0,
    *,
    skips: SkipReport | None = None,
    source: str = "",
    text_ids: Sequence[Sequence[int]] | None = None,
    _audio_cache: dict | None = None,
    prompt: str = "src_audio",
) -> list[TokenDocument]:
    """Token documents of one recording's utterances ``[(codes (n_q, T), text), ...]`` in ``fmt``.

    ``text_ids`` may pass the transcripts already tokenized (``encode_text`` of each text) to
    save work when one document is built in several formats. ``prompt``: the translation formats'
    last prompt part (the loss is on the rest).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown document format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt in TRANSLATION_FORMATS:
        from audiolm.tokens.translation import build_pair_document

        return build_pair_document(utterances, fmt, layout, tokenizer, prompt=prompt, skips=skips, source=source)
    v = tokenizer.vocab
    need_text, need_audio = fmt in _NEEDS_TEXT, fmt in _NEEDS_AUDIO
    keep: list[int] = []
    for i, (codes, text) in enumerate(utterances):
        if need_text and not (text or "").strip():
            if skips is not None:
                skips.skip("empty transcript", f"{source}#{i}")
            continue
        if need_audio:
            bad = _valid_codes(codes, layout)
            if bad:
                if skips is not None:
                    skips.skip(bad, f"{source}#{i}")
                continue
        keep.append(i)
    if not keep:
        return []
    enc: dict = {}
    if fmt == "text_only":  # plain text: utterances after the first get a leading space
        texts = [utterances[i][1] if j == 0 else " " + utterances[i][1] for j, i in enumerate(keep)]
        enc = dict(zip(keep, tokenizer.encode_text_batch(texts)))
    elif need_text and text_ids is not None:
        enc = {i: text_ids[i] for i in keep}
    elif need_text:
        enc = dict(zip(keep, tokenizer.encode_text_batch([utterances[i][1] for i in keep])))
    ts, te = _special([v.text_start]), _special([v.text_end])
    as_, ae = _special([v.audio_start]), _special([v.audio_end])
    cache: dict = {} if _audio_cache is None else _audio_cache
    blocks: list[list[_Piece]] = []  # one block of parts per utterance, joined once per document
    for i in keep:
        if fmt == "word_interleaved":
            spans = word_spans(utterances[i], np.random.default_rng([zlib.crc32(source.encode()), i]))
            if spans is not None:
                parts = []
                enc_spans = tokenizer.encode_text_batch([sp[0] for sp in spans])
                for (_, a, b, modality), tids in zip(spans, enc_spans):
                    if modality == "text":
                        parts += [ts, _text(tids), te]
                    else:
                        codes = np.asarray(utterances[i][0])[:, a:b]
                        parts += [as_, _audio_piece(layout, codes, {}, None), ae]
                blocks.append(parts)
                continue
            fmt_i = "text_first"  # no usable alignment: the utterance as SODA lays it out
        else:
            fmt_i = fmt
        if fmt_i == "text_only":
            blocks.append([_text(enc[i])])
            continue
        a = [as_, _audio_piece(layout, utterances[i][0], cache, i), ae]
        if fmt_i == "audio_only":
            blocks.append(a)
            continue
        t = [ts, _text(enc[i]), te]
        blocks.append(t + a if fmt_i == "text_first" else a + t)
    bos, eos = _special([tokenizer.bos_id]), _special([tokenizer.eos_id])
    groups: list[list[_Piece]] = [[]]
    n = 2
    for parts in blocks:
        size = sum(len(p.ids) for p in parts)
        if max_tokens and groups[-1] and n + size > max_tokens:
            groups.append([])
            n = 2
        groups[-1].extend(parts)
        n += size
    docs = []
    for g in groups:
        j = _join([bos, *g, eos])
        docs.append(TokenDocument(j.ids, j.mod, j.audio, source=source, fmt=fmt))
    return docs


def word_spans(utt, rng: np.random.Generator) -> list[tuple[str, int, int, str]] | None:
    """``[(text, frame_start, frame_end, modality)]``: spans of 1..MAX_SPAN_WORDS words covering the
    utterance, alternating text/audio from a modality drawn with ``rng``; None when the utterance
    has no alignment that matches its transcript word for word.

    Audio is cut half-way between the last word of a span and the first of the next; the first
    span starts at frame 0 and the last ends at the last frame. Span texts after the first carry
    their leading space, as the words do in running text. An audio span that would hold no frame
    is given as text.
    """
    words, dur = getattr(utt, "words", None), getattr(utt, "duration", None)
    codes, text = utt[0], utt[1]
    tokens = (text or "").split()
    if not words or not dur or len(words) != len(tokens) or len(tokens) < 2:
        return None
    n_frames = np.asarray(codes).shape[1]
    bounds, i = [], 0
    while i < len(tokens):
        most = MAX_SPAN_WORDS if i else min(MAX_SPAN_WORDS, len(tokens) - 1)  # at least two spans
        j = min(len(tokens), i + int(rng.integers(1, most + 1)))
        bounds.append((i, j))
        i = j
    if len(bounds) < 2:
        return None
    cuts = [0]
    for (_, j) in bounds[:-1]:
        t = (float(words[j - 1][1]) + float(words[j - 1][2]) + float(words[j][1])) / 2
        cuts.append(min(n_frames, max(cuts[-1], int(round(t / float(dur) * n_frames)))))
    cuts.append(n_frames)
    first = "text" if rng.random() < 0.5 else "audio"
    out = []
    for k, (a, b) in enumerate(bounds):
        t = " ".join(tokens[a:b])
        mod = first if k % 2 == 0 else ("audio" if first == "text" else "text")
        if mod == "audio" and cuts[k + 1] <= cuts[k]:
            mod = "text"
        out.append((t if k == 0 else " " + t, cuts[k], cuts[k + 1], mod))
    return out


def text_document(tokenizer, text: str, source: str = "", ids: Sequence[int] | None = None) -> TokenDocument:
    """A text-only (web) document: ``BOS text EOS``, no tags."""
    t = tokenizer.encode_text(text) if ids is None else ids
    j = _join([_special([tokenizer.bos_id]), _text(t), _special([tokenizer.eos_id])])
    return TokenDocument(j.ids, j.mod, j.audio, source=source, fmt="text")


def build_formats(
    utterances: Sequence[tuple],
    formats: Sequence[str],
    layout: Layout,
    tokenizer,
    max_tokens: int = 0,
    *,
    skips: SkipReport | None = None,
    source: str = "",
    prompt: str = "src_audio",
) -> list[TokenDocument]:
    """One recording in each of ``formats`` (e.g. SODA's ``[text_first, audio_first]``).

    Transcripts are tokenized once; each bad utterance is counted once in ``skips`` (as an empty
    transcript if some format needs text, as bad codes if some format needs audio). A translation
    format (a pair document) counts its own skips, once per pair.
    """
    formats = list(formats)
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown document format {f!r}; expected one of {', '.join(FORMATS)}")
    pairs = [f for f in formats if f in TRANSLATION_FORMATS]
    if pairs:
        if len(pairs) != len(formats):
            raise ValueError(f"formats {formats}: translation formats ({', '.join(TRANSLATION_FORMATS)}) read pair "
                             "documents and cannot be mixed with the pretraining formats in one data config")
        out = []
        for k, f in enumerate(pairs):
            out += build_documents(utterances, f, layout, tokenizer, skips=skips if k == 0 else None, source=source,
                                   prompt=prompt)
        return out
    if skips is not None:
        need_text = any(f in _NEEDS_TEXT for f in formats)
        need_audio = any(f in _NEEDS_AUDIO for f in formats)
        for i, (codes, text) in enumerate(utterances):
            if need_text and not (text or "").strip():
                skips.skip("empty transcript", f"{source}#{i}")
            elif need_audio and (bad := _valid_codes(codes, layout)):
                skips.skip(bad, f"{source}#{i}")
    tids = None
    if any(f in ("text_first", "audio_first") for f in formats):
        tids = tokenizer.encode_text_batch([u[1] or "" for u in utterances])
    out: list[TokenDocument] = []
    cache: dict = {}  # each utterance's audio tokens are laid out once for all formats
    for f in formats:
        out += build_documents(utterances, f, layout, tokenizer, max_tokens, source=source, text_ids=tids, _audio_cache=cache)
    return out
