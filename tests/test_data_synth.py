"""The embedded synthetic corpus: determinism, splits, unseen speakers, documents, alignments, CLI."""

import gzip
import json
from pathlib import Path

import pytest
import soundfile as sf
from lhotse import CutSet

from audiolm.cli import main
from audiolm.data.synth import build_synth_corpus, plan_corpus

SPLITS = ("train", "dev", "test")


def manifest_text(out: Path, split: str) -> str:
    return gzip.open(out / f"cuts_{split}.jsonl.gz", "rt").read().replace(str(out.resolve()), "OUT")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "a"
    assert main(["prepare", "synth", str(out), "--utterances", "60", "--speakers", "6", "--seed", "7"]) == 0
    return out


def test_layout_and_fields(corpus):
    for split in SPLITS:
        assert (corpus / f"cuts_{split}.jsonl.gz").is_file()
    stats = json.loads((corpus / "stats.json").read_text())
    assert sum(s["utterances"] for s in stats["splits"].values()) == 60
    assert json.loads((corpus / "skipped.json").read_text())["skipped"] == {}
    cuts = CutSet.from_file(corpus / "cuts_train.jsonl.gz")
    c = next(iter(cuts))
    sup = c.supervisions[0]
    assert sup.text and sup.speaker.startswith("synth-spk") and sup.language == "en"
    assert set(sup.custom) == {"document", "position"} and sup.gender in ("female", "male")
    assert set(sup.alignment) == {"word", "phone"}
    assert [a.symbol for a in sup.alignment["word"]] == [w.strip(".,?!") for w in sup.text.split()]
    for kind in ("word", "phone"):
        items = sup.alignment[kind]
        assert all(0 <= a.start and a.start + a.duration <= c.duration + 1e-6 for a in items)
        assert [a.start for a in items] == sorted(a.start for a in items)
    path = c.recording.sources[0].source
    assert path.endswith(".flac") and Path(path).is_file() and str(corpus.resolve() / "audio") in path
    info = sf.info(path)
    assert info.samplerate == 24000 and info.channels == 1 and info.frames == c.recording.num_samples
    audio = c.load_audio()
    assert audio.shape == (1, c.recording.num_samples) and abs(audio).max() > 0.05


def test_splits_documents_and_speakers(corpus):
    cuts = {s: list(CutSet.from_file(corpus / f"cuts_{s}.jsonl.gz")) for s in SPLITS}
    docs = {s: {c.supervisions[0].custom["document"] for c in cuts[s]} for s in SPLITS}
    spk = {s: {c.supervisions[0].speaker for c in cuts[s]} for s in SPLITS}
    assert all(docs[s] for s in SPLITS)
    assert not (docs["train"] & docs["dev"]) and not (docs["train"] & docs["test"]) and not (docs["dev"] & docs["test"])
    assert spk["test"] - spk["train"], "test must hold speakers unseen in train"
    assert not (spk["dev"] - spk["train"])
    assert len(spk["train"] | spk["test"]) == 6
    stats = json.loads((corpus / "stats.json").read_text())
    assert set(stats["unseen_test_speakers"]) == spk["test"] - spk["train"]
    # a document: one speaker, positions 0..n-1 in manifest order
    by_doc = {}
    for s in SPLITS:
        for c in cuts[s]:
            by_doc.setdefault(c.supervisions[0].custom["document"], []).append(c)
    for doc, cs in by_doc.items():
        assert len({c.supervisions[0].speaker for c in cs}) == 1
        assert [c.supervisions[0].custom["position"] for c in cs] == list(range(len(cs)))
        assert 1 <= len(cs) <= 8


def test_same_seed_same_corpus(corpus, tmp_path):
    out = tmp_path / "b"
    build_synth_corpus(out, 60, 6, seed=7, jobs=2, progress=False)
    for split in SPLITS:
        assert manifest_text(out, split) == manifest_text(corpus, split)
    a = sorted(p.relative_to(corpus) for p in (corpus / "audio").rglob("*.flac"))
    assert a == sorted(p.relative_to(out) for p in (out / "audio").rglob("*.flac"))
    for rel in a[:10]:
        assert (corpus / rel).read_bytes() == (out / rel).read_bytes()


def test_other_seed_other_corpus():
    a, b = plan_corpus(40, 4, seed=1), plan_corpus(40, 4, seed=2)
    assert [p.sentences for p in a] != [p.sentences for p in b]
    assert plan_corpus(40, 4, seed=1) == a


def test_bad_arguments(tmp_path, capsys):
    assert main(["prepare", "synth", str(tmp_path / "x"), "--utterances", "10", "--speakers", "2", "--test-speakers", "2"]) == 2
    assert "test-speakers" in capsys.readouterr().err


def test_delivery_rate_jitter_and_noisy_condition(corpus, tmp_path):
    """The data-source proxies: same sentences and speakers, other delivery; reproducible per utterance."""
    import numpy as np

    out = tmp_path / "noisy"
    assert main(["prepare", "synth", str(out), "--utterances", "60", "--speakers", "6", "--seed", "7",
                 "--rate-jitter", "0.3", "--condition", "noisy"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["rate_jitter"], stats["condition"]) == (0.3, "noisy")
    clean = {c.id: c for c in CutSet.from_file(corpus / "cuts_train.jsonl.gz")}
    noisy = {c.id: c for c in CutSet.from_file(out / "cuts_train.jsonl.gz")}
    assert clean.keys() == noisy.keys()
    assert all(noisy[k].supervisions[0].text == clean[k].supervisions[0].text for k in clean)
    ratios = [noisy[k].duration / clean[k].duration for k in clean]
    assert np.std(ratios) > 0.05  # each utterance its own rate (jitter 0.3: rate x U(0.7, 1.3))

    def floor_db(path) -> float:  # the quietest 10 ms frames: silence in the clean corpus, background in the noisy
        a, _ = sf.read(path)
        frames = a[: len(a) // 240 * 240].reshape(-1, 240)
        rms = np.sqrt((frames**2).mean(1)) + 1e-9
        return 20 * np.log10(np.percentile(rms, 5) / np.abs(a).max())

    some = sorted(clean)[:8]
    assert np.median([floor_db(noisy[k].recording.sources[0].source) for k in some]) > \
        np.median([floor_db(clean[k].recording.sources[0].source) for k in some]) + 20
    again = tmp_path / "again"
    build_synth_corpus(again, 60, 6, seed=7, progress=False, rate_jitter=0.3, condition="noisy")
    assert manifest_text(again, "train") == manifest_text(out, "train")
    with pytest.raises(ValueError, match="condition"):
        build_synth_corpus(tmp_path / "bad", 10, 2, condition="windy", progress=False)
