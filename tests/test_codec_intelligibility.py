"""Word identification judge: Viterbi over phone posteriors, corpus lexicon, originals vs reconstructions."""

import numpy as np
import pytest
import torch

from audiolm.codec.intelligibility import (Lexicon, decode_words, normalize_word, viterbi_scores, word_errors,
                                          word_spans)
from audiolm.codec.testing import make_fake_cuts


def _lexicon(prons: dict[str, tuple[str, ...]], phones: list[str]) -> Lexicon:
    p2i = {p: i for i, p in enumerate(phones)}
    keys = sorted(set(prons.values()))
    ids = np.full((len(keys), max(map(len, keys))), -1)
    for r, k in enumerate(keys):
        ids[r, : len(k)] = [p2i[p] for p in k]
    words = [frozenset(w for w, p in prons.items() if p == k) for k in keys]
    return Lexicon(keys, words, ids, np.array([len(k) for k in keys]))


def _posteriors(frames: list[str], phones: list[str], sharp: float = 4.0) -> np.ndarray:
    logits = np.zeros((len(frames), len(phones)))
    for t, p in enumerate(frames):
        logits[t, phones.index(p)] = sharp
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def test_viterbi_prefers_the_spoken_pronunciation_and_needs_one_frame_per_phone():
    phones = ["<sil>", "k", "a", "t", "b", "d", "o", "g"]
    lex = _lexicon({"cat": ("k", "a", "t"), "bat": ("b", "a", "t"), "dog": ("d", "o", "g"), "ca": ("k", "a"),
                    "catdog": ("k", "a", "t", "d", "o", "g")}, phones)
    logp = _posteriors(["k", "k", "a", "a", "a", "t"], phones)
    s = viterbi_scores(logp, lex)
    best = lex.prons[int(np.argmax(s))]
    assert best == ("k", "a", "t")
    # exact path score: every frame on its own phone
    expected = sum(logp[t, phones.index(p)] for t, p in enumerate(["k", "k", "a", "a", "a", "t"]))
    assert s[lex.prons.index(("k", "a", "t"))] == pytest.approx(expected)
    # a shorter span than a pronunciation cannot hold it
    s2 = viterbi_scores(logp[:2], lex)
    assert np.isneginf(s2[lex.prons.index(("d", "o", "g"))]) and np.isfinite(s2[lex.prons.index(("k", "a"))])


def test_free_decoding_finds_the_word_sequence_and_counts_errors():
    phones = ["<sil>", "k", "a", "t", "b", "d", "o", "g"]
    lex = _lexicon({"cat": ("k", "a", "t"), "bat": ("b", "a", "t"), "dog": ("d", "o", "g"), "ca": ("k", "a"),
                    "god": ("g", "o", "d")}, phones)
    frames = ["<sil>"] * 3 + ["k", "k", "a", "a", "t"] + ["<sil>"] * 2 + ["d", "o", "o", "g"] + ["b", "a", "t", "t"]
    hyp = decode_words(_posteriors(frames, phones), lex, word_penalty=-2.0)
    assert [lex.prons[h] for h in hyp] == [("k", "a", "t"), ("d", "o", "g"), ("b", "a", "t")]
    assert word_errors(["cat", "dog", "bat"], hyp, lex) == 0
    assert word_errors(["cat", "bat"], hyp, lex) == 1 and word_errors(["god"], hyp, lex) == 3
    assert decode_words(_posteriors(["<sil>"] * 4, phones), lex) == []


def test_lexicon_from_alignments_merges_homophones(tmp_path):
    from lhotse import MonoCut, SupervisionSegment
    from lhotse.supervision import AlignmentItem as A

    def cut(i, words, phones):
        sup = SupervisionSegment(id=f"c{i}", recording_id=f"c{i}", start=0, duration=2,
                                 alignment={"word": [A(*w) for w in words], "phone": [A(*p) for p in phones]})
        return MonoCut(id=f"c{i}", start=0, duration=2, channel=0, supervisions=[sup])

    cuts = [cut(0, [("There,", 0.0, 0.3), ("cat", 0.3, 0.3)],
                [("D", 0.0, 0.15), ("e@", 0.15, 0.15), ("k", 0.3, 0.1), ("a", 0.4, 0.1), ("t", 0.5, 0.1)]),
            cut(1, [("their", 0.0, 0.3)], [("<sil>", 0.0, 0.05), ("D", 0.05, 0.1), ("e@", 0.15, 0.15)])]
    assert [w for w, *_ in word_spans(cuts[0])] == ["there", "cat"] and normalize_word("Don't!") == "don't"
    lex = Lexicon.from_cuts(cuts, ["<sil>", "D", "a", "e@", "k", "t"])
    assert len(lex) == 2
    assert lex.words[lex.prons.index(("D", "e@"))] == {"there", "their"}
    with pytest.raises(ValueError, match="alignment"):
        Lexicon.from_cuts([MonoCut(id="x", start=0, duration=1, channel=0)], ["<sil>"])


