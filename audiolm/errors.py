"""How a verb ends: one line for a user mistake, a non-zero code for a signal, never a silent 0.

Every ``audiolm`` verb runs through :func:`run_verb`. A user mistake (a missing or unreadable file,
a bad value, a damaged archive) prints one line ``audiolm VERB: error: ...`` naming the path or key
and exits 2; ``AUDIOLM_TRACEBACK=1`` shows the whole traceback instead. A run stopped by a signal
raises :class:`Interrupted` and exits ``128 + signum`` (143 for SIGTERM, 130 for SIGINT), as a
shell reports a process killed by that signal, so schedulers and recipes never read it as success.
"""

from __future__ import annotations

import os
import signal
import sys
import tarfile
from typing import Callable

#: exceptions that mean "the input or the settings are wrong", not "the program is wrong"
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, EOFError, tarfile.TarError)


class Interrupted(Exception):
    """Training stopped by a signal; ``exit_code`` is ``128 + signum``."""

    def __init__(self, signum: int, step: int, checkpoint: str | None) -> None:
        self.signum, self.step, self.checkpoint = int(signum), int(step), checkpoint
        saved = f"saved {checkpoint}" if checkpoint else "no checkpoint could be saved"
        super().__init__(
            f"interrupted by {signal.Signals(self.signum).name} at step {self.step}; {saved}; "
            "rerun the same command to resume"
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class RunFailed(RuntimeError):
    """The run failed for a reason outside the user's input (a dead worker process); exit 1."""


class NothingProduced(RunFailed):
    """A verb ran to its end but produced nothing usable (every input was bad)."""


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    if isinstance(e, OSError) and e.filename and str(e.filename) not in text:
        text = f"{e.filename}: {text}"
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def run_verb(name: str, fn: Callable[..., int | None], *args, **kwargs) -> int:
    """Call ``fn`` and turn how it ended into an exit code (see the module docstring)."""
    try:
        return int(fn(*args, **kwargs) or 0)
    except Interrupted as e:
        print(f"audiolm {name}: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    except KeyboardInterrupt:  # Ctrl-C outside training: outputs are written atomically, so just say so
        print(f"audiolm {name}: interrupted (SIGINT); finished parts are kept, rerun to continue", file=sys.stderr)
        return 128 + signal.SIGINT
    except RunFailed as e:
        print(f"audiolm {name}: error: {e}", file=sys.stderr, flush=True)
        return 1
    except USER_ERRORS as e:
        if os.environ.get("AUDIOLM_TRACEBACK") == "1":
            raise
        print(f"audiolm {name}: error: {_one_line(e)}  (AUDIOLM_TRACEBACK=1 shows where)", file=sys.stderr, flush=True)
        return 2
