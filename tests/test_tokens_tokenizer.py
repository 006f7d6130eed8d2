import gzip
import json

import numpy as np
import pytest

from audiolm.cli import main as cli
from audiolm.tokens.testing import LLAMA3_SPECIALS, llama3_like_tokenizer, sentences
from audiolm.tokens.tokenizer import TokenizerError, UnifiedTokenizer, train_bpe
from audiolm.tokens.vocab import PUA_BASE, codes_to_pua


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    d = tmp_path_factory.mktemp("llama")
    text = llama3_like_tokenizer()
    text.save(str(d / "text.json"))
    uni = UnifiedTokenizer.from_text_tokenizer(d / "text.json")
    uni.save(d / "unified.json")
    return text, UnifiedTokenizer.from_file(d / "unified.json"), d


def test_llama3_sized_tokenizer_gives_soda_ids(llama):
    text, tok, _ = llama
    v = tok.vocab
    assert text.get_vocab_size() == 128256 and v.text_vocab_size == 128256
    assert [tok.hf.token_to_id(t) for t in ("<|text_start|>", "<|text_end|>", "<|audio_start|>", "<|audio_end|>")] == [
        128256, 128257, 128258, 128259]
    assert (v.audio_id(0, 0), v.audio_id(7, 2047), v.size) == (128260, 144643, 144644)
    assert tok.hf.get_vocab_size() == 144644
    assert (tok.bos_id, tok.eos_id, tok.pad_id) == (128000, 128001, 128001)
    assert tok.hf.token_to_id(chr(PUA_BASE)) == 128260
    assert tok.hf.token_to_id(chr(PUA_BASE + 3 * 2048 + 17)) == 128260 + 3 * 2048 + 17
    # text ids are exactly the text tokenizer's
    for s in sentences(20, seed=3) + ["Hello, World! 123 ＡＢ\uf900"]:
        assert tok.encode_text(s) == text.encode(s, add_special_tokens=False).ids
        assert tok.decode_text(tok.encode_text(s)) == s


def test_pua_document_round_trip_through_the_hf_file(llama):
    _, tok, d = llama
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2048, (8, 5))
    codes[:, 0] = [0, 2047, 0, 2047, 0, 2047, 0, 2047]  # block edges (incl. code points past U+FFFF)
    doc = (
        "<|begin_of_text|><|text_start|>the cat sat<|text_end|><|audio_start|>"
        + codes_to_pua(codes)
        + "<|audio_end|><|end_of_text|>"
    )
    ids = tok.encode(doc)
    v = tok.vocab
    audio = [v.audio_id(q, int(codes[q, t])) for t in range(5) for q in range(8)]
    assert ids == [128000, 128256, *tok.encode_text("the cat sat"), 128257, 128258, *audio, 128259, 128001]
    assert tok.decode(ids) == doc
    # the plain tokenizers library and transformers read the same file the same way
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(d / "unified.json")).encode(doc, add_special_tokens=False).ids == ids
    transformers = pytest.importorskip("transformers")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(d / "unified.json"))
    assert fast.encode(doc, add_special_tokens=False) == ids
    assert fast.decode(ids) == doc


def test_small_codebooks_are_read_back_from_the_file(tmp_path):
    tok = train_bpe(sentences(200), vocab_size=300, n_codebooks=3, codebook_size=10)
    tok.save(tmp_path / "t.json")
    back = UnifiedTokenizer.from_file(tmp_path / "t.json")
    assert back.vocab == tok.vocab and (back.vocab.n_codebooks, back.vocab.codebook_size) == (3, 10)
    codes = np.array([[9, 0], [1, 2], [3, 9]])
    ids = back.encode("<|audio_start|>" + codes_to_pua(codes, 10) + "<|audio_end|>")
    v = back.vocab
    assert ids == [v.audio_start, v.audio_id(0, 9), v.audio_id(1, 1), v.audio_id(2, 3),
                   v.audio_id(0, 0), v.audio_id(1, 2), v.audio_id(2, 9), v.audio_end]
    assert (back.bos_token, back.eos_token) == ("<|begin_of_text|>", "<|end_of_text|>")
    assert (back.bos_id, back.eos_id) == (0, 1)


def test_bos_eos_detection_and_errors(tmp_path):
    from tokenizers import Tokenizer, models

    gpt2ish = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    gpt2ish.add_special_tokens(["<|endoftext|>"])
    t = UnifiedTokenizer.from_text_tokenizer(gpt2ish, 2, 16)
    assert t.bos_id == t.eos_id == 3 and t.vocab.text_start == 4
    bare = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(TokenizerError, match="end-of-text"):
        UnifiedTokenizer.from_text_tokenizer(bare)
    with pytest.raises(TokenizerError, match="already"):
        UnifiedTokenizer.from_text_tokenizer(t.hf)
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        UnifiedTokenizer.from_file(tmp_path / "missing.json")
    # a text tokenizer that already owns a PUA character as a token cannot give SODA's layout
    pua = Tokenizer(models.WordLevel({"a": 0, chr(PUA_BASE + 1): 1, "[UNK]": 2}, unk_token="[UNK]"))
    pua.add_special_tokens(["</s>"])
    with pytest.raises(TokenizerError, match="PUA"):
        UnifiedTokenizer.from_text_tokenizer(pua, 1, 4)


