"""``LMModule``: the LightningModule that trains :class:`audiolm.lm.model.AudioLM`.

Loss: next-token cross-entropy over label positions (``labels != -100``) plus z-loss
``z_loss * mean(logsumexp(logits)^2)`` (PaLM). Every per-token NLL is also booked by the
modality of its label token (``batch["modality"]``: TEXT=0, SEMANTIC=1, ACOUSTIC=2, SPECIAL=3),
giving ``train/loss_{text,semantic,acoustic}`` and, over the validation set, ``val/loss_*`` and
``val/bits_per_audio_second`` = sum of audio-token NLL (nats) / ln 2 / seconds of audio, which
stays comparable between token layouts that spend different numbers of tokens per second.

Checkpoints carry ``checkpoint["audiolm"]``: the run config and model config as plain dicts,
the unified ``tokenizer.json`` text and the codec description (``codec.json`` of the shards),
so :func:`audiolm.lm.checkpoint.load_lm` needs nothing else. Every entry is a plain type, so
checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torchmetrics import Metric

from audiolm.config import config_from_dict, to_dict
from audiolm.lm.config import ModelConfig
from audiolm.lm.model import AudioLM
from audiolm.lm.optim import build_optimizer, param_groups
from audiolm.lm.schedules import make_scheduler
from audiolm.lm.train_config import LMTrainConfig
from audiolm.token_shards import CodecInfo

from audiolm.tokens.modality import ACOUSTIC, SEMANTIC, SPECIAL
from audiolm.tokens.modality import NAMES as MODALITY_NAMES

N_MODALITIES = 4
IGNORE_INDEX = -100
CHECKPOINT_FORMAT = 1
# ModelConfig keys that decide the shape of the weights (a checkpoint must match them all)
SHAPE_KEYS = ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_dim", "qk_norm", "tie_embeddings")


class NonFiniteLossError(FloatingPointError):
    """The training loss (or gradient norm) became NaN/inf and ``trainer.nan_policy`` is ``stop``."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's model shape or vocabulary differs from what the run asks for."""


@dataclass
class LossOutput:
    loss: torch.Tensor  # what is minimised: nll + z_loss * z
    nll: torch.Tensor  # mean NLL over label tokens (nats, detached)
    z: torch.Tensor  # mean logsumexp^2 over label tokens (detached)
    nll_sum: torch.Tensor  # [N_MODALITIES] summed NLL per modality (float32, detached)
    count: torch.Tensor  # [N_MODALITIES] number of label tokens per modality
    n_tokens: torch.Tensor  # label tokens in the batch


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, modality: torch.Tensor | None = None, z_loss: float = 0.0) -> LossOutput:
    """Cross-entropy + z-loss over ``labels != -100`` from full logits, with per-modality NLL
    bookkeeping (training uses the model's fused chunked head instead; same numbers).

    ``logits [B, L, V]``, ``labels [B, L]`` (already the next token of each position),
    ``modality [B, L]`` (modality of the label token; positions outside 0..3 are not booked).
    Statistics are computed in float32 whatever the logits' dtype.
    """
    lse = torch.logsumexp(logits.float(), dim=-1)
    mask = labels != IGNORE_INDEX
    target = logits.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1).float()
    nll_tok = (lse - target) * mask
    denom = mask.sum().clamp_min(1).to(lse.dtype)
    loss = (nll_tok.sum() + z_loss * (lse.square() * mask).sum()) / denom
    return loss_stats(loss, nll_tok.detach(), lse.detach(), labels, modality)


