"""The offline Spanish->English corpus: the parallel grammar, the spoken pairs, and pairs as LM documents."""

import gzip
import json

import numpy as np
import pytest

from audiolm.data.bilingual import BilingualGenerator, generate_pairs, parse_bilingual_lexicon
from audiolm.data.synth import ACCENTS
from audiolm.data.synth_s2st import SPANISH_ACCENTS, build_s2st_corpus

TINY = "\n".join([
    "noun\tperson\tnurse\tnurses\tenfermera\tenfermeras\tf",
    "noun\tperson\tdoctor\tdoctors\tmédico\tmédicos\tm",
    "adj\tperson\tred\trojo\troja\trojos\trojas",
    "verb\tperson\tperson\thelp\thelps\thelped\tayuda\tayudan\tayudó\tayudaron",
    "place\tnear the river\tcerca del río",
    "time\tpast\tyesterday\tayer",
])


def test_the_grammar_agrees_orders_and_marks_human_objects():
    gen = BilingualGenerator(0, parse_bilingual_lexicon(TINY))
    seen = set()
    for _ in range(300):
        en, es = gen.sentence()
        seen.add((en, es))
        words_en, words_es = en.rstrip(".").lower().split(), es.rstrip(".").lower().split()
        if "red" in words_en:  # the adjective follows its noun and agrees with it
            i = words_es.index(next(w for w in words_es if w.startswith("roj")))
            noun = words_es[i - 1]
            assert noun in ("enfermera", "enfermeras", "médico", "médicos")
            assert words_es[i] == {"enfermera": "roja", "enfermeras": "rojas", "médico": "rojo", "médicos": "rojos"}[noun]
        plural_subject = words_en[1] in ("nurses", "doctors") or words_en[2] in ("nurses", "doctors")
        if "helps" in words_en or "help" in words_en:
            assert ("ayudan" in words_es) == ("help" in words_en) == plural_subject
        # a human object takes the personal a (a + el -> al)
        assert " al " in es or " a " in es
        assert " a el " not in es
        if "yesterday" in words_en:
            assert es.endswith("ayer.") and ("helped" in words_en)
    assert len(seen) > 50


def test_pairs_are_distinct_and_deterministic():
    a = generate_pairs(500, seed=3)
    assert a == generate_pairs(500, seed=3) and a != generate_pairs(500, seed=4)
    assert len({en for en, _ in a}) == len({es for _, es in a}) == 500
    for en, es in a:
        assert en[0].isupper() and es[0].isupper() and en.endswith(".") and es.endswith(".")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("s2st") / "c"
    return out, build_s2st_corpus(out, n_pairs=24, n_speakers=2, seed=1, dev_fraction=0.1, test_fraction=0.2,
                                  progress=False)


def _cuts(out, split):
    with gzip.open(out / f"cuts_{split}.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def test_the_corpus_pairs_spanish_and_english_speech_in_disjoint_splits(corpus):
    out, stats = corpus
    assert stats["pairs"] == {"train": 17, "dev": 2, "test": 5} and not stats["skipped"]["skipped"]
    texts = {}
    for split in ("train", "dev", "test"):
        cuts = _cuts(out, split)
        by_pair = {}
        for c in cuts:
            sup = c["supervisions"][0]
            by_pair.setdefault(sup["custom"]["document"], []).append(sup)
        for pair, (src, tgt) in by_pair.items():
            assert (src["custom"]["position"], src["language"], src["custom"]["role"]) == (0, "es", "source")
            assert (tgt["custom"]["position"], tgt["language"], tgt["custom"]["role"]) == (1, "en", "target")
            assert src["custom"]["translation"] == tgt["text"]
            voice_src, voice_tgt = stats["speakers"][src["speaker"]], stats["speakers"][tgt["speaker"]]
            assert voice_src["name"] in SPANISH_ACCENTS and voice_tgt["name"] in ACCENTS  # each side in its language
        texts[split] = {s["text"] for c in cuts for s in c["supervisions"]}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["dev"] and not texts["dev"] & texts["test"]


def test_the_corpus_is_deterministic(corpus, tmp_path):
    import soundfile as sf

    out, stats = corpus
    again = build_s2st_corpus(tmp_path / "c", n_pairs=24, n_speakers=2, seed=1, dev_fraction=0.1, test_fraction=0.2,
                              progress=False, jobs=2)
    assert again["pairs"] == stats["pairs"] and again["speakers"] == stats["speakers"]
    a, b = _cuts(out, "test"), _cuts(tmp_path / "c", "test")
    assert [c["supervisions"][0]["text"] for c in a] == [c["supervisions"][0]["text"] for c in b]
    for x, y in zip(a[:4], b[:4]):
        wa, _ = sf.read(x["recording"]["sources"][0]["source"])
        wb, _ = sf.read(y["recording"]["sources"][0]["source"])
        assert np.array_equal(wa, wb)


def test_tokenized_pairs_become_s2st_sequences(corpus, ckpt, tmp_path, one_thread):
    from audiolm.codec.tokenize import tokenize
    from audiolm.tokens.datamodule import DataConfig, LMDataModule
    from audiolm.tokens.sources import find_shards, load_shard
    from audiolm.tokens.testing import tiny_tokenizer
    from audiolm.tokens.translation import language_tag

    out, _ = corpus
    tokenize(ckpt, str(out / "cuts_dev.jsonl.gz"), tmp_path / "tok", shard_size=8, progress=False)
    docs = [d for u in find_shards([str(tmp_path / "tok")]) for d in load_shard(u)]
    assert len(docs) == 2 and all(len(utts) == 2 for _, utts, _ in docs)
    (_, (src, tgt), _) = docs[0]
    assert (src.language, tgt.language) == ("es", "en") and src.translation == ("en", tgt[1])
    from audiolm.token_shards import read_codec_json

    info = read_codec_json(tmp_path / "tok")
    n_q = src[0].shape[0]
    tok = tiny_tokenizer(n_codebooks=n_q, codebook_size=info["codebook_size"])
    cfg = DataConfig(tokenizer=str(tok.save(tmp_path / "tok.json")), val_shards=[str(tmp_path / "tok")],
                     train_shards=[str(tmp_path / "tok")], formats=["s2st"], codebooks=list(range(n_q)),
                     seq_len=4096, batch_size=1, num_workers=0, text_ratio=0.0)
    dm = LMDataModule(cfg)
    dm.setup("fit")
    text = tok.decode_text(dm.val_batches()[0]["input_ids"].reshape(-1).tolist())
    assert language_tag("es") + src[1] in text and language_tag("en") + tgt[1] in text
