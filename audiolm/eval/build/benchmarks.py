"""``audiolm prepare benchmarks OUT``: the offline benchmark sets, synthesized with held-out voices.

Layout written (every task folder in the prepared format of :mod:`audiolm.eval.items`)::

    OUT/benchmarks.json                 what was built: seed, sizes, voices, counts, seconds
    OUT/swuggy/cuts.jsonl.gz + audio/   word vs pseudoword (one held-out voice per pair)
    OUT/sblimp/...                      grammatical vs ungrammatical sentence (7 phenomena of the corpus grammar)
    OUT/salmon/<part>/...               the 8 SALMon parts (official folder names)
    OUT/sstorycloze/...                 a story with its right vs an incoherent ending (custom.ending_start)
    OUT/topic_sstorycloze/...           a story with its ending vs another story's (Topic StoryCloze)
    OUT/twuggy/items.jsonl, OUT/tblimp/items.jsonl, OUT/text_storycloze/items.jsonl, OUT/hellaswag/items.jsonl
    OUT/speech/cuts_{dev,test}.jsonl.gz held-out speakers for ASR, TTS and continuation

Each task draws from its own generator seeded by ``(seed, task)``, so a task's set does not
depend on which other tasks are built, nor on the number of worker processes.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from pathlib import Path

import numpy as np

from audiolm.data import stories as story_lib
from audiolm.data import sounds
from audiolm.eval.build import acoustics as ac
from audiolm.eval.build import grammar_pairs
from audiolm.eval.build import language as lang
from audiolm.eval.build.training_text import TrainingText, load_training_text
from audiolm.eval.items import Choice, Item, write_text_set
from audiolm.jsonfiles import write_json_atomic

log = logging.getLogger("audiolm")

SPOKEN_TASKS = ["swuggy", "sblimp", "salmon", "sstorycloze", "topic_sstorycloze", "speech"]
TEXT_TASKS = ["twuggy", "tblimp", "text_storycloze", "hellaswag"]
BUILD_TASKS = SPOKEN_TASKS + TEXT_TASKS
SALMON_BUILD_PARTS = ["speaker_consistency", "gender_consistency", "bg_all_consistency", "bg_domain_consistency",
                      "rir_consistency", "sentiment_consistency", "sentiment_alignment", "bg_alignment"]
DEFAULT_SIZE = 200
# the slow sets (several renderings per item, or long stories) default to fewer items
DEFAULT_SIZES = {"salmon": 100, "sstorycloze": 100, "topic_sstorycloze": 100, "speech": 100}
# sWUGGY/tWUGGY real words: seen at least this often in the training transcripts (with --corpus)
MIN_WORD_COUNT = 5
STORY_PAUSE_S = 0.3  # silence between a spoken story's context and its ending


def _rng(seed: int, task: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(task.encode())])


class SetWriter:
    """Writes audio (flac, relative paths) and a CutSet whose cuts carry item ids and labels."""

    def __init__(self, folder: Path, manifest: str = "cuts.jsonl.gz") -> None:
        self.folder = Path(folder)
        (self.folder / "audio").mkdir(parents=True, exist_ok=True)
        self.manifest = manifest
        self.cuts = []

    def add(self, cut_id: str, audio: np.ndarray, text: str, speaker: str, custom: dict | None = None) -> None:
        import soundfile as sf
        from lhotse import AudioSource, MonoCut, Recording, SupervisionSegment

        rel = f"audio/{cut_id}.flac"
        sf.write(self.folder / rel, np.clip(audio, -1, 1), ac.SR, subtype="PCM_16")
        n = len(audio)
        rec = Recording(id=cut_id, sources=[AudioSource(type="file", channels=[0], source=rel)], sampling_rate=ac.SR,
                        num_samples=n, duration=n / ac.SR)
        sup = SupervisionSegment(id=cut_id, recording_id=cut_id, start=0.0, duration=n / ac.SR, channel=0, text=text,
                                 speaker=speaker, language="English")
        self.cuts.append(MonoCut(id=cut_id, start=0.0, duration=n / ac.SR, channel=0, recording=rec, supervisions=[sup],
                                 custom=custom))

    def close(self) -> int:
        from lhotse import CutSet

        CutSet.from_cuts(self.cuts).to_file(self.folder / self.manifest)
        return len(self.cuts)


def _spk(v) -> str:
    return f"eval-{v.name}-{v.variant}-p{v.pitch}-r{v.rate}"


def _write_pair(w: SetWriter, rng, item_id: str, good: tuple, bad: tuple, category: str) -> None:
    """``good``/``bad`` = (audio, text, speaker); the two choices in a random order."""
    order = [(good, 1), (bad, 0)]
    if rng.random() < 0.5:
        order.reverse()
    for k, ((audio, text, spk), label) in enumerate(order):
        w.add(f"{item_id}-{k}", audio, text, spk, {"item_id": item_id, "choice": k, "label": label, "category": category})


def _text_pair(rng, item_id: str, good: str, bad: str, category: str, meta: dict | None = None) -> Item:
    choices, answer = [good, bad], 0
    if rng.random() < 0.5:
        choices, answer = [bad, good], 1
    return Item(item_id, [Choice(text=c) for c in choices], answer, category, meta or {})


# ---------------------------------------------------------------------------------------------
# spoken sets


def _wuggy(n: int, seed: int, corpus: TrainingText | None, spoken: bool) -> list[dict]:
    counts = (corpus.spoken_counts if spoken else corpus.all_counts) if corpus else None
    return lang.wuggy_pairs(n, _rng(seed, "wuggy-pairs"), counts, MIN_WORD_COUNT)


def _blimp(n: int, seed: int, corpus: TrainingText | None):
    return grammar_pairs.blimp_pairs(n, seed, corpus.sentences if corpus else frozenset())


def _stories(n: int, seed: int, corpus: TrainingText | None) -> list[dict]:
    items = story_lib.story_cloze_items(2 * n + 10, grammar_pairs.HELD_OUT_SEED + seed)
    keep = [s for s in items if not (corpus and corpus.has_story(s["context"] + [s["right"]]))]
    return keep[:n]


def build_swuggy(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    rng = _rng(seed, "swuggy")
    pairs = _wuggy(n, seed, corpus, spoken=True)
    voices = ac.held_out_voices(8, seed)
    r = ac.Renderer()
    w = SetWriter(out / "swuggy")
    for i, p in enumerate(pairs):
        v = voices[i % len(voices)]
        good = (r.say(p["word"], v)[0], p["word"], _spk(v))
        bad = (r.say(p["pseudoword"], v)[0], p["pseudoword"], _spk(v))
        _write_pair(w, rng, f"swuggy-{i:05d}", good, bad, "")
    return w.close()


def build_sblimp(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    rng = _rng(seed, "sblimp")
    pairs = _blimp(n, seed, corpus)
    voices = ac.held_out_voices(8, seed)
    r = ac.Renderer()
    w = SetWriter(out / "sblimp")
    for i, p in enumerate(pairs):
        v = voices[i % len(voices)]
        good = (r.say(p.good_text, v)[0], p.good_text, _spk(v))
        bad = (r.say(p.bad_text, v)[0], p.bad_text, _spk(v))
        _write_pair(w, rng, f"sblimp-{i:05d}", good, bad, p.phenomenon)
    return w.close()


def _salmon_item(part: str, i: int, rng, r: ac.Renderer, voices, by_gender) -> tuple:
    """(good audio, bad audio, text, speaker) of one SALMon-like pair."""
    v = voices[int(rng.integers(len(voices)))]
    if part in ("speaker_consistency", "gender_consistency"):
        text = lang.neutral_sentence(rng)
        a, wa = r.say(text, v)
        pool = [u for u in by_gender[v.gender if part == "speaker_consistency" else ("female" if v.gender == "male" else "male")] if u != v]
        u = pool[int(rng.integers(len(pool)))]
        b, wb = r.say(text, u)
        k = ac.middle_word(wa)
        return a, ac.splice(a, ac.word_cut(wa, k), b, ac.word_cut(wb, k)), text, _spk(v)
    if part in ("bg_all_consistency", "bg_domain_consistency"):
        text = lang.neutral_sentence(rng)
        a, wa = r.say(text, v)
        lang_kinds = list(lang.SOUNDS)
        x = lang_kinds[int(rng.integers(len(lang_kinds)))]
        if part == "bg_domain_consistency":
            others = [k for k in lang_kinds if k != x and lang.SOUNDS[k][0] == lang.SOUNDS[x][0]]
        else:
            others = [k for k in lang_kinds if lang.SOUNDS[k][0] != lang.SOUNDS[x][0]]
        y = others[int(rng.integers(len(others)))]
        snr = float(rng.uniform(8, 14))
        nx, ny = sounds.background(x, len(a), rng), sounds.background(y, len(a), rng)
        cut = ac.word_cut(wa, ac.middle_word(wa))
        good = sounds.add_background(a, nx, snr)
        bad = sounds.add_background(a, ac.switch(nx, ny, cut), snr)
        return good, bad, text, _spk(v)
    if part == "rir_consistency":
        text = lang.neutral_sentence(rng)
        a, wa = r.say(text, v)
        i1, i2 = rng.choice(len(sounds.ROOMS), size=2, replace=False)
        h1, h2 = sounds.room_impulse(sounds.ROOMS[i1], rng), sounds.room_impulse(sounds.ROOMS[i2], rng)
        y1, y2 = sounds.reverberate(a, h1), sounds.reverberate(a, h2)
        cut = ac.word_cut(wa, ac.middle_word(wa))
        return y1, ac.switch(y1, y2, cut), text, _spk(v)
    if part == "sentiment_consistency":
        text = lang.neutral_sentence(rng)
        m1, m2 = ("happy", "sad") if rng.random() < 0.5 else ("sad", "happy")
        a, wa = r.say(text, ac.prosody(v, m1))
        b, wb = r.say(text, ac.prosody(v, m2))
        k = ac.middle_word(wa)
        return a, ac.splice(a, ac.word_cut(wa, k), b, ac.word_cut(wb, k)), text, _spk(v)
    if part == "sentiment_alignment":
        positive = bool(rng.random() < 0.5)
        pool = lang.POSITIVE_SENTENCES if positive else lang.NEGATIVE_SENTENCES
        text = pool[int(rng.integers(len(pool)))] + "."
        match, clash = ("happy", "sad") if positive else ("sad", "happy")
        return r.say(text, ac.prosody(v, match))[0], r.say(text, ac.prosody(v, clash))[0], text, _spk(v)
    if part == "bg_alignment":
        kinds = list(lang.SOUNDS)
        x = kinds[int(rng.integers(len(kinds)))]
        sents = lang.SOUNDS[x][1]
        text = sents[int(rng.integers(len(sents)))] + "."
        y = [k for k in kinds if lang.SOUNDS[k][0] != lang.SOUNDS[x][0]][int(rng.integers(4))]
        a, _ = r.say(text, v)
        snr = float(rng.uniform(6, 10))
        return sounds.add_background(a, sounds.background(x, len(a), rng), snr), sounds.add_background(a, sounds.background(y, len(a), rng), snr), text, _spk(v)
    raise ValueError(part)


def build_salmon(out: Path, n: int, seed: int, corpus: TrainingText | None = None, parts=None) -> int:
    voices = ac.held_out_voices(12, seed)
    by_gender = {g: [v for v in voices if v.gender == g] for g in ("male", "female")}
    if not by_gender["male"] or not by_gender["female"]:  # both genders are needed
        voices = ac.held_out_voices(6, seed, "male") + ac.held_out_voices(6, seed + 1, "female")
        by_gender = {g: [v for v in voices if v.gender == g] for g in ("male", "female")}
    r = ac.Renderer()
    total = 0
    for part in parts or SALMON_BUILD_PARTS:
        rng = _rng(seed, f"salmon/{part}")
        w = SetWriter(out / "salmon" / part)
        for i in range(n):
            good, bad, text, spk = _salmon_item(part, i, rng, r, voices, by_gender)
            _write_pair(w, rng, f"{part}-{i:05d}", (good, text, spk), (bad, text, spk), part)
        total += w.close()
    return total


def _spoken_stories(out: Path, task: str, items: list[dict], seed: int) -> int:
    """Context and ending read by one held-out voice; the cut records where the ending starts
    (``custom["ending_start"]``, seconds) so the ending alone can be scored."""
    rng = _rng(seed, task)
    voices = ac.held_out_voices(8, seed)
    r = ac.Renderer()
    w = SetWriter(out / task)
    pause = np.zeros(int(STORY_PAUSE_S * ac.SR), dtype=np.float32)
    for i, s in enumerate(items):
        v = voices[i % len(voices)]
        ctx_text = " ".join(s["context"])
        ctx_audio = r.say(ctx_text, v)[0]
        start = (len(ctx_audio) + len(pause)) / ac.SR
        order = [(s["right"], 1), (s["wrong"], 0)]
        if rng.random() < 0.5:
            order.reverse()
        item_id = f"{task}-{i:05d}"
        for k, (ending, label) in enumerate(order):
            audio = np.concatenate([ctx_audio, pause, r.say(ending, v)[0]])
            w.add(f"{item_id}-{k}", audio, f"{ctx_text} {ending}", _spk(v),
                  {"item_id": item_id, "choice": k, "label": label, "category": s.get("changed", ""),
                   "ending_start": round(start, 4)})
    return w.close()


def build_sstorycloze(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    return _spoken_stories(out, "sstorycloze", _stories(n, seed, corpus), seed)


def build_topic_sstorycloze(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    items = story_lib.topic_cloze_items(n, grammar_pairs.HELD_OUT_SEED + 7 + seed)
    return _spoken_stories(out, "topic_sstorycloze", items, seed)


def speech_sentences(n: int, seed: int) -> list[str]:
    """Sentences for the speech set: the embedded corpus' generator (``audiolm.data.sentences``) with a
    seed far from the training corpus' (seeds ``10_000 + seed``), else the evaluation grammar."""
    try:
        from audiolm.data.sentences import generate_sentences

        return [s for s in generate_sentences(n, 10_000 + seed)]
    except ImportError:
        rng = _rng(seed, "speech-sentences")
        return [lang.neutral_sentence(rng) for _ in range(n)]


