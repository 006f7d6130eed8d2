"""KV-cache generation: equals the uncached forward, batching, seeds, stop ids, modality constraints."""

from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch

from audiolm.lm.config import ModelConfig, RopeScalingConfig
from audiolm.lm.generate import ModalityConstraint, _Sampler, generate
from audiolm.lm.model import AudioLM
from audiolm.tokens.vocab import Vocabulary

VOCAB = Vocabulary(text_vocab_size=12, n_codebooks=4, codebook_size=8)  # size 12 + 4 + 32 = 48


def model(seed=0, **kw) -> AudioLM:
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=VOCAB.size, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=96,
                      max_seq_len=256, init_std=0.3, attention="sdpa",
                      rope_scaling=RopeScalingConfig(type="llama3", original_max_position=32))
    return AudioLM(replace(cfg, **kw)).eval()


def test_greedy_with_cache_equals_argmax_of_full_forward():
    m = model()
    prompt = [1, 5, 7, 3]
    got = generate(m, [prompt], max_new_tokens=20, temperature=0)[0]
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(20):
            seq.append(int(m(torch.tensor([seq]))[0, -1].argmax()))
    assert got == seq[len(prompt):]


def test_batched_equals_single():
    m = model(1)
    prompts = [[1, 2, 3, 4, 5, 6, 7], [9], [4, 4, 2]]
    batched = generate(m, prompts, max_new_tokens=12, temperature=0)
    assert batched == [generate(m, [p], max_new_tokens=12, temperature=0)[0] for p in prompts]
    # sampling: row b uses seed + b
    sampled = generate(m, prompts, max_new_tokens=12, temperature=1.0, top_k=20, top_p=0.9, seed=7)
    singles = [generate(m, [p], max_new_tokens=12, temperature=1.0, top_k=20, top_p=0.9, seed=7 + b)[0]
               for b, p in enumerate(prompts)]
    assert sampled == singles


def test_determinism_by_seed():
    m = model(2)
    kw = dict(max_new_tokens=30, temperature=1.5)
    a = generate(m, [[1, 2]], seed=3, **kw)
    assert a == generate(m, [[1, 2]], seed=3, **kw)
    assert a != generate(m, [[1, 2]], seed=4, **kw)
    assert generate(m, [[1, 2], [1, 2]], seed=[3, 3], **kw) == a + a


def test_stop_ids_and_lengths():
    m = model(3)
    free = generate(m, [[1, 2, 3]], max_new_tokens=40, temperature=0)[0]
    stop = free[5]
    out = generate(m, [[1, 2, 3], [4]], max_new_tokens=40, temperature=0, stop_ids=[stop])
    assert out[0] == free[: free.index(stop) + 1]
    assert len(out[1]) == 40 or out[1][-1] == stop
    assert generate(m, [[1]], max_new_tokens=0) == [[]]
    with pytest.raises(ValueError):
        generate(m, [[]], max_new_tokens=3)


def test_sampler_top_k_top_p_and_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0, 0.0]])
    gen = [torch.Generator().manual_seed(0)]
    assert _Sampler(1.0, 1, 1.0, gen)(logits).item() == 0  # top-k 1 = greedy
    assert _Sampler(1.0, 0, 0.01, gen)(logits).item() == 0  # tiny top-p = greedy
    counts = torch.zeros(5)
    sampler = _Sampler(1.0, 0, 1.0, gen)
    for _ in range(3000):
        counts[sampler(logits)] += 1
    assert torch.allclose(counts / counts.sum(), logits.softmax(-1)[0], atol=0.03)
    top2 = _Sampler(1.0, 2, 1.0, gen)
    assert all(top2(logits).item() in (0, 1) for _ in range(50))


def _check_spans(tokens, layout_codebook, tpf):
    """Every audio token lies inside a span, has the expected codebook, spans are whole frames."""
    inside, k = False, 0
    for t in tokens:
        if t == VOCAB.audio_start:
            inside, k = True, 0
        elif t == VOCAB.audio_end:
            assert inside and k > 0 and k % tpf == 0, "audio_end off a frame boundary"
            inside = False
        elif VOCAB.is_audio(t):
            assert inside, "audio id outside an audio span"
            assert VOCAB.codebook_of(t) == layout_codebook(k)
            k += 1
        else:
            assert not inside, "non-audio id inside an audio span"


@pytest.mark.parametrize("kind", ["frame_major", "semantic_only", "codebook_at"])
def test_constrained_generation(kind):
    if kind == "frame_major":
        layout = SimpleNamespace(codebooks=[0, 1, 2, 3], tokens_per_frame=4)
        expected = lambda k: k % 4  # noqa: E731
    elif kind == "semantic_only":
        layout = SimpleNamespace(codebooks=[0], tokens_per_frame=1)
        expected = lambda k: 0  # noqa: E731
    else:  # a layout that states its own order
        layout = SimpleNamespace(codebooks=[0, 2], tokens_per_frame=2, codebook_at=lambda k: [2, 0][k % 2])
        expected = lambda k: [2, 0][k % 2]  # noqa: E731
    tpf = layout.tokens_per_frame
    m = model(4, init_std=0.05)  # nearly uniform: the constraint does all the work
    cons = ModalityConstraint(VOCAB, layout)
    prompts = [[1, 2, VOCAB.audio_start], [3, VOCAB.text_start, 4], [VOCAB.audio_start, VOCAB.audio_id(expected(0), 3)]]
    outs = generate(m, prompts, max_new_tokens=60, temperature=1.0, constraint=cons, seed=11)
    for p, o in zip(prompts, outs):
        _check_spans(p + o, expected, tpf)
    # a TTS-style call stops on audio_end, after whole frames
    tts = generate(m, [prompts[0]] * 4, max_new_tokens=80, temperature=1.0, constraint=cons,
                   stop_ids=[VOCAB.audio_end], seed=5)
    for o in tts:
        _check_spans(prompts[0] + o, expected, tpf)
        if o[-1] == VOCAB.audio_end:
            assert (len(o) - 1) % tpf == 0 and len(o) > 1
    # the greedy path obeys it as well
    greedy = generate(m, prompts, max_new_tokens=30, temperature=0, constraint=cons)
    for p, o in zip(prompts, greedy):
        _check_spans(p + o, expected, tpf)


@pytest.mark.parametrize("name", ["frame_major", "delay"])
def test_constraint_with_real_layout(name):
    layout_mod = pytest.importorskip("audiolm.tokens.layout")
    layout = layout_mod.make_layout(name, [0, 1, 2], VOCAB)
    cons = ModalityConstraint(VOCAB, layout)
    m = model(6, init_std=0.05)
    prompt = [1, VOCAB.audio_start]
    outs = generate(m, [prompt] * 3, max_new_tokens=40, constraint=cons, stop_ids=[VOCAB.audio_end], seed=1)
    for out in outs:
        _check_spans(prompt + out, lambda k: int(layout.codebook_at(k)), layout.tokens_per_frame)
        if out[-1] == VOCAB.audio_end:
            assert layout.can_end(len(out) - 1)
            layout.decode(out[:-1])  # a whole span the layout can read back


def test_constraint_rejects_small_model_vocab():
    cons = ModalityConstraint(VOCAB, SimpleNamespace(codebooks=[0], tokens_per_frame=1))
    with pytest.raises(ValueError, match="smaller"):
        cons.allowed(cons.start([1]), VOCAB.size - 1, "cpu")
