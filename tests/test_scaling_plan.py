"""IsoFLOP planner: SODA's grid rules against hand-computed rows, skip rules, run configs."""

import math

import pytest
import yaml

from audiolm.scaling.plan import (
    DepthRule, HeadRule, PlanConfig, build_sweep, config_for_params, fmt_budget, make_run, model_shape,
    write_sweep,
)

# layers = round(d / (64 + 4·log2 d − 7)), by hand:
# 128/85 = 1.51 -> 2, 256/89 = 2.88 -> 3, 384/91.34 = 4.20 -> 4, 512/93 = 5.51 -> 6,
# 640/94.29 = 6.79 -> 7, 768/95.34 = 8.06 -> 8, 896/96.23 = 9.31 -> 9, 1024/97 = 10.56 -> 11,
# 1280/98.29 = 13.02 -> 13, 1536/99.34 = 15.46 -> 15, 1792/100.23 = 17.88 -> 18, 2048/101 = 20.28 -> 20
SODA_LAYERS = {128: 2, 256: 3, 384: 4, 512: 6, 640: 7, 768: 8, 896: 9, 1024: 11, 1280: 13, 1536: 15, 1792: 18, 2048: 20}


def test_depth_rule_rows():
    rule = DepthRule()
    for d, layers in SODA_LAYERS.items():
        assert rule.layers(d) == layers, d


def test_head_rule():
    assert HeadRule().heads(128) == (1, 1, 128)  # SODA's smallest width: one head of 128
    assert HeadRule().heads(640) == (5, 5, 128)
    assert HeadRule().heads(2048) == (16, 16, 128)
    assert HeadRule().heads(64) == (1, 1, 64)  # below head_dim: one head of size d
    assert HeadRule(kv_ratio=2).heads(768) == (6, 3, 128)
    assert HeadRule(kv_ratio=2).heads(640) == (5, 1, 128)  # 5 heads: kv lowered until it divides


def test_soda_row_by_hand():
    plan = PlanConfig()
    shape = model_shape(plan, 512)
    assert shape | {} == {"vocab_size": 144644, "d_model": 512, "n_layers": 6, "n_heads": 4, "n_kv_heads": 4,
                          "head_dim": 128, "ffn_dim": 2048, "tie_embeddings": False, "qk_norm": True}
    run = make_run(plan, 3e18, 512)
    # exact training FLOPs/token at d=512 (tests/test_lm_flops.py): 746,336,256
    assert run["flops_per_token"] == 746_336_256
    # batch 2^20 tokens = 256 x 4096; 3e18 / 746,336,256 = 4.0196e9 tokens = 3833.4 steps -> 3833
    assert run["batch_size"] == 256 and run["steps"] == 3833
    assert run["tokens"] == 3833 * 1_048_576 == 4_019_191_808
    assert run["name"] == "iso_C3e18_d512"
    # lr = 2e-3 · (512/512)^0.5
    assert run["lr"] == pytest.approx(2e-3)
    assert make_run(plan, 3e18, 2048)["lr"] == pytest.approx(1e-3)


def test_soda_grid_shape():
    plan = PlanConfig()
    sweep = build_sweep(plan)
    runs = sweep["runs"]
    assert 60 <= len(runs) <= 70  # SODA trained 64 models
    for c in plan.budgets:
        rs = [r for r in runs if r["budget"] == c]
        assert len(rs) >= 8
        widths = [r["model"]["d_model"] for r in rs]
        assert widths == list(range(widths[0], widths[-1] + 1, 128))  # contiguous on the grid
        for r in rs:
            # tokens are whole steps: the budget is met to within half a step
            assert abs(r["flops"] - c) <= 0.5 * r["flops_per_token"] * r["batch_size"] * 4096
            assert 1.5 <= r["tokens_per_param"] <= 200
            assert r["model"]["n_layers"] == SODA_LAYERS.get(r["model"]["d_model"], r["model"]["n_layers"])
            assert r["model"]["ffn_dim"] == 4 * r["model"]["d_model"]
    # small budget: the widest models are skipped for too few tokens per parameter
    assert any(s["budget"] == 3e18 and s["d_model"] == 2048 and "tokens/params" in s["reason"] for s in sweep["skipped"])


def test_skip_rules():
    plan = PlanConfig(budgets=[3e18])
    plan.skip.min_steps = 100_000
    sweep = build_sweep(plan)
    assert not sweep["runs"] and all("min_steps" in s["reason"] for s in sweep["skipped"])
    plan = PlanConfig(budgets=[3e18])
    plan.skip.max_params = 100_000_000
    assert all(r["params"]["total"] <= 100_000_000 for r in build_sweep(plan)["runs"])


def test_fmt_budget():
    assert fmt_budget(3e18) == "3e18" and fmt_budget(1e19) == "1e19" and fmt_budget(1.5e12) == "1.5e12"
    assert fmt_budget(9.9999999e17) == "1e18"