def build_speech(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    """Held-out speakers reading sentences: dev (ASR shots) and test (ASR, TTS, continuation)."""
    r = ac.Renderer()
    total = 0
    per_spk = 5
    for split, n_utt, offset in (("dev", max(10, n // 4), 0), ("test", n, 1)):
        n_spk = max(2, -(-n_utt // per_spk))
        voices = ac.held_out_voices(n_spk, seed * 1000 + 17 + offset)
        sents = speech_sentences(n_utt, seed * 2 + offset)
        w = SetWriter(out / "speech", manifest=f"cuts_{split}.jsonl.gz")
        for i, text in enumerate(sents):
            v = voices[i % n_spk]
            audio, _ = r.say(text, v)
            w.add(f"speech-{split}-{i:05d}", audio, text, _spk(v), {"gender": v.gender})
        total += w.close()
    return total


# ---------------------------------------------------------------------------------------------
# text sets


def build_twuggy(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    rng = _rng(seed, "twuggy")
    pairs = _wuggy(n, seed, corpus, spoken=False)
    items = [_text_pair(rng, f"twuggy-{i:05d}", p["word"], p["pseudoword"], "") for i, p in enumerate(pairs)]
    write_text_set(out / "twuggy", items)
    return len(items)


def build_tblimp(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    rng = _rng(seed, "tblimp")
    items = [_text_pair(rng, f"tblimp-{i:05d}", p.good_text, p.bad_text, p.phenomenon, {"diff": p.diff})
             for i, p in enumerate(_blimp(n, seed, corpus))]
    write_text_set(out / "tblimp", items)
    return len(items)


def build_text_storycloze(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    rng = _rng(seed, "text_storycloze")
    items = []
    for i, s in enumerate(_stories(n, seed, corpus)):
        it = _text_pair(rng, f"text_storycloze-{i:05d}", s["right"], s["wrong"], s["changed"])
        for c in it.choices:
            c.prefix = " ".join(s["context"])
        items.append(it)
    write_text_set(out / "text_storycloze", items)
    return len(items)


def build_hellaswag(out: Path, n: int, seed: int, corpus: TrainingText | None = None) -> int:
    mc = story_lib.story_choice_items(n, grammar_pairs.HELD_OUT_SEED + 3 + seed)
    items = [Item(f"hellaswag-{i:05d}", [Choice(text=e, prefix=m["context"]) for e in m["endings"]], m["answer"],
                  f"story{m['schema']}") for i, m in enumerate(mc)]
    write_text_set(out / "hellaswag", items)
    return len(items)


BUILDERS = {
    "swuggy": build_swuggy, "sblimp": build_sblimp, "salmon": build_salmon, "sstorycloze": build_sstorycloze,
    "topic_sstorycloze": build_topic_sstorycloze, "speech": build_speech, "twuggy": build_twuggy,
    "tblimp": build_tblimp, "text_storycloze": build_text_storycloze, "hellaswag": build_hellaswag,
}


def _build_one(args) -> tuple[str, int, float]:
    task, out, n, seed, corpus_dirs = args
    t0 = time.time()
    corpus = load_training_text(corpus_dirs) if corpus_dirs else None
    count = BUILDERS[task](Path(out), n, seed, corpus)
    return task, count, time.time() - t0


def build_benchmarks(out: str | Path, *, seed: int = 0, size: int | None = None, sizes: dict | None = None,
                     tasks=None, workers: int = 1, corpus: list[str] | None = None) -> dict:
    """Build the offline sets; returns (and writes to OUT/benchmarks.json) a summary.

    ``corpus``: the training data folders (``prepare synth`` / ``prepare synth-text`` outputs).
    With them no benchmark sentence or story occurs in training, and (s/t)WUGGY's real words are
    words heard (read) at least ``MIN_WORD_COUNT`` times there.

    Sizes: items (pairs) per set — ``sizes[task]``, else ``size`` for every set, else the defaults
    (200; SALMon 100 per part, spoken StoryCloze 100, speech 100 test utterances).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(tasks or BUILD_TASKS)
    unknown = [t for t in tasks if t not in BUILDERS]
    if unknown:
        raise ValueError(f"cannot build {unknown}; buildable sets: {', '.join(BUILDERS)}")
    sizes = dict(sizes or {})
    bad = [k for k in sizes if k not in BUILDERS]
    if bad:
        raise ValueError(f"--sizes names unknown sets {bad}; buildable sets: {', '.join(BUILDERS)}")
    sizes = {t: int(sizes.get(t, size if size is not None else DEFAULT_SIZES.get(t, DEFAULT_SIZE))) for t in tasks}
    if any(n < 1 for n in sizes.values()):
        raise ValueError(f"sizes must be >= 1, got {sizes}")
    corpus = [str(c) for c in corpus or []]
    jobs = [(t, str(out), sizes[t], seed, corpus) for t in tasks]
    jobs.sort(key=lambda j: -j[2] * (8 if j[0] == "salmon" else 1))  # longest first
    t0 = time.time()
    if workers > 1 and len(jobs) > 1:
        from audiolm.workers import map_unordered

        by_task = {j[0]: r for j, r in map_unordered(_build_one, jobs, min(workers, len(jobs)), what="benchmark set",
                                                    name_of=lambda j: j[0])}
        done = [by_task[j[0]] for j in jobs]
    else:
        done = [_build_one(j) for j in jobs]
    summary = {
        "seed": seed,
        "sizes": sizes,
        "counts": {t: c for t, c, _ in done},
        "seconds": {t: round(s, 2) for t, _, s in done},
        "total_seconds": round(time.time() - t0, 2),
        "voices": [v.to_dict() for v in ac.held_out_voices(8, seed)],
        "corpus": corpus,
    }
    prev = out / "benchmarks.json"
    if prev.is_file():  # a partial rebuild keeps what the other tasks recorded
        try:
            old = json.loads(prev.read_text())
            for k in ("sizes", "counts", "seconds"):
                summary[k] = {**old.get(k, {}), **summary[k]}
        except (ValueError, OSError):
            pass
    write_json_atomic(prev, summary)
    return summary
