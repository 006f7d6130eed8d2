"""The evaluation tasks: a registry, the likelihood runner and the prompting runners (ASR, TTS, continuation).

Each task reads its data from ``DIR/<subdir>`` (or a path given per task) and returns a flat dict
of metrics with ``"n"`` (items scored) and, for the likelihood tasks, ``"chance"``.
:func:`run_tasks` runs several and keeps going when one fails: the failing task's entry
records ``{"error": "..."}``.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from audiolm.eval.context import EvalContext
from audiolm.eval.items import BenchmarkError, BenchmarkSet
from audiolm.eval.scoring import (ScoreRequest, aggregate, audio_request, mean_and_stderr, per_item_accuracy,
                                  score_requests_by_group, text_request)
from audiolm.lm import prompts

log = logging.getLogger("audiolm")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str  # likelihood | asr | tts | continuation
    subdir: str  # where the data lives under DIR
    description: str
    zerospeech_sub: str | None = None


SALMON_PARTS = {
    "salmon_speaker": ("speaker_consistency", "speaker consistency: the voice switches mid-utterance"),
    "salmon_gender": ("gender_consistency", "gender consistency: the voice switches to the other gender"),
    "salmon_background": ("bg_all_consistency", "background consistency: the background noise switches"),
    "salmon_background_domain": ("bg_domain_consistency", "background consistency within one domain"),
    "salmon_room": ("rir_consistency", "room consistency: the reverberation switches"),
    "salmon_sentiment": ("sentiment_consistency", "sentiment consistency: the prosody switches"),
    "salmon_sentiment_alignment": ("sentiment_alignment", "sentiment alignment: prosody matches the words"),
    "salmon_background_alignment": ("bg_alignment", "background alignment: background matches the words"),
}

TASKS: dict[str, TaskSpec] = {
    "swuggy": TaskSpec("swuggy", "likelihood", "swuggy", "spoken word vs pseudoword", "lexical"),
    "sblimp": TaskSpec("sblimp", "likelihood", "sblimp", "spoken grammatical vs ungrammatical sentence", "syntactic"),
    **{k: TaskSpec(k, "likelihood", f"salmon/{part}", d) for k, (part, d) in SALMON_PARTS.items()},
    "twuggy": TaskSpec("twuggy", "likelihood", "twuggy", "text word vs pseudoword"),
    "tblimp": TaskSpec("tblimp", "likelihood", "tblimp", "text grammatical vs ungrammatical sentence"),
    "sstorycloze": TaskSpec("sstorycloze", "likelihood", "sstorycloze", "spoken StoryCloze (sSC): right vs wrong ending"),
    "topic_sstorycloze": TaskSpec("topic_sstorycloze", "likelihood", "topic_sstorycloze",
                                  "spoken Topic StoryCloze (the 'tSC' of slamkit, Spirit LM, Moshi): ending of another story"),
    "text_storycloze": TaskSpec("text_storycloze", "likelihood", "text_storycloze",
                                "text StoryCloze: right vs wrong ending (not peers' tSC, which is spoken)"),
    "hellaswag": TaskSpec("hellaswag", "likelihood", "hellaswag", "text multiple choice (4 endings)"),
    "asr": TaskSpec("asr", "asr", "speech", "speech recognition by N-shot prompting (WER, CER)"),
    "tts": TaskSpec("tts", "tts", "speech", "zero-shot TTS with a voice prompt (judge WER, speaker similarity)"),
    "continuation": TaskSpec("continuation", "continuation", "speech", "speech continuation from a prompt"),
    "s2tt": TaskSpec("s2tt", "s2tt", "translation",
                     "speech-to-text translation by prompting in the fine-tuned format (BLEU, chrF; transcript WER)"),
    "s2st": TaskSpec("s2st", "s2st", "translation",
                     "speech-to-speech translation (ASR-BLEU of the judge, BLEU of the text, speaker similarity)"),
    "cross_modal": TaskSpec("cross_modal", "cross_modal", "speech",
                            "cross-modal gain (NLL of text without minus with its audio before it, and vice versa) + NLL vector"),
}

_LIKELIHOOD = ["swuggy", "sblimp", "salmon", "twuggy", "tblimp", "sstorycloze", "topic_sstorycloze", "text_storycloze",
               "hellaswag"]
GROUPS = {
    "salmon": list(SALMON_PARTS),
    "likelihood": _LIKELIHOOD,
    "all": _LIKELIHOOD + ["asr", "tts", "continuation", "cross_modal"],
}
# former names, still accepted (with a warning)
ALIASES = {"tstorycloze": "text_storycloze"}
# single-word text sets: scored as running text (" word") when word_form is "running"
WORD_TASKS = ("twuggy",)


class UnknownTaskError(ValueError):
    pass


def expand_tasks(spec: str | Sequence[str]) -> list[str]:
    """``"swuggy,salmon"`` -> task names (groups expanded, order kept, duplicates dropped)."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise UnknownTaskError("no task given: pass --tasks NAME[,NAME...]")
    out: list[str] = []
    unknown = []
    for n in names:
        if n in ALIASES:
            log.warning("task %r is now called %r (peers' 'tSC' is the spoken Topic StoryCloze: topic_sstorycloze)",
                        n, ALIASES[n])
            n = ALIASES[n]
        if n in GROUPS:
            sub = expand_tasks(GROUPS[n])
        elif n in TASKS:
            sub = [n]
        else:
            unknown.append(n)
            continue
        out += [s for s in sub if s not in out]
    if unknown:
        raise UnknownTaskError(
            f"unknown task(s) {', '.join(map(repr, unknown))}; known tasks: {', '.join(TASKS)}; groups: {', '.join(GROUPS)}"
        )
    return out