def test_write_sweep_configs_load_with_the_training_schema(tmp_path):
    from audiolm.lm.train_config import load_train_config

    base = tmp_path / "base.yaml"
    base.write_text("exp_dir: " + str(tmp_path / "exp") + "\nmodel:\n  vocab_size: 500\n  max_seq_len: 64\n"
                    "data:\n  seq_len: 64\n")
    plan = PlanConfig(base_config=str(base), budgets=[1e12, 3e12], seq_len=128, vocab_size=0)
    plan.width.min, plan.width.max, plan.width.step = 32, 128, 32
    plan.heads.head_dim = 32
    plan.batch.tokens, plan.batch.micro_batch_size = 4096, 16
    plan.skip.min_steps, plan.skip.min_tokens_per_param, plan.skip.max_tokens_per_param = 10, 0.1, 1e4
    plan.overrides = {"trainer.val_every_n_steps": 0}
    out = tmp_path / "sweep" / "sweep.yaml"
    doc = write_sweep(plan, out)
    assert doc["plan"]["vocab_size"] == 500 and doc["runs"]
    for run in doc["runs"]:
        cfg = load_train_config(out.parent / run["config"])
        assert cfg.name == run["name"] and cfg.exp_dir == str(tmp_path / "exp")
        assert cfg.model.d_model == run["model"]["d_model"] and cfg.model.n_layers == run["model"]["n_layers"]
        assert cfg.model.head_dim == run["model"]["head_dim"] and cfg.model.ffn_dim == run["model"]["ffn_dim"]
        assert cfg.model.max_seq_len == 128 and cfg.data.seq_len == 128
        assert cfg.trainer.max_tokens == run["tokens"] and cfg.optim.lr == pytest.approx(run["lr"])
        assert cfg.data.batch_size == 16 and cfg.trainer.global_batch_size == 32
        assert cfg.trainer.val_every_n_steps == 0
    again = yaml.safe_load(out.read_text())
    assert [r["name"] for r in again["runs"]] == [r["name"] for r in doc["runs"]]


def test_config_for_params_picks_nearest_size():
    plan = PlanConfig()
    target = make_run(plan, 1e21, 1536)["params"]["total"]
    run = config_for_params(plan, 1e21, target * 1.02)
    assert run["model"]["d_model"] == 1536 and run["name"] == "iso_pred_C1e21"
    assert math.isclose(run["flops"], 1e21, rel_tol=1e-3)
    # beyond the sweep's grid too
    big = config_for_params(plan, 1e23, 3e10, "non_embedding")
    assert big["model"]["d_model"] > 2048


def test_released_soda_sweep_rules(tmp_path):
    """recipes/scaling/isoflop_soda/plan_released.yaml follows SODA's released candidate_configs:
    power-of-two batches for 2^16 steps, lr = 0.33 sqrt(B)/d <= 0.01, beta2 = 0.98^(B/128)."""
    from pathlib import Path

    from audiolm.config import load_config
    from audiolm.lm.train_config import load_train_config

    here = Path(__file__).resolve().parent.parent / "recipes/scaling/isoflop_soda"
    plan = load_config(PlanConfig, here / "plan_released.yaml", [])
    plan.base_config = str(here / plan.base_config)
    doc = write_sweep(plan, tmp_path / "sweep.yaml")
    runs = doc["runs"]
    assert len(runs) >= 40
    for r in runs:
        b, d = r["batch_size"], r["model"]["d_model"]
        assert b >= 8 and b & (b - 1) == 0
        assert r["lr"] == pytest.approx(0.33 * math.sqrt(b) / d) and r["lr"] <= 0.01
        assert r["betas"] == pytest.approx([0.95, 0.98 ** (b / 128)])
        assert r["steps"] < 400_000 and abs(r["flops"] - r["budget"]) / r["budget"] <= 0.01
        assert (d - 128) % (256 if r["budget"] > 9e18 else 128) == 0  # range(128, 2049, step)
        # B is the power of two for 2^16 steps, or that halved until the lr is <= 0.01
        target = 2 ** math.ceil(math.log2(r["budget"] / (r["flops_per_token"] * 4096 * 65536)))
        assert b == target or (b < target and 0.33 * math.sqrt(2 * b) / d > 0.01)
    cfg = load_train_config(tmp_path / runs[0]["config"])
    assert cfg.optim.betas == pytest.approx(runs[0]["betas"]) and cfg.optim.lr == pytest.approx(runs[0]["lr"])
    assert (cfg.optim.weight_decay, cfg.optim.eps, cfg.optim.adamc_weight_decay) == (0.1, 1e-15, True)
    assert cfg.trainer.global_batch_size == runs[0]["batch_size"]
    # the default grid is unchanged by the new rules
    assert len(build_sweep(PlanConfig())["runs"]) == 66
