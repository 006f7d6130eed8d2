"""Benchmark items: choices with explicit item ids and labels, and the prepared on-disk format.

Every likelihood benchmark is a list of :class:`Item`: an ``item_id``, two or more
:class:`Choice` and the index of the right one (``answer``). A choice is either *audio* (a cut
id into the set's lhotse ``CutSet``) or *text* (an optional unscored ``prefix`` and the scored
``text``). Pairs are items with two choices.

Prepared format (what ``audiolm prepare benchmarks`` writes, one folder per task):

- spoken sets: ``cuts.jsonl.gz`` — a lhotse ``CutSet``; each cut is one choice and carries
  ``custom = {"item_id": str, "choice": int, "label": 0|1, "category": str}`` (label 1 = the
  right choice); audio lives beside it under ``audio/``. Items are rebuilt by grouping on
  ``item_id`` and ordering on ``choice`` — never from file names.
- text sets: ``items.jsonl`` — one JSON object per line
  ``{"item_id", "prefix": str, "choices": [str, ...], "answer": int, "category": str}``.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

SPOKEN_MANIFEST = "cuts.jsonl.gz"
TEXT_MANIFEST = "items.jsonl"


class BenchmarkError(ValueError):
    """A benchmark set is missing or malformed; the message names the task and what is wrong."""


@dataclass
class Choice:
    text: str | None = None  # a text choice (scored)
    cut_id: str | None = None  # an audio choice: id of a cut in the set's CutSet
    prefix: str = ""  # unscored text context before ``text`` (text choices only)

    @property
    def is_audio(self) -> bool:
        return self.cut_id is not None


@dataclass
class Item:
    item_id: str
    choices: list[Choice]
    answer: int
    category: str = ""
    meta: dict = field(default_factory=dict)

    def validate(self, task: str = "") -> None:
        if len(self.choices) < 2:
            raise BenchmarkError(f"{task}: item {self.item_id!r} has {len(self.choices)} choice(s); at least 2 are needed")
        if not 0 <= self.answer < len(self.choices):
            raise BenchmarkError(f"{task}: item {self.item_id!r}: answer {self.answer} out of range for {len(self.choices)} choices")


@dataclass
class BenchmarkSet:
    """The items of one task, the audio they refer to (``cuts``, None for text sets), and where they came from."""

    task: str
    items: list[Item]
    cuts: object | None = None  # lhotse CutSet
    source: str = ""

    @property
    def modality(self) -> str:
        return "audio" if self.items and self.items[0].choices[0].is_audio else "text"

    def subset(self, max_items: int | None) -> "BenchmarkSet":
        """The first ``max_items`` items (the sets are stored in a seeded random order)."""
        if not max_items or max_items >= len(self.items):
            return self
        return BenchmarkSet(self.task, self.items[:max_items], self.cuts, self.source)

    def validate(self) -> None:
        if not self.items:
            raise BenchmarkError(f"{self.task}: no items in {self.source or 'the set'}")
        seen = set()
        for it in self.items:
            it.validate(self.task)
            if it.item_id in seen:
                raise BenchmarkError(f"{self.task}: duplicate item id {it.item_id!r}")
            seen.add(it.item_id)
        if self.cuts is not None:
            ids = set(self.cuts.ids)
            for it in self.items:
                for ch in it.choices:
                    if ch.is_audio and ch.cut_id not in ids:
                        raise BenchmarkError(f"{self.task}: item {it.item_id!r} refers to missing audio {ch.cut_id!r}")


# ---------------------------------------------------------------------------------------------
# prepared format


def items_from_cuts(task: str, cuts, source: str = "") -> BenchmarkSet:
    """Group a CutSet whose cuts carry ``custom = {item_id, choice, label}`` into items."""
    groups: dict[str, list] = defaultdict(list)
    for c in cuts:
        cu = c.custom or {}
        if "item_id" not in cu or "label" not in cu:
            raise BenchmarkError(f"{task}: cut {c.id!r} in {source} lacks custom item_id/label")
        groups[str(cu["item_id"])].append(c)
    items = []
    for item_id, cs in groups.items():
        cs = sorted(cs, key=lambda c: int(c.custom.get("choice", 0)))
        labels = [int(c.custom["label"]) for c in cs]
        if sum(labels) != 1:
            raise BenchmarkError(f"{task}: item {item_id!r} in {source} has {sum(labels)} right choices (need exactly 1)")
        items.append(Item(item_id, [Choice(cut_id=c.id) for c in cs], labels.index(1), str(cs[0].custom.get("category", ""))))
    return BenchmarkSet(task, items, cuts, source)


def load_cuts(path: str | Path):
    """A CutSet manifest whose relative audio paths are taken relative to the manifest's folder."""
    from lhotse import CutSet

    path = Path(path)
    root = path.parent.resolve()

    def fix(cut):
        rec = getattr(cut, "recording", None)
        if rec is not None and any(s.type == "file" and not Path(s.source).is_absolute() for s in rec.sources):
            cut.recording = rec.with_path_prefix(root)
        return cut

    from audiolm.data.manifest import read_cutset

    return CutSet.from_cuts(fix(c) for c in read_cutset(path))


def read_spoken_set(task: str, folder: str | Path) -> BenchmarkSet:
    path = Path(folder) / SPOKEN_MANIFEST
    if not path.is_file():
        raise BenchmarkError(f"{task}: no {SPOKEN_MANIFEST} in {folder}")
    return items_from_cuts(task, load_cuts(path), str(path))


def write_text_set(folder: str | Path, items: Iterable[Item]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TEXT_MANIFEST
    with open(path, "w") as f:
        for it in items:
            rec = {"item_id": it.item_id, "prefix": it.choices[0].prefix, "choices": [c.text for c in it.choices],
                   "answer": it.answer, "category": it.category}
            if it.meta:
                rec["meta"] = it.meta
            f.write(json.dumps(rec) + "\n")
    return path


def text_items(records: Iterable[dict], task: str, source: str) -> list[Item]:
    items = []
    for n, r in enumerate(records):
        try:
            prefix = r.get("prefix", "")
            items.append(Item(str(r["item_id"]), [Choice(text=t, prefix=prefix) for t in r["choices"]], int(r["answer"]),
                              str(r.get("category", "")), r.get("meta", {})))
        except (KeyError, TypeError, ValueError) as e:
            raise BenchmarkError(f"{task}: line {n + 1} of {source} is not a valid item ({e!r})") from None
    return items


def read_text_set(task: str, folder: str | Path) -> BenchmarkSet:
    path = Path(folder) / TEXT_MANIFEST
    if not path.is_file():
        raise BenchmarkError(f"{task}: no {TEXT_MANIFEST} in {folder}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return BenchmarkSet(task, text_items(recs, task, str(path)), None, str(path))
