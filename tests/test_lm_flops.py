"""Parameter / FLOP accounting against values computed by hand (see the comments)."""

from types import SimpleNamespace

import pytest

from audiolm.lm import flops

SODA_V = 144644  # Llama-3 text ids + 4 specials + 8 x 2048 audio ids


def small(**kw):
    base = dict(vocab_size=100, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=0, ffn_dim=48,
                tie_embeddings=False, qk_norm=True)
    base.update(kw)
    return SimpleNamespace(**base)


def test_small_shape_params_by_hand():
    p = flops.param_counts(small())
    # hd = 16 // 4 = 4; attention 16*(4+2*2)*4 + 4*4*16 = 512 + 256 = 768; mlp 3*16*48 = 2304
    # norms 2*16 + 2*4 (QK-norm) = 40; per layer 3112; 2 layers + final norm 16 = 6240
    assert p["attention"] == 2 * 768 and p["mlp"] == 2 * 2304 and p["norm"] == 2 * 40 + 16
    assert p["per_layer"] == 3112
    assert p["non_embedding"] == 6240
    assert p["input_embedding"] == 1600 and p["output_head"] == 1600 and p["embedding"] == 3200
    assert p["total"] == 9440 and p["non_embedding_plus_head"] == 7840


def test_small_shape_tied_and_no_qknorm():
    p = flops.param_counts(small(tie_embeddings=True, qk_norm=False))
    assert p["output_head"] == 0 and p["non_embedding"] == 6240 - 2 * 8 and p["total"] == 6224 + 1600
    # a tied head still costs its FLOPs
    assert flops.forward_flops_breakdown(small(tie_embeddings=True), 8)["head"] == 3200


def test_small_shape_forward_flops_by_hand():
    b = flops.forward_flops_breakdown(small(), seq_len=8, attention="full")
    # qkv 2 layers * 2*16*(4+4)*4 = 2048; out 2*2*16*16 = 1024; attention 2 * 4*4*4*8 = 1024
    # mlp 2 * 2*3*16*48 = 9216; head 2*16*100 = 3200
    assert b == {"qkv": 2048, "attn_out": 1024, "attention": 1024, "mlp": 9216, "head": 3200, "total": 16512}
    # causal: each query sees (8+1)/2 = 4.5 keys on average -> attention 576
    assert flops.forward_flops_per_token(small(), 8, attention="causal") == 16512 - 1024 + 576


def test_training_conventions():
    cfg = small()
    assert flops.training_flops_per_token(cfg, 8, "exact") == 3 * 16512
    assert flops.training_flops_per_token(cfg, 8, "exact_causal") == 3 * 16064
    assert flops.training_flops_per_token(cfg, 8, "6N_total") == 6 * 9440
    assert flops.training_flops_per_token(cfg, 8, "6ND") == 6 * 9440
    assert flops.training_flops_per_token(cfg, 8, "6N_nonembed") == 6 * 6240
    assert flops.training_flops(cfg, 1000, 8, "exact") == 1000 * 3 * 16512
    assert flops.tokens_for_budget(cfg, 3 * 16512 * 50, 8) == pytest.approx(50)
    with pytest.raises(ValueError, match="unknown FLOP convention"):
        flops.training_flops_per_token(cfg, 8, "7ND")


def test_vocab_zero_needs_explicit_size_and_dict_configs():
    with pytest.raises(ValueError, match="vocab_size"):
        flops.param_counts(small(vocab_size=0))
    assert flops.param_counts(small(vocab_size=0), vocab_size=100)["total"] == 9440
    assert flops.param_counts(vars(small()))["total"] == 9440


def test_soda_600m_preset():
    # SODA 600M = Qwen3-0.6B shape: d 1024, 28 layers, 16/8 heads, head_dim 128, ffn 3072
    cfg = SimpleNamespace(vocab_size=SODA_V, d_model=1024, n_layers=28, n_heads=16, n_kv_heads=8, head_dim=128,
                          ffn_dim=3072, tie_embeddings=False)
    p = flops.param_counts(cfg)
    # per layer: q 1024*2048 + k,v 2*1024*1024 + o 2048*1024 = 6,291,456; mlp 9,437,184; norms 2304
    assert p["per_layer"] == 15_730_944
    assert p["non_embedding"] == 28 * 15_730_944 + 1024 == 440_467_456
    assert p["input_embedding"] == p["output_head"] == 148_115_456
    assert p["total"] == 736_698_368
    b = flops.forward_flops_breakdown(cfg, 4096)
    assert b["qkv"] == 234_881_024 and b["attn_out"] == 117_440_512
    assert b["attention"] == 939_524_096 and b["mlp"] == 528_482_304 and b["head"] == 296_230_912
    assert b["total"] == 2_116_558_848


def test_soda_135m_preset():
    # 135M: d 512, 15 layers, 8/8 heads (head_dim 64), ffn 1792
    cfg = SimpleNamespace(vocab_size=SODA_V, d_model=512, n_layers=15, n_heads=8, n_kv_heads=8, head_dim=0,
                          ffn_dim=1792, tie_embeddings=False)
    p = flops.param_counts(cfg)
    # attention 4*512*512 = 1,048,576; mlp 3*512*1792 = 2,752,512; norms 1024 + 128
    assert p["per_layer"] == 3_802_240
    assert p["non_embedding"] == 57_034_112
    assert p["total"] == 57_034_112 + 2 * 74_057_728


def test_isoflop_grid_row_d512():
    # SODA grid rule at d=512: layers round(512/93) = 6, heads 4 (head_dim 128), ffn 2048
    cfg = SimpleNamespace(vocab_size=SODA_V, d_model=512, n_layers=6, n_heads=4, n_kv_heads=4, head_dim=128,
                          ffn_dim=2048, tie_embeddings=False)
    assert flops.param_counts(cfg)["non_embedding"] == 25_174_016
    assert flops.forward_flops_per_token(cfg, 4096) == 248_778_752
    assert flops.training_flops_per_token(cfg, 4096) == 746_336_256
    s = flops.summary(cfg, 4096)
    assert s["training_flops_per_token"]["exact"] == 746_336_256


def test_mfu():
    assert flops.mfu(1000.0, 6e9, 1.2e13) == pytest.approx(0.5)


@pytest.mark.parametrize("kw", [
    dict(vocab_size=100, d_model=16, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=48),
    dict(vocab_size=300, d_model=64, n_layers=2, n_heads=2, n_kv_heads=1, head_dim=32, ffn_dim=96,
         tie_embeddings=True, qk_norm=False),
])
def test_counts_match_the_real_model(kw):
    from audiolm.lm.config import ModelConfig
    from audiolm.lm.model import AudioLM

    cfg = ModelConfig(**kw)
    model = AudioLM(cfg)
    assert flops.param_counts(cfg)["total"] == sum(p.numel() for p in model.parameters())