@dataclass
class EvalOptions:
    """How tasks are run: the schema of conf/eval/*.yaml (``load_config(EvalOptions, ..., group="eval")``)."""

    aggregation: str = "mean"  # mean (SODA) | sum: the default for tasks not in task_aggregation
    task_aggregation: Dict[str, str] = field(default_factory=dict)  # per task, e.g. {tblimp: sum}
    codebooks: Optional[List[int]] = None  # audio codebooks scored; None: every codebook of the layout
    task_codebooks: Dict[str, Any] = field(default_factory=dict)  # per-task override, e.g. {swuggy: [0]}
    text_format: str = "tagged"  # tagged: <|text_start|> ... ; plain: as text-only documents (no tags)
    word_form: str = "running"  # single words (tWUGGY): running = " word" as mid-sentence; bare = "word"
    ending_only: bool = True  # spoken stories: score the ending alone (cuts with custom.ending_start)
    context_window: Optional[int] = None  # tokens a scored sequence keeps (left cut); None: the trained seq_len
    max_items: Optional[int] = None
    seed: int = 0
    batch_tokens: int = 8192  # padded tokens per scoring batch
    asr_shots: int = 3
    asr_max_new_tokens: int = 96
    asr_max_shot_seconds: float = 8.0
    tts_max_seconds: float = 12.0
    continuation_prompt_seconds: float = 3.0
    continuation_seconds: float = 4.0
    temperature: float = 0.8
    top_k: int = 50
    gen_batch: int = 8
    asr_judge: str = "pocketsphinx"  # pocketsphinx | whisper:PATH | a local Whisper folder
    similarity: str = "mfcc"  # mfcc | wavlm:PATH | a local WavLMForXVector folder
    n_samples: int = 2  # audio samples kept per generating task (tensorboard, --save-audio)
    translation_shots: int = 0  # s2tt/s2st: dev pairs before each item (0 for a fine-tuned model)
    translation_max_new_tokens: int = 96  # per text stage (transcript, translation)
    translation_temperature: float = 1e-4  # SODA's S2TT eval (blueberry-eval): temperature 1e-4, top-p 0.8
    translation_top_p: float = 0.8
    translation_cascade: bool = False  # also score ASR judge (source language) -> translation memory

    def __post_init__(self) -> None:
        if self.aggregation not in ("mean", "sum"):
            raise ValueError(f"aggregation must be mean or sum, got {self.aggregation!r}")
        for task, agg in self.task_aggregation.items():
            if agg not in ("mean", "sum"):
                raise ValueError(f"task_aggregation.{task} must be mean or sum, got {agg!r}")
        if self.word_form not in ("running", "bare"):
            raise ValueError(f"word_form must be running or bare, got {self.word_form!r}")

    def aggregation_of(self, task: str) -> str:
        return self.task_aggregation.get(task, self.aggregation)
        if self.text_format not in ("tagged", "plain"):
            raise ValueError(f"text_format must be tagged or plain, got {self.text_format!r}")


