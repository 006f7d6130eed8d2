"""The cross-modal gain and the NLL vector: zero for a model that cannot look back across the
modality boundary, clearly positive for one that knows the pairs, and the right bookkeeping."""

import math

import numpy as np
import pytest

from audiolm.eval.build.benchmarks import build_benchmarks
from audiolm.eval.context import EvalContext
from audiolm.eval.cross_modal import cross_modal_metrics, cross_modal_requests
from audiolm.eval.tasks import EvalOptions, run_tasks
from audiolm.eval.testing import ByteTokenizer, FramingCodec, OracleModel, random_model
from audiolm.tokens.layout import make_layout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    build_benchmarks(out, seed=2, size=6, tasks=["speech"])
    return out


def _ctx(model=None):
    tok = ByteTokenizer()
    return EvalContext(model or random_model(tok.vocab.size, seed=4), tok, make_layout("frame_major", [0, 1], tok.vocab),
                       codec=FramingCodec())


def test_a_bigram_model_has_no_cross_modal_gain(data):
    # a bigram sees only the previous token: <|text_start|> / <|audio_start|> in both conditions
    res = run_tasks(_ctx(), ["cross_modal"], data, EvalOptions())["cross_modal"].metrics
    assert res["n"] == 6
    assert res["text_gain_nats"] == pytest.approx(0.0, abs=1e-9)
    assert res["audio_gain_nats"] == pytest.approx(0.0, abs=1e-9)
    vec = res["nll_vector"]
    assert set(vec) == {"bits_per_text_token", "nll_semantic", "nll_acoustic_1", "bits_per_audio_second"}
    assert all(math.isfinite(v) and v > 0 for v in vec.values())


def test_a_model_that_knows_the_pairs_gains_in_both_directions(data):
    ctx = _ctx()
    # first score once to get the exact sequences, then tell a model the conditioned ones
    from audiolm.eval.tasks import load_speech_split

    cuts = sorted(load_speech_split("cross_modal", data / "speech", "test"), key=lambda c: c.id)
    codes = ctx.encode_cuts("cross_modal", {c.id: c for c in cuts}, [c.id for c in cuts])
    reqs = cross_modal_requests(ctx, [(c.supervisions[0].text, codes[c.id]) for c in cuts])
    assert len(reqs) == 4 * len(cuts)
    # an "ASR" model: knows each transcript after its audio (the audio alone is a prefix of that)
    ctx.model = OracleModel(ctx.vocab.size, [r.ids for k, r in enumerate(reqs) if k % 4 == 1])
    res = run_tasks(ctx, ["cross_modal"], data, EvalOptions())["cross_modal"].metrics
    assert res["text_gain_nats"] > 2.0 and res["text_gain_stderr"] < res["text_gain_nats"] / 3
    assert res["text_nll_after_audio"] < 0.1
    # a "TTS" model: knows each audio after its transcript
    ctx.model = OracleModel(ctx.vocab.size, [r.ids for k, r in enumerate(reqs) if k % 4 == 3])
    res = run_tasks(ctx, ["cross_modal"], data, EvalOptions())["cross_modal"].metrics
    assert res["audio_gain_nats"] > 2.0 and res["audio_nll_after_text"] < 0.1


def test_metrics_bookkeeping():
    # two utterances, groups: 0 text, 1 codebook 0, 2 codebook 1; four requests each
    sums = np.zeros((8, 3))
    counts = np.zeros((8, 3), dtype=np.int64)
    for u in range(2):
        sums[4 * u + 0, 0], counts[4 * u + 0, 0] = -20.0, 10  # text alone 2.0 nats/token
        sums[4 * u + 1, 0], counts[4 * u + 1, 0] = -10.0, 10  # text | audio 1.0
        sums[4 * u + 2, 1:], counts[4 * u + 2, 1:] = [-30.0, -30.0], [10, 10]  # audio alone 3.0
        sums[4 * u + 3, 1:], counts[4 * u + 3, 1:] = [-20.0, -30.0], [10, 10]  # audio | text 2.5
    res = cross_modal_metrics(sums, counts, np.array([1.0, 1.0]), [0, 1])
    assert res["text_gain_nats"] == pytest.approx(1.0) and res["audio_gain_nats"] == pytest.approx(0.5)
    assert res["nll_semantic"] == pytest.approx(2.0) and res["nll_acoustic_1"] == pytest.approx(3.0)
    assert res["bits_per_text_token"] == pytest.approx(1.0 / math.log(2))
    assert res["bits_per_audio_second"] == pytest.approx(100.0 / math.log(2) / 2.0)
