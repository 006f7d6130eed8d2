"""Codec losses: multi-scale mel, multi-resolution STFT, hinge adversarial, feature matching, distillation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .audio import LogMel


class MultiScaleMelLoss(nn.Module):
    """Mean over scales of L1 between log-mel magnitudes (DAC-style), optionally + L1 on linear mels.

    A squared error on log-mels would let near-silent bins (log of tiny values) dominate; L1 keeps
    every bin's weight bounded.
    """

    def __init__(self, sample_rate: int, n_ffts=(256, 512, 1024, 2048), n_mels=(32, 64, 80, 80)):
        super().__init__()
        self.mels = nn.ModuleList(
            LogMel(sample_rate, n_fft=n, hop=n // 4, n_mels=m, power=1.0, eps=1e-5) for n, m in zip(n_ffts, n_mels)
        )

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = y.new_zeros(())
        for mel in self.mels:
            total = total + F.l1_loss(mel(y_hat), mel(y))
        return total / len(self.mels)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 at several resolutions (Parallel WaveGAN)."""

    def __init__(self, n_ffts=(512, 1024, 2048)):
        super().__init__()
        self.n_ffts = list(n_ffts)
        for n in self.n_ffts:
            self.register_buffer(f"win{n}", torch.hann_window(n), persistent=False)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_hat, y = y_hat.flatten(0, -2), y.flatten(0, -2)
        total = y.new_zeros(())
        for n in self.n_ffts:
            w = getattr(self, f"win{n}")
            a = torch.stft(y_hat, n, n // 4, window=w, return_complex=True).abs().clamp_min(1e-7)
            b = torch.stft(y, n, n // 4, window=w, return_complex=True).abs().clamp_min(1e-7)
            sc = torch.linalg.norm(b - a) / torch.linalg.norm(b).clamp_min(1e-7)
            total = total + sc + F.l1_loss(a.log(), b.log())
        return total / len(self.n_ffts)


def hinge_d_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits)) / len(real_logits)


def hinge_g_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.relu(1 - f).mean() for f in fake_logits) / len(fake_logits)


def feature_matching_loss(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    """Relative L1 between discriminator feature maps of real and reconstructed audio (EnCodec)."""
    total, n = 0.0, 0
    for rs, fs in zip(real_feats, fake_feats):
        for r, f in zip(rs, fs):
            r = r.detach()
            total = total + F.l1_loss(f, r) / r.abs().mean().clamp_min(1e-5)
            n += 1
    return total / max(n, 1)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity per frame, averaged. student/teacher: [B, T, D] (same T)."""
    return (1 - F.cosine_similarity(student, teacher.detach(), dim=-1)).mean()
