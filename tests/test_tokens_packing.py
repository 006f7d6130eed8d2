import numpy as np
import pytest

from audiolm.tokens.documents import TokenDocument
from audiolm.tokens.modality import ACOUSTIC, SEMANTIC, SPECIAL, TEXT
from audiolm.tokens.packing import IGNORE, Packer, TokenMixer, mix_documents, pack_documents

PAD = -7


def _docs(n, seed=0, lo=1, hi=300):
    rng = np.random.default_rng(seed)
    docs, nxt = [], 1000
    for _ in range(n):
        L = int(rng.integers(lo, hi))
        ids = np.arange(nxt, nxt + L, dtype=np.int64)  # every token unique
        nxt += L
        mod = rng.choice([TEXT, SEMANTIC, ACOUSTIC, SPECIAL], L).astype(np.int8)
        docs.append(TokenDocument(ids, mod))
    return docs


def _rows(batches):
    keys = ("input_ids", "labels", "position_ids", "document_ids", "modality")
    return {k: np.concatenate([np.asarray(b[k]) for b in batches]) for k in keys}


@pytest.mark.parametrize("seq_len,bs", [(64, 3), (7, 1), (512, 2)])
def test_packing_conserves_every_token_and_keeps_boundaries(seq_len, bs):
    docs = _docs(150, seed=seq_len)
    batches = list(pack_documents(docs, seq_len, bs, PAD))
    r = _rows(batches)
    inp, lab, pos, did, mod = (r[k] for k in ("input_ids", "labels", "position_ids", "document_ids", "modality"))
    stream = np.concatenate([d.ids for d in docs])
    real = did >= 0
    # every token is an input exactly once, in order; padding only at the very end
    assert np.array_equal(inp[real], stream)
    assert (inp[~real] == PAD).all() and (lab[~real] == IGNORE).all() and (pos[~real] == 0).all()
    assert real.reshape(-1)[: len(stream)].all()
    # every token except each document's first is a label exactly once, with the right modality
    expect = np.concatenate([d.ids[1:] for d in docs])
    got = lab[lab != IGNORE]
    assert np.array_equal(np.sort(got), np.sort(expect)) and len(np.unique(got)) == len(got)
    next_of = {int(t): (int(n), int(m)) for d in docs for t, n, m in zip(d.ids[:-1], d.ids[1:], d.modality[1:])}
    flat_in, flat_lab, flat_mod = inp.reshape(-1), lab.reshape(-1), mod.reshape(-1)
    for p in np.flatnonzero(flat_lab != IGNORE):
        assert next_of[int(flat_in[p])] == (int(flat_lab[p]), int(flat_mod[p]))
    assert (flat_mod[flat_lab == IGNORE] == -1).all()
    # positions restart at 0 at each document start and each row start; segment ids count up per row
    start_of = {int(d.ids[0]) for d in docs}
    for row_in, row_pos, row_doc in zip(inp, pos, did):
        seg, p_expect = -1, 0
        for j, (t, p, s) in enumerate(zip(row_in, row_pos, row_doc)):
            if s < 0:
                break
            if j == 0 or int(t) in start_of:
                seg, p_expect = seg + 1, 0
            assert (p, s) == (p_expect, seg)
            p_expect += 1


def test_streaming_packer_carries_the_tail_over():
    docs = _docs(80, seed=5)
    pk = Packer(50, 2, PAD)
    batches = []
    for d in docs:
        pk.add(d)
        while pk.ready():
            batches.append(pk.pop())
    left = len(pk)
    stream = np.concatenate([d.ids for d in docs])
    got = np.concatenate([np.asarray(b["input_ids"]).reshape(-1) for b in batches])
    assert np.array_equal(got, stream[: len(got)]) and len(got) + left == len(stream)
    last = pk.flush()
    assert np.array_equal(np.asarray(last["input_ids"]).reshape(-1)[:left], stream[len(got):])
    assert last["n_tokens"] == left and pk.flush() is None
    # across batches: a row's last label is the next batch's first token when the document goes on
    starts = {int(d.ids[0]) for d in docs}
    for b0, b1 in zip(batches, batches[1:]):
        first = int(b1["input_ids"][0, 0])
        assert b0["labels"][-1, -1] == (IGNORE if first in starts else first)


def test_documents_longer_than_a_row_are_split_into_segments():
    (doc,) = _docs(1, lo=130, hi=131)
    (b,) = list(pack_documents([doc], 32, 5, PAD))
    assert b["position_ids"][:, 0].tolist() == [0] * 5 and b["document_ids"][:4].max() == 0
    assert b["labels"][0, -1] == doc.ids[32] and b["labels"][4, 1] == IGNORE  # doc ends at 130 = 4*32+2


def _mix(n_speech, ratio, seed=0):
    rng = np.random.default_rng(seed)
    speech = [[TokenDocument(np.zeros(int(rng.integers(200, 3000)), np.int64), np.full(1, SEMANTIC, np.int8))]
              for _ in range(n_speech)]
    text = [TokenDocument(np.ones(int(rng.integers(50, 2000)), np.int64), np.full(1, TEXT, np.int8)) for _ in range(3 * n_speech)]
    mixer = TokenMixer(ratio)
    out = list(mix_documents(speech, text, ratio, mixer))
    n_text = sum(len(d) for d in out if d.ids[0] == 1)
    return n_text / sum(len(d) for d in out), mixer, out


@pytest.mark.parametrize("ratio", [0.05, 0.2, 0.5])
def test_mixture_share_within_one_point(ratio):
    share, mixer, out = _mix(3000, ratio)
    assert abs(share - ratio) < 0.01 and share == pytest.approx(mixer.achieved)
    assert len(out) >= 3000


def test_mixture_edges_and_determinism():
    assert _mix(100, 0.0)[0] == 0.0
    share, _, out = _mix(100, 1.0)
    assert share == 1.0 and len(out) == 300  # text only: all the text documents
    a, b = _mix(500, 0.1, seed=3)[2], _mix(500, 0.1, seed=3)[2]
    assert [len(d) for d in a] == [len(d) for d in b]
    # text running out: the speech documents still all come
    speech = [[TokenDocument(np.zeros(100, np.int64), np.zeros(100, np.int8))] for _ in range(50)]
    assert len(list(mix_documents(speech, [], 0.5))) == 50
    with pytest.raises(ValueError):
        TokenMixer(1.5)
