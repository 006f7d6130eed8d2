"""Oracles that know the training distribution, for the benchmark-validity check.

A benchmark score means something only beside what a model of the training data *could* score.
These are small count models fitted on the training corpus itself:

- :class:`NGram` — an interpolated (Jelinek-Mercer) n-gram over any symbols: words, characters,
  BPE ids, espeak phones, codec codebook-0 tokens;
- :func:`cache_logprob` — an n-gram mixed with a unigram cache of the context (Kuhn & De Mori's
  cache LM): the simplest model that knows a story re-mentions its entities.

Each returns log-probabilities of a scored span given its context, so a pair is judged as the
LM is (sum for text pairs, mean per token for spoken ones).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Hashable, Iterable, Sequence

BOS, EOS = "<s>", "</s>"


class NGram:
    """Interpolated n-gram: ``p(w|h) = sum_k lam_k p_ML(w | last k-1 symbols) + lam_0 / V``."""

    def __init__(self, order: int = 4, lambdas: Sequence[float] | None = None) -> None:
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order = order
        # weight of the uniform floor, then unigram .. order-gram (longer contexts weigh more)
        self.lambdas = list(lambdas) if lambdas else [0.01] + [float(2 ** k) for k in range(order)]
        if len(self.lambdas) != order + 1:
            raise ValueError(f"need {order + 1} lambdas, got {len(self.lambdas)}")
        # grams[k]: (k context symbols..., symbol) -> count; totals[k]: the k context symbols -> count.
        # Flat tuple counters filled by Counter.update (C speed): the fit is over every token of a corpus.
        self.grams: list[Counter] = [Counter() for _ in range(order)]
        self.totals: list[Counter] = [Counter() for _ in range(order)]
        self.vocab: set = set()

    def fit(self, sequences: Iterable[Sequence[Hashable]]) -> "NGram":
        for seq in sequences:
            self._add(seq, 1)
        self.vocab.add(EOS)
        return self

    def fit_counts(self, counts: "Counter[tuple]") -> "NGram":
        """Fit on distinct sequences with their multiplicities (e.g. the word types of a corpus for a
        character model): the same model as :meth:`fit` on every occurrence, at a fraction of the work."""
        for seq, n in counts.items():
            self._add(seq, n)
        self.vocab.add(EOS)
        return self

    def _add(self, seq: Sequence[Hashable], times: int) -> None:
        s = [BOS] * (self.order - 1) + list(seq) + [EOS]
        self.vocab.update(seq)
        n = len(s) - (self.order - 1)  # predicted positions: order-1 .. len(s)-1
        for k in range(self.order):  # context length k
            start = self.order - 1 - k
            cols = [s[start + j : start + j + n] for j in range(k + 1)]
            grams, ctxs = zip(*cols), (zip(*cols[:-1]) if k else [()] * n)
            if times != 1:  # Counter.update adds a mapping's counts
                grams = {key: c * times for key, c in Counter(grams).items()}
                ctxs = {key: c * times for key, c in Counter(ctxs).items()}
            self.grams[k].update(grams)
            self.totals[k].update(ctxs)

    def logprob(self, word, history: Sequence) -> float:
        h = [BOS] * (self.order - 1) + list(history)
        num = self.lambdas[0] / max(len(self.vocab), 1)
        den = self.lambdas[0]
        for k in range(self.order):
            ctx = tuple(h[len(h) - k :]) if k else ()
            total = self.totals[k].get(ctx)
            if total:
                num += self.lambdas[k + 1] * self.grams[k].get(ctx + (word,), 0) / total
                den += self.lambdas[k + 1]
        return math.log(num / den)

    def score(self, context: Sequence, target: Sequence) -> tuple[float, int]:
        """(sum of log p over ``target``, its length) given ``context`` before it."""
        hist = list(context)
        total = 0.0
        for w in target:
            total += self.logprob(w, hist[-(self.order - 1):] if self.order > 1 else [])
            hist.append(w)
        return total, len(target)


def cache_logprob(model: NGram, context: Sequence, target: Sequence, weight: float = 0.5) -> tuple[float, int]:
    """Like :meth:`NGram.score`, each target symbol's probability mixed with its frequency in the
    context so far (``weight``): a cache LM."""
    hist = list(context)
    cache = Counter(hist)  # grows with the target, as the history does
    total = 0.0
    for w in target:
        p = math.exp(model.logprob(w, hist[-(model.order - 1):] if model.order > 1 else []))
        pc = cache[w] / len(hist) if hist else 0.0
        total += math.log((1 - weight) * p + weight * pc)
        hist.append(w)
        cache[w] += 1
    return total, len(target)
