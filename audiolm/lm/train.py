"""``train_lm(cfg)``: one LM training run in ``exp_dir/<name>/``, resumable, from a laptop to a cluster.

Layout of a run directory::

    exp_dir/<name>/
      hparams.yaml              config + git SHA + package versions + codec + step plan
      checkpoints/last.ckpt     latest state (rerunning the same command resumes from it)
      checkpoints/step-N.ckpt   every trainer.ckpt_every_n_steps optimizer steps
      tb/                       tensorboard events
      final.json                written when the token budget is spent (read by audiolm.scaling)

Resuming restores weights, optimizer, lr schedule, loop counters, the DataModule's
``state_dict`` (its position in the data stream) and the RNG streams, so a stopped-and-resumed
run continues exactly as one that never stopped. Distributed runs: ``trainer.strategy=ddp|fsdp``;
under ``torchrun`` or SLURM Lightning reads the world from the environment (docs/training.md).
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import lightning.pytorch as pl
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import TensorBoardLogger

from audiolm.checkpointing import AtomicCheckpointIO, SaveOnInterrupt, newest_valid_checkpoint
from audiolm.config import ConfigError, to_dict
from audiolm.lm.config import ModelConfig
from audiolm.errors import Interrupted
from audiolm.lm import flops
from audiolm.runinfo import git_sha, package_versions
from audiolm.lm.callbacks import RNGStateCallback, ThroughputMonitor, instantiate_callbacks
from audiolm.lm.module import LMModule
from audiolm.lm.train_config import LMTrainConfig, StepPlan, plan_steps, validate_train_config
from audiolm.tokens.sources import read_codec_info

FINAL_MODALITIES = ("text", "semantic", "acoustic")


def run_dir_of(cfg: LMTrainConfig) -> Path:
    if not cfg.name:
        raise ConfigError("name: a run needs a name (load_train_config takes it from the config file)")
    return Path(cfg.exp_dir) / cfg.name


def resolve_devices(cfg: LMTrainConfig) -> int:
    """``trainer.devices: -1`` -> every visible CUDA device, or 1 on CPU."""
    t = cfg.trainer
    if t.devices > 0:
        return t.devices
    if t.accelerator in ("cpu",) or not torch.cuda.is_available():
        return 1
    return torch.cuda.device_count()


def make_strategy(cfg: LMTrainConfig):
    """``auto`` / ``ddp`` / ``fsdp`` -> a Lightning strategy (FSDP wraps and checkpoints per block)."""
    t = cfg.trainer
    if t.strategy == "fsdp":
        from lightning.pytorch.strategies import FSDPStrategy

        from audiolm.lm.model import Block

        return FSDPStrategy(
            auto_wrap_policy={Block},
            activation_checkpointing_policy={Block} if t.activation_checkpointing else None,
            sharding_strategy="FULL_SHARD",
            state_dict_type="full",  # one consolidated checkpoint file, readable by load_lm
            use_orig_params=True,  # per-parameter groups (no decay on norms) and torch.compile
            limit_all_gathers=True,
        )
    if t.strategy == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=False, gradient_as_bucket_view=True)
    return "auto"


def _load_tokenizer(cfg: LMTrainConfig, tokenizer):
    if tokenizer is None and cfg.data.tokenizer:
        from audiolm.tokens.tokenizer import UnifiedTokenizer

        tokenizer = UnifiedTokenizer.from_file(cfg.data.tokenizer)
    return tokenizer


def _resolve_vocab(cfg: LMTrainConfig, tokenizer) -> ModelConfig:
    """The model config with ``vocab_size`` taken from the tokenizer when it is 0 (a new config)."""
    if tokenizer is None:
        if cfg.model.vocab_size <= 0:
            raise ConfigError("model.vocab_size: 0 means 'from the tokenizer', but data.tokenizer is not set")
        return cfg.model
    size = tokenizer.vocab.size
    if cfg.model.vocab_size <= 0:
        return dataclasses.replace(cfg.model, vocab_size=size)
    if cfg.model.vocab_size < size:
        raise ConfigError(f"model.vocab_size: {cfg.model.vocab_size} is smaller than the tokenizer's {size} ids")
    return cfg.model


def _warm_start(cfg: LMTrainConfig, tokenizer):
    """``(model, its ModelConfig)``: the initial weights, from a ``.ckpt`` of ``audiolm train lm``
    (fine-tuning our own model), or a local HF Qwen3 checkpoint with the vocabulary extended to the
    unified one; the checkpoint decides the shape.

    A text LLM keeps its text rows and gets fresh audio rows; a folder that already covers the
    unified vocabulary (an exported audiolm model, SODA's releases) keeps every row (fine-tuning)."""
    from audiolm.lm.hf import load_hf_qwen3

    if Path(cfg.init_from).is_file():
        from audiolm.lm.checkpoint import load_lm

        loaded = load_lm(cfg.init_from)
        if tokenizer is not None and loaded.model.cfg.vocab_size != tokenizer.vocab.size:
            raise ConfigError(f"init_from: {cfg.init_from} has {loaded.model.cfg.vocab_size} token rows, the tokenizer "
                              f"{cfg.data.tokenizer} {tokenizer.vocab.size}: fine-tune with the tokenizer it was trained with")
        model = loaded.model.train()
        model.cfg = dataclasses.replace(model.cfg, max_seq_len=max(model.cfg.max_seq_len, cfg.model.max_seq_len))
        return model, model.cfg
    keep = tokenizer.vocab.text_vocab_size if tokenizer is not None else None
    hf_vocab = int(json.loads((Path(cfg.init_from) / "config.json").read_text()).get("vocab_size", 0))
    if tokenizer is not None and hf_vocab >= tokenizer.vocab.size:
        keep = None
    model = load_hf_qwen3(cfg.init_from, vocab_size=cfg.model.vocab_size, keep_rows=keep, attention=cfg.model.attention)
    # the checkpoint decides the shape; the run's config records it
    loaded = dataclasses.replace(model.cfg, max_seq_len=max(model.cfg.max_seq_len, cfg.model.max_seq_len))
    changed = {k: (getattr(cfg.model, k), getattr(loaded, k)) for k in ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim")
               if getattr(cfg.model, k) != getattr(loaded, k)}
    if changed:
        pl.utilities.rank_zero_only(print)(f"[audiolm] init_from: model shape taken from {cfg.init_from}: {changed}")
    model.cfg = loaded
    return model, loaded


def _stored_model_config(ckpt_path: str):
    from audiolm.lm.module import model_config_of

    meta = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True).get("audiolm") or {}
    if "model_config" not in meta:
        raise ConfigError(f"init_from: cannot resume, {ckpt_path} is not an audiolm LM checkpoint")
    return model_config_of(meta)


