"""Likelihood scoring: batched log-probabilities of a scored span given its context.

A *scoring request* is a token sequence plus a boolean mask of the positions whose tokens are
scored (``log p(ids[t] | ids[:t])`` for every ``t`` with ``mask[t]``). Prompts are built so that the
scored positions are the tokens *inside* an ``<|audio_start|>…<|audio_end|>`` span (the tags are
never scored) or the continuation tokens inside a ``<|text_start|>…<|text_end|>`` span.

Aggregation: ``mean`` (SODA: mean log-prob over the scored tokens, so long and short candidates
compare fairly) or ``sum`` (the sequence log-likelihood, as BLiMP scores minimal pairs). Restricting audio scoring to some
codebooks uses the layout's ``codebook_index`` so frame-major and delay layouts are indexed
alike; positions that hold no codebook (delay padding, index -1) are never scored.

Batching: requests are sorted by length and packed into batches of at most ``batch_tokens``
padded tokens; rows are right-padded, so with a causal model no real token ever sees padding
(no cross-item leakage), and log-softmax is computed only on the rows that are scored.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

log = logging.getLogger("audiolm")

AGGREGATIONS = ("mean", "sum")


@dataclass
class ScoreRequest:
    """One sequence to score: ``ids`` (int64) and ``mask`` (bool, same length): scored positions.

    ``group`` (optional, int, same length) books each scored position in a group, e.g. its audio
    codebook, so one forward pass gives the score on codebook 0 and on every codebook alike
    (:func:`score_requests_by_group`). Without it every scored position is in group 0.
    """

    ids: np.ndarray
    mask: np.ndarray
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self.mask = np.asarray(self.mask, dtype=bool)
        if self.ids.shape != self.mask.shape or self.ids.ndim != 1:
            raise ValueError(f"ids {self.ids.shape} and mask {self.mask.shape} must be 1-D of one length")
        if self.mask.size and self.mask[0]:
            raise ValueError("position 0 has no context and cannot be scored")
        if self.group is None:
            self.group = np.zeros(len(self.ids), dtype=np.int64)
        self.group = np.asarray(self.group, dtype=np.int64)
        if self.group.shape != self.ids.shape:
            raise ValueError(f"group {self.group.shape} must have the shape of ids {self.ids.shape}")
        if (self.group[self.mask] < 0).any():
            raise ValueError("a scored position has a negative group")


# ---------------------------------------------------------------------------------------------
# building requests from spans


def audio_span_mask(layout, body: np.ndarray, codebooks: Sequence[int] | None = None) -> np.ndarray:
    """Which tokens of an audio span body (the ids between the tags) are scored.

    ``codebooks=None``: every position that holds a codebook (``codebook_index >= 0``);
    otherwise only positions whose codebook is in ``codebooks`` (absolute codebook numbers, as
    ``layout.codebook_index`` reports them).
    """
    idx = np.asarray(layout.codebook_index(np.asarray(body, dtype=np.int64)))
    if idx.shape != np.shape(body):
        raise ValueError(f"layout.codebook_index returned shape {idx.shape} for a body of shape {np.shape(body)}")
    if codebooks is None:
        return idx >= 0
    chosen = np.asarray(list(codebooks), dtype=np.int64)
    if chosen.size == 0:
        raise ValueError("codebooks is empty: nothing would be scored")
    return np.isin(idx, chosen)


def audio_request(vocab, layout, body: np.ndarray, *, bos_id: int | None = None,
                  codebooks: Sequence[int] | None = None, prefix: Sequence[int] = ()) -> ScoreRequest:
    """``[bos] prefix <|audio_start|> body`` scoring the body (restricted to ``codebooks``).

    ``<|audio_end|>`` is left out: it comes after the span and is not scored, and with a causal
    model it cannot change the log-probs of the tokens before it.
    """
    head = ([bos_id] if bos_id is not None else []) + list(prefix) + [vocab.audio_start]
    body = np.asarray(body, dtype=np.int64)
    ids = np.concatenate([np.asarray(head, dtype=np.int64), body])
    mask = np.concatenate([np.zeros(len(head), dtype=bool), audio_span_mask(layout, body, codebooks)])
    cb = np.asarray(layout.codebook_index(body), dtype=np.int64)
    group = np.concatenate([np.zeros(len(head), dtype=np.int64), np.maximum(cb, 0)])
    return ScoreRequest(ids, mask, group)


def text_request(vocab, context_ids: Sequence[int], target_ids: Sequence[int], *, bos_id: int | None = None,
                 tagged: bool = True) -> ScoreRequest:
    """``[bos] <|text_start|> context target`` scoring ``target`` (tags and context unscored).

    ``tagged=False`` gives the form of text-only training documents (no tags): ``[bos] context target``.
    """
    head = ([bos_id] if bos_id is not None else []) + ([vocab.text_start] if tagged else []) + list(context_ids)
    ids = np.asarray(head + list(target_ids), dtype=np.int64)
    mask = np.zeros(len(ids), dtype=bool)
    mask[len(head):] = True
    if len(head) == 0 and len(ids):  # the first token has no context: it cannot be scored
        mask[0] = False
    return ScoreRequest(ids, mask)


# ---------------------------------------------------------------------------------------------
# the engine


def _batches(lengths: Sequence[int], batch_tokens: int, max_batch: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        L = lengths[cur[0]] if cur else lengths[i]  # longest of the batch (sorted descending)
        if cur and ((len(cur) + 1) * L > batch_tokens or len(cur) >= max_batch):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def _truncate(req: ScoreRequest, max_len: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    ids, mask, group = req.ids, req.mask, req.group
    if max_len is None or len(ids) <= max_len:
        return ids, mask, group, False
    ids, mask, group = ids[-max_len:], mask[-max_len:].copy(), group[-max_len:]
    mask[0] = False
    return ids, mask, group, True


def _forward(model, input_ids: torch.Tensor) -> torch.Tensor:
    out = model(input_ids)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "logits"):
        out = out.logits
    return out


@torch.no_grad()
def score_requests_by_group(
    model,
    requests: Sequence[ScoreRequest],
    *,
    n_groups: int | None = None,
    batch_tokens: int = 8192,
    max_batch: int = 64,
    max_len: int | None = None,
    pad_id: int = 0,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of scored log-probs and number of scored tokens per request and group.

    Returns ``(sums float64[N, G], counts int64[N, G])`` with ``G = n_groups`` (default: one more
    than the largest group of a scored position). Sequences longer than ``max_len`` keep their
    last ``max_len`` tokens (the context is cut from the left; a warning says how many).
    """
    n = len(requests)
    if n_groups is None:
        n_groups = 1 + max((int(r.group[r.mask].max()) for r in requests if r.mask.any()), default=0)
    sums = np.zeros((n, n_groups), dtype=np.float64)
    counts = np.zeros((n, n_groups), dtype=np.int64)
    if n == 0:
        return sums, counts
    if device is None:
        try:
            device = next(model.parameters()).device
        except (StopIteration, AttributeError):
            device = "cpu"
    prepared = [_truncate(r, max_len) for r in requests]
    n_cut = sum(p[3] for p in prepared)
    if n_cut:
        log.warning("scoring: %d of %d sequences were longer than %s tokens and lost their left context", n_cut, n, max_len)
    lengths = [len(p[0]) for p in prepared]
    for batch in _batches(lengths, batch_tokens, max_batch):
        L = max(lengths[i] for i in batch)
        if L < 2:
            continue
        inp = np.full((len(batch), L), pad_id, dtype=np.int64)
        msk = np.zeros((len(batch), L), dtype=bool)
        grp = np.zeros((len(batch), L), dtype=np.int64)
        for r, i in enumerate(batch):
            ids, mask, group, _ = prepared[i]
            inp[r, : len(ids)] = ids
            msk[r, : len(ids)] = mask
            grp[r, : len(ids)] = group
        input_ids = torch.from_numpy(inp).to(device)
        logits = _forward(model, input_ids)  # [B, L, V]
        rows, cols = np.nonzero(msk)
        if len(rows) == 0:
            continue
        r_t = torch.from_numpy(rows).to(logits.device)
        c_t = torch.from_numpy(cols).to(logits.device)
        picked = logits[r_t, c_t - 1].float()  # predictions for the scored tokens
        lp = torch.log_softmax(picked, dim=-1)
        tok = input_ids[r_t, c_t].to(lp.device)
        vals = lp.gather(1, tok[:, None])[:, 0].double().cpu().numpy()
        g = grp[rows, cols]
        per_row = np.zeros((len(batch), n_groups), dtype=np.float64)
        cnt = np.zeros((len(batch), n_groups), dtype=np.int64)
        np.add.at(per_row, (rows, g), vals)
        np.add.at(cnt, (rows, g), 1)
        sums[batch] = per_row
        counts[batch] = cnt
    return sums, counts


