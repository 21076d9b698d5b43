"""Count-based n-gram language models: add-alpha (Laplace) and interpolated Kneser-Ney smoothing."""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

from d2lmini.checks import check_int

SMOOTHINGS = ("add-alpha", "kneser-ney")


def count_ngrams(tokens: Sequence, n: int) -> Counter:
    """Return a ``Counter`` mapping each tuple of ``n`` consecutive tokens to how often it occurs.

    ``tokens`` may be a list, a string (its characters are the tokens), or a
    tensor or array (read through ``tolist()``). Fewer than ``n`` tokens give an
    empty ``Counter``.

    Raises:
        ValueError: ``n`` is not a positive integer.
    """
    check_int("n", n)
    tokens = _as_list(tokens)
    return Counter(zip(*(tokens[i:] for i in range(n))))


class NGramLM:
    """An order-``n`` Markov model of tokens, estimated by counting.

    The probability of token ``w`` after the ``n - 1`` preceding tokens ``h``
    depends on ``smoothing``:

    * ``"add-alpha"``: ``P(w | h) = (c(h w) + alpha) / (c(h) + alpha * V)``, where
      ``c(h)`` counts ``h`` followed by any token and ``V`` is the vocabulary
      size. ``alpha = 1`` is Laplace smoothing; ``alpha = 0`` is the unsmoothed
      maximum-likelihood estimate.
    * ``"kneser-ney"``: interpolated Kneser-Ney with absolute discount
      ``D = discount`` at every order,
      ``P_m(w | h) = max(c_m(h w) - D, 0) / c_m(h) + D * N(h) / c_m(h) * P_{m-1}(w | h')``,
      where ``h'`` drops the oldest token of ``h``, ``c_m(h) = sum_w c_m(h w)`` and
      ``N(h)`` is the number of distinct ``w`` with ``c_m(h w) > 0``. The highest
      order uses raw counts; every lower order uses continuation counts
      (``c_m(g)`` = the number of distinct tokens seen immediately before the
      m-gram ``g``), because a lower order is only consulted when the longer
      context says little, and then what matters is in how many contexts ``w``
      appears, not how often. ``P_0(w) = 1 / V``. A context never seen
      (``c_m(h) = 0``) backs off fully: ``P_m = P_{m-1}``.

    Near the start of a sequence, where fewer than ``n - 1`` tokens precede, the
    model of the matching lower order is used (for Kneser-Ney: raw counts at
    that order, continuation counts below it).

    After ``fit``, for ``m = 1 .. order``: ``counts[m]`` maps each m-gram (a tuple)
    to its count, ``contexts[m]`` maps each (m-1)-gram to how often it is followed
    by a token, and for ``m < order`` ``continuations[m]`` maps each m-gram to the
    number of distinct tokens seen just before it. ``alpha``, ``discount`` and
    ``smoothing`` may be changed after ``fit``: the model re-smooths without recounting.

    Tokens may be any hashable values for ``prob`` and ``perplexity``; ``probs`` and
    ``next_token_probs`` return vectors over the vocabulary and so need tokens
    that are integer ids in ``range(vocab_size)``.

    Args:
        order: ``n >= 1`` (1 is the unigram model).
        vocab_size: ``V``, the number of possible tokens.
        alpha: pseudo-count of add-alpha smoothing, finite and ``>= 0``.
        smoothing: ``"add-alpha"`` (the default) or ``"kneser-ney"``.
        discount: Kneser-Ney's absolute discount ``D``, ``0 < D < 1``.

    Raises:
        ValueError: an argument has the wrong type or range.
    """

    def __init__(self, order: int, vocab_size: int, alpha: float = 0.1, smoothing: str = "add-alpha",
                 discount: float = 0.75) -> None:
        self.order = check_int("order", order)
        self.vocab_size = check_int("vocab_size", vocab_size)
        self.alpha, self.smoothing, self.discount = alpha, smoothing, discount
        self.counts: list[Counter] = []         # counts[m][(t1, ..., tm)]: m-gram counts, m = 0..order
        self.contexts: list[Counter] = []       # contexts[m][(t1, ..., t_{m-1})]: context followed by a token
        self.continuations: list[Counter] = []  # continuations[m][g]: distinct tokens just before g, m < order
        self._reset_cache()

    @property
    def alpha(self) -> float:
        """The add-alpha pseudo-count; setting it checks it (finite, ``>= 0``)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        if not (_is_real(value) and 0 <= value < math.inf):
            raise ValueError(f"alpha must be a finite number >= 0, got {value!r}")
        self._alpha = value
        self._reset_cache()

    @property
    def discount(self) -> float:
        """Kneser-Ney's absolute discount; setting it checks it (``0 < D < 1``)."""
        return self._discount

    @discount.setter
    def discount(self, value: float) -> None:
        if not (_is_real(value) and 0 < value < 1):
            raise ValueError(f"discount must be a number with 0 < discount < 1, got {value!r}")
        self._discount = value
        self._reset_cache()

    @property
    def smoothing(self) -> str:
        """``"add-alpha"`` or ``"kneser-ney"``; setting it checks it."""
        return self._smoothing

    @smoothing.setter
    def smoothing(self, value: str) -> None:
        if value not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {value!r}")
        self._smoothing = value
        self._reset_cache()

    def fit(self, tokens: Sequence) -> NGramLM:
        """Count every m-gram of ``tokens`` for ``m = 1 .. order``; return ``self``.

        Raises:
            ValueError: ``tokens`` holds more distinct values than ``vocab_size``.
        """
        tokens = _as_list(tokens)
        counts = [Counter()] + [count_ngrams(tokens, m) for m in range(1, self.order + 1)]
        if len(counts[1]) > self.vocab_size:
            raise ValueError(f"tokens hold {len(counts[1])} distinct values but vocab_size is "
                             f"{self.vocab_size}; pass the size of the vocabulary the tokens come from")
        self.counts = counts
        # continuations[m][g] = number of distinct v with count(v g) > 0, read off the (m+1)-grams.
        self.continuations = [Counter()] + [Counter(gram[1:] for gram in self.counts[m + 1])
                                            for m in range(1, self.order)]
        # Per order, context h -> (sum over w of c(h w), number of distinct w): raw, then continuation counts.
        self._raw = [{}] + [_totals_and_types(self.counts[m]) for m in range(1, self.order + 1)]
        self._cont = [{}] + [_totals_and_types(self.continuations[m]) for m in range(1, self.order)]
        self.contexts = [Counter({h: total for h, (total, _) in raw.items()}) for raw in self._raw]
        self._reset_cache()
        return self

    def prob(self, context: Sequence, token: Hashable) -> float:
        """Return the smoothed ``P(token | context)``; only the last ``order - 1`` context tokens count.

        Raises:
            RuntimeError: called before ``fit``.
            ValueError: ``alpha = 0`` (add-alpha) and the context was never seen.
        """
        context = self._context(context)
        if self.smoothing == "add-alpha":
            m = len(context) + 1
            numerator = self.counts[m].get(context + (token,), 0) + self.alpha
            return numerator / self._add_alpha_denominator(context)
        p, D = 1 / self.vocab_size, self.discount
        for m in range(1, len(context) + 2):  # from the unigram level up to the full context
            h = context[len(context) - m + 1:]
            raw = m == len(context) + 1
            total, types = (self._raw if raw else self._cont)[m].get(h, (0, 0))
            if total:  # an unseen context leaves P_m = P_{m-1}
                count = (self.counts if raw else self.continuations)[m].get(h + (token,), 0)
                p = (max(count - D, 0) + D * types * p) / total
        return p

    def probs(self, context: Sequence) -> np.ndarray:
        """Return ``P(w | context)`` for every ``w`` in ``range(vocab_size)``, an array of shape ``(V,)`` summing to 1.

        Distributions are cached per context, so asking again is cheap.

        Raises:
            RuntimeError: called before ``fit``.
            ValueError: the model was fitted on tokens that are not integer ids
                in ``range(vocab_size)``, or ``alpha = 0`` and the context was never seen.
        """
        return self._distribution(self._context(context), raw=True).copy()

    def next_token_probs(self, tokens: Sequence, start: int = 1) -> np.ndarray:
        """Return an array of shape ``(len(tokens) - start, V)`` whose row ``i - start`` is ``P(. | tokens[:i])``.

        Row ``j`` is the distribution of ``tokens[start + j]`` given the tokens
        before it (only the last ``order - 1`` count), so
        ``rows[j, tokens[start + j]]`` are the probabilities ``perplexity`` scores.
        Use it to combine the model with another one, e.g. an RNN.

        Raises:
            RuntimeError: called before ``fit``.
            ValueError: ``start`` is outside ``[0, len(tokens))``, or as ``probs``.
        """
        tokens = _as_list(tokens)
        if not 0 <= start < len(tokens):
            raise ValueError(f"need 0 <= start < len(tokens) = {len(tokens)}, got start={start}")
        self._check_fitted()
        n = self.order
        rows = [self._distribution(tuple(tokens[max(i - n + 1, 0):i]), raw=True) for i in range(start, len(tokens))]
        return np.stack(rows)  # (len(tokens) - start, V)

    def perplexity(self, tokens: Sequence, start: int = 1) -> float:
        """Return ``exp(mean NLL)`` of ``tokens[start:]``, each given the tokens before it.

        ``start = 1`` scores the same targets as a language model that reads
        ``tokens[:-1]`` and predicts ``tokens[1:]``.

        Raises:
            ValueError: nothing to score, or a probability of 0 (use ``alpha > 0``).
        """
        tokens = _as_list(tokens)
        if not 0 <= start < len(tokens):
            raise ValueError(f"need 0 <= start < len(tokens) = {len(tokens)}, got start={start}")
        nll = 0.0
        for i in range(start, len(tokens)):
            p = self.prob(tokens[max(i - self.order + 1, 0):i], tokens[i])
            if p == 0:
                raise ValueError(f"token {tokens[i]!r} at position {i} has probability 0; use alpha > 0")
            nll -= math.log(p)
        return math.exp(nll / (len(tokens) - start))

    def _check_fitted(self) -> None:
        if not self.counts:
            raise RuntimeError("call fit(tokens) before asking for probabilities")

    def _context(self, context: Sequence) -> tuple:
        """The last ``order - 1`` tokens of ``context`` as a tuple; raises before ``fit``."""
        self._check_fitted()
        context = tuple(_as_list(context))
        return context[max(len(context) - self.order + 1, 0):]

    def _add_alpha_denominator(self, context: tuple) -> float:
        denominator = self.contexts[len(context) + 1].get(context, 0) + self.alpha * self.vocab_size
        if denominator == 0:
            raise ValueError(f"context {context} was never seen and alpha is 0, so P is undefined; use alpha > 0")
        return denominator

    def _reset_cache(self) -> None:
        self._cache: dict[tuple[bool, tuple], np.ndarray] = {}  # (raw counts?, context) -> (V,) distribution
        self._followers_index: dict[tuple[bool, int], dict] = {}

    def _distribution(self, h: tuple, raw: bool) -> np.ndarray:
        """The cached ``(V,)`` distribution after ``h`` (at most ``order - 1`` tokens); do not modify it.

        ``raw`` selects raw counts at this order (the top of a Kneser-Ney
        model), else continuation counts (every order below it).
        """
        key = (raw, h)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        m = len(h) + 1
        ws, cs = self._followers(raw, m).get(h, (None, None))
        if self.smoothing == "add-alpha":
            dist = np.full(self.vocab_size, float(self.alpha))  # (V,)
            if ws is not None:
                dist[ws] += cs
            dist /= self._add_alpha_denominator(h)
        else:
            lower = self._distribution(h[1:], raw=False) if h else np.full(self.vocab_size, 1 / self.vocab_size)
            if ws is None:  # unseen context: back off fully
                dist = lower
            else:
                D, total = self.discount, cs.sum()
                dist = lower * (D * len(ws) / total)  # (V,)
                dist[ws] += (cs - D) / total          # every count is >= 1 > D
        self._cache[key] = dist
        return dist

    def _followers(self, raw: bool, m: int) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        """Context -> (ids of the tokens seen after it, their counts), raw or continuation counts of order ``m``."""
        index = self._followers_index.get((raw, m))
        if index is None:
            grouped: dict[tuple, tuple[list, list]] = {}
            for gram, count in (self.counts if raw else self.continuations)[m].items():
                ws, cs = grouped.setdefault(gram[:-1], ([], []))
                ws.append(gram[-1])
                cs.append(count)
            index = {h: (self._ids(ws), np.array(cs, dtype=float)) for h, (ws, cs) in grouped.items()}
            self._followers_index[(raw, m)] = index
        return index

    def _ids(self, ws: list) -> np.ndarray:
        bad = [w for w in ws if not (isinstance(w, numbers.Integral) and 0 <= w < self.vocab_size)]
        if bad:
            raise ValueError(f"probs and next_token_probs need tokens that are integer ids in range({self.vocab_size}),"
                             f" but the model was fitted on {bad[0]!r}; fit it on vocab[tokens]")
        return np.array(ws, dtype=np.int64)


def _as_list(tokens: Sequence) -> list:
    """Tokens as a list of plain values (tensors and arrays through ``tolist()``, so that they hash as numbers)."""
    return tokens.tolist() if hasattr(tokens, "tolist") else list(tokens)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _totals_and_types(grams: Counter) -> dict[tuple, tuple[int, int]]:
    """Map each context ``g[:-1]`` to (total count of the grams extending it, number of distinct such grams)."""
    out: dict[tuple, tuple[int, int]] = {}
    for gram, count in grams.items():
        total, types = out.get(gram[:-1], (0, 0))
        out[gram[:-1]] = (total + count, types + 1)
    return out
