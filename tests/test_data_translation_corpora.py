"""CVSS and CoVoST 2 readers on tiny fakes of their released layouts (with a Common Voice folder)."""

import gzip
import json

import numpy as np
import pytest
import soundfile as sf

from audiolm.data.corpora import LayoutError
from audiolm.data.covost2 import prepare_covost2
from audiolm.data.cvss import prepare_cvss

CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent"


def _tone(path, sr, seconds=0.5, fmt=None):
    t = np.arange(int(sr * seconds)) / sr
    sf.write(path, 0.3 * np.sin(2 * np.pi * 220 * t), sr, format=fmt)


def _common_voice(root, clips):
    d = root / "cv-corpus-4-2019-12-10" / "fr"
    (d / "clips").mkdir(parents=True)
    lines = [CV_HEADER]
    for name, sentence, client in clips:
        if name != "missing.mp3":
            _tone(d / "clips" / name, 48000, fmt="MP3")
        lines.append(f"{client}\t{name}\t{sentence}\t2\t0\t\t\t")
    (d / "validated.tsv").write_text("\n".join(lines) + "\n")
    return d.parent


def _cuts(out, split):
    with gzip.open(out / f"cuts_{split}.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def test_cvss_pairs_source_and_target_speech_and_skips_bad_pairs(tmp_path):
    clips = [("common_voice_fr_1.mp3", "Bonjour à tous.", "c1"), ("common_voice_fr_2.mp3", "Merci beaucoup.", "c2"),
             ("common_voice_fr_3.mp3", "Au revoir.", "c1"), ("missing.mp3", "Perdu.", "c3")]
    cv = _common_voice(tmp_path, clips)
    pair = tmp_path / "cvss_c" / "fr-en"
    for split in ("train", "dev", "test"):
        (pair / split).mkdir(parents=True)
    (pair / "train.tsv").write_text("common_voice_fr_1.mp3\tHello everyone.\ncommon_voice_fr_2.mp3\t \n"
                                    "common_voice_fr_9.mp3\tNot in Common Voice.\nmissing.mp3\tLost.\n")
    (pair / "test.tsv").write_text("common_voice_fr_3.mp3\tGoodbye.\n")
    (pair / "dev.tsv").write_text("")
    for split, clip in (("train", "common_voice_fr_1.mp3"), ("test", "common_voice_fr_3.mp3"), ("train", "missing.mp3")):
        _tone(pair / split / f"{clip}.wav", 24000)
    stats = prepare_cvss(tmp_path / "cvss_c", cv, tmp_path / "out", source_language="fr", variant="t")
    assert stats["pairs"]["train"] == 1 and stats["pairs"]["test"] == 1
    skipped = stats["skipped"]["skipped"]
    assert skipped["empty_translation"] == 1 and skipped["clip_not_in_validated_tsv"] == 1
    assert skipped["missing_audio"] == 1 and skipped["incomplete_pair (the other side was skipped)"] == 1
    src, tgt = [c["supervisions"][0] for c in _cuts(tmp_path / "out", "train")]
    assert (src["text"], src["language"], src["custom"]["position"]) == ("Bonjour à tous.", "fr", 0)
    assert src["custom"]["translation"] == tgt["text"] == "Hello everyone."
    assert (tgt["language"], tgt["custom"]["position"], tgt["custom"]["document"]) == ("en", 1, src["custom"]["document"])
    assert tgt["speaker"] == src["speaker"]  # CVSS-T: the target keeps the source speaker's voice
    with pytest.raises(LayoutError, match="train.tsv"):
        prepare_cvss(tmp_path, cv, tmp_path / "x", source_language="fr")
    with pytest.raises(ValueError, match="unknown source language 'xx'"):
        prepare_cvss(tmp_path / "cvss_c", cv, tmp_path / "x", source_language="xx")


def test_covost2_reads_translations_and_splits(tmp_path):
    clips = [("a.mp3", "Bonjour.", "c1"), ("b.mp3", "Oui.", "c2"), ("c.mp3", "Non.", "c2"), ("d.mp3", "Peut-être.", "c1")]
    cv = _common_voice(tmp_path, clips)
    (tmp_path / "covost").mkdir()
    (tmp_path / "covost" / "covost_v2.fr_en.tsv").write_text(
        "path\tsentence\ttranslation\tclient_id\tsplit\n"
        "a.mp3\tBonjour.\tHello.\tc1\ttrain\nb.mp3\tOui.\tYes.\tc2\ttrain_covost\n"
        "c.mp3\tNon.\tNo.\tc2\ttest\nd.mp3\tPeut-être.\t\tc1\tdev\n")
    stats = prepare_covost2(tmp_path / "covost", cv / "fr", tmp_path / "out", source_language="fr")
    assert stats["splits"]["train"]["utterances"] == 2 and stats["splits"]["test"]["utterances"] == 1
    assert stats["skipped"]["skipped"] == {"empty_translation": 1}
    sup = _cuts(tmp_path / "out", "test")[0]["supervisions"][0]
    assert (sup["text"], sup["language"], sup["custom"]["translation"], sup["custom"]["translation_language"]) == \
        ("Non.", "fr", "No.", "en")
    with pytest.raises(LayoutError, match="covost_v2.de_en.tsv"):
        prepare_covost2(tmp_path / "covost", cv, tmp_path / "x", source_language="de")
