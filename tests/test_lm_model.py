"""AudioLM: presets, masks over packed documents, GQA, RoPE scaling, KV cache, checkpointing."""

from dataclasses import dataclass, field, replace

import pytest
import torch

from audiolm.config import ConfigError, load_config
from audiolm.lm.attention import (
    AttentionPlan,
    causal_segments,
    document_causal_mask,
    document_ids_from_positions,
    packed_seqlens,
    resolve_backend,
    single_document_rows,
    xformers_available,
)
from audiolm.lm.config import ModelConfig, RopeScalingConfig
from audiolm.lm.model import AudioLM
from audiolm.lm.rope import rope_inv_freq


def tiny_cfg(**kw) -> ModelConfig:
    base = ModelConfig(vocab_size=101, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=96,
                       max_seq_len=128, init_std=0.2, attention="sdpa",
                       rope_scaling=RopeScalingConfig(type="llama3", original_max_position=32))
    return replace(base, **kw)


def randomize_norms(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.uniform_(0.5, 1.5)
    return model


@dataclass
class _Wrap:
    model: ModelConfig = field(default_factory=ModelConfig)


SODA = {"135m": (512, 15, 8, 8, 64, 1792), "600m": (1024, 28, 16, 8, 128, 3072),
        "1.7b": (2048, 28, 16, 8, 128, 6144), "4b": (2560, 36, 32, 8, 128, 9728)}


@pytest.mark.parametrize("name", ["tiny", "small", "135m", "600m", "1.7b", "4b"])
def test_presets_load_with_soda_shapes(name):
    cfg = load_config(_Wrap, f"model/{name}", ["model.vocab_size=144644"], group="lm").model
    cfg.validate()
    assert cfg.vocab_size == 144644 and not cfg.tie_embeddings and cfg.qk_norm
    assert cfg.rope_theta == 500000.0 and cfg.rope_scaling.type == "llama3"
    if name in SODA:
        assert (cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.resolved_head_dim, cfg.ffn_dim) == SODA[name]


def test_tiny_and_small_sizes():
    def non_embedding(name):
        cfg = load_config(_Wrap, f"model/{name}", ["model.vocab_size=1000"], group="lm").model
        m = AudioLM(cfg)
        return sum(p.numel() for n, p in m.named_parameters() if not n.startswith(("embed", "lm_head")))

    assert 100_000 < non_embedding("tiny") < 1_000_000
    assert 1_000_000 < non_embedding("small") < 10_000_000


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="vocab_size"):
        AudioLM(ModelConfig())
    with pytest.raises(ConfigError, match="n_kv_heads"):
        tiny_cfg(n_kv_heads=3).validate()
    with pytest.raises(ConfigError, match="attention"):
        tiny_cfg(attention="flash").validate()
    with pytest.raises(ConfigError, match="rope_scaling.type"):
        tiny_cfg(rope_scaling=RopeScalingConfig(type="yarn")).validate()


def test_forward_shapes_and_tied_embeddings():
    m = AudioLM(tiny_cfg())
    x = torch.randint(0, 101, (3, 17))
    assert m(x).shape == (3, 17, 101)
    assert m.hidden_states(x).shape == (3, 17, 64)
    tied = AudioLM(tiny_cfg(tie_embeddings=True))
    assert tied.lm_head.weight is tied.embed.weight
    assert tied(x).shape == (3, 17, 101)


def test_init_scales_residual_projections():
    m = AudioLM(tiny_cfg(init_std=0.02, n_layers=8, d_model=256, ffn_dim=512, n_heads=4, n_kv_heads=4))
    std = 0.02
    assert abs(m.layers[0].attn.qkv.weight.std().item() - std) < 0.002
    assert abs(m.layers[0].mlp.down.weight.std().item() - std / 4) < 0.001  # 1/sqrt(2*8)
    assert torch.all(m.norm.weight == 1)


