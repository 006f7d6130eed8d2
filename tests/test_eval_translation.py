"""s2tt and s2st by prompting, with a scripted model, on a small offline translation corpus."""

import numpy as np
import pytest

from audiolm.data.synth_s2st import build_s2st_corpus
from audiolm.eval.context import EvalContext
from audiolm.eval.items import BenchmarkError
from audiolm.eval.tasks import EvalOptions, run_tasks
from audiolm.eval.testing import FramingCodec, random_model, scripted_generate
from audiolm.eval.translation import load_pairs, memory_oracle, run_s2st, run_s2tt
from audiolm.tokens.documents import audio_span
from audiolm.tokens.layout import make_layout
from audiolm.tokens.testing import tiny_tokenizer
from audiolm.tokens.translation import language_tag

TOK = tiny_tokenizer(n_codebooks=2, codebook_size=16)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("s2st") / "c"
    build_s2st_corpus(out, n_pairs=30, n_speakers=2, seed=2, dev_fraction=0.15, test_fraction=0.2, progress=False)
    return out


def _ctx():
    return EvalContext(random_model(TOK.vocab.size, seed=1), TOK, make_layout("frame_major", [0, 1], TOK.vocab),
                       codec=FramingCodec())


def _perfect(ctx, corpus, wrong=False):
    """A scripted model that knows each test pair by its source speech (the last audio span of the prompt)."""
    pairs = load_pairs("s2tt", corpus, "test")
    from lhotse import CutSet

    codes = ctx.encode_cuts("s2tt", CutSet.from_cuts([p.source for p in pairs]), [p.source.id for p in pairs])
    spans = [(audio_span(ctx.layout, codes[p.source.id]), p) for p in pairs]
    v = ctx.vocab
    body = list(ctx.layout.encode(np.stack([np.arange(10) % 16, np.arange(10) % 16])))

    def script(prompt):
        (_, p), = [(s, p) for s, p in spans if any(prompt[i : i + len(s)] == s for i in range(len(prompt) - len(s) + 1))][-1:]
        if prompt[-1] == v.audio_start:
            return body + [v.audio_end]
        if prompt[-len(TOK.encode_text(language_tag("en"))):] == TOK.encode_text(language_tag("en")):
            return TOK.encode_text("the dog" if wrong else p.target_text) + [v.text_end]
        return TOK.encode_text(p.source_text) + [v.text_end]

    return scripted_generate(script), pairs


def test_s2tt_scores_a_perfect_and_a_wrong_model_with_controls(corpus):
    ctx = _ctx()
    gen, pairs = _perfect(ctx, corpus)
    res, _ = run_s2tt(ctx, "s2tt", corpus, EvalOptions(), generate_fn=gen)
    assert res["n"] == len(pairs) == 6 and res["bleu"] == pytest.approx(100.0) and res["transcript_wer"] == 0.0
    assert res["ended"] == 1.0 and res["chance_bleu"] == 0.0 and res["bleu_interval_95"][0] > 90
    assert res["bleu_baseline_constant"] < 40 and 0 < res["bleu_oracle_memory"] < 100
    assert res["bleu_given_transcript"] == pytest.approx(100.0)
    first, second = gen.calls[0], gen.calls[1]
    es, en = TOK.encode_text(language_tag("es")), TOK.encode_text(language_tag("en"))
    assert first["stop_ids"] == [ctx.vocab.text_end] and first["prompts"][0][-len(es) - 1:] == [ctx.vocab.text_start, *es]
    assert second["prompts"][0][-len(en) - 1:] == [ctx.vocab.text_start, *en]
    assert first["prompts"][0][0] == TOK.bos_id and first["prompts"][0][1] == ctx.vocab.audio_start
    wrong, _ = _perfect(ctx, corpus, wrong=True)
    bad, _ = run_s2tt(ctx, "s2tt", corpus, EvalOptions(), generate_fn=wrong)
    assert bad["bleu"] < 10 and bad["transcript_wer"] == 0.0 and bad["bleu_given_transcript"] < 10
    shots, _ = _perfect(ctx, corpus)
    run_s2tt(ctx, "s2tt", corpus, EvalOptions(translation_shots=2, max_items=2), generate_fn=shots)
    assert shots.calls[0]["prompts"][0].count(ctx.vocab.audio_start) == 3  # two dev pairs, then the item
    assert len(shots.calls) == 3  # transcript, translation, and the translation given the true transcript
    src = TOK.encode_text(pairs[0].source_text)
    gold_stage = shots.calls[2]["prompts"][0]
    assert gold_stage[-(len(src) + 2 + len(en)):] == [*src, ctx.vocab.text_end, ctx.vocab.text_start, *en]


