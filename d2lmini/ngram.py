"""Count-based n-gram language models with add-alpha (Laplace) smoothing."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


class NGramLM:
    """An order-``n`` Markov model of tokens, estimated by counting.

    ``P(w | h) = (count(h, w) + alpha) / (count(h) + alpha * V)`` where ``h`` is
    the ``n - 1`` preceding tokens, ``count(h)`` counts ``h`` followed by any
    token, and ``V`` is the vocabulary size. ``alpha = 1`` is Laplace smoothing;
    ``alpha = 0`` is the unsmoothed maximum-likelihood estimate. Near the start
    of a sequence, where fewer than ``n - 1`` tokens precede, the model of the
    matching lower order is used.

    After ``fit``, ``counts[m]`` maps each m-gram (a tuple) to its count and
    ``contexts[m]`` maps each (m-1)-gram to how often it is followed by a token,
    for ``m = 1 .. order``. ``alpha`` is read whenever a probability is
    computed, so changing it after ``fit`` re-smooths without recounting.

    Args:
        order: ``n >= 1`` (1 is the unigram model).
        vocab_size: ``V``, the number of possible tokens.
        alpha: pseudo-count added to every count, ``>= 0``.
    """

    def __init__(self, order: int, vocab_size: int, alpha: float = 0.1) -> None:
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be an integer >= 1, got {order!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        self.order, self.vocab_size, self.alpha = order, vocab_size, alpha
        self.counts: list[Counter] = []    # counts[m][(t1, ..., tm)]: m-gram counts, m = 0..order
        self.contexts: list[Counter] = []  # contexts[m][(t1, ..., t_{m-1})]: context followed by a token

    def fit(self, tokens: Sequence) -> NGramLM:
        """Count every m-gram of ``tokens`` for ``m = 1 .. order``; return ``self``."""
        tokens = list(tokens)
        self.counts = [Counter()]
        self.contexts = [Counter()]
        for m in range(1, self.order + 1):
            grams = Counter(zip(*(tokens[i:] for i in range(m))))
            self.counts.append(grams)
            context = Counter()
            for gram, count in grams.items():
                context[gram[:-1]] += count
            self.contexts.append(context)
        return self

    def prob(self, context: Sequence, token) -> float:
        """Return the smoothed ``P(token | context)``; only the last ``order - 1`` context tokens count.

        Raises:
            RuntimeError: called before ``fit``.
            ValueError: ``alpha = 0`` and the context was never seen.
        """
        if not self.counts:
            raise RuntimeError("call fit(tokens) before asking for probabilities")
        context = tuple(context)[max(len(context) - self.order + 1, 0):]
        m = len(context) + 1
        numerator = self.counts[m][context + (token,)] + self.alpha
        denominator = self.contexts[m][context] + self.alpha * self.vocab_size
        if denominator == 0:
            raise ValueError(f"context {context} was never seen and alpha is 0, so P is undefined; use alpha > 0")
        return numerator / denominator

    def perplexity(self, tokens: Sequence, start: int = 1) -> float:
        """Return ``exp(mean NLL)`` of ``tokens[start:]``, each given the tokens before it.

        ``start = 1`` scores the same targets as a language model that reads
        ``tokens[:-1]`` and predicts ``tokens[1:]``.

        Raises:
            ValueError: nothing to score, or a probability of 0 (use ``alpha > 0``).
        """
        tokens = list(tokens)
        if not 0 <= start < len(tokens):
            raise ValueError(f"need 0 <= start < len(tokens) = {len(tokens)}, got start={start}")
        nll = 0.0
        for i in range(start, len(tokens)):
            p = self.prob(tokens[max(i - self.order + 1, 0):i], tokens[i])
            if p == 0:
                raise ValueError(f"token {tokens[i]!r} at position {i} has probability 0; use alpha > 0")
            nll -= math.log(p)
        return math.exp(nll / (len(tokens) - start))
