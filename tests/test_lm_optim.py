"""Cautious AdamW update rule (hand-checked) and the learning-rate schedules."""

import math

import pytest
import torch

from audiolm.lm.optim import CautiousAdamW, build_optimizer, no_weight_decay, param_groups
from audiolm.lm.schedules import lr_factor, make_scheduler


def test_cautious_adamw_hand_checked_two_steps():
    # b1 = b2 = 0.5, eps = 0, lr = 0.1, no weight decay; p starts at 0.
    p = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    opt = CautiousAdamW([p], lr=0.1, betas=(0.5, 0.5), eps=0.0, weight_decay=0.0)
    # step 1: g = [1, -2, 3, 4]; m_hat = g, v_hat = g^2 -> u = sign(g); every sign agrees, mask = 1
    p.grad = torch.tensor([1.0, -2.0, 3.0, 4.0], dtype=torch.float64)
    opt.step()
    assert torch.allclose(p.detach(), torch.tensor([-0.1, 0.1, -0.1, -0.1], dtype=torch.float64))
    # step 2: g = [1, 2, -1, 4]
    #   m = [0.75, 0.5, 0.25, 3], v = [0.75, 3, 2.75, 12], bias corrections 0.75
    #   u = m_hat / sqrt(v_hat) = [1, (2/3)/2, (1/3)/sqrt(11/3), 1]
    #   m * g = [.75, 1, -.25, 12] -> mask [1, 1, 0, 1], mean 3/4 -> scaled mask [4/3, 4/3, 0, 4/3]
    p.grad = torch.tensor([1.0, 2.0, -1.0, 4.0], dtype=torch.float64)
    opt.step()
    expected = torch.tensor([-0.1 - 0.1 * 4 / 3, 0.1 - 0.1 * (1 / 3) * 4 / 3, -0.1, -0.1 - 0.1 * 4 / 3], dtype=torch.float64)
    assert torch.allclose(p.detach(), expected, atol=1e-12)
    # the masked coordinate would have moved under plain AdamW
    plain = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    ref = torch.optim.AdamW([plain], lr=0.1, betas=(0.5, 0.5), eps=0.0, weight_decay=0.0)
    for g in ([1.0, -2.0, 3.0, 4.0], [1.0, 2.0, -1.0, 4.0]):
        plain.grad = torch.tensor(g, dtype=torch.float64)
        ref.step()
    assert plain[2].item() == pytest.approx(-0.1 - 0.1 * (1 / 3) / math.sqrt(11 / 3))


def test_cautious_adamw_equals_adamw_when_signs_agree():
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(5, 3))
    b = torch.nn.Parameter(a.detach().clone())
    oa = CautiousAdamW([a], lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    ob = torch.optim.AdamW([b], lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    g = torch.randn(5, 3)
    for _ in range(3):  # a constant gradient: momentum always agrees with it
        a.grad, b.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
    assert torch.allclose(a, b, atol=1e-6)
    # state is a plain dict of tensors (weights_only-safe)
    st = oa.state_dict()["state"][0]
    assert set(st) == {"step", "exp_avg", "exp_avg_sq"} and float(st["step"]) == 3


def test_all_masked_tensor_does_not_blow_up():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = CautiousAdamW([p], lr=0.1, betas=(0.9, 0.9))
    p.grad = torch.ones(3)
    opt.step()
    p.grad = -torch.ones(3) * 1e-6  # momentum still positive, gradient negative: all masked
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p.detach(), before)


def test_weight_decay_groups_by_name():
    assert no_weight_decay("model.layers.0.attn_norm.weight")
    assert no_weight_decay("model.layers.0.attn.q_norm.weight")
    assert no_weight_decay("model._fsdp_wrapped_module.norm.weight")
    assert not no_weight_decay("model.embed.weight") and not no_weight_decay("model.layers.0.mlp.down.weight")
    from audiolm.lm.config import ModelConfig
    from audiolm.lm.model import AudioLM

    m = AudioLM(ModelConfig(vocab_size=32, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=32, max_seq_len=16))
    groups = param_groups(m, 0.033)
    assert groups[0]["weight_decay"] == 0.033 and groups[1]["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in groups[0]["params"]) and all(p.ndim == 1 for p in groups[1]["params"])
    assert isinstance(build_optimizer("adamw", groups, 1e-3, [0.9, 0.95], 0.0, 1e-8), torch.optim.AdamW)
    with pytest.raises(ValueError, match="unknown optimizer"):
        build_optimizer("sgd", groups, 1e-3, [0.9, 0.95], 0.0, 1e-8)


def test_wsd_schedule_values():
    # T = 10: warm-up W = 1, decay D = 2 -> [1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5] and 0 at the end
    f = [lr_factor(k, 10, "wsd", 0.1, 0.2) for k in range(11)]
    assert f == [1.0] * 8 + [1.0, 0.5, 0.0]
    # T = 20: W = 2 -> 0.5, 1; D = 4 -> 1 at k=16, then 0.75, 0.5, 0.25, 0 at k=20
    f = [lr_factor(k, 20, "wsd", 0.1, 0.2) for k in range(21)]
    assert f[:3] == [0.5, 1.0, 1.0]
    assert f[16:] == [1.0, 0.75, 0.5, 0.25, 0.0]
    # min_lr_ratio floors the decay
    assert lr_factor(20, 20, "wsd", 0.1, 0.2, min_lr_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(18, 20, "wsd", 0.1, 0.2, min_lr_ratio=0.1) == pytest.approx(0.1 + 0.9 * 0.5)


def test_cosine_and_constant_schedules():
    # T = 10, W = 2: warm-up 0.5, 1; then cosine from 1 (k=2) to 0 (k=10), 0.5 at the midpoint k=6
    assert lr_factor(0, 10, "cosine", 0.2) == 0.5
    assert lr_factor(2, 10, "cosine", 0.2) == pytest.approx(1.0)
    assert lr_factor(6, 10, "cosine", 0.2) == pytest.approx(0.5)
    assert lr_factor(10, 10, "cosine", 0.2, min_lr_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(4, 10, "cosine", 0.2) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 8)))
    assert [lr_factor(k, 10, "constant", 0.3) for k in (0, 1, 2, 3, 9)] == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(0, 10, "linear")


def test_scheduler_drives_optimizer_lr():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2.0)
    sched = make_scheduler(opt, 10, "wsd", 0.1, 0.2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2.0] * 9 + [1.0])
    assert sched.state_dict()["lr_lambdas"] == [None]  # a plain function: nothing pickled


def test_adamc_weight_decay_follows_the_schedule():
    """AdamC (SODA's optimizer setting): with the lr at half its peak, the decay per step is
    lr * (wd * lr / peak), a quarter of the peak's lr * wd; plain decoupled decay halves it only."""
    import torch

    from audiolm.lm.optim import CautiousAdamW

    for adamc, expect in ((True, 1 - 0.05 * (0.1 * 0.5)), (False, 1 - 0.05 * 0.1)):
        p = torch.nn.Parameter(torch.ones(4))
        opt = CautiousAdamW([p], lr=0.1, weight_decay=0.1, adamc=adamc)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5)  # initial_lr 0.1, lr 0.05
        p.grad = torch.zeros(4)  # the masked update is 0: only the decay moves p
        opt.step()
        assert torch.allclose(p.detach(), torch.full((4,), expect)), (adamc, p)
        del sched
