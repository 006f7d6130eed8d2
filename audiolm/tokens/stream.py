"""One reader's infinite training stream: read -> build documents -> mix by tokens -> pack.

The stream's whole position is a small JSON-able state (:meth:`TrainStream.state`):

``speech`` / ``text``  cursors ``[epoch, item, position]`` of the two readers (next to read)
``mix``                tokens taken so far ``[speech, text]`` (drives the token-share mixer)
``carry``              the document item whose tail is still in the packer: which reader, the
                       cursor it was read at, and how many of its tokens were already emitted
``skips``              bad-input counts so far; ``batches``: batches emitted

Restarting from a state re-reads the carry item, drops its emitted tokens and continues, so the
batches after a restart are exactly those an uninterrupted stream would have produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from audiolm.skips import SkipReport
from audiolm.tokens.documents import TokenDocument, build_formats, text_document
from audiolm.tokens.layout import Layout
from audiolm.tokens.packing import check_mixture, Packer, TokenMixer
from audiolm.tokens.sources import SpeechReader, TextReader
from audiolm.tokens.string_form import StringForm, string_document


@dataclass
class ItemBuilder:
    """Turns what the readers give into token documents."""

    tokenizer: object
    layout: Layout
    formats: Sequence[str] = ("text_first", "audio_first")
    max_tokens: int = 0
    prompt: str = "src_audio"  # translation formats: the last part of the prompt (no loss on it)

    def speech(self, rec, skips: SkipReport | None) -> list[TokenDocument]:
        doc_id, utts = rec
        if isinstance(utts, StringForm):  # already interleaved (SODA's string form): one document as it is
            if not utts:
                return []
            try:
                return [string_document(self.tokenizer, utts, source=doc_id)]
            except ValueError as e:
                if skips is not None:
                    skips.skip(f"string-form: {str(e).split(':')[0]}", doc_id, str(e))
                return []
        return build_formats(utts, self.formats, self.layout, self.tokenizer, self.max_tokens, skips=skips, source=doc_id,
                             prompt=self.prompt)

    def text(self, rec, skips: SkipReport | None = None) -> list[TokenDocument]:
        doc_id, text = rec
        ids = self.tokenizer.encode_text(text)
        if not ids:
            if skips is not None:
                skips.skip("empty text", doc_id)
            return []
        return [text_document(self.tokenizer, text, source=doc_id, ids=ids)]


def skips_from_dict(name: str, d: dict | None) -> SkipReport:
    rep = SkipReport(name)
    for r, n in ((d or {}).get("skipped") or {}).items():
        rep.skipped[r] += n
    for r, n in ((d or {}).get("repaired") or {}).items():
        rep.repaired[r] += n
    return rep


@dataclass
class _Last:
    is_text: bool
    cursor: list
    n: int


@dataclass
class TrainStream:
    speech_source: object | None
    text_source: object | None
    builder: ItemBuilder
    text_ratio: float
    seq_len: int
    batch_size: int
    seed: int = 0
    reader: int = 0
    n_readers: int = 1
    state: dict | None = None
    start_epoch: int = 0
    name: str = "train data"
    _skips: SkipReport = field(init=False)

    def __post_init__(self) -> None:
        check_mixture(self.speech_source is not None, self.text_source is not None, self.text_ratio)

    def __iter__(self):
        st = self.state or {}
        start = [self.start_epoch, 0, 0]
        args = dict(reader=self.reader, n_readers=self.n_readers, seed=self.seed)
        sp = SpeechReader(self.speech_source, cursor=st.get("speech") or start, **args) if self.speech_source else None
        tx = TextReader(self.text_source, cursor=st.get("text") or start, **args) if self.text_source else None
        ratio = self.text_ratio if tx is not None else 0.0
        mixer = TokenMixer(ratio, *(st.get("mix") or (0, 0)))
        skips = skips_from_dict(self.name, st.get("skips"))
        packer = Packer(self.seq_len, self.batch_size, self.builder.tokenizer.pad_id)
        batches = int(st.get("batches", 0))
        last = None
        carry = st.get("carry")
        if carry:  # re-read the item whose tail was still in the packer, drop what was emitted
            reader = tx if carry["text"] else sp
            after = list(reader.cursor)
            reader.seek(carry["cursor"])
            rec = reader.take(None)
            docs = self.builder.text(rec) if carry["text"] else self.builder.speech(rec, None)
            reader.seek(after)
            n = sum(len(d) for d in docs)
            self._add(packer, docs, carry["offset"])
            last = _Last(bool(carry["text"]), list(carry["cursor"]), n)
        while True:
            while not packer.ready():
                is_text = mixer.next_is_text()
                reader = tx if is_text else sp
                cursor = list(reader.cursor)
                rec = reader.take(skips)
                docs = self.builder.text(rec, skips) if is_text else self.builder.speech(rec, skips)
                n = sum(len(d) for d in docs)
                if not n:
                    continue
                reader.mark_useful()
                mixer.add(is_text, n)
                self._add(packer, docs, 0)
                last = _Last(is_text, cursor, n)
            batch = packer.pop()
            batches += 1
            rest = len(packer)
            state = {
                "speech": list(sp.cursor) if sp else None,
                "text": list(tx.cursor) if tx else None,
                "mix": mixer.state(),
                "carry": {"text": last.is_text, "cursor": last.cursor, "offset": last.n - rest} if rest else None,
                "skips": {"skipped": dict(skips.skipped), "repaired": dict(skips.repaired)},
                "batches": batches,
            }
            yield batch, state

    @staticmethod
    def _add(packer: Packer, docs: list[TokenDocument], offset: int) -> None:
        for d in docs:
            if offset >= len(d):
                offset -= len(d)
                continue
            packer.add(d, offset)
            offset = 0


def epoch_of(state: dict | None) -> int:
    """The furthest epoch a stream state has reached (for a restart on a different topology)."""
    if not state:
        return 0
    return max([c[0] for c in (state.get("speech"), state.get("text")) if c] or [0])