def loss_stats(loss: torch.Tensor, nll: torch.Tensor, lse: torch.Tensor, labels: torch.Tensor,
               modality: torch.Tensor | None) -> LossOutput:
    """Book per-token ``nll``/``lse`` ``[B, L]`` (detached, 0 where ignored) by modality."""
    mask = labels != IGNORE_INDEX
    n = mask.sum()
    denom = n.clamp_min(1).float()
    nll = nll.float() * mask
    with torch.no_grad():
        z = (lse.float().square() * mask).sum() / denom
        nll_sum = torch.zeros(N_MODALITIES, device=nll.device, dtype=torch.float32)
        count = torch.zeros(N_MODALITIES, device=nll.device, dtype=torch.float32)
        if modality is not None:
            m = modality.long()
            booked = mask & (m >= 0) & (m < N_MODALITIES)
            idx = m[booked]
            nll_sum.index_add_(0, idx, nll[booked])
            count.index_add_(0, idx, torch.ones_like(idx, dtype=torch.float32))
    return LossOutput(loss, nll.sum() / denom, z, nll_sum, count, n)


def batch_audio_seconds(batch: dict, frame_rate: float | None) -> torch.Tensor | None:
    """Seconds of audio whose tokens are labels in this batch (``audio_seconds``, or
    ``n_audio_frames / frame_rate``); None when the batch says nothing about it."""
    if "audio_seconds" in batch:
        return torch.as_tensor(batch["audio_seconds"], dtype=torch.float32).sum()
    if "n_audio_frames" in batch and frame_rate:
        return torch.as_tensor(batch["n_audio_frames"], dtype=torch.float32).sum() / float(frame_rate)
    return None


