"""The embedded offline corpus: multi-speaker English speech synthesized with espeak-ng.

``make_speakers(k, seed)`` gives K distinct, stable voices; ``build_synth_corpus`` renders
documents (one speaker reading several consecutive sentences) into 24 kHz FLAC files plus lhotse
manifests ``cuts_{train,dev,test}.jsonl.gz`` with word/phone alignments on the supervisions.
"""

from __future__ import annotations

import random

from audiolm.data.espeak import Voice

# English voices of espeak-ng (language, short accent tag)
ACCENTS: list[str] = ["en-us", "en", "en-gb-x-rp", "en-us-nyc", "en-gb-scotland", "en-029", "en-gb-x-gbclan"]

# Voice variants (espeak-ng-data/voices/!v) kept for being intelligible and clearly different;
# a few variants without a declared gender are sorted by their pitch.
MALE_VARIANTS: list[str] = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "max", "paul", "robert", "quincy",
                            "antonio", "travis", "victor", "Storm", "michel", "klatt", "klatt2", "Gene"]
FEMALE_VARIANTS: list[str] = ["f1", "f2", "f3", "f4", "f5", "Annie", "Andrea", "belinda", "linda", "steph",
                              "anika", "aunty", "shelby", "grandma", "Alicia", "steph3"]

PITCHES = (40, 50, 60, 32, 68)
RATES = (165, 150, 180, 140, 195)
RANGES = (55, 40, 70)


def make_speakers(k: int, seed: int = 0) -> list[Voice]:
    """K distinct, stable voices, alternating female / male, deterministic in (k, seed).

    The first speakers of each gender use distinct variants (the biggest timbre difference), each
    with its own accent, pitch, rate and pitch range; once variants run out they are reused with
    another accent and a different pitch/rate, so every (variant, accent, pitch, rate) is unique.
    ``make_speakers(k, seed)[:j] == make_speakers(j, seed)``: a bigger corpus keeps the voices of a
    smaller one with the same seed.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    rng = random.Random(f"speakers-{seed}")
    pools = {}
    for gender, variants in (("female", FEMALE_VARIANTS), ("male", MALE_VARIANTS)):
        order = variants[:]
        rng.shuffle(order)
        pools[gender] = order
    accents = ACCENTS[:]
    rng.shuffle(accents)
    voices: list[Voice] = []
    seen: set[tuple] = set()
    counts = {"female": 0, "male": 0}
    while len(voices) < k:
        i = len(voices)
        gender = "female" if i % 2 == 0 else "male"
        j = counts[gender]
        counts[gender] += 1
        pool = pools[gender]
        rnd, pos = divmod(j, len(pool))
        variant = pool[pos]
        accent = accents[(i + rnd) % len(accents)]
        pitch = PITCHES[(i + rnd) % len(PITCHES)]
        rate = RATES[(3 * i + 1 + rnd) % len(RATES)]
        rng_ = RANGES[(i + rnd) % len(RANGES)]
        key = (variant, accent, pitch, rate)
        bump = 0
        while key in seen:  # very large k: walk pitch/rate until the voice is new
            bump += 1
            pitch = 20 + (pitch + 7 * bump) % 61
            rate = 130 + (rate + 11 * bump) % 80
            key = (variant, accent, pitch, rate)
        seen.add(key)
        voices.append(Voice(name=accent, variant=variant, pitch=pitch, rate=rate, range=rng_, gender=gender))
    return voices
