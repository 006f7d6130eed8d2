"""Reading a cut's audio as data, not as instructions: source types, file headers, skip reasons.

A manifest is a file a user downloads. lhotse lets a recording's source be a shell command
(``type: "command"``) or a URL (``type: "url"``); loading such a cut runs the command or fetches the
URL. Here only ``file`` and ``memory`` sources are read unless the user opts in with
``AUDIOLM_ALLOW_SOURCES=command,url`` (or ``audiolm tokenize --allow-sources``).

A file's own header is checked against the manifest before lhotse reads it: a 16 kHz file listed
as 24 kHz would otherwise be decoded at the wrong speed and pitch. Audio that cannot be used raises
:class:`AudioSkip` with one of a few distinct reasons (missing, empty, truncated, duration
mismatch, corrupt, refused source, no finite sample) and the reader's own message as detail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ALLOW_ENV = "AUDIOLM_ALLOW_SOURCES"
SAFE_SOURCE_TYPES = frozenset({"file", "memory"})
#: seconds a file may fall short of the manifest before it counts as truncated (lhotse's default tolerance)
SHORTFALL_TOLERANCE_S = 0.025
HEADER_FIXED = "file header's sample rate/channels differ from the manifest (read at the header's, re-described)"


class AudioSkip(ValueError):
    """This cut's audio cannot be used; ``reason`` is the short category, ``detail`` the specifics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class CutAudio:
    """Audio ``[C, S]`` at ``sample_rate``, the cut it belongs to (corrected when its header disagreed)."""

    audio: np.ndarray
    sample_rate: int
    cut: object
    notes: list[str] = field(default_factory=list)


def allowed_source_types() -> frozenset[str]:
    extra = {t.strip() for t in os.environ.get(ALLOW_ENV, "").split(",") if t.strip()}
    return SAFE_SOURCE_TYPES | extra


def check_source_types(cut) -> None:
    """Raise :class:`AudioSkip` when a source of ``cut`` would run a command or fetch a URL."""
    rec = getattr(cut, "recording", None)
    if rec is None:
        for track in getattr(cut, "tracks", None) or []:
            check_source_types(track.cut)
        return
    allowed = allowed_source_types()
    for src in rec.sources:
        if src.type not in allowed:
            raise AudioSkip(
                f"refused audio source type '{src.type}'",
                f"cut {cut.id}: {str(src.source)[:120]!r} (a manifest is data; set {ALLOW_ENV}={src.type} to allow it)",
            )


def _file_of(cut) -> Path | None:
    rec = getattr(cut, "recording", None)
    if rec is None or len(rec.sources) != 1 or rec.sources[0].type != "file":
        return None
    return Path(rec.sources[0].source)


def spans_recording(cut) -> bool:
    rec = cut.recording
    return float(cut.start) <= 1e-6 and abs(float(cut.duration) - float(rec.duration)) <= 1.0 / rec.sampling_rate + 1e-6


def with_true_header(cut, sample_rate: int, channels: int, frames: int):
    """``cut`` (spanning its recording) re-described with the file's real rate, channels and length."""
    from lhotse.utils import fastcopy

    rec = cut.recording
    duration = frames / sample_rate
    src = fastcopy(rec.sources[0], channels=list(range(channels)))
    new_rec = fastcopy(rec, sources=[src], sampling_rate=sample_rate, num_samples=frames, duration=duration)
    sups = [fastcopy(s, duration=max(0.0, min(s.end, duration) - s.start)) for s in (cut.supervisions or [])]
    return fastcopy(cut, recording=new_rec, duration=duration, supervisions=sups)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def read_cut_audio(cut) -> CutAudio:
    """The cut's samples ``[C, S]`` at their true rate, after the source and header checks."""
    import soundfile as sf

    check_source_types(cut)
    path = _file_of(cut)
    if path is not None:
        if not path.is_file():
            raise AudioSkip("missing file", str(path))
        if path.stat().st_size == 0:
            raise AudioSkip("empty file", str(path))
        try:
            info = sf.info(str(path))
        except Exception:  # a format libsndfile does not read (e.g. opus via ffmpeg): lhotse decides
            info = None
        if info is not None:
            rec = cut.recording
            m_sr, m_ch = int(rec.sampling_rate), len(rec.channel_ids)
            if info.samplerate != m_sr or info.channels != m_ch:
                what = f"file header {info.samplerate} Hz x {info.channels} ch, manifest {m_sr} Hz x {m_ch} ch"
                if not spans_recording(cut):
                    raise AudioSkip("sample rate/channel mismatch (part of a recording)", f"{path}: {what}")
                try:
                    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
                except Exception as e:
                    raise AudioSkip("corrupt or unreadable audio", f"{path}: {_first_line(e)}") from None
                fixed = with_true_header(cut, int(sr), audio.shape[1], audio.shape[0])
                return CutAudio(audio.T, int(sr), fixed, [HEADER_FIXED])
            short = rec.num_samples - info.frames
            if short > SHORTFALL_TOLERANCE_S * m_sr:
                raise AudioSkip("truncated file", f"{path}: {info.frames} samples, the manifest says {rec.num_samples}")
    try:
        audio = np.asarray(cut.load_audio(), dtype=np.float32)
    except Exception as e:
        msg = _first_line(e)
        if "diverged" in msg or "duration" in msg.lower():
            raise AudioSkip("duration mismatch", f"{cut.id}: {str(e).strip()[:300]}") from None
        detail = " | ".join(line.strip() for line in str(e).splitlines()[1:3] if line.strip()) or msg
        raise AudioSkip("corrupt or unreadable audio", f"{cut.id}: {msg} {detail}".strip()[:400]) from None
    return CutAudio(audio if audio.ndim == 2 else audio[None], int(cut.sampling_rate), cut)


def write_flac(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """16-bit FLAC written under a temporary name, then renamed: a killed run never leaves a truncated
    file under the final name (which a rerun would take as done)."""
    import soundfile as sf

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    sf.write(str(tmp), audio, sample_rate, format="FLAC", subtype="PCM_16")
    os.replace(tmp, path)
    return path
