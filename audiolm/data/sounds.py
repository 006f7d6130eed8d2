"""Procedural sound material: backgrounds and rooms, made with numpy from a seeded generator.

Shared by the offline acoustic benchmarks (:mod:`audiolm.eval.build.acoustics`) and the noisy
condition of the embedded corpus (``audiolm prepare synth --condition noisy``): nothing is
downloaded. Signals are float32 at 24 kHz.

- Backgrounds: eight procedurally made sound kinds in two domains — *nature* (rain, wind, birds,
  waves) and *machine* (engine, siren, clock, bells).
- Rooms: synthetic impulse responses (direct path, a few early reflections, exponentially decaying
  noise tail) with RT60 from 0.1 s (dry booth) to 1.6 s (hall).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

SR = 24000


def normalize(x: np.ndarray, peak: float = 0.7) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    m = float(np.abs(x).max()) if x.size else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 0 else x


# ---------------------------------------------------------------------------------------------
# backgrounds

SOUND_KINDS = ("rain", "wind", "birds", "waves", "engine", "siren", "clock", "bells")


def _band(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    if lo and hi:
        sos = butter(4, [lo, hi], btype="band", fs=SR, output="sos")
    elif hi:
        sos = butter(4, hi, btype="low", fs=SR, output="sos")
    else:
        sos = butter(4, lo, btype="high", fs=SR, output="sos")
    return sosfilt(sos, x)


def background(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a procedural background sound, unit RMS."""
    t = np.arange(n) / SR
    if kind == "rain":
        x = _band(rng.standard_normal(n), 1500, 9000) * 0.3
        drops = np.zeros(n)
        idx = rng.integers(0, n, size=max(1, int(n / SR * 400)))
        drops[idx] = rng.uniform(0.5, 1.0, size=len(idx))
        x = x + _band(fftconvolve(drops, np.exp(-np.arange(120) / 15.0) * rng.standard_normal(120), mode="same"), 2000, None)
    elif kind == "wind":
        env = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * t + rng.uniform(0, 6))
        x = _band(rng.standard_normal(n), None, 500) * env
    elif kind == "birds":
        x = np.zeros(n)
        pos = 0
        while pos < n:
            L = int(rng.uniform(0.05, 0.15) * SR)
            f0, f1 = rng.uniform(2500, 4500), rng.uniform(3000, 6000)
            tt = np.arange(min(L, n - pos)) / SR
            phase = 2 * np.pi * (f0 * tt + (f1 - f0) * tt**2 / (2 * max(tt[-1], 1e-3))) if len(tt) else tt
            x[pos : pos + len(tt)] += np.sin(phase) * np.hanning(len(tt))
            pos += L + int(rng.uniform(0.05, 0.4) * SR)
    elif kind == "waves":
        env = 0.2 + 0.8 * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.08, 0.15) * t + rng.uniform(0, 6))) ** 2
        x = _band(rng.standard_normal(n), 200, 3000) * env
    elif kind == "engine":
        f0 = rng.uniform(28, 45)
        x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 12))
        x = x * (1 + 0.3 * np.sin(2 * np.pi * f0 / 2 * t)) + 0.2 * _band(rng.standard_normal(n), None, 800)
    elif kind == "siren":
        rate = rng.uniform(0.3, 0.6)
        f = 850 + 350 * np.sin(2 * np.pi * rate * t)
        x = np.sin(2 * np.pi * np.cumsum(f) / SR)
    elif kind == "clock":
        x = np.zeros(n)
        period = int(rng.uniform(0.45, 0.55) * SR)
        click = np.sin(2 * np.pi * 2500 * np.arange(240) / SR) * np.exp(-np.arange(240) / 30.0)
        for k, p in enumerate(range(int(rng.uniform(0, 0.3) * SR), n - 240, period)):
            x[p : p + 240] += click * (1.0 if k % 2 == 0 else 0.6)
    elif kind == "bells":
        x = np.zeros(n)
        period = int(rng.uniform(0.9, 1.4) * SR)
        L = min(int(1.5 * SR), n)
        tt = np.arange(L) / SR
        f = rng.uniform(400, 700)
        strike = sum(np.sin(2 * np.pi * f * r * tt) * np.exp(-tt * (1.5 + r)) for r in (1.0, 2.0, 2.4, 3.0, 4.2))
        for p in range(0, n, period):
            m = min(L, n - p)
            x[p : p + m] += strike[:m]
    else:
        raise ValueError(f"unknown background kind {kind!r}; known: {SOUND_KINDS}")
    x = np.asarray(x, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x**2))) if n else 0.0
    return (x / rms).astype(np.float32) if rms > 0 else x.astype(np.float32)


def add_background(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    active = speech[np.abs(speech) > 0.02 * np.abs(speech).max()] if speech.size else speech
    rms = float(np.sqrt(np.mean(active**2))) if active.size else 0.0
    mix = speech + noise[: len(speech)] * rms * 10 ** (-snr_db / 20)
    return normalize(mix)


# ---------------------------------------------------------------------------------------------
# rooms


def room_impulse(rt60: float, rng: np.random.Generator) -> np.ndarray:
    n = int(max(rt60, 0.05) * 1.2 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[: int(0.005 * SR)] = 0
    h = 0.5 * tail / (np.sqrt(np.sum(tail**2)) + 1e-9)
    h[0] = 1.0
    for _ in range(4):  # early reflections
        d = int(rng.uniform(0.003, 0.03) * SR)
        if d < n:
            h[d] += rng.uniform(0.2, 0.5) * rng.choice([-1, 1])
    return h.astype(np.float32)


def reverberate(speech: np.ndarray, rir: np.ndarray) -> np.ndarray:
    return normalize(fftconvolve(speech, rir)[: len(speech) + int(0.2 * SR)])


ROOMS = (0.1, 0.3, 0.6, 1.0, 1.6)  # RT60 in seconds
