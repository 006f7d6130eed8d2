"""LibriSpeech and LibriTTS -> ``OUT/cuts_{split}.jsonl.gz`` (documents = chapters).

lhotse's recipes (``prepare_librispeech`` / ``prepare_libritts``) read the published layout. Those
recipes stop at the first unreadable file or malformed line, so when one raises we read the same
layout again item by item (``_librispeech_items`` / ``_libritts_items``) and skip only the bad
items. Documents = chapters (``spk-chapter``), position = utterance order in the chapter. Splits
keep the published part names (``cuts_dev-clean.jsonl.gz``, ...) and are also gathered into
``cuts_{train,dev,test}``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Iterator

from audiolm.data.corpora import (MAX_DURATION, Item, LayoutError, _require_dir, items_to_cuts, read_text_file, write_corpus)
from audiolm.skips import SkipReport

log = logging.getLogger("audiolm")

def librispeech_group(part: str) -> str:
    """train-clean-100 -> train, dev-other -> dev, test-clean -> test."""
    return part.split("-", 1)[0] if part.split("-", 1)[0] in ("train", "dev", "test") else "train"


# ---------------------------------------------------------------------------------------------
# LibriSpeech


def _find_libri_root(corpus_dir: Path, parts: Iterable[str], name: str, marker: str) -> tuple[Path, list[str]]:
    corpus_dir = _require_dir(corpus_dir, f"the {name} folder holding its parts (e.g. dev-clean/)")
    for root in (corpus_dir, corpus_dir / name):
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name in set(parts)) if root.is_dir() else []
        if found:
            return root, found
    raise LayoutError(f"{corpus_dir}: no {name} part folder found (expected one of {', '.join(sorted(parts))} "
                      f"holding SPEAKER/CHAPTER/*{marker} files)")


def _librispeech_items(root: Path, part: str, report: SkipReport) -> Iterator[Item]:
    for trans in sorted((root / part).rglob("*.trans.txt")):
        for line in read_text_file(trans, report).splitlines():
            if not line.strip():
                continue
            fields = line.strip().split(maxsplit=1)
            utt = fields[0]
            text = fields[1] if len(fields) > 1 else ""
            yield _libri_item(utt, text, trans.parent / f"{utt}.flac", part)


def _libri_item(utt: str, text: str, audio: Path | None, part: str, recording=None) -> Item:
    bits = utt.split("-")
    spk, chapter = bits[0], bits[1] if len(bits) > 1 else "0"
    idx = int(bits[2]) if len(bits) > 2 and bits[2].isdigit() else 0
    return Item(utt, text, spk, f"{spk}-{chapter}", (idx, utt), part, audio=audio, recording=recording)


def prepare_librispeech(corpus_dir, out, *, max_duration: float = MAX_DURATION, jobs: int = 1) -> dict:
    from lhotse.recipes.librispeech import LIBRISPEECH, MINI_LIBRISPEECH

    report = SkipReport("prepare librispeech")
    root, parts = _find_libri_root(Path(corpus_dir).resolve(), set(LIBRISPEECH) | set(MINI_LIBRISPEECH), "LibriSpeech", ".trans.txt")
    items: list[Item] = []
    for part in parts:
        try:
            items += _lhotse_librispeech(root, part, jobs)
        except Exception as e:  # a bad file or line stops lhotse's recipe: read the part item by item
            log.warning("lhotse prepare_librispeech failed on %s (%s); reading item by item", part, e)
            report.repair("lhotse_recipe_fallback", f"{part}: {type(e).__name__}")
            items += list(_librispeech_items(root, part, report))
    splits = items_to_cuts(items, report, max_duration)
    return write_corpus(Path(out), "librispeech", splits, report, aggregate=librispeech_group)


def _check_complete(root: Path, part: str, pattern: str, got: set[str]) -> None:
    """lhotse logs a transcript line without audio as a warning and drops it: raise instead, so the
    item-by-item reader runs and counts it."""
    wanted = {line.split(maxsplit=1)[0] for t in (root / part).rglob(pattern)
              for line in t.read_text().splitlines() if line.strip()}
    missing = sorted(wanted - got)
    if missing:
        raise FileNotFoundError(f"{len(missing)} utterances without audio (e.g. {missing[0]})")


def _lhotse_librispeech(root: Path, part: str, jobs: int) -> list[Item]:
    from lhotse.recipes import prepare_librispeech as lhotse_prepare

    man = lhotse_prepare(root, dataset_parts=[part], num_jobs=max(1, jobs))[part]
    recs, sups = man["recordings"], man["supervisions"]
    _check_complete(root, part, "*.trans.txt", {s.id for s in sups})
    return [_libri_item(s.id, s.text, None, part, recording=recs[s.recording_id]) for s in sups]


# ---------------------------------------------------------------------------------------------
# LibriTTS


def _libritts_items(root: Path, part: str, report: SkipReport) -> Iterator[Item]:
    for trans in sorted((root / part).rglob("*.trans.tsv")):
        for line in read_text_file(trans, report).splitlines():
            if not line.strip():
                continue
            fields = line.split("\t")
            utt = fields[0].strip()
            text = fields[2] if len(fields) > 2 else (fields[1] if len(fields) > 1 else "")
            yield _libritts_item(utt, text, trans.parent / f"{utt}.wav", part)


def _libritts_item(utt: str, text: str, audio: Path | None, part: str, recording=None) -> Item:
    bits = utt.split("_")
    spk, chapter = bits[0], bits[1] if len(bits) > 1 else "0"
    order = tuple(int(b) if b.isdigit() else 0 for b in bits[2:]) + (utt,)
    return Item(utt, text, spk, f"{spk}-{chapter}", order, part, audio=audio, recording=recording)


def prepare_libritts(corpus_dir, out, *, max_duration: float = MAX_DURATION, jobs: int = 1) -> dict:
    from lhotse.recipes.libritts import LIBRITTS

    report = SkipReport("prepare libritts")
    root, parts = _find_libri_root(Path(corpus_dir).resolve(), set(LIBRITTS), "LibriTTS", ".trans.tsv")
    items: list[Item] = []
    for part in parts:
        try:
            from lhotse.recipes import prepare_libritts as lhotse_prepare

            man = lhotse_prepare(root, dataset_parts=[part], num_jobs=max(1, jobs))[part]
            recs, sups = man["recordings"], man["supervisions"]
            _check_complete(root, part, "*.trans.tsv", {s.id for s in sups})
            for s in sups:
                it = _libritts_item(s.id, s.text, None, part, recording=recs[s.recording_id])
                it.gender = s.gender
                items.append(it)
        except Exception as e:
            log.warning("lhotse prepare_libritts failed on %s (%s); reading item by item", part, e)
            report.repair("lhotse_recipe_fallback", f"{part}: {type(e).__name__}")
            items += list(_libritts_items(root, part, report))
    splits = items_to_cuts(items, report, max_duration)
    return write_corpus(Path(out), "libritts", splits, report, aggregate=librispeech_group)
