"""Emilia -> ``OUT/cuts_{split}.jsonl.gz`` (documents = source recordings).

lhotse's ``prepare_emilia`` layout (``LANG/*.jsonl`` + mp3 under ``LANG/``), and the Hugging Face
WebDataset release (``LANG/LANG-B000000.tar`` of ``ID.mp3`` + ``ID.json``), whose audio we extract
to FLAC. Documents = source (``EN_B00000_S00000``), position = segment order. No published split:
a deterministic hash of the document id sends a document to dev or test.
"""

from __future__ import annotations

import io
import json
import logging
import re
import tarfile
from pathlib import Path

from audiolm.data.corpora import (MAX_DURATION, Item, LayoutError, _require_dir, hash_split, items_to_cuts, read_text_file,
                                  write_corpus)
from audiolm.data.audio_files import write_flac
from audiolm.skips import SkipReport

log = logging.getLogger("audiolm")

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
                write_flac(dest, data.mean(axis=1), sr)
            except Exception:
                report.skip("unreadable_audio", name)
                continue
        it = _emilia_json_item(rec, dest, lang_dir, dev, test, report)
        if it:
            items.append(it)
    return items
