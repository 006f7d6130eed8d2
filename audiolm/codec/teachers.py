"""Teachers for the semantic distillation of codebook 0.

A teacher maps codec-rate audio ``[B, 1, S]`` to features ``[B, T_teacher, D]`` at its own frame
rate; :func:`align_features` pools them onto the codec's frames. Two teachers:

* :class:`HFTeacher` -- a Hugging Face WavLM / HuBERT (any ``AutoModel`` speech encoder) loaded
  from a *local* directory; audio is resampled to its rate (16 kHz) and normalised the way its
  feature extractor says.
* :class:`PhoneTeacher` -- the offline default: a small non-causal conv net over log-mels trained
  to classify phones from the corpus alignments (:func:`train_phone_teacher`). Its hidden layer
  (or its posteriors) is the feature: phonetic by construction, no download.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiolm.resample import resample

from .audio import LogMel, load_cut
from .phones import frame_labels, has_phone_alignments, phone_inventory

log = logging.getLogger("audiolm")


def align_features(feats: torch.Tensor, n_frames: int) -> torch.Tensor:
    """[B, T, D] at any frame rate -> [B, n_frames, D] by averaging over each codec frame's span."""
    if feats.shape[1] == n_frames:
        return feats
    return F.adaptive_avg_pool1d(feats.transpose(1, 2), n_frames).transpose(1, 2)


class Teacher(nn.Module):
    sample_rate: int  # rate of the audio given to features()
    dim: int
    frame_rate: float

    def features(self, wav: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class HFTeacher(Teacher):
    def __init__(self, path: str | Path, sample_rate: int, layer: int = -1):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"teacher.path {str(path)!r} is not a local model directory (WavLM/HuBERT)")
        cfg = AutoConfig.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.sample_rate, self.layer = sample_rate, layer
        self.in_rate, self.normalize = 16000, True
        pre = path / "preprocessor_config.json"
        if pre.is_file():
            meta = json.loads(pre.read_text())
            self.in_rate = int(meta.get("sampling_rate", 16000))
            self.normalize = bool(meta.get("do_normalize", True))
        self.dim = int(cfg.hidden_size)
        self.frame_rate = self.in_rate / math.prod(getattr(cfg, "conv_stride", [320]))

    @torch.no_grad()
    def features(self, wav: torch.Tensor) -> torch.Tensor:
        x = resample(wav.squeeze(1).float(), self.sample_rate, self.in_rate)
        if self.normalize:
            x = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-7)
        out = self.model(x, output_hidden_states=True)
        return out.hidden_states[self.layer]


class PhoneRecognizer(nn.Module):
    """log-mel (10 ms frames) -> non-causal dilated conv stack -> hidden -> phone logits."""

    def __init__(self, n_mels: int, hidden: int, n_phones: int, dilations=(1, 2, 4, 1)):
        super().__init__()
        self.inp = nn.Conv1d(n_mels, hidden, 5, padding=2)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.GELU(), nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d), nn.GroupNorm(1, hidden))
            for d in dilations
        )
        self.out = nn.Conv1d(hidden, n_phones, 1)

    def hidden(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.inp(mel)
        for b in self.blocks:
            h = h + b(h)
        return h

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.hidden(mel)))


class PhoneTeacher(Teacher):
    N_MELS = 80

    def __init__(self, sample_rate: int, phones: list[str], hidden: int = 192, feature: str = "hidden"):
        super().__init__()
        if feature not in ("hidden", "posteriors"):
            raise ValueError(f"teacher.feature must be hidden or posteriors, got {feature!r}")
        self.sample_rate, self.phones, self.feature = sample_rate, list(phones), feature
        self.hop = sample_rate // 100
        self.frame_rate = sample_rate / self.hop
        self.mel = LogMel(sample_rate, n_fft=4 * self.hop, hop=self.hop, n_mels=self.N_MELS, fmax=min(8000, sample_rate / 2))
        self.register_buffer("mean", torch.zeros(self.N_MELS, 1))
        self.register_buffer("std", torch.ones(self.N_MELS, 1))
        self.net = PhoneRecognizer(self.N_MELS, hidden, len(phones))
        self.dim = hidden if feature == "hidden" else len(phones)
        self.config = {"sample_rate": sample_rate, "phones": self.phones, "hidden": hidden, "feature": feature}

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        return (self.mel(wav) - self.mean) / self.std

    @torch.no_grad()
    def features(self, wav: torch.Tensor) -> torch.Tensor:
        mel = self.log_mel(wav)
        if self.feature == "hidden":
            return self.net.hidden(mel).transpose(1, 2)
        return self.net(mel).softmax(1).transpose(1, 2)

    def save(self, path: str | Path, extra: dict | None = None) -> None:
        torch.save({"config": self.config, "state_dict": self.state_dict(), **(extra or {})}, path)

    @classmethod
    def load(cls, path: str | Path, feature: str | None = None) -> "PhoneTeacher":
        ck = torch.load(path, map_location="cpu", weights_only=True)
        c = dict(ck["config"])
        if feature:
            c["feature"] = feature
        t = cls(c["sample_rate"], c["phones"], c["hidden"], c["feature"])
        t.load_state_dict(ck["state_dict"])
        return t.eval()


