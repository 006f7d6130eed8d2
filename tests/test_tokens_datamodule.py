import re

import numpy as np
import pytest
import torch

from audiolm.config import load_config
from audiolm.tokens.datamodule import DataConfig, LMDataModule
from audiolm.tokens.documents import build_formats
from audiolm.tokens.modality import ACOUSTIC, SEMANTIC
from audiolm.tokens.packing import pack_documents
from audiolm.tokens.sources import assign_work
from audiolm.tokens.testing import random_documents, sentences, tiny_tokenizer, write_token_shards, take_batches as take

KEYS = ("input_ids", "labels", "position_ids", "document_ids", "modality")
TOK = tiny_tokenizer(n_codebooks=4, codebook_size=64)
DOCS = random_documents(60, seed=1)
TEXTS = [" ".join(sentences(6, seed=i)) for i in range(300)]


def cfg(**kw):
    base = dict(codebooks=[0, 1, 2, 3], seq_len=128, batch_size=2, num_workers=0, text_ratio=0.1, seed=0)
    base.update(kw)
    return DataConfig(**base)


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in KEYS + ("audio_seconds",))


def doc_names(batches):
    return {m for b in batches for m in re.findall(r"doc\d+", TOK.decode_text(b["input_ids"].reshape(-1).tolist()))}


def test_batches_have_the_contract_fields():
    dm = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg())
    (b,) = take(dm, 1)
    assert set(b) == set(KEYS) | {"audio_seconds", "n_audio_frames"}
    assert all(b[k].shape == (2, 128) and b[k].dtype == torch.int64 for k in KEYS)
    assert "_state" not in b
    audio_labels = ((b["modality"] == SEMANTIC) | (b["modality"] == ACOUSTIC)).sum().item()
    assert b["audio_seconds"].item() == pytest.approx(audio_labels / 4 / 12.5)
    assert (b["position_ids"][:, 0] == 0).all() and (b["document_ids"][:, 0] == 0).all()


@pytest.mark.parametrize("workers", [0, 2])
def test_exact_resume(workers):
    c = cfg(num_workers=workers)
    ref = take(LMDataModule.from_documents(TOK, DOCS, TEXTS, config=c), 11)
    for k in (3, 6) if workers == 0 else (5,):
        first = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=c)
        assert same(take(first, k), ref[:k])
        state = first.state_dict()
        fresh = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=c)
        fresh.load_state_dict(state)
        assert same(take(fresh, 11 - k), ref[k:])
        assert fresh.state_dict()["ranks"]["0"]["n_batches"] == 11
    # a new iterator over the same dataloader (e.g. a new Lightning epoch) continues, never repeats
    dm = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=c)
    loader = dm.train_dataloader()
    got = []
    for stop in (4, 7):
        for b in loader:
            got.append(dm.on_before_batch_transfer(b, 0))
            if len(got) == stop:
                break
    assert same(got, ref[:7])


def test_resume_through_lightning_checkpoints(tmp_path):
    import lightning as L

    class Recorder(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(TOK.vocab.size, 4)
            self.seen = []

        def training_step(self, batch, i):
            self.seen.append(batch["input_ids"].sum().item() * 1000003 + batch["labels"].sum().item())
            return self.emb(batch["input_ids"]).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def trainer(steps, d):
        ck = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / d, every_n_train_steps=3, save_top_k=-1, filename="{step}")
        return L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[ck], limit_val_batches=0)

    c = cfg(num_workers=1)
    full = Recorder()
    trainer(7, "a").fit(full, LMDataModule.from_documents(TOK, DOCS, TEXTS, config=c))
    resumed = Recorder()
    trainer(7, "b").fit(resumed, LMDataModule.from_documents(TOK, DOCS, TEXTS, config=c), ckpt_path=str(tmp_path / "a" / "step=3.ckpt"))
    assert len(full.seen) == 7 and resumed.seen == full.seen[3:]


def test_determinism_seed_and_topology_change():
    a = take(LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg()), 5)
    b = take(LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg()), 5)
    assert same(a, b)
    c = take(LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg(seed=1)), 5)
    assert not same(a, c)
    # a state from another world size cannot continue the stream: fresh streams at the next epoch
    dm = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg())
    take(dm, 2)
    sd = dm.state_dict()
    sd["world_size"] = 4
    other = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg())
    other.load_state_dict(sd)
    assert len(take(other, 2)) == 2 and other._progress.start_epoch == 1


