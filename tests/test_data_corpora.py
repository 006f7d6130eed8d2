"""Real-corpus readers on tiny fake corpora in each published layout, with bad items."""

import json
import sys
from pathlib import Path

import pytest
from lhotse import CutSet

sys.path.insert(0, str(Path(__file__).parent))
from data_fakes import make_emilia_jsonl, make_emilia_tar, make_librispeech, make_libritts, make_yodas  # noqa: E402

from audiolm.cli import main  # noqa: E402
from audiolm.data.corpora import LayoutError, hash_split  # noqa: E402
from audiolm.data.emilia import prepare_emilia  # noqa: E402
from audiolm.data.librispeech import prepare_librispeech  # noqa: E402
from audiolm.data.yodas import prepare_yodas  # noqa: E402


def load(out, split):
    return list(CutSet.from_file(Path(out) / f"cuts_{split}.jsonl.gz"))


def check_cut(c, sr=24000):
    sup = c.supervisions[0]
    assert sup.text and sup.speaker and sup.language
    assert isinstance(sup.custom["document"], str) and isinstance(sup.custom["position"], int)
    assert c.sampling_rate == sr
    audio = c.load_audio()
    assert audio.shape[0] == 1 and abs(audio.shape[1] - round(c.duration * sr)) <= 2


def skipped(out):
    return json.loads((Path(out) / "skipped.json").read_text())


def test_librispeech_clean(tmp_path):
    make_librispeech(tmp_path / "corpus")
    assert main(["prepare", "librispeech", str(tmp_path / "corpus"), str(tmp_path / "out")]) == 0
    dev = load(tmp_path / "out", "dev-clean")
    assert [c.id for c in dev] == ["84-121123-0000", "84-121123-0001", "84-121123-0002"]
    assert [c.supervisions[0].custom for c in dev] == [{"document": "84-121123", "position": i} for i in range(3)]
    assert dev[0].supervisions[0].text == "HELLO WORLD NUMBER 0" and dev[0].supervisions[0].speaker == "84"
    for c in dev:
        check_cut(c)  # 16 kHz source, resampled to 24 kHz on load
    assert [c.id for c in load(tmp_path / "out", "dev")] == [c.id for c in dev]
    assert len(load(tmp_path / "out", "train")) == len(load(tmp_path / "out", "train-clean-5")) == 3
    assert not (tmp_path / "out" / "cuts_test.jsonl.gz").exists()  # no test part in this corpus


def test_librispeech_bad_items(tmp_path):
    make_librispeech(tmp_path / "corpus", bad=True)
    stats = prepare_librispeech(tmp_path / "corpus", tmp_path / "out", max_duration=2.0)
    rep = skipped(tmp_path / "out")
    assert rep["skipped"] == {"unreadable_audio": 1, "empty_transcript": 1, "missing_audio": 1, "too_long": 1}
    assert rep["repaired"]["non_utf8_text"] == 1
    train = {c.id: c for c in load(tmp_path / "out", "train-clean-5")}
    # every valid item kept, including the one whose transcript was not UTF-8
    assert set(train) == {"19-198-0000", "19-198-0001", "19-198-0002", "19-227-0000"}
    assert train["19-227-0000"].supervisions[0].text == "CAF\u00c9 OK".replace("\u00c9", "\u00e9")
    assert stats["splits"]["dev-clean"]["utterances"] == 3


def test_libritts(tmp_path):
    make_libritts(tmp_path / "corpus")
    assert main(["prepare", "libritts", str(tmp_path / "corpus"), str(tmp_path / "out")]) == 0
    cuts = load(tmp_path / "out", "dev-clean")
    assert [c.supervisions[0].text for c in cuts] == [f"Normalized text {i}." for i in range(3)]
    assert [c.supervisions[0].custom["position"] for c in cuts] == [0, 1, 2]
    assert {c.supervisions[0].custom["document"] for c in cuts} == {"84-121123"}
    assert cuts[0].supervisions[0].gender == "F"
    for c in cuts:
        check_cut(c)


def test_emilia_jsonl_mp3(tmp_path):
    make_emilia_jsonl(tmp_path / "corpus", bad=True)
    assert main(["prepare", "emilia", str(tmp_path / "corpus"), str(tmp_path / "out"),
                 "--dev-fraction", "0", "--test-fraction", "0"]) == 0
    cuts = load(tmp_path / "out", "train")
    assert len(cuts) == 6
    docs = {}
    for c in cuts:
        check_cut(c)
        docs.setdefault(c.supervisions[0].custom["document"], []).append(c.supervisions[0].custom["position"])
    assert docs == {"EN_B00000_S00000": [0, 1, 2], "EN_B00000_S00001": [0, 1, 2]}
    assert skipped(tmp_path / "out")["skipped"] == {"bad_json": 1, "empty_transcript": 1, "missing_audio": 1}


def test_emilia_webdataset_tar(tmp_path):
    make_emilia_tar(tmp_path / "corpus", bad=True)
    prepare_emilia(tmp_path / "corpus", tmp_path / "out", dev_fraction=0, test_fraction=0)
    cuts = load(tmp_path / "out", "train")
    assert sorted(c.id for c in cuts) == [f"EN_B000000_S{s:06d}_W{w:06d}" for s in range(2) for w in range(2)]
    for c in cuts:
        check_cut(c)
        assert c.recording.sources[0].source.endswith(".flac")
        assert str((tmp_path / "out" / "audio").resolve()) in c.recording.sources[0].source
    assert skipped(tmp_path / "out")["skipped"] == {"unreadable_audio": 1, "missing_transcript": 1}


def test_yodas_long_form(tmp_path):
    make_yodas(tmp_path / "corpus", bad=True)
    assert main(["prepare", "yodas", str(tmp_path / "corpus"), str(tmp_path / "out"),
                 "--dev-fraction", "0", "--test-fraction", "0"]) == 0
    cuts = load(tmp_path / "out", "train")
    assert len(cuts) == 6
    a = [c for c in cuts if c.supervisions[0].custom["document"] == "vidAAAAAAA"]
    assert [c.start for c in a] == [0.0, 1.5, 3.0] and all(abs(c.duration - 1.2) < 1e-6 for c in a)
    assert [c.supervisions[0].custom["position"] for c in a] == [0, 1, 2]
    assert len({c.recording.id for c in a}) == 1 and a[0].recording.duration == pytest.approx(6.0)
    for c in cuts:
        check_cut(c)  # vidBBBBBBB is 16 kHz: marked for resampling
    rep = skipped(tmp_path / "out")
    assert rep["skipped"] == {"missing_audio": 1, "bad_segment_times": 1, "empty_transcript": 1}
    assert rep["repaired"] == {"resampled_to_24k": 1}


def test_hash_split_is_deterministic():
    ids = [f"doc{i}" for i in range(2000)]
    s = [hash_split(i, 0.1, 0.1) for i in ids]
    assert s == [hash_split(i, 0.1, 0.1) for i in ids]
    assert 150 < s.count("dev") < 250 and 150 < s.count("test") < 250


@pytest.mark.parametrize("verb", ["librispeech", "libritts", "emilia", "yodas"])
def test_wrong_paths_and_layouts_are_clear_errors(tmp_path, capsys, verb):
    assert main(["prepare", verb, str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    assert main(["prepare", verb, str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "expected" in err and str(tmp_path / "empty") in err


def test_layout_error_type(tmp_path):
    with pytest.raises(LayoutError, match="YODAS2"):
        prepare_yodas(tmp_path, tmp_path / "out")
