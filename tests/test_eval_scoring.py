"""The likelihood engine on hand-computed cases: known log-probs, mean vs sum, codebook restriction,
batching without leakage, ties, truncation."""

import math

import numpy as np
import pytest
import torch

from audiolm.eval.scoring import (
    ScoreRequest,
    aggregate,
    audio_request,
    audio_span_mask,
    choice_accuracy,
    score_choices,
    score_requests,
    text_request,
)
from audiolm.eval.testing import TableModel, random_model
from audiolm.tokens.layout import make_layout
from audiolm.tokens.vocab import Vocabulary

V = 8


def _table(pairs: dict, vocab: int = V) -> TableModel:
    """Uniform logits except table[prev][next] = logit for the given (prev, next) pairs."""
    t = torch.zeros(vocab, vocab)
    for (a, b), v in pairs.items():
        t[a, b] = v
    return TableModel(t)


def _lp(logit_hit: float, n_other: int = V - 1) -> float:
    return logit_hit - math.log(math.exp(logit_hit) + n_other)


def test_known_logprobs_sum_and_mean():
    m = _table({(1, 2): 2.0, (2, 3): 1.0})
    req = ScoreRequest([1, 2, 3], [False, True, True])
    sums, counts = score_requests(m, [req])
    expect = _lp(2.0) + _lp(1.0)
    assert counts[0] == 2
    assert sums[0] == pytest.approx(expect, abs=1e-6)
    assert aggregate(sums, counts, "mean")[0] == pytest.approx(expect / 2, abs=1e-6)
    assert aggregate(sums, counts, "sum")[0] == pytest.approx(expect, abs=1e-6)


def test_mean_and_sum_disagree_exactly():
    # A = [1, 2] scores lp(2.0) once; B = [1, 3, 5] scores lp(2.2) twice: B has the better mean,
    # A the better sum (sum favours short choices)
    m = _table({(1, 2): 2.0, (1, 3): 2.2, (3, 5): 2.2})
    a = ScoreRequest([1, 2], [False, True])
    b = ScoreRequest([1, 3, 5], [False, True, True])
    lp = torch.log_softmax(m.table, -1)
    sa, sb = float(lp[1, 2]), float(lp[1, 3] + lp[3, 5])
    assert sb / 2 > sa > sb
    mean = score_choices(m, [([a, b], 0)], aggregation="mean")
    summ = score_choices(m, [([a, b], 0)], aggregation="sum")
    assert mean.scores[0][0] == pytest.approx(sa, abs=1e-6)
    assert mean.scores[0][1] == pytest.approx(sb / 2, abs=1e-6)
    assert summ.scores[0][1] == pytest.approx(sb, abs=1e-6)
    assert mean.accuracy == 0.0 and summ.accuracy == 1.0


def test_known_accuracies_for_a_set():
    m = _table({(1, 2): 3.0, (1, 3): 1.0})
    good = ScoreRequest([1, 2], [False, True])
    bad = ScoreRequest([1, 3], [False, True])
    items = [([good, bad], 0), ([bad, good], 1), ([good, bad], 1), ([good, good], 0)]
    cs = score_choices(m, items)
    assert list(cs.per_item) == [1.0, 1.0, 0.0, 0.5]
    assert cs.accuracy == pytest.approx(2.5 / 4)


def test_ties_share_credit():
    assert choice_accuracy([1.0, 1.0], 0) == 0.5
    assert choice_accuracy([1.0, 1.0, 1.0, 0.0], 2) == pytest.approx(1 / 3)
    assert choice_accuracy([1.0, 1.0, 1.0, 0.0], 3) == 0.0
    assert choice_accuracy([float("nan"), 0.0], 1) == 1.0
    assert aggregate(np.array([0.0]), np.array([0]), "mean")[0] == -np.inf


