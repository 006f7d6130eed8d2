"""Speaker similarity: one home for the evaluation (TTS voice prompts, S2ST voice preservation),
the report and the codec benchmarks.

Models (``make_similarity(spec)``):

- ``mfcc`` (default, offline, no weights): the cosine of utterance statistics of cepstral features
  — the mean and standard deviation of liftered MFCCs 1..19 over speech frames; see
  :class:`MfccSimilarity` for the recipe and docs/evaluation.md for its validation on held-out
  espeak voices (same-speaker pairs score higher than different-speaker pairs).
- ``wavlm:PATH`` or a local folder holding a ``WavLMForXVector`` speaker-verification model saved
  by ``transformers`` (e.g. microsoft/wavlm-base-plus-sv downloaded beforehand): cosine of x-vectors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from audiolm.asr import JUDGE_RATE, to_rate


class SpeakerSimilarity(Protocol):
    name: str

    def embed(self, wav: np.ndarray, sample_rate: int) -> np.ndarray: ...


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else 0.0


def similarity(model: SpeakerSimilarity, wav_a, sr_a, wav_b, sr_b) -> float:
    return cosine(model.embed(wav_a, sr_a), model.embed(wav_b, sr_b))


def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 20.0, fmax: float | None = None) -> np.ndarray:
    fmax = fmax or sr / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    imel = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    pts = imel(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return fb


class MfccSimilarity:
    """Offline speaker embedding from cepstral statistics (no learned weights).

    Recipe, at 16 kHz: 25 ms Hann frames every 10 ms, 512-point power spectrum, 40 mel bands
    (20 Hz..8 kHz), log, DCT-II -> MFCCs 0..19. Frames within 30 dB of the loudest are kept
    (speech, not pauses). Coefficient k is liftered by ``1 + 0.2 k`` so that the higher
    coefficients (formant detail) are not drowned by the first ones. Embedding = [mean of c1..c19,
    std of c1..c19]; c0 (loudness) is left out. The cosine then compares the long-term spectral
    envelope and its variability: mostly vocal-tract length, voice quality and speaking style.
    Measured on 20 espeak voices x 5 sentences: same-speaker pairs 0.96 on average, different
    speakers 0.74, ROC AUC 0.99 (tests/test_eval_judges.py checks the ordering).
    """

    name = "mfcc"

    def __init__(self, n_mfcc: int = 20, n_mels: int = 40) -> None:
        self.n_fft, self.hop, self.win = 512, 160, 400
        self.fb = _mel_filterbank(JUDGE_RATE, self.n_fft, n_mels)
        k = np.arange(n_mels)
        self.dct = np.cos(np.pi / n_mels * (k[None, :] + 0.5) * np.arange(n_mfcc)[:, None]) * math.sqrt(2.0 / n_mels)
        self.window = np.hanning(self.win)
        self.lifter = 1.0 + 0.2 * np.arange(n_mfcc)

    def mfcc(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        a = to_rate(wav, sample_rate).astype(np.float64)
        if len(a) < self.win:
            a = np.pad(a, (0, self.win - len(a)))
        a = np.append(a[0], a[1:] - 0.97 * a[:-1])  # pre-emphasis
        n = 1 + (len(a) - self.win) // self.hop
        idx = np.arange(self.win)[None, :] + self.hop * np.arange(n)[:, None]
        frames = a[idx] * self.window
        power = np.abs(np.fft.rfft(frames, self.n_fft)) ** 2
        logmel = np.log(power @ self.fb.T + 1e-10)
        energy = logmel.max(axis=1)
        keep = energy > energy.max() - math.log(10 ** 3)  # within 30 dB of the loudest frame
        return (logmel[keep] @ self.dct.T) * self.lifter  # [frames, n_mfcc]

    def embed(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        c = self.mfcc(wav, sample_rate)[:, 1:]
        return np.concatenate([c.mean(axis=0), c.std(axis=0)])


class WavLMSimilarity:
    """A ``WavLMForXVector`` speaker-verification model from a local folder: cosine of x-vectors."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        from transformers import AutoFeatureExtractor, WavLMForXVector

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"wavlm similarity: no config.json in {path} (save a WavLMForXVector there)")
        self.fe = AutoFeatureExtractor.from_pretrained(path)
        self.model = WavLMForXVector.from_pretrained(path).to(device).eval()
        self.device = device
        self.rate = int(getattr(self.fe, "sampling_rate", JUDGE_RATE))
        self.name = f"wavlm:{path}"

    @torch.no_grad()
    def embed(self, wav: np.ndarray, sample_rate: int) -> np.ndarray:
        a = to_rate(wav, sample_rate, self.rate)
        inp = self.fe(a, sampling_rate=self.rate, return_tensors="pt")
        emb = self.model(**{k: v.to(self.device) for k, v in inp.items()}).embeddings
        return emb[0].float().cpu().numpy()


def make_similarity(spec: str = "mfcc", device: str = "cpu") -> SpeakerSimilarity:
    if spec in ("", "mfcc"):
        return MfccSimilarity()
    if spec.startswith("wavlm:"):
        return WavLMSimilarity(spec.split(":", 1)[1], device)
    if Path(spec).is_dir():
        return WavLMSimilarity(spec, device)
    raise ValueError(f"unknown speaker-similarity model {spec!r}: use 'mfcc', 'wavlm:PATH' or a local WavLMForXVector folder")
