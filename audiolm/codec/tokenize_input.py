"""What ``audiolm tokenize`` reads: a CutSet manifest or lhotse Shar audio shards, local or remote.

- a manifest file (``.jsonl[.gz]``, or any format ``CutSet.from_file`` opens);
- a manifest stream given as a ``pipe:`` command or URL (``pipe:aws s3 cp s3://b/cuts.jsonl.gz -``);
- a local Shar folder of audio (``cuts.NNNNNN.jsonl.gz`` + ``recording.NNNNNN.tar``, as
  ``CutSet.to_shar(fields={"recording": "flac"})`` writes);
- remote Shar shards named by their cuts with a brace range
  (``pipe:cat /shared/yodas/cuts.{000000..000999}.jsonl.gz``, :mod:`audiolm.shard_urls`), the
  ``recording`` tars beside them.

The plan of a run is keyed by the cuts alone (:func:`~audiolm.codec.tokenize_progress.manifest_fingerprint`),
so for Shar input that pass reads only the small cuts files; the audio is read once, when encoded.
Remote shards are fetched one at a time (a failing command or URL is an error naming it).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from audiolm.shard_urls import GZIP_MAGIC, is_remote, iter_lines, names_cuts_shards, read_bytes, shard_addresses


@dataclass
class TokenizeInput:
    """The cuts to tokenize: ``cuts()`` without audio (for the plan), ``with_audio()`` to encode."""

    name: str
    cuts: Callable[[], Iterable]
    with_audio: Callable[[], Iterable]
    #: whether worker processes can be sent this input's cuts as dicts (a file/URL the user named)
    named: bool = True


def open_input(cuts) -> TokenizeInput:
    """The input of ``audiolm tokenize``: a path, ``pipe:``/URL, Shar folder/pattern, or a CutSet."""
    from lhotse import CutSet

    if not isinstance(cuts, (str, Path)):
        return TokenizeInput("the given CutSet", lambda: cuts, lambda: cuts, named=False)
    name = str(cuts)
    if is_remote(name):
        if names_cuts_shards(name):
            shards = shard_addresses(name, ("recording",))
            return TokenizeInput(name, lambda: _remote_shar(shards, audio=False), lambda: _remote_shar(shards, audio=True))
        from lhotse.serialization import deserialize_item

        stream = lambda: (deserialize_item(d) for d in _json_lines(name))  # noqa: E731
        return TokenizeInput(name, stream, stream)
    p = Path(name)
    if p.is_dir():
        cut_files = sorted(p.glob("cuts.*.jsonl*"))
        if not cut_files:
            raise FileNotFoundError(f"{p}: no cuts.*.jsonl.gz (expected a CutSet manifest, or a lhotse Shar folder "
                                    "with cuts + recording shards)")
        rec_files = [p / f"recording.{f.name.split('.')[1]}.tar" for f in cut_files]
        missing = [r.name for r in rec_files if not r.is_file()]
        if missing:
            raise FileNotFoundError(f"{p}: {len(missing)} cuts shard(s) without their audio ({', '.join(missing[:3])} "
                                    "missing): a Shar folder to tokenize needs recording.NNNNNN.tar beside each cuts shard")
        cuts_only = {"cuts": [str(f) for f in cut_files]}
        both = {**cuts_only, "recording": [str(r) for r in rec_files]}
        return TokenizeInput(name, lambda: CutSet.from_shar(fields=cuts_only), lambda: CutSet.from_shar(fields=both))
    if not p.is_file():
        raise FileNotFoundError(f"input manifest {cuts} not found")
    lazy = (lambda: CutSet.from_jsonl_lazy(p)) if name.endswith((".jsonl", ".jsonl.gz")) else (lambda: CutSet.from_file(p))
    return TokenizeInput(name, lazy, lazy)


def _json_lines(address: str) -> Iterator[dict]:
    for k, line in enumerate(iter_lines(address)):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"{address}: line {k + 1} is not JSON (not a CutSet manifest?)") from None


def _remote_shar(shards: list[dict[str, str]], audio: bool) -> Iterator:
    """Cuts of remote Shar shards, one shard fetched at a time (with their audio when ``audio``)."""
    from lhotse import CutSet

    for s in shards:
        data = read_bytes(s["cuts"])
        rec = read_bytes(s["recording"]) if audio else None
        with tempfile.TemporaryDirectory(prefix="audiolm-input-") as tmp:
            c = Path(tmp) / ("cuts.000000.jsonl.gz" if data[:2] == GZIP_MAGIC else "cuts.000000.jsonl")
            c.write_bytes(data)
            fields = {"cuts": [str(c)]}
            if rec is not None:
                r = Path(tmp) / "recording.000000.tar"
                r.write_bytes(rec)
                fields["recording"] = [str(r)]
            cuts = list(CutSet.from_shar(fields=fields))  # read before the scratch folder goes
        for c in cuts:
            c.shard_origin = s["cuts"]  # lhotse's note of where a cut came from: the address, not the scratch copy
        yield from cuts
