"""Text-only corpora -> ``OUT/text_{train,dev}.jsonl.gz`` (one ``{"id", "text"}`` per line).

Inputs (a file, or a folder searched recursively, files in sorted order):

- ``.txt``: one document per *paragraph* (lines separated by one or more blank lines; the lines
  of a paragraph are joined with newlines kept). A file with no blank line at all is therefore
  one document — write one document per line by putting a blank line between them, or use JSONL.
- ``.jsonl``, ``.jsonl.gz``, ``.jsonl.zst`` (Nemotron-CC and most web-text dumps): one JSON
  object per line with a text field (``--field``, default ``text``); ``id`` is kept when present.

A document goes to ``dev`` when a hash of its id falls below ``--dev-fraction`` (deterministic,
independent of file order). Bad lines (invalid JSON, no/empty text) are skipped; in a line with
bytes that are not UTF-8 only those bytes become U+FFFD (the rest of the line stays as written);
a UTF-8 byte-order mark is dropped, NUL characters are removed and repeated ids are warned about,
all counted in ``OUT/skipped.json``. Outputs appear under their final names only when complete: an
interrupted run leaves no half-written ``.jsonl.gz``. No document at all is an error (exit 1).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from pathlib import Path
from typing import Iterator

from audiolm.textfiles import open_compressed
from audiolm.data.corpora import LayoutError, hash_split
from audiolm.errors import NothingProduced
from audiolm.jsonfiles import write_json_atomic
from audiolm.skips import SkipReport

log = logging.getLogger("audiolm")

SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".jsonl.zst")


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    for suf in SUFFIXES:
        if name.endswith(suf):
            return suf
    return None


def find_text_files(src: Path) -> list[Path]:
    if not src.exists():
        raise LayoutError(f"{src} does not exist (expected a .txt/.jsonl/.jsonl.gz/.jsonl.zst file or a folder of them)")
    if src.is_file():
        if _kind(src) is None:
            raise LayoutError(f"{src}: unsupported file type (expected one of {', '.join(SUFFIXES)})")
        return [src]
    files = sorted(p for p in src.rglob("*") if p.is_file() and _kind(p))
    if not files:
        raise LayoutError(f"{src}: no text file found (expected files ending in {', '.join(SUFFIXES)})")
    return files


BOM = "\ufeff"


def _decode(line: bytes, report: SkipReport, where: str, first: bool = False) -> str:
    """UTF-8 with only the undecodable bytes replaced (counted), a leading BOM dropped, NULs removed."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode("utf-8", errors="replace")
        n_bad = len(line) - len(line.decode("utf-8", errors="ignore").encode("utf-8"))
        report.repair("non_utf8_line (bad bytes replaced by U+FFFD)", where)
        report.repaired["non_utf8_bytes_replaced"] += n_bad  # a count of bytes, not of lines
    if first and text.startswith(BOM):
        text = text[1:]
        report.repair("byte_order_mark_removed", where)
    if "\x00" in text:
        text = text.replace("\x00", "")
        report.repair("nul_characters_removed", where)
    return text


def iter_documents(path: Path, report: SkipReport, field: str = "text", name: str | None = None) -> Iterator[tuple[str, str]]:
    """(id, text) for each document of one file; generated ids start with ``name`` (default: file stem)."""
    stem = re.sub(r"\.(txt|jsonl)(\.(gz|zst))?$", "", name or path.name, flags=re.I)
    try:
        fh = open_compressed(path)
    except OSError as e:
        report.skip("unreadable_file", f"{path} ({e})")
        return
    with fh:
        reader = fh
        if _kind(path) == ".txt":
            para: list[str] = []
            n = 0
            lineno = 0
            for raw in _lines(reader, report, path):
                lineno += 1
                line = _decode(raw, report, f"{path.name}:{lineno}", first=lineno == 1).rstrip("\r\n")
                if line.strip():
                    para.append(line.rstrip())
                    continue
                if para:
                    yield f"{stem}-{n:07d}", "\n".join(para)
                    n += 1
                    para = []
            if para:
                yield f"{stem}-{n:07d}", "\n".join(para)
            return
        for lineno, raw in enumerate(_lines(reader, report, path), 1):
            where = f"{path.name}:{lineno}"
            if not raw.strip():
                continue
            line = _decode(raw, report, where, first=lineno == 1)
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError:
                report.skip("bad_json", where)
                continue
            text = obj.get(field)
            if not isinstance(text, str):
                report.skip("missing_text", where)
                continue
            if not text.strip():
                report.skip("empty_text", where)
                continue
            doc_id = obj.get("id")
            yield (str(doc_id) if doc_id not in (None, "") else f"{stem}-{lineno:09d}"), text.replace("\x00", "")


def _lines(reader, report: SkipReport, path: Path) -> Iterator[bytes]:
    """Lines of a (possibly compressed) file; a truncated/corrupt stream ends the file, counted."""
    try:
        for raw in reader:
            yield raw
    except (OSError, EOFError, ValueError) as e:  # gzip/zstd corruption, truncated stream
        report.skip("corrupt_file_tail", f"{path} ({type(e).__name__}: {e})")


class _GzJsonlWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.raw = open(self.tmp, "wb")
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0)
        self.n = 0
        self.chars = 0

    def write(self, obj: dict) -> None:
        self.gz.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
        self.n += 1
        self.chars += len(obj["text"])

    def close(self) -> None:
        self.gz.close()
        self.raw.close()
        self.tmp.replace(self.path)

    def abort(self) -> None:
        """An interrupted run: drop the partial file, keep nothing under the final name."""
        self.gz.close()
        self.raw.close()
        self.tmp.unlink(missing_ok=True)


def prepare_text(src, out, *, dev_fraction: float = 0.01, field: str = "text", progress: bool = True) -> dict:
    from tqdm import tqdm

    src, out = Path(src), Path(out)
    files = find_text_files(src)
    out.mkdir(parents=True, exist_ok=True)
    report = SkipReport("prepare text")
    writers = {s: _GzJsonlWriter(out / f"text_{s}.jsonl.gz") for s in ("train", "dev")}
    seen: set[str] = set()
    try:
        for path in tqdm(files, desc="text", unit="file", disable=not progress or len(files) < 2):
            name = path.name if path == src else path.relative_to(src).as_posix()
            for doc_id, text in iter_documents(path, report, field, name):
                if doc_id in seen:
                    if report.repaired["duplicate_id (kept)"] == 0:
                        log.warning("prepare text: document id %r occurs more than once (first repeat in %s); "
                                    "repeats are kept and counted", doc_id, path)
                    report.repair("duplicate_id (kept)", doc_id)
                seen.add(doc_id)
                split = "dev" if hash_split(doc_id, dev_fraction, 0.0) == "dev" else "train"
                writers[split].write({"id": doc_id, "text": text})
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():
        w.close()
    stats = {"corpus": "text", "source": str(src), "files": len(files),
             "splits": {s: {"documents": w.n, "characters": w.chars} for s, w in writers.items()},
             "skipped": report.to_dict()}
    write_json_atomic(out / "stats.json", stats)
    write_json_atomic(out / "skipped.json", report.to_dict())
    print(report.summary())
    if not any(w.n for w in writers.values()):
        raise NothingProduced(f"prepare text: no document in {src} (is the text under another key than "
                              f"--field {field!r}? see {out / 'skipped.json'})")
    return stats
