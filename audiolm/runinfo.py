"""Provenance written into every run directory's hparams.yaml (codec and LM runs alike)."""

from __future__ import annotations

import platform
import subprocess

import audiolm
from audiolm.config import REPO_ROOT


def git_sha() -> str | None:
    """HEAD of the checkout the code runs from (``-dirty`` with uncommitted changes), or None."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "audiolm": audiolm.__version__}
    for name in ("torch", "lightning", "lhotse", "tokenizers", "numpy", "xformers", "transformers"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
