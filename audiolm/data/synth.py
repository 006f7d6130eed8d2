"""The embedded offline corpus: multi-speaker English speech synthesized with espeak-ng.

``make_speakers(k, seed)`` gives K distinct, stable voices; ``build_synth_corpus`` renders
documents (one speaker reading several consecutive sentences) into 24 kHz FLAC files plus lhotse
manifests ``cuts_{train,dev,test}.jsonl.gz`` with word/phone alignments on the supervisions.

Two knobs make corpora that differ the way real sources do (the ablations' data-source proxies):
``rate_jitter`` varies each utterance's speaking rate and pitch around its speaker's (read speech
vs spontaneous-sounding delivery), ``condition="noisy"`` puts each utterance under a background
sound at 5..20 dB SNR and, for half of them, in a synthetic room (clean studio vs in-the-wild).
Both are drawn from the utterance id and the corpus seed: the same corpus on every run.
"""

from __future__ import annotations

import dataclasses
import json
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiolm.data.espeak import OUTPUT_SAMPLE_RATE, Voice
from audiolm.data.sentences import STORY_FRACTION, SentenceGenerator, documents_of_sizes

# English voices of espeak-ng. en-029 (Caribbean) is left out: the least intelligible to an ASR
# judge (pocketsphinx WER 0.93 on everyday sentences vs 0.80-0.90 for these; docs/corpora.md).
ACCENTS: list[str] = ["en-us", "en", "en-gb-x-rp", "en-us-nyc", "en-gb-scotland", "en-gb-x-gbclan"]

# Voice variants (espeak-ng-data/voices/!v), in two tiers by how well pocketsphinx recognises them
# (everyday sentences, en-us, 160 wpm: WER in the comments); the first speakers of each gender come
# from the first tier. Left out: max, paul, robert, Storm, m7, quincy, antonio, m4 (male, WER >= 0.85) and
# Alicia, Annie, Andrea, shelby, grandma, linda, belinda (female, WER >= 0.89).
MALE_TIERS: list[list[str]] = [
    ["m6", "michel", "m2", "klatt"],  # 0.56 0.54 0.68 0.68
    ["m1", "klatt2", "victor", "m5", "m3", "Gene"],  # 0.69 0.71 0.71 0.72 0.84 0.80
]
FEMALE_TIERS: list[list[str]] = [
    ["f5", "f2", "f3", "anika"],  # 0.32 0.41 0.65 0.68
    ["f1", "f4", "aunty", "steph3", "steph"],  # 0.71 0.80 0.83 0.83 0.87
]
MALE_VARIANTS: list[str] = [v for tier in MALE_TIERS for v in tier]
FEMALE_VARIANTS: list[str] = [v for tier in FEMALE_TIERS for v in tier]

PITCHES = (40, 50, 60, 32, 68)
RATES = (150, 140, 165, 145, 175)  # words per minute; faster speech is harder to recognise
RANGES = (55, 40, 70)