def task_path(name: str, data_dir: str | Path | None, paths: dict | None = None) -> Path:
    paths = paths or {}
    if name in paths:
        return Path(paths[name])
    spec = TASKS[name]
    if name.startswith("salmon_") and "salmon" in paths:
        return Path(paths["salmon"]) / spec.subdir.split("/", 1)[1]
    if data_dir is None:
        raise BenchmarkError(f"{name}: no data folder given (pass --data DIR or --data {name}=PATH)")
    return Path(data_dir) / spec.subdir


def load_task_set(name: str, data_dir, paths: dict | None = None) -> BenchmarkSet:
    from audiolm.eval.loaders import load_likelihood_set

    spec = TASKS[name]
    bset = load_likelihood_set(name, task_path(name, data_dir, paths), zerospeech_sub=spec.zerospeech_sub)
    bset.validate()
    return bset


# ---------------------------------------------------------------------------------------------
# likelihood tasks


def _ending_mask(layout, body: np.ndarray, start_frame: int) -> np.ndarray:
    """bool per body position: the position holds a frame at or after ``start_frame``."""
    K = int(layout.tokens_per_frame)
    pos = np.arange(len(body))
    frame = pos // K
    if getattr(layout, "name", "") == "delay":  # codebook j of step s is frame s - j
        frame = frame - pos % K
    return frame >= start_frame


def likelihood_requests(ctx: EvalContext, bset: BenchmarkSet, opts: EvalOptions, task: str):
    """One ScoreRequest per choice of every item (audio encoded with the context's codec).

    Audio requests book each scored token under its codebook (``ScoreRequest.group``), so one
    pass scores codebook 0 and every codebook alike; ``codebooks`` restricts what is scored.
    """
    vocab, layout, tok = ctx.vocab, ctx.layout, ctx.tokenizer
    codebooks = opts.task_codebooks.get(task, opts.codebooks)
    codes = {}
    if bset.modality == "audio":
        ids = [ch.cut_id for it in bset.items for ch in it.choices]
        codes = ctx.encode_cuts(task, bset.cuts, ids)
    frame_rate = None
    bodies: dict[str, np.ndarray] = {}
    out = []
    running = task in WORD_TASKS and opts.word_form == "running"
    for it in bset.items:
        reqs = []
        for ch in it.choices:
            if ch.is_audio:
                if ch.cut_id not in bodies:
                    bodies[ch.cut_id] = np.asarray(layout.encode(_check_codes(codes[ch.cut_id], layout, task)), dtype=np.int64)
                req = audio_request(vocab, layout, bodies[ch.cut_id], bos_id=ctx.bos_id, codebooks=codebooks)
                start = (bset.cuts[ch.cut_id].custom or {}).get("ending_start") if opts.ending_only else None
                if start is not None:
                    if frame_rate is None:
                        frame_rate = float(ctx.get_codec(task).frame_rate)
                    head = len(req.ids) - len(bodies[ch.cut_id])
                    keep = np.concatenate([np.zeros(head, dtype=bool),
                                           _ending_mask(layout, bodies[ch.cut_id], int(round(float(start) * frame_rate)))])
                    req = ScoreRequest(req.ids, req.mask & keep, req.group)
                reqs.append(req)
            else:
                prefix_ids = tok.encode_text(ch.prefix) if ch.prefix else []
                target = tok.encode_text((" " + ch.text) if (ch.prefix or running) else ch.text)
                reqs.append(text_request(vocab, prefix_ids, target, bos_id=ctx.bos_id, tagged=opts.text_format == "tagged"))
        out.append((reqs, it.answer))
    return out