def write_hparams(run_dir: Path, cfg: LMTrainConfig, codec, plan: StepPlan, params: dict) -> Path:
    info = {
        "config": to_dict(cfg),
        "git_sha": git_sha(),
        "versions": package_versions(),
        "codec": codec.to_dict() if codec else None,
        "plan": dataclasses.asdict(plan),
        "params": params,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "hparams.yaml"
    path.write_text(yaml.safe_dump(info, sort_keys=False))
    return path


def final_summary(cfg: LMTrainConfig, metrics: dict, steps: int, plan: StepPlan, wall_time_s: float,
                  params: dict, flops_per_token: float, train_audio_seconds: float | None = None) -> dict:
    """The ``final.json`` record (docs/architecture.md)."""
    p = params
    return {
        "val_loss": metrics.get("loss"),
        "val_loss_per_modality": {m: metrics.get(f"loss_{m}") for m in FINAL_MODALITIES},
        "val_bits_per_audio_second": metrics.get("bits_per_audio_second"),
        "tokens": int(steps * plan.tokens_per_step),
        "steps": int(steps),
        "train_audio_seconds": train_audio_seconds,  # seconds of audio trained on (all ranks)
        "params": {"embedding": p["embedding"], "non_embedding": p["non_embedding"], "total": p["total"]},
        "flops_per_token": flops_per_token,
        "wall_time_s": float(wall_time_s),
    }


def build_trainer(cfg: LMTrainConfig, run_dir: Path, callbacks: list, flops_per_token: float) -> tuple[pl.Trainer, StepPlan]:
    t = cfg.trainer
    devices = resolve_devices(cfg)
    plan = plan_steps(cfg, devices * t.num_nodes)
    every_ckpt = t.ckpt_every_n_steps or None
    ckpt_cb = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="step-{step}", auto_insert_metric_name=False,
        every_n_train_steps=every_ckpt, save_top_k=-1, save_last=True, save_on_train_epoch_end=False,
        enable_version_counter=False,  # a moved or resumed run overwrites last.ckpt, never forks last-v1.ckpt
    )
    throughput = ThroughputMonitor(plan.tokens_per_step, flops_per_token, t.peak_flops, t.precision, t.log_every_n_steps)
    cbs: list = [ckpt_cb, throughput, RNGStateCallback()]
    if t.progress_bar:
        cbs.append(TQDMProgressBar(refresh_rate=max(1, min(t.log_every_n_steps, 50))))
    cbs += instantiate_callbacks(cfg.callbacks) + list(callbacks)
    val_every = (t.val_every_n_steps or plan.max_steps) * plan.accumulate
    trainer = pl.Trainer(
        accelerator=t.accelerator,
        devices=devices,
        num_nodes=t.num_nodes,
        strategy=make_strategy(cfg),
        precision=t.precision,
        max_steps=plan.max_steps,
        max_epochs=-1,
        accumulate_grad_batches=plan.accumulate,
        val_check_interval=val_every,
        check_val_every_n_epoch=None,
        limit_val_batches=t.val_batches or None,
        num_sanity_val_steps=0,
        log_every_n_steps=t.log_every_n_steps,
        logger=TensorBoardLogger(save_dir=str(run_dir), name="tb", version="", default_hp_metric=False),
        callbacks=cbs,
        enable_progress_bar=t.progress_bar,
        enable_model_summary=False,
        default_root_dir=str(run_dir),
        use_distributed_sampler=False,  # the DataModule shards its stream by rank itself
        gradient_clip_val=None,  # LMModule.configure_gradient_clipping clips (and logs the norm)
        plugins=[AtomicCheckpointIO()],
    )
    if trainer.world_size != plan.world_size:
        raise ConfigError(
            f"trainer.devices x trainer.num_nodes = {devices} x {t.num_nodes} does not match the launched "
            f"world size {trainer.world_size}; set them to match the launcher"
        )
    return trainer, plan


