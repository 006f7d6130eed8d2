"""Translation by prompting: ``s2tt`` (speech -> target text) and ``s2st`` (speech -> target speech).

The data is a prepared translation corpus folder (``audiolm prepare synth-s2st|cvss|covost2``):
``cuts_test.jsonl.gz`` (and ``cuts_dev`` for shots) with pair documents (source cut at position 0
with ``translation``; for S2ST the target cut at position 1). Pass it as ``--data s2tt=DIR``.

Decoding follows the sequence the model was fine-tuned on (:mod:`audiolm.tokens.translation`), one
stage per part so that each can be scored: the source speech, then ``<|text_start|><language>xx</language>``
and the transcript up to ``<|text_end|>``, then ``<|text_start|><language>en</language>`` and the
translation up to ``<|text_end|>``, and for S2ST ``<|audio_start|>`` and the target speech up to
``<|audio_end|>``. The language markers are given, not generated. Settings as SODA's S2TT eval
(potsawee/blueberry-eval ``s2tt_covost2``): temperature 1e-4, top-p 0.8. ``translation_shots`` N
puts N dev pairs in that format before each test item (a base model that never saw the format).

Scores: corpus BLEU and chrF (``sacrebleu``) with a bootstrap 95% interval over items; the
transcript's WER; for s2tt also ``bleu_given_transcript`` (the true transcript given in place of
the generated one: translation measured apart from recognition); for S2ST the ASR-BLEU of the English judge on the generated speech, the speaker
similarity of the generated target to the source, and the share of generations that ended. Controls:
a constant baseline (the most common dev translation for every item), a translation-memory oracle
that knows the training pairs (the translation of the training pair whose source text shares the
most words with the item's *true* transcript) and, with ``translation_cascade``, a cascade of our
own parts: the ASR judge on the source speech, then that memory on what it heard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from audiolm.eval.items import BenchmarkError
from audiolm.lm import prompts
from audiolm.tokens.documents import audio_span
from audiolm.tokens.translation import language_tag

N_BOOT = 200


@dataclass
class Pair:
    source: object  # the source cut
    target: object | None  # the target cut (S2ST data), or None
    source_text: str
    source_language: str
    target_text: str
    target_language: str


def load_pairs(task: str, folder: Path, split: str) -> list[Pair]:
    from audiolm.eval.items import load_cuts

    path = Path(folder) / f"cuts_{split}.jsonl.gz"
    if not path.is_file():
        raise BenchmarkError(f"{task}: {path} is missing (a translation corpus from `audiolm prepare synth-s2st|cvss|covost2`)")
    docs: dict[str, list] = {}
    for c in load_cuts(path):
        if c.supervisions:
            docs.setdefault(str((c.supervisions[0].custom or {}).get("document", c.id)), []).append(c)
    pairs = []
    for cuts in docs.values():
        cuts.sort(key=lambda c: (c.supervisions[0].custom or {}).get("position", 0))
        src = cuts[0].supervisions[0]
        custom = src.custom or {}
        tgt = cuts[1] if len(cuts) > 1 else None
        text = custom.get("translation") or (tgt.supervisions[0].text if tgt is not None else None)
        lang = custom.get("translation_language") or (tgt.supervisions[0].language if tgt is not None else "en")
        if text and src.text and src.language:
            pairs.append(Pair(cuts[0], tgt, src.text, src.language, text, lang or "en"))
    if not pairs:
        raise BenchmarkError(f"{task}: {path} holds no translation pair (cuts with a translation or a target cut)")
    return pairs


def corpus_bleu(refs: Sequence[str], hyps: Sequence[str]) -> dict:
    import sacrebleu

    bleu = sacrebleu.corpus_bleu(list(hyps), [list(refs)])
    chrf = sacrebleu.corpus_chrf(list(hyps), [list(refs)])
    return {"bleu": float(bleu.score), "chrf": float(chrf.score)}


def bleu_interval(refs: Sequence[str], hyps: Sequence[str], seed: int = 0, n_boot: int = N_BOOT) -> list[float]:
    """Bootstrap 95% interval of corpus BLEU over items."""
    import sacrebleu

    rng = np.random.default_rng(seed)
    n = len(refs)
    scores = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        scores.append(sacrebleu.corpus_bleu([hyps[i] for i in idx], [[refs[i] for i in idx]]).score)
    return [float(np.percentile(scores, 2.5)), float(np.percentile(scores, 97.5))]


def memory_oracle(train: Sequence[Pair], items: Sequence[Pair] | Sequence[str]) -> list[str]:
    """The translation of the training pair whose source text shares the most words with each item's
    (an item is a :class:`Pair`, whose true transcript is used, or a recognised transcript)."""
    from audiolm.asr import normalize_text

    bags = [Counter(normalize_text(p.source_text).split()) for p in train]
    out = []
    for it in items:
        words = Counter(normalize_text(it if isinstance(it, str) else it.source_text).split())
        best = max(range(len(train)), key=lambda i: (sum((bags[i] & words).values()), -i))
        out.append(train[best].target_text)
    return out


def _text_prefix(ctx, language: str) -> list[int]:
    return [ctx.vocab.text_start, *ctx.tokenizer.encode_text(language_tag(language))]


def _decode(ctx, ids: Sequence[int], stop: int) -> tuple[str, bool]:
    ids = list(ids)
    ended = stop in ids
    if ended:
        ids = ids[: ids.index(stop)]
    return ctx.tokenizer.decode_text(ids).strip(), ended


def translate(ctx, task: str, pairs: Sequence[Pair], shots: Sequence[Pair], opts, generate_fn, codes: dict,
              gold_transcripts: bool = False) -> dict:
    """Stages 1-2 (transcript, translation) for each pair: prompts, generations and texts.

    ``gold_transcripts``: stage 1 is not generated but the true transcript is given, so the
    translation stage is measured on its own (a diagnostic that separates recognition from
    translation). The result is kept for the run (``ctx.run_memo``): s2tt and s2st share it."""
    from audiolm.eval.tasks import _check_codes, _generate, _head

    key = ("translate", id(generate_fn), tuple(p.source.id for p in pairs), tuple(s.source.id for s in shots),
           gold_transcripts, opts.translation_max_new_tokens, opts.translation_temperature, opts.translation_top_p,
           opts.seed)
    if key in ctx.run_memo and ctx.run_memo[key][0] is generate_fn:
        return dict(ctx.run_memo[key][1])

    v = ctx.vocab
    span = lambda cut: audio_span(ctx.layout, _check_codes(codes[cut.id], ctx.layout, task))  # noqa: E731
    head = list(_head(ctx))
    for s in shots:
        head += span(s.source) + _text_prefix(ctx, s.source_language) + ctx.tokenizer.encode_text(s.source_text) + \
            [v.text_end] + _text_prefix(ctx, s.target_language) + ctx.tokenizer.encode_text(s.target_text) + [v.text_end]
    kw = dict(max_new_tokens=opts.translation_max_new_tokens, temperature=opts.translation_temperature,
              top_p=opts.translation_top_p, stop_ids=[v.text_end])
    p1 = [head + span(p.source) + _text_prefix(ctx, p.source_language) for p in pairs]
    if gold_transcripts:
        g1 = [ctx.tokenizer.encode_text(p.source_text) + [v.text_end] for p in pairs]
    else:
        g1 = _generate(ctx, generate_fn, p1, opts, **kw)
    transcripts = [_decode(ctx, g, v.text_end)[0] for g in g1]
    p2 = [a + [t for t in g if t != v.text_end] + [v.text_end] + _text_prefix(ctx, p.target_language)
          for a, g, p in zip(p1, g1, pairs)]
    g2 = _generate(ctx, generate_fn, p2, opts, **kw)
    done = [_decode(ctx, g, v.text_end) for g in g2]
    out = {"transcripts": transcripts, "translations": [d[0] for d in done], "ended": [d[1] for d in done],
           "prompts": [a + [t for t in g if t != v.text_end] + [v.text_end] for a, g in zip(p2, g2)]}
    ctx.run_memo[key] = (generate_fn, out)
    return dict(out)


def _items(ctx, task: str, folder: Path, opts, need_target: bool):
    from lhotse import CutSet

    test = load_pairs(task, folder, "test")
    if need_target:
        test = [p for p in test if p.target is not None]
        if not test:
            raise BenchmarkError(f"{task}: {folder}/cuts_test.jsonl.gz has no target speech (an S2ST corpus is needed)")
    test = test[: opts.max_items or None]
    dev = load_pairs(task, folder, "dev") if (Path(folder) / "cuts_dev.jsonl.gz").is_file() else []
    rng = np.random.default_rng(opts.seed)
    k = min(opts.translation_shots, len(dev))
    shots = [dev[i] for i in rng.choice(len(dev), size=k, replace=False)] if k else []
    cuts = CutSet.from_cuts([p.source for p in test + shots])
    codes = ctx.encode_cuts(task, cuts, [c.id for c in cuts])
    return test, dev, shots, codes


def _scores(task: str, folder: Path, test: Sequence[Pair], dev: Sequence[Pair], out: dict, opts) -> dict:
    from audiolm.asr import wer_cer

    refs = [p.target_text for p in test]
    res = {"n": len(test), **corpus_bleu(refs, out["translations"]),
           "bleu_interval_95": bleu_interval(refs, out["translations"], opts.seed),
           "transcript_wer": wer_cer([p.source_text for p in test], out["transcripts"])["wer"],
           "ended": float(np.mean(out["ended"])), "shots": opts.translation_shots, "chance_bleu": 0.0}
    common = Counter(p.target_text for p in dev).most_common(1)[0][0] if dev else ""
    res["bleu_baseline_constant"] = corpus_bleu(refs, [common] * len(refs))["bleu"]
    train_path = Path(folder) / "cuts_train.jsonl.gz"
    if train_path.is_file():
        train = load_pairs(task, folder, "train")
        res["bleu_oracle_memory"] = corpus_bleu(refs, memory_oracle(train, test))["bleu"]
        if out.get("cascade_transcripts") is not None:  # our parts in a row: the ASR judge, then the memory
            heard = out["cascade_transcripts"]
            res["bleu_cascade"] = corpus_bleu(refs, memory_oracle(train, heard))["bleu"]
            res["cascade_transcript_wer"] = wer_cer([p.source_text for p in test], heard)["wer"]
    res["examples"] = [{"source": p.source_text, "transcript": t, "ref": p.target_text, "hyp": h}
                       for p, t, h in list(zip(test, out["transcripts"], out["translations"]))[:3]]
    return res


def cascade_transcripts(test: Sequence[Pair], judge) -> list[str]:
    """The ASR judge on the source speech (the first part of a cascade: ASR -> translation memory)."""
    from audiolm.eval.tasks import _cut_audio

    return [judge.transcribe([a], r)[0] for a, r in (_cut_audio(p.source) for p in test)]


def run_s2tt(ctx, task: str, folder: Path, opts, generate_fn=None, judge=None) -> tuple[dict, list]:
    from audiolm.asr import make_asr_judge
    from audiolm.eval.tasks import default_generate

    generate_fn = generate_fn or default_generate()
    test, dev, shots, codes = _items(ctx, task, folder, opts, need_target=False)
    out = translate(ctx, task, test, shots, opts, generate_fn, codes)
    if opts.translation_cascade:
        out["cascade_transcripts"] = cascade_transcripts(test, judge or make_asr_judge(opts.asr_judge, ctx.device))
    res = _scores(task, folder, test, dev, out, opts)
    gold = translate(ctx, task, test, shots, opts, generate_fn, codes, gold_transcripts=True)
    res["bleu_given_transcript"] = corpus_bleu([p.target_text for p in test], gold["translations"])["bleu"]
    return res, []


def run_s2st(ctx, task: str, folder: Path, opts, generate_fn=None, judge=None, sim=None) -> tuple[dict, list]:
    from audiolm.asr import make_asr_judge
    from audiolm.speaker import make_similarity, similarity
    from audiolm.eval.tasks import _constraint, _cut_audio, _generate, default_generate, ids_to_audio

    codec = ctx.get_codec(task)  # fail early when the checkpoint names no codec
    generate_fn = generate_fn or default_generate()
    judge = judge or make_asr_judge(opts.asr_judge, ctx.device)
    sim = sim or make_similarity(opts.similarity, ctx.device)
    test, dev, shots, codes = _items(ctx, task, folder, opts, need_target=True)
    out = translate(ctx, task, test, shots, opts, generate_fn, codes)
    if opts.translation_cascade:
        out["cascade_transcripts"] = cascade_transcripts(test, judge)
    v = ctx.vocab
    budget = max(prompts.audio_budget(ctx.layout, codec.frame_rate, min(opts.tts_max_seconds, 2 * p.target.duration + 1.0))
                 for p in test)
    p3 = [p + [v.audio_start] for p in out["prompts"]]
    g3 = _generate(ctx, generate_fn, p3, opts, max_new_tokens=budget, temperature=opts.temperature, top_k=opts.top_k,
                   stop_ids=[v.audio_end], constraint=_constraint(ctx))
    sr = int(codec.sample_rate)
    wavs = [ids_to_audio(ctx, g, task) for g in g3]
    heard = judge.transcribe(wavs, sr)
    refs = [p.target_text for p in test]
    res = _scores(task, folder, test, dev, out, opts)
    res.update({"asr_bleu": corpus_bleu(refs, heard)["bleu"], "asr_bleu_interval_95": bleu_interval(refs, heard, opts.seed),
                "speech_ended": float(np.mean([v.audio_end in g for g in g3])),
                "seconds": float(np.mean([len(w) / sr for w in wavs])), "judge": judge.name})
    truth = [judge.transcribe([a], r)[0] for a, r in (_cut_audio(p.target) for p in test)]
    res["asr_bleu_reference"] = corpus_bleu(refs, truth)["bleu"]  # the judge on the true target speech: the ceiling
    sources = [_cut_audio(p.source) for p in test]
    res["similarity_to_source"] = float(np.mean([similarity(sim, w, sr, a, r) if len(w) else 0.0
                                                 for w, (a, r) in zip(wavs, sources)]))
    res["similarity_model"] = sim.name
    for e, h in zip(res["examples"], heard):
        e["judge"] = h
    samples = [(f"{task}/{i}", wavs[i], sr) for i in range(min(opts.n_samples, len(wavs)))]
    return res, samples
