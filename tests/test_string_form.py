"""SODA's string-form documents as training data: the same batches as the documents built from codes."""

import json

import numpy as np
import pytest
import torch

from audiolm.tokens.datamodule import DataConfig, LMDataModule
from audiolm.tokens.documents import build_formats
from audiolm.tokens.layout import make_layout
from audiolm.tokens.string_form import check_audio_characters, string_document
from audiolm.tokens.testing import random_documents, tiny_tokenizer, write_token_shards, take_batches as take
from audiolm.tokens.vocab import PUA_BASE

TOK = tiny_tokenizer(n_codebooks=4, codebook_size=64)
KEYS = ("input_ids", "labels", "position_ids", "document_ids", "modality")


def cfg(**kw):
    base = dict(codebooks=[0, 1, 2, 3], seq_len=1024, batch_size=2, num_workers=0, text_ratio=0.0, seed=3,
                formats=["text_first"])
    base.update(kw)
    return DataConfig(**base)


def _string_docs(docs, layout):
    lines = []
    for doc_id, utts in docs:
        built = build_formats(utts, ["text_first"], layout, TOK, 1024)
        assert len(built) == 1
        lines.append({"id": doc_id, "text": TOK.decode(built[0].ids.tolist()), "ids": built[0]})
    return lines


def test_string_form_gives_the_same_batches_as_the_codes(tmp_path):
    docs = random_documents(10, seed=4, utterances=(1, 3), frames=(3, 12))
    layout = make_layout("frame_major", [0, 1, 2, 3], TOK.vocab)
    lines = _string_docs(docs, layout)
    for line in lines:  # each document's ids and modalities come back exactly
        d = string_document(TOK, line["text"])
        assert np.array_equal(d.ids, line["ids"].ids) and np.array_equal(d.modality, line["ids"].modality)
    jsonl = tmp_path / "soda.jsonl.gz"
    import gzip

    with gzip.open(jsonl, "wt", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps({"id": line["id"], "text": line["text"]}, ensure_ascii=False) + "\n")
    shards = write_token_shards(tmp_path / "shards", docs, shard_size=1000)
    a = take(LMDataModule(cfg(train_shards=[str(shards)]), TOK), 8)
    b = take(LMDataModule(cfg(string_train=[str(jsonl)]), TOK), 8)
    assert len(a) == len(b) == 8
    for x, y in zip(a, b):
        for k in KEYS:
            assert torch.equal(x[k], y[k]), k
    # parquet with a text column reads the same documents
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [ln["id"] for ln in lines], "text": [ln["text"] for ln in lines]}),
                   tmp_path / "soda.parquet")
    c = take(LMDataModule(cfg(string_train=[str(tmp_path / "soda.parquet")]), TOK), 8)
    assert all(torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(a, c))


def test_mixed_with_shards_and_text_and_bad_documents_counted(tmp_path):
    docs = random_documents(6, seed=5, utterances=(1, 3), frames=(3, 12))
    layout = make_layout("frame_major", [0, 1, 2, 3], TOK.vocab)
    lines = [{"id": ln["id"], "text": ln["text"]} for ln in _string_docs(docs, layout)]
    outside = chr(PUA_BASE + 5 * 2048 + 1)  # codebook 5 of a 4-codebook vocabulary
    lines += [{"id": "bad", "text": "<|audio_start|>" + outside + "<|audio_end|>"}, {"id": "none", "other": 1}]
    path = tmp_path / "soda.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    shards = write_token_shards(tmp_path / "shards", random_documents(6, seed=6), shard_size=1000)
    text = tmp_path / "text.jsonl"
    text.write_text("\n".join(json.dumps({"id": f"t{i}", "text": f"quiet river {i}"}) for i in range(50)))
    dm = LMDataModule(cfg(train_shards=[str(shards)], string_train=[str(path)], text_train=[str(text)],
                          text_ratio=0.2, seq_len=256), TOK)
    batches = take(dm, 30)
    assert batches
    skipped = dm.skip_report().skipped
    assert skipped["string-form: audio character outside the vocabulary's 4 x 64 codes"] >= 1
    assert skipped["string-form: no 'text' field"] >= 1
    with pytest.raises(ValueError, match="codebook 5, code 1"):
        check_audio_characters(outside, TOK.vocab)


def test_config_accepts_string_form_as_the_speech_side(tmp_path):
    from audiolm.lm.train_config import load_train_config

    cfg_ = load_train_config("quickstart", ["data.train_shards=[]", f"data.string_train=[{tmp_path / 'x.jsonl'}]",
                                            "data.text_train=[]", "data.text_ratio=0.0"], require_data=True)
    assert cfg_.data.string_train == [str(tmp_path / "x.jsonl")]
