"""Offline benchmark sets: valid items, determinism, chance-level and oracle models."""

import json

import numpy as np
import pytest

from audiolm.eval.build import acoustics as ac
from audiolm.eval.build import grammar_pairs
from audiolm.eval.build import language as lang
from audiolm.eval.build.benchmarks import build_benchmarks
from audiolm.eval.context import EvalContext
from audiolm.eval.items import read_spoken_set, read_text_set
from audiolm.eval.tasks import EvalOptions, likelihood_requests, load_task_set, run_likelihood, run_tasks
from audiolm.eval.testing import ByteTokenizer, FramingCodec, OracleModel, random_model
from audiolm.tokens.layout import make_layout


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # text sets at their default size (cheap); spoken sets small
    build_benchmarks(out, seed=3, tasks=["twuggy", "tblimp", "text_storycloze", "hellaswag"])
    build_benchmarks(out, seed=3, size=4, tasks=["swuggy", "sblimp", "salmon", "sstorycloze", "topic_sstorycloze", "speech"])
    return out


def test_summary_and_layout(bench):
    s = json.loads((bench / "benchmarks.json").read_text())
    assert s["sizes"]["twuggy"] == 200 and s["sizes"]["swuggy"] == 4
    assert s["counts"]["salmon"] == 8 * 4 * 2
    for part in ("speaker_consistency", "gender_consistency", "bg_all_consistency", "rir_consistency"):
        assert (bench / "salmon" / part / "cuts.jsonl.gz").is_file()
    assert (bench / "speech" / "cuts_dev.jsonl.gz").is_file() and (bench / "speech" / "cuts_test.jsonl.gz").is_file()


def test_pseudowords_absent_from_lexicon_and_length_matched(bench):
    lexicon = lang.training_lexicon()
    assert len(lexicon) > 1000
    items = read_text_set("twuggy", bench / "twuggy").items
    assert len(items) == 200
    for it in items:
        word = it.choices[it.answer].text
        pseudo = it.choices[1 - it.answer].text
        assert pseudo not in lexicon, pseudo
        assert word in lexicon
        assert len(pseudo) == len(word)
        assert [s[0] in "aeiouy" for s in lang.segments(pseudo)] == [s[0] in "aeiouy" for s in lang.segments(word)]
    answers = [it.answer for it in items]
    assert 60 < sum(answers) < 140  # the right choice is not always first


def test_minimal_pairs_differ_only_where_the_phenomenon_says(bench):
    items = read_text_set("tblimp", bench / "tblimp").items
    phenomena = {it.category for it in items}
    assert phenomena == set(grammar_pairs.PHENOMENA)
    from audiolm.data.sentences import load_lexicon

    agree = [{"is", "are"}, {"was", "were"}, {"has", "have"}]
    agree += [{v.s3, v.base} for vs in load_lexicon().verbs.values() for v in vs]
    for it in items:
        good = it.choices[it.answer].text.rstrip(".").lower().split()
        bad = it.choices[1 - it.answer].text.rstrip(".").lower().split()
        assert len(good) == len(bad)
        diff = [i for i, (a, b) in enumerate(zip(good, bad)) if a != b]
        assert diff == it.meta["diff"] and len(diff) == 1, (it.category, good, bad)
        g, b = good[diff[0]], bad[diff[0]]
        if it.category in ("subject_verb_agreement", "agreement_across_phrase"):
            assert {g, b} in agree, (g, b)  # be/have, or the same verb in 3sg vs base
        elif it.category == "determiner_noun_agreement":
            assert {g, b} in ({"this", "these"}, {"that", "those"})
        elif it.category == "indefinite_article":
            assert {g, b} == {"a", "an"}
        elif it.category == "irregular_participle":
            assert good[diff[0] - 1] in ("has", "have") or bad[diff[0] - 1] not in ("has", "have")
        else:
            assert g.endswith(("self", "selves")) and b.endswith(("self", "selves"))


