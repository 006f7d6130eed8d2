"""Real corpora -> ``OUT/cuts_{split}.jsonl.gz`` with our supervision fields.

Every reader yields :class:`Item` s (one utterance: where its audio is, transcript, speaker,
document and an order key); :func:`items_to_cuts` checks each one (readable, non-empty audio, a
transcript, a sane duration, the sample rate) and turns the good ones into cuts, counting the bad
ones by reason in a :class:`~audiolm.skips.SkipReport`. A bad item is skipped or repaired, never
fatal; a wrong path or an unknown layout is a clear error (:class:`LayoutError`).

- LibriSpeech / LibriTTS: lhotse's recipes (``prepare_librispeech`` / ``prepare_libritts``) read
  the published layout. Those recipes stop at the first unreadable file or malformed line, so
  when one raises we read the same layout again item by item (``_librispeech_items`` /
  ``_libritts_items``) and skip only the bad items. Documents = chapters (``spk-chapter``),
  position = utterance order in the chapter. Splits keep the published part names
  (``cuts_dev-clean.jsonl.gz``, ...) and are also gathered into ``cuts_{train,dev,test}``.
- Emilia: lhotse's ``prepare_emilia`` layout (``LANG/*.jsonl`` + mp3 under ``LANG/``), and the
  Hugging Face WebDataset release (``LANG/LANG-B000000.tar`` of ``ID.mp3`` + ``ID.json``), whose
  audio we extract to FLAC. Documents = source (``EN_B00000_S00000``), position = segment order.
- YODAS2: ``data/<lang>000/audio/NNNNNNNN.tar.gz`` (long-form audio, one file per video) and
  ``data/<lang>000/text/NNNNNNNN.json`` (timed utterances); cuts are windows over the long
  recordings; documents = videos.
- Emilia and YODAS have no published split: a deterministic hash of the document id sends a
  document to dev or test (``--dev-fraction`` / ``--test-fraction``).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

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


# ---------------------------------------------------------------------------------------------
# Emilia

_EMILIA_ID = re.compile(r"^(?P<doc>[A-Za-z]+_B\d+_S\d+)_W(?P<w>\d+)$")


def _emilia_doc(utt: str, rec: dict) -> tuple[str, tuple]:
    m = _EMILIA_ID.match(utt)
    if m:
        return m.group("doc"), (int(m.group("w")), utt)
    return str(rec.get("speaker") or utt.rsplit("_", 1)[0]), (utt,)


def _emilia_json_item(rec: dict, audio: Path | None, lang_dir: str, dev: float, test: float, report: SkipReport) -> Item | None:
    utt = str(rec.get("id") or rec.get("key") or "")
    if not utt:
        report.skip("missing_id", str(audio))
        return None
    doc, order = _emilia_doc(utt, rec)
    lang = str(rec.get("language") or lang_dir.lower()).lower()
    custom = {k: rec[k] for k in ("dnsmos",) if isinstance(rec.get(k), (int, float))}
    return Item(utt, rec.get("text"), str(rec.get("speaker") or doc), doc, order, hash_split(doc, dev, test),
                audio=audio, language=lang, custom=custom)


def _emilia_lang_dirs(corpus_dir: Path) -> list[Path]:
    dirs = [d for d in sorted(corpus_dir.iterdir()) if d.is_dir() and (list(d.glob("*.jsonl")) or list(d.glob("*.tar")))]
    if not dirs and (list(corpus_dir.glob("*.jsonl")) or list(corpus_dir.glob("*.tar"))):
        dirs = [corpus_dir]
    return dirs


def prepare_emilia(corpus_dir, out, *, dev_fraction: float = 0.01, test_fraction: float = 0.01,
                   max_duration: float = MAX_DURATION, languages: list[str] | None = None) -> dict:
    corpus_dir = _require_dir(Path(corpus_dir), "the Emilia folder (LANG/*.jsonl + mp3, or LANG/LANG-B000000.tar)")
    if (corpus_dir / "raw").is_dir() and not _emilia_lang_dirs(corpus_dir):
        corpus_dir = corpus_dir / "raw"
    lang_dirs = _emilia_lang_dirs(corpus_dir)
    if languages:
        lang_dirs = [d for d in lang_dirs if d.name.upper() in {l.upper() for l in languages}]
    if not lang_dirs:
        raise LayoutError(f"{corpus_dir}: no Emilia data found (expected LANG/*.jsonl with mp3 files beside them, "
                          f"as lhotse's prepare_emilia reads, or the WebDataset release LANG/LANG-B000000.tar)")
    out = Path(out)
    report = SkipReport("prepare emilia")
    items: list[Item] = []
    for d in lang_dirs:
        lhotse_items = _lhotse_emilia(d, dev_fraction, test_fraction, report)
        if lhotse_items is not None:
            items += lhotse_items
        for jf in sorted(d.glob("*.jsonl")) if lhotse_items is None else []:
            for n, line in enumerate(read_text_file(jf, report).splitlines()):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict):
                        raise ValueError("not an object")
                except ValueError:
                    report.skip("bad_json", f"{jf.name}:{n + 1}")
                    continue
                wav = rec.get("wav") or rec.get("audio") or rec.get("path")
                audio = (d / wav) if isinstance(wav, str) and wav else None
                it = _emilia_json_item(rec, audio, d.name, dev_fraction, test_fraction, report)
                if it:
                    items.append(it)
        for tf in sorted(d.glob("*.tar")):
            items += _emilia_tar_items(tf, d.name, out / "audio" / d.name / tf.stem, dev_fraction, test_fraction, report)
    splits = items_to_cuts(items, report, max_duration)
    return write_corpus(out, "emilia", splits, report)


def _lhotse_emilia(lang_dir: Path, dev: float, test: float, report: SkipReport) -> list[Item] | None:
    """lhotse's ``prepare_emilia`` for its layout (``CORPUS/raw/LANG/*.jsonl``); None when it does not
    apply or fails on a bad item (then the per-line reader runs and counts the bad items)."""
    if lang_dir.parent.name != "raw" or lang_dir.name.upper() not in ("DE", "EN", "FR", "JA", "KO", "ZH"):
        return None
    if not list(lang_dir.glob("*.jsonl")):
        return None
    try:
        from lhotse.recipes.emilia import prepare_emilia as lhotse_prepare

        cuts = lhotse_prepare(lang_dir.parent.parent, lang_dir.name.lower(), num_jobs=4)
        n_lines = sum(1 for jf in lang_dir.glob("*.jsonl") for line in jf.read_text("utf-8").splitlines() if line.strip())
        if len(cuts) != n_lines:  # lhotse drops a line whose audio is missing without a word
            raise FileNotFoundError(f"{n_lines - len(cuts)} utterances without audio")
    except Exception as e:
        log.warning("lhotse prepare_emilia failed on %s (%s); reading line by line", lang_dir, e)
        report.repair("lhotse_recipe_fallback", f"{lang_dir.name}: {type(e).__name__}")
        return None
    items = []
    for c in cuts:
        sup = c.supervisions[0]
        rec = {"id": c.id, "speaker": sup.speaker, "language": sup.language, "text": sup.text, **(sup.custom or {})}
        it = _emilia_json_item(rec, None, lang_dir.name, dev, test, report)
        if it:
            it.recording = c.recording
            items.append(it)
    return items


def _emilia_tar_items(tar_path: Path, lang_dir: str, audio_out: Path, dev: float, test: float,
                      report: SkipReport) -> list[Item]:
    """WebDataset shard: members ``KEY.mp3`` + ``KEY.json``; audio is re-encoded to FLAC under ``audio_out``."""
    import soundfile as sf

    groups: dict[str, dict[str, bytes]] = {}
    try:
        with tarfile.open(tar_path) as tar:
            for m in tar:
                if not m.isfile():
                    continue
                key, _, ext = m.name.rpartition(".")
                if not key:
                    continue
                f = tar.extractfile(m)
                if f is not None:
                    groups.setdefault(key, {})[ext.lower()] = f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        report.skip("unreadable_tar", f"{tar_path.name} ({e})")
        if not groups:
            return []
    items = []
    audio_out.mkdir(parents=True, exist_ok=True)
    for key, parts in sorted(groups.items()):
        name = key.rsplit("/", 1)[-1]
        meta = parts.get("json")
        if meta is None:
            report.skip("missing_transcript", name)
            continue
        try:
            rec = json.loads(meta.decode("utf-8", errors="replace"))
            if not isinstance(rec, dict):
                raise ValueError
        except ValueError:
            report.skip("bad_json", name)
            continue
        rec.setdefault("id", name)
        audio_bytes = next((parts[e] for e in ("mp3", "flac", "wav", "ogg", "opus") if e in parts), None)
        if audio_bytes is None:
            report.skip("missing_audio", name)
            continue
        dest = audio_out / f"{rec['id']}.flac"
        if not dest.exists():
            try:
                data, sr = sf.read(io.BytesIO(audio_bytes), dtype="float32", always_2d=True)
                if len(data) == 0:
                    raise ValueError("empty")
                tmp = dest.with_name(dest.name + ".tmp")
                sf.write(str(tmp), data.mean(axis=1), sr, format="FLAC", subtype="PCM_16")
                tmp.replace(dest)  # a killed run never leaves a truncated file that a rerun would reuse
            except Exception:
                report.skip("unreadable_audio", name)
                continue
        it = _emilia_json_item(rec, dest, lang_dir, dev, test, report)
        if it:
            items.append(it)
    return items


# ---------------------------------------------------------------------------------------------
# YODAS2

_YODAS_UTT = re.compile(r"^(?P<vid>.+)-(?P<idx>\d{5})-(?P<start>\d{8})-(?P<end>\d{8})$")


def _yodas_shards(corpus_dir: Path) -> list[tuple[str, Path, Path]]:
    """(lang folder, audio tar.gz, text json) for every shard that has both."""
    data = corpus_dir / "data" if (corpus_dir / "data").is_dir() else corpus_dir
    shards = []
    for lang in sorted(p for p in data.iterdir() if p.is_dir() and (p / "audio").is_dir()):
        for tar in sorted((lang / "audio").glob("*.tar.gz")):
            shard = tar.name[: -len(".tar.gz")]
            shards.append((lang.name, tar, lang / "text" / f"{shard}.json"))
    return shards


def _yodas_entries(obj) -> Iterator[tuple[str, dict]]:
    """Normalise the text JSON: a list of {"audio_id", "text": {utt_id: text}} (the YODAS2 release),
    or a dict {audio_id: {utt_id: text}}; utterance values may be a string or {"text", "start", "end"}."""
    if isinstance(obj, dict):
        obj = [{"audio_id": k, "text": v} for k, v in obj.items()]
    if not isinstance(obj, list):
        return
    for entry in obj:
        if isinstance(entry, dict) and isinstance(entry.get("text"), dict):
            yield str(entry.get("audio_id") or ""), entry["text"]


def prepare_yodas(corpus_dir, out, *, dev_fraction: float = 0.01, test_fraction: float = 0.01,
                  max_duration: float = MAX_DURATION, languages: list[str] | None = None) -> dict:
    corpus_dir = _require_dir(Path(corpus_dir), "the YODAS2 folder with data/<lang>000/audio/*.tar.gz and data/<lang>000/text/*.json")
    shards = _yodas_shards(corpus_dir)
    if languages:
        shards = [s for s in shards if any(s[0].startswith(l) for l in languages)]
    if not shards:
        raise LayoutError(f"{corpus_dir}: no YODAS2 shard found (expected data/<lang>000/audio/NNNNNNNN.tar.gz "
                          f"with data/<lang>000/text/NNNNNNNN.json beside it)")
    out = Path(out)
    report = SkipReport("prepare yodas")
    items: list[Item] = []
    for lang_dir, tar_path, text_path in shards:
        lang = re.sub(r"\d+$", "", lang_dir) or "en"
        if not text_path.is_file():
            report.skip("missing_transcript_file", str(text_path))
            continue
        try:
            obj = json.loads(read_text_file(text_path, report))
        except ValueError:
            report.skip("bad_json", str(text_path))
            continue
        audio_dir = out / "audio" / lang_dir / tar_path.name[: -len(".tar.gz")]
        audio_files = _extract_audio_tar(tar_path, audio_dir, report)
        for vid, utts in _yodas_entries(obj):
            audio = audio_files.get(vid)
            for utt_id, val in utts.items():
                text, start, end = val, None, None
                if isinstance(val, dict):
                    text, start, end = val.get("text"), val.get("start"), val.get("end")
                m = _YODAS_UTT.match(str(utt_id))
                if start is None and m:
                    start, end = int(m.group("start")) / 100.0, int(m.group("end")) / 100.0
                if start is None or end is None:
                    report.skip("missing_timestamps", str(utt_id))
                    continue
                if audio is None:
                    report.skip("missing_audio", str(utt_id))
                    continue
                items.append(Item(str(utt_id), text, vid, vid, (float(start), str(utt_id)),
                                  hash_split(vid, dev_fraction, test_fraction), audio=audio, recording_id=vid,
                                  start=round(float(start), 6), duration=round(float(end) - float(start), 6), language=lang))
    splits = items_to_cuts(items, report, max_duration)
    return write_corpus(out, "yodas", splits, report)


def _extract_audio_tar(tar_path: Path, dest: Path, report: SkipReport) -> dict[str, Path]:
    """Extract the audio files of a tar(.gz) once; returns {audio id (file stem): path}."""
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    try:
        with tarfile.open(tar_path) as tar:
            for m in tar:
                if not m.isfile():
                    continue
                name = Path(m.name).name
                stem, _, ext = name.rpartition(".")
                if ext.lower() not in ("wav", "flac", "mp3", "ogg", "opus", "m4a"):
                    continue
                path = dest / name
                if not path.exists() or path.stat().st_size != m.size:
                    f = tar.extractfile(m)
                    if f is None:
                        continue
                    tmp = path.with_name(path.name + ".tmp")
                    tmp.write_bytes(f.read())
                    tmp.replace(path)
                files[stem] = path
    except (tarfile.TarError, OSError, EOFError) as e:
        report.skip("unreadable_tar", f"{tar_path.name} ({e})")
    return files
