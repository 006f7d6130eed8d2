"""The offline bilingual corpus: Spanish speech paired with its English translation, spoken.

``build_s2st_corpus(out, n_pairs, n_speakers)`` draws distinct parallel sentences
(:mod:`audiolm.data.bilingual`), speaks the Spanish side with espeak-ng's Spanish voices (``es``,
``es-419``) and the English side with its English voices, ``n_speakers`` speakers per side, and
writes ``cuts_{train,dev,test}.jsonl.gz``. A pair is one document of two cuts, as
``audiolm prepare cvss`` writes real pairs: position 0 the source (``language="es"``, custom
``role="source"``, ``translation`` = the English text), position 1 the target (``language="en"``,
``role="target"``). ``audiolm tokenize`` then encodes both sides and the LM data module reads each
pair as one ``s2st`` sequence. Splits hold disjoint sentences (on both sides); every speaker speaks
in every split (a pair's voices are dealt round-robin).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiolm.data.espeak import OUTPUT_SAMPLE_RATE, Voice

SOURCE_LANGUAGE, TARGET_LANGUAGE = "es", "en"
SPANISH_ACCENTS = ["es", "es-419"]


@dataclass(frozen=True)
class PairPlan:
    pair_id: str
    split: str
    source_text: str
    target_text: str
    source_speaker: int
    target_speaker: int


def plan_pairs(n_pairs: int, n_speakers: int, seed: int = 0, dev_fraction: float = 0.05,
               test_fraction: float = 0.1) -> list[PairPlan]:
    """Pairs, their splits and voices; deterministic in the arguments."""
    from audiolm.data.bilingual import generate_pairs

    if n_pairs < 3 or n_speakers < 1:
        raise ValueError(f"need at least 3 pairs and 1 speaker per side (got {n_pairs}, {n_speakers})")
    pairs = generate_pairs(n_pairs, seed)
    order = list(range(n_pairs))
    random.Random(f"s2st-plan-{seed}").shuffle(order)
    n_test = max(1, round(test_fraction * n_pairs))
    n_dev = max(1, round(dev_fraction * n_pairs))
    split = {}
    for rank, i in enumerate(order):
        split[i] = "test" if rank < n_test else ("dev" if rank < n_test + n_dev else "train")
    return [PairPlan(f"s2st-{i:06d}", split[i], es, en, i % n_speakers, (i + i // n_speakers) % n_speakers)
            for i, (en, es) in enumerate(pairs)]


def source_speaker_id(i: int) -> str:
    return f"s2st-es-spk{i:02d}"


def target_speaker_id(i: int) -> str:
    return f"s2st-en-spk{i:02d}"


def _synth_pair(task: tuple[PairPlan, Voice, Voice, str]):
    """Worker: speak one pair into two FLAC files -> (pair_id, [(role, path, n, words, phones)], failure)."""
    from audiolm.data.audio_files import write_flac
    from audiolm.data.espeak import Espeak

    plan, src_voice, tgt_voice, audio_dir = task
    tts = Espeak()  # deterministic: the same pair gives the same samples whatever ran before
    out_dir = Path(audio_dir) / plan.split
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for role, text, voice in (("source", plan.source_text, src_voice), ("target", plan.target_text, tgt_voice)):
        try:
            res = tts.synthesize(text, voice)
            if not res.words or len(res.audio) == 0 or float(np.abs(res.audio).max()) < 1e-4:
                raise ValueError("silent synthesis")
            path = write_flac(out_dir / f"{plan.pair_id}-{role}.flac", res.audio, OUTPUT_SAMPLE_RATE)
            done.append((role, str(path.resolve()), len(res.audio), res.words, res.phones))
        except Exception as e:  # a pair missing one side is skipped whole (counted)
            return plan.pair_id, [], f"{role}: {type(e).__name__}: {e}"
    return plan.pair_id, done, None


def build_s2st_corpus(out: str | Path, n_pairs: int = 1000, n_speakers: int = 4, seed: int = 0, jobs: int = 1,
                      dev_fraction: float = 0.05, test_fraction: float = 0.1, progress: bool = True) -> dict:
    """Synthesize the corpus into ``out``; returns the stats written to ``out/stats.json``."""
    from tqdm import tqdm

    from audiolm.data.manifest import make_cut, make_recording, split_stats, write_cuts
    from audiolm.data.synth import make_speakers
    from audiolm.skips import SkipReport

    t0 = time.time()
    out = Path(out)
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_pairs(n_pairs, n_speakers, seed, dev_fraction, test_fraction)
    src_voices = make_speakers(n_speakers, seed, accents=SPANISH_ACCENTS)
    tgt_voices = make_speakers(n_speakers, seed)
    tasks = [(p, src_voices[p.source_speaker], tgt_voices[p.target_speaker], str(audio_dir)) for p in plans]
    results: dict[str, tuple] = {}
    bar = tqdm(total=len(tasks), unit="pair", desc="synth-s2st", disable=not progress)
    if jobs > 1:
        from audiolm.workers import map_unordered

        for _, (pid, done, fail) in map_unordered(_synth_pair, tasks, jobs, what="pair", name_of=lambda t: t[0].pair_id):
            results[pid] = (done, fail)
            bar.update(1)
    else:
        for t in tasks:
            pid, done, fail = _synth_pair(t)
            results[pid] = (done, fail)
            bar.update(1)
    bar.close()
    report = SkipReport("prepare synth-s2st")
    splits: dict[str, list] = {"train": [], "dev": [], "test": []}
    seconds = {"source": 0.0, "target": 0.0}
    for p in plans:  # plan order: independent of worker timing
        done, fail = results[p.pair_id]
        if fail:
            report.skip("synthesis failed", f"{p.pair_id} ({fail})")
            continue
        for pos, (role, path, n, words, phones) in enumerate(done):
            src = role == "source"
            rec = make_recording(f"{p.pair_id}-{role}", path, OUTPUT_SAMPLE_RATE, n)
            custom = {"role": role, "pair": p.pair_id}
            if src:
                custom.update(translation=p.target_text, translation_language=TARGET_LANGUAGE)
            spk = source_speaker_id(p.source_speaker) if src else target_speaker_id(p.target_speaker)
            voice = src_voices[p.source_speaker] if src else tgt_voices[p.target_speaker]
            cut = make_cut(rec.id, rec, text=p.source_text if src else p.target_text, speaker=spk, document=p.pair_id,
                           position=pos, language=SOURCE_LANGUAGE if src else TARGET_LANGUAGE, gender=voice.gender,
                           alignment={"word": words, "phone": phones}, custom=custom)
            splits[p.split].append(cut)
            seconds[role] += rec.duration
    for split, cuts in splits.items():
        write_cuts(out, split, cuts)
    stats = {
        "corpus": "synth-s2st",
        "languages": {"source": SOURCE_LANGUAGE, "target": TARGET_LANGUAGE},
        "seed": seed,
        "sample_rate": OUTPUT_SAMPLE_RATE,
        "pairs": {k: len(v) // 2 for k, v in splits.items()},
        "splits": {k: split_stats(v) for k, v in splits.items()},
        "speakers": {**{source_speaker_id(i): v.to_dict() for i, v in enumerate(src_voices)},
                     **{target_speaker_id(i): v.to_dict() for i, v in enumerate(tgt_voices)}},
        "audio_hours": {k: round(v / 3600, 4) for k, v in seconds.items()},
        "wall_seconds": round(time.time() - t0, 2),
        "jobs": jobs,
        "skipped": report.to_dict(),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2))
    report.write(out / "skipped.json")
    print(report.summary())
    return stats
