"""Where documents come from: lhotse Shar token shards, text jsonl files, or memory.

A *source* is a list of units (a Shar shard, a text file, a chunk of an in-memory list) that can
be loaded independently. Each epoch the units (split into parts when there are fewer units than
readers) are permuted by ``(seed, epoch)`` and dealt to the readers (DDP ranks x dataloader
workers): reader ``k`` of ``R`` takes every R-th work item, so readers' shares of one epoch are
disjoint. Speech documents inside a work item are shuffled by ``(seed, epoch, item)``; text lines
are shuffled inside blocks of :data:`TEXT_BLOCK` lines. A :class:`Cursor` ``(epoch, item,
position)`` says where a reader is, and reading can restart from any cursor (exact resume).

Token shards (docs/architecture.md): a Shar directory with ``cuts.NNNNNN.jsonl.gz`` +
``codes.NNNNNN.tar`` (``cut.codes``: ``(T, n_q)`` int16), the codec description in ``DIR.meta/codec.json``
(or, from older versions, ``DIR/codec.json``; :mod:`audiolm.token_shards`). Utterances are grouped
into documents by ``supervision.custom["document"]`` and ordered by ``custom["position"]``; a
document split over two shards becomes two documents.
"""

from __future__ import annotations

import json
import logging
import math
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from audiolm.skips import SkipReport
from audiolm.tokens.documents import Utterance

log = logging.getLogger("audiolm")

TEXT_BLOCK = 1024
#: skip reason prefix for a damaged file; the file's path follows it, so the report names every one
DAMAGED = "damaged file (truncated or corrupt), read up to the damage:"
#: what reading a truncated/corrupt gzip, tar or zstd stream raises
READ_ERRORS = (EOFError, OSError, tarfile.TarError, zlib.error, ValueError)
_warned: set[str] = set()