def test_packed_documents_never_attend_across_boundaries():
    torch.manual_seed(0)
    m = randomize_norms(AudioLM(tiny_cfg())).eval()
    docs = [torch.randint(0, 101, (n,)) for n in (5, 9, 3)]
    row = torch.cat(docs + [torch.zeros(3, dtype=torch.long)])[None]  # 3 padding tokens
    doc_ids = torch.cat([torch.full((len(d),), i) for i, d in enumerate(docs)] + [torch.full((3,), -1)])[None]
    pos = torch.cat([torch.arange(len(d)) for d in docs] + [torch.arange(3)])[None]
    with torch.no_grad():
        packed = m(row, pos, doc_ids)
        start = 0
        for d in docs:
            alone = m(d[None])
            torch.testing.assert_close(packed[0, start : start + len(d)], alone[0], atol=1e-5, rtol=1e-5)
            start += len(d)
        # the same row without document ids leaks across documents
        leaky = m(row, pos)
    assert not torch.allclose(leaky[0, 5:14], packed[0, 5:14], atol=1e-3)


def test_mask_helpers():
    doc = torch.tensor([[0, 0, 1, 1, 1, -1], [0, 0, 0, 0, -1, -1]])
    assert packed_seqlens(doc) == [2, 3, 1, 4, 2]
    assert not single_document_rows(doc)
    assert single_document_rows(doc[1:])
    mask = document_causal_mask(doc)[0, 0]
    assert mask[3].tolist() == [False, False, True, True, False, False]
    assert mask.diagonal().all()
    pos = torch.tensor([[0, 1, 0, 1, 2, 0]])
    assert document_ids_from_positions(pos).tolist() == [[0, 0, 1, 1, 1, 2]]
    assert AttentionPlan.build("sdpa", doc[1:]).is_causal  # fast path
    seg_plan = AttentionPlan.build("sdpa", doc)
    assert seg_plan.segments is not None and seg_plan.mask is None  # CPU: causal segments, no mask
    assert torch.equal(seg_plan.full_mask(), document_causal_mask(doc))  # for backends of one's own
    assert AttentionPlan.build("sdpa", doc[1:]).full_mask() is None
    gathers, inverse = causal_segments(doc, round_to=4)
    # runs 2, 3, 1 | 4, 2 -> widths 4 (all five); each segment's last token repeats as padding
    assert [g.tolist() for g in gathers] == [[[0, 1, 1, 1], [2, 3, 4, 4], [5, 5, 5, 5], [6, 7, 8, 9], [10, 11, 11, 11]]]
    assert inverse.tolist() == [0, 1, 4, 5, 6, 8, 12, 13, 14, 15, 16, 17]


@pytest.mark.parametrize("gqa", [True, False])
def test_segment_attention_equals_the_masked_kernel_forward_and_backward(gqa):
    """CPU SDPA over packed documents as length-bucketed causal segments == SDPA with the
    document-causal mask, values and gradients (rows of several documents, padding, one-token
    documents, a document filling a row)."""
    from audiolm.lm.attention import _attend_sdpa

    torch.manual_seed(3)
    B, L, H, D = 3, 70, 4, 8
    Hkv = 2 if gqa else H
    doc = torch.tensor([[0] * 33 + [1] + [2] * 30 + [-1] * 6, [0] * 70, [0] * 5 + [1] * 64 + [2]])
    x = [torch.randn(B, L, h, D, requires_grad=True) for h in (H, Hkv, Hkv)]
    masked = AttentionPlan("sdpa", is_causal=False, mask=document_causal_mask(doc))
    seg = AttentionPlan.build("sdpa", doc)
    assert seg.segments is not None and seg.mask is None
    w = torch.randn(B, L, H, D)
    grads = []
    for plan in (masked, seg):
        out = _attend_sdpa(*x, plan)
        (out * w).sum().backward()
        grads.append((out.detach(), [t.grad.clone() for t in x]))
        for t in x:
            t.grad = None
    torch.testing.assert_close(grads[1][0], grads[0][0], atol=1e-5, rtol=1e-5)
    for g_seg, g_mask in zip(grads[1][1], grads[0][1]):
        torch.testing.assert_close(g_seg, g_mask, atol=1e-5, rtol=1e-5)


