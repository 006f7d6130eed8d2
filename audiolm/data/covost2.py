"""CoVoST 2 (Wang et al. 2020): Common Voice speech with a text translation (speech-to-text).

Released layout: ``covost_v2.<src>_<tgt>.tsv`` (from ``covost_v2.<src>_<tgt>.tsv.tar.gz``), a
header row ``path sentence translation client_id split`` with ``split`` one of ``train``,
``train_covost`` (both read as train), ``dev``, ``test``; the clips and transcripts come from the
Common Voice release 4 folder of the source language (``clips/``, ``validated.tsv``). Each clip is a
one-cut document with ``translation`` and ``translation_language`` on its supervision (the
``s2tt`` format reads it).
"""

from __future__ import annotations

from pathlib import Path

from audiolm.data.common_voice import XX_EN, check_language, find_language_dir, read_tsv, transcripts
from audiolm.data.corpora import Item, LayoutError, _require_dir, items_to_cuts, write_corpus
from audiolm.data.cvss import speaker_of
from audiolm.skips import SkipReport

SPLIT_OF = {"train": "train", "train_covost": "train", "dev": "dev", "test": "test"}


def find_tsv(covost_dir: Path, src: str, tgt: str) -> Path:
    covost_dir = _require_dir(Path(covost_dir), f"a folder with covost_v2.{src}_{tgt}.tsv")
    p = covost_dir / f"covost_v2.{src}_{tgt}.tsv"
    if not p.is_file():
        raise LayoutError(f"{p} not found: expected CoVoST 2's translation TSV (extract covost_v2.{src}_{tgt}.tsv.tar.gz)")
    return p


def prepare_covost2(covost_dir, cv_dir, out, *, source_language: str, target_language: str = "en",
                    max_duration: float = 60.0) -> dict:
    """``OUT/cuts_{train,dev,test}.jsonl.gz`` of CoVoST 2 ``<src> speech -> <tgt> text``."""
    if target_language == "en":
        check_language(source_language)
    elif source_language != "en":
        raise ValueError(f"CoVoST 2 translates {', '.join(XX_EN)} into en, or en into others; not "
                         f"{source_language} -> {target_language}")
    tsv = find_tsv(covost_dir, source_language, target_language)
    lang_dir = find_language_dir(cv_dir, source_language)
    report = SkipReport(f"prepare covost2 ({source_language}-{target_language})")
    source = transcripts(lang_dir, report)
    rows = read_tsv(tsv, report)
    if rows and not {"path", "translation", "split"} <= set(rows[0]):
        raise LayoutError(f"{tsv}: expected the columns path, translation, split (got {', '.join(rows[0])})")
    items = []
    for k, r in enumerate(rows):
        clip, translation, split = r.get("path", ""), " ".join((r.get("translation") or "").split()), r.get("split")
        utt = Path(clip).stem or f"row{k + 1}"
        if split not in SPLIT_OF:
            report.skip("unknown_split", f"{utt} ({split})")
            continue
        if not translation:
            report.skip("empty_translation", utt)
            continue
        sentence, client = source.get(clip, (r.get("sentence"), r.get("client_id", "")))
        if sentence is None:
            report.skip("clip_not_in_validated_tsv", utt)
            continue
        items.append(Item(utt, sentence, speaker_of(client), document=utt, order=(0,), split=SPLIT_OF[split],
                          audio=lang_dir / "clips" / clip, language=source_language,
                          custom={"translation": translation, "translation_language": target_language}))
    splits = items_to_cuts(items, report, max_duration=max_duration, verify_audio=True)
    return write_corpus(Path(out), "covost2", splits, report,
                        extra={"languages": {"source": source_language, "target": target_language}})
