"""Official-layout loaders on tiny fakes made here (ZeroSpeech gold.csv, SALMon folders, HF parquet,
HellaSwag jsonl, StoryCloze csv): items get explicit ids and the right answer, whatever the file order."""

import csv
import io
import json
import random

import numpy as np
import pytest
import soundfile as sf

from audiolm.eval.items import BenchmarkError
from audiolm.eval.loaders import load_likelihood_set
from audiolm.eval.testing import tone

SR = 16000


def _wav(path, f0):
    sf.write(path, tone(0.3, f0, SR), SR)


def _freq_of(cut):
    a = cut.load_audio()[0]
    spec = np.abs(np.fft.rfft(a))
    return np.fft.rfftfreq(len(a), 1 / cut.sampling_rate)[spec.argmax()]


def test_zerospeech_lexical_pairs_by_id_and_voice(tmp_path):
    d = tmp_path / "lexical" / "dev"
    d.mkdir(parents=True)
    rows = []
    for i, (w, nw) in enumerate([("dog", "dag"), ("house", "houme"), ("tree", "trea")]):
        for voice in ("Alex", "Bruce"):
            # file names in an order that says nothing about the pairing
            fw, fnw = f"z{i}{voice}x", f"a{i}{voice}y"
            _wav(d / f"{fw}.wav", 300 + 10 * i)  # words: 300 Hz band
            _wav(d / f"{fnw}.wav", 600 + 10 * i)  # non-words: 600 Hz band
            rows.append({"id": str(i), "filename": fw, "voice": voice, "frequency": "5", "word": w, "phones": "x", "length": "3", "correct": "1"})
            rows.append({"id": str(i), "filename": fnw, "voice": voice, "frequency": "", "word": nw, "phones": "x", "length": "3", "correct": "0"})
    random.Random(0).shuffle(rows)
    with open(d / "gold.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    bset = load_likelihood_set("swuggy", tmp_path, zerospeech_sub="lexical")  # the ZR2021 root
    assert len(bset.items) == 6
    assert {it.item_id for it in bset.items} == {f"{i}/{v}" for i in "012" for v in ("Alex", "Bruce")}
    for it in bset.items:
        right = bset.cuts[it.choices[it.answer].cut_id]
        wrong = bset.cuts[it.choices[1 - it.answer].cut_id]
        assert _freq_of(right) < 450 < _freq_of(wrong)
    assert load_likelihood_set("swuggy", d).items[0].item_id  # the dev folder itself works too


def test_zerospeech_syntactic_groups_by_type(tmp_path):
    rows = []
    for t in ("anaphor_agreement", "island_effects"):
        for i in range(2):
            for c in (1, 0):
                fn = f"{t[:3]}{i}{c}"
                _wav(tmp_path / f"{fn}.wav", 300 if c else 600)
                rows.append({"id": str(i), "filename": fn, "voice": "V", "type": t, "subtype": "s", "correct": str(c),
                             "transcription": "x"})
    with open(tmp_path / "gold.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[::-1])
    bset = load_likelihood_set("sblimp", tmp_path)
    assert len(bset.items) == 4  # ids repeat across types: grouping includes the type
    assert {it.category for it in bset.items} == {"anaphor_agreement", "island_effects"}


def test_gold_csv_with_missing_audio_names_the_task(tmp_path):
    (tmp_path / "gold.csv").write_text("id,filename,correct\n1,a,1\n1,b,0\n")
    _wav(tmp_path / "a.wav", 300)
    with pytest.raises(BenchmarkError, match="sblimp.*missing"):
        load_likelihood_set("sblimp", tmp_path)


def test_salmon_folder_option_zero_is_positive(tmp_path):
    part = tmp_path / "speaker_consistency"
    part.mkdir()
    for idx in (0, 1, 10, 2):  # 10 sorts before 2 as text: ids are parsed, not sorted
        _wav(part / f"sample_{idx}_0.wav", 300)
        _wav(part / f"sample_{idx}_1.wav", 600)
    bset = load_likelihood_set("salmon_speaker", part)
    assert sorted(it.item_id for it in bset.items) == sorted(f"speaker_consistency/{i}" for i in (0, 1, 2, 10))
    for it in bset.items:
        assert _freq_of(bset.cuts[it.choices[it.answer].cut_id]) < 450


def test_salmon_folder_without_positive_is_an_error(tmp_path):
    _wav(tmp_path / "sample_0_1.wav", 300)
    _wav(tmp_path / "sample_0_2.wav", 300)
    with pytest.raises(BenchmarkError, match="option 0"):
        load_likelihood_set("salmon_room", tmp_path)


def _flac_bytes(f0):
    buf = io.BytesIO()
    sf.write(buf, tone(0.3, f0, SR), SR, format="WAV")
    return buf.getvalue()


def test_parquet_pair_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [{"positive_audio": {"bytes": _flac_bytes(300), "path": "p.wav"},
             "negative_audio": {"bytes": _flac_bytes(600), "path": "n.wav"}, "id": k} for k in (7, 3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train-00000-of-00001.parquet")
    bset = load_likelihood_set("salmon_gender", tmp_path)
    assert [it.item_id for it in bset.items] == ["train-00000-of-00001/7", "train-00000-of-00001/3"]
    for it in bset.items:
        assert _freq_of(bset.cuts[it.choices[it.answer].cut_id]) < 450


def test_parquet_one_row_per_candidate(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = []
    for i in range(3):
        rows.append({"audio": {"bytes": _flac_bytes(600), "path": None}, "correct": 0, "id": i, "voice": "A"})
        rows.append({"audio": {"bytes": _flac_bytes(300), "path": None}, "correct": 1, "id": i, "voice": "A"})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "dev.parquet")
    bset = load_likelihood_set("swuggy", tmp_path)
    assert len(bset.items) == 3
    for it in bset.items:
        assert _freq_of(bset.cuts[it.choices[it.answer].cut_id]) < 450


def test_parquet_with_unknown_columns_is_an_error(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pylist([{"foo": 1}]), tmp_path / "x.parquet")
    with pytest.raises(BenchmarkError, match="swuggy.*columns"):
        load_likelihood_set("swuggy", tmp_path)


def test_hellaswag_jsonl(tmp_path):
    recs = [{"ind": 4, "activity_label": "Baking cookies", "ctx_a": "A woman puts dough on a tray.", "ctx_b": "she",
             "endings": ["puts the tray in the oven.", "eats the tray.", "[title] swims.", "flies away."], "label": 0},
            {"ind": 9, "activity_label": "Running", "ctx_a": "A man runs.", "ctx_b": "he",
             "endings": ["a", "b", "c", "d"], "label": "2"}]
    p = tmp_path / "hellaswag_val.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    bset = load_likelihood_set("hellaswag", p)
    assert [it.item_id for it in bset.items] == ["4", "9"]
    assert [it.answer for it in bset.items] == [0, 2]
    first = bset.items[0]
    assert first.choices[0].prefix == "Baking cookies: A woman puts dough on a tray. She"
    assert first.choices[2].text == "swims."
    assert load_likelihood_set("hellaswag", tmp_path).items[1].answer == 2  # the folder works too


def test_hellaswag_released_data_folder_takes_the_labelled_val_file(tmp_path):
    # the released repo's data/: train, val, and a test file without labels that sorts first
    data = tmp_path / "hellaswag" / "data"
    data.mkdir(parents=True)
    rec = {"ind": 1, "activity_label": "A", "ctx_a": "x.", "ctx_b": "y", "endings": ["a", "b", "c", "d"]}
    (data / "hellaswag_test.jsonl").write_text(json.dumps(rec) + "\n")
    (data / "hellaswag_val.jsonl").write_text(json.dumps({**rec, "ind": 7, "label": 3}) + "\n")
    bset = load_likelihood_set("hellaswag", tmp_path / "hellaswag")
    assert [(it.item_id, it.answer) for it in bset.items] == [("7", 3)]
    assert bset.source.endswith("hellaswag_val.jsonl")
    with pytest.raises(BenchmarkError, match="hellaswag_test.jsonl has no labels"):
        load_likelihood_set("hellaswag", data / "hellaswag_test.jsonl")
    (data / "hellaswag_val.jsonl").unlink()
    with pytest.raises(BenchmarkError, match="has labels"):
        load_likelihood_set("hellaswag", tmp_path / "hellaswag")


@pytest.mark.parametrize("task", ["sstorycloze", "topic_sstorycloze"])
def test_spoken_storycloze_correct_incorrect_folders(tmp_path, task):
    # the released sSC / tSC layout: <n>_correct.wav and <n>_incorrect.wav, in any file order
    root = tmp_path / task
    (root / "part").mkdir(parents=True)
    for n in (10, 2, 1):
        _wav(root / "part" / f"{n}_correct.wav", 300 + n)
        _wav(root / "part" / f"{n}_incorrect.wav", 900 + n)
    bset = load_likelihood_set(task, root)
    assert [it.item_id for it in bset.items] == ["part/1", "part/2", "part/10"]
    for it in bset.items:
        right = bset.cuts[it.choices[it.answer].cut_id]
        wrong = bset.cuts[it.choices[1 - it.answer].cut_id]
        assert _freq_of(right) < 600 < _freq_of(wrong)
    (root / "part" / "2_incorrect.wav").unlink()
    with pytest.raises(BenchmarkError, match="lack their correct or incorrect file.*part/2"):
        load_likelihood_set(task, root)


def test_storycloze_csv(tmp_path):
    p = tmp_path / "cloze_test_val.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["InputStoryid", "InputSentence1", "InputSentence2", "InputSentence3", "InputSentence4",
                    "RandomFifthSentenceQuiz1", "RandomFifthSentenceQuiz2", "AnswerRightEnding"])
        w.writerow(["s1", "Tom was hungry.", "He cooked.", "It smelled good.", "He sat down.", "He ate.", "He flew.", "1"])
        w.writerow(["s2", "A.", "B.", "C.", "D.", "E1.", "E2.", "2"])
    bset = load_likelihood_set("tstorycloze", p)
    assert [(it.item_id, it.answer) for it in bset.items] == [("s1", 0), ("s2", 1)]
    assert bset.items[0].choices[1].prefix == "Tom was hungry. He cooked. It smelled good. He sat down."


def test_missing_or_unreadable_folders(tmp_path):
    with pytest.raises(BenchmarkError, match="sblimp: benchmark data not found"):
        load_likelihood_set("sblimp", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchmarkError, match="swuggy: nothing readable"):
        load_likelihood_set("swuggy", tmp_path / "empty")
