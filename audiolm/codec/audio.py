"""Audio helpers shared by every stage: downmixing, padding, mel features.

Plain torch (there is no CPU torchaudio build). Resampling is :func:`audiolm.resample.resample`
(the one resampler of the package). Every function takes numpy arrays or tensors and returns the same kind.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F

from audiolm.resample import resample

Array = Union[np.ndarray, torch.Tensor]


def _as_tensor(x: Array) -> tuple[torch.Tensor, bool]:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), True
    return x, False


def _back(x: torch.Tensor, was_numpy: bool) -> Array:
    return x.numpy() if was_numpy else x


def downmix(x: Array) -> Array:
    """[C, S] or [B, C, S] -> mono with the channel axis kept as 1 (mean over channels)."""
    t, was_np = _as_tensor(x)
    if t.dim() == 1:
        t = t[None]
    if t.shape[-2] != 1:
        t = t.mean(dim=-2, keepdim=True)
    return _back(t, was_np)


def pad_to_multiple(x: Array, multiple: int, min_length: int = 0) -> Array:
    """Right-pad the last axis with zeros to a multiple of ``multiple`` (and at least ``min_length``)."""
    t, was_np = _as_tensor(x)
    n = t.shape[-1]
    target = max(min_length, math.ceil(max(n, 1) / multiple) * multiple)
    if target != n:
        t = F.pad(t, (0, target - n))
    return _back(t, was_np)


def crop_or_pad(x: Array, length: int, start: int = 0) -> Array:
    """Exactly ``length`` samples of the last axis from ``start``, zero-padded at the end."""
    t, was_np = _as_tensor(x)
    t = t[..., start : start + length]
    if t.shape[-1] < length:
        t = F.pad(t, (0, length - t.shape[-1]))
    return _back(t, was_np)


def n_frames(n_samples: int, hop: int) -> int:
    """Frames a causal codec emits for ``n_samples``: ``ceil(S / hop)`` (at least 1)."""
    return max(1, math.ceil(n_samples / hop))


# --- mel features -------------------------------------------------------------------------


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


@lru_cache(maxsize=64)
def _mel_fb_np(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    fmax = fmax or sr / 2
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mels = np.linspace(_hz_to_mel(np.array(fmin)), _hz_to_mel(np.array(fmax)), n_mels + 2)
    hz = _mel_to_hz(mels)
    fb = np.zeros((n_mels, len(freqs)), dtype=np.float32)
    for i in range(n_mels):
        lo, c, hi = hz[i], hz[i + 1], hz[i + 2]
        up = (freqs - lo) / max(c - lo, 1e-8)
        down = (hi - freqs) / max(hi - c, 1e-8)
        fb[i] = np.maximum(0, np.minimum(up, down))
    # Slaney-style area normalisation so bands of different width weigh alike.
    fb *= (2.0 / (hz[2 : n_mels + 2] - hz[:n_mels]))[:, None]
    return fb


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float = 0.0) -> torch.Tensor:
    """[n_mels, n_fft//2+1] triangular mel filters (HTK mel scale, Slaney area normalisation)."""
    return torch.from_numpy(_mel_fb_np(sr, n_fft, n_mels, float(fmin), float(fmax)))


class LogMel(torch.nn.Module):
    """log(mel power + eps) of [B, S] or [B, 1, S] audio -> [B, n_mels, frames] (frames = S // hop + 1)."""

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop: int = 256, n_mels: int = 80,
                 fmin: float = 0.0, fmax: float = 0.0, power: float = 1.0, eps: float = 1e-5, center: bool = True):
        super().__init__()
        self.n_fft, self.hop, self.power, self.eps, self.center = n_fft, hop, power, eps, center
        self.register_buffer("fb", mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 3:
            wav = wav.squeeze(1)
        spec = torch.stft(wav.float(), self.n_fft, self.hop, window=self.window, center=self.center,
                          return_complex=True)
        mag = spec.abs().clamp_min(1e-8) ** self.power
        return torch.log(torch.matmul(self.fb, mag) + self.eps)


# --- cuts ---------------------------------------------------------------------------------


def load_cut_checked(cut, sample_rate: int) -> tuple[np.ndarray, object, list[str]]:
    """``(mono float32 audio at sample_rate, the cut, repair notes)``; unusable audio raises ``AudioSkip``.

    The cut comes back re-described when its file's header disagreed with the manifest (see
    :mod:`audiolm.data.audio_files`); multi-channel audio is downmixed, other rates resampled and
    non-finite samples zeroed, each noted. Audio with no finite sample at all is skipped.
    """
    from audiolm.data.audio_files import AudioSkip, read_cut_audio

    got = read_cut_audio(cut)
    notes = list(got.notes)
    audio = got.audio
    if audio.shape[0] != 1:
        audio = audio.mean(0, keepdims=True)
        notes.append("downmixed to mono")
    audio = audio[0]
    if audio.size and not np.isfinite(audio).any():
        raise AudioSkip("no finite sample (all NaN/inf)", str(got.cut.id))
    if got.sample_rate != sample_rate:
        audio = resample(audio, got.sample_rate, sample_rate)
        notes.append(f"resampled {got.sample_rate} -> {sample_rate} Hz")
    if not np.isfinite(audio).all():
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
        notes.append("non-finite samples zeroed")
    return np.ascontiguousarray(audio, dtype=np.float32), got.cut, notes


def load_cut(cut, sample_rate: int, notes: list[str] | None = None) -> np.ndarray:
    """A lhotse cut's audio as mono float32 at ``sample_rate`` ([S]); see :func:`load_cut_checked`.

    Unusable audio raises :class:`audiolm.data.audio_files.AudioSkip` (a ``ValueError``).
    """
    audio, _, got_notes = load_cut_checked(cut, sample_rate)
    if notes is not None:
        notes.extend(got_notes)
    return audio
