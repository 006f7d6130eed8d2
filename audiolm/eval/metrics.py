"""Text normalisation and WER / CER (torchmetrics) for ASR and for the TTS judge.

Normalisation (applied to references and hypotheses alike, Whisper-English style but small):
Unicode NFKC, lower case, ``&`` -> ``and``, apostrophes dropped inside words (``don't`` ->
``dont``), every other punctuation mark -> space, whitespace collapsed. Digits are kept as they are.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

_PUNCT = re.compile(r"[^\w\s]", flags=re.UNICODE)
_APOS = re.compile(r"(?<=\w)['’](?=\w)")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = text.replace("&", " and ")
    text = _APOS.sub("", text)
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACE.sub(" ", text).strip()


def wer_cer(references: Sequence[str], hypotheses: Sequence[str], normalize: bool = True) -> dict:
    """Corpus-level WER and CER (errors / reference length over all pairs), after normalisation."""
    from torchmetrics.text import CharErrorRate, WordErrorRate

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [normalize_text(r) if normalize else r for r in references]
    hyps = [normalize_text(h) if normalize else h for h in hypotheses]
    if not refs:
        return {"wer": float("nan"), "cer": float("nan")}
    return {"wer": float(WordErrorRate()(hyps, refs)), "cer": float(CharErrorRate()(hyps, refs))}
