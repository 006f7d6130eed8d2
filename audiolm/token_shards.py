"""Where a token-shard folder's files live, so that lhotse opens the folder as it is.

``audiolm tokenize ... OUT`` writes only lhotse Shar shards into ``OUT`` (``cuts.NNNNNN.jsonl.gz`` +
``codes.NNNNNN.tar``), so ``lhotse.CutSet.from_shar(in_dir=OUT)`` reads it: that reader takes every
file of the folder as a field, and any other file breaks it. Everything else sits beside it in
``OUT.meta/``:

    OUT.meta/codec.json      the codec description (spec, sample rate, frame rate, codebooks, size)
    OUT.meta/summary.json    counts, skips by reason (when every shard is done)
    OUT.meta/skips.json      every input cut that is not in OUT, with its reason
    OUT.meta/progress/       plan.json, shard-NNNNNN.json markers, part locks
    OUT.meta/tmp/            scratch folders of shards being written

Folders of earlier versions (``codec.json`` and ``.progress/`` inside ``OUT``) are still read, and
``audiolm tokenize`` moves their bookkeeping out with a message on its next run.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from audiolm.jsonfiles import read_json_object

log = logging.getLogger("audiolm")

CODEC_JSON = "codec.json"
LEGACY_FILES = ("codec.json", "summary.json", "skips.json")
LEGACY_PROGRESS = ".progress"


def meta_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.parent / f"{out.name}.meta"


def progress_dir(out: str | Path) -> Path:
    return meta_dir(out) / "progress"


def scratch_root(out: str | Path) -> Path:
    return meta_dir(out) / "tmp"


def codec_json_path(out: str | Path) -> Path | None:
    """The codec description of a shard folder (the current place first, then an older version's)."""
    for p in (meta_dir(out) / CODEC_JSON, Path(out) / CODEC_JSON):
        if p.is_file():
            return p
    return None


def read_codec_json(out: str | Path) -> dict | None:
    """``codec.json`` of a shard folder as a dict; None when there is none; one-line errors."""
    path = codec_json_path(out)
    if path is None:
        return None
    return read_json_object(path, "rerun `audiolm tokenize` into this folder to rewrite it")


@dataclass(frozen=True)
class CodecInfo:
    """The codec description of token shards (``codec.json``): what the codes mean."""

    spec: str  # for audiolm.codec.load_codec: a codec checkpoint path or mimi:PATH
    sample_rate: int
    frame_rate: float
    n_codebooks: int
    codebook_size: int

    KEYS = ("spec", "sample_rate", "frame_rate", "n_codebooks", "codebook_size")

    @classmethod
    def from_dict(cls, d: dict, where: str = "codec.json") -> "CodecInfo":
        missing = [k for k in cls.KEYS if k not in d]
        if missing:
            raise ValueError(f"{where}: no {', '.join(missing)} (a codec description has {', '.join(cls.KEYS)})")
        try:
            return cls(str(d["spec"]), int(d["sample_rate"]), float(d["frame_rate"]), int(d["n_codebooks"]),
                       int(d["codebook_size"]))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: a value of {dict((k, d[k]) for k in cls.KEYS)} is not a number") from None

    @classmethod
    def from_stored(cls, d: dict | None, where: str) -> "CodecInfo | None":
        """A description as stored (``codec.json``, a checkpoint's ``audiolm`` entry, ``audiolm.json``),
        by this or an older version: ``spec`` and ``sample_rate`` may be missing (then ``""`` and 0:
        unknown); the frame rate and codebook sizes may not. ``None`` stays None."""
        if d is None:
            return None
        return cls.from_dict({"spec": "", "sample_rate": 0, **d}, where)

    @classmethod
    def of(cls, codec) -> "CodecInfo":
        """The description of a loaded codec (``AudioCodec.info()``)."""
        return cls.from_dict(codec.info(), f"codec {getattr(codec, 'spec', '')}")

    def to_dict(self) -> dict:
        return asdict(self)

    def check_fits(self, vocab, codebooks=None, where: str = "") -> None:
        """The one check that codes of this codec fit a vocabulary (and a layout's codebooks)."""
        at = f"{where}: " if where else ""
        if self.codebook_size != vocab.codebook_size:
            raise ValueError(f"{at}the codec has {self.codebook_size} codes per codebook, the tokenizer "
                             f"{vocab.codebook_size}: not the codec the tokenizer was built for")
        need = max(codebooks) + 1 if codebooks else 1
        if self.n_codebooks < need or vocab.n_codebooks < need:
            raise ValueError(f"{at}codebooks {list(codebooks or [])} need {need} codebooks; the codec has "
                             f"{self.n_codebooks}, the tokenizer {vocab.n_codebooks}")


def read_codec_info(out: str | Path) -> CodecInfo | None:
    """The typed codec description of a shard folder; None when it has none."""
    d = read_codec_json(out)
    return None if d is None else CodecInfo.from_dict(d, str(codec_json_path(out)))


def migrate_legacy(out: str | Path) -> bool:
    """Move an older version's bookkeeping out of ``out`` into ``out.meta/``; -> whether anything moved."""
    out = Path(out)
    meta = meta_dir(out)
    moved = []
    for name in LEGACY_FILES:
        src = out / name
        if src.is_file():
            meta.mkdir(parents=True, exist_ok=True)
            os.replace(src, meta / name)
            moved.append(name)
    old = out / LEGACY_PROGRESS
    if old.is_dir():
        new = progress_dir(out)
        new.mkdir(parents=True, exist_ok=True)
        for f in old.iterdir():
            os.replace(f, new / f.name)
        old.rmdir()
        moved.append(LEGACY_PROGRESS)
    for tmp in out.glob(".tmp-*"):  # scratch of an older version's killed run
        shutil.rmtree(tmp, ignore_errors=True)
    if moved:
        log.warning("%s: moved %s of an older audiolm into %s (lhotse's CutSet.from_shar(in_dir=...) now opens "
                    "the folder as it is)", out, ", ".join(moved), meta)
    return bool(moved)
