"""Documents already in SODA's string form: interleaved text where every audio token is one
private-use character and the span tags are written out (``<|audio_start|>...<|audio_end|>``).

SODA released its pretraining data this way (a ``text`` column, parquet or jsonl). Such a document
needs no codec pass: the unified tokenizer maps every PUA character to its audio id (they are added
tokens, so no BPE merge ever crosses one) and BPE-encodes the text between them as the text
tokenizer does. Modalities come from the ids. A character of the PUA audio block that is not a
token of this vocabulary (a codebook or code beyond the layout's) makes the document invalid: it
is skipped and counted, never tokenized as text.

``data.string_train`` / ``data.string_val`` list such files; their documents join the speech
side of the mixture (``text_ratio`` still sets the share of text-only tokens).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from audiolm.tokens.documents import TokenDocument
from audiolm.tokens.modality import modality_of
from audiolm.tokens.vocab import PUA_BASE, pua_stride

SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")


class StringForm(str):
    """A document's text in string form (a ``str`` marked so the builder does not treat it as utterances)."""


def check_audio_characters(text: str, vocab) -> None:
    """Raise ``ValueError`` for a PUA audio character outside the vocabulary's codebooks/codes."""
    stride = pua_stride(vocab.codebook_size)
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) - PUA_BASE
    block = points[(points >= 0) & (points < 8 * stride)]
    if block.size:
        q, c = block // stride, block % stride
        bad = (q >= vocab.n_codebooks) | (c >= vocab.codebook_size)
        if bad.any():
            p = int(block[bad][0])
            raise ValueError(f"audio character outside the vocabulary's {vocab.n_codebooks} x {vocab.codebook_size} "
                             f"codes: U+{p + PUA_BASE:04X} (codebook {p // stride}, code {p % stride})")


def string_document(tokenizer, text: str, source: str = "") -> TokenDocument:
    """``BOS ... EOS`` ids of a string-form document (BOS/EOS added when the string lacks them)."""
    check_audio_characters(text, tokenizer.vocab)
    ids = list(tokenizer.encode(text))
    if not ids:
        raise ValueError("empty document")
    if ids[0] != tokenizer.bos_id:
        ids.insert(0, tokenizer.bos_id)
    if ids[-1] != tokenizer.eos_id:
        ids.append(tokenizer.eos_id)
    arr = np.asarray(ids, dtype=np.int64)
    mod = modality_of(arr, tokenizer.vocab, special_text_ids=(tokenizer.bos_id, tokenizer.eos_id))
    return TokenDocument(arr, mod, None, source=source, fmt="string")


def _read_records(path: Path, field: str) -> list[tuple[str, object]]:
    """``[(id, text or error reason)]`` of one file, in file order."""
    if path.name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if field not in table.column_names:
            raise ValueError(f"{path}: no column {field!r} (columns: {table.column_names})")
        texts = table.column(field).to_pylist()
        ids = table.column("id").to_pylist() if "id" in table.column_names else [None] * len(texts)
        return [(str(i) if i is not None else f"{path.name}:{k}", t) for k, (i, t) in enumerate(zip(ids, texts))]
    from audiolm.tokens.sources import DamagedRecord, _open_lines

    out: list[tuple[str, object]] = []
    for k, raw in enumerate(_open_lines(str(path))):
        where = f"{path.name}:{k + 1}"
        if isinstance(raw, DamagedRecord):
            out.append((where, ValueError(str(raw))))
            break
        try:
            obj = json.loads(raw.decode("utf-8"))
            text = obj[field] if isinstance(obj, dict) else None
        except (ValueError, KeyError):
            text = None
        out.append((str(obj.get("id", where)) if isinstance(text, str) else where, text))
    return out


class StringFormSource:
    """String-form documents from ``.jsonl[.gz|.zst]`` / ``.parquet`` files; one unit per file."""

    def __init__(self, paths: Sequence[str], field: str = "text") -> None:
        for p in paths:
            if not Path(p).is_file():
                raise FileNotFoundError(f"string-form corpus {p} not found (expected {', '.join(SUFFIXES)} with a "
                                        f"{field!r} field)")
            if not str(p).endswith(SUFFIXES):
                raise ValueError(f"{p}: unsupported file type for string-form documents (expected {', '.join(SUFFIXES)})")
        self.paths, self.field = [str(p) for p in paths], field

    @property
    def n_units(self) -> int:
        return len(self.paths)

    def load(self, unit: int):
        docs = []
        for doc_id, text in _read_records(Path(self.paths[unit]), self.field):
            if isinstance(text, str) and text.strip():
                docs.append((doc_id, StringForm(text), []))
            else:
                why = str(text) if isinstance(text, Exception) else f"no {self.field!r} field"
                docs.append((doc_id, StringForm(""), [("skip", f"string-form: {why}", doc_id)]))
        return docs

    def describe(self) -> str:
        return f"{len(self.paths)} string-form file(s)"


class ChainedSpeechSource:
    """The units of several speech sources one after another (token shards, then string-form files)."""

    def __init__(self, sources: Sequence) -> None:
        self.sources = [s for s in sources if s is not None]
        self._starts = np.cumsum([0] + [s.n_units for s in self.sources])

    @property
    def n_units(self) -> int:
        return int(self._starts[-1])

    def load(self, unit: int):
        k = int(np.searchsorted(self._starts, unit, side="right") - 1)
        return self.sources[k].load(unit - int(self._starts[k]))

    def describe(self) -> str:
        return " + ".join(getattr(s, "describe", lambda: type(s).__name__)() for s in self.sources)


def chain(*sources):
    """One speech source of the given ones (None when all are None, the source itself when one)."""
    present = [s for s in sources if s is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else ChainedSpeechSource(present)


__all__ = ["StringForm", "StringFormSource", "string_document", "check_audio_characters", "chain"]
