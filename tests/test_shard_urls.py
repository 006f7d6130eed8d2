"""Shards that are not on local disk: pipe: commands and URLs in training data and tokenize input."""

import functools
import http.server
import threading

import numpy as np
import pytest
import torch

from audiolm import shard_urls
from audiolm.shard_urls import RemoteReadError, expand_braces, field_address, meta_address
from audiolm.tokens.datamodule import DataConfig, LMDataModule
from audiolm.tokens.sources import ShardUnit, load_shard
from audiolm.tokens.testing import random_documents, take_batches, tiny_tokenizer, write_token_shards
from audiolm.token_shards import meta_dir

TOK = tiny_tokenizer(n_codebooks=4, codebook_size=64)
DOCS = random_documents(30, seed=3)
KEYS = ("input_ids", "labels", "position_ids", "document_ids", "modality", "audio_seconds")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(shard_urls, "RETRIES", 2)
    monkeypatch.setattr(shard_urls.time, "sleep", lambda s: None)


def _shards(tmp_path, name="train", docs=DOCS):
    out = write_token_shards(tmp_path / name, docs, shard_size=10)
    meta_dir(out).mkdir()
    (out / "codec.json").rename(meta_dir(out) / "codec.json")  # where audiolm tokenize puts it
    return out


def _pattern(prefix: str, out) -> str:
    """``prefix/cuts.{000000..N}.jsonl.gz`` over every shard of a local token folder."""
    n = len(list(out.glob("cuts.*.jsonl.gz")))
    return f"{prefix}/cuts.{{000000..{n - 1:06d}}}.jsonl.gz"


def _dm(tmp_path, train, val):
    c = DataConfig(tokenizer=str(TOK.save(tmp_path / "tok.json")), train_shards=[train], val_shards=[val],
                   codebooks=[0, 1, 2, 3], seq_len=128, batch_size=2, num_workers=0, text_ratio=0.0, seed=0)
    dm = LMDataModule(c)
    dm.setup("fit")
    return dm


def _same(a, b):
    return len(a) == len(b) > 0 and all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in KEYS)


def test_brace_patterns_expand_like_webdataset():
    assert expand_braces("d/cuts.{000008..000010}.jsonl.gz") == [f"d/cuts.0000{i:02d}.jsonl.gz" for i in (8, 9, 10)]
    assert expand_braces("{a,b}/x{1..2}") == ["a/x1", "a/x2", "b/x1", "b/x2"]
    assert expand_braces("plain") == ["plain"]
    for bad, why in (("x{3..1}", "backwards"), ("x{3}", "neither a range"), ("x{1..2", "unbalanced")):
        with pytest.raises(ValueError, match=why):
            expand_braces(bad)
    c = "pipe:aws s3 cp s3://b/tok/train/cuts.000003.jsonl.gz - | cat"
    assert field_address(c, "codes") == "pipe:aws s3 cp s3://b/tok/train/codes.000003.tar - | cat"
    assert meta_address(c, "codec.json") == "pipe:aws s3 cp s3://b/tok/train.meta/codec.json - | cat"
    with pytest.raises(ValueError, match=r"cuts\.NNNNNN\.jsonl\.gz"):
        field_address("s3://bucket/tokens/train", "codes")


def test_training_reads_shards_through_pipe_cat_exactly_as_from_disk(tmp_path):
    train, val = _shards(tmp_path), _shards(tmp_path, "val", random_documents(4, seed=9))
    local = _dm(tmp_path, str(train), str(val))
    assert len(list(train.glob("cuts.*"))) > 3
    remote = _dm(tmp_path, _pattern(f"pipe:cat {train}", train), _pattern(f"pipe:cat {val}", val))
    assert remote.codec_info == local.codec_info  # DIR.meta/codec.json read through the same command
    assert _same(take_batches(remote, 6), take_batches(local, 6))
    assert _same(remote.val_batches(), local.val_batches())
    assert remote.state_dict() == local.state_dict()  # the cursor does not depend on where shards live