def test_ddp_ranks_and_workers_read_disjoint_shares():
    for n_units in range(1, 6):
        for R in range(1, 8):
            items = [it for r in range(R) for it in assign_work(n_units, R, r, epoch=3, seed=0, salt=1)]
            assert len(items) == len(set(items))
            n_parts = items[0][2]
            assert {(u, p) for u, p, _ in items} == {(u, p) for u in range(n_units) for p in range(n_parts)}
    # within one epoch the two ranks see different documents, and together (nearly) all of them
    c = cfg(text_ratio=0.0, seq_len=256)
    total = sum(len(d) for _, u in DOCS for d in build_formats(u, c.formats, LMDataModule.from_documents(TOK, DOCS[:1], config=c).layout, TOK))
    per_rank = int(0.9 * total / 2 / (256 * 2))
    seen = [doc_names(take(LMDataModule.from_documents(TOK, DOCS, config=c, rank=r, world_size=2, docs_per_unit=4), per_rank))
            for r in (0, 1)]
    assert not (seen[0] & seen[1]) and len(seen[0] | seen[1]) > 0.8 * len(DOCS)


def test_shar_round_trip_and_validation(tmp_path):
    tok_path = TOK.save(tmp_path / "tok.json")
    train = write_token_shards(tmp_path / "train", DOCS, shard_size=25)
    val_docs = random_documents(6, seed=7)
    val = write_token_shards(tmp_path / "val", val_docs, shard_size=1000, frame_rate=10.0)
    (val / "codec.json").unlink()  # frame rate then comes from the codes' frame shift
    c = cfg(tokenizer=str(tok_path), train_shards=[str(train)], val_shards=[str(val)], text_ratio=0.0,
            layout="delay", codebooks=[0, 2])
    (train / "codec.json").write_text((train / "codec.json").read_text().replace("12.5", "10.0"))
    dm = LMDataModule(c)
    dm.setup("fit")
    assert dm.frame_rate == 10.0 and dm.codec_info.n_codebooks == 4
    vb = dm.val_batches()
    expect = [d for _, u in val_docs for d in build_formats(u, c.formats, dm.layout, TOK, c.seq_len)]
    ref = list(pack_documents(expect, c.seq_len, c.batch_size, TOK.pad_id))
    assert len(vb) == len(ref) and all(np.array_equal(v[k].numpy(), r[k]) for v, r in zip(vb, ref) for k in KEYS)
    frames = sum(codes.shape[1] for _, u in val_docs for codes, _ in u)
    assert sum(b["audio_seconds"].item() for b in vb) == pytest.approx(2 * frames / 10.0)  # delay fills excluded
    assert same(vb, LMDataModule(c).val_batches())
    seen = doc_names(take(dm, 4))
    assert seen and seen <= {f"doc{i}" for i in range(len(DOCS))}
    assert len(dm.val_dataloader()) == len(vb)


def test_cli_show(tmp_path, capsys):
    from audiolm.cli import main as cli

    shards = write_token_shards(tmp_path / "s", DOCS[:3], drop_codes=["doc00001-0000"])
    tok_path = TOK.save(tmp_path / "tok.json")
    assert cli(["tokens", "show", str(shards), "-n", "2", "--tokenizer", str(tok_path), "--layout", "delay"]) == 0
    out = capsys.readouterr().out
    assert "== document doc00000" in out and "== document doc00001" in out and "doc00002" not in out
    assert "<|text_start|>doc0 utt0" in out and "(no codes)" in out and "text_first:" in out