def score_requests(model, requests: Sequence[ScoreRequest], **kw) -> tuple[np.ndarray, np.ndarray]:
    """Sum of scored log-probs and number of scored tokens for each request (all groups together).

    Returns ``(sums float64[N], counts int64[N])``; keywords as :func:`score_requests_by_group`.
    """
    sums, counts = score_requests_by_group(model, requests, **kw)
    return sums.sum(axis=1), counts.sum(axis=1)


def aggregate(sums: np.ndarray, counts: np.ndarray, aggregation: str = "mean") -> np.ndarray:
    """``mean`` (sum / count) or ``sum``; a request with nothing scored gets ``-inf``."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts)
    out = sums / np.maximum(counts, 1) if aggregation == "mean" else sums.copy()
    out[counts == 0] = -np.inf
    return out


def choice_accuracy(scores: Sequence[float], answer: int) -> float:
    """1 if the right choice scores strictly highest, 0 if another does; ties share the credit.

    For pairs this is ZeroSpeech's and SALMon's rule (1 / 0.5 / 0); with k choices tied at the top
    the answer (when among them) earns 1/k. NaN counts as -inf.
    """
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    top = s.max()
    tied = np.flatnonzero(s == top)
    return (1.0 / len(tied)) if answer in tied else 0.0


def per_item_accuracy(scores: Sequence[float], answers: Sequence[int], n_choices: Sequence[int]) -> np.ndarray:
    """:func:`choice_accuracy` of each item; ``scores`` are flat over the items' choices in order."""
    out, k = [], 0
    for a, n in zip(answers, n_choices):
        out.append(choice_accuracy(scores[k : k + n], a))
        k += n
    return np.asarray(out, dtype=np.float64)