def test_stories_break_a_coherence_the_context_sets_up(bench):
    items = read_text_set("text_storycloze", bench / "text_storycloze").items
    assert len(items) == 200
    for it in items:
        ctx = it.choices[0].prefix
        right, wrong = it.choices[it.answer].text, it.choices[1 - it.answer].text
        rw, ww = right.rstrip(".").split(), wrong.rstrip(".").split()
        assert len(rw) == len(ww) and sum(a != b for a, b in zip(rw, ww)) == 1
        changed = next(a for a, b in zip(rw, ww) if a != b)
        novel = next(b for a, b in zip(rw, ww) if a != b)
        if it.category != "gender":  # the right entity was introduced, the wrong one never was
            assert changed in ctx and novel not in ctx.split(), (ctx, right, wrong)
    hs = read_text_set("hellaswag", bench / "hellaswag").items
    assert all(len(it.choices) == 4 and len({c.text for c in it.choices}) == 4 for it in hs)


def test_benchmarks_are_held_out_from_the_training_corpus(tmp_path):
    from audiolm.data.synth_text import build_synth_text
    from audiolm.eval.build.training_text import load_training_text

    build_synth_text(tmp_path / "text", n_documents=300, seed=0)
    corpus = load_training_text([tmp_path / "text"])
    # a corpus that says every benchmark sentence: they must all be drawn again
    pairs = grammar_pairs.blimp_pairs(50, seed=0)
    taken = {p.good_text for p in pairs[:25]}
    again = grammar_pairs.blimp_pairs(50, seed=0, exclude=frozenset(taken))
    assert not taken & {p.good_text for p in again} and len(again) == 50
    out = build_benchmarks(tmp_path / "b", seed=0, size=40, tasks=["twuggy", "tblimp", "text_storycloze"],
                           corpus=[str(tmp_path / "text")])
    assert out["counts"]["tblimp"] == 40
    items = read_text_set("tblimp", tmp_path / "b" / "tblimp").items
    assert not {c.text for it in items for c in it.choices} & corpus.sentences
    words = [it.choices[it.answer].text for it in read_text_set("twuggy", tmp_path / "b" / "twuggy").items]
    counts = corpus.all_counts
    assert all(counts.get(w, 0) >= 5 for w in words), [w for w in words if counts.get(w, 0) < 5]
    # the corpus itself contains the stories' and the pairs' constructions
    text = " ".join(corpus.documents)
    for needle in ("himself", "herself", "themselves", " these ", " those ", " an "):
        assert needle in text, needle


def test_spoken_pairs_share_text_and_voice(bench):
    for part in ("speaker_consistency", "gender_consistency", "bg_all_consistency", "bg_domain_consistency",
                 "rir_consistency", "sentiment_consistency", "sentiment_alignment", "bg_alignment"):
        bset = read_spoken_set(part, bench / "salmon" / part)
        assert len(bset.items) == 4
        for it in bset.items:
            texts = {bset.cuts[c.cut_id].supervisions[0].text for c in it.choices}
            assert len(texts) == 1, (part, texts)  # acoustic pairs share their text
            assert sum(bset.cuts[c.cut_id].custom["label"] for c in it.choices) == 1
            a, b = (bset.cuts[c.cut_id].load_audio() for c in it.choices)
            assert a.shape[1] > 0.3 * ac.SR and not np.array_equal(a, b)
    sw = read_spoken_set("swuggy", bench / "swuggy")
    for it in sw.items:
        spk = {sw.cuts[c.cut_id].supervisions[0].speaker for c in it.choices}
        assert len(spk) == 1  # word and pseudoword in the same voice


def test_held_out_voices_are_not_training_speakers():
    from audiolm.data.synth import make_speakers

    train = {(v.name, v.variant, v.pitch, v.rate) for v in make_speakers(200, 0)}
    ev = ac.held_out_voices(40, 0)
    assert len({(v.name, v.variant, v.pitch, v.rate) for v in ev}) == 40
    assert not ({(v.name, v.variant, v.pitch, v.rate) for v in ev} & train)
    assert {v.gender for v in ev} == {"male", "female"}


