import numpy as np
import pytest

from audiolm.skips import SkipReport
from audiolm.tokens.documents import audio_span, build_documents, build_formats, text_document, text_span
from audiolm.tokens.layout import make_layout
from audiolm.tokens.modality import ACOUSTIC as A
from audiolm.tokens.modality import SEMANTIC as S
from audiolm.tokens.modality import SPECIAL as X
from audiolm.tokens.modality import TEXT as T
from audiolm.tokens.testing import tiny_tokenizer
from audiolm.tokens.vocab import codes_to_pua

TOK = tiny_tokenizer(n_codebooks=2, codebook_size=4)
V = TOK.vocab
FM = make_layout("frame_major", [0, 1], V)
C0 = np.array([[1, 2], [3, 0]])
C1 = np.array([[0], [1]])
UTTS = [(C0, "the cat"), (C1, "a dog")]
a = V.audio_id
BOS, EOS, TS, TE, AS, AE = TOK.bos_id, TOK.eos_id, V.text_start, V.text_end, V.audio_start, V.audio_end
T0, T1 = TOK.encode_text("the cat"), TOK.encode_text("a dog")
A0 = [a(0, 1), a(1, 3), a(0, 2), a(1, 0)]
A1 = [a(0, 0), a(1, 1)]


def test_text_first_exact_ids_modality_and_string_form():
    (doc,) = build_documents(UTTS, "text_first", FM, TOK)
    assert doc.ids.tolist() == [BOS, TS, *T0, TE, AS, *A0, AE, TS, *T1, TE, AS, *A1, AE, EOS]
    assert doc.modality.tolist() == [X, X, *[T] * len(T0), X, X, S, A, S, A, X, X, *[T] * len(T1), X, X, S, A, X, X]
    soda = ("<|begin_of_text|><|text_start|>the cat<|text_end|><|audio_start|>" + codes_to_pua(C0, 4)
            + "<|audio_end|><|text_start|>a dog<|text_end|><|audio_start|>" + codes_to_pua(C1, 4) + "<|audio_end|><|end_of_text|>")
    assert TOK.decode(doc.ids) == soda
    assert TOK.encode(soda) == doc.ids.tolist()


def test_other_formats_exact_ids():
    (af,) = build_documents(UTTS, "audio_first", FM, TOK)
    assert af.ids.tolist() == [BOS, AS, *A0, AE, TS, *T0, TE, AS, *A1, AE, TS, *T1, TE, EOS]
    (ao,) = build_documents(UTTS, "audio_only", FM, TOK)
    assert ao.ids.tolist() == [BOS, AS, *A0, AE, AS, *A1, AE, EOS]
    (to,) = build_documents(UTTS, "text_only", FM, TOK)
    assert to.ids.tolist() == [BOS, *T0, *TOK.encode_text(" a dog"), EOS]
    assert set(to.modality[1:-1].tolist()) == {T}
    with pytest.raises(ValueError, match="unknown document format 'both'"):  # SODA's two orders: formats=[text_first, audio_first]
        build_documents(UTTS, "both", FM, TOK)
    sem = build_documents(UTTS, "audio_only", make_layout("frame_major", [0], V), TOK)[0]
    assert sem.ids.tolist() == [BOS, AS, a(0, 1), a(0, 2), AE, AS, a(0, 0), AE, EOS]
    assert build_formats(UTTS, ["text_first", "audio_first"], FM, TOK)[1].ids.tolist() == af.ids.tolist()
    web = text_document(TOK, "the cat")
    assert web.ids.tolist() == [BOS, *T0, EOS] and web.modality.tolist() == [X, *[T] * len(T0), X]
    assert text_span(TOK, "a dog") == [TS, *T1, TE] and audio_span(FM, C1) == [AS, *A1, AE]


