"""LM training: loss bookkeeping, z-loss, config errors, a tiny run whose loss falls, exact resume,
NaN policy and refusal of mismatched checkpoints (tiny model, in-memory data, CPU)."""

import json
import math

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
import yaml
from lm_train_toydata import VOCAB, Recorder, StopAt, ToyLMData, toy_config

from audiolm.config import ConfigError
from audiolm.lm.callbacks import instantiate_callbacks
from audiolm.lm.module import CheckpointMismatchError, NLLStats, NonFiniteLossError, lm_loss
from audiolm.lm.train import train_lm
from audiolm.lm.train_config import LMTrainConfig, load_train_config, plan_steps
from audiolm.tokens.modality import ACOUSTIC, SEMANTIC, SPECIAL, TEXT


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: threads only add contention
    yield
    torch.set_num_threads(n)


# ---- loss bookkeeping ------------------------------------------------------------------------
def test_per_modality_loss_bookkeeping():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11)
    labels = torch.tensor([[3, 4, -100, 7, 1, 2], [5, -100, -100, 9, 10, 0]])
    modality = torch.tensor([[TEXT, SEMANTIC, -1, ACOUSTIC, ACOUSTIC, SPECIAL], [TEXT, -1, -1, SEMANTIC, SEMANTIC, TEXT]])
    out = lm_loss(logits, labels, modality, z_loss=0.0)
    ce = F.cross_entropy(logits.reshape(-1, 11), labels.reshape(-1), reduction="none").reshape(2, 6)
    mask = labels != -100
    assert out.nll.item() == pytest.approx(ce[mask].mean().item(), rel=1e-6)
    assert int(out.n_tokens) == 9
    for code in (TEXT, SEMANTIC, ACOUSTIC, SPECIAL):
        sel = mask & (modality == code)
        assert out.nll_sum[code].item() == pytest.approx(ce[sel].sum().item(), rel=1e-6)
        assert out.count[code].item() == sel.sum().item()
    assert out.count.sum().item() == 9  # every label token booked exactly once


def test_fused_training_loss_matches_full_logits():
    from lm_train_toydata import make_batch

    from audiolm.config import to_dict
    from audiolm.lm.module import LMModule

    cfg = toy_config("/tmp/unused", steps=1)
    module = LMModule(to_dict(cfg))
    batch = make_batch(0, 4, 32)
    fused = module._loss(batch)
    logits = module(batch["input_ids"], batch["position_ids"], batch["document_ids"])
    full = lm_loss(logits, batch["labels"], batch["modality"], z_loss=cfg.optim.z_loss)
    for a, b in [(fused.loss, full.loss), (fused.nll, full.nll), (fused.z, full.z)]:
        assert a.item() == pytest.approx(b.item(), rel=1e-5)
    assert torch.allclose(fused.nll_sum, full.nll_sum, rtol=1e-5) and torch.equal(fused.count, full.count)


def test_z_loss_value():
    # uniform logits: logsumexp = ln V for every token
    V = 16
    logits = torch.zeros(1, 3, V, requires_grad=True)
    labels = torch.tensor([[1, 2, -100]])
    out = lm_loss(logits, labels, None, z_loss=1e-4)
    assert out.nll.item() == pytest.approx(math.log(V))
    assert out.z.item() == pytest.approx(math.log(V) ** 2)
    assert out.loss.item() == pytest.approx(math.log(V) + 1e-4 * math.log(V) ** 2)
    out.loss.backward()  # differentiable through the z term
    # gradient of z-loss pushes logsumexp down: every logit's grad is positive except the targets'
    assert logits.grad[0, 2].abs().sum() == 0  # ignored position gets no gradient