class NLLStats(Metric):
    """Summed NLL and token counts per modality plus seconds of audio (summed over ranks)."""

    full_state_update = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.add_state("nll", default=torch.zeros(N_MODALITIES, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros(N_MODALITIES, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total_nll", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total_count", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("audio_seconds", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, out: LossOutput, audio_seconds: torch.Tensor | None = None) -> None:  # type: ignore[override]
        self.nll += out.nll_sum.to(self.nll)
        self.count += out.count.to(self.count)
        self.total_nll += (out.nll.detach() * out.n_tokens).to(self.total_nll)
        self.total_count += out.n_tokens.to(self.total_count)
        if audio_seconds is not None:
            self.audio_seconds += audio_seconds.to(self.audio_seconds)

    def compute(self) -> dict[str, float]:  # type: ignore[override]
        res: dict[str, float] = {}
        if self.total_count > 0:
            res["loss"] = float(self.total_nll / self.total_count)
        for code, name in MODALITY_NAMES.items():
            if self.count[code] > 0:
                res[f"loss_{name}"] = float(self.nll[code] / self.count[code])
        audio_nll = self.nll[SEMANTIC] + self.nll[ACOUSTIC]
        audio_n = self.count[SEMANTIC] + self.count[ACOUSTIC]
        if audio_n > 0:
            res["loss_audio"] = float(audio_nll / audio_n)
            if self.audio_seconds > 0:
                res["bits_per_audio_second"] = float(audio_nll / math.log(2) / self.audio_seconds)
        return res


class LMModule(pl.LightningModule):
    """Trains an :class:`AudioLM` from an :class:`LMTrainConfig` (given as a plain dict).

    ``model``: an already built model (a warm start); otherwise one is built from ``config``.
    ``tokenizer_json`` / ``codec``: stored in every checkpoint for :func:`~audiolm.lm.checkpoint.load_lm`.
    """

    def __init__(self, config: LMTrainConfig | dict, codec: CodecInfo | dict | None = None,
                 tokenizer_json: str | None = None, model: nn.Module | None = None):
        super().__init__()
        typed = isinstance(config, LMTrainConfig)
        if isinstance(codec, dict):  # from Lightning's hparams (load_from_checkpoint)
            codec = CodecInfo.from_stored(codec, "LMModule hparams")
        self.save_hyperparameters({"config": to_dict(config) if typed else config,
                                   "codec": codec.to_dict() if codec else None})
        self.cfg: LMTrainConfig = config if typed else config_from_dict(LMTrainConfig, config)
        if self.cfg.model.vocab_size <= 0:
            raise ValueError("LMModule needs model.vocab_size > 0 (train_lm takes it from the tokenizer)")
        self.model = model if model is not None else AudioLM(self.cfg.model)
        if hasattr(self.model, "activation_checkpointing"):
            # FSDP checkpoints blocks through the strategy's own policy (see train.py)
            self.model.activation_checkpointing = bool(
                self.cfg.trainer.activation_checkpointing and self.cfg.trainer.strategy != "fsdp"
            )
        self.codec = codec
        self.tokenizer_json = tokenizer_json
        self.frame_rate = codec.frame_rate if codec and codec.frame_rate else None
        self.val_stats = NLLStats()
        self.last_val_metrics: dict[str, float] = {}
        self.skipped_steps = 0
        #: seconds of audio whose tokens were training labels so far (this rank), kept across resume: it is
        #: what matches runs of other token compositions "in seconds of audio" (recipes/ablations)
        self.train_audio_seconds = 0.0
        self._last_val_step = -1
        self._compiled = None
        self._blocks_compiled = False

    def loaded(self):
        """This module as a :class:`~audiolm.lm.loaded.LoadedLM` (what evaluation during training uses)."""
        from audiolm.lm.loaded import LoadedLM, layout_of

        tokenizer = layout = None
        if self.tokenizer_json:
            from audiolm.lm.checkpoint import load_tokenizer_from_json

            tokenizer = load_tokenizer_from_json(self.tokenizer_json)
            layout = layout_of(self.cfg, tokenizer)
        step = int(self.trainer.global_step) if self._trainer is not None else 0
        return LoadedLM(model=self.model, tokenizer=tokenizer, layout=layout, codec_spec=self.codec.spec if self.codec else None,
                        config=self.cfg, codec_info=self.codec, step=step)

    # ---- forward -------------------------------------------------------------------------
    def forward(self, input_ids, position_ids=None, document_ids=None):
        fn = self._compiled if self._compiled is not None else self.model
        return fn(input_ids, position_ids, document_ids)

    def on_fit_start(self) -> None:
        if self.cfg.trainer.compile and self._compiled is None and not self._blocks_compiled:
            if self.cfg.trainer.compile_scope == "blocks":
                self.model.compile_blocks()
                self._blocks_compiled = True
            else:  # kept off the module tree so that state_dict keys stay those of the plain model
                object.__setattr__(self, "_compiled", torch.compile(self.model))

    def _loss(self, batch: dict) -> LossOutput:
        """The model's fused chunked head + cross-entropy + z-loss (no [B, L, V] logits kept)."""
        fn = self._compiled if self._compiled is not None else self.model
        out = fn(batch["input_ids"], batch.get("position_ids"), batch.get("document_ids"),
                 labels=batch["labels"], z_loss=self.cfg.optim.z_loss)
        return loss_stats(out.loss, out.nll, out.lse, batch["labels"], batch.get("modality"))

    # ---- training ------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int):
        out = self._loss(batch)
        seconds = batch_audio_seconds(batch, self.frame_rate)
        seconds = torch.zeros(1, device=out.count.device) if seconds is None else seconds.reshape(1).to(out.count)
        host = torch.cat([out.loss.detach().float().reshape(1), seconds.float(), out.count]).tolist()  # one host sync
        loss_value, counts = host[0], host[2:]
        self.train_audio_seconds += host[1]
        finite = self.trainer.strategy.reduce_boolean_decision(math.isfinite(loss_value), all=True)
        if not finite:
            self._non_finite(f"training loss is {loss_value}")
            return None
        self.log("train/loss", out.nll.detach(), prog_bar=True)
        if self.cfg.optim.z_loss:
            self.log("train/z_loss", out.z.detach())
        for code, name in MODALITY_NAMES.items():
            if code != SPECIAL and counts[code] > 0:
                self.log(f"train/loss_{name}", out.nll_sum[code] / counts[code])
        doc = batch.get("document_ids")
        pad = (doc < 0) if doc is not None else (batch["labels"] == IGNORE_INDEX)
        self.log("train/padding_ratio", pad.float().mean())
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"])
        return out.loss

    def _non_finite(self, what: str) -> None:
        step = self.trainer.global_step
        msg = f"{what} at step {step} (nan_policy={self.cfg.trainer.nan_policy})"
        if self.cfg.trainer.nan_policy == "stop":
            raise NonFiniteLossError(
                msg + ": training stopped. Lower optim.lr, check the data, resume from an earlier "
                "checkpoint, or set trainer.nan_policy=skip to drop such batches"
            )
        self.skipped_steps += 1
        pl.utilities.rank_zero_warn(f"{msg}: update skipped ({self.skipped_steps} so far)")
        self.log("train/skipped_steps", float(self.skipped_steps))

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        clip = self.cfg.optim.grad_clip
        max_norm = clip if clip > 0 else float("inf")
        root = self.trainer.model if self._trainer is not None else self
        if hasattr(root, "clip_grad_norm_"):  # FSDP: the root module computes the global norm
            norm = root.clip_grad_norm_(max_norm)
        else:
            norm = torch.nn.utils.clip_grad_norm_([p for p in self.parameters() if p.grad is not None], max_norm)
        if not torch.isfinite(norm):
            self._non_finite(f"gradient norm is {float(norm)}")
            optimizer.zero_grad(set_to_none=True)  # 'skip': no parameter has a gradient, none moves
            return
        self.log("train/grad_norm", norm)

    def configure_optimizers(self):
        o = self.cfg.optim
        opt = build_optimizer(o.name, param_groups(self.model, o.weight_decay), o.lr, o.betas, o.weight_decay, o.eps,
                              o.adamc_weight_decay)
        max_steps = self.trainer.max_steps
        if max_steps is None or max_steps <= 0:
            raise ValueError("LMModule needs trainer.max_steps (train_lm derives it from trainer.max_tokens)")
        sched = make_scheduler(opt, max_steps, o.schedule, o.warmup_frac, o.decay_frac, o.min_lr_ratio)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1}}

    # ---- validation ----------------------------------------------------------------------
    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        out = self._loss(batch)
        self.val_stats.update(out, batch_audio_seconds(batch, self.frame_rate))

    def on_validation_epoch_end(self) -> None:
        metrics = self.val_stats.compute()
        self.val_stats.reset()
        self.last_val_metrics = metrics
        self._last_val_step = self.trainer.global_step
        if metrics and not self.trainer.sanity_checking:
            self.log_dict({f"val/{k}": v for k, v in metrics.items()}, sync_dist=True)  # already equal on all ranks

    # ---- checkpoints ---------------------------------------------------------------------
    def checkpoint_meta(self) -> dict:
        model_cfg = getattr(self.model, "cfg", self.cfg.model)
        return {
            "format": CHECKPOINT_FORMAT,
            "config": to_dict(self.cfg),
            "model_config": to_dict(model_cfg),
            "tokenizer_json": self.tokenizer_json,
            "codec": self.codec.to_dict() if self.codec else None,
            "skipped_steps": self.skipped_steps,
            "train_audio_seconds": self.train_audio_seconds,
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["audiolm"] = self.checkpoint_meta()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        meta = checkpoint.get("audiolm")
        if meta is None:
            raise CheckpointMismatchError("not an audiolm LM checkpoint (no 'audiolm' entry)")
        check_model_compatible(meta["model_config"], to_dict(getattr(self.model, "cfg", self.cfg.model)))
        self.skipped_steps = int(meta.get("skipped_steps", 0))
        self.train_audio_seconds = float(meta.get("train_audio_seconds", 0.0))


def check_model_compatible(found: dict, expected: dict, where: str = "checkpoint") -> None:
    """Raise :class:`CheckpointMismatchError` listing every shape/vocabulary key that differs."""
    diffs = [f"model.{k}: {where} has {found.get(k)!r}, the run needs {expected.get(k)!r}"
             for k in SHAPE_KEYS if found.get(k) != expected.get(k)]
    if diffs:
        raise CheckpointMismatchError(
            f"the {where} holds a model of another shape or vocabulary:\n  " + "\n  ".join(diffs)
            + "\nUse a fresh run name (name=...) or a config that matches the checkpoint."
        )


def model_config_of(meta: dict) -> ModelConfig:
    return config_from_dict(ModelConfig, meta["model_config"])
