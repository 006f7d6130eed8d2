"""LM data readers under faults: missing codes, damaged shard and text files, data with no tokens."""

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from audiolm.tokens.datamodule import DataConfig, LMDataModule
from audiolm.tokens.sources import DAMAGED
from audiolm.tokens.testing import random_documents, sentences, tiny_tokenizer, write_token_shards, take_batches as take

TOK = tiny_tokenizer(n_codebooks=4, codebook_size=64)
DOCS = random_documents(40, seed=2)
REPO = Path(__file__).resolve().parent.parent


def cfg(**kw):
    base = dict(codebooks=[0, 1, 2, 3], seq_len=128, batch_size=2, num_workers=0, text_ratio=0.0, seed=0)
    base.update(kw)
    return DataConfig(**base)


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_cuts_without_codes_fail_at_once_naming_the_file(tmp_path):
    shards = write_token_shards(tmp_path / "s", DOCS, shard_size=20)
    (shards / "codes.000001.tar").unlink()
    with pytest.raises(FileNotFoundError, match=r"codes\.000001\.tar .*missing.*rerun"):
        LMDataModule(cfg(train_shards=[str(shards)]), TOK).setup("fit")


def test_data_without_a_single_token_is_an_error_not_a_spin():
    """Every document yields 0 tokens (no codes for an audio-only format): before, this looped forever."""
    script = textwrap.dedent("""
        from audiolm.tokens.datamodule import DataConfig, LMDataModule
        from audiolm.tokens.testing import random_documents, tiny_tokenizer
        tok = tiny_tokenizer(n_codebooks=4, codebook_size=64)
        docs = [(d, [(None, t) for _, t in u]) for d, u in random_documents(6, seed=1)]
        cfg = DataConfig(codebooks=[0, 1, 2, 3], seq_len=64, batch_size=2, num_workers=0, text_ratio=0.0,
                         formats=["audio_only"])
        dm = LMDataModule.from_documents(tok, docs, [], config=cfg)
        next(iter(dm.train_dataloader()))
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "got no tokens in whole epochs" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("victim", ["codes.000001.tar", "cuts.000001.jsonl.gz"])
def test_damaged_shard_file_is_skipped_counted_and_deterministic(tmp_path, victim):
    shards = write_token_shards(tmp_path / "s", DOCS, shard_size=20)
    _truncate(shards / victim)
    c = cfg(train_shards=[str(shards)])
    dm = LMDataModule(c, TOK)
    first = take(dm, 40)  # more than an epoch of this data
    rep = dm.skip_report()
    assert rep.skipped[f"{DAMAGED} {shards / victim}"] >= 1 if victim.endswith(".tar") else \
        any(k.startswith(DAMAGED) and victim in k for k in rep.skipped), dict(rep.skipped)
    again = take(LMDataModule(c, TOK), 40)  # the same place on every pass and on a rerun
    assert all((a["input_ids"] == b["input_ids"]).all() for a, b in zip(first, again))
    # the valid documents of the damaged shard before the damage are still read
    names = {n for b in first for n in TOK.decode_text(b["input_ids"].reshape(-1).tolist()).split() if n.startswith("doc")}
    assert any(n.startswith("doc2") for n in names), sorted(names)[:10]


def test_damaged_text_file_keeps_the_lines_before_the_damage(tmp_path):
    lines = [f'{{"id": "t{i}", "text": "{s}"}}\n' for i, s in enumerate(sentences(400, seed=3))]
    path = tmp_path / "text.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(lines)
    _truncate(path, 0.6)
    dm = LMDataModule(cfg(train_shards=[], text_train=[str(path)], text_ratio=1.0, seq_len=64), TOK)
    take(dm, 30)
    rep = dm.skip_report()
    assert rep.skipped[f"{DAMAGED} {path}"] >= 1, dict(rep.skipped)


def test_corrupt_codec_json_is_one_line_naming_it(tmp_path):
    shards = write_token_shards(tmp_path / "s", DOCS[:4])
    (shards / "codec.json").write_text('{"frame_rate": 12.5, "n_cod')
    with pytest.raises(ValueError, match=r"codec\.json: unreadable"):
        LMDataModule(cfg(train_shards=[str(shards)]), TOK).setup("fit")
