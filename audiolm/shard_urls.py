"""Shards that are not on local disk: ``pipe:`` commands and URLs, read through lhotse's I/O backends.

A cluster keeps its token (or audio) shards on shared or object storage; training and
``audiolm tokenize`` read them where they are, one shard at a time. A remote source is written the
way lhotse and WebDataset users write shard lists, naming the ``cuts`` shards with a brace range::

    pipe:cat /shared/tokens/train/cuts.{000000..000099}.jsonl.gz
    pipe:aws s3 cp s3://bucket/tokens/train/cuts.{000000..000099}.jsonl.gz -
    https://host/tokens/train/cuts.{000000..000099}.jsonl.gz        (needs ``smart_open``)

The other fields of each shard sit beside its cuts (``codes.NNNNNN.tar`` for token shards,
``recording.NNNNNN.tar`` for audio) and the folder's ``codec.json`` in ``DIR.meta/``, as
``audiolm tokenize`` writes them: their addresses are the cuts' with that part of the string
replaced, so a pipe command that reads one file reads the others.

Such addresses come only from the user's command line or training config, never from a data file:
a manifest, ``codec.json`` or shard never names a command that audiolm runs. A gzip stream is
recognised by its magic bytes (``pipe:cat`` passes it on compressed). A command that exits with an
error, or a URL that cannot be read, is a :class:`RemoteReadError` naming the address (after a few
retries), never an empty shard.
"""

from __future__ import annotations

import gzip
import io
import itertools
import logging
import re
import time
from typing import Iterator

log = logging.getLogger("audiolm")

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_BRACE = re.compile(r"\{([^{}]*)\}")
#: the cuts shard inside an address: ``DIR/cuts.NNNNNN.jsonl[.gz]`` (the last one in the string)
_CUTS = re.compile(r"(?P<dir>[^\s'\"<>|;]*)/cuts\.(?P<idx>\d+)\.jsonl(?:\.gz)?")
GZIP_MAGIC = b"\x1f\x8b"
RETRIES = 3
EXAMPLE = "pipe:cat /shared/tokens/train/cuts.{000000..000009}.jsonl.gz"


class RemoteReadError(OSError):
    """A ``pipe:`` command failed or a URL could not be read (the message names it)."""


def is_remote(source: object) -> bool:
    """Whether a source string is a ``pipe:`` command or a URL (not a local path)."""
    s = str(source)
    return s.startswith("pipe:") or bool(_URL.match(s))


def expand_braces(pattern: str) -> list[str]:
    """WebDataset-style expansion: ``{000..012}`` (zero padding kept) and ``{a,b}``, every group."""
    groups, pieces, pos = [], [], 0
    for m in _BRACE.finditer(pattern):
        pieces.append(pattern[pos : m.start()])
        body = m.group(1)
        rng = re.fullmatch(r"(\d+)\.\.(\d+)", body)
        if rng:
            a, b = rng.groups()
            if int(b) < int(a):
                raise ValueError(f"{pattern}: the range {{{body}}} runs backwards")
            width = len(a) if a.startswith("0") or len(a) == len(b) else 0
            groups.append([str(i).zfill(width) for i in range(int(a), int(b) + 1)])
        elif "," in body:
            groups.append(body.split(","))
        else:
            raise ValueError(f"{pattern}: {{{body}}} is neither a range {{000..009}} nor a list {{a,b}}")
        pos = m.end()
    tail = pattern[pos:]
    if "{" in tail or "}" in tail or any("{" in p or "}" in p for p in pieces):
        raise ValueError(f"{pattern}: unbalanced braces")
    out = []
    for combo in itertools.product(*groups):
        out.append("".join(p + c for p, c in zip(pieces, combo)) + tail)
    return out


def names_cuts_shards(address: str) -> bool:
    """Whether an address (or brace pattern) names lhotse Shar cuts shards (``.../cuts.NNNNNN.jsonl[.gz]``)."""
    return _CUTS.search(expand_braces(address)[0]) is not None


def _cuts_match(address: str) -> re.Match:
    ms = list(_CUTS.finditer(address))
    if not ms:
        raise ValueError(f"shard source {address!r}: name its cuts shards as .../cuts.NNNNNN.jsonl.gz with a range, "
                         f"e.g. {EXAMPLE!r} (the other fields beside them are found from it)")
    return ms[-1]


def field_address(cuts_address: str, field: str) -> str:
    """The address of ``field.NNNNNN.tar`` beside a cuts shard (same command or URL, other file)."""
    m = _cuts_match(cuts_address)
    return cuts_address[: m.start()] + f"{m.group('dir')}/{field}.{m.group('idx')}.tar" + cuts_address[m.end() :]


def meta_address(cuts_address: str, name: str) -> str:
    """The address of ``DIR.meta/name`` of the folder a cuts shard is in."""
    m = _cuts_match(cuts_address)
    return cuts_address[: m.start()] + f"{m.group('dir')}.meta/{name}" + cuts_address[m.end() :]


def shard_addresses(source: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """``[{"cuts": ..., field: ...}, ...]`` of a remote source pattern, in shard order."""
    cuts = expand_braces(source)
    for c in cuts:
        _cuts_match(c)
    return [{"cuts": c, **{f: field_address(c, f) for f in fields}} for c in cuts]


def read_bytes(address: str, retries: int | None = None) -> bytes:
    """The whole stream at ``address``; a failing command or URL raises ``OSError`` naming it."""
    from lhotse.serialization import open_best

    retries = RETRIES if retries is None else retries
    last: BaseException | None = None
    for attempt in range(retries):
        try:
            f = open_best(address, "rb")
            try:
                data = f.read()
            finally:
                f.close()
            _check_exit(f)
            return data
        except Exception as e:  # lhotse raises bare Exception for a failed command
            last = e
            if attempt + 1 < retries:
                time.sleep(0.5 * 2**attempt)
    raise RemoteReadError(f"{address}: could not be read after {retries} tries ({_why(last)})")


def _why(e: BaseException | None) -> str:
    """One line for a read failure (lhotse's failed-command message made readable)."""
    text = str(e).splitlines()[0] if e is not None and str(e) else ""
    m = re.search(r"exit (\d+) \(read\)", text) or re.match(r"the command exited with status (\d+)", text)
    if m:  # lhotse's own check or ours (_check_exit), whichever sees the exit first: one message
        return f"the command exited with status {m.group(1)}"
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__


def _check_exit(f) -> None:
    """A command's exit status (lhotse's ``Pipe`` keeps it; its own check races with the exit)."""
    status = getattr(f, "status", None)
    if status not in (None, 0):
        raise OSError(f"the command exited with status {status}")


def maybe_gunzip(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


class _Raw(io.RawIOBase):
    """A readable raw stream over lhotse's opened object (so gzip and line reading work on it)."""

    def __init__(self, f) -> None:
        self.f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.f.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self.f.close()
            finally:
                super().close()


def iter_lines(address: str) -> Iterator[bytes]:
    """Stream the lines at ``address`` (gunzipped when gzip); a failing command raises ``OSError``."""
    from lhotse.serialization import open_best

    try:
        raw = io.BufferedReader(_Raw(open_best(address, "rb")))
        head = raw.peek(2)[:2]
        stream = gzip.GzipFile(fileobj=raw) if head == GZIP_MAGIC else raw
        with raw, stream:
            yield from stream
        _check_exit(raw.raw.f)
    except Exception as e:  # lhotse raises bare Exception for a failed command
        raise RemoteReadError(f"{address}: could not be read ({_why(e)})") from None