def test_deterministic_by_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed in ((a, 5), (b, 5), (c, 6)):
        build_benchmarks(d, seed=seed, size=3, tasks=["tblimp", "swuggy", "hellaswag"])
    assert (a / "tblimp/items.jsonl").read_text() == (b / "tblimp/items.jsonl").read_text()
    assert (a / "tblimp/items.jsonl").read_text() != (c / "tblimp/items.jsonl").read_text()
    sa, sb = read_spoken_set("swuggy", a / "swuggy"), read_spoken_set("swuggy", b / "swuggy")
    assert [c.supervisions[0].text for c in sa.cuts] == [c.supervisions[0].text for c in sb.cuts]
    np.testing.assert_array_equal(sa.cuts[0].load_audio(), sb.cuts[0].load_audio())


def _ctx(codec=True):
    tok = ByteTokenizer()
    layout = make_layout("frame_major", [0, 1], tok.vocab)
    return EvalContext(random_model(tok.vocab.size, seed=11), tok, layout, codec=FramingCodec() if codec else None)


def test_chance_level_model_scores_about_half(bench):
    ctx = _ctx()
    opts = EvalOptions()
    accs = []
    for task in ("twuggy", "tblimp", "text_storycloze"):
        res = run_likelihood(ctx, task, load_task_set(task, bench), opts)
        assert res["n"] == 200 and res["chance"] == 0.5
        # binomial standard error at n=200 is 0.035: a random scorer stays within ~4 of them
        assert abs(res["accuracy"] - 0.5) < 0.15, (task, res["accuracy"])
        accs.append(res["accuracy"])
    assert abs(np.mean(accs) - 0.5) < 0.09
    hs = run_likelihood(ctx, "hellaswag", load_task_set("hellaswag", bench), opts)
    assert hs["chance"] == 0.25 and abs(hs["accuracy"] - 0.25) < 0.13


@pytest.mark.parametrize("task", ["tblimp", "hellaswag", "swuggy", "salmon_room"])
def test_model_told_the_answer_scores_100(bench, task):
    ctx = _ctx()
    bset = load_task_set(task, bench)
    items = likelihood_requests(ctx, bset, EvalOptions(), task)
    good = [reqs[ans].ids for reqs, ans in items]
    ctx.model = OracleModel(ctx.vocab.size, good)
    res = run_likelihood(ctx, task, bset, EvalOptions())
    assert res["accuracy"] == 1.0


def test_codec_encodings_are_cached(bench, tmp_path):
    ctx = _ctx()
    ctx.cache_dir = tmp_path / "codes"
    run_tasks(ctx, ["swuggy"], bench, EvalOptions())
    n = ctx.codec.n_encodes
    assert n == 1  # 8 clips of different lengths in one zero-padded batch
    import torch

    from audiolm.codec.audio import load_cut

    bset = load_task_set("swuggy", bench)
    ids = [c.cut_id for it in bset.items for c in it.choices]
    batched = ctx.encode_cuts("swuggy", bset.cuts, ids)
    assert len({batched[i].shape[1] for i in ids}) > 1  # the clips differ in length
    for i in ids:  # each clip's codes are those of encoding it alone
        alone = ctx.codec.encode(torch.from_numpy(load_cut(bset.cuts[i], ctx.codec.sample_rate))[None, None])[0].numpy()
        np.testing.assert_array_equal(batched[i], alone)
    n = ctx.codec.n_encodes
    run_tasks(ctx, ["swuggy"], bench, EvalOptions())  # memory cache
    assert ctx.codec.n_encodes == n
    fresh = _ctx()
    fresh.cache_dir = tmp_path / "codes"
    run_tasks(fresh, ["swuggy"], bench, EvalOptions())  # disk cache
    assert fresh.codec.n_encodes == 0
    assert len(list((tmp_path / "codes").rglob("*.npy"))) == 8
