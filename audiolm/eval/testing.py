"""Tiny stand-ins for tests and examples of the evaluation: a byte tokenizer, a framing codec,
and models with known log-probabilities (a table, a coin, an oracle).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from audiolm.tokens.vocab import Vocabulary


class ByteTokenizer:
    """Text ids = ASCII bytes (0..127); BOS = 2, PAD = 0."""

    def __init__(self, n_codebooks: int = 2, codebook_size: int = 16) -> None:
        self.vocab = Vocabulary(128, n_codebooks, codebook_size)
        self.bos_id, self.eos_id, self.pad_id = 2, 3, 0

    def encode_text(self, text: str) -> list[int]:
        return [b for b in text.encode("ascii", "replace") if b < 128]

    def decode_text(self, ids) -> str:
        return bytes(int(i) for i in ids if 0 <= int(i) < 128 and int(i) > 3).decode("ascii", "replace")


class FramingCodec(nn.Module):
    """A deterministic "codec": each hop of audio becomes one frame of codes, code = f(frame energy, q).

    ``decode`` renders each frame as a tone whose pitch follows codebook 0 (audible, not faithful).
    """

    def __init__(self, sample_rate: int = 24000, frame_rate: float = 12.5, n_codebooks: int = 2, codebook_size: int = 16,
                 spec: str = "fake:framing") -> None:
        super().__init__()
        self.sample_rate, self.frame_rate = sample_rate, frame_rate
        self.n_codebooks, self.codebook_size, self.spec = n_codebooks, codebook_size, spec
        self.hop = int(round(sample_rate / frame_rate))
        self.dummy = nn.Parameter(torch.zeros(1), requires_grad=False)
        self.n_encodes = 0

    def n_frames(self, n_samples: int) -> int:
        return max(1, math.ceil(n_samples / self.hop))

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        self.n_encodes += 1
        B, _, S = wav.shape
        T = max(1, math.ceil(S / self.hop))
        x = torch.nn.functional.pad(wav[:, 0], (0, T * self.hop - S)).view(B, T, self.hop)
        level = (x.abs().mean(-1) * 1000).long()  # [B, T]
        codes = torch.stack([(level + 5 * q + (level // (q + 2))) % self.codebook_size for q in range(self.n_codebooks)], 1)
        return codes

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        B, Q, T = codes.shape
        t = torch.arange(self.hop) / self.sample_rate
        f = 200.0 + 40.0 * codes[:, 0].float()  # [B, T]
        wav = 0.3 * torch.sin(2 * math.pi * f[..., None] * t)  # [B, T, hop]
        return wav.reshape(B, 1, T * self.hop)


class TableModel(nn.Module):
    """A bigram model with a fixed logit table: ``logits[b, t] = table[input_ids[b, t]]``."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table.float(), requires_grad=False)
        self.vocab_size = table.shape[1]

    def forward(self, input_ids, position_ids=None, document_ids=None):
        return self.table[input_ids]


def random_model(vocab_size: int, seed: int = 0, scale: float = 3.0) -> TableModel:
    """A chance-level scorer: random bigram log-probs, unrelated to any benchmark."""
    g = torch.Generator().manual_seed(seed)
    return TableModel(torch.randn(vocab_size, vocab_size, generator=g) * scale)


class OracleModel(nn.Module):
    """A model "told the answer": it predicts the next token of any known good sequence whose
    prefix matches the input so far, with probability ~1, and spreads mass evenly otherwise."""

    def __init__(self, vocab_size: int, good: list) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.trie: dict = {}  # token -> (children, set of next tokens)
        for g in good:
            node = self.trie
            g = [int(t) for t in g]
            for t, nxt in zip(g, g[1:] + [None]):
                child = node.setdefault(t, ({}, set()))
                if nxt is not None:
                    child[1].add(nxt)
                node = child[0]
        self.dummy = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, input_ids, position_ids=None, document_ids=None):
        B, L = input_ids.shape
        out = torch.zeros(B, L, self.vocab_size)
        for b, row in enumerate(input_ids.tolist()):
            node = self.trie
            for t, tok in enumerate(row):
                if tok not in node:
                    break
                children, nxt = node[tok]
                for n in nxt:  # prefix row[:t+1] is a prefix of a good sequence: predict its next token
                    out[b, t, n] = 20.0
                node = children
        return out


def scripted_generate(script):
    """A stand-in for ``audiolm.lm.generate.generate``: ``script(prompt) -> new ids``; records calls."""

    calls = []

    def generate(model, prompts, *, max_new_tokens, temperature=1.0, top_k=0, top_p=1.0, stop_ids=(), constraint=None, seed=0):
        calls.append({"prompts": [list(p) for p in prompts], "max_new_tokens": max_new_tokens, "stop_ids": list(stop_ids)})
        return [list(script(list(p)))[:max_new_tokens] for p in prompts]

    generate.calls = calls
    return generate


def tone(seconds: float = 1.0, f0: float = 220.0, sr: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