def test_validation_stats_and_bits_per_second():
    stats = NLLStats()
    logits = torch.zeros(1, 4, 8)  # NLL = ln 8 for every token
    labels = torch.tensor([[1, 2, 3, 4]])
    modality = torch.tensor([[TEXT, SEMANTIC, ACOUSTIC, ACOUSTIC]])
    stats.update(lm_loss(logits, labels, modality), torch.tensor(0.5))
    stats.update(lm_loss(logits, labels, modality), torch.tensor(1.5))
    r = stats.compute()
    ln8 = math.log(8)
    assert r["loss"] == pytest.approx(ln8) and r["loss_text"] == pytest.approx(ln8)
    assert r["loss_semantic"] == pytest.approx(ln8) and r["loss_acoustic"] == pytest.approx(ln8)
    # 6 audio tokens of ln 8 nats = 3 bits each = 18 bits over 2 seconds
    assert r["bits_per_audio_second"] == pytest.approx(9.0)


# ---- configuration ---------------------------------------------------------------------------
def test_config_errors_name_the_key(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("trainer:\n  max_tokens: 1000\n")
    (tmp_path / "bad_strategy.yaml").write_text("_base_: [base.yaml]\ntrainer:\n  strategy: dp\n")
    with pytest.raises(ConfigError, match=r"trainer\.strategy"):
        load_train_config(tmp_path / "bad_strategy.yaml")
    (tmp_path / "typo.yaml").write_text("_base_: [base.yaml]\noptim:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match="lrr"):
        load_train_config(tmp_path / "typo.yaml")
    with pytest.raises(ConfigError, match=r"trainer\.max_tokens"):
        load_train_config(None, ["trainer.max_tokens=0"])
    with pytest.raises(ConfigError, match=r"trainer\.nan_policy"):
        load_train_config(base, ["trainer.nan_policy=ignore"])
    with pytest.raises(ConfigError, match=r"optim\.betas"):
        load_train_config(base, ["optim.betas=[0.9,1.5]"])
    with pytest.raises(ConfigError, match=r"data\.seq_len"):
        load_train_config(base, ["data.seq_len=8192", "model.max_seq_len=4096"])
    with pytest.raises(ConfigError, match=r"callbacks\[0\]\.class_path"):
        instantiate_callbacks([{"class_path": "no_such_pkg.Callback"}])
    with pytest.raises(ConfigError, match=r"callbacks\[0\]\.init_args"):
        instantiate_callbacks([{"class_path": "lightning.pytorch.callbacks.LearningRateMonitor", "init_args": {"nope": 1}}])
    cfg = load_train_config(base, ["trainer.global_batch_size=12", "data.batch_size=4"])
    assert cfg.name == "base"  # run name from the file name
    with pytest.raises(ConfigError, match=r"trainer\.global_batch_size"):
        plan_steps(cfg, world_size=2)  # 12 is not a multiple of 4 x 2


def test_token_budget_to_steps():
    cfg = LMTrainConfig()
    cfg.data.batch_size, cfg.data.seq_len = 8, 4096
    cfg.trainer.max_tokens = 10_000_000_000
    plan = plan_steps(cfg, world_size=4)
    assert plan.global_batch == 32 and plan.accumulate == 1
    assert plan.max_steps == 10_000_000_000 // (8 * 4096 * 4)
    cfg.trainer.global_batch_size = 512  # SODA: 512 x 4096 tokens per step
    plan = plan_steps(cfg, world_size=4)
    assert plan.accumulate == 16 and plan.tokens_per_step == 512 * 4096


def test_shipped_configs_load():
    for name in ("quickstart", "soda_135m", "soda_600m", "soda_1.7b", "soda_4b"):
        cfg = load_train_config(name)
        assert cfg.name == name
    soda = load_train_config("soda_600m")
    assert soda.optim.name == "cautious_adamw" and soda.optim.betas == [0.98, 0.98]
    assert soda.optim.weight_decay == 0.033 and soda.optim.z_loss == 1e-4 and soda.optim.grad_clip == 1.0
    assert (soda.optim.schedule, soda.optim.warmup_frac, soda.optim.decay_frac) == ("wsd", 0.1, 0.2)
    assert soda.trainer.global_batch_size == 512 and soda.data.seq_len == 4096
    assert soda.trainer.precision == "bf16-mixed"
    assert (soda.model.d_model, soda.model.n_layers, soda.model.n_heads, soda.model.n_kv_heads, soda.model.ffn_dim) == (1024, 28, 16, 8, 3072)


# ---- a real (tiny) run -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lm")
    cfg = toy_config(root, steps=40, val_every_n_steps=20, ckpt_every_n_steps=20)
    cfg.callbacks = [{"class_path": "lightning.pytorch.callbacks.LearningRateMonitor", "init_args": {"logging_interval": "step"}}]
    rec = Recorder()
    summary = train_lm(cfg, datamodule=ToyLMData(), callbacks=[rec])
    return cfg, rec, summary


def test_tiny_run_loss_falls_and_writes_run_dir(tiny_run):
    cfg, rec, summary = tiny_run
    first = rec.losses[1]
    last = sum(rec.losses[s] for s in range(36, 41)) / 5
    assert first == pytest.approx(math.log(VOCAB), abs=0.3)
    assert last < first - 1.0, (first, last)
    run = cfg_dir = __import__("pathlib").Path(cfg.exp_dir) / cfg.name
    final = json.loads((run / "final.json").read_text())
    assert final == summary
    assert set(final) == {"val_loss", "val_loss_per_modality", "val_bits_per_audio_second", "tokens", "steps",
                          "train_audio_seconds", "params", "flops_per_token", "wall_time_s"}
    assert final["steps"] == 40 and final["tokens"] == 40 * 4 * 32
    assert set(final["val_loss_per_modality"]) == {"text", "semantic", "acoustic"}
    assert final["val_loss"] < first - 1.0 and final["val_bits_per_audio_second"] > 0
    assert set(final["params"]) == {"embedding", "non_embedding", "total"}
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt", "step-20.ckpt", "step-40.ckpt"]
    hp = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hp["config"]["model"]["vocab_size"] == VOCAB and "torch" in hp["versions"] and "git_sha" in hp
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set(EventAccumulator(str(run / "tb")).Reload().Tags()["scalars"])
    want = {"train/loss", "train/loss_text", "train/loss_semantic", "train/loss_acoustic", "train/z_loss", "train/lr",
            "train/grad_norm", "train/tokens_per_s", "train/tokens", "train/padding_ratio", "val/loss",
            "val/loss_text", "val/loss_semantic", "val/loss_acoustic", "val/bits_per_audio_second"}
    assert want <= tags, want - tags
    del cfg_dir


def test_checkpoint_is_plain_and_loads_weights_only(tiny_run):
    cfg, _, _ = tiny_run
    ckpt = torch.load(f"{cfg.exp_dir}/{cfg.name}/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    meta = ckpt["audiolm"]
    assert ckpt["global_step"] == 40
    assert meta["config"]["optim"]["name"] == "cautious_adamw" and meta["model_config"]["vocab_size"] == VOCAB
    assert ckpt["ToyLMData"] == {"consumed": 40}  # the data position is saved
    assert "RNGStateCallback" in "".join(ckpt["callbacks"])


def test_mismatched_checkpoint_is_refused(tiny_run, tmp_path):
    cfg, _, _ = tiny_run
    other = toy_config(cfg.exp_dir, steps=50)
    other.model.vocab_size = VOCAB + 8
    with pytest.raises(CheckpointMismatchError, match="vocab_size") as e:
        train_lm(other, datamodule=ToyLMData())
    assert "name=" in str(e.value)  # says how to get out of it
    from audiolm.lm.checkpoint import load_lm

    bad = tmp_path / "not_lm.ckpt"
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(CheckpointMismatchError, match="not an audiolm LM checkpoint"):
        load_lm(bad)


def test_rerun_of_finished_run_does_nothing_more(tiny_run):
    cfg, _, summary = tiny_run
    rec = Recorder()
    again = train_lm(cfg, datamodule=ToyLMData(), callbacks=[rec])
    assert rec.losses == {} and again["steps"] == 40
    assert again["val_loss"] == pytest.approx(summary["val_loss"], rel=1e-6)


# ---- exact resume ----------------------------------------------------------------------------
def test_resume_equals_uninterrupted(tmp_path):
    straight = Recorder()
    cfg = toy_config(tmp_path / "a", steps=16, ckpt_every_n_steps=8)
    train_lm(cfg, datamodule=ToyLMData(), callbacks=[straight])

    cfg_b = toy_config(tmp_path / "b", steps=16, ckpt_every_n_steps=8)
    first, second = Recorder(), Recorder()
    train_lm(cfg_b, datamodule=ToyLMData(), callbacks=[first, StopAt(8)])  # 'killed' after step 8
    assert max(first.losses) == 8 and not (tmp_path / "b" / "toy" / "final.json").exists()
    dm = ToyLMData()
    train_lm(cfg_b, datamodule=dm, callbacks=[second])  # the same command again resumes
    assert sorted(second.losses) == list(range(9, 17))
    assert dm.seen == list(range(8, 16))  # the data stream continued where it stopped
    for step in range(9, 17):
        assert second.losses[step] == pytest.approx(straight.losses[step], rel=1e-5, abs=1e-6), step
        assert second.weights[step] == pytest.approx(straight.weights[step], rel=1e-6), step


# ---- NaN policy ------------------------------------------------------------------------------
class PoisonAt(pl.Callback):
    """Makes the logits NaN during optimizer step ``step`` (1-based) and records the weights around it."""

    def __init__(self, step):
        self.step, self.handle, self.before, self.after = step, None, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step + 1 == self.step:
            self.before = [p.detach().clone() for p in pl_module.parameters()]
            self.handle = pl_module.model.norm.register_forward_hook(lambda m, i, o: o * float("nan"))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
            self.after = [p.detach().clone() for p in pl_module.parameters()]


def test_nan_loss_stop_reports_the_step(tmp_path):
    cfg = toy_config(tmp_path, steps=8)
    with pytest.raises(NonFiniteLossError, match="at step 2"):
        train_lm(cfg, datamodule=ToyLMData(), callbacks=[PoisonAt(3)])


def test_nan_loss_skip_leaves_weights_untouched(tmp_path):
    cfg = toy_config(tmp_path, steps=8, nan_policy="skip")
    poison, rec = PoisonAt(3), Recorder()
    with pytest.warns(UserWarning, match="at step 2"):
        summary = train_lm(cfg, datamodule=ToyLMData(), callbacks=[poison, rec])
    assert all(torch.equal(a, b) for a, b in zip(poison.before, poison.after))
    assert summary["steps"] == 8 and math.isfinite(summary["val_loss"])
    ckpt = torch.load(tmp_path / "toy" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["audiolm"]["skipped_steps"] == 1


def test_activation_checkpointing_changes_no_numbers(tmp_path):
    runs = []
    for ac in (False, True):
        rec = Recorder()
        train_lm(toy_config(tmp_path / str(ac), steps=4, activation_checkpointing=ac), datamodule=ToyLMData(), callbacks=[rec])
        runs.append(rec)
    assert runs[0].losses == pytest.approx(runs[1].losses, rel=1e-6)
    assert runs[0].weights == pytest.approx(runs[1].weights, rel=1e-6)


def test_warm_start_from_local_hf_qwen3(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    hf = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(
        vocab_size=40, hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=12, max_position_embeddings=64, tie_word_embeddings=False))
    hf.save_pretrained(tmp_path / "qwen3")

    class Capture(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            self.embed = pl_module.model.embed.weight.detach().clone()

    cfg = toy_config(tmp_path, steps=2)
    cfg.init_from = str(tmp_path / "qwen3")
    cap = Capture()
    summary = train_lm(cfg, datamodule=ToyLMData(), callbacks=[cap])
    ref = hf.model.embed_tokens.weight.detach()
    assert cap.embed.shape == (VOCAB, 48)  # the checkpoint's width, the run's (larger) vocabulary
    torch.testing.assert_close(cap.embed[:40], ref)
    torch.testing.assert_close(cap.embed[40:], ref.mean(0).expand(VOCAB - 40, -1))
    hp = yaml.safe_load((tmp_path / "toy" / "hparams.yaml").read_text())
    assert hp["config"]["model"]["d_model"] == 48 and hp["config"]["init_from"] == cfg.init_from
    assert summary["params"]["total"] == sum(p.numel() for p in hf.parameters()) + (VOCAB - 40) * 48 * 2
    # a longer budget resumes the warm-started run (its shape comes from the checkpoint, not the YAML)
    cfg.trainer.max_tokens *= 2
    assert train_lm(cfg, datamodule=ToyLMData())["steps"] == 4


def test_fine_tune_from_our_checkpoint_resumes_exactly(tmp_path):
    """init_from a .ckpt of `audiolm train lm` (the S2ST fine-tuning path): its weights, then exact resume."""
    from audiolm.lm.checkpoint import load_lm

    base = toy_config(tmp_path / "base", steps=4)
    train_lm(base, datamodule=ToyLMData())
    base_ckpt = tmp_path / "base" / "toy" / "checkpoints" / "last.ckpt"
    want = load_lm(base_ckpt).model.embed.weight.detach().clone()

    class Capture(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            self.embed = pl_module.model.embed.weight.detach().clone()

    straight, cap = Recorder(), Capture()
    cfg = toy_config(tmp_path / "ft", steps=8, ckpt_every_n_steps=4)
    cfg.init_from = str(base_ckpt)
    train_lm(cfg, datamodule=ToyLMData(), callbacks=[straight, cap])
    torch.testing.assert_close(cap.embed, want)  # starts from the base model's weights
    cfg_b = toy_config(tmp_path / "ft2", steps=8, ckpt_every_n_steps=4)
    cfg_b.init_from = str(base_ckpt)
    first, second = Recorder(), Recorder()
    train_lm(cfg_b, datamodule=ToyLMData(), callbacks=[first, StopAt(4)])
    train_lm(cfg_b, datamodule=ToyLMData(), callbacks=[second])
    assert sorted(second.losses) == list(range(5, 9))
    for step in range(5, 9):
        assert second.losses[step] == pytest.approx(straight.losses[step], rel=1e-5, abs=1e-6), step


def test_s2st_fine_tuning_preset_is_sodas():
    cfg = load_train_config("s2st_soda")
    o, t, d = cfg.optim, cfg.trainer, cfg.data
    assert (o.name, o.lr, o.schedule, o.warmup_frac, o.weight_decay, o.betas, o.z_loss) == \
        ("cautious_adamw", 2e-5, "cosine", 0.03, 0.01, [0.9, 0.999], 1e-4)
    assert (t.epochs, t.global_batch_size, d.seq_len, d.formats, d.prompt) == (5, 64, 2048, ["s2st"], "src_audio")


def test_the_training_module_is_a_loaded_lm_for_evaluation(tmp_path):
    from audiolm.config import to_dict
    from audiolm.eval.context import EvalContext
    from audiolm.lm.module import LMModule
    from audiolm.tokens.testing import tiny_tokenizer

    tok = tiny_tokenizer(n_codebooks=4, codebook_size=16)
    cfg = toy_config(tmp_path)
    cfg.data.codebooks, cfg.data.layout = [0, 1], "delay"
    from audiolm.token_shards import CodecInfo

    info = CodecInfo("codec.ckpt", 24000, 12.5, 4, 16)
    module = LMModule(to_dict(cfg), codec=info.to_dict(), tokenizer_json=tok.hf.to_str())  # as from Lightning's hparams
    loaded = module.loaded()
    assert loaded.model is module.model and loaded.codec_spec == "codec.ckpt" and loaded.step == 0
    assert loaded.codec_info == info and module.frame_rate == 12.5
    assert loaded.layout.name == "delay" and loaded.layout.codebooks == [0, 1]
    assert loaded.tokenizer.vocab.size == tok.vocab.size
    ctx = EvalContext.from_loaded(loaded, "cpu", tmp_path / "cache")
    assert (ctx.max_len, ctx.trained_len, ctx.codec_spec) == (64, 32, "codec.ckpt")
    assert EvalContext.from_loaded(loaded, codec_spec="other.ckpt").codec_spec == "other.ckpt"
