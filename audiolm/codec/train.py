"""``audiolm train codec``: run directory, teacher pre-stage, Lightning Trainer, exact resume."""

from __future__ import annotations

import datetime
import json
import logging
import time
from pathlib import Path

import torch

from ..checkpointing import AtomicCheckpointIO, SaveOnInterrupt, atomic_copy, newest_valid_checkpoint, read_step
from ..config import load_config, save_config, to_dict
from ..errors import Interrupted
from ..runinfo import git_sha, package_versions
from .config import CodecTrainConfig

log = logging.getLogger("audiolm")


def load_train_config(path, overrides=()) -> CodecTrainConfig:
    cfg = load_config(CodecTrainConfig, path, list(overrides), group="codec")
    if not cfg.name:
        cfg.name = Path(str(path)).stem if path else "codec"
    return cfg


def _checkpoint_callback(run_dir: Path, cfg: CodecTrainConfig):
    from lightning.pytorch.callbacks import Callback

    class RunCheckpoints(Callback):
        """last.ckpt after every validation period (and at the end); step-N.ckpt every ckpt_every_n_steps."""

        def __init__(self):
            self.saved_step = -1

        def save(self, trainer, module):
            step = module.train_step
            ckdir = run_dir / "checkpoints"
            if step == self.saved_step or trainer.sanity_checking:
                return str(ckdir / "last.ckpt") if self.saved_step >= 0 else None
            trainer.save_checkpoint(ckdir / "last.ckpt")  # atomic (AtomicCheckpointIO): a kill leaves the old one
            if trainer.is_global_zero:
                every = cfg.trainer.ckpt_every_n_steps
                if every and (step % every == 0 or step >= cfg.trainer.max_steps):
                    atomic_copy(ckdir / "last.ckpt", ckdir / f"step-{step}.ckpt")
            self.saved_step = step
            return str(ckdir / "last.ckpt")

        def on_train_epoch_end(self, trainer, module):
            self.save(trainer, module)

        def on_train_end(self, trainer, module):
            self.save(trainer, module)

    return RunCheckpoints()


def train_codec(cfg: CodecTrainConfig, *, progress: bool = True, teacher=None) -> dict:
    """Train (or resume) the codec described by ``cfg``; returns a summary dict."""
    import lightning as L
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch.utils.data import DataLoader

    from .data import CropBatches, FixedClips, StepSampler, load_cuts
    from .module import CodecModule
    from .teachers import build_teacher

    if cfg.trainer.num_threads:
        torch.set_num_threads(cfg.trainer.num_threads)
    run_dir = Path(cfg.exp_dir) / cfg.name
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    resume_from = newest_valid_checkpoint(run_dir / "checkpoints", step_key="codec_train_step")
    hp = run_dir / "hparams.yaml"
    if resume_from is not None and hp.is_file():
        import yaml

        old = yaml.safe_load(hp.read_text()).get("config", {})
        if old.get("model") != to_dict(cfg)["model"]:
            raise ValueError(f"{run_dir} holds a run with a different model config; use another name= or exp_dir=")
    save_config({"config": to_dict(cfg), "git_sha": git_sha(), "versions": package_versions(),
                 "started": datetime.datetime.now().isoformat(timespec="seconds")}, hp)

    resume_step = 0
    if resume_from is not None:
        if resume_from != ckpt:
            print(f"[audiolm] resuming from {resume_from}", flush=True)
        resume_step = read_step(resume_from, "codec_train_step")
        if resume_step >= cfg.trainer.max_steps:
            log.info("%s: already trained to step %d (max_steps=%d); nothing to do", run_dir, resume_step,
                     cfg.trainer.max_steps)
            return {"run_dir": str(run_dir), "steps": resume_step, "resumed_from": resume_step, "trained": False}

    L.seed_everything(cfg.trainer.seed, workers=True, verbose=False)
    t0 = time.time()
    train_cuts = load_cuts(cfg.train_cuts)
    if teacher is None:
        teacher = build_teacher(cfg.teacher, cfg.model.sample_rate, run_dir, train_cuts, cfg.trainer.seed)
    teacher_s = time.time() - t0
    module = CodecModule(to_dict(cfg))
    module.set_teacher(teacher)
    module.train_step = resume_step  # the sampler reads it before Lightning restores the rest

    sr = cfg.model.sample_rate
    seg = int(round(cfg.data.segment_seconds * sr))
    train_ds = CropBatches(train_cuts, sr, seg, cfg.data.batch_size, cfg.trainer.seed, cfg.data.cache_audio)
    period = cfg.trainer.val_every_n_steps or cfg.trainer.max_steps
    train_dl = DataLoader(train_ds, batch_size=None, sampler=StepSampler(module, period, cfg.trainer.max_steps),
                          num_workers=cfg.data.num_workers, persistent_workers=cfg.data.num_workers > 0)
    val_dl = None
    if cfg.val_cuts:
        val_ds = FixedClips(load_cuts(cfg.val_cuts), sr, cfg.data.val_seconds, cfg.data.val_max_cuts)
        if len(val_ds):
            val_dl = DataLoader(val_ds, batch_size=cfg.data.batch_size, num_workers=0)

    saver = _checkpoint_callback(run_dir, cfg)
    guard = SaveOnInterrupt(saver.save)
    max_time = None
    if cfg.trainer.max_time_minutes > 0:
        max_time = datetime.timedelta(minutes=cfg.trainer.max_time_minutes)
    trainer = L.Trainer(
        default_root_dir=str(run_dir),
        logger=TensorBoardLogger(save_dir=str(run_dir), name="tb", version="", default_hp_metric=False),
        accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices, strategy=cfg.trainer.strategy,
        precision=cfg.trainer.precision, max_epochs=-1, max_steps=-1, max_time=max_time,
        enable_checkpointing=False, callbacks=[saver, guard], plugins=[AtomicCheckpointIO()],
        enable_progress_bar=progress, log_every_n_steps=cfg.trainer.log_every_n_steps, num_sanity_val_steps=0,
        limit_val_batches=1.0 if val_dl is not None else 0, enable_model_summary=progress,
        use_distributed_sampler=False,
    )
    try:
        trainer.fit(module, train_dataloaders=train_dl, val_dataloaders=val_dl,
                    ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    except SystemExit:  # Lightning's exit on SIGTERM (code 0) and on Ctrl-C (code 1)
        if guard.signum is None:
            raise
    if guard.signum is not None:
        raise Interrupted(guard.signum, module.train_step, guard.saved)
    summary = {"run_dir": str(run_dir), "steps": module.train_step, "resumed_from": resume_step, "trained": True,
               "wall_time_s": time.time() - t0, "teacher_s": teacher_s, "checkpoint": str(ckpt)}
    if trainer.is_global_zero:
        (run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary
