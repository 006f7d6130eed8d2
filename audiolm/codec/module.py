"""CodecModule: the LightningModule that trains the split-RVQ codec (manual optimization, G + D)."""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from ..config import config_from_dict
from .config import CodecTrainConfig
from .discriminator import MultiScaleSTFTDiscriminator
from .losses import (MultiResolutionSTFTLoss, MultiScaleMelLoss, distillation_loss, feature_matching_loss,
                     hinge_d_loss, hinge_g_loss)
from .model import build_codec
from .teachers import Teacher, align_features


def _entropy_stats(codes: torch.Tensor, size: int) -> tuple[float, float]:
    """(fraction of the codebook used, perplexity) of a flat tensor of codes."""
    counts = torch.bincount(codes.flatten(), minlength=size).float()
    p = counts / counts.sum().clamp_min(1)
    ent = -(p[p > 0] * p[p > 0].log()).sum()
    return float((counts > 0).float().mean()), float(ent.exp())


class CodecModule(L.LightningModule):
    def __init__(self, config: dict):
        super().__init__()
        self.save_hyperparameters()
        self.cfg: CodecTrainConfig = config_from_dict(CodecTrainConfig, config)
        c = self.cfg
        self.model = build_codec(c.model)
        self.discriminator = MultiScaleSTFTDiscriminator(c.disc.n_ffts, c.disc.filters, c.disc.max_filters, c.disc.n_layers)
        self.mel_loss = MultiScaleMelLoss(c.model.sample_rate, c.loss.mel_n_ffts, c.loss.mel_n_mels)
        self.stft_loss = MultiResolutionSTFTLoss(c.loss.stft_n_ffts) if c.loss.stft_weight > 0 else None
        self.distill_proj: nn.Module | None = None
        self._teacher: list[Teacher] = []  # kept out of the state dict (a WavLM would bloat checkpoints)
        self.automatic_optimization = False
        self.train_step = 0  # batches trained; saved in checkpoints (Lightning's global_step counts G and D)
        self._val_codes: list[torch.Tensor] = []
        self._val_sums: dict[str, float] = {}

    # --- teacher ---------------------------------------------------------------------------
    def set_teacher(self, teacher: Teacher | None) -> None:
        self._teacher = [teacher.eval()] if teacher is not None else []
        if teacher is not None and self.distill_proj is None:
            self.distill_proj = nn.Linear(self.cfg.model.seanet.dimension, teacher.dim)

    @property
    def teacher(self) -> Teacher | None:
        return self._teacher[0] if self._teacher else None

    def on_fit_start(self) -> None:
        if self.teacher is not None:
            self.teacher.to(self.device)

    # --- checkpoint extras -----------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["codec_train_step"] = self.train_step

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.train_step = int(checkpoint.get("codec_train_step", 0))
        # The distillation head exists only when a teacher is set; make room for its weights.
        w = checkpoint["state_dict"].get("distill_proj.weight")
        if w is not None and self.distill_proj is None:
            self.distill_proj = nn.Linear(w.shape[1], w.shape[0])

    # --- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self):
        o = self.cfg.optim
        gen = list(self.model.parameters()) + (list(self.distill_proj.parameters()) if self.distill_proj else [])
        opt_g = torch.optim.AdamW(gen, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
        opt_d = torch.optim.AdamW(self.discriminator.parameters(), lr=o.lr_disc, betas=tuple(o.betas),
                                  weight_decay=o.weight_decay)
        return [opt_g, opt_d]

    def progress(self, step: int) -> float:
        """Fraction of the training budget used: steps, or wall-clock when max_time_minutes caps the run
        (then the schedule fits whatever the machine manages in that time)."""
        o, total = self.cfg.optim, max(1, self.cfg.trainer.max_steps)
        frac = (step - o.warmup_steps) / max(1, total - o.warmup_steps)
        cap = self.cfg.trainer.max_time_minutes * 60
        timer = None
        if self._trainer is not None:
            from lightning.pytorch.callbacks import Timer

            timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        if cap > 0 and timer is not None:
            frac = max(frac, timer.time_elapsed("train") / cap)
        return min(1.0, max(0.0, frac))

    def lr_factor(self, step: int) -> float:
        o = self.cfg.optim
        if o.warmup_steps and step < o.warmup_steps:
            return (step + 1) / o.warmup_steps
        if o.schedule == "cosine":
            frac = self.progress(step)
            return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))
        return 1.0

    def _set_lr(self, opt, base: float, factor: float) -> None:
        for g in opt.param_groups:
            g["lr"] = base * factor

    def generator_losses(self, wav: torch.Tensor, out, adversarial: bool) -> dict[str, torch.Tensor]:
        lc = self.cfg.loss
        y_hat = out.audio
        losses: dict[str, torch.Tensor] = {"commit": out.q.commitment}
        if y_hat is None:  # spectral decoder: compare STFT log-magnitudes and their log-mels directly
            losses.update(self.spectral_losses(out.log_mag, wav))
        else:
            losses["mel"] = self.mel_loss(y_hat, wav)
            if self.stft_loss is not None:
                losses["stft"] = self.stft_loss(y_hat, wav)
            if lc.waveform_l1_weight > 0:
                losses["wave_l1"] = F.l1_loss(y_hat, wav)
        if self.teacher is not None and lc.distill_weight > 0:
            with torch.no_grad():
                target = align_features(self.teacher.features(wav).float(), out.q.semantic.shape[-1])
            student = self.distill_proj(out.q.semantic.transpose(1, 2))
            losses["distill"] = distillation_loss(student, target)
        if adversarial and y_hat is not None:
            fake_logits, fake_feats = self.discriminator(y_hat)
            with torch.no_grad():
                _, real_feats = self.discriminator(wav)
            losses["adv"] = hinge_g_loss(fake_logits)
            losses["feat"] = feature_matching_loss(real_feats, fake_feats)
        return losses

    def spectral_losses(self, log_mag: torch.Tensor, wav: torch.Tensor) -> dict[str, torch.Tensor]:
        target = self.model.log_magnitude(wav)
        pred = log_mag[..., : target.shape[-1]]
        return {"mel": F.l1_loss(self.model.log_mel_of(pred), self.model.log_mel_of(target)),
                "stft": F.l1_loss(pred, target)}

    def total_generator_loss(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        lc = self.cfg.loss
        w = {"mel": lc.mel_weight, "stft": lc.stft_weight, "wave_l1": lc.waveform_l1_weight, "commit": lc.commit_weight,
             "distill": lc.distill_weight, "adv": lc.adv_weight, "feat": lc.feat_weight}
        return sum(w[k] * v for k, v in losses.items())

    def training_step(self, batch, batch_idx):
        c = self.cfg
        step = int(batch["step"]) if "step" in batch else self.train_step
        torch.manual_seed(c.trainer.seed * 1_000_003 + step)  # quantizer dropout / restarts: exact on resume
        opt_g, opt_d = self.optimizers()
        factor = self.lr_factor(step)
        self._set_lr(opt_g, c.optim.lr, factor)
        self._set_lr(opt_d, c.optim.lr_disc, factor)
        wav = batch["audio"]
        adversarial = c.loss.adv_weight > 0 and step >= c.loss.adv_start_step and c.model.kind == "seanet"
        self.model.train()
        out = self.model(wav)
        losses = self.generator_losses(wav, out, adversarial)
        loss_g = self.total_generator_loss(losses)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        gnorm_g = self._clip(opt_g)
        opt_g.step()
        logs = {f"train/{k}": v.detach() for k, v in losses.items()}
        logs["train/loss_g"] = loss_g.detach()
        logs["train/grad_norm_g"] = gnorm_g
        if adversarial:
            real_logits, _ = self.discriminator(wav)
            fake_logits, _ = self.discriminator(out.audio.detach())
            loss_d = hinge_d_loss(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            logs["train/grad_norm_d"] = self._clip(opt_d)
            opt_d.step()
            logs["train/loss_d"] = loss_d.detach()
        self.train_step = step + 1
        # Lightning writes these every trainer.log_every_n_steps; computing them is cheap.
        logs["train/lr"] = torch.tensor(c.optim.lr * factor)
        for q, cb in enumerate(self.model.quantizer.codebooks()):
            usage, ppl = _entropy_stats(out.q.codes[:, q], cb.size)
            logs[f"codebook/{q}_batch_usage"] = torch.tensor(usage)
            logs[f"codebook/{q}_perplexity"] = torch.tensor(ppl)
            logs[f"codebook/{q}_restarts"] = torch.tensor(float(cb.n_restarted))
        logs["step"] = torch.tensor(float(self.train_step))
        self.log_dict({k: v.float() for k, v in logs.items()}, on_step=True, on_epoch=False, sync_dist=False)
        self.log("mel", losses["mel"].detach(), prog_bar=True, on_step=True, on_epoch=False, logger=False)
        if "distill" in losses:
            self.log("dist", losses["distill"].detach(), prog_bar=True, on_step=True, on_epoch=False, logger=False)
        if self.trainer is not None and self.train_step >= c.trainer.max_steps:
            self.trainer.should_stop = True
        return loss_g.detach()

    def _clip(self, opt) -> torch.Tensor:
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        clip = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else float("inf")
        return torch.nn.utils.clip_grad_norm_(params, clip).detach() if params else torch.tensor(0.0)

    # --- validation ------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_codes, self._val_sums = [], {}

    def validation_step(self, batch, batch_idx):
        wav = batch["audio"]
        self.model.eval()
        with torch.no_grad():
            out = self.model(wav)
            if out.audio is None:
                losses = self.spectral_losses(out.log_mag, wav)
                cb0 = self.model.decode_latent(self.model.quantizer.decode(out.q.codes[:, :1]))
                losses["mel_cb0_only"] = self.spectral_losses(cb0, wav)["mel"]
            else:
                losses = {"mel": self.mel_loss(out.audio, wav), "l1": F.l1_loss(out.audio, wav)}
                # reconstruction from codebook 0 alone (what the semantic tokens carry)
                cb0 = self.model.decode(out.q.codes[:, :1])[..., : wav.shape[-1]]
                losses["mel_cb0_only"] = self.mel_loss(cb0, wav)
            if self.teacher is not None and self.distill_proj is not None:
                target = align_features(self.teacher.features(wav).float(), out.q.semantic.shape[-1])
                losses["distill"] = distillation_loss(self.distill_proj(out.q.semantic.transpose(1, 2)), target)
        n = wav.shape[0]
        for k, v in losses.items():
            self._val_sums[k] = self._val_sums.get(k, 0.0) + float(v) * n
        self._val_sums["_n"] = self._val_sums.get("_n", 0.0) + n
        self._val_codes.append(out.q.codes.cpu())
        if batch_idx == 0:
            k = min(self.cfg.data.n_audio_examples, wav.shape[0])
            rec = out.audio[:k] if out.audio is not None else self.model.griffin_lim(out.log_mag[:k])
            self._log_examples(wav[:k], rec, batch.get("length"))

    def on_validation_epoch_end(self) -> None:
        n = max(self._val_sums.pop("_n", 1.0), 1.0)
        logs = {f"val/{k}": v / n for k, v in self._val_sums.items()}
        if self._val_codes:
            codes = torch.cat(self._val_codes, 0)
            for q in range(codes.shape[1]):
                usage, ppl = _entropy_stats(codes[:, q], self.model.codebook_size)
                logs[f"val/codebook{q}_usage"] = usage
                logs[f"val/codebook{q}_perplexity"] = ppl
        logs["step"] = float(self.train_step)
        self.log_dict({k: float(v) for k, v in logs.items()}, sync_dist=False)
        if "val/mel" in logs:
            self.log("val_mel", logs["val/mel"], prog_bar=True, logger=False)

    def _log_examples(self, wav: torch.Tensor, rec: torch.Tensor, lengths) -> None:
        logger = self.logger
        exp = getattr(logger, "experiment", None) if logger is not None else None
        if exp is None or not hasattr(exp, "add_audio") or self.trainer.sanity_checking:
            return
        sr = self.cfg.model.sample_rate
        k = min(self.cfg.data.n_audio_examples, wav.shape[0])
        for i in range(k):
            n = int(lengths[i]) if lengths is not None else wav.shape[-1]
            orig = wav[i, 0, :n].float().cpu().clamp(-1, 1)
            recon = rec[i, 0, :n].float().cpu().clamp(-1, 1)
            exp.add_audio(f"audio/{i}_reconstruction", recon[None], self.train_step, sample_rate=sr)
            if self.train_step <= self.cfg.trainer.val_every_n_steps:  # originals once is enough
                exp.add_audio(f"audio/{i}_original", orig[None], self.train_step, sample_rate=sr)
            exp.add_figure(f"spectrogram/{i}", spectrogram_figure(orig, recon, sr), self.train_step)


def spectrogram_figure(orig: torch.Tensor, recon: torch.Tensor, sr: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .audio import LogMel

    mel = LogMel(sr, n_fft=1024, hop=256, n_mels=80)
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    for ax, x, title in zip(axes, (orig, recon), ("original", "reconstruction")):
        ax.imshow(mel(x[None])[0].numpy(), origin="lower", aspect="auto", cmap="magma")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel bin")
    axes[-1].set_xlabel("frame (hop 256)")
    fig.tight_layout()
    plt.close(fig)
    return fig
