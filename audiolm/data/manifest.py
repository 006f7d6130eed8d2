"""Helpers shared by the corpus recipes: one cut per utterance with our supervision fields, and
deterministic manifest writing (``OUT/cuts_{split}.jsonl.gz``, gzip without a timestamp so the
same input gives byte-identical files)."""

from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path
from typing import Iterable, Sequence

from lhotse import AudioSource, MonoCut, Recording, SupervisionSegment
from lhotse.supervision import AlignmentItem

SAMPLE_RATE = 24000


def read_cutset(path: str | Path):
    """A CutSet manifest read whole, with one-line errors naming the file (missing, truncated, not JSON)."""
    import tarfile
    import zlib

    from lhotse import CutSet

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found")
    try:
        return CutSet.from_file(path)
    except (EOFError, OSError, ValueError, KeyError, TypeError, zlib.error, tarfile.TarError) as e:
        raise ValueError(f"{path}: damaged or not a lhotse CutSet manifest ({type(e).__name__}: {str(e)[:200]})") from None


def make_recording(rec_id: str, path: str | Path, sampling_rate: int, num_samples: int, channels: Sequence[int] = (0,)) -> Recording:
    return Recording(
        id=rec_id,
        sources=[AudioSource(type="file", channels=list(channels), source=str(path))],
        sampling_rate=int(sampling_rate),
        num_samples=int(num_samples),
        duration=num_samples / sampling_rate,
    )


def make_cut(
    cut_id: str,
    recording: Recording,
    *,
    text: str,
    speaker: str,
    document: str,
    position: int,
    language: str = "en",
    start: float = 0.0,
    duration: float | None = None,
    gender: str | None = None,
    alignment: dict | None = None,
    custom: dict | None = None,
    resample_to: int | None = None,
) -> MonoCut:
    """A MonoCut over ``recording[start:start+duration]`` with one supervision carrying our fields.

    ``alignment``: ``{"word": [(symbol, start, duration)], "phone": [...]}`` relative to the cut
    start. ``resample_to``: mark the cut for on-the-fly resampling (lhotse ``Recording.resample``).
    """
    if resample_to and recording.sampling_rate != resample_to:
        recording = recording.resample(resample_to)
    if duration is None:
        duration = recording.duration - start
    ali = None
    if alignment:
        ali = {k: [AlignmentItem(symbol=s, start=float(a), duration=float(d)) for s, a, d in v] for k, v in alignment.items()}
    sup = SupervisionSegment(
        id=cut_id,
        recording_id=recording.id,
        start=0.0,  # relative to the cut
        duration=duration,
        channel=0,
        text=text,
        speaker=speaker,
        language=language,
        gender=gender,
        custom={"document": document, "position": int(position), **(custom or {})},
        alignment=ali,
    )
    return MonoCut(id=cut_id, start=start, duration=duration, channel=0, supervisions=[sup], recording=recording)


def write_jsonl_gz(path: str | Path, items: Iterable[dict]) -> int:
    """JSON lines, gzip with mtime 0 (byte-identical for identical content). Returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        buf = io.TextIOWrapper(gz, encoding="utf-8")
        for d in items:
            buf.write(json.dumps(d, ensure_ascii=False))
            buf.write("\n")
            n += 1
        buf.flush()
        buf.detach()
    tmp.replace(path)
    return n


def write_cuts(out_dir: str | Path, split: str, cuts: Iterable[MonoCut]) -> int:
    """``OUT/cuts_{split}.jsonl.gz``; readable with ``lhotse.CutSet.from_file``."""
    return write_jsonl_gz(Path(out_dir) / f"cuts_{split}.jsonl.gz", (c.to_dict() for c in cuts))


def split_stats(cuts: Sequence[MonoCut]) -> dict:
    sups = [c.supervisions[0] for c in cuts]
    return {
        "utterances": len(cuts),
        "documents": len({s.custom["document"] for s in sups}),
        "speakers": len({s.speaker for s in sups}),
        "hours": round(sum(c.duration for c in cuts) / 3600, 4),
        "words": sum(len((s.text or "").split()) for s in sups),
    }


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
