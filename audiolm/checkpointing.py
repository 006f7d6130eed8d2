"""Checkpoints that survive a full disk, a kill, a moved folder and a signal (LM and codec runs).

- :class:`AtomicCheckpointIO` writes ``NAME.tmp`` and renames it over ``NAME``: a crash or a full
  disk mid-write leaves the previous file, never a truncated one under the final name.
- :func:`newest_valid_checkpoint` picks what a rerun resumes from: the checkpoint of the run with
  the most training steps, wherever Lightning put it (``last.ckpt``, ``last-v1.ckpt``,
  ``step-N.ckpt``), passing over damaged files with a message.
- :class:`SaveOnInterrupt` saves the state when SIGTERM/SIGINT stop ``trainer.fit`` and remembers
  the signal, so the caller raises :class:`audiolm.errors.Interrupted` (a non-zero exit) instead
  of Lightning's ``SystemExit(0)``.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any, Callable

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger("audiolm")


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary name in the same folder, fsync, then ``os.replace``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy a checkpoint under a new name without ever exposing a partial file."""
    import shutil

    tmp = dst.with_name(dst.name + ".tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_step(path: Path, step_key: str = "global_step") -> int:
    """The training step stored in a checkpoint; raises for a damaged or foreign file."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError("not a Lightning checkpoint (no state_dict)")
    return int(ckpt.get(step_key, ckpt.get("global_step", 0)))


def newest_valid_checkpoint(ckpt_dir: Path, step_key: str = "global_step",
                            say: Callable[[str], None] = print) -> Path | None:
    """The readable ``*.ckpt`` of ``ckpt_dir`` with the most steps (newest file on a tie), or None.

    Damaged files are reported through ``say`` and passed over; temporary files of an interrupted
    write (``*.ckpt.tmp``) are removed.
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    for tmp in ckpt_dir.glob("*.ckpt.tmp"):
        tmp.unlink(missing_ok=True)
    best: tuple[int, float, Path] | None = None
    for path in sorted(ckpt_dir.glob("*.ckpt")):
        try:
            step = read_step(path, step_key)
        except Exception as e:  # truncated zip, foreign pickle, empty file
            say(f"[audiolm] {path} is damaged ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); passed over")
            continue
        key = (step, path.stat().st_mtime, path)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


class SaveOnInterrupt(Callback):
    """On SIGTERM/SIGINT during ``fit``: save the state (``save(trainer, module)``) and record the signal."""

    def __init__(self, save: Callable[[Any, Any], str | None]) -> None:
        self._save = save
        self.signum: int | None = None
        self.saved: str | None = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            self.signum = signal.SIGTERM
        elif isinstance(exception, KeyboardInterrupt):
            self.signum = signal.SIGINT
        else:
            return
        try:
            self.saved = self._save(trainer, pl_module)
        except Exception as e:  # a full disk must not hide the signal
            log.error("could not save a checkpoint after %s: %s", signal.Signals(self.signum).name, e)
            self.saved = None
