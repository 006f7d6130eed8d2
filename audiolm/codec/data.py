"""Training batches for the codec: random crops of lhotse cuts, a deterministic function of the step.

Item ``i`` of :class:`CropBatches` is the whole batch of training step ``i`` (cuts drawn in
proportion to duration, crops at random offsets, both from an RNG seeded by ``(seed, i)``), and
:class:`StepSampler` yields the step indices from the module's own step counter to the end of the
current validation period. A resumed run therefore sees exactly the batches an uninterrupted run
would have seen, whatever Lightning's epoch bookkeeping does.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .audio import crop_or_pad, load_cut

log = logging.getLogger("audiolm")


def load_cuts(path: str):
    if not path:
        raise ValueError("train_cuts / val_cuts must be set to a lhotse CutSet manifest (e.g. data/synth/cuts_train.jsonl.gz)")
    from audiolm.data.manifest import read_cutset

    return read_cutset(path)


class CropBatches(Dataset):
    def __init__(self, cuts, sample_rate: int, segment_samples: int, batch_size: int, seed: int = 0,
                 cache_audio: bool = False):
        self.cuts = [c for c in cuts if c.duration > 0]
        if not self.cuts:
            raise ValueError("no training cuts with audio")
        self.sample_rate, self.segment, self.batch_size, self.seed = sample_rate, segment_samples, batch_size, seed
        dur = np.array([c.duration for c in self.cuts], dtype=np.float64)
        self.probs = dur / dur.sum()
        self.cache: dict[int, np.ndarray] | None = None
        if cache_audio:
            self.cache = {}
            for i in range(len(self.cuts)):
                self._audio(i)

    def _audio(self, i: int) -> np.ndarray:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        try:
            a = load_cut(self.cuts[i], self.sample_rate)
        except Exception as e:  # unreadable file: train on silence rather than die; say so once
            log.warning("codec data: cannot load %s (%s); using silence", self.cuts[i].id, e)
            a = np.zeros(self.segment, dtype=np.float32)
        if self.cache is not None:
            self.cache[i] = a
        return a

    def __len__(self) -> int:
        return 1 << 40  # indexed by step

    def __getitem__(self, step: int) -> dict:
        rng = np.random.default_rng([self.seed, int(step)])
        out = np.zeros((self.batch_size, 1, self.segment), dtype=np.float32)
        for b, i in enumerate(rng.choice(len(self.cuts), size=self.batch_size, p=self.probs)):
            a = self._audio(int(i))
            start = int(rng.integers(0, max(1, len(a) - self.segment + 1)))
            out[b, 0] = crop_or_pad(a, self.segment, start)
        return {"audio": torch.from_numpy(out), "step": int(step)}


class StepSampler(Sampler):
    """Yields steps ``state.train_step .. end of its period`` (period = steps between validations)."""

    def __init__(self, state, period: int, max_steps: int):
        self.state, self.period, self.max_steps = state, max(1, period), max_steps

    def __iter__(self):
        start = int(self.state.train_step)
        end = min((start // self.period + 1) * self.period, self.max_steps)
        return iter(range(start, end))

    def __len__(self) -> int:
        return self.period


class FixedClips(Dataset):
    """Validation: the first ``max_cuts`` cuts, each cut/padded to ``seconds`` from its start."""

    def __init__(self, cuts, sample_rate: int, seconds: float, max_cuts: int):
        self.cuts = [c for c in cuts if c.duration > 0][:max_cuts] if max_cuts else [c for c in cuts if c.duration > 0]
        self.sample_rate, self.n = sample_rate, int(round(seconds * sample_rate))

    def __len__(self) -> int:
        return len(self.cuts)

    def __getitem__(self, i: int) -> dict:
        c = self.cuts[i]
        try:
            a = load_cut(c, self.sample_rate)
        except Exception:
            a = np.zeros(self.n, dtype=np.float32)
        length = min(len(a), self.n)
        return {"audio": torch.from_numpy(crop_or_pad(a, self.n))[None], "length": length, "index": i}
