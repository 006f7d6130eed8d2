"""Sound material of the offline acoustic benchmarks: held-out voices, backgrounds, rooms, splices.

All signals are float32 at 24 kHz (espeak's output rate in audiolm), generated with numpy from a
seeded generator: nothing is downloaded.

- Backgrounds: eight procedurally made sound kinds in two domains — *nature* (rain, wind, birds,
  waves) and *machine* (engine, siren, clock, bells) — mixed under speech at 8..14 dB SNR.
- Rooms: synthetic impulse responses (direct path, a few early reflections, exponentially decaying
  noise tail) with RT60 from 0.1 s (dry booth) to 1.6 s (hall).
- Splices: two renderings joined at a word boundary (from espeak's word timings) with a 10 ms
  crossfade; the consistent sample is the same rendering joined to itself, i.e. unspliced.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, fftconvolve, sosfilt

SR = 24000

# ---------------------------------------------------------------------------------------------
# voices held out from training


# espeak variants used for evaluation speakers, by gender; see docs/evaluation.md for the rule that
# keeps them apart from the training speakers of `audiolm prepare synth`
EVAL_VARIANTS = {
    "male": ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "adam", "david", "ed", "john", "max", "michel", "norbert", "edward"],
    "female": ["f1", "f2", "f3", "f4", "f5", "Annie", "belinda", "linda", "anika", "aunty", "Alicia", "Andrea"],
}
EVAL_ACCENTS = ["en-us", "en", "en-gb-scotland", "en-029", "en-gb-x-rp"]


def held_out_voices(k: int, seed: int, gender: str | None = None):
    """``k`` evaluation voices (``audiolm.data.espeak.Voice``), none equal to a training speaker.

    Training speakers come from ``audiolm.data.synth.make_speakers``; when that module can be
    imported, its default speakers (and any voice with the same name, variant, pitch and rate) are
    excluded. Pitch and rate are drawn on a grid offset by half a step from the training grid
    (odd pitches, rates not multiples of 5), so the two sets are disjoint by construction as well.
    """
    from audiolm.data.espeak import Voice

    train = _training_voice_keys()
    rng = np.random.default_rng([seed, 7919])
    out, seen = [], set()
    guard = 0
    while len(out) < k and guard < 100 * k + 100:
        guard += 1
        g = gender or ("male" if rng.random() < 0.5 else "female")
        v = Voice(
            name=EVAL_ACCENTS[int(rng.integers(len(EVAL_ACCENTS)))],
            variant=EVAL_VARIANTS[g][int(rng.integers(len(EVAL_VARIANTS[g])))],
            pitch=int(rng.integers(15, 43)) * 2 + 1,  # odd: 31..85
            rate=int(rng.integers(29, 38)) * 5 + 2,  # 147..187, never a multiple of 5
            range=int(rng.integers(30, 80)),
            gender=g,
        )
        key = (v.name, v.variant, v.pitch, v.rate)
        if key in train or key in seen:
            continue
        seen.add(key)
        out.append(v)
    return out


def _training_voice_keys() -> set:
    try:
        from audiolm.data.synth import make_speakers
    except Exception:  # noqa: BLE001 - the synth module is optional here
        return set()
    keys = set()
    for k, seed in ((64, 0), (256, 0)):
        try:
            for v in make_speakers(k, seed):
                keys.add((v.name, v.variant, v.pitch, v.rate))
        except Exception:  # noqa: BLE001
            break
    return keys


# ---------------------------------------------------------------------------------------------
# rendering


class Renderer:
    """espeak rendering, peak-normalised, with word timings; reproducible.

    espeak-ng draws its fricative/aspiration noise from the C library's ``rand()``, whose state
    carries over from one utterance to the next: the same text would sound slightly different
    depending on what was synthesized before. Re-seeding ``rand()`` before each utterance makes
    every rendering a function of (text, voice) only, so a build does not depend on task order
    or worker count.
    """

    def __init__(self) -> None:
        import ctypes

        from audiolm.data.espeak import Espeak

        self.espeak = Espeak()
        try:
            self._srand = ctypes.CDLL(None).srand
        except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
            self._srand = None

    def say(self, text: str, voice) -> tuple[np.ndarray, list]:
        if self._srand is not None:
            self._srand(0)
        res = self.espeak.synthesize(text, voice)
        return normalize(res.audio), list(res.words)


def normalize(x: np.ndarray, peak: float = 0.7) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    m = float(np.abs(x).max()) if x.size else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 0 else x


def word_cut(words: list, k: int) -> float:
    """Time (s) between word ``k-1`` and word ``k``: the middle of the gap, or word k's start."""
    prev_end = words[k - 1][1] + words[k - 1][2]
    start = words[k][1]
    return (prev_end + start) / 2 if start > prev_end else start


def middle_word(words: list) -> int:
    """Index of the word where a mid-utterance switch happens (at least one word each side)."""
    return max(1, min(len(words) - 1, len(words) // 2))


def splice(a: np.ndarray, cut_a: float, b: np.ndarray, cut_b: float, fade: float = 0.01) -> np.ndarray:
    """``a`` up to ``cut_a`` seconds, then ``b`` from ``cut_b`` seconds, with a short crossfade."""
    ia, ib, nf = int(cut_a * SR), int(cut_b * SR), int(fade * SR)
    ia, ib = min(max(ia, nf), len(a)), min(max(ib, nf), len(b))
    head, tail = a[:ia].copy(), b[ib - nf :].copy()
    if nf and len(head) >= nf and len(tail) >= nf:
        ramp = np.linspace(0, 1, nf, dtype=np.float32)
        mixed = head[-nf:] * (1 - ramp) + tail[:nf] * ramp
        return np.concatenate([head[:-nf], mixed, tail[nf:]]).astype(np.float32)
    return np.concatenate([head, tail]).astype(np.float32)


def switch(first: np.ndarray, second: np.ndarray, cut: float, fade: float = 0.02) -> np.ndarray:
    """Two signals of one length: ``first`` before ``cut`` seconds, ``second`` after (crossfaded)."""
    n = min(len(first), len(second))
    w = np.clip((np.arange(n) / SR - cut) / fade + 0.5, 0, 1).astype(np.float32)
    return (first[:n] * (1 - w) + second[:n] * w).astype(np.float32)


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


# ---------------------------------------------------------------------------------------------
# prosody (for the sentiment tasks)


def prosody(voice, mood: str):
    """The voice speaking happily (high, wide pitch, fast) or sadly (low, flat, slow)."""
    from dataclasses import replace

    if mood == "happy":
        return replace(voice, pitch=min(99, voice.pitch + 25), range=95, rate=voice.rate + 35)
    if mood == "sad":
        return replace(voice, pitch=max(1, voice.pitch - 25), range=5, rate=max(90, voice.rate - 55))
    raise ValueError(mood)
