"""Common Voice, the source side of CoVoST 2 and CVSS: clips and their transcripts.

A Common Voice release folder for one language (CoVoST 2 and CVSS use release 4,
``cv-corpus-4-2019-12-10/<lang>/``) holds ``clips/*.mp3`` and TSVs with a header row
(``client_id path sentence up_votes down_votes age gender accent``); ``validated.tsv`` has every
clip the translation corpora draw from.
"""

from __future__ import annotations

import csv
from pathlib import Path

from audiolm.data.corpora import LayoutError, _require_dir
from audiolm.skips import SkipReport

#: CoVoST 2's X -> English source languages (Wang et al. 2020); CVSS covers the same 21
XX_EN = ("fr", "de", "es", "ca", "it", "ru", "zh-CN", "pt", "fa", "et", "mn", "nl", "tr", "ar", "sv-SE", "lv",
         "sl", "ta", "ja", "id", "cy")


def check_language(lang: str) -> str:
    if lang not in XX_EN:
        raise ValueError(f"unknown source language {lang!r}: CoVoST 2 / CVSS translate {', '.join(XX_EN)} into English")
    return lang


def find_language_dir(cv_dir: Path, lang: str) -> Path:
    """``cv_dir`` itself or ``cv_dir/<lang>``: the folder with ``clips/`` and ``validated.tsv``."""
    cv_dir = _require_dir(Path(cv_dir), f"a Common Voice release folder with {lang}/clips/ and {lang}/validated.tsv")
    for d in (cv_dir, cv_dir / lang):
        if (d / "clips").is_dir() and (d / "validated.tsv").is_file():
            return d
    raise LayoutError(f"{cv_dir}: no clips/ + validated.tsv (nor {lang}/clips/ + {lang}/validated.tsv): "
                      "expected a Common Voice release folder (release 4 for CoVoST 2 and CVSS)")


def read_tsv(path: Path, report: SkipReport, header: bool = True) -> list[dict] | list[list[str]]:
    """Rows of a TSV (quoting off, as the releases are written); undecodable bytes repaired."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        report.repair("non_utf8_text", str(path))
        text = raw.decode("utf-8", errors="replace")
    rows = csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    if not header:
        return [r for r in rows if r]
    try:
        names = next(rows)
    except StopIteration:
        return []
    return [dict(zip(names, r)) for r in rows if r]


def transcripts(lang_dir: Path, report: SkipReport) -> dict[str, tuple[str, str]]:
    """``{clip path: (sentence, client_id)}`` of ``validated.tsv``."""
    rows = read_tsv(lang_dir / "validated.tsv", report)
    if rows and ("path" not in rows[0] or "sentence" not in rows[0]):
        raise LayoutError(f"{lang_dir / 'validated.tsv'}: no path/sentence columns (not a Common Voice TSV)")
    return {r["path"]: (r.get("sentence", ""), r.get("client_id", "")) for r in rows}