def _check_codes(codes: np.ndarray, layout, task: str) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.int64)
    need = max(layout.codebooks) + 1
    if codes.shape[0] < need:
        raise BenchmarkError(f"{task}: the codec gives {codes.shape[0]} codebooks but the layout uses codebooks {list(layout.codebooks)}")
    return codes


def _window(ctx: EvalContext, opts: EvalOptions) -> int | None:
    sizes = [x for x in (opts.context_window, ctx.max_len) if x]
    if opts.context_window is None and getattr(ctx, "trained_len", None):
        sizes.append(ctx.trained_len)
    return min(sizes) if sizes else None


def run_likelihood(ctx: EvalContext, task: str, bset: BenchmarkSet, opts: EvalOptions) -> dict:
    """Accuracy with its standard error, chance, and the trivial "fewer scored tokens wins"
    baseline; spoken sets also report codebook 0 alone and every codebook."""
    bset = bset.subset(opts.max_items)
    items = likelihood_requests(ctx, bset, opts, task)
    flat = [r for reqs, _ in items for r in reqs]
    answers = [a for _, a in items]
    n_choices = [len(reqs) for reqs, _ in items]
    agg = opts.aggregation_of(task)
    sums, counts = score_requests_by_group(ctx.model, flat, batch_tokens=opts.batch_tokens, max_len=_window(ctx, opts),
                                           pad_id=ctx.pad_id, device=ctx.device)
    per_item = per_item_accuracy(aggregate(sums.sum(1), counts.sum(1), agg), answers, n_choices)
    acc, se = mean_and_stderr(per_item)
    fewer, fewer_se = mean_and_stderr(per_item_accuracy(-counts.sum(1).astype(np.float64), answers, n_choices))
    res = {
        "accuracy": acc,
        "n": len(items),
        "chance": float(np.mean([1.0 / n for n in n_choices])),
        "stderr": se,
        "aggregation": agg,
        "baseline_fewer_tokens": fewer,
        "baseline_fewer_tokens_stderr": fewer_se,
    }
    if bset.modality == "audio":
        cb = opts.task_codebooks.get(task, opts.codebooks)
        res["codebooks"] = list(cb) if cb is not None else list(ctx.layout.codebooks)
        if sums.shape[1] > 1 and cb is None:  # every codebook was scored: codebook 0 alone as well
            a0, s0 = mean_and_stderr(per_item_accuracy(aggregate(sums[:, 0], counts[:, 0], agg), answers, n_choices))
            res["accuracy_codebook0"], res["stderr_codebook0"] = a0, s0
        if opts.ending_only and any((bset.cuts[ch.cut_id].custom or {}).get("ending_start") is not None
                                    for ch in bset.items[0].choices):
            res["scored"] = "ending"
    elif any(ch.prefix for ch in bset.items[0].choices):
        res["scored"] = "ending"
    if task in WORD_TASKS:
        res["word_form"] = opts.word_form
    cats = sorted({it.category for it in bset.items if it.category})
    if len(cats) > 1:
        res["by_category"] = {c: float(np.mean([p for p, it in zip(per_item, bset.items) if it.category == c])) for c in cats}
    res["source"] = bset.source
    return res


# ---------------------------------------------------------------------------------------------
# prompting tasks


def default_generate() -> Callable:
    from audiolm.lm.generate import generate

    return generate