def test_gqa_equals_mha_with_repeated_kv_heads():
    torch.manual_seed(1)
    cfg = tiny_cfg(n_heads=4, n_kv_heads=2)
    gqa = randomize_norms(AudioLM(cfg)).eval()
    mha = AudioLM(replace(cfg, n_kv_heads=4)).eval()
    sd = gqa.state_dict()
    D, H, Hkv = cfg.resolved_head_dim, cfg.n_heads, cfg.n_kv_heads
    for i in range(cfg.n_layers):
        q, k, v = sd[f"layers.{i}.attn.qkv.weight"].split([H * D, Hkv * D, Hkv * D])
        rep = lambda w: w.view(Hkv, D, -1).repeat_interleave(H // Hkv, dim=0).reshape(H * D, -1)  # noqa: E731
        sd[f"layers.{i}.attn.qkv.weight"] = torch.cat([q, rep(k), rep(v)])
    mha.load_state_dict(sd)
    x = torch.randint(0, 101, (2, 20))
    doc = torch.tensor([[0] * 8 + [1] * 12, [0] * 20])
    with torch.no_grad():
        torch.testing.assert_close(gqa(x), mha(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(gqa(x, document_ids=doc), mha(x, document_ids=doc), atol=1e-5, rtol=1e-5)


def test_llama3_rope_matches_transformers():
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    scaling = RopeScalingConfig(type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                original_max_position=8192)
    hf_cfg = transformers.Qwen3Config(
        hidden_size=1024, num_attention_heads=16, head_dim=128, max_position_embeddings=4096,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
    ref, _ = ROPE_INIT_FUNCTIONS["llama3"](hf_cfg, "cpu")
    ours = rope_inv_freq(128, 500000.0, scaling)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=0)
    plain = rope_inv_freq(128, 500000.0, RopeScalingConfig(type="none"))
    assert not torch.allclose(ours, plain)  # scaling changed the low frequencies...
    assert ours[0] == plain[0]  # ...and kept the highest


def test_kv_cache_equals_uncached_forward():
    torch.manual_seed(2)
    m = randomize_norms(AudioLM(tiny_cfg())).eval()
    x = torch.randint(0, 101, (2, 24))
    with torch.no_grad():
        full = m(x)
        cache = m.new_cache(2, 24)
        parts = [m(x[:, :10], cache=cache)]
        for t in range(10, 17):
            parts.append(m(x[:, t : t + 1], cache=cache))
        parts.append(m(x[:, 17:], cache=cache))  # a multi-token chunk after decoding
    torch.testing.assert_close(torch.cat(parts, 1), full, atol=1e-5, rtol=1e-5)


def test_kv_cache_with_left_padding():
    torch.manual_seed(3)
    m = randomize_norms(AudioLM(tiny_cfg())).eval()
    seq = torch.randint(0, 101, (1, 12))
    padded = torch.cat([torch.zeros(1, 4, dtype=torch.long), seq], 1)
    valid = torch.arange(16)[None] >= 4
    pos = (torch.arange(16)[None] - 4).clamp_min(0)
    with torch.no_grad():
        ref = m(seq)
        cache = m.new_cache(1, 20)
        out = m(padded[:, :10], pos[:, :10], cache=cache, valid=valid[:, :10])
        steps = [m(padded[:, t : t + 1], pos[:, t : t + 1], cache=cache) for t in range(10, 16)]
    got = torch.cat([out[:, 4:]] + steps, 1)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_activation_checkpointing_same_gradients():
    torch.manual_seed(4)
    m = AudioLM(tiny_cfg())
    x = torch.randint(0, 101, (2, 16))
    doc = torch.tensor([[0] * 6 + [1] * 10, [0] * 16])

    def grads():
        m.zero_grad()
        m(x, document_ids=doc).logsumexp(-1).mean().backward()
        return [p.grad.clone() for p in m.parameters()]

    ref = grads()
    m.activation_checkpointing = True
    for a, b in zip(ref, grads()):
        torch.testing.assert_close(a, b)


def test_backend_resolution_on_cpu():
    assert resolve_backend("auto", "cpu") == "sdpa"
    assert resolve_backend("sdpa", "cpu") == "sdpa"
    with pytest.raises(RuntimeError, match="CUDA"):
        resolve_backend("xformers", "cpu")
    with pytest.raises(ValueError):
        resolve_backend("flash", "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not xformers_available(), reason="needs CUDA and an xformers build with kernels for this torch")
def test_xformers_matches_sdpa_on_packed_batch():
    torch.manual_seed(5)
    cfg = tiny_cfg(n_heads=8, n_kv_heads=2, d_model=128, ffn_dim=256)
    m = randomize_norms(AudioLM(replace(cfg, attention="xformers"))).cuda().eval()
    ref = AudioLM(replace(cfg, attention="sdpa")).cuda().eval()
    ref.load_state_dict(m.state_dict())
    x = torch.randint(0, 101, (2, 64), device="cuda")
    doc = torch.tensor([[0] * 20 + [1] * 30 + [-1] * 14, [0] * 64], device="cuda")
    pos = torch.stack([torch.cat([torch.arange(20), torch.arange(30), torch.arange(14)]), torch.arange(64)]).cuda()
    with torch.no_grad():
        for kw in ({}, {"document_ids": doc, "position_ids": pos}):
            torch.testing.assert_close(m(x, **kw), ref(x, **kw), atol=2e-4, rtol=1e-3)


def _cuda_backend(name: str) -> bool:
    from audiolm.lm.attention import varlen_available

    return {"xformers": xformers_available, "varlen": varlen_available}[name]()


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["xformers", "varlen"])
def test_cuda_backend_matches_sdpa_backward_and_training_step_bf16(backend):
    """Packed rows of several documents, bf16 autocast: gradients within 2e-2 (relative to their norm),
    and one AdamW step from the same weights gives the same next loss within 1e-2."""
    if not _cuda_backend(backend):
        pytest.skip(f"needs CUDA and working {backend} kernels for this torch")
    torch.manual_seed(7)
    cfg = tiny_cfg(n_heads=8, n_kv_heads=2, d_model=128, ffn_dim=256, n_layers=2)
    models = {b: AudioLM(replace(cfg, attention=b)).cuda() for b in (backend, "sdpa")}
    models["sdpa"].load_state_dict(models[backend].state_dict())
    x = torch.randint(0, 101, (3, 96), device="cuda")
    y = torch.randint(0, 101, (3, 96), device="cuda")
    doc = torch.tensor([[0] * 30 + [1] * 40 + [2] * 26, [0] * 96, [0] * 10 + [1] * 70 + [-1] * 16], device="cuda")
    pos = torch.stack([torch.cat([torch.arange(30), torch.arange(40), torch.arange(26)]), torch.arange(96),
                       torch.cat([torch.arange(10), torch.arange(70), torch.arange(16)])]).cuda()
    losses, grads = {}, {}
    for b, m in models.items():
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = m(x, pos, doc, labels=y)
        out.loss.backward()
        grads[b] = torch.cat([p.grad.float().reshape(-1) for p in m.parameters()])
        opt.step()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            losses[b] = (float(out.loss), float(m(x, pos, doc, labels=y).loss))
    rel = (grads[backend] - grads["sdpa"]).norm() / grads["sdpa"].norm()
    assert rel < 2e-2, float(rel)
    assert losses[backend][0] == pytest.approx(losses["sdpa"][0], abs=1e-2)
    assert losses[backend][1] == pytest.approx(losses["sdpa"][1], abs=1e-2)


@pytest.mark.parametrize("z_loss", [0.0, 1e-4])
def test_fused_loss_equals_cross_entropy_of_logits(z_loss):
    torch.manual_seed(6)
    m = randomize_norms(AudioLM(tiny_cfg()))
    x = torch.randint(0, 101, (2, 16))
    y = torch.randint(0, 101, (2, 16))
    y[0, :4] = -100
    logits = m(x)
    lse = logits.logsumexp(-1)
    keep = y != -100
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")
    ref = (nll.sum() + z_loss * (lse.square() * keep).sum()) / keep.sum()
    ref_grads = torch.autograd.grad(ref, list(m.parameters()))
    out = m(x, labels=y, z_loss=z_loss)
    grads = torch.autograd.grad(out.loss, list(m.parameters()))
    torch.testing.assert_close(out.loss, ref)
    torch.testing.assert_close(out.nll, nll.detach())
    torch.testing.assert_close(out.lse[keep], lse.detach()[keep])
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


class _FakeBias:
    def __init__(self, seqlens=None):
        self.seqlens = seqlens

    @classmethod
    def from_seqlens(cls, seqlens):
        return cls(list(seqlens))

    def materialize(self, shape):
        Lq, Lk = shape
        allowed = torch.ones(Lq, Lk, dtype=torch.bool).tril_()
        if self.seqlens is not None:
            ids = torch.repeat_interleave(torch.arange(len(self.seqlens)), torch.tensor(self.seqlens))
            allowed &= ids[:, None] == ids[None, :]
        return allowed


def _fake_memory_efficient_attention(q, k, v, attn_bias=None):
    """CPU stand-in with xformers' conventions: [B, M, H, K] or the GQA 5-D [B, M, G, H, K]."""
    shape = q.shape
    if q.ndim == 5:
        q, k, v = (t.reshape(t.shape[0], t.shape[1], -1, t.shape[-1]) for t in (q, k, v))
    mask = attn_bias.materialize((q.shape[1], k.shape[1]))
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    return out.transpose(1, 2).reshape(shape)


def test_xformers_glue_on_cpu_with_a_stand_in(monkeypatch):
    """Packing into one block-diagonal sequence and the 5-D GQA form, checked against SDPA on CPU."""
    import sys
    import types

    from audiolm.lm.attention import attend

    attn_bias = types.SimpleNamespace(BlockDiagonalCausalMask=_FakeBias, LowerTriangularMask=_FakeBias)
    fmha = types.SimpleNamespace(attn_bias=attn_bias)
    ops = types.ModuleType("xformers.ops")
    ops.fmha = fmha
    ops.memory_efficient_attention = _fake_memory_efficient_attention
    monkeypatch.setitem(sys.modules, "xformers", types.ModuleType("xformers"))
    monkeypatch.setitem(sys.modules, "xformers.ops", ops)

    torch.manual_seed(7)
    B, L, H, Hkv, D = 2, 24, 8, 2, 16
    q, k, v = torch.randn(B, L, H, D), torch.randn(B, L, Hkv, D), torch.randn(B, L, Hkv, D)
    for doc in (None, torch.tensor([[0] * 10 + [1] * 9 + [-1] * 5, [0] * 3 + [1] * 21])):
        xf = AttentionPlan.build("xformers", doc)
        assert xf.packed == (doc is not None)
        if doc is not None:
            assert xf.bias.seqlens == [10, 9, 5, 3, 21]
        ref = attend(q, k, v, AttentionPlan.build("sdpa", doc))
        torch.testing.assert_close(attend(q, k, v, xf), ref, atol=1e-5, rtol=1e-5)


def _reference_varlen_attn(q, k, v, cu_q, cu_k, max_q, max_k, *, window_size=(-1, -1), enable_gqa=False):
    """CPU stand-in with PyTorch varlen's conventions: [total, H, D], int32 offsets, window (-1, 0) = causal."""
    assert window_size == (-1, 0) and cu_q.dtype == torch.int32 and max_q == int((cu_q[1:] - cu_q[:-1]).max())
    out = torch.empty_like(q)
    for a, b in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
        seg = torch.nn.functional.scaled_dot_product_attention(
            q[a:b].transpose(0, 1)[None], k[a:b].transpose(0, 1)[None], v[a:b].transpose(0, 1)[None],
            is_causal=True, enable_gqa=enable_gqa)
        out[a:b] = seg[0].transpose(0, 1)
    return out


def test_varlen_glue_on_cpu_with_a_stand_in(monkeypatch):
    """Segments from packed document ids (and whole rows without them), GQA, against the SDPA path."""
    from audiolm.lm import attention

    monkeypatch.setattr(attention, "_varlen_attn", lambda: _reference_varlen_attn)
    monkeypatch.setattr(attention, "resolve_backend", lambda name, device: "varlen" if name == "varlen" else "sdpa")
    import audiolm.lm.model as model_mod

    monkeypatch.setattr(model_mod, "resolve_backend", attention.resolve_backend)
    torch.manual_seed(9)
    cfg = tiny_cfg(n_heads=4, n_kv_heads=2)
    ref = randomize_norms(AudioLM(replace(cfg, attention="sdpa"))).eval()
    var = AudioLM(replace(cfg, attention="varlen")).eval()
    var.load_state_dict(ref.state_dict())
    x = torch.randint(0, 101, (2, 40))
    doc = torch.tensor([[0] * 12 + [1] * 20 + [-1] * 8, [0] * 40])
    pos = torch.stack([torch.cat([torch.arange(12), torch.arange(20), torch.arange(8)]), torch.arange(40)])
    plan = attention.AttentionPlan.build("varlen", doc)
    assert plan.cu_seqlens.tolist() == [0, 12, 32, 40, 80] and plan.max_seqlen == 40
    with torch.no_grad():
        torch.testing.assert_close(var(x, pos, doc), ref(x, pos, doc), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(var(x), ref(x), atol=1e-5, rtol=1e-4)


def test_varlen_needs_cuda():
    with pytest.raises(RuntimeError, match="attention=varlen needs a CUDA device"):
        resolve_backend("varlen", "cpu")
