"""Run small dense optimisations with single-threaded BLAS (``threadpoolctl``).

scipy's L-BFGS-B calls BLAS on 5-vectors; a threaded OpenBLAS then spends most of its time
waking threads (10x slower on a loaded 2-core machine).
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
