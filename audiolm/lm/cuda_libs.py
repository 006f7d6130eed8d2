"""Make the CUDA 12 runtime findable for the PyPI xformers wheel under a CUDA-13 torch.

The xformers wheel on PyPI is linked against ``libcudart.so.12`` but carries no RPATH to it. The
PyPI package ``nvidia-cuda-runtime-cu12`` (pulled in by ``pip install "audiolm[xformers]"``)
ships that library as ``site-packages/nvidia/cuda_runtime/lib/libcudart.so.12``; loading it
once with ``RTLD_GLOBAL`` before xformers is imported lets the dynamic loader resolve xformers'
``NEEDED libcudart.so.12`` by its SONAME (the way torch itself preloads its ``nvidia/*`` libraries).
``AUDIOLM_CUDART`` names the file explicitly (a cluster's own CUDA 12 install).
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

CUDART12 = "libcudart.so.12"
_loaded: str | None = None


def cudart12_candidates(paths: list[str] | None = None) -> list[Path]:
    """Existing ``libcudart.so.12`` files: ``$AUDIOLM_CUDART``, then ``nvidia/cuda_runtime/lib`` under each path."""
    out: list[Path] = []
    explicit = os.environ.get("AUDIOLM_CUDART")
    if explicit:
        out.append(Path(explicit))
    for entry in sys.path if paths is None else paths:
        if entry:
            out.append(Path(entry) / "nvidia" / "cuda_runtime" / "lib" / CUDART12)
    seen, found = set(), []
    for p in out:
        if p.is_file() and p.resolve() not in seen:
            seen.add(p.resolve())
            found.append(p)
    return found


def system_has_cudart12() -> bool:
    """True when the loader finds ``libcudart.so.12`` by itself (ld.so.cache, LD_LIBRARY_PATH)."""
    try:
        ctypes.CDLL(CUDART12, mode=ctypes.RTLD_GLOBAL)
        return True
    except OSError:
        return False


def preload_cudart12(paths: list[str] | None = None) -> str | None:
    """Load the CUDA 12 runtime once, globally; returns where it came from (None: none found).

    ``"system"`` when the loader already finds it, else the file's path. Safe to call repeatedly.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    if os.environ.get("AUDIOLM_CUDART") is None and system_has_cudart12():
        _loaded = "system"
        return _loaded
    for p in cudart12_candidates(paths):
        try:
            ctypes.CDLL(str(p), mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        _loaded = str(p)
        return _loaded
    return None
