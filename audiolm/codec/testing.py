"""Tiny synthetic corpora for tests: "phones" rendered as harmonic tones, with lhotse phone alignments.

Each phone symbol has its own pair of formant-like frequencies, so a frame classifier can learn
them in seconds; speakers differ in pitch. Not speech -- just the shape of the real corpus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHONES = ["a", "e", "i", "o", "u", "m", "s", "t"]


def synth_phones(rng: np.random.Generator, sr: int, seconds: float, f0: float):
    """-> (audio float32 [S], [(symbol, start, duration), ...])."""
    n = int(seconds * sr)
    audio = np.zeros(n, dtype=np.float32)
    items, t = [], 0.1
    while t < seconds - 0.15:
        sym = PHONES[int(rng.integers(len(PHONES)))]
        dur = float(rng.uniform(0.06, 0.16))
        k = PHONES.index(sym)
        i0, i1 = int(t * sr), min(n, int((t + dur) * sr))
        tt = np.arange(i1 - i0) / sr
        if sym == "s":
            seg = rng.normal(0, 0.05, i1 - i0) * np.sin(2 * np.pi * 5000 * tt)
        elif sym == "t":
            seg = rng.normal(0, 0.15, i1 - i0) * np.exp(-tt * 60)
        else:
            f1, f2 = 300 + 90 * k, 900 + 260 * k
            seg = sum(np.sin(2 * np.pi * h * f0 * tt) * (np.exp(-((h * f0 - f1) / 150) ** 2) +
                                                         0.5 * np.exp(-((h * f0 - f2) / 200) ** 2))
                      for h in range(1, int(4000 / f0)))
            seg = 0.3 * seg / (np.abs(seg).max() + 1e-6)
        audio[i0:i1] = seg * np.hanning(i1 - i0) ** 0.3
        items.append((sym, round(t, 4), round(dur, 4)))
        t += dur
    return audio, items


def fake_words(items, size: int = 3) -> list:
    """Word alignment over phone ``items``: consecutive groups of ``size`` phones, spelled by their phones."""
    from lhotse.supervision import AlignmentItem

    words = []
    for i in range(0, len(items), size):
        group = items[i : i + size]
        start = group[0][1]
        end = group[-1][1] + group[-1][2]
        words.append(AlignmentItem("".join(s for s, _, _ in group), start, round(end - start, 4)))
    return words


def make_fake_cuts(out_dir: str | Path, n: int = 8, sr: int = 24000, seconds: float = 2.0, seed: int = 0,
                   n_speakers: int = 2):
    """Write ``n`` wav files + return a lhotse CutSet (MonoCuts, one supervision with phone and word alignments)."""
    import soundfile as sf
    from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
    from lhotse.supervision import AlignmentItem

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cuts = []
    for i in range(n):
        spk = i % n_speakers
        dur = seconds * float(rng.uniform(0.8, 1.2))
        audio, items = synth_phones(rng, sr, dur, f0=110 + 60 * spk)
        path = out_dir / f"utt{i:04d}.wav"
        sf.write(path, audio, sr)
        rec = Recording.from_file(path, recording_id=f"utt{i:04d}")
        sup = SupervisionSegment(id=rec.id, recording_id=rec.id, start=0.0, duration=rec.duration,
                                 text=" ".join(s for s, _, _ in items), speaker=f"spk{spk}", language="en",
                                 custom={"document": f"doc{i // 4}", "position": i % 4},
                                 alignment={"phone": [AlignmentItem(s, st, d) for s, st, d in items],
                                            "word": fake_words(items)})
        cuts.append(MonoCut(id=rec.id, start=0.0, duration=rec.duration, channel=0, recording=rec,
                            supervisions=[sup]))
    return CutSet.from_cuts(cuts)


def tiny_codec_overrides(**extra) -> list[str]:
    """key=value overrides for a codec that trains a step in well under a second (tests)."""
    ov = {
        "model.seanet.n_filters": 8, "model.seanet.dimension": 32, "model.seanet.patch_size": 8,
        "model.seanet.ratios": "[6,5,4]", "model.transformer.n_layers": 1, "model.transformer.n_heads": 2,
        "model.transformer.ffn_dim": 64, "model.transformer.context": 16, "model.quantizer.codebook_size": 32,
        "model.quantizer.codebook_dim": 16, "disc.n_ffts": "[128]", "disc.filters": 4, "disc.n_layers": 1,
        "loss.mel_n_ffts": "[256,512]", "loss.mel_n_mels": "[32,40]", "teacher.steps": 20, "teacher.hidden": 16,
        "teacher.batch_size": 8, "data.batch_size": 4, "data.num_workers": 0, "data.segment_seconds": 0.5,
        "data.val_max_cuts": 4, "data.val_seconds": 1.0, "data.n_audio_examples": 1,
    }
    ov.update(extra)
    return [f"{k}={v}" for k, v in ov.items()]


def tiny_codec(seed: int = 0, **extra):
    """An untrained tiny SplitRVQCodec behind the AudioCodec interface."""
    import torch

    from ..config import load_config
    from .api import TrainedCodec
    from .config import CodecTrainConfig
    from .model import build_codec

    torch.manual_seed(seed)
    cfg = load_config(CodecTrainConfig, None, tiny_codec_overrides(**extra))
    return TrainedCodec(build_codec(cfg.model), "tiny")