def test_long_documents_cut_at_utterance_boundaries():
    b0, b1 = 4 + len(T0) + 4, 4 + len(T1) + 2  # token blocks of the two utterances
    docs = build_documents(UTTS * 3, "text_first", FM, TOK, max_tokens=2 + b0 + b1)
    assert [len(d) for d in docs] == [2 + b0 + b1] * 3  # exactly one (cat, dog) pair each
    docs = build_documents(UTTS * 3, "text_first", FM, TOK, max_tokens=2 + b0 + b1 - 1)
    assert [len(d) for d in docs] == [2 + b0, 2 + b1] * 3
    for d in docs:
        assert d.ids[0] == BOS and d.ids[-1] == EOS and d.ids[1] == TS
    (whole,) = build_documents(UTTS * 3, "text_first", FM, TOK)
    assert np.concatenate([d.ids[1:-1] for d in docs]).tolist() == whole.ids[1:-1].tolist()  # nothing lost
    # an utterance longer than max_tokens stays one (over-long) document
    assert [len(d) for d in build_documents(UTTS, "text_first", FM, TOK, max_tokens=4)] == [2 + b0, 2 + b1]


def test_bad_utterances_are_skipped_and_counted():
    rep = SkipReport("t")
    utts = [(C0, "  "), (None, "no codes"), (np.array([[9], [0]]), "out of range"), (C1, "a dog")]
    (doc,) = build_documents(utts, "text_first", FM, TOK, skips=rep, source="d")
    assert doc.ids.tolist() == [BOS, TS, *T1, TE, AS, *A1, AE, EOS]
    assert dict(rep.skipped) == {"empty transcript": 1, "missing codes": 1, "codes out of range": 1}
    rep2 = SkipReport("t")
    docs = build_formats(utts, ["audio_only", "text_first", "audio_first"], FM, TOK, skips=rep2, source="d")
    assert len(docs) == 3 and dict(rep2.skipped) == dict(rep.skipped)  # counted once per utterance
    assert build_documents([(None, "")], "text_first", FM, TOK) == []
    with pytest.raises(ValueError, match="unknown document format"):
        build_documents(UTTS, "sideways", FM, TOK)


def test_word_interleaved_spans_cover_words_and_frames_in_order():
    import pickle

    from audiolm.tokens.documents import Utterance, word_spans

    text = "the cat saw a dog near the old tree today"
    words = [(w, 0.1 + 0.3 * k, 0.25) for k, w in enumerate(text.split())]
    codes = np.arange(2 * 40).reshape(2, 40) % 4  # 40 frames over 3.2 s
    utt = Utterance(codes, text, words, 3.2)
    assert pickle.loads(pickle.dumps(utt)).words == words  # survives DataLoader workers
    codes_, text_ = utt  # unpacks as the plain pair
    assert text_ == text
    for seed in range(20):
        spans = word_spans(utt, np.random.default_rng(seed))
        assert len(spans) >= 2
        assert "".join(s[0] for s in spans) == text  # words in order, leading spaces kept
        assert spans[0][1] == 0 and spans[-1][2] == 40
        assert all(a[2] == b[1] for a, b in zip(spans, spans[1:]))  # contiguous frames
        mods = [s[3] for s in spans]
        assert all(m1 != m2 for m1, m2 in zip(mods, mods[1:]))  # alternating
        k = 0
        for t, a, b, _ in spans:  # a span's frames hold its words: cut half-way between words
            n = len(t.split())
            start, end = words[k][1], words[k + n - 1][1] + words[k + n - 1][2]
            assert a / 12.5 <= start + 0.05 and b / 12.5 >= end - 0.05
            k += n
    # the document: each span in its modality, in order (the spans of the utterance's own draw)
    import zlib

    (doc,) = build_documents([Utterance(codes, text, words, 3.2)], "word_interleaved", FM, TOK, source="d")
    spans = word_spans(utt, np.random.default_rng([zlib.crc32(b"d"), 0]))
    expect = [BOS]
    for t, a, b, m in spans:
        expect += [TS, *TOK.encode_text(t), TE] if m == "text" else [AS, *FM.encode(codes[:, a:b]).tolist(), AE]
    assert doc.ids.tolist() == expect + [EOS]
    # without an alignment (or a mismatched one) the utterance is laid out text-first
    (plain,) = build_documents([(codes, text)], "word_interleaved", FM, TOK)
    (tf,) = build_documents([(codes, text)], "text_first", FM, TOK)
    assert plain.ids.tolist() == tf.ids.tolist()
    bad = Utterance(codes, text, words[:-1], 3.2)
    assert word_spans(bad, np.random.default_rng(0)) is None