def _constraint(ctx: EvalContext):
    from audiolm.lm.generate import ModalityConstraint

    return ModalityConstraint(ctx.vocab, ctx.layout)


def _head(ctx: EvalContext) -> list[int]:
    return prompts.head(ctx.tokenizer)


def load_speech_split(task: str, folder: Path, split: str):
    from lhotse import CutSet

    from audiolm.eval.items import load_cuts

    path = folder / f"cuts_{split}.jsonl.gz"
    if not path.is_file():
        raise BenchmarkError(f"{task}: {path} is missing (a prepared speech set with cuts_dev/cuts_test, e.g. DIR/speech from `audiolm prepare benchmarks`)")
    cuts = load_cuts(path)
    cuts = CutSet.from_cuts(c for c in cuts if c.supervisions and (c.supervisions[0].text or "").strip())
    if len(cuts) == 0:
        raise BenchmarkError(f"{task}: {path} has no cut with a transcript")
    return cuts


def _generate(ctx, generate_fn, prompts, opts: EvalOptions, **kw) -> list[list[int]]:
    out = []
    for i in range(0, len(prompts), max(1, opts.gen_batch)):
        out += generate_fn(ctx.model, prompts[i : i + opts.gen_batch], seed=opts.seed + i, **kw)
    return out


def ids_to_audio(ctx: EvalContext, ids: Sequence[int], task: str) -> np.ndarray:
    """Generated ids -> waveform: audio ids up to the first non-audio one, whole frames, codec-decoded."""
    layout = ctx.layout
    arr = prompts.generated_audio(ctx.vocab, layout, ids)
    sr = int(ctx.get_codec(task).sample_rate)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.float32)
    cbs = list(layout.codebooks)
    if cbs != list(range(len(cbs))):
        raise BenchmarkError(f"{task}: the layout's codebooks {cbs} are not a prefix 0..k-1 of the codec's and cannot be decoded")
    try:
        codes = np.asarray(layout.decode(arr, strict=False))
    except Exception as e:  # a malformed generation (e.g. a broken delay pattern): no audio
        log.warning("%s: could not decode a generation of %d tokens (%s)", task, len(arr), e)
        return np.zeros(0, dtype=np.float32)
    wav, sr2 = ctx.decode_codes(codes, task)
    assert sr2 == sr
    return wav


def _cut_audio(cut) -> tuple[np.ndarray, int]:
    from audiolm.data.audio_files import read_cut_audio

    got = read_cut_audio(cut)  # refuses command/url sources, checks the header
    return got.audio.mean(axis=0), got.sample_rate


def run_asr(ctx: EvalContext, task: str, folder: Path, opts: EvalOptions, generate_fn=None) -> tuple[dict, list]:
    from audiolm.asr import wer_cer

    generate_fn = generate_fn or default_generate()
    dev = load_speech_split(task, folder, "dev")
    test = load_speech_split(task, folder, "test")
    test_cuts = list(test)[: opts.max_items or None]
    rng = np.random.default_rng(opts.seed)
    pool = [c for c in dev if c.duration <= opts.asr_max_shot_seconds] or list(dev)
    shots = [pool[i] for i in rng.choice(len(pool), size=min(opts.asr_shots, len(pool)), replace=False)] if opts.asr_shots else []
    codes = ctx.encode_cuts(task, dev, [c.id for c in shots])
    codes.update(ctx.encode_cuts(task, test, [c.id for c in test_cuts]))
    checked = lambda cid: _check_codes(codes[cid], ctx.layout, task)  # noqa: E731
    shot_pairs = [(checked(s.id), s.supervisions[0].text) for s in shots]
    asks = [prompts.asr_prompt(ctx.tokenizer, ctx.layout, checked(c.id), shot_pairs) for c in test_cuts]
    gens = _generate(ctx, generate_fn, asks, opts, max_new_tokens=opts.asr_max_new_tokens, temperature=1.0, top_k=1,
                     stop_ids=[ctx.vocab.text_end])
    hyps = [ctx.tokenizer.decode_text([t for t in g if t != ctx.vocab.text_end]).strip() for g in gens]
    refs = [c.supervisions[0].text for c in test_cuts]
    res = {**wer_cer(refs, hyps), "n": len(refs), "shots": len(shots)}
    # the trivial baseline: one constant answer for every utterance (dev's most common first word)
    const = constant_hypothesis([c.supervisions[0].text for c in dev])
    res["wer_baseline_constant"] = wer_cer(refs, [const] * len(refs))["wer"]
    res["baseline_hypothesis"] = const
    res["examples"] = [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps))[:3]]
    return res, []


