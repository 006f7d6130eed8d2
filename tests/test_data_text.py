"""Text-only corpora: .txt paragraphs, JSONL (plain, gz, zst), bad lines, deterministic dev split."""

import gzip
import json

import pytest
import zstandard

from audiolm.cli import main
from audiolm.data.text import prepare_text


def read(out, split):
    with gzip.open(out / f"text_{split}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_txt_paragraphs(tmp_path):
    (tmp_path / "a.txt").write_text("First paragraph\nstill first.\n\n\nSecond one.\n\nThird.\n")
    assert main(["prepare", "text", str(tmp_path / "a.txt"), str(tmp_path / "out"), "--dev-fraction", "0"]) == 0
    docs = read(tmp_path / "out", "train")
    assert [d["text"] for d in docs] == ["First paragraph\nstill first.", "Second one.", "Third."]
    assert [d["id"] for d in docs] == ["a-0000000", "a-0000001", "a-0000002"]
    assert read(tmp_path / "out", "dev") == []


def test_jsonl_variants_and_bad_lines(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    lines = [json.dumps({"id": f"x{i}", "text": f"document {i}"}) for i in range(5)]
    bad = ["{broken", json.dumps({"id": "e", "text": "   "}), json.dumps({"id": "m", "other": 1}), "[1, 2]"]
    (src / "plain.jsonl").write_text("\n".join(lines[:2] + bad) + "\n")
    with gzip.open(src / "sub" / "g.jsonl.gz", "wt") as f:
        f.write(lines[2] + "\n")
    (src / "z.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress((lines[3] + "\n" + lines[4] + "\n").encode()))
    (src / "latin.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')  # not UTF-8, no id
    stats = prepare_text(src, tmp_path / "out", dev_fraction=0.0)
    docs = read(tmp_path / "out", "train")
    assert sorted(d["id"] for d in docs) == ["latin-000000001", "x0", "x1", "x2", "x3", "x4"]
    assert {d["text"] for d in docs} >= {"document 3", "caf\ufffd"}
    rep = json.loads((tmp_path / "out" / "skipped.json").read_text())
    assert rep["skipped"] == {"bad_json": 2, "empty_text": 1, "missing_text": 1}
    assert rep["repaired"] == {"non_utf8_line (bad bytes replaced by U+FFFD)": 1, "non_utf8_bytes_replaced": 1}
    assert stats["splits"]["train"]["documents"] == 6


def test_dev_split_by_hash(tmp_path):
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"id": f"d{i}", "text": f"t{i}"}) for i in range(1000)))
    prepare_text(tmp_path / "d.jsonl", tmp_path / "o1", dev_fraction=0.1, progress=False)
    prepare_text(tmp_path / "d.jsonl", tmp_path / "o2", dev_fraction=0.1, progress=False)
    dev = read(tmp_path / "o1", "dev")
    assert 60 < len(dev) < 140 and len(dev) + len(read(tmp_path / "o1", "train")) == 1000
    assert (tmp_path / "o1" / "text_dev.jsonl.gz").read_bytes() == (tmp_path / "o2" / "text_dev.jsonl.gz").read_bytes()


def test_truncated_gzip_keeps_what_it_can(tmp_path):
    data = gzip.compress(("\n".join(json.dumps({"id": f"i{i}", "text": "x" * 200 + str(i)}) for i in range(200)) + "\n").encode())
    (tmp_path / "t.jsonl.gz").write_bytes(data[: len(data) // 2])
    prepare_text(tmp_path / "t.jsonl.gz", tmp_path / "out", dev_fraction=0)
    assert 0 < len(read(tmp_path / "out", "train")) < 200
    assert "corrupt_file_tail" in json.loads((tmp_path / "out" / "skipped.json").read_text())["skipped"]


def test_bad_paths(tmp_path, capsys):
    assert main(["prepare", "text", str(tmp_path / "missing.txt"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("a,b")
    assert main(["prepare", "text", str(tmp_path / "x.csv"), str(tmp_path / "out")]) == 2
    assert "unsupported" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["prepare", "text", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "no text file" in capsys.readouterr().err


def test_bad_bytes_bom_nul_duplicates(tmp_path, caplog):
    src = tmp_path / "d.jsonl"
    src.write_bytes("\ufeff".encode() + b'{"id": "a", "text": "caf\xc3\xa9 \xff ok"}\n'
                    + b'{"id": "a", "text": "nul\\u0000here"}\n' + b'{"id": "b", "text": "fine"}\n')
    prepare_text(src, tmp_path / "out", dev_fraction=0.0, progress=False)
    docs = {d["text"] for d in read(tmp_path / "out", "train")}
    assert docs == {"caf\u00e9 \ufffd ok", "nulhere", "fine"}  # the valid é survives; the BOM line is kept
    rep = json.loads((tmp_path / "out" / "skipped.json").read_text())["repaired"]
    assert rep["byte_order_mark_removed"] == 1 and rep["non_utf8_bytes_replaced"] == 1
    assert rep["duplicate_id (kept)"] == 1 and "more than once" in caplog.text


def test_interrupted_run_leaves_no_output_under_final_names(tmp_path, monkeypatch):
    import audiolm.data.text as text_mod

    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"id": f"d{i}", "text": f"t{i}"}) for i in range(50)))
    real = text_mod.iter_documents

    def interrupted(*a, **k):
        for i, doc in enumerate(real(*a, **k)):
            if i == 20:
                raise KeyboardInterrupt
            yield doc

    monkeypatch.setattr(text_mod, "iter_documents", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_text(tmp_path / "d.jsonl", tmp_path / "out", progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_field_that_no_line_has_exits_nonzero(tmp_path, capsys):
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "a", "content": "words"}) + "\n")
    assert main(["prepare", "text", str(tmp_path / "d.jsonl"), str(tmp_path / "out"), "--field", "text"]) == 1
    assert "no document" in capsys.readouterr().err
