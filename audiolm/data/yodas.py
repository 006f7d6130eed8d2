"""YODAS2 -> ``OUT/cuts_{split}.jsonl.gz`` (documents = videos).

``data/<lang>000/audio/NNNNNNNN.tar.gz`` (long-form audio, one file per video) and
``data/<lang>000/text/NNNNNNNN.json`` (timed utterances); cuts are windows over the long
recordings. No published split: a deterministic hash of the document id sends a document to dev or
test.
"""

from __future__ import annotations

import json
import logging
import re
import tarfile
from pathlib import Path
from typing import Iterator

from audiolm.data.corpora import (MAX_DURATION, Item, LayoutError, _require_dir, hash_split, items_to_cuts, read_text_file,
                                  write_corpus)
from audiolm.skips import SkipReport

log = logging.getLogger("audiolm")

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