def mean_and_stderr(per_item: np.ndarray) -> tuple[float, float]:
    """Accuracy over items and its (binomial) standard error."""
    p = np.asarray(per_item, dtype=np.float64)
    if not len(p):
        return math.nan, math.nan
    return float(p.mean()), float(p.std(ddof=0) / math.sqrt(len(p)))


@dataclass
class ChoiceScores:
    """Scores of the choices of many items, and their accuracy."""

    scores: list[np.ndarray]  # one array per item
    answers: list[int]

    @property
    def per_item(self) -> np.ndarray:
        return np.asarray([choice_accuracy(s, a) for s, a in zip(self.scores, self.answers)], dtype=np.float64)

    @property
    def accuracy(self) -> float:
        pi = self.per_item
        return float(pi.mean()) if len(pi) else math.nan


def score_choices(
    model,
    items: Iterable[tuple[Sequence[ScoreRequest], int]],
    *,
    aggregation: str = "mean",
    **kw,
) -> ChoiceScores:
    """Score every choice of every item (``(requests, answer_index)``) in shared batches."""
    items = list(items)
    flat: list[ScoreRequest] = [r for reqs, _ in items for r in reqs]
    sums, counts = score_requests(model, flat, **kw)
    agg = aggregate(sums, counts, aggregation)
    out, k = [], 0
    for reqs, _ in items:
        out.append(agg[k : k + len(reqs)])
        k += len(reqs)
    return ChoiceScores(out, [a for _, a in items])
