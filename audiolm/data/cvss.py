"""CVSS (Jia et al. 2022): Common Voice speech paired with English speech of its translation.

Released layout, per source language (``cvss_c_<lang>_en_v1.0.tar.gz`` / ``cvss_t_...``)::

    <lang>-en/train.tsv  dev.tsv  test.tsv     no header: <CV clip name> \\t <English translation>
    <lang>-en/train/<CV clip name>.wav ...     the English target speech (24 kHz)

The source clip and its transcript come from the matching Common Voice release (4):
``<lang>/clips/<clip>`` and ``<lang>/validated.tsv``. CVSS-C speaks every target in one canonical
voice; CVSS-T transfers the source speaker's voice (``--variant t``: the target's speaker is the
source's). Each pair is one document of two cuts (source at position 0 with ``translation``,
target at position 1), the layout ``audiolm tokenize`` and the ``s2st`` format read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from audiolm.data.common_voice import check_language, find_language_dir, read_tsv, transcripts
from audiolm.data.corpora import Item, LayoutError, _require_dir, items_to_cuts, write_corpus
from audiolm.skips import SkipReport

SPLITS = ("train", "dev", "test")


def speaker_of(client_id: str) -> str:
    return "cv-" + hashlib.sha1(client_id.encode()).hexdigest()[:10] if client_id else "cv-unknown"


def find_pair_dir(cvss_dir: Path, lang: str) -> Path:
    cvss_dir = _require_dir(Path(cvss_dir), f"a CVSS folder with {lang}-en/train.tsv")
    for d in (cvss_dir, cvss_dir / f"{lang}-en"):
        if any((d / f"{s}.tsv").is_file() for s in SPLITS):
            return d
    raise LayoutError(f"{cvss_dir}: no train.tsv/dev.tsv/test.tsv (nor {lang}-en/*.tsv): expected an extracted "
                      f"CVSS release (cvss_c_{lang}_en_v1.0)")


def keep_whole_pairs(splits: dict[str, list], report: SkipReport) -> dict[str, list]:
    """Drop pairs that lost a side (its own skip is counted under its reason)."""
    out = {}
    for split, cuts in splits.items():
        by_doc: dict[str, list] = {}
        for c in cuts:
            by_doc.setdefault(c.supervisions[0].custom["document"], []).append(c)
        kept = []
        for doc, cs in by_doc.items():
            if len(cs) == 2:
                kept += cs
            else:
                report.skip("incomplete_pair (the other side was skipped)", doc)
        out[split] = kept
    return out


def prepare_cvss(cvss_dir, cv_dir, out, *, source_language: str, variant: str = "c", max_duration: float = 60.0) -> dict:
    """``OUT/cuts_{train,dev,test}.jsonl.gz`` of CVSS pairs ``<lang> speech -> English speech``."""
    lang = check_language(source_language)
    if variant not in ("c", "t"):
        raise ValueError(f"--variant {variant!r}: CVSS comes as c (canonical target voice) or t (transferred voice)")
    pair_dir = find_pair_dir(cvss_dir, lang)
    lang_dir = find_language_dir(cv_dir, lang)
    report = SkipReport(f"prepare cvss ({lang}-en, CVSS-{variant.upper()})")
    source = transcripts(lang_dir, report)
    items = []
    for split in SPLITS:
        tsv = pair_dir / f"{split}.tsv"
        if not tsv.is_file():
            continue
        for k, row in enumerate(read_tsv(tsv, report, header=False)):
            if len(row) < 2:
                report.skip("malformed_tsv_row", f"{tsv.name}:{k + 1}")
                continue
            clip, translation = row[0], " ".join(row[1].split())
            pair = Path(clip).stem
            if not translation:
                report.skip("empty_translation", pair)
                continue
            if clip not in source:
                report.skip("clip_not_in_validated_tsv", pair)
                continue
            sentence, client = source[clip]
            spk = speaker_of(client)
            common = dict(document=pair, split=split)
            items.append(Item(f"{pair}-source", sentence, spk, order=(0,), audio=lang_dir / "clips" / clip,
                              language=lang, custom={"role": "source", "translation": translation,
                                                     "translation_language": "en"}, **common))
            items.append(Item(f"{pair}-target", translation, spk if variant == "t" else "cvss-c", order=(1,),
                              audio=pair_dir / split / f"{clip}.wav", language="en", custom={"role": "target"},
                              **common))
    splits = keep_whole_pairs(items_to_cuts(items, report, max_duration=max_duration, verify_audio=True), report)
    return write_corpus(Path(out), f"cvss-{variant}", splits, report,
                        extra={"languages": {"source": lang, "target": "en"},
                               "pairs": {k: len(v) // 2 for k, v in splits.items()}})