def test_word_identification_on_originals_and_reconstructions(tmp_path):
    from lhotse import CutSet

    from audiolm.codec.intelligibility import word_identification
    from audiolm.codec.teachers import train_phone_teacher
    from audiolm.codec.testing import tiny_codec

    torch.manual_seed(0)
    train = make_fake_cuts(tmp_path / "tr", n=16, seconds=1.5, seed=1)
    dev = make_fake_cuts(tmp_path / "dev", n=4, seconds=1.5, seed=2)
    rec = train_phone_teacher(CutSet.from_cuts(train), 24000, tmp_path / "judge.pt", hidden=32, steps=80,
                              batch_size=8, segment_frames=80, seed=3)
    res = word_identification(tiny_codec(), dev, tmp_path / "judge.pt", lexicon_cuts=train)
    assert res["n_words"] >= 8 and res["n_pronunciations"] > 20
    chance = 1 / res["n_pronunciations"]
    assert res["word_accuracy_original"] > 10 * chance, res  # the judge hears the original words
    assert 0.0 <= res["word_accuracy_reconstruction"] <= 1.0
    assert res["wer_original"] < 1.0 and res["wer_reconstruction"] >= 0.0
    assert rec.phones[0] == "<sil>"


def test_corpus_recognizer_is_an_asr_judge(tmp_path, monkeypatch):
    from audiolm.codec.intelligibility import CorpusRecognizer
    from audiolm.codec.testing import fake_words
    from audiolm.asr import make_asr_judge

    torch.manual_seed(0)
    d = tmp_path / "corpus"
    make_fake_cuts(d / "a", n=16, seconds=1.5, seed=1).to_file(d / "cuts_train.jsonl.gz")
    dev = make_fake_cuts(d / "b", n=3, seconds=1.5, seed=2)
    dev.to_file(d / "cuts_dev.jsonl.gz")
    CorpusRecognizer.from_corpus(d, steps=80)  # trains and caches the recogniser under its settings
    cached = d / ".judge" / "phone_recognizer-h128-s80-seed1.pt"
    assert cached.is_file()
    # the judge of the default settings is another file; once it is there, it is loaded, not trained
    cached.rename(d / ".judge" / "phone_recognizer-h128-s300-seed1.pt")
    monkeypatch.setattr("audiolm.codec.teachers.train_phone_teacher", lambda *a, **k: pytest.fail("retrained"))
    judge = make_asr_judge(f"corpus:{d}")
    assert judge.name == f"corpus:{d}"
    from audiolm.codec.audio import load_cut

    cuts = list(dev)
    texts = judge.transcribe([load_cut(c, 24000) for c in cuts] + [np.zeros(10, np.float32)], 24000)
    assert len(texts) == 4 and texts[-1] == ""
    spoken = [w.symbol for w in cuts[0].supervisions[0].alignment["word"]]
    assert spoken == [w.symbol for w in fake_words([(i.symbol, i.start, i.duration)
                                                   for i in cuts[0].supervisions[0].alignment["phone"]])]
    hyp = texts[0].split()
    assert len(set(hyp) & set(spoken)) >= 1, (hyp, spoken)  # the judge hears some of the words
    with pytest.raises(FileNotFoundError, match="cuts_train"):
        make_asr_judge(f"corpus:{tmp_path / 'nowhere'}")


def _word_loop_reference(logp: np.ndarray, lex: Lexicon, penalty: float) -> list[int]:
    """The word loop spelt out state by state with full backpointers (slow, plain Python): silence,
    or phone k of pronunciation p; a word is entered at no cost at the first frame, else at ``penalty``."""
    states = ["sil"] + [(p, k) for p in range(len(lex)) for k in range(int(lex.lengths[p]))]
    ends = ["sil"] + [(p, int(lex.lengths[p]) - 1) for p in range(len(lex))]
    emit = {s: (0 if s == "sil" else int(lex.ids[s[0], s[1]])) for s in states}
    score = {s: -np.inf for s in states}
    score["sil"] = logp[0, 0]
    for p in range(len(lex)):
        score[(p, 0)] = logp[0, emit[(p, 0)]]
    back = [{s: None for s in states}]
    for t in range(1, logp.shape[0]):
        new, bp = {}, {}
        for s in states:
            preds = [s]  # stay
            if s != "sil" and s[1] > 0:  # or move on to the next phone
                preds.append((s[0], s[1] - 1))
            cands = [(score[q], q, False) for q in preds]
            if s == "sil" or s[1] == 0:
                cands += [(score[q] + (penalty if s != "sil" else 0.0), q, s != "sil") for q in ends]
            best, arg, entered = max(cands, key=lambda c: c[0])
            new[s], bp[s] = best + logp[t, emit[s]], (arg, entered)
        score = new
        back.append(bp)
    s = max(ends, key=lambda q: score[q])
    words = []
    for t in range(logp.shape[0] - 1, -1, -1):
        q, entered = back[t][s] if t else (None, s != "sil")
        if entered:  # a pronunciation's first phone entered from silence or a word's end
            words.append(s[0])
        s = q
    return words[::-1]


def test_free_decoding_equals_the_word_loop_spelt_out():
    rng = np.random.default_rng(3)
    phones = ["<sil>", "k", "a", "t", "d", "o", "g"]
    lex = _lexicon({"cat": ("k", "a", "t"), "at": ("a", "t"), "dog": ("d", "o", "g"), "a": ("a",),
                    "god": ("g", "o", "d"), "kat": ("k", "a", "t", "t")}, phones)
    for n in (1, 2, 7, 15):
        for pen in (-0.5, -2.0):  # (0 would make re-entering a one-phone word tie with staying)
            logp = np.log(rng.dirichlet(np.full(len(phones), 0.4), size=n))
            assert decode_words(logp, lex, word_penalty=pen) == _word_loop_reference(logp, lex, pen), (n, pen)
