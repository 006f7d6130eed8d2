"""Worker processes that cannot hang a run: a dead worker fails it, a dead parent ends its workers.

``multiprocessing.Pool`` loses the task of a worker killed by the out-of-memory killer and waits for
it forever. :func:`map_unordered` runs on ``concurrent.futures.ProcessPoolExecutor`` instead, which
notices the death (``BrokenProcessPool``) and lets us fail with :class:`audiolm.errors.RunFailed`,
naming what was unfinished. Every worker also watches its parent and exits when it is gone, so a
killed run leaves nobody writing into its output.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any, Callable, Iterable, Iterator

from audiolm.errors import RunFailed


def exit_with_parent(parent: int) -> None:
    """Call in a worker: exit as soon as process ``parent`` is gone."""
    try:  # Linux: the kernel sends SIGKILL the moment the parent dies
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # elsewhere: poll
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def _init(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    exit_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def map_unordered(fn: Callable, tasks: Iterable, jobs: int, *, context: str = "spawn", what: str = "task",
                  initializer: Callable | None = None, initargs: tuple = (), max_pending: int | None = None,
                  name_of: Callable[[Any], str] = repr) -> Iterator[tuple[Any, Any]]:
    """Yield ``(task, fn(task))`` as they finish, over ``jobs`` processes of ``context``.

    At most ``max_pending`` (default ``2 * jobs``) tasks are in flight, so a long task list is never
    pickled all at once. A worker that dies raises :class:`RunFailed` naming the unfinished tasks.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    limit = max_pending or 2 * jobs
    pending: dict = {}
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context(context), initializer=_init,
                             initargs=(os.getpid(), initializer, initargs)) as pool:
        try:
            it = iter(tasks)
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < limit:
                    task = next(it, StopIteration)
                    if task is StopIteration:
                        exhausted = True
                        break
                    pending[pool.submit(fn, task)] = task
                if not pending:
                    break
                finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for f in finished:
                    task = pending.pop(f)
                    yield task, f.result()
        except BrokenProcessPool:
            lost = [name_of(t) for t in pending.values()]
            raise RunFailed(
                f"a worker process died (out of memory? killed?) with {len(lost)} {what}(s) unfinished "
                f"({', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}); finished work is kept: rerun the same command"
            ) from None