def make_speakers(k: int, seed: int = 0, accents: list[str] | None = None) -> list[Voice]:
    """K distinct, stable voices, alternating female / male, deterministic in (k, seed).

    The first speakers of each gender use distinct variants (the biggest timbre difference; the
    best-recognised tier first), each with its own accent, pitch, rate and pitch range; once
    variants run out they are reused with another accent and a different pitch/rate, so every
    (variant, accent, pitch, rate) is unique.
    ``make_speakers(k, seed)[:j] == make_speakers(j, seed)``: a bigger corpus keeps the voices of a
    smaller one with the same seed. ``accents``: the espeak languages to draw from (default: the
    English :data:`ACCENTS`; ``["es", "es-419"]`` for Spanish speakers).
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    rng = random.Random(f"speakers-{seed}")
    pools = {}
    for gender, tiers in (("female", FEMALE_TIERS), ("male", MALE_TIERS)):
        order = []
        for tier in tiers:  # shuffled inside each tier: the best-recognised variants come first
            tier = tier[:]
            rng.shuffle(tier)
            order += tier
        pools[gender] = order
    accents = list(accents or ACCENTS)
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


# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class DocPlan:
    doc_id: str
    split: str
    speaker: int  # index into the speaker list
    sentences: tuple[str, ...]


def default_test_speakers(n_speakers: int) -> int:
    """Speakers held out of train and dev (heard only in test): one per gender when K >= 4."""
    if n_speakers >= 4:
        return 2
    return 1 if n_speakers >= 2 else 0


def plan_corpus(n_utterances: int, n_speakers: int, seed: int = 0, n_test_speakers: int | None = None,
                dev_fraction: float = 0.05, test_fraction: float = 0.1,
                min_sentences: int = 3, max_sentences: int = 8, story_fraction: float = STORY_FRACTION) -> list[DocPlan]:
    """Documents, their speakers and splits; deterministic in the arguments.

    A ``story_fraction`` of the documents are coherent five-sentence stories
    (:mod:`audiolm.data.stories`), the rest monologues of the sentence grammar.

    Splits have disjoint documents. The last ``n_test_speakers`` speakers are *unseen*: they
    read only test documents (each at least one); the other test documents, and all of dev and
    train, are read by the seen speakers, balanced round-robin.
    """
    if n_utterances < 1 or n_speakers < 1:
        raise ValueError("need at least one utterance and one speaker")
    if n_test_speakers is None:
        n_test_speakers = default_test_speakers(n_speakers)
    if not 0 <= n_test_speakers < n_speakers:
        raise ValueError(f"--test-speakers must be in [0, {n_speakers - 1}] (train needs a speaker)")
    gen = SentenceGenerator(seed)
    seen: set[str] = set()
    sizes: list[int] = []
    remaining = n_utterances
    while remaining > 0:
        k = min(gen.rng.randint(min_sentences, max_sentences), remaining)
        sizes.append(k)
        remaining -= k
    docs = [tuple(d) for d in documents_of_sizes(gen, sizes, seen, seed, story_fraction)]
    n_docs = len(docs)
    rng = random.Random(f"plan-{seed}")
    order = list(range(n_docs))
    rng.shuffle(order)
    if n_docs >= 3:
        n_test = max(1, round(test_fraction * n_docs), n_test_speakers)
        n_test = min(n_test, n_docs - 2)
        n_dev = min(max(1, round(dev_fraction * n_docs)), n_docs - n_test - 1)
    else:
        n_test, n_dev = 0, 0
    split_of = {}
    for rank, d in enumerate(order):
        split_of[d] = "test" if rank < n_test else ("dev" if rank < n_test + n_dev else "train")
    seen_spk = list(range(n_speakers - n_test_speakers))
    unseen_spk = list(range(n_speakers - n_test_speakers, n_speakers))
    n_unseen_docs = min(max(len(unseen_spk), n_test // 2), n_test) if unseen_spk else 0
    speaker_of: dict[int, int] = {}
    test_docs = [d for d in order if split_of[d] == "test"]
    for i, d in enumerate(test_docs[:n_unseen_docs]):
        speaker_of[d] = unseen_spk[i % len(unseen_spk)]
    rest = [d for d in order if d not in speaker_of]
    spk_order = seen_spk[:]
    rng.shuffle(spk_order)
    for i, d in enumerate(rest):
        speaker_of[d] = spk_order[i % len(spk_order)]
    return [DocPlan(f"synth-{d:06d}", split_of[d], speaker_of[d], docs[d]) for d in range(n_docs)]


def speaker_id(index: int) -> str:
    return f"synth-spk{index:03d}"


CONDITIONS = ("clean", "noisy")


@dataclass(frozen=True)
class Delivery:
    """How the corpus's utterances are rendered beyond their speaker's voice (see module docstring)."""

    rate_jitter: float = 0.0  # each utterance's rate x U(1-j, 1+j), pitch +- 25*j
    condition: str = "clean"  # clean | noisy
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate_jitter < 0.9:
            raise ValueError(f"rate_jitter {self.rate_jitter}: must be in [0, 0.9)")
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition {self.condition!r}: must be one of {', '.join(CONDITIONS)}")

    def rng(self, utt_id: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(utt_id.encode())])

    def voice(self, voice: Voice, rng: np.random.Generator) -> Voice:
        if not self.rate_jitter:
            return voice
        j = self.rate_jitter
        rate = int(round(voice.rate * rng.uniform(1 - j, 1 + j)))
        pitch = int(round(voice.pitch + rng.uniform(-25 * j, 25 * j)))
        return dataclasses.replace(voice, rate=min(max(rate, 80), 450), pitch=min(max(pitch, 0), 100))

    def render(self, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.condition == "clean":
            return audio
        from audiolm.data import sounds

        x = np.asarray(audio, dtype=np.float32)
        if rng.random() < 0.5:
            x = sounds.reverberate(x, sounds.room_impulse(float(rng.choice(sounds.ROOMS[:4])), rng))
        kind = str(rng.choice(sounds.SOUND_KINDS))
        return sounds.add_background(x, sounds.background(kind, len(x), rng), float(rng.uniform(5.0, 20.0)))


def _synth_document(task: tuple[DocPlan, Voice, str, Delivery]) -> tuple[str, list, list]:
    """Worker: synthesize one document into FLAC files. Returns (doc_id, utterances, failures)."""
    from audiolm.data.audio_files import write_flac
    from audiolm.data.espeak import Espeak

    plan, voice, audio_dir, delivery = task
    tts = Espeak(deterministic=False)
    tts.reset()  # one fresh synthesizer state per document: same document -> same samples
    out_dir = Path(audio_dir) / plan.doc_id
    out_dir.mkdir(parents=True, exist_ok=True)
    utts, failures = [], []
    for pos, text in enumerate(plan.sentences):
        utt_id = f"{plan.doc_id}-{pos:03d}"
        try:
            rng = delivery.rng(utt_id)
            res = tts.synthesize(text, delivery.voice(voice, rng))
            if not res.words or len(res.audio) == 0 or float(np.abs(res.audio).max()) < 1e-4:
                raise ValueError("silent synthesis")
            audio = delivery.render(res.audio, rng)
            path = write_flac(out_dir / f"{utt_id}.flac", audio, OUTPUT_SAMPLE_RATE)
            utts.append((utt_id, pos, text, str(path.resolve()), len(audio), res.words, res.phones))
        except Exception as e:  # one bad sentence never stops the corpus
            failures.append((utt_id, f"{type(e).__name__}: {e}"))
    return plan.doc_id, utts, failures


def build_synth_corpus(out: str | Path, n_utterances: int = 2000, n_speakers: int = 8, seed: int = 0,
                       n_test_speakers: int | None = None, jobs: int = 1, dev_fraction: float = 0.05,
                       test_fraction: float = 0.1, progress: bool = True, rate_jitter: float = 0.0,
                       condition: str = "clean") -> dict:
    """Synthesize the corpus into ``out``; returns the stats written to ``out/stats.json``."""
    import multiprocessing as mp
    import time

    from tqdm import tqdm

    from audiolm.data.manifest import make_cut, make_recording, split_stats, write_cuts
    from audiolm.skips import SkipReport

    t0 = time.time()
    out = Path(out)
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_corpus(n_utterances, n_speakers, seed, n_test_speakers, dev_fraction, test_fraction)
    voices = make_speakers(n_speakers, seed)
    delivery = Delivery(rate_jitter, condition, seed)
    report = SkipReport("prepare synth")
    tasks = [(p, voices[p.speaker], str(audio_dir), delivery) for p in plans]
    by_doc: dict[str, tuple[list, list]] = {}
    bar = tqdm(total=sum(len(p.sentences) for p in plans), unit="utt", desc="synth", disable=not progress)
    if jobs > 1:
        from audiolm.workers import map_unordered

        ctx = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        for _, (doc_id, utts, fails) in map_unordered(_synth_document, tasks, jobs, context=ctx, what="document",
                                                      name_of=lambda t: t[0].doc_id):
            by_doc[doc_id] = (utts, fails)
            bar.update(len(utts) + len(fails))
    else:
        for task in tasks:
            doc_id, utts, fails = _synth_document(task)
            by_doc[doc_id] = (utts, fails)
            bar.update(len(utts) + len(fails))
    bar.close()

    splits: dict[str, list] = {"train": [], "dev": [], "test": []}
    audio_seconds = 0.0
    for p in plans:  # plan order: independent of worker timing
        utts, fails = by_doc[p.doc_id]
        for utt_id, err in fails:
            report.skip("synthesis_failed", f"{utt_id} ({err})")
        v = voices[p.speaker]
        for pos, (utt_id, _, text, path, n, words, phones) in enumerate(utts):  # positions stay 0..n-1
            rec = make_recording(utt_id, path, OUTPUT_SAMPLE_RATE, n)
            cut = make_cut(utt_id, rec, text=text, speaker=speaker_id(p.speaker), document=p.doc_id, position=pos,
                           language="en", gender=v.gender, alignment={"word": words, "phone": phones})
            splits[p.split].append(cut)
            audio_seconds += rec.duration
    for split, cuts in splits.items():
        write_cuts(out, split, cuts)
    train_spk = {c.supervisions[0].speaker for c in splits["train"]}
    test_spk = {c.supervisions[0].speaker for c in splits["test"]}
    elapsed = time.time() - t0
    stats = {
        "corpus": "synth",
        "seed": seed,
        "rate_jitter": rate_jitter,
        "condition": condition,
        "sample_rate": OUTPUT_SAMPLE_RATE,
        "splits": {k: split_stats(v) for k, v in splits.items()},
        "speakers": {speaker_id(i): {**v.to_dict(), "splits": sorted({p.split for p in plans if p.speaker == i})}
                     for i, v in enumerate(voices)},
        "unseen_test_speakers": sorted(test_spk - train_spk),
        "word_types": len({w.lower().strip(".,?!") for cuts in splits.values() for c in cuts
                           for w in c.supervisions[0].text.split()}),
        "audio_hours": round(audio_seconds / 3600, 4),
        "wall_seconds": round(elapsed, 2),
        "jobs": jobs,
        "skipped": report.to_dict(),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    report.write(out / "skipped.json")
    print(report.summary())
    return stats