def constant_hypothesis(texts: Sequence[str]) -> str:
    """The most common first word of ``texts``: what an ASR that ignores its audio would answer."""
    from collections import Counter

    first = Counter(t.split()[0] for t in texts if t.split())
    return first.most_common(1)[0][0] if first else ""


def _same_speaker_prompts(cuts) -> list[tuple]:
    """(target, prompt) pairs: each cut with the next cut of the same speaker (ids sorted, cyclic)."""
    by_spk: dict[str, list] = {}
    for c in sorted(cuts, key=lambda c: c.id):
        by_spk.setdefault(c.supervisions[0].speaker or "", []).append(c)
    pairs = []
    for c in sorted(cuts, key=lambda c: c.id):
        same = by_spk[c.supervisions[0].speaker or ""]
        if len(same) < 2:
            continue
        pairs.append((c, same[(same.index(c) + 1) % len(same)]))
    return pairs


def run_tts(ctx: EvalContext, task: str, folder: Path, opts: EvalOptions, generate_fn=None, judge=None, sim=None) -> tuple[dict, list]:
    from audiolm.asr import make_asr_judge
    from audiolm.speaker import make_similarity, similarity
    from audiolm.asr import wer_cer

    ctx.get_codec(task)  # fail early, naming the task, when the checkpoint has no codec
    generate_fn = generate_fn or default_generate()
    judge = judge or make_asr_judge(opts.asr_judge, ctx.device)
    sim = sim or make_similarity(opts.similarity, ctx.device)
    test = load_speech_split(task, folder, "test")
    pairs = _same_speaker_prompts(test)[: opts.max_items or None]
    if not pairs:
        raise BenchmarkError(f"{task}: no speaker in {folder}/cuts_test.jsonl.gz has two utterances (a voice prompt needs one)")
    codes = ctx.encode_cuts(task, test, [p.id for _, p in pairs])
    codec = ctx.get_codec(task)
    asks, budgets = [], []
    for tgt, pr in pairs:
        asks.append(prompts.tts_prompt(ctx.tokenizer, ctx.layout, tgt.supervisions[0].text,
                                       _check_codes(codes[pr.id], ctx.layout, task), pr.supervisions[0].text))
        budgets.append(prompts.audio_budget(ctx.layout, codec.frame_rate, min(opts.tts_max_seconds, 2 * tgt.duration + 1.0)))
    gens = _generate(ctx, generate_fn, asks, opts, max_new_tokens=max(budgets), temperature=opts.temperature,
                     top_k=opts.top_k, stop_ids=[ctx.vocab.audio_end], constraint=_constraint(ctx))
    sr = int(codec.sample_rate)
    wavs = [ids_to_audio(ctx, g, task) for g in gens]
    refs = [t.supervisions[0].text for t, _ in pairs]
    truth = [_cut_audio(t) for t, _ in pairs]
    prompt_audio = [_cut_audio(p) for _, p in pairs]
    hyps = judge.transcribe(wavs, sr)
    # the judges on the ground truth do not change between runs (the training callback): memoised
    memo = ctx._codes
    ref_hyps, ref_sims, floor_hyps = [], [], []
    tgt_codes = ctx.encode_cuts(task, test, [t.id for t, _ in pairs])
    for (t, p), (ta, tr), (pa, pr) in zip(pairs, truth, prompt_audio):
        key = ("tts-reference", judge.name, sim.name, t.id, p.id)
        if key not in memo:
            memo[key] = (judge.transcribe([ta], tr)[0], similarity(sim, ta, tr, pa, pr))
        ref_hyps.append(memo[key][0])
        ref_sims.append(memo[key][1])
        # the floor of this codec + judge: the true codes, decoded, judged (no LM involved)
        fkey = ("tts-codec-floor", ctx.codec_key(), judge.name, t.id)
        if fkey not in memo:
            wav_f, sr_f = ctx.decode_codes(tgt_codes[t.id], task)
            memo[fkey] = judge.transcribe([wav_f], sr_f)[0]
        floor_hyps.append(memo[fkey])
    sims = [similarity(sim, w, sr, pa, pr) if len(w) else 0.0 for w, (pa, pr) in zip(wavs, prompt_audio)]
    w = wer_cer(refs, hyps)
    wr = wer_cer(refs, ref_hyps)
    res = {"wer": w["wer"], "cer": w["cer"], "similarity": float(np.mean(sims)), "n": len(pairs),
           "wer_reference": wr["wer"], "similarity_reference": float(np.mean(ref_sims)),
           "wer_codec_floor": wer_cer(refs, floor_hyps)["wer"],
           "seconds": float(np.mean([len(x) / sr for x in wavs])),
           "ended": float(np.mean([ctx.vocab.audio_end in g for g in gens])),
           "judge": judge.name, "similarity_model": sim.name}
    res["examples"] = [{"text": r, "judge": h} for r, h in list(zip(refs, hyps))[:3]]
    samples = [(f"{task}/{i}", wavs[i], sr) for i in range(min(opts.n_samples, len(wavs)))]
    return res, samples


