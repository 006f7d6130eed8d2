"""KV-cache sampling with modality constraints.

``generate(model, prompts, *, max_new_tokens, temperature=1.0, top_k=0, top_p=1.0, stop_ids=(),
constraint=None, seed=0) -> list[list[int]]``: new tokens only, the stop token included when hit.

Batching: prompts are left-padded; each row's positions start at 0 on its first real token and
padding slots are invisible to every query, so a row's tokens do not depend on the rest of the
batch. Sampling draws row b's noise from its own generator seeded with ``seed + b`` (or
``seed[b]`` when ``seed`` is a list): row b of a batch equals a single-prompt call with that
seed; ``temperature=0`` is greedy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch


class ModalityConstraint:
    """Which ids may come next, given the audio span the sequence is in.

    Inside an audio span (after ``<|audio_start|>``, before ``<|audio_end|>``) only audio ids of
    the codebook the layout expects at that position are allowed, and ``<|audio_end|>`` only on a
    frame boundary (after a positive whole number of frames). Outside a span: any non-audio id
    (``<|audio_end|>`` excluded); audio ids come only after an ``<|audio_start|>``.

    ``layout`` needs ``codebooks`` and ``tokens_per_frame``; the codebook of the k-th token of a
    span (k from 0) is ``layout.codebook_at(k)`` when the layout has that method, else
    ``codebooks[k % tokens_per_frame]`` (frame-major); a span of k > 0 tokens may end when
    ``layout.can_end(k)`` (when present, e.g. a delay pattern's minimum length), else when
    ``k % tokens_per_frame == 0``.
    """

    def __init__(self, vocab, layout):
        self.vocab = vocab
        self.layout = layout
        self.tokens_per_frame = int(layout.tokens_per_frame)
        self.codebooks = [int(c) for c in layout.codebooks]
        if self.tokens_per_frame <= 0:
            raise ValueError("layout.tokens_per_frame must be positive")
        for c in self.codebooks:
            if not 0 <= c < vocab.n_codebooks:
                raise ValueError(f"layout codebook {c} is outside the vocabulary's {vocab.n_codebooks} codebooks")
        self._masks: dict[tuple, torch.Tensor] = {}

    def codebook_at(self, k: int) -> int:
        fn = getattr(self.layout, "codebook_at", None)
        if fn is not None:
            return int(fn(k))
        return self.codebooks[k % self.tokens_per_frame]

    def can_end(self, k: int) -> bool:
        if k == 0:
            return False
        fn = getattr(self.layout, "can_end", None)
        return bool(fn(k)) if fn is not None else k % self.tokens_per_frame == 0

    # ---- per-row state: (inside an audio span?, audio tokens so far in the span) -------------
    def start(self, prompt: Sequence[int]) -> list:
        state = [False, 0]
        for t in prompt:
            self.advance(state, int(t))
        return state

    def advance(self, state: list, token: int) -> None:
        v = self.vocab
        if token == v.audio_start:
            state[0], state[1] = True, 0
        elif token == v.audio_end:
            state[0] = False
        elif state[0]:
            if v.audio_offset <= token < v.size:
                state[1] += 1
            else:  # a non-audio token closes the span (only reachable through the prompt)
                state[0] = False

    def allowed(self, state: list, vocab_size: int, device) -> torch.Tensor:
        """Boolean mask ``[vocab_size]`` of the ids allowed next."""
        inside, k = state
        if inside:
            key = ("audio", self.codebook_at(k), self.can_end(k))
        else:
            key = ("outside",)
        mask = self._masks.get(key + (vocab_size, str(device)))
        if mask is None:
            mask = self._build(key, vocab_size, device)
            self._masks[key + (vocab_size, str(device))] = mask
        return mask

    def _build(self, key: tuple, vocab_size: int, device) -> torch.Tensor:
        v = self.vocab
        if vocab_size < v.size:
            raise ValueError(f"model vocabulary ({vocab_size}) is smaller than the unified vocabulary ({v.size})")
        mask = torch.zeros(vocab_size, dtype=torch.bool)
        if key[0] == "outside":
            mask[: v.audio_offset] = True
            mask[v.audio_end] = False
        else:
            _, cb, end_ok = key
            lo = v.audio_id(cb, 0)
            mask[lo : lo + v.codebook_size] = True
            mask[v.audio_end] = end_ok
        return mask.to(device)


@dataclass
class _Sampler:
    temperature: float
    top_k: int
    top_p: float
    generators: list = field(default_factory=list)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if self.temperature == 0:
            return logits.argmax(-1)
        logits = logits / self.temperature
        V = logits.shape[-1]
        if 0 < self.top_k < V:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
            probs = sorted_logits.softmax(-1)
            drop = (probs.cumsum(-1) - probs) > self.top_p  # keep the smallest prefix reaching top_p
            drop[:, 0] = False
            logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
        probs = logits.softmax(-1)
        # exponential-race sampling: argmax p_i / E_i with E_i ~ Exp(1) draws i with probability p_i
        noise = torch.stack([torch.empty(V, device=probs.device).exponential_(generator=g) for g in self.generators])
        return (probs / noise).argmax(-1)


@torch.no_grad()
def generate(
    model,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    stop_ids: Sequence[int] = (),
    constraint: ModalityConstraint | None = None,
    seed: int | Sequence[int] = 0,
) -> list[list[int]]:
    """Sample continuations of ``prompts`` with a KV cache (see the module docstring)."""
    if not prompts:
        return []
    if any(len(p) == 0 for p in prompts):
        raise ValueError("generate: every prompt needs at least one token (e.g. BOS)")
    if temperature < 0 or not 0 < top_p <= 1 or top_k < 0:
        raise ValueError(f"generate: bad sampling parameters temperature={temperature} top_k={top_k} top_p={top_p}")
    B = len(prompts)
    if max_new_tokens <= 0:
        return [[] for _ in range(B)]
    device = next(model.parameters()).device
    V = model.vocab_size
    seeds = [int(seed) + b for b in range(B)] if isinstance(seed, int) else [int(s) for s in seed]
    if len(seeds) != B:
        raise ValueError(f"generate: {len(seeds)} seeds for {B} prompts")
    sampler = _Sampler(temperature, top_k, top_p, [torch.Generator(device).manual_seed(s) for s in seeds])

    lens = torch.tensor([len(p) for p in prompts], device=device)
    Lp = int(lens.max())
    ids = torch.zeros(B, Lp, dtype=torch.long, device=device)
    for b, p in enumerate(prompts):
        ids[b, Lp - len(p) :] = torch.as_tensor(list(p), dtype=torch.long, device=device)
    pad = (Lp - lens)[:, None]
    cols = torch.arange(Lp, device=device)[None]
    valid = cols >= pad
    positions = (cols - pad).clamp_min(0)

    states = [constraint.start(p) for p in prompts] if constraint is not None else None
    stop = {int(s) for s in stop_ids}

    was_training = model.training
    model.eval()
    try:
        cache = model.new_cache(B, Lp + max_new_tokens)
        logits = model(ids, positions, cache=cache, valid=valid)[:, -1].float()
        next_pos = positions[:, -1:] + 1
        out: list[list[int]] = [[] for _ in range(B)]
        done = [False] * B
        for step in range(max_new_tokens):
            if constraint is not None:
                allowed = torch.stack([constraint.allowed(s, V, device) for s in states])
                logits = logits.masked_fill(~allowed, float("-inf"))
            tokens = sampler(logits)
            for b, tok in enumerate(tokens.tolist()):
                if done[b]:
                    continue
                out[b].append(tok)
                done[b] = tok in stop
                if constraint is not None:
                    constraint.advance(states[b], tok)
            if all(done) or step == max_new_tokens - 1:
                break
            logits = model(tokens[:, None], next_pos, cache=cache)[:, -1].float()
            next_pos = next_pos + 1
    finally:
        model.train(was_training)
    return out