def train_phone_teacher(cuts, sample_rate: int, out_path: str | Path, *, hidden: int = 192, steps: int = 600,
                        batch_size: int = 32, segment_frames: int = 200, lr: float = 3e-3, max_cuts: int = 0,
                        feature: str = "hidden", seed: int = 0) -> PhoneTeacher:
    """Train the phone recognizer on ``cuts`` with phone alignments; save to ``out_path``.

    Log-mels and frame labels are computed once; training draws random ``segment_frames`` windows.
    About a minute on two CPU cores for the embedded corpus.
    """
    cuts = list(cuts)
    if max_cuts:
        cuts = cuts[:max_cuts]
    if not has_phone_alignments(cuts):
        raise ValueError("teacher.kind=phones needs cuts with supervision.alignment['phone'] (the synth corpus has "
                         "them); use teacher.kind=hf teacher.path=DIR (WavLM/HuBERT) or teacher.kind=none")
    t0, c0 = time.time(), time.process_time()
    phones = phone_inventory(cuts)
    p2i = {p: i for i, p in enumerate(phones)}
    teacher = PhoneTeacher(sample_rate, phones, hidden, feature)
    mels, labels = [], []
    with torch.no_grad():
        for cut in cuts:
            try:
                audio = load_cut(cut, sample_rate)
            except Exception as e:  # unreadable audio: leave it out of the teacher's data
                log.warning("phone teacher: skipping %s (%s)", cut.id, e)
                continue
            m = teacher.mel(torch.from_numpy(audio)[None])[0]
            mels.append(m)
            labels.append(torch.from_numpy(frame_labels(cut, 1.0 / teacher.frame_rate, m.shape[-1], p2i)))
    allm = torch.cat(mels, -1)
    teacher.mean.copy_(allm.mean(-1, keepdim=True))
    teacher.std.copy_(allm.std(-1, keepdim=True).clamp_min(1e-3))
    mels = [(m - teacher.mean) / teacher.std for m in mels]
    n_val = max(1, len(mels) // 20)
    tr_m, tr_l, va_m, va_l = mels[n_val:], labels[n_val:], mels[:n_val], labels[:n_val]
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    net = teacher.net
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.1)
    lens = np.array([m.shape[-1] for m in tr_m])
    probs = lens / lens.sum()
    net.train()
    for step in range(steps):
        xb, yb = [], []
        for i in rng.choice(len(tr_m), size=batch_size, p=probs):
            m, lab = tr_m[i], tr_l[i]
            n = m.shape[-1]
            s = int(rng.integers(0, max(1, n - segment_frames + 1)))
            x, y = m[:, s : s + segment_frames], lab[s : s + segment_frames]
            if x.shape[-1] < segment_frames:
                x = F.pad(x, (0, segment_frames - x.shape[-1]))
                y = F.pad(y, (0, segment_frames - y.shape[-1]), value=-100)
            xb.append(x)
            yb.append(y)
        x = torch.stack(xb)
        x = x + 0.1 * torch.randn(x.shape, generator=g)  # light noise: robust to codec-like distortions
        loss = F.cross_entropy(net(x), torch.stack(yb), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        correct = total = 0
        for m, lab in zip(va_m, va_l):
            pred = net(m[None]).argmax(1)[0]
            correct += int((pred == lab).sum())
            total += lab.numel()
    acc = correct / max(total, 1)
    info = {"val_frame_accuracy": acc, "n_phones": len(phones), "n_cuts": len(mels), "steps": steps,
            "train_seconds": round(time.time() - t0, 1), "cpu_seconds": round(time.process_time() - c0, 1)}
    log.info("phone teacher: %s", info)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    teacher.save(out_path, {"info": info})
    return teacher.eval()


def build_teacher(cfg, sample_rate: int, run_dir: str | Path | None = None, train_cuts=None, seed: int = 0):
    """Teacher for a TeacherConfig: None (kind=none), HFTeacher, or a (cached / newly trained) PhoneTeacher."""
    if cfg.kind == "none":
        return None
    if cfg.kind == "hf":
        return HFTeacher(cfg.path, sample_rate, cfg.layer)
    if cfg.kind != "phones":
        raise ValueError(f"teacher.kind must be phones, hf or none, got {cfg.kind!r}")
    if cfg.path:
        return PhoneTeacher.load(cfg.path, cfg.feature)
    cached = Path(run_dir) / "teacher" / "phone_teacher.pt" if run_dir else None
    if cached is not None and cached.is_file():
        return PhoneTeacher.load(cached, cfg.feature)
    if train_cuts is None:
        raise ValueError("a phone teacher must be trained but no training cuts were given")
    return train_phone_teacher(train_cuts, sample_rate, cached or "phone_teacher.pt", hidden=cfg.hidden,
                               steps=cfg.steps, batch_size=cfg.batch_size, segment_frames=cfg.segment_frames,
                               lr=cfg.lr, max_cuts=cfg.max_cuts, feature=cfg.feature, seed=seed)