def test_cli_train_bpe_and_build(tmp_path, capsys, llama):
    cuts = tmp_path / "cuts_train.jsonl.gz"
    with gzip.open(cuts, "wt") as f:
        for i, s in enumerate(sentences(300)):
            f.write(json.dumps({"id": f"c{i}", "supervisions": [{"id": f"s{i}", "text": s}]}) + "\n")
        f.write(json.dumps({"id": "empty", "supervisions": [{"id": "e", "text": ""}]}) + "\n")
    text = tmp_path / "web.jsonl"
    text.write_bytes(b'{"id": "w1", "text": "quiet river stone"}\nnot json\n\xff\xfe\n')
    out = tmp_path / "tok.json"
    assert cli(["tokens", "train-bpe", str(tmp_path), str(text), str(out), "--vocab-size", "320",
                "--n-codebooks", "2", "--codebook-size", "32"]) == 0
    shown = capsys.readouterr().out
    assert "empty transcript" in shown and "invalid JSON line" in shown and "non-UTF-8 text" in shown
    tok = UnifiedTokenizer.from_file(out)
    assert tok.vocab.text_vocab_size <= 320 and tok.vocab.n_codebooks == 2 and tok.vocab.codebook_size == 32
    assert tok.hf.token_to_id("<|begin_of_text|>") == 0 and tok.decode_text(tok.encode_text("quiet river")) == "quiet river"

    llama_json = llama[2] / "text.json"
    assert cli(["tokens", "build", str(llama_json), str(tmp_path / "uni.json")]) == 0
    assert "audio(0,0)=128260" in capsys.readouterr().out
    assert UnifiedTokenizer.from_file(tmp_path / "uni.json").vocab.size == 144644
    assert len(LLAMA3_SPECIALS) == 256
    capsys.readouterr()
    assert cli(["tokens", "train-bpe", str(tmp_path / "nope.jsonl"), str(out)]) == 2  # one line, no traceback
    err = capsys.readouterr().err
    assert "audiolm tokens train-bpe: error:" in err and "nope.jsonl not found" in err


def test_tokenizers_take_the_audio_shape_from_the_shards(tmp_path, capsys, llama):
    from audiolm.tokens.testing import write_token_shards
    from audiolm.token_shards import CodecInfo, meta_dir

    shards = write_token_shards(tmp_path / "tok", [("d", [(np.zeros((3, 4), dtype=np.int64), "a b")])], codebook_size=48)
    meta_dir(shards).mkdir()
    (shards / "codec.json").rename(meta_dir(shards) / "codec.json")
    text = tmp_path / "t.jsonl"
    text.write_text("\n".join(json.dumps({"text": s}) for s in sentences(200)))
    out = tmp_path / "bpe.json"
    assert cli(["tokens", "train-bpe", str(text), str(out), "--vocab-size", "300", "--shards", str(shards)]) == 0
    v = UnifiedTokenizer.from_file(out).vocab
    assert (v.n_codebooks, v.codebook_size) == (3, 48)
    assert cli(["tokens", "build", str(llama[2] / "text.json"), str(tmp_path / "u.json"), "--shards", str(shards)]) == 0
    assert UnifiedTokenizer.from_file(tmp_path / "u.json").vocab.codebook_size == 48
    capsys.readouterr()
    assert cli(["tokens", "train-bpe", str(text), str(out), "--shards", str(shards), "--codebook-size", "64"]) == 2
    assert "--codebook-size 64 disagrees" in capsys.readouterr().err
    info = CodecInfo.from_dict(json.loads((meta_dir(shards) / "codec.json").read_text()))
    with pytest.raises(ValueError, match="48 codes per codebook, the tokenizer 32"):
        info.check_fits(type("V", (), {"codebook_size": 32, "n_codebooks": 3})())
    with pytest.raises(ValueError, match=r"codebooks \[0, 3\] need 4 codebooks; the codec has 3"):
        info.check_fits(type("V", (), {"codebook_size": 48, "n_codebooks": 8})(), [0, 3])
    with pytest.raises(ValueError, match="no frame_rate"):
        CodecInfo.from_dict({"spec": "x", "sample_rate": 1, "n_codebooks": 1, "codebook_size": 2})