def run_continuation(ctx: EvalContext, task: str, folder: Path, opts: EvalOptions, generate_fn=None, sim=None) -> tuple[dict, list]:
    from audiolm.speaker import make_similarity, similarity

    codec = ctx.get_codec(task)
    generate_fn = generate_fn or default_generate()
    sim = sim or make_similarity(opts.similarity, ctx.device)
    test = load_speech_split(task, folder, "test")
    cuts = sorted(test, key=lambda c: c.id)[: opts.max_items or None]
    codes = ctx.encode_cuts(task, test, [c.id for c in cuts])
    asks, prompt_wavs = [], []
    for c in cuts:
        c_codes = _check_codes(codes[c.id], ctx.layout, task)
        p = min(int(round(opts.continuation_prompt_seconds * codec.frame_rate)), max(1, c_codes.shape[1] // 2))
        asks.append(prompts.continuation_prompt(ctx.tokenizer, ctx.layout, c_codes, p))
        a, sr_c = _cut_audio(c)
        prompt_wavs.append((a[: int(p / codec.frame_rate * sr_c)], sr_c))
    max_new = prompts.audio_budget(ctx.layout, codec.frame_rate, opts.continuation_seconds)
    gens = _generate(ctx, generate_fn, asks, opts, max_new_tokens=max_new, temperature=opts.temperature,
                     top_k=opts.top_k, stop_ids=[ctx.vocab.audio_end], constraint=_constraint(ctx))
    sr = int(codec.sample_rate)
    wavs = [ids_to_audio(ctx, g, task) for g in gens]
    sims = [similarity(sim, w, sr, pa, pr) if len(w) > sr // 10 else 0.0 for w, (pa, pr) in zip(wavs, prompt_wavs)]
    res = {"similarity": float(np.mean(sims)), "seconds": float(np.mean([len(w) / sr for w in wavs])),
           "ended": float(np.mean([ctx.vocab.audio_end in g for g in gens])), "n": len(cuts), "similarity_model": sim.name}
    samples = []
    for i in range(min(opts.n_samples, len(wavs))):
        pa, pr = prompt_wavs[i]
        samples.append((f"{task}/{i}_prompt", pa, pr))
        samples.append((f"{task}/{i}", wavs[i], sr))
    return res, samples


# ---------------------------------------------------------------------------------------------
# running many


@dataclass
class TaskResult:
    name: str
    metrics: dict
    samples: list = field(default_factory=list)


def run_task(ctx: EvalContext, name: str, data_dir, opts: EvalOptions, paths: dict | None = None, **hooks) -> TaskResult:
    spec = TASKS[name]
    t0 = time.time()
    if spec.kind == "likelihood":
        metrics, samples = run_likelihood(ctx, name, load_task_set(name, data_dir, paths), opts), []
    else:
        folder = task_path(name, data_dir, paths)
        if not folder.exists():
            raise BenchmarkError(f"{name}: benchmark data not found at {folder}")
        from audiolm.eval.cross_modal import run_cross_modal
        from audiolm.eval.translation import run_s2st, run_s2tt

        runner = {"asr": run_asr, "tts": run_tts, "continuation": run_continuation, "cross_modal": run_cross_modal,
                  "s2tt": run_s2tt, "s2st": run_s2st}[spec.kind]
        kw = {k: v for k, v in hooks.items() if k in runner.__code__.co_varnames}
        metrics, samples = runner(ctx, name, folder, opts, **kw)
    metrics["seconds_taken"] = round(time.time() - t0, 2)
    return TaskResult(name, metrics, samples)


def run_tasks(ctx: EvalContext, names: Sequence[str], data_dir, opts: EvalOptions, paths: dict | None = None,
              on_result: Callable[[TaskResult], None] | None = None, salmon_mean: bool = True,
              **hooks) -> dict[str, TaskResult]:
    """Run each task; a failure is recorded in its entry (``{"error": ...}``) and the others go on.
    ``salmon_mean``: add the mean of the SALMon parts run here (see :func:`add_salmon_mean`)."""
    results: dict[str, TaskResult] = {}
    ctx.run_memo.clear()  # a new run may be a new model state (the training callback reuses the context)
    for name in names:
        try:
            r = run_task(ctx, name, data_dir, opts, paths, **hooks)
        except Exception as e:  # noqa: BLE001 - one task must not sink the report
            msg = str(e) if isinstance(e, (BenchmarkError, RuntimeError, ValueError)) else f"{type(e).__name__}: {e}"
            if not msg.startswith(name):
                msg = f"{name}: {msg}"
            log.error("task %s failed: %s", name, msg)
            log.debug("%s", traceback.format_exc())
            r = TaskResult(name, {"error": msg})
        results[name] = r
        if on_result is not None:
            on_result(r)
    if salmon_mean:
        metrics = {n: r.metrics for n, r in results.items()}
        add_salmon_mean(metrics)
        if "salmon" in metrics and "salmon" not in results:
            results["salmon"] = TaskResult("salmon", metrics["salmon"])
    return results


def add_salmon_mean(metrics: dict[str, dict]) -> None:
    """``metrics["salmon"]``: the mean of the SALMon parts present (two or more), its standard error
    from the parts' (independent items). Left alone when a "salmon" entry is there already."""
    parts = [metrics[n] for n in SALMON_PARTS if n in metrics and "accuracy" in metrics[n]]
    if len(parts) > 1 and "salmon" not in metrics:
        k = len(parts)
        metrics["salmon"] = {
            "accuracy": float(np.mean([m["accuracy"] for m in parts])), "n": sum(m["n"] for m in parts), "chance": 0.5,
            "stderr": float(math.sqrt(sum(m["stderr"] ** 2 for m in parts)) / k),
            "baseline_fewer_tokens": float(np.mean([m["baseline_fewer_tokens"] for m in parts])),
            "parts": k, "note": "mean of the SALMon parts"}
