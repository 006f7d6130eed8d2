"""Bad-input bookkeeping shared by every pipeline: skip an item, count it by reason, report at the end."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

log = logging.getLogger("audiolm")


class SkipReport:
    """Counts skipped/repaired items by reason and keeps a few examples of each.

    Pipelines call :meth:`skip` (item dropped) or :meth:`repair` (item kept after a fix, e.g.
    resampled) instead of raising, and print :meth:`summary` when done.
    """

    def __init__(self, name: str, max_examples: int = 5) -> None:
        self.name = name
        self.skipped: Counter[str] = Counter()
        self.repaired: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.max_examples = max_examples

    def _note(self, reason: str, item: str) -> None:
        ex = self.examples.setdefault(reason, [])
        if len(ex) < self.max_examples:
            ex.append(str(item))

    def skip(self, reason: str, item: str = "", detail: str = "") -> None:
        """Count ``item`` under ``reason``; ``detail`` (e.g. the reader's own message) goes into the examples."""
        self.skipped[reason] += 1
        self._note(reason, f"{item} ({detail})" if detail else item)
        log.debug("%s: skipped %s (%s)", self.name, item, reason)

    def repair(self, reason: str, item: str = "") -> None:
        self.repaired[reason] += 1
        self._note(reason, item)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def to_dict(self) -> dict:
        return {"skipped": dict(self.skipped), "repaired": dict(self.repaired), "examples": self.examples}

    def summary(self) -> str:
        if not self.skipped and not self.repaired:
            return f"{self.name}: no bad items"
        parts = [f"{self.name}: skipped {self.n_skipped}"]
        parts += [f"  skipped {n} x {r} (e.g. {', '.join(self.examples.get(r, [])[:3])})" for r, n in self.skipped.most_common()]
        parts += [f"  repaired {n} x {r}" for r, n in self.repaired.most_common()]
        return "\n".join(parts)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))
