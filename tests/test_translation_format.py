"""Translation pairs as one sequence (SODA's S2ST fine-tuning format) and the loss on the response."""

import numpy as np
import pytest

from audiolm.skips import SkipReport
from audiolm.tokens.datamodule import DataConfig, LMDataModule
from audiolm.tokens.documents import Utterance, build_formats
from audiolm.tokens.layout import make_layout
from audiolm.tokens.packing import IGNORE, pack_documents
from audiolm.tokens.testing import take_batches, tiny_tokenizer

TOK = tiny_tokenizer(n_codebooks=2, codebook_size=8)
V = TOK.vocab
LAYOUT = make_layout("frame_major", [0, 1], V)
SRC = Utterance(np.array([[1, 2], [3, 4]]), "hola", language="es")
TGT = Utterance(np.array([[5], [6]]), "hi", language="en")


def _text(lang, text):
    return [V.text_start, *TOK.encode_text(f"<language>{lang}</language>{text}"), V.text_end]


def _audio(codes):
    return [V.audio_start, *[V.audio_id(q, int(codes[q, t])) for t in range(codes.shape[1]) for q in range(2)], V.audio_end]


def test_the_pair_sequence_is_sodas_chain_with_the_loss_on_the_response():
    d, = build_formats([SRC, TGT], ["s2st"], LAYOUT, TOK)
    src_audio, src_text, tgt_text, tgt_audio = _audio(SRC[0]), _text("es", "hola"), _text("en", "hi"), _audio(TGT[0])
    want = [TOK.bos_id, *src_audio, *src_text, *tgt_text, *tgt_audio, TOK.eos_id]
    assert d.ids.tolist() == want
    assert src_audio[:3] == [V.audio_start, V.audio_id(0, 1), V.audio_id(1, 3)]  # frame-major: q0 q1 of frame 0
    n_prompt = 1 + len(src_audio)
    assert d.loss_mask.tolist() == [False] * n_prompt + [True] * (len(want) - n_prompt)
    b = next(pack_documents([d], 128, 1, TOK.pad_id))
    labels = b["labels"][0, : len(want)].tolist()
    assert labels == [IGNORE] * (n_prompt - 1) + want[n_prompt:] + [IGNORE]  # each response token once, no prompt token


@pytest.mark.parametrize("prompt,n_parts", [("none", 0), ("src_audio", 1), ("src_text", 2), ("tgt_text", 3)])
def test_the_prompt_part_is_configurable(prompt, n_parts):
    d, = build_formats([SRC, TGT], ["s2st"], LAYOUT, TOK, prompt=prompt)
    sizes = [len(_audio(SRC[0])), len(_text("es", "hola")), len(_text("en", "hi"))]
    n_prompt = 1 + sum(sizes[:n_parts])  # BOS (never a label) and the prompt parts
    assert d.loss_mask.tolist() == [False] * n_prompt + [True] * (len(d.ids) - n_prompt)


def test_speech_to_text_translation_from_a_translation_field():
    one = Utterance(SRC[0], "hola", language="es", translation=("en", "hi"))
    d, = build_formats([one], ["s2tt"], LAYOUT, TOK)
    assert d.ids.tolist() == [TOK.bos_id, *_audio(SRC[0]), *_text("es", "hola"), *_text("en", "hi"), TOK.eos_id]
    d2, = build_formats([SRC, TGT], ["s2tt"], LAYOUT, TOK)  # an S2ST pair also gives S2TT (no target audio)
    assert d2.ids.tolist() == d.ids.tolist()


def test_bad_pairs_are_skipped_and_counted_by_reason():
    skips = SkipReport("t")
    bad = {
        "a translation pair needs 2 utterances (source, target), not 1": [SRC],
        "target without a language": [SRC, Utterance(TGT[0], "hi")],
        "empty target text": [SRC, Utterance(TGT[0], " ", language="en")],
        "tgt_audio: codes out of range": [SRC, Utterance(np.array([[9], [1]]), "hi", language="en")],
    }
    for i, utts in enumerate(bad.values()):
        assert build_formats(utts, ["s2st"], LAYOUT, TOK, skips=skips, source=f"pair{i}") == []
    assert dict(skips.skipped) == {r: 1 for r in bad}
    with pytest.raises(ValueError, match="cannot be mixed"):
        build_formats([SRC, TGT], ["s2st", "text_first"], LAYOUT, TOK)
    with pytest.raises(ValueError, match="data.prompt"):
        build_formats([SRC, TGT], ["s2st"], LAYOUT, TOK, prompt="tgt_audio")


def test_the_data_module_trains_on_pairs_with_prompt_labels_masked():
    rng = np.random.default_rng(0)
    pairs = [(f"pair{i}", [Utterance(rng.integers(0, 8, (2, 6)), "hola amigo", language="es"),
                           Utterance(rng.integers(0, 8, (2, 5)), "hello friend", language="en")]) for i in range(12)]
    cfg = DataConfig(formats=["s2st"], codebooks=[0, 1], seq_len=64, batch_size=2, num_workers=0, text_ratio=0.0)
    dm = LMDataModule.from_documents(TOK, pairs, val=pairs, config=cfg)
    dm.setup("fit")
    doc, = build_formats(pairs[0][1], ["s2st"], LAYOUT, TOK)
    n_response = int(doc.loss_mask.sum())
    assert n_response < len(doc) - 1  # the prompt (BOS + source audio) is not trained on
    assert sum(int((b["labels"] != IGNORE).sum()) for b in dm.val_batches()) == 12 * n_response
    assert all(int((b["labels"] != IGNORE).sum()) > 0 for b in take_batches(dm, 3))


def test_an_epoch_of_pairs_is_counted_in_tokens():
    rng = np.random.default_rng(1)
    pairs = [(f"p{i}", [Utterance(rng.integers(0, 8, (2, 3 + i)), "hola", language="es"),
                        Utterance(rng.integers(0, 8, (2, 4)), "hi", language="en")]) for i in range(5)]
    cfg = DataConfig(formats=["s2st"], codebooks=[0, 1], seq_len=64, batch_size=2, num_workers=0, text_ratio=0.0)
    dm = LMDataModule.from_documents(TOK, pairs, config=cfg)
    want = sum(len(build_formats(u, ["s2st"], LAYOUT, TOK)[0]) for _, u in pairs)
    assert dm.train_tokens_per_epoch() == want
    dm_text = LMDataModule.from_documents(TOK, pairs, config=DataConfig(**{**cfg.__dict__, "text_ratio": 0.5}))
    assert dm_text.train_tokens_per_epoch() == 2 * want  # the text share comes on top of the speech tokens