def train_lm(
    cfg: LMTrainConfig,
    *,
    datamodule: pl.LightningDataModule | None = None,
    tokenizer=None,
    callbacks: Sequence[pl.Callback] = (),
    resume: bool = True,
) -> dict | None:
    """Train (or resume) the run ``exp_dir/<name>``; returns the ``final.json`` record (None when
    training stopped before the token budget was spent).

    ``datamodule`` defaults to :class:`audiolm.tokens.datamodule.LMDataModule` over ``cfg.data``;
    tests and notebooks may pass their own (it should implement ``state_dict``/``load_state_dict``
    for exact resume). ``tokenizer`` defaults to ``cfg.data.tokenizer``.
    """
    validate_train_config(cfg, require_data=datamodule is None)  # once; cfg is replaced below, not edited
    run_dir = run_dir_of(cfg)
    started = time.time()
    pl.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    tokenizer = _load_tokenizer(cfg, tokenizer)
    cfg = dataclasses.replace(cfg, model=_resolve_vocab(cfg, tokenizer))
    codec = read_codec_info(list(cfg.data.train_shards) + list(cfg.data.val_shards))
    if datamodule is None:
        from audiolm.tokens.datamodule import LMDataModule

        datamodule = LMDataModule(cfg.data, tokenizer)

    if cfg.trainer.epochs > 0 and cfg.trainer.max_tokens <= 0:
        per_epoch = datamodule.train_tokens_per_epoch()
        cfg = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, max_tokens=float(cfg.trainer.epochs * per_epoch)))
        pl.utilities.rank_zero_only(print)(f"[audiolm] trainer.epochs={cfg.trainer.epochs}: {per_epoch} tokens per pass "
                                           f"over the training data -> max_tokens={cfg.trainer.max_tokens:.0f}")
    last = run_dir / "checkpoints" / "last.ckpt"
    found = newest_valid_checkpoint(run_dir / "checkpoints") if resume else None
    ckpt_path = str(found) if found else None
    model = None
    if cfg.init_from and ckpt_path is None:
        model, model_cfg = _warm_start(cfg, tokenizer)
        cfg = dataclasses.replace(cfg, model=model_cfg)
    elif cfg.init_from:  # resuming a warm-started run: its shape came from init_from, not the YAML
        cfg = dataclasses.replace(cfg, model=_stored_model_config(ckpt_path))
    params = flops.param_counts(cfg.model)  # counted once, for the log line, hparams.yaml and final.json
    fpt = flops.training_flops_per_token(cfg.model, cfg.data.seq_len, "exact")
    module = LMModule(cfg, codec=codec, tokenizer_json=tokenizer.hf.to_str() if tokenizer is not None else None, model=model)
    def save_last(tr, _module) -> str:
        tr.save_checkpoint(str(last))
        return str(last)

    guard = SaveOnInterrupt(save_last)
    trainer, plan = build_trainer(cfg, run_dir, [guard, *callbacks], fpt)
    if trainer.is_global_zero:
        write_hparams(run_dir, cfg, codec, plan, params)
        where = f"resuming from {ckpt_path}" if ckpt_path else "starting"
        p = params
        print(
            f"[audiolm] {where}: {run_dir} | {p['total'] / 1e6:.2f}M parameters ({p['non_embedding'] / 1e6:.2f}M "
            f"non-embedding) | {plan.max_steps} steps x {plan.tokens_per_step} tokens (global batch "
            f"{plan.global_batch} = {plan.micro_batch} x {plan.world_size} devices x {plan.accumulate} accumulation)",
            flush=True,
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*exists and is not empty.*")  # resuming: expected
        try:
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        except SystemExit:  # Lightning's exit on SIGTERM (code 0) and on Ctrl-C (code 1)
            if guard.signum is None:
                raise
    if guard.signum is not None:
        raise Interrupted(guard.signum, trainer.global_step, guard.saved)

    ckpt_cb = trainer.checkpoint_callback
    if trainer.global_step > 0 and getattr(ckpt_cb, "_last_global_step_saved", -1) != trainer.global_step:
        trainer.save_checkpoint(str(last))  # the budget ended between two periodic checkpoints

    if trainer.global_step < plan.max_steps:  # stopped early (a callback, an interrupt): no final.json
        if trainer.is_global_zero:
            print(f"[audiolm] stopped at step {trainer.global_step} of {plan.max_steps}; rerun the same command to resume")
        return None
    metrics = module.last_val_metrics
    if not metrics or module._last_val_step != trainer.global_step:
        metrics = _final_validation(trainer, module, datamodule)
    throughput = next(cb for cb in trainer.callbacks if isinstance(cb, ThroughputMonitor))
    seconds = float(trainer.strategy.reduce(torch.tensor(module.train_audio_seconds, dtype=torch.float64), reduce_op="sum"))
    summary = final_summary(cfg, metrics, trainer.global_step, plan, throughput.train_time_s or (time.time() - started),
                            params, fpt, seconds)
    if trainer.is_global_zero:
        (run_dir / "final.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _final_validation(trainer: pl.Trainer, module: LMModule, datamodule) -> dict[str, Any]:
    from lightning.pytorch.utilities.model_helpers import is_overridden

    if datamodule is None or not is_overridden("val_dataloader", datamodule):
        return {}
    trainer.validate(module, datamodule=datamodule, verbose=False)
    return module.last_val_metrics
