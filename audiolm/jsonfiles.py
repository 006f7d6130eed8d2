"""Small JSON/text files written whole or not at all, and read with one-line errors naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``path.tmp`` then rename it: a kill or a full disk never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: str | Path, obj, indent: int | None = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent))


def read_json_object(path: str | Path, hint: str = "") -> dict:
    """A JSON object from ``path``; ``ValueError`` naming the file (and ``hint``: what to do) otherwise."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable ({e}){'; ' + hint if hint else ''}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object{'; ' + hint if hint else ''}")
    return obj
