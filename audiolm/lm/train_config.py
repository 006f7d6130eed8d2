"""Schema of an LM training run (``conf/lm/*.yaml``): model + data + optimizer + trainer.

Field names are a contract (docs/architecture.md). Load with :func:`load_train_config`, which
merges the YAML (``_base_`` chains allowed) and ``key=value`` overrides and then checks the
values, raising :class:`~audiolm.config.ConfigError` that names the offending key.

The training budget is in *tokens*: ``trainer.max_tokens`` (see :func:`plan_steps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

from audiolm.config import ConfigError, load_config
from audiolm.lm.config import ModelConfig
from audiolm.lm.schedules import SCHEDULES
from audiolm.tokens.datamodule import DataConfig

OPTIMIZERS = ("cautious_adamw", "adamw")
STRATEGIES = ("auto", "ddp", "fsdp")
NAN_POLICIES = ("stop", "skip")
COMPILE_SCOPES = ("blocks", "model")


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule. Defaults are SODA's recipe."""

    name: str = "cautious_adamw"  # cautious_adamw | adamw
    lr: float = 3e-4
    betas: List[float] = field(default_factory=lambda: [0.98, 0.98])
    weight_decay: float = 0.033  # decoupled; not applied to 1-D parameters (norm weights)
    eps: float = 1e-8
    adamc_weight_decay: bool = False  # AdamC: weight decay follows the lr schedule (wd * lr_t / lr_peak), as SODA
    schedule: str = "wsd"  # wsd | cosine | constant
    warmup_frac: float = 0.1  # fraction of the optimizer steps spent in linear warm-up
    decay_frac: float = 0.2  # wsd: fraction of the steps of the final linear decay
    min_lr_ratio: float = 0.0  # lr at the end of the decay, as a fraction of lr
    z_loss: float = 1e-4  # weight of mean(logsumexp(logits)^2)
    grad_clip: float = 1.0  # max global gradient norm; 0 = no clipping (the norm is still logged)


@dataclass
class TrainerConfig:
    """Lightning trainer settings. Steps are optimizer steps."""

    max_tokens: float = 0  # training budget in tokens (5e11 allowed): steps = max_tokens // tokens per step
    epochs: float = 0  # instead of max_tokens: passes over the training data (fine-tuning), counted at start
    global_batch_size: int = 0  # sequences per optimizer step over all devices; 0 = data.batch_size x world size
    precision: str = "bf16-mixed"  # any Lightning precision: bf16-mixed | 32-true | bf16-true | 16-mixed
    accelerator: str = "auto"  # auto | cpu | gpu | cuda
    devices: int = -1  # devices per node; -1 = all visible (1 on CPU)
    num_nodes: int = 1
    strategy: str = "auto"  # auto | ddp | fsdp
    activation_checkpointing: bool = False
    compile: bool = False  # torch.compile the model's forward
    compile_scope: str = "blocks"  # blocks: each decoder block on its own (short compile, one graph reused) | model
    val_every_n_steps: int = 1000  # 0 = validate only at the end
    val_batches: int = 0  # batches per validation; 0 = the whole validation set
    ckpt_every_n_steps: int = 1000  # step-N.ckpt every N steps (last.ckpt too); 0 = only at the end
    log_every_n_steps: int = 10
    seed: int = 0
    peak_flops: float = 0.0  # per-device peak FLOP/s for MFU; 0 = look up the device (bf16/fp32 tables)
    nan_policy: str = "stop"  # stop | skip (a non-finite loss skips that batch's update)
    progress_bar: bool = True


@dataclass
class LMTrainConfig:
    name: str = ""  # run name; "" = the config file's name
    exp_dir: str = "exp/lm"  # the run writes to exp_dir/name/
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    init_from: str = ""  # warm start: a .ckpt of `audiolm train lm`, or a local HF Qwen3 directory (hf:DIR); "" = cold
    callbacks: List[Dict[str, Any]] = field(default_factory=list)  # [{class_path, init_args}]


def _bad(key: str, msg: str) -> None:
    raise ConfigError(f"{key}: {msg}")


