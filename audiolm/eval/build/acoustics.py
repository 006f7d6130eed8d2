"""Sound material of the offline acoustic benchmarks: held-out voices, backgrounds, rooms, splices.

All signals are float32 at 24 kHz (espeak's output rate in audiolm), generated with numpy from a
seeded generator: nothing is downloaded.

- Backgrounds and rooms come from :mod:`audiolm.data.sounds` (shared with the corpus's noisy
  condition).
- Splices: two renderings joined at a word boundary (from espeak's word timings) with a 10 ms
  crossfade; the consistent sample is the same rendering joined to itself, i.e. unspliced.
"""

from __future__ import annotations

import numpy as np
from audiolm.data.sounds import SR, normalize

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
# prosody (for the sentiment tasks)


def prosody(voice, mood: str):
    """The voice speaking happily (high, wide pitch, fast) or sadly (low, flat, slow)."""
    from dataclasses import replace

    if mood == "happy":
        return replace(voice, pitch=min(99, voice.pitch + 25), range=95, rate=voice.rate + 35)
    if mood == "sad":
        return replace(voice, pitch=max(1, voice.pitch - 25), range=5, rate=max(90, voice.rate - 55))
    raise ValueError(mood)