def test_training_reads_shards_over_http(tmp_path):
    pytest.importorskip("smart_open")
    train, val = _shards(tmp_path), _shards(tmp_path, "val", random_documents(4, seed=9))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        remote = _dm(tmp_path, _pattern(f"{url}/train", train), _pattern(f"{url}/val", val))
        local = _dm(tmp_path, str(train), str(val))
        assert remote.codec_info == local.codec_info
        assert _same(take_batches(remote, 4), take_batches(local, 4))
    finally:
        server.shutdown()


def test_a_failing_command_is_an_error_naming_it_not_an_empty_shard(tmp_path):
    train = _shards(tmp_path)
    unit = ShardUnit(f"pipe:cat {train}/cuts.000999.jsonl.gz", f"pipe:cat {train}/codes.000999.tar")
    with pytest.raises(RemoteReadError, match=r"cuts\.000999\.jsonl\.gz: could not be read after 2 tries "
                                              r"\(the command exited with status 1\)"):
        load_shard(unit)
    with pytest.raises(RemoteReadError, match="status 3"):
        shard_urls.read_bytes(f"cat {train}/codes.000000.tar; exit 3".join(["pipe:", ""]))


def test_a_truncated_stream_keeps_what_was_read_and_is_counted_under_its_address(tmp_path):
    train = _shards(tmp_path)
    codes = f"pipe:head -c 4000 {train}/codes.000000.tar"
    docs = load_shard(ShardUnit(f"pipe:cat {train}/cuts.000000.jsonl.gz", codes))
    whole = load_shard(ShardUnit(str(train / "cuts.000000.jsonl.gz"), str(train / "codes.000000.tar")))
    kept = [d for d in docs if not d[0].endswith("#damaged")]
    assert 0 < len(kept) < len(whole) and [d[0] for d in kept] == [d[0] for d in whole[: len(kept)]]
    assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for d, w in zip(kept, whole) for a, b in zip(d[1], w[1]))
    (_, _, notes), = [d for d in docs if d[0].endswith("#damaged")]
    assert notes[0][1].endswith(codes)  # the skip report names the command, not a scratch copy


# -- tokenize input ----------------------------------------------------------------------------
def _codes(out):
    from audiolm.codec.tokenize import open_shards

    return {c.id: np.asarray(c.load_codes()) for c in open_shards(out)}


def test_tokenize_reads_manifests_and_shar_audio_through_pipes_and_folders(tmp_path, ckpt, one_thread):
    from audiolm.codec.testing import make_fake_cuts
    from audiolm.codec.tokenize import tokenize

    cuts = make_fake_cuts(tmp_path / "audio", n=5, seconds=0.4)
    cuts.to_file(tmp_path / "cuts.jsonl.gz")
    shar = tmp_path / "shar"
    shar.mkdir()
    cuts.to_shar(str(shar), fields={"recording": "flac"}, shard_size=2)  # lossless: the same samples
    ref = tokenize(ckpt, str(tmp_path / "cuts.jsonl.gz"), tmp_path / "ref", shard_size=2, progress=False)
    assert ref["complete"] and ref["cuts_encoded"] == 5
    want = _codes(tmp_path / "ref")
    inputs = {"pipe_manifest": f"pipe:cat {tmp_path}/cuts.jsonl.gz",
              "shar_folder": str(shar),
              "shar_pipe": _pattern(f"pipe:cat {shar}", shar)}
    for name, src in inputs.items():
        s = tokenize(ckpt, src, tmp_path / name, shard_size=2, progress=False)
        assert s["complete"] and s["cuts_encoded"] == 5, name
        got = _codes(tmp_path / name)
        assert sorted(got) == sorted(want) and all(np.array_equal(got[k], want[k]) for k in want), name
    again = tokenize(ckpt, inputs["shar_pipe"], tmp_path / "shar_pipe", shard_size=2, progress=False)
    assert again["complete"]  # a rerun of the same input finds its plan and has nothing to do
    with pytest.raises(RemoteReadError, match="status 1"):
        tokenize(ckpt, f"pipe:cat {tmp_path}/missing.jsonl.gz", tmp_path / "x", shard_size=2, progress=False)
    (shar / "recording.000001.tar").unlink()
    with pytest.raises(FileNotFoundError, match="recording.000001.tar"):
        tokenize(ckpt, str(shar), tmp_path / "y", shard_size=2, progress=False)
