"""Prompts of the prompting verbs and tasks, and what is read back from a generation.

One home for ``audiolm generate`` (:mod:`audiolm.lm.commands`) and ``audiolm eval``
(:mod:`audiolm.eval.tasks`), so the CLI and the benchmark ask the model the same way. Prompts
follow the document formats the model was trained on (SODA):

* ASR (audio-first, N shots): ``BOS (<|audio_start|>A_i<|audio_end|><|text_start|>T_i<|text_end|>)*N
  <|audio_start|>A<|audio_end|><|text_start|>`` -> text until ``<|text_end|>``;
* TTS (text-first, optional voice prompt): ``BOS [<|text_start|>T_v<|text_end|>][<|audio_start|>A_v<|audio_end|>]
  <|text_start|>T<|text_end|><|audio_start|>`` -> audio until ``<|audio_end|>``;
* continuation: ``BOS <|audio_start|>`` + the first steps of the layout's tokens -> more audio.

:func:`audio_budget` counts what the layout needs for a number of seconds (a delay layout's
extra ``K-1`` steps included) plus the closing ``<|audio_end|>``, so a generation that runs to
its cap still decodes to the frames asked for.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from audiolm.tokens.documents import audio_span, text_span


def head(tokenizer) -> list[int]:
    """``[BOS]`` (nothing for a tokenizer without one)."""
    bos = getattr(tokenizer, "bos_id", None)
    return [bos] if bos is not None else []


def asr_prompt(tokenizer, layout, codes, shots: Sequence[tuple] = ()) -> list[int]:
    """N-shot ASR: ``shots`` are ``(codes, transcript)`` pairs before the query ``codes``."""
    ids = head(tokenizer)
    for shot_codes, text in shots:
        ids += audio_span(layout, shot_codes) + text_span(tokenizer, text)
    return ids + audio_span(layout, codes) + [tokenizer.vocab.text_start]


def tts_prompt(tokenizer, layout, text: str, voice_codes=None, voice_text: str | None = None) -> list[int]:
    """TTS: the text to speak, after an optional voice prompt (its transcript, then its audio)."""
    ids = head(tokenizer)
    if voice_text:
        ids += text_span(tokenizer, voice_text)
    if voice_codes is not None:
        ids += audio_span(layout, voice_codes)
    return ids + text_span(tokenizer, text) + [tokenizer.vocab.audio_start]


def continuation_prompt(tokenizer, layout, codes, n_frames: int | None = None) -> list[int]:
    """Audio continuation: the layout's first ``n_frames * tokens_per_frame`` tokens of ``codes``
    (all frames by default; a delay layout's trailing fills are left out so the model goes on)."""
    codes = np.asarray(codes)
    n = codes.shape[1] if n_frames is None else min(int(n_frames), codes.shape[1])
    body = np.asarray(layout.encode(codes))[: n * layout.tokens_per_frame]
    return head(tokenizer) + [tokenizer.vocab.audio_start] + [int(t) for t in body]


def audio_budget(layout, frame_rate: float, seconds: float) -> int:
    """New tokens for ``seconds`` of audio in this layout, plus one for ``<|audio_end|>``."""
    return int(layout.n_tokens(math.ceil(seconds * frame_rate))) + 1


def until(ids: Sequence[int], stop: int) -> list[int]:
    """The ids before the first ``stop`` (all of them when there is none)."""
    ids = list(ids)
    return ids[: ids.index(stop)] if stop in ids else ids


def generated_audio(vocab, layout, ids: Sequence[int]) -> np.ndarray:
    """The audio ids a generation starts with (up to its first non-audio id), whole frames only."""
    arr = np.asarray(list(ids), dtype=np.int64)
    stop = np.flatnonzero(~np.asarray(vocab.is_audio(arr), dtype=bool))
    if len(stop):
        arr = arr[: stop[0]]
    tpf = int(layout.tokens_per_frame)
    return arr[: len(arr) // tpf * tpf]
