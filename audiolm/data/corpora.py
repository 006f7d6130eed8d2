"""Real corpora: what every reader shares -> ``OUT/cuts_{split}.jsonl.gz`` with our supervision fields.

Every reader yields :class:`Item` s (one utterance: where its audio is, transcript, speaker,
document and an order key); :func:`items_to_cuts` checks each one (readable, non-empty audio, a
transcript, a sane duration, the sample rate) and turns the good ones into cuts, counting the bad
ones by reason in a :class:`~audiolm.skips.SkipReport`. A bad item is skipped or repaired, never
fatal; a wrong path or an unknown layout is a clear error (:class:`LayoutError`).

One module per corpus, as lhotse's recipes: :mod:`audiolm.data.librispeech` (LibriSpeech,
LibriTTS), :mod:`audiolm.data.emilia`, :mod:`audiolm.data.yodas`, :mod:`audiolm.data.cvss`,
:mod:`audiolm.data.covost2`. Emilia and YODAS have no published split: :func:`hash_split` of the
document id sends a whole document to dev or test (``--dev-fraction`` / ``--test-fraction``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from audiolm.data.manifest import SAMPLE_RATE, make_cut, make_recording, split_stats, write_cuts
from audiolm.skips import SkipReport

log = logging.getLogger("audiolm")

MAX_DURATION = 60.0  # seconds; longer utterances are skipped ("too_long")


class LayoutError(ValueError):
    """The input folder is missing or is not in the layout the recipe expects."""


@dataclass
class Item:
    utt_id: str
    text: str | None
    speaker: str
    document: str
    order: tuple  # sort key of the utterance inside its document
    split: str
    audio: Path | None = None  # file with the audio (whole recording)
    recording_id: str | None = None  # several items may share one long recording
    start: float = 0.0
    duration: float | None = None  # None: the whole file
    language: str = "en"
    custom: dict = field(default_factory=dict)
    recording: object | None = None  # a ready lhotse Recording (lhotse recipe path)
    gender: str | None = None


def hash_split(key: str, dev_fraction: float, test_fraction: float) -> str:
    """Deterministic split of a document id: the same id always lands in the same split."""
    h = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2**64
    if h < dev_fraction:
        return "dev"
    if h < dev_fraction + test_fraction:
        return "test"
    return "train"


def read_text_file(path: Path, report: SkipReport) -> str:
    """Text of a transcript file; non-UTF-8 bytes are decoded as Latin-1 (counted as repaired)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        report.repair("non_utf8_text", str(path))
        return raw.decode("latin-1")


def _fix_text(text, report: SkipReport, item: str) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            report.repair("non_utf8_text", item)
            text = text.decode("latin-1")
    if not isinstance(text, str):
        return None
    if "\ufffd" in text:
        report.repair("non_utf8_text", item)
        text = text.replace("\ufffd", "")
    return " ".join(text.split())


def _require_dir(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise LayoutError(f"{path} does not exist (expected {what})")
    if not path.is_dir():
        raise LayoutError(f"{path} is not a folder (expected {what})")
    return path


# ---------------------------------------------------------------------------------------------
# item -> cut


def items_to_cuts(items: Iterable[Item], report: SkipReport, max_duration: float = MAX_DURATION,
                  verify_audio: bool = False) -> dict[str, list]:
    """Check items and build cuts, grouped by split; positions follow ``order`` inside a document."""
    import soundfile as sf

    info_cache: dict[str, object] = {}
    recordings: dict[str, object] = {}
    good: list[tuple[Item, object]] = []
    for it in items:
        text = _fix_text(it.text, report, it.utt_id)
        if text is None:
            report.skip("missing_transcript", it.utt_id)
            continue
        if not text:
            report.skip("empty_transcript", it.utt_id)
            continue
        it.text = text
        rec = it.recording
        if rec is None:
            rid = it.recording_id or it.utt_id
            rec = recordings.get(rid)
            if rec is None:
                key = str(it.audio)
                info = info_cache.get(key)
                if info is None:
                    try:
                        if it.audio is None or not Path(it.audio).is_file():
                            raise FileNotFoundError(str(it.audio))
                        info = sf.info(str(it.audio))
                        if verify_audio:
                            sf.read(str(it.audio), frames=-1, dtype="float32")
                    except FileNotFoundError:
                        info = "missing_audio"
                    except Exception:  # libsndfile: truncated, wrong format, ...
                        info = "unreadable_audio"
                    info_cache[key] = info
                if isinstance(info, str):
                    report.skip(info, it.utt_id)
                    continue
                if info.frames <= 0 or info.samplerate <= 0:
                    report.skip("empty_audio", it.utt_id)
                    continue
                rec = make_recording(rid, Path(it.audio).resolve(), info.samplerate, info.frames,
                                     channels=list(range(info.channels)))
                recordings[rid] = rec
        else:
            if rec.num_samples <= 0:
                report.skip("empty_audio", it.utt_id)
                continue
        duration = it.duration if it.duration is not None else rec.duration - it.start
        if duration <= 0 or it.start < 0 or it.start + duration > rec.duration + 0.05:
            report.skip("bad_segment_times", it.utt_id)
            continue
        duration = min(duration, rec.duration - it.start)
        if duration > max_duration:
            report.skip("too_long", it.utt_id)
            continue
        it.duration = duration
        good.append((it, rec))
    # positions: order inside each document
    by_doc: dict[str, list[Item]] = {}
    for it, _ in good:
        by_doc.setdefault(it.document, []).append(it)
    position = {}
    for doc, its in by_doc.items():
        for i, it in enumerate(sorted(its, key=lambda x: x.order)):
            position[id(it)] = i
    out: dict[str, list] = {}
    resampled: set[str] = set()
    for it, rec in sorted(good, key=lambda g: (g[0].split, g[0].document, position[id(g[0])])):
        if rec.sampling_rate != SAMPLE_RATE and rec.id not in resampled:
            resampled.add(rec.id)
            report.repair("resampled_to_24k", f"{rec.id} ({rec.sampling_rate} Hz)")
        cut = make_cut(it.utt_id, rec, text=it.text, speaker=it.speaker, document=it.document,
                       position=position[id(it)], language=it.language, start=it.start, duration=it.duration,
                       gender=it.gender, custom=it.custom or None, resample_to=SAMPLE_RATE)
        out.setdefault(it.split, []).append(cut)
    return out


def write_corpus(out: Path, name: str, splits: dict[str, list], report: SkipReport,
                 aggregate: Callable[[str], str] | None = None, extra: dict | None = None) -> dict:
    """Write ``cuts_{split}.jsonl.gz`` (and, with ``aggregate``, ``cuts_{train,dev,test}``),
    ``stats.json`` and ``skipped.json``; print the skip summary. Splits without any utterance get
    no file (lhotse cannot read an empty manifest), only a zero line in stats.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for split, cuts in splits.items():
        write_cuts(out, split, cuts)
    stats_splits = {k: split_stats(v) for k, v in splits.items()}
    if aggregate:
        groups: dict[str, list] = {}
        for split in sorted(splits):
            groups.setdefault(aggregate(split), []).extend(splits[split])
        for g, cuts in groups.items():
            if g not in splits:
                write_cuts(out, g, cuts)
                stats_splits[g] = split_stats(cuts)
    # an empty manifest is not written (lhotse cannot read one back): say which splits are absent
    stats_splits.update({g: split_stats([]) for g in ("train", "dev", "test") if g not in stats_splits})
    stats = {"corpus": name, "splits": stats_splits, "skipped": report.to_dict(), **(extra or {})}
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    report.write(out / "skipped.json")
    print(report.summary())
    return stats