def test_bad_input_is_skipped_and_counted(tmp_path):
    with pytest.raises(FileNotFoundError, match="token shard directory .* not found"):
        LMDataModule(cfg(train_shards=[str(tmp_path / "nope")]), TOK).setup("fit")
    with pytest.raises(FileNotFoundError, match="text corpus"):
        LMDataModule(cfg(train_shards=[], text_train=[str(tmp_path / "nope.jsonl")], text_ratio=1.0), TOK).setup("fit")
    docs = random_documents(8, seed=3, utterances=(3, 5))
    docs[0][1][1] = (docs[0][1][1][0], "")  # empty transcript
    shards = write_token_shards(tmp_path / "bad", docs, drop_codes=[f"{docs[1][0]}-0000"])
    text = tmp_path / "text.jsonl"
    text.write_bytes(b'{"id": "a", "text": "quiet river"}\n{"id": "b", "text": ""}\nnot json\n\xff\n' * 20)
    dm = LMDataModule(cfg(train_shards=[str(shards)], text_train=[str(text)], text_ratio=0.3, seq_len=64), TOK)
    take(dm, 150)  # more than one epoch
    skipped = dm.skip_report().skipped
    assert skipped["empty transcript"] >= 1 and skipped["missing codes"] >= 1
    assert skipped["empty text"] >= 1 and skipped["invalid JSON line"] >= 1 and skipped["non-UTF-8 text"] >= 1
    assert 0.2 < dm.achieved_text_share() < 0.4
    with pytest.raises(ValueError, match="text_ratio=0.1 needs speech"):
        take(LMDataModule.from_documents(TOK, [], TEXTS, config=cfg()), 1)


def test_data_presets_load():
    from dataclasses import dataclass, field
    from pathlib import Path

    @dataclass
    class Wrap:
        data: DataConfig = field(default_factory=DataConfig)

    presets = sorted(Path(__file__).resolve().parent.parent.joinpath("conf/data").glob("*.yaml"))
    assert presets
    for p in presets:
        d = load_config(Wrap, p).data
        assert d.seq_len > 0 and d.formats


def _ddp_rank(rank, tmp):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=2)
    try:
        dm = LMDataModule.from_documents(TOK, DOCS, TEXTS, val=DOCS[:7], config=cfg(), rank=rank, world_size=2)
        take(dm, 3 + rank)  # ranks may differ in what they consumed; each keeps its own state
        sd = dm.state_dict()  # gathered from both ranks
        n_val = len(dm.val_batches())  # equalised across ranks
        torch.save({"sd": sd, "n_val": n_val, "own_val": sum(int((b["document_ids"] >= 0).any()) for b in dm.val_batches())},
                   f"{tmp}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_state_is_gathered_from_all_ranks_and_resumes_each(tmp_path):
    import torch.multiprocessing as mp

    mp.start_processes(_ddp_rank, args=(str(tmp_path),), nprocs=2, start_method="fork")
    out = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    sd = out[0]["sd"]
    assert sd == out[1]["sd"] and sorted(sd["ranks"]) == ["0", "1"] and sd["world_size"] == 2
    assert out[0]["n_val"] == out[1]["n_val"] and out[0]["own_val"] >= 1 and out[1]["own_val"] >= 1
    for rank in (0, 1):
        ref = take(LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg(), rank=rank, world_size=2), 8)
        dm = LMDataModule.from_documents(TOK, DOCS, TEXTS, config=cfg(), rank=rank, world_size=2)
        dm.load_state_dict(sd)
        assert same(take(dm, 5 - rank), ref[3 + rank:])


def test_data_rules_live_in_one_validate():
    from audiolm.config import ConfigError

    cases = {"data.text_ratio: must be in": dict(text_ratio=1.5), "data.seq_len": dict(seq_len=1),
             "data.formats": dict(formats=["s2st", "text_first"]), "data.prompt": dict(prompt="tgt_audio"),
             "data.layout": dict(layout="zigzag"), "data.formats: \\['nope'\\]": dict(formats=["nope"])}
    for msg, kw in cases.items():
        with pytest.raises(ConfigError, match=msg):
            cfg(**kw).validate()
    with pytest.raises(ConfigError, match="data.train_shards: text_ratio=0.1 needs speech"):
        cfg(text_train=["t.jsonl"]).validate(require_data=True)
    with pytest.raises(ConfigError, match="text_ratio=1 needs text corpora"):
        cfg(train_shards=["s"], text_ratio=1.0).validate(require_data=True)
    assert cfg(train_shards=["s"]).validate(require_data=True).text_ratio == 0.1
