"""What the training data said: sentences, documents and word counts of a prepared corpus.

The offline benchmarks read it to stay held out (no benchmark sentence or story occurs in
training) and to test only words a model could know (sWUGGY's real words were heard often
enough). Reads the prepared manifests as plain JSON lines: ``cuts_train.jsonl.gz`` (spoken:
supervision texts, grouped into documents by the supervision's ``custom.document``/``position``) and
``text_train.jsonl.gz`` (text-only documents).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_SENT_END = re.compile(r"(?<=[.?!])\s+")


@dataclass
class TrainingText:
    sentences: frozenset[str] = frozenset()
    documents: list[str] = field(default_factory=list)  # each document as one string
    spoken_counts: dict[str, int] = field(default_factory=dict)  # lower-case word -> count in transcripts
    text_counts: dict[str, int] = field(default_factory=dict)  # in the text-only documents
    _joined: str = ""

    @property
    def all_counts(self) -> dict[str, int]:
        c = Counter(self.spoken_counts)
        c.update(self.text_counts)
        return dict(c)

    def has_story(self, sentences: list[str]) -> bool:
        """Whether these consecutive sentences occur in some training document."""
        if not self._joined:
            self._joined = "\n".join(self.documents)
        return " ".join(sentences) in self._joined


def _words(text: str) -> list[str]:
    # lower-case words as they occur (a capitalised sentence-initial word is not counted as lower case)
    return [w for w in re.findall(r"[A-Za-z]+", text) if w.islower()]


def _read_jsonl_gz(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    raise ValueError(f"{path}: line {n + 1} is not JSON") from None


def load_training_text(folders: list[str | Path]) -> TrainingText:
    """Sentences, documents and word counts of the train split of each folder."""
    sentences: set[str] = set()
    docs: list[str] = []
    spoken: Counter = Counter()
    text: Counter = Counter()
    found = False
    for folder in map(Path, folders):
        cuts = folder / "cuts_train.jsonl.gz"
        if cuts.is_file():
            found = True
            by_doc: dict[str, list[tuple[int, str]]] = {}
            for rec in _read_jsonl_gz(cuts):
                sups = rec.get("supervisions") or []
                t = (sups[0].get("text") or "").strip() if sups else ""
                if not t:
                    continue
                sentences.add(t)
                spoken.update(_words(t))
                cu = sups[0].get("custom") or rec.get("custom") or {}
                by_doc.setdefault(str(cu.get("document", rec.get("id"))), []).append((int(cu.get("position", 0)), t))
            docs += [" ".join(t for _, t in sorted(v)) for v in by_doc.values()]
        txt = folder / "text_train.jsonl.gz"
        if txt.is_file():
            found = True
            for rec in _read_jsonl_gz(txt):
                t = str(rec.get("text", ""))
                docs.append(t)
                sentences.update(s for s in _SENT_END.split(t) if s)
                text.update(_words(t))
        if not (cuts.is_file() or txt.is_file()):
            raise FileNotFoundError(f"{folder}: neither cuts_train.jsonl.gz nor text_train.jsonl.gz (a prepared corpus folder)")
    if not found:
        raise FileNotFoundError("no training corpus folder given")
    return TrainingText(frozenset(sentences), docs, dict(spoken), dict(text))
