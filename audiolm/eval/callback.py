"""``EvalCallback``: evaluation tasks on small subsets every N training steps, logged to tensorboard.

Join a training run from its LM config (lm never imports eval)::

    callbacks:
      - class_path: audiolm.eval.callback.EvalCallback
        init_args: {tasks: "swuggy,sblimp,salmon_speaker,tts", data: data/benchmarks, every_n_steps: 500, max_items: 64}

What it needs from the LightningModule: ``pl_module.loaded() -> LoadedLM`` (``LMModule`` has it;
the same type ``load_lm`` returns), made into an ``EvalContext`` by ``EvalContext.from_loaded``.

Scalars go to ``eval/<task>/<metric>``; TTS and continuation samples to ``eval/<task>/<i>`` as
audio. Each run uses the same items (the first ``max_items`` of each set) so curves are
comparable; codec encodings are cached across runs. A failing task is logged once as a warning
and the others go on; training is never interrupted by evaluation.
"""

from __future__ import annotations

import logging
import math

import lightning.pytorch as pl
import torch

log = logging.getLogger("audiolm")


class EvalCallback(pl.Callback):
    def __init__(self, tasks: str, data: str, every_n_steps: int, max_items: int = 64, config: str = "default",
                 overrides: list | None = None, cache_dir: str | None = None) -> None:
        from audiolm.eval.tasks import expand_tasks

        if every_n_steps < 1:
            raise ValueError("EvalCallback: every_n_steps must be >= 1")
        self.task_names = expand_tasks(tasks)
        self.data = data
        self.every_n_steps = int(every_n_steps)
        self.max_items = int(max_items)
        self.config = config
        self.overrides = list(overrides or [])
        self.cache_dir = cache_dir
        self._ctx = None
        self._warned: set[str] = set()
        self.last_results: dict = {}

    def _options(self):
        from audiolm.config import load_config
        from audiolm.eval.tasks import EvalOptions

        opts = load_config(EvalOptions, self.config, self.overrides, group="eval")
        opts.max_items = self.max_items
        return opts

    def _context(self, pl_module):
        from pathlib import Path

        from audiolm.eval.context import EvalContext

        if self._ctx is None:
            cache = self.cache_dir or str(Path(self.data) / ".codes")
            try:
                self._ctx = EvalContext.from_loaded(pl_module.loaded(), str(pl_module.device), cache)
            except ValueError as e:
                raise RuntimeError(f"EvalCallback: {e}") from None
        self._ctx.model = pl_module.model
        self._ctx.device = str(pl_module.device)
        return self._ctx

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step == 0 or step % self.every_n_steps or not trainer.is_global_zero:
            return
        if getattr(self, "_last_step", -1) == step:  # gradient accumulation: once per optimizer step
            return
        self._last_step = step
        self.evaluate(trainer, pl_module, step)

    def evaluate(self, trainer, pl_module, step: int) -> dict:
        from audiolm.eval.tasks import run_tasks

        was_training = pl_module.training
        pl_module.eval()
        try:
            ctx = self._context(pl_module)
            with torch.no_grad():
                results = run_tasks(ctx, self.task_names, self.data, self._options())
        finally:
            if was_training:
                pl_module.train()
        self.last_results = {k: r.metrics for k, r in results.items()}
        writer = _tb_writer(trainer)
        for name, r in results.items():
            if "error" in r.metrics:
                if name not in self._warned:
                    log.warning("EvalCallback: %s", r.metrics["error"])
                    self._warned.add(name)
                continue
            for k, v in r.metrics.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("n", "seconds_taken") and math.isfinite(v):
                    if writer is not None:
                        writer.add_scalar(f"eval/{name}/{k}", v, step)
                    else:
                        pl_module.log(f"eval/{name}/{k}", float(v), rank_zero_only=True)
            if writer is not None:
                for tag, wav, sr in r.samples:
                    if len(wav):
                        writer.add_audio(f"eval/{tag}", torch.as_tensor(wav).clamp(-1, 1)[None], step, sample_rate=sr)
        if writer is not None:
            writer.flush()
        return self.last_results


def _tb_writer(trainer):
    for lg in getattr(trainer, "loggers", []) or []:
        exp = getattr(lg, "experiment", None)
        if exp is not None and hasattr(exp, "add_scalar") and hasattr(exp, "add_audio"):
            return exp
    return None
