"""Tiny in-memory packed LM data for the training tests (no tokenizer, no shards).

Documents are arithmetic progressions ``(s + k*i) % V`` (learnable in a few dozen steps),
packed into rows with ``document_ids`` / ``position_ids`` / ``labels`` / ``modality`` exactly
like the real DataModule's batches. The stream is deterministic in (seed, batch index), each
rank reads batch indices ``i * world + rank`` (disjoint), and the DataModule's state is the
number of batches *consumed by training* (counted in ``on_before_batch_transfer``, after
Lightning's one-batch prefetch), which is what exact resume needs.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from audiolm.lm.train_config import LMTrainConfig
from audiolm.tokens.modality import ACOUSTIC, SEMANTIC, TEXT

VOCAB = 64
TOKENS_PER_SECOND = 100.0


def modality_of(ids: torch.Tensor) -> torch.Tensor:
    m = torch.full_like(ids, TEXT)
    m[ids >= 40] = SEMANTIC
    m[ids >= 52] = ACOUSTIC
    return m


def make_batch(index: int, batch_size: int, seq_len: int, seed: int = 0, split: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed * 1_000_003 + split * 7_919 + index)
    ids = torch.zeros(batch_size, seq_len, dtype=torch.long)
    doc = torch.full((batch_size, seq_len), -1, dtype=torch.long)
    pos = torch.zeros(batch_size, seq_len, dtype=torch.long)
    labels = torch.full((batch_size, seq_len), -100, dtype=torch.long)
    for b in range(batch_size):
        t, d = 0, 0
        while t < seq_len - 2:
            n = int(torch.randint(4, seq_len // 2 + 1, (1,), generator=g))
            n = min(n, seq_len - t - int(torch.randint(0, 2, (1,), generator=g)))  # leave padding sometimes
            if n < 2:
                break
            s = int(torch.randint(0, VOCAB, (1,), generator=g))
            k = int(torch.randint(1, 3, (1,), generator=g))
            seq = (s + k * torch.arange(n)) % VOCAB
            ids[b, t : t + n] = seq
            doc[b, t : t + n] = d
            pos[b, t : t + n] = torch.arange(n)
            labels[b, t : t + n - 1] = seq[1:]
            t, d = t + n, d + 1
    modality = torch.where(labels >= 0, modality_of(labels.clamp_min(0)), torch.full_like(labels, -1))
    n_audio = ((modality == SEMANTIC) | (modality == ACOUSTIC)).sum(1).float()
    return {
        "input_ids": ids,
        "labels": labels,
        "position_ids": pos,
        "document_ids": doc,
        "modality": modality,
        "audio_seconds": n_audio / TOKENS_PER_SECOND,
        "index": torch.full((batch_size,), index, dtype=torch.long),
    }


class _Stream(IterableDataset):
    def __init__(self, dm: "ToyLMData", start: int, rank: int, world: int):
        self.dm, self.start, self.rank, self.world = dm, start, rank, world

    def __iter__(self):
        i = self.start
        while True:
            yield make_batch(i * self.world + self.rank, self.dm.batch_size, self.dm.seq_len, self.dm.seed)
            i += 1


class ToyLMData(pl.LightningDataModule):
    def __init__(self, batch_size: int = 4, seq_len: int = 32, seed: int = 0, n_val_batches: int = 2):
        super().__init__()
        self.batch_size, self.seq_len, self.seed, self.n_val_batches = batch_size, seq_len, seed, n_val_batches
        self.consumed = 0
        self.seen: list[int] = []  # batch indices trained on, on this rank

    def _rank_world(self) -> tuple[int, int]:
        t = self.trainer
        return (t.global_rank, t.world_size) if t is not None else (0, 1)

    def train_dataloader(self):
        rank, world = self._rank_world()
        return DataLoader(_Stream(self, self.consumed, rank, world), batch_size=None)

    def val_dataloader(self):
        rank, world = self._rank_world()
        batches = [make_batch(i, self.batch_size, self.seq_len, self.seed, split=1)
                   for i in range(rank, self.n_val_batches, world)]
        return DataLoader(batches, batch_size=None)

    def on_before_batch_transfer(self, batch, dataloader_idx):
        if self.trainer is not None and self.trainer.training:
            self.consumed += 1
            self.seen.append(int(batch["index"][0]))
        return batch

    def state_dict(self):
        return {"consumed": self.consumed}

    def load_state_dict(self, state_dict):
        self.consumed = int(state_dict["consumed"])


def toy_config(tmp_path, steps: int = 20, **trainer_overrides) -> LMTrainConfig:
    cfg = LMTrainConfig(name="toy", exp_dir=str(tmp_path))
    m = cfg.model
    m.vocab_size, m.d_model, m.n_layers, m.n_heads, m.n_kv_heads, m.ffn_dim, m.max_seq_len = VOCAB, 32, 2, 2, 1, 64, 64
    m.attention = "sdpa"
    cfg.data.seq_len, cfg.data.batch_size = 32, 4
    cfg.optim.lr = 3e-3
    cfg.optim.warmup_frac = 0.1
    t = cfg.trainer
    t.max_tokens = steps * cfg.data.batch_size * cfg.data.seq_len
    t.accelerator, t.devices, t.precision = "cpu", 1, "32-true"
    t.val_every_n_steps, t.ckpt_every_n_steps, t.log_every_n_steps = 0, 0, 1
    t.progress_bar = False
    for k, v in trainer_overrides.items():
        setattr(t, k, v)
    return cfg


class Recorder(pl.Callback):
    """Loss of every optimizer step and a checksum of the weights after it."""

    def __init__(self):
        self.losses: dict[int, float] = {}
        self.weights: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if outputs and "loss" in outputs:  # a skipped (non-finite) batch has no loss
            self.losses[trainer.global_step] = float(outputs["loss"])
        self.weights[trainer.global_step] = float(sum(p.detach().double().sum() for p in pl_module.parameters()))


class StopAt(pl.Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step:
            trainer.should_stop = True
