"""Tiny fake corpora in the published on-disk layouts, for the data tests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float, sr: int, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(path: Path, seconds: float, sr: int, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, sr), sr, format=fmt)
    return path


def audio_bytes(seconds: float, sr: int, fmt: str) -> bytes:
    b = io.BytesIO()
    sf.write(b, tone(seconds, sr), sr, format=fmt)
    return b.getvalue()


def make_librispeech(root: Path, bad: bool = False) -> Path:
    """LibriSpeech/{dev-clean,train-clean-5}/SPK/CHAPTER/{SPK-CHAPTER.trans.txt, SPK-CHAPTER-NNNN.flac}."""
    base = root / "LibriSpeech"
    for part, spk, chap in (("dev-clean", "84", "121123"), ("train-clean-5", "19", "198")):
        d = base / part / spk / chap
        lines = []
        for i in range(3):
            utt = f"{spk}-{chap}-{i:04d}"
            write_audio(d / f"{utt}.flac", 0.5 + 0.1 * i, 16000)
            lines.append(f"{utt} HELLO WORLD NUMBER {i}")
        (d / f"{spk}-{chap}.trans.txt").write_text("\n".join(lines) + "\n")
    if bad:
        d = base / "train-clean-5" / "19" / "227"
        write_audio(d / "19-227-0000.flac", 0.5, 16000)  # good
        (d / "19-227-0001.flac").write_bytes(b"not a flac file at all")  # corrupt
        write_audio(d / "19-227-0002.flac", 0.5, 16000)  # empty transcript
        write_audio(d / "19-227-0004.flac", 3.0, 16000)  # too long (max_duration=2 in the test)
        # 19-227-0003: no audio file
        text = ("19-227-0000 CAF\xe9 OK\n19-227-0001 CORRUPT AUDIO\n19-227-0002\n19-227-0003 NO AUDIO\n"
                "19-227-0004 TOO LONG\n").encode("latin-1")  # not UTF-8
        (d / "19-227.trans.txt").write_bytes(text)
    return root


def make_libritts(root: Path) -> Path:
    """LibriTTS/dev-clean/SPK/CHAPTER/{SPK_CHAPTER.trans.tsv, SPK_CHAPTER_PPPPPP_SSSSSS.wav} at 24 kHz."""
    d = root / "LibriTTS" / "dev-clean" / "84" / "121123"
    lines = []
    for i, (para, sent) in enumerate(((0, 0), (0, 1), (1, 0))):
        utt = f"84_121123_{para:06d}_{sent:06d}"
        write_audio(d / f"{utt}.wav", 0.4, 24000)
        lines.append(f"{utt}\tOriginal text {i}.\tNormalized text {i}.")
        (d / f"{utt}.normalized.txt").write_text(f"Normalized text {i}.")
        (d / f"{utt}.original.txt").write_text(f"Original text {i}.")
    (d / "84_121123.trans.tsv").write_text("\n".join(lines) + "\n")
    (d / "84_121123.book.tsv").write_text("\n".join(l.split("\t")[0] + "\tx\tx\t20.5" for l in lines) + "\n")
    (root / "LibriTTS" / "SPEAKERS.txt").write_text(";ID|SEX|SUBSET|MINUTES|NAME\n84|F|dev-clean|8.02|Christie\n")
    return root


def emilia_record(utt: str, text: str) -> dict:
    return {"id": utt, "wav": f"{utt.rsplit('_', 1)[0]}/mp3/{utt}.mp3", "text": text, "duration": 0.5,
            "speaker": utt.rsplit("_", 1)[0], "language": "en", "dnsmos": 3.3}


def make_emilia_jsonl(root: Path, bad: bool = False) -> Path:
    """Emilia (lhotse layout): raw/EN/EN_B00000.jsonl + raw/EN/EN_B00000_S00000/mp3/*.mp3."""
    d = root / "raw" / "EN"
    d.mkdir(parents=True, exist_ok=True)
    recs = []
    for s in range(2):
        for w in range(3):
            utt = f"EN_B00000_S{s:05d}_W{w:06d}"
            rec = emilia_record(utt, f"Sentence {w} of source {s}.")
            (d / rec["wav"]).parent.mkdir(parents=True, exist_ok=True)
            (d / rec["wav"]).write_bytes(audio_bytes(0.5, 24000, "MP3"))
            recs.append(json.dumps(rec))
    if bad:
        recs.append("{not json")
        r = emilia_record("EN_B00000_S00009_W000000", "")  # empty text
        (d / r["wav"]).parent.mkdir(parents=True, exist_ok=True)
        (d / r["wav"]).write_bytes(audio_bytes(0.5, 24000, "MP3"))
        recs.append(json.dumps(r))
        recs.append(json.dumps(emilia_record("EN_B00000_S00009_W000001", "No audio file.")))
    (d / "EN_B00000.jsonl").write_text("\n".join(recs) + "\n")
    return root


def make_emilia_tar(root: Path, bad: bool = False) -> Path:
    """Emilia (Hugging Face WebDataset release): EN/EN-B000000.tar with KEY.mp3 + KEY.json."""
    d = root / "EN"
    d.mkdir(parents=True, exist_ok=True)
    members: list[tuple[str, bytes]] = []
    for s in range(2):
        for w in range(2):
            utt = f"EN_B000000_S{s:06d}_W{w:06d}"
            members.append((f"{utt}.mp3", audio_bytes(0.5, 24000, "MP3")))
            members.append((f"{utt}.json", json.dumps({"id": utt, "text": f"Tar sentence {w}.", "duration": 0.5,
                                                       "speaker": f"EN_B000000_S{s:06d}", "language": "en"}).encode()))
    if bad:
        members.append(("EN_B000000_S000009_W000000.mp3", b"garbage bytes, not mp3"))
        members.append(("EN_B000000_S000009_W000000.json", json.dumps({"id": "EN_B000000_S000009_W000000", "text": "x"}).encode()))
        members.append(("EN_B000000_S000009_W000001.mp3", audio_bytes(0.5, 24000, "MP3")))  # no json
    with tarfile.open(d / "EN-B000000.tar", "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return root


def make_yodas(root: Path, bad: bool = False) -> Path:
    """YODAS2: data/en000/audio/00000000.tar.gz (VIDEO.wav) + data/en000/text/00000000.json."""
    lang = root / "data" / "en000"
    (lang / "audio").mkdir(parents=True, exist_ok=True)
    (lang / "text").mkdir(parents=True, exist_ok=True)
    entries = []
    with tarfile.open(lang / "audio" / "00000000.tar.gz", "w:gz") as tar:
        for v, vid in enumerate(("vidAAAAAAA", "vidBBBBBBB")):
            data = audio_bytes(6.0, 24000 if v == 0 else 16000, "WAV")  # the second needs resampling
            info = tarfile.TarInfo(f"{vid}.wav")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            utts = {f"{vid}-{i:05d}-{i * 150:08d}-{i * 150 + 120:08d}": f"utterance {i} of {vid}" for i in range(3)}
            entries.append({"audio_id": vid, "text": utts})
    if bad:
        entries[0]["text"]["vidAAAAAAA-00003-00000500-00000900"] = "runs past the end of the audio"
        entries[0]["text"]["vidAAAAAAA-00004-00000450-00000500"] = "   "
        entries.append({"audio_id": "vidMISSING", "text": {"vidMISSING-00000-00000000-00000100": "no audio"}})
    (lang / "text" / "00000000.json").write_text(json.dumps(entries))
    return root