def test_batching_matches_one_by_one_no_leakage():
    m = random_model(40, seed=3)
    rng = np.random.default_rng(0)
    reqs = []
    for n in rng.integers(2, 30, size=25):
        ids = rng.integers(0, 40, size=int(n))
        mask = rng.random(int(n)) < 0.7
        mask[0] = False
        reqs.append(ScoreRequest(ids, mask))
    alone = [score_requests(m, [r])[0][0] for r in reqs]
    for bt in (8, 64, 10_000):
        sums, _ = score_requests(m, reqs, batch_tokens=bt, pad_id=7)
        np.testing.assert_allclose(sums, alone, rtol=1e-6, atol=1e-5)


def test_truncation_keeps_the_end():
    m = random_model(20, seed=1)
    r = ScoreRequest(list(range(1, 11)), [False] + [True] * 9)
    sums, counts = score_requests(m, [r], max_len=4)
    assert counts[0] == 3  # the first kept position has no context


def test_request_rejects_scoring_position_zero():
    with pytest.raises(ValueError, match="position 0"):
        ScoreRequest([1, 2], [True, True])


VOC = Vocabulary(10, n_codebooks=3, codebook_size=4)


def test_codebook_restriction_frame_major():
    lay = make_layout("frame_major", [0, 1, 2], VOC)
    codes = np.arange(3 * 4).reshape(3, 4) % 4  # 3 codebooks, 4 frames
    body = lay.encode(codes)
    m = audio_span_mask(lay, body, [1])
    assert list(np.flatnonzero(m)) == [1, 4, 7, 10]
    assert audio_span_mask(lay, body, None).all()
    req = audio_request(VOC, lay, body, bos_id=0, codebooks=[0, 2])
    assert req.ids[0] == 0 and req.ids[1] == VOC.audio_start
    scored = np.flatnonzero(req.mask) - 2  # offsets inside the body
    assert list(scored) == [0, 2, 3, 5, 6, 8, 9, 11]
    assert VOC.audio_end not in req.ids  # the closing tag is never scored (nor needed)


def test_codebook_restriction_delay():
    lay = make_layout("delay", [0, 1, 2], VOC)
    T = 3
    codes = np.ones((3, T), dtype=np.int64)
    body = lay.encode(codes)  # (T + K - 1) steps of K tokens
    assert len(body) == (T + 2) * 3
    # step s holds codebook j's frame s - j: real positions where 0 <= s - j < T
    expect = {j: [s * 3 + j for s in range(T + 2) if 0 <= s - j < T] for j in range(3)}
    for j in range(3):
        assert list(np.flatnonzero(audio_span_mask(lay, body, [j]))) == expect[j]
    everything = np.flatnonzero(audio_span_mask(lay, body, None))
    assert sorted(everything) == sorted(expect[0] + expect[1] + expect[2])  # fills are never scored
    # restricted scoring sums exactly the chosen positions' log-probs
    m = random_model(VOC.size, seed=0)
    full = audio_request(VOC, lay, body, codebooks=None)
    only1 = audio_request(VOC, lay, body, codebooks=[1])
    s_full, c_full = score_requests(m, [full])
    s1, c1 = score_requests(m, [only1])
    assert c_full[0] == 9 and c1[0] == 3
    manual = 0.0
    logits = m(torch.as_tensor(full.ids)[None])[0]
    lp = torch.log_softmax(logits, -1)
    for p in np.flatnonzero(only1.mask):
        manual += float(lp[p - 1, full.ids[p]])
    assert s1[0] == pytest.approx(manual, abs=1e-5)


def test_text_request_scores_only_the_target():
    r = text_request(VOC, [1, 2], [3, 4], bos_id=0, tagged=True)
    assert list(r.ids) == [0, VOC.text_start, 1, 2, 3, 4]
    assert list(r.mask) == [False, False, False, False, True, True]
    r = text_request(VOC, [], [3, 4], bos_id=None, tagged=False)
    assert list(r.mask) == [False, True]
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(np.zeros(1), np.ones(1), "max")