def test_s2st_judges_the_generated_speech(corpus):
    ctx = _ctx()
    gen, pairs = _perfect(ctx, corpus)
    refs = [p.target_text for p in pairs]

    class Judge:
        name = "fake"

        def transcribe(self, wavs, sr):
            return refs if len(wavs) == len(refs) else ["nothing"] * len(wavs)

    class Sim:
        name = "fake-sim"

        def embed(self, wav, sr):
            return np.array([1.0, 0.5])

    res, samples = run_s2st(ctx, "s2st", corpus, EvalOptions(), generate_fn=gen, judge=Judge(), sim=Sim())
    assert res["asr_bleu"] == pytest.approx(100.0) and res["bleu"] == pytest.approx(100.0)
    assert res["speech_ended"] == 1.0 and res["seconds"] == pytest.approx(10 / 12.5)
    assert res["similarity_to_source"] == pytest.approx(1.0) and res["asr_bleu_reference"] < 5
    assert len(samples) == 2 and gen.calls[-1]["stop_ids"] == [ctx.vocab.audio_end]


def test_translation_tasks_run_through_run_tasks_and_fail_clearly(corpus, tmp_path):
    ctx = _ctx()
    gen, _ = _perfect(ctx, corpus)
    out = run_tasks(ctx, ["s2tt"], None, EvalOptions(max_items=2), paths={"s2tt": str(corpus)}, generate_fn=gen)
    assert out["s2tt"].metrics["n"] == 2 and out["s2tt"].metrics["bleu"] == pytest.approx(100.0)
    with pytest.raises(BenchmarkError, match="cuts_test.jsonl.gz is missing"):
        load_pairs("s2tt", tmp_path, "test")


def test_s2tt_and_s2st_in_one_run_generate_the_text_stages_once(corpus):
    ctx = _ctx()
    gen, _ = _perfect(ctx, corpus)

    class Judge:
        name = "fake"

        def transcribe(self, wavs, sr):
            return ["x"] * len(wavs)

    paths = {"s2tt": str(corpus), "s2st": str(corpus)}
    out = run_tasks(ctx, ["s2tt", "s2st"], None, EvalOptions(max_items=2), paths=paths, generate_fn=gen, judge=Judge())
    assert out["s2tt"].metrics["bleu"] == out["s2st"].metrics["bleu"] == pytest.approx(100.0)
    stops = [c["stop_ids"] for c in gen.calls]
    # s2tt: transcript, translation, translation given the true transcript; s2st: only its speech stage
    assert stops == [[ctx.vocab.text_end]] * 3 + [[ctx.vocab.audio_end]]
    run_tasks(ctx, ["s2tt"], None, EvalOptions(max_items=2), paths=paths, generate_fn=gen)
    assert len(gen.calls) == 4 + 3  # a new run (a new model state during training) generates again


def test_the_memory_oracle_returns_the_nearest_training_translation(corpus):
    train = load_pairs("s2tt", corpus, "train")
    assert memory_oracle(train, train[:5]) == [p.target_text for p in train[:5]]


def test_the_cascade_reference_is_the_judge_then_the_memory(corpus):
    ctx = _ctx()
    gen, pairs = _perfect(ctx, corpus)

    class Hears:
        name = "hears-the-truth"

        def __init__(self):
            self.texts = iter(p.source_text for p in pairs)

        def transcribe(self, wavs, sr):
            return [next(self.texts) for _ in wavs]

    res, _ = run_s2tt(ctx, "s2tt", corpus, EvalOptions(translation_cascade=True), generate_fn=gen, judge=Hears())
    assert res["cascade_transcript_wer"] == 0.0 and res["bleu_cascade"] == pytest.approx(res["bleu_oracle_memory"])