def warn_damaged(path: str, e: BaseException) -> str:
    """Say once per file which file is damaged; -> its skip reason (naming the file)."""
    if path not in _warned:
        _warned.add(path)
        log.warning("%s (%s: %s): the rest of the file is skipped and counted in the skip report", path,
                    type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    return f"{DAMAGED} {path}"
SHAR_HINT = "a lhotse Shar directory with cuts.*.jsonl.gz + codes.*.tar (and DIR.meta/codec.json), as written by `audiolm tokenize`"


# -- work assignment ---------------------------------------------------------------------------
def assign_work(n_units: int, n_readers: int, reader: int, epoch: int, seed: int, salt: int) -> list[tuple[int, int, int]]:
    """Work items ``(unit, part, n_parts)`` of ``reader`` in ``epoch`` (disjoint across readers)."""
    if n_units <= 0:
        return []
    n_parts = max(1, math.ceil(n_readers / n_units))
    items = [(u, p) for u in range(n_units) for p in range(n_parts)]
    perm = np.random.default_rng([seed, epoch, salt, 7919]).permutation(len(items))
    return [(items[i][0], items[i][1], n_parts) for i in perm[reader::n_readers]]


# -- speech ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardUnit:
    cuts: str
    codes: str | None


def find_shards(dirs: Sequence[str]) -> list[ShardUnit]:
    """All shards of the given Shar directories (or remote shard patterns), in order.

    A local directory missing, empty or with a cuts shard but not its codes is a clear error; a
    remote pattern (``pipe:``/URL, :mod:`audiolm.shard_urls`) is read shard by shard when used.
    """
    from audiolm.shard_urls import is_remote, shard_addresses

    units: list[ShardUnit] = []
    for d in dirs:
        if is_remote(d):
            units.extend(ShardUnit(a["cuts"], a["codes"]) for a in shard_addresses(str(d), ("codes",)))
            continue
        p = Path(d)
        if not p.is_dir():
            raise FileNotFoundError(f"token shard directory {d} not found (expected {SHAR_HINT})")
        cuts = sorted(p.glob("cuts.*.jsonl.gz"))
        if not cuts:
            raise FileNotFoundError(f"{d}: no cuts.*.jsonl.gz (expected {SHAR_HINT})")
        missing = []
        for c in cuts:
            idx = c.name[len("cuts.") : -len(".jsonl.gz")]
            codes = p / f"codes.{idx}.tar"
            if not codes.is_file():
                missing.append(codes.name)
            units.append(ShardUnit(str(c), str(codes)))
        if missing:
            raise FileNotFoundError(
                f"{d}: {len(missing)} cuts shard(s) without their codes ({', '.join(missing[:3])}"
                f"{' ...' if len(missing) > 3 else ''} missing): an unfinished or failed tokenize; rerun it")
    return units


def read_codec_info(dirs: Sequence[str]):
    """The typed ``codec.json`` (:class:`audiolm.token_shards.CodecInfo`) of the shard directories,
    which must agree; None if none has one."""
    from audiolm.shard_urls import is_remote
    from audiolm.token_shards import read_codec_json

    infos = {d: info for d in dirs if (info := (_remote_codec_json(d) if is_remote(d) else read_codec_json(d))) is not None}
    if not infos:
        return None
    keys = ("frame_rate", "n_codebooks", "codebook_size")
    first_dir, first = next(iter(infos.items()))
    for d, info in infos.items():
        diff = [k for k in keys if info.get(k) != first.get(k)]
        if diff:
            raise ValueError(f"codec.json of {d} and {first_dir} disagree on {diff}: shards of different codecs")
    from audiolm.token_shards import CodecInfo

    return CodecInfo.from_stored(first, f"codec.json of {first_dir}")


def _remote_codec_json(pattern: str) -> dict | None:
    """``DIR.meta/codec.json`` beside a remote shard pattern; None (with a warning) when unreadable."""
    from audiolm.shard_urls import expand_braces, meta_address, read_bytes

    address = meta_address(expand_braces(pattern)[0], "codec.json")
    try:
        info = json.loads(read_bytes(address, retries=1))
    except (OSError, ValueError) as e:
        log.warning("no readable codec.json for %s (%s)", pattern, str(e).splitlines()[0][:200])
        return None
    if not isinstance(info, dict):
        raise ValueError(f"{address}: codec.json is not a JSON object")
    return info


def load_shard(unit: ShardUnit, shown: ShardUnit | None = None) -> list[tuple[str, list[tuple], list[tuple]]]:
    """Documents of one shard: ``[(doc_id, [(codes (n_q, T) | None, text), ...], notes)]``.

    ``notes`` are ``(kind, reason, item)`` bad-input events (counted when the document is used).
    A truncated or corrupt shard file keeps the cuts read before the damage; the damage itself is
    one more (empty) document whose note names the file (``shown``'s names: the addresses of a
    remote shard read from a scratch copy), so it is counted at the same place on every pass and
    on resume.
    """
    from audiolm.shard_urls import is_remote

    if is_remote(unit.cuts):
        return _load_remote_shard(unit)
    shown = shown or unit
    groups: dict[str, list] = {}
    notes: dict[str, list] = {}
    damage = None
    try:
        for k, cut in enumerate(_shar_cuts(unit)):
            _add_cut(groups, notes, k, cut)
    except (*READ_ERRORS, RuntimeError) as e:  # lhotse: RuntimeError for a tar cut short between members
        in_tar = isinstance(e, tarfile.TarError) or "tar" in str(e).lower()
        damage = warn_damaged(shown.codes if in_tar else f"{shown.cuts} or {shown.codes}", e)
    out = []
    for doc, utts in groups.items():
        utts.sort(key=lambda u: (u[0], u[1]))
        out.append((doc, [Utterance(*u[2:]) for u in utts], notes[doc]))
    if damage is not None:
        out.append((f"{shown.cuts}#damaged", [], [("skip", damage, shown.cuts)]))
    return out


def _load_remote_shard(unit: ShardUnit):
    """Fetch one remote shard (``pipe:``/URL) into a scratch folder and read it as a local one."""
    import tempfile

    from audiolm.shard_urls import GZIP_MAGIC, read_bytes

    cuts = read_bytes(unit.cuts)
    codes = read_bytes(unit.codes) if unit.codes else None
    with tempfile.TemporaryDirectory(prefix="audiolm-shard-") as tmp:
        local_cuts = Path(tmp) / ("cuts.000000.jsonl.gz" if cuts[:2] == GZIP_MAGIC else "cuts.000000.jsonl")
        local_cuts.write_bytes(cuts)
        local_codes = None
        if codes is not None:
            local_codes = Path(tmp) / "codes.000000.tar"
            local_codes.write_bytes(codes)
        return load_shard(ShardUnit(str(local_cuts), str(local_codes) if local_codes else None), shown=unit)


def _shar_cuts(unit: ShardUnit):
    from lhotse import CutSet

    fields = {"cuts": [unit.cuts]}
    if unit.codes:
        fields["codes"] = [unit.codes]
    return CutSet.from_shar(fields=fields)


def _add_cut(groups: dict, notes: dict, k: int, cut) -> None:
    """Group one cut of a shard under its document (codes ``(n_q, T)``, transcript, word alignments)."""
    sups = list(cut.supervisions or [])
    text = " ".join(s.text.strip() for s in sups if s.text and s.text.strip())
    custom = (sups[0].custom or {}) if sups else {}
    doc = custom.get("document")
    ev = []
    if doc is None:
        doc = cut.id
        ev.append(("repair", "no document id (cut is its own document)", cut.id))
    pos = custom.get("position", k)
    codes = None
    if cut.has_custom("codes") and cut.codes is not None:
        try:
            arr = np.asarray(cut.load_codes())
            codes = arr.T if arr.ndim == 2 else None
            if codes is None:
                ev.append(("skip", "bad codes shape", cut.id))
        except Exception:
            ev.append(("skip", "unreadable codes", cut.id))
    words = None
    if len(sups) == 1 and sups[0].alignment and sups[0].alignment.get("word"):
        words = [(a.symbol, a.start, a.duration) for a in sups[0].alignment["word"]]
    language = sups[0].language if sups else None
    translation = None
    if isinstance(custom.get("translation"), str):  # speech-to-text translation data (CoVoST 2)
        translation = (custom.get("translation_language") or "en", custom["translation"])
    groups.setdefault(str(doc), []).append((pos, k, codes, text, words, cut.duration, language, translation))
    notes.setdefault(str(doc), []).extend(ev)


class ShardSpeechSource:
    """Speech documents from Shar token shards; one unit per shard."""

    def __init__(self, dirs: Sequence[str]) -> None:
        self.units = find_shards(dirs)

    @property
    def n_units(self) -> int:
        return len(self.units)

    def load(self, unit: int):
        return load_shard(self.units[unit])

    def describe(self) -> str:
        dirs = sorted({u.cuts.rsplit("/", 1)[0] for u in self.units})
        return f"{len(self.units)} shard(s) in {', '.join(dirs[:3])}"


class MemorySpeechSource:
    """Speech documents from memory: ``[(doc_id, [(codes, text), ...]), ...]`` (tests, notebooks)."""

    def __init__(self, docs: Sequence[tuple], docs_per_unit: int = 8) -> None:
        self.docs = [(str(d[0]), list(d[1]), []) for d in docs]
        self.per = max(1, docs_per_unit)

    @property
    def n_units(self) -> int:
        return math.ceil(len(self.docs) / self.per)

    def load(self, unit: int):
        return self.docs[unit * self.per : (unit + 1) * self.per]


# -- text --------------------------------------------------------------------------------------
def _open_lines(path: str) -> Iterator[bytes]:
    from audiolm.textfiles import open_compressed

    p = Path(path)
    with open_compressed(p) as f:
        try:
            yield from f
        except READ_ERRORS as e:  # a truncated gzip/zstd stream: the lines before it are kept
            yield DamagedRecord(warn_damaged(str(p), e))


class DamagedRecord(str):
    """Stands in the line stream where a file's damage begins (its text is the skip reason)."""


def parse_text_record(rec, path: str = "") -> tuple[str, str]:
    """``(id, text)`` of a text record (a jsonl/txt line as bytes, or a ``(id, text)`` pair).

    Raises ``ValueError(reason)`` for bad records.
    """
    if isinstance(rec, DamagedRecord):
        raise ValueError(str(rec))
    if isinstance(rec, tuple):
        doc_id, text = rec
    else:
        try:
            line = rec.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("non-UTF-8 text") from None
        if path.endswith(".txt"):
            doc_id, text = "", line.rstrip("\r\n")
        else:
            line = line.strip()
            if not line:
                raise ValueError("empty line")
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise ValueError("invalid JSON line") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError("no text field")
            doc_id, text = str(obj.get("id", "")), obj["text"]
    if not text or not text.strip():
        raise ValueError("empty text")
    return str(doc_id), text


class FileTextSource:
    """Text documents from ``.jsonl[.gz|.zst]`` files (``{"id", "text"}``) or ``.txt`` (one per line)."""

    def __init__(self, paths: Sequence[str]) -> None:
        for p in paths:
            if not Path(p).is_file():
                raise FileNotFoundError(f"text corpus {p} not found (expected .jsonl/.jsonl.gz/.jsonl.zst with a text field, or .txt)")
        self.paths = [str(p) for p in paths]

    @property
    def n_units(self) -> int:
        return len(self.paths)

    def records(self, unit: int) -> Iterator[bytes]:
        return _open_lines(self.paths[unit])

    def name(self, unit: int) -> str:
        return self.paths[unit]


class MemoryTextSource:
    """Text documents from a list of strings or ``(id, text)`` pairs."""

    def __init__(self, texts: Sequence, per_unit: int = 256) -> None:
        self.texts = [t if isinstance(t, tuple) else (f"text{i}", t) for i, t in enumerate(texts)]
        self.per = max(1, per_unit)

    @property
    def n_units(self) -> int:
        return math.ceil(len(self.texts) / self.per)

    def records(self, unit: int):
        return iter(self.texts[unit * self.per : (unit + 1) * self.per])

    def name(self, unit: int) -> str:
        return f"memory[{unit}]"


# -- resumable readers ------------------------------------------------------------------------
class _Reader:
    """Walks one reader's work items epoch after epoch; ``cursor = [epoch, item, position]``."""

    salt = 0

    def __init__(self, source, reader: int, n_readers: int, seed: int, cursor=None, shuffle: bool = True) -> None:
        self.source, self.reader, self.n_readers, self.seed = source, reader, n_readers, seed
        self.shuffle = shuffle
        self.cursor = list(cursor) if cursor else [0, 0, 0]
        self._items_epoch, self._items = None, []

    def items(self, epoch: int):
        if self._items_epoch != epoch:
            if self.shuffle:
                self._items = assign_work(self.source.n_units, self.n_readers, self.reader, epoch, self.seed, self.salt)
            else:  # fixed order (validation): every reader walks the units in order
                self._items = [(u, 0, 1) for u in range(self.source.n_units)]
            self._items_epoch = epoch
        return self._items

    def seek(self, cursor) -> None:
        self.cursor = list(cursor)
        self._dry_wraps = 0

    _dry_wraps = 0

    def mark_useful(self) -> None:
        """The last document gave tokens (only that proves the data is not empty)."""
        self._dry_wraps = 0

    def _next_epoch(self, what: str) -> None:
        """Move to the next epoch; whole epochs without a token are an error, not a hang."""
        self._dry_wraps += 1
        if self._dry_wraps > 3 or not self.items(self.cursor[0]):
            where = getattr(self.source, "describe", lambda: "")()
            raise ValueError(
                f"{what} reader {self.reader} of {self.n_readers} got no tokens in whole epochs of {where or 'its data'} "
                "(too little data for this many DDP ranks x dataloader workers, or every document is bad: "
                "see the skip report)"
            )
        self.cursor = [self.cursor[0] + 1, 0, 0]


class SpeechReader(_Reader):
    """Documents of a speech source for one reader; :meth:`take` returns the next document."""

    salt = 1

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self._loaded_key, self._docs = None, []

    def _item_docs(self, epoch: int, i: int):
        unit, part, n_parts = self.items(epoch)[i]
        key = (epoch, unit, part)
        if self._loaded_key != key:
            docs = [d for j, d in enumerate(self.source.load(unit)) if j % n_parts == part]
            if self.shuffle:
                order = np.random.default_rng([self.seed, epoch, self.salt, unit, part]).permutation(len(docs))
                docs = [docs[j] for j in order]
            self._loaded_key, self._docs = key, docs
        return self._docs

    def take(self, skips: SkipReport | None, finite: bool = False):
        """``(doc_id, utterances)`` at the cursor, advancing it; None at the end (finite only)."""
        while True:
            epoch, i, j = self.cursor
            if i >= len(self.items(epoch)):
                if finite:
                    return None
                self._next_epoch("speech")
                continue
            docs = self._item_docs(epoch, i)
            if j >= len(docs):
                self.cursor = [epoch, i + 1, 0]
                continue
            self.cursor = [epoch, i, j + 1]
            doc_id, utts, notes = docs[j]
            if skips is not None:
                for kind, reason, item in notes:
                    (skips.repair if kind == "repair" else skips.skip)(reason, item)
            return doc_id, utts


class TextReader(_Reader):
    """Text documents of a text source for one reader (block-shuffled lines); :meth:`take`."""

    salt = 2

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self._it, self._it_key = None, None

    def _records(self, epoch: int, i: int) -> Iterator:
        unit, part, n_parts = self.items(epoch)[i]
        block: list = []
        b = 0

        def flush(block, b):
            if self.shuffle:
                order = np.random.default_rng([self.seed, epoch, self.salt, unit, part, b]).permutation(len(block))
                return [block[k] for k in order]
            return block

        for n, rec in enumerate(self.source.records(unit)):
            if n % n_parts != part:
                continue
            block.append(rec)
            if len(block) == TEXT_BLOCK:
                yield from flush(block, b)
                block, b = [], b + 1
        yield from flush(block, b)

    def take(self, skips: SkipReport | None, finite: bool = False):
        """``(doc_id, text)`` at the cursor (bad records counted and passed over); None at the end."""
        while True:
            epoch, i, j = self.cursor
            if i >= len(self.items(epoch)):
                if finite:
                    return None
                self._next_epoch("text")
                continue
            key = (epoch, i)
            if self._it_key != (key, j):  # (re)open the item and skip to position j
                self._it = self._records(epoch, i)
                for _ in range(j):
                    if next(self._it, None) is None:
                        break
            rec = next(self._it, None)
            if rec is None:
                self.cursor = [epoch, i + 1, 0]
                self._it_key = None
                continue
            self.cursor = [epoch, i, j + 1]
            self._it_key = (key, j + 1)
            try:
                doc_id, text = parse_text_record(rec, self.source.name(self.items(epoch)[i][0]))
            except ValueError as e:
                if skips is not None:
                    skips.skip(str(e), f"{self.source.name(self.items(epoch)[i][0])}:{j}")
                continue
            return doc_id, text
