"""Translation pairs as one interleaved sequence (SODA's speech-to-speech fine-tuning, "method1").

A pair is a document of two utterances, the source (position 0) and the target (position 1), each
with its ``language`` (written that way by ``audiolm prepare cvss|synth-s2st``); the sequence is
the chain source speech -> transcript -> translation -> target speech::

    BOS <|audio_start|>SRC_AUDIO<|audio_end|> <|text_start|><language>xx</language>SRC_TEXT<|text_end|>
        <|text_start|><language>en</language>TGT_TEXT<|text_end|> <|audio_start|>TGT_AUDIO<|audio_end|> EOS

``s2tt`` (speech-to-text translation, CoVoST 2) stops after the translation; its target text may
come from a single utterance's ``translation``. ``prompt`` names the last part of the prompt:
the loss is on the response only (the parts after it, and EOS), as SODA's SFT with
``mask_user_turns``; ``"none"`` trains on the whole sequence.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from audiolm.skips import SkipReport

PARTS = ("src_audio", "src_text", "tgt_text", "tgt_audio")
PROMPTS = ("none", *PARTS[:-1])
FORMATS = ("s2st", "s2tt")


def language_tag(language: str) -> str:
    """The language marker written at the start of a text span (as text, BPE-encoded)."""
    return f"<language>{language}</language>"


def pair_parts(utterances: Sequence[tuple], fmt: str) -> dict | str:
    """``{part: codes | (language, text)}`` of one pair document, or the reason it cannot be one."""
    if not utterances:
        return "empty pair"
    src = utterances[0]
    if fmt == "s2st":
        if len(utterances) != 2:
            return f"a translation pair needs 2 utterances (source, target), not {len(utterances)}"
        tgt = utterances[1]
        tgt_text = (getattr(tgt, "language", None), tgt[1])
    elif len(utterances) == 2:
        tgt, tgt_text = utterances[1], (getattr(utterances[1], "language", None), utterances[1][1])
    elif len(utterances) == 1 and getattr(src, "translation", None):
        tgt, tgt_text = None, tuple(src.translation)
    else:
        return "no translation (a second utterance or a translation field)"
    src_text = (getattr(src, "language", None), src[1])
    for name, (lang, text) in (("source", src_text), ("target", tgt_text)):
        if not lang:
            return f"{name} without a language"
        if not (text or "").strip():
            return f"empty {name} text"
    parts = {"src_audio": src[0], "src_text": src_text, "tgt_text": tgt_text}
    if fmt == "s2st":
        parts["tgt_audio"] = tgt[0]
    return parts


def build_pair_document(utterances: Sequence[tuple], fmt: str, layout, tokenizer, *, prompt: str = "src_audio",
                        skips: SkipReport | None = None, source: str = ""):
    """One pair as a :class:`~audiolm.tokens.documents.TokenDocument` with its loss mask; [] when bad."""
    from audiolm.tokens.documents import TokenDocument, _audio_piece, _join, _special, _text, _valid_codes

    if fmt not in FORMATS:
        raise ValueError(f"unknown translation format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if prompt not in PROMPTS:
        raise ValueError(f"data.prompt {prompt!r} is not one of {', '.join(PROMPTS)}")
    parts = pair_parts(utterances, fmt)
    if isinstance(parts, str):
        if skips is not None:
            skips.skip(parts, source)
        return []
    for name in ("src_audio", "tgt_audio"):
        if name in parts and (bad := _valid_codes(parts[name], layout)):
            if skips is not None:
                skips.skip(f"{name}: {bad}", source)
            return []
    v = tokenizer.vocab
    pieces, is_response = [_special([tokenizer.bos_id])], [False]
    response = prompt == "none"
    for name in PARTS:
        if name not in parts:
            continue
        if name.endswith("audio"):
            p = [_special([v.audio_start]), _audio_piece(layout, parts[name], {}, None), _special([v.audio_end])]
        else:
            lang, text = parts[name]
            p = [_special([v.text_start]), _text(tokenizer.encode_text(language_tag(lang) + text)), _special([v.text_end])]
        pieces += p
        is_response += [response] * len(p)
        if name == prompt:
            response = True
    pieces.append(_special([tokenizer.eos_id]))
    is_response.append(True)
    j = _join(pieces)
    mask = np.concatenate([np.full(len(p.ids), r, bool) for p, r in zip(pieces, is_response)])
    return [TokenDocument(j.ids, j.mod, j.audio, source=source, fmt=fmt, loss_mask=mask)]
