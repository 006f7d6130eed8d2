"""Oracles and baselines of the benchmark-validity check: a proper n-gram, and oracles that
find the offline sets learnable from the corpus they were held out of."""

import math
from collections import Counter

import pytest

from audiolm.eval.oracles import EOS, NGram, cache_logprob


def test_ngram_is_a_distribution_and_prefers_what_it_saw():
    m = NGram(3).fit([list("abcabc"), list("abd")])
    for hist in ([], ["a"], ["a", "b"], ["x", "y"]):
        total = sum(math.exp(m.logprob(w, hist)) for w in m.vocab)
        assert total == pytest.approx(1.0, abs=1e-9)
    assert m.logprob("c", ["a", "b"]) > m.logprob("a", ["a", "b"])
    lp, n = m.score(["a"], ["b", "c"])
    assert n == 2 and lp == pytest.approx(m.logprob("b", ["a"]) + m.logprob("c", ["a", "b"]))
    assert EOS in m.vocab


def test_ngram_counts_exactly_and_fit_counts_is_fit_on_every_occurrence():
    m = NGram(2).fit([list("aab")])
    # BOS a a b EOS: p_ML(a | a) = 1/2, p_ML(a) = 2/4; lambdas 0.01 (uniform over {a, b, EOS}), 1, 2
    want = (0.01 / 3 + 1 * 2 / 4 + 2 * 1 / 2) / 3.01
    assert m.logprob("a", ["a"]) == pytest.approx(math.log(want))
    words = [tuple("cat"), tuple("cat"), tuple("at"), tuple("cat"), tuple("ta")]
    a, b = NGram(4).fit(words), NGram(4).fit_counts(Counter(words))
    assert a.grams == b.grams and a.totals == b.totals and a.vocab == b.vocab
    assert a.score(["c"], list("ats")) == b.score(["c"], list("ats"))


def test_cache_prefers_what_the_context_mentions():
    m = NGram(2).fit([["the", "cat", "ran"], ["the", "dog", "ran"]])
    ctx = ["the", "dog", "ran"]
    assert cache_logprob(m, ctx, ["the", "dog"])[0] > cache_logprob(m, ctx, ["the", "cat"])[0]
    assert m.score(ctx, ["the", "dog"])[0] == pytest.approx(m.score(ctx, ["the", "cat"])[0])  # the n-gram alone can't tell


def test_validity_report_on_held_out_sets(tmp_path):
    from audiolm.data.synth_text import build_synth_text
    from audiolm.eval.build.benchmarks import build_benchmarks
    from audiolm.eval.validity import render_validity, validity_report

    build_synth_text(tmp_path / "text", n_documents=600, seed=0)
    build_benchmarks(tmp_path / "b", seed=0, size=60, tasks=["twuggy", "tblimp", "text_storycloze", "hellaswag"],
                     corpus=[str(tmp_path / "text")])
    rep = validity_report(tmp_path / "b", [str(tmp_path / "text")])
    t = rep["tasks"]
    assert set(t) == {"twuggy", "tblimp", "text_storycloze", "hellaswag"}
    assert t["hellaswag"]["chance"] == 0.25 and t["tblimp"]["n"] == 60
    assert t["twuggy"]["oracles"]["char_5gram"]["accuracy"] > 0.9
    assert t["tblimp"]["oracles"]["grammar_6gram"]["accuracy"] > t["tblimp"]["oracles"]["word_4gram"]["accuracy"]
    sc = t["text_storycloze"]["oracles"]
    assert sc["word_4gram_cache"]["accuracy"] > 0.75 > sc["word_4gram"]["accuracy"]  # coherence, not surface statistics
    # the sets are length-balanced: the trivial baseline stays near chance
    assert abs(t["twuggy"]["baselines"]["fewer_characters"]["accuracy"] - 0.5) < 0.05
    assert "| tblimp | 60 |" in render_validity(rep)
