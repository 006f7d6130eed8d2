import gzip
import json

import pytest

from audiolm.cli import main
from audiolm.data.synth_text import build_synth_text


def _read(path):
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def test_synth_text_deterministic_split_and_distinct(tmp_path):
    assert main(["prepare", "synth-text", str(tmp_path / "a"), "--documents", "60", "--seed", "3"]) == 0
    build_synth_text(tmp_path / "b", 60, seed=3)
    for split in ("train", "dev"):
        assert (tmp_path / "a" / f"text_{split}.jsonl.gz").read_bytes() == (tmp_path / "b" / f"text_{split}.jsonl.gz").read_bytes()
    train, dev = _read(tmp_path / "a" / "text_train.jsonl.gz"), _read(tmp_path / "a" / "text_dev.jsonl.gz")
    assert len(train) + len(dev) == 60
    ids = [d["id"] for d in train + dev]
    assert len(set(ids)) == 60
    assert all(d["text"].strip() and len(d["text"].split()) >= 6 for d in train + dev)


def test_synth_text_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="--documents"):
        build_synth_text(tmp_path, 0)
