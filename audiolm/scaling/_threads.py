"""Run small dense optimisations with single-threaded BLAS.

scipy's L-BFGS-B calls BLAS on 5-vectors; a threaded OpenBLAS then spends most of its time
waking threads (10x slower on a loaded 2-core machine). ``threadpoolctl`` is used when installed;
otherwise the OpenBLAS builds already loaded in the process (numpy's and scipy's wheels) are
found in ``/proc/self/maps`` and set through their C API. Anything unknown is a silent no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import Iterator

# (get, set) symbol pairs of OpenBLAS builds: plain, scipy-openblas32, scipy-openblas64
_SYMBOLS = (
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
)


def _openblas_handles() -> list[tuple]:
    paths = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.rsplit(None, 1)[-1]
                if "openblas" in p.lower() and ".so" in p:
                    paths.add(p)
    except OSError:
        return []
    out = []
    for p in sorted(paths):
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            get = getattr(lib, get_name, None)
            set_ = getattr(lib, set_name, None)
            if get is not None and set_ is not None:
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]
                out.append((get, set_))
                break
    return out


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    try:
        from threadpoolctl import threadpool_limits  # type: ignore

        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    except ImportError:
        pass
    handles, saved = [], []
    try:
        handles = _openblas_handles()
        saved = [int(get()) for get, _ in handles]
        for _, set_ in handles:
            set_(1)
    except Exception:  # pragma: no cover - platform without these symbols
        handles = []
    try:
        yield
    finally:
        for (_, set_), n in zip(handles, saved):
            try:
                set_(n)
            except Exception:  # pragma: no cover
                pass