def _choice(key: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        _bad(key, f"must be one of {list(choices)}, got {value!r}")


def validate_train_config(cfg: LMTrainConfig, *, require_data: bool = False) -> LMTrainConfig:
    """Check values that the schema's types cannot; raise :class:`ConfigError` naming the key."""
    o, t = cfg.optim, cfg.trainer
    _choice("optim.name", o.name, OPTIMIZERS)
    _choice("optim.schedule", o.schedule, SCHEDULES)
    _choice("trainer.strategy", t.strategy, STRATEGIES)
    _choice("trainer.nan_policy", t.nan_policy, NAN_POLICIES)
    _choice("trainer.compile_scope", t.compile_scope, COMPILE_SCOPES)
    if t.strategy == "fsdp" and t.accelerator == "cpu":
        _bad("trainer.strategy", "fsdp needs GPUs (Lightning's FSDP has no CPU path); use ddp on CPU")
    if o.lr <= 0:
        _bad("optim.lr", f"must be positive, got {o.lr}")
    if len(o.betas) != 2 or not all(0.0 <= b < 1.0 for b in o.betas):
        _bad("optim.betas", f"must be two numbers in [0, 1), got {list(o.betas)}")
    for key in ("weight_decay", "eps", "z_loss", "grad_clip"):
        if getattr(o, key) < 0:
            _bad(f"optim.{key}", f"must be >= 0, got {getattr(o, key)}")
    for key in ("warmup_frac", "decay_frac", "min_lr_ratio"):
        if not 0.0 <= getattr(o, key) <= 1.0:
            _bad(f"optim.{key}", f"must lie in [0, 1], got {getattr(o, key)}")
    if o.warmup_frac + (o.decay_frac if o.schedule == "wsd" else 0.0) > 1.0:
        _bad("optim.decay_frac", f"warmup_frac + decay_frac = {o.warmup_frac + o.decay_frac} > 1")
    if t.epochs < 0:
        _bad("trainer.epochs", f"must be >= 0, got {t.epochs}")
    if t.max_tokens <= 0 and t.epochs <= 0:
        _bad("trainer.max_tokens", f"the token budget must be positive (or set trainer.epochs), got {t.max_tokens}")
    for key in ("global_batch_size", "val_every_n_steps", "val_batches", "ckpt_every_n_steps", "peak_flops"):
        if getattr(t, key) < 0:
            _bad(f"trainer.{key}", f"must be >= 0, got {getattr(t, key)}")
    if t.log_every_n_steps <= 0:
        _bad("trainer.log_every_n_steps", f"must be positive, got {t.log_every_n_steps}")
    if t.devices == 0 or t.devices < -1:
        _bad("trainer.devices", f"must be -1 (all) or a positive count, got {t.devices}")
    if t.num_nodes <= 0:
        _bad("trainer.num_nodes", f"must be positive, got {t.num_nodes}")
    cfg.data.validate(require_data=require_data)
    if cfg.data.seq_len > cfg.model.max_seq_len:
        _bad("data.seq_len", f"{cfg.data.seq_len} exceeds model.max_seq_len={cfg.model.max_seq_len}")
    for i, cb in enumerate(cfg.callbacks):
        if not isinstance(cb, dict) or "class_path" not in cb:
            _bad(f"callbacks[{i}]", "must be a mapping {class_path: module.Class, init_args: {...}}")
        unknown = set(cb) - {"class_path", "init_args"}
        if unknown:
            _bad(f"callbacks[{i}]", f"unknown keys {sorted(unknown)} (allowed: class_path, init_args)")
    if cfg.init_from.startswith("hf:"):
        cfg.init_from = cfg.init_from[3:]
    if cfg.init_from and not Path(cfg.init_from).exists():
        _bad("init_from", f"{cfg.init_from!r} does not exist (a .ckpt of `audiolm train lm` or a local Hugging Face "
                          "Qwen3 directory)")
    return cfg


def config_name(path: str | Path) -> str:
    """``conf/lm/soda_1.7b.yaml`` / ``soda_1.7b`` -> ``soda_1.7b`` (only a .yaml/.yml suffix is dropped)."""
    name = Path(str(path)).name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def load_train_config(path: str | Path | None, overrides: Sequence[str] = (), *, require_data: bool = False) -> LMTrainConfig:
    """``conf/lm/<path>`` (or a file path) + ``key=value`` overrides -> checked :class:`LMTrainConfig`.

    ``name`` defaults to the config file's stem, so rerunning a config resumes its run.
    """
    cfg = load_config(LMTrainConfig, path, overrides, group="lm")
    if not cfg.name and path is not None:
        cfg.name = config_name(path)
    return validate_train_config(cfg, require_data=require_data)


@dataclass(frozen=True)
class StepPlan:
    """How the token budget turns into optimizer steps."""

    world_size: int
    micro_batch: int  # sequences per device per forward/backward (data.batch_size)
    accumulate: int  # micro batches per optimizer step
    global_batch: int  # sequences per optimizer step = micro_batch x world_size x accumulate
    seq_len: int
    tokens_per_step: int  # global_batch x seq_len
    max_steps: int  # max_tokens // tokens_per_step (at least 1)


def plan_steps(cfg: LMTrainConfig, world_size: int) -> StepPlan:
    """``max_steps = max_tokens // (global_batch x seq_len)``, where ``global_batch`` is
    ``trainer.global_batch_size`` or, when that is 0, ``data.batch_size x world_size``
    (gradient accumulation makes up the difference). Tokens count every position of the packed
    sequences, padding included."""
    micro = cfg.data.batch_size
    per_pass = micro * world_size
    gb = cfg.trainer.global_batch_size or per_pass
    if gb % per_pass:
        _bad(
            "trainer.global_batch_size",
            f"{gb} is not a multiple of data.batch_size x world size = {micro} x {world_size}",
        )
    acc = gb // per_pass
    tps = gb * cfg.data.seq_len
    steps = max(1, int(cfg.trainer.max_tokens) // tps)
    return StepPlan(world_size, micro, acc, gb, cfg.data.seq_len, tps, steps)

