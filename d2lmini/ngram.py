"""Count-based n-gram language models: add-alpha (Laplace) and interpolated Kneser-Ney smoothing.

``NGramLM.fit`` counts once, with NumPy. Every context of fewer than ``order`` tokens seen in the text gets an
integer id, and for each order a table lists, context by context, the tokens seen after it and how often (raw
counts, and for Kneser-Ney's lower orders continuation counts). ``next_token_probs``, ``probs``, ``prob`` and
``perplexity`` all go through one function that looks the contexts up in these tables and fills whole rows of
probabilities at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple

import numpy as np

from d2lmini.checks import check_choice, check_index, check_int, check_real, check_tokens, safe_exp

SMOOTHINGS = ("add-alpha", "kneser-ney")


def count_ngrams(tokens: Iterable[Hashable], n: int) -> Counter:
    """Return a ``Counter`` mapping each tuple of ``n`` consecutive tokens to how often it occurs.

    ``tokens`` may be a list, a string (its characters are the tokens), or a
    tensor or array (read through ``tolist()``). Fewer than ``n`` tokens give an
    empty ``Counter``.

    Raises:
        ValueError: ``n`` is not a positive integer.
        TypeError: ``tokens`` is not a sequence of hashable tokens (e.g. a list of lines, each a list).
    """
    check_int("n", n)
    tokens = _as_list("tokens", tokens)
    try:
        return Counter(zip(*(tokens[i:] for i in range(n))))
    except TypeError:  # an unhashable token
        bad = next(t for t in tokens if not isinstance(t, Hashable))
        raise TypeError(f"tokens must be a flat sequence of tokens, but it holds a {type(bad).__name__} "
                        f"({bad!r:.40}); for a list of lines, join them: [t for line in lines for t in line]") from None


class _Table(NamedTuple):
    """The counts of one order, grouped by context: entries ``start[c]:start[c + 1]`` follow context ``c``."""

    context: np.ndarray  # (E,) context id of each entry, ascending
    token: np.ndarray    # (E,) the token seen after it
    count: np.ndarray    # (E,) how often (raw or continuation count), >= 1
    start: np.ndarray    # (C + 1,) where each context's entries start
    total: np.ndarray    # (C,) float sum of the counts after each context; 0 for a context never followed


def _table(pairs: np.ndarray, num_contexts: int, vocab_size: int) -> _Table:
    """Count the distinct ``context * V + token`` codes in ``pairs`` and group them by context."""
    codes, count = np.unique(pairs, return_counts=True)
    context, token = np.divmod(codes, vocab_size)
    return _Table(context, token, count, np.searchsorted(context, np.arange(num_contexts + 1)),
                  np.bincount(context, weights=count, minlength=num_contexts))


def _entries(table: _Table, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``contexts`` (one per row, each with entries), return (row, entry index) of every entry, flattened."""
    lengths = table.start[contexts + 1] - table.start[contexts]
    rows = np.repeat(np.arange(len(contexts)), lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return rows, np.repeat(table.start[contexts], lengths) + within


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

    Tokens are integer ids in ``range(vocab_size)``, or strings (a string's
    characters, or a list of words); a model fitted on strings answers
    ``prob`` and ``perplexity`` for strings, with every string it never saw
    standing for one of the ``vocab_size`` tokens the text did not use.

    After ``fit``, for ``m = 1 .. order``: ``counts[m]`` maps each m-gram (a tuple)
    to its count, ``contexts[m]`` maps each (m-1)-gram to how often it is followed
    by a token, and for ``m < order`` ``continuations[m]`` maps each m-gram to the
    number of distinct tokens seen just before it. ``alpha``, ``discount`` and
    ``smoothing`` may be changed after ``fit``: the model re-smooths without recounting.

    Args:
        order: ``n >= 1`` (1 is the unigram model).
        vocab_size: ``V``, the number of possible tokens.
        alpha: pseudo-count of add-alpha smoothing, finite and ``>= 0``.
        smoothing: ``"add-alpha"`` (the default) or ``"kneser-ney"``.
        discount: Kneser-Ney's absolute discount ``D``, ``0 < D <= 1``.

    Raises:
        ValueError: an argument is out of range or not a number.
    """

    def __init__(self, order: int, vocab_size: int, alpha: float = 0.1, smoothing: str = "add-alpha",
                 discount: float = 0.75) -> None:
        self.order = check_int("order", order)
        self.vocab_size = check_int("vocab_size", vocab_size)
        self.alpha, self.smoothing, self.discount = alpha, smoothing, discount
        self._symbols: dict[str, int] | None = None  # fitted on strings: string -> id
        self._keys: list[np.ndarray] = []  # keys[j]: sorted codes of the seen contexts of j tokens, see fit
        self._raw: list[_Table] = []       # raw[m]: m-gram counts by context, m = 1..order (raw[0] unused)
        self._cont: list[_Table] = []      # cont[m]: continuation counts, m = 1..order-1
        self._dicts: dict[str, list[Counter]] = {}

    @property
    def alpha(self) -> float:
        """The add-alpha pseudo-count; setting it checks it (finite, ``>= 0``)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._alpha = check_real("alpha", value, minimum=0, hint="0 gives the plain ratio of counts, 1 Laplace")

    @property
    def discount(self) -> float:
        """Kneser-Ney's absolute discount; setting it checks it (``0 < D <= 1``)."""
        return self._discount

    @discount.setter
    def discount(self, value: float) -> None:
        # D > 0 frees probability for the tokens a context was never followed by; D <= 1 because every count it
        # is taken from is at least 1, so no discounted count goes negative and each level sums to 1.
        self._discount = check_real("discount", value, minimum=0, maximum=1, exclusive_minimum=True,
                                    hint="D > 0 leaves mass for unseen tokens; D <= 1 keeps every seen count >= 0")

    @property
    def smoothing(self) -> str:
        """``"add-alpha"`` or ``"kneser-ney"``; setting it checks it."""
        return self._smoothing

    @smoothing.setter
    def smoothing(self, value: str) -> None:
        self._smoothing = check_choice("smoothing", value, SMOOTHINGS)

    def fit(self, tokens: Sequence[int] | Sequence[str] | str) -> NGramLM:
        """Count every m-gram of ``tokens`` for ``m = 1 .. order``; return ``self``.

        ``tokens``: integer ids in ``range(vocab_size)`` (a list, array or tensor), or a
        string, or a list of strings.

        Raises:
            TypeError: ``tokens`` holds something other than integers, or strings.
            IndexError: an id lies outside ``[0, vocab_size)``.
            ValueError: ``tokens`` holds more distinct strings than ``vocab_size``.
        """
        if _is_text(tokens):
            self._symbols = {s: i for i, s in enumerate(dict.fromkeys(tokens))}
            if len(self._symbols) > self.vocab_size:
                raise ValueError(f"tokens hold {len(self._symbols)} distinct values but vocab_size is "
                                 f"{self.vocab_size}; pass the size of the vocabulary the tokens come from")
            ids = np.fromiter(map(self._symbols.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        else:
            self._symbols = None
            ids = check_tokens("tokens", tokens, self.vocab_size)
        N, V = len(ids), self.vocab_size
        # before[j][p]: id of the j tokens before position p (-1 for p < j). A context of j tokens is coded
        # as (id of its newest j - 1 tokens) * V + its oldest token, and its id is that code's rank in keys[j],
        # so that every context's id extends the id of the context one token shorter.
        before = [np.zeros(N + 1, dtype=np.int64)]
        self._keys = [np.zeros(1, dtype=np.int64)]  # the empty context has id 0
        for j in range(1, self.order):
            keys, inverse = np.unique(before[j - 1][j:] * V + ids[:max(N + 1 - j, 0)], return_inverse=True)
            self._keys.append(keys)
            before.append(np.concatenate([np.full(min(j, N + 1), -1), inverse]))
        # Raw counts: the m-gram ending at position p is (the m - 1 tokens before p, the token at p).
        self._raw = [None] + [_table(before[m - 1][m - 1:N] * V + ids[m - 1:], len(self._keys[m - 1]), V)
                              for m in range(1, self.order + 1)]
        # Continuation counts: each distinct (m + 1)-gram counts once for the m-gram it ends with, whose context
        # is the newest m - 1 tokens of the (m + 1)-gram's context, i.e. that context's code // V.
        self._cont = [None] + [_table(self._keys[m][self._raw[m + 1].context] // V * V + self._raw[m + 1].token,
                                      len(self._keys[m - 1]), V) for m in range(1, self.order)]
        self._dicts = {}
        return self

    @property
    def counts(self) -> list[Counter]:
        """``counts[m][(t1, ..., tm)]``: how often each m-gram occurs, ``m = 1 .. order`` (``counts[0]`` is empty)."""
        return self._as_dicts("counts")

    @property
    def contexts(self) -> list[Counter]:
        """``contexts[m][(t1, ..., t_{m-1})]``: how often each (m-1)-gram is followed by a token."""
        return self._as_dicts("contexts")

    @property
    def continuations(self) -> list[Counter]:
        """``continuations[m][g]``: the number of distinct tokens seen just before the m-gram ``g``, ``m < order``."""
        return self._as_dicts("continuations")

    def prob(self, context: Sequence, token: Hashable) -> float:
        """Return the smoothed ``P(token | context)``; only the last ``order - 1`` context tokens count.

        Raises:
            ValueError: called before ``fit``; ``alpha = 0`` (add-alpha) and the context was never seen;
                or, for a model fitted on strings, ``token`` is a string it never saw and the text used
                all ``vocab_size`` tokens.
            TypeError: ``context`` or ``token`` is not of the kind the model was fitted on.
            IndexError: an id lies outside ``[0, vocab_size)``.
        """
        self._check_fitted()
        context = self._encode("context", context)
        if self._symbols is None:
            token = check_index("token", token, self.vocab_size, hint="token ids come from vocab[...]")
        else:
            if not isinstance(token, str):
                raise TypeError(f"token must be a string, as the model was fitted on strings, got {token!r}")
            token = self._encode("token", [token])[0]
        return float(self._rows(context, np.array([len(context)]))[0, token])

    def probs(self, context: Sequence[int]) -> np.ndarray:
        """Return ``P(w | context)`` for every ``w`` in ``range(vocab_size)``, an array of shape ``(V,)`` summing to 1.

        Raises:
            ValueError: called before ``fit``, the model was fitted on strings, or ``alpha = 0`` and the
                context was never seen.
            TypeError, IndexError: ``context`` is not a sequence of ids in ``[0, vocab_size)``.
        """
        self._check_ids()
        context = self._encode("context", context)
        return self._rows(context, np.array([len(context)]))[0]

    def next_token_probs(self, tokens: Sequence[int], start: int = 1) -> np.ndarray:
        """Return an array of shape ``(len(tokens) - start, V)`` whose row ``i - start`` is ``P(. | tokens[:i])``.

        Row ``j`` is the distribution of ``tokens[start + j]`` given the tokens
        before it (only the last ``order - 1`` count), so
        ``rows[j, tokens[start + j]]`` are the probabilities ``perplexity`` scores.
        Use it to combine the model with another one, e.g. an RNN.

        Raises:
            ValueError: ``start`` is outside ``[0, len(tokens))``, or as ``probs``.
            TypeError, IndexError: ``tokens`` is not a sequence of ids in ``[0, vocab_size)``.
        """
        self._check_ids()
        tokens = self._encode("tokens", tokens)
        return self._rows(tokens, np.arange(self._check_start(tokens, start), len(tokens)))

    def perplexity(self, tokens: Sequence, start: int = 1) -> float:
        """Return ``exp(mean NLL)`` of ``tokens[start:]``, each given the tokens before it.

        ``start = 1`` scores the same targets as a language model that reads
        ``tokens[:-1]`` and predicts ``tokens[1:]``.

        Raises:
            ValueError: called before ``fit``, nothing to score, or a probability of 0 (use ``alpha > 0``).
            TypeError, IndexError: as ``prob``.
        """
        self._check_fitted()
        tokens = self._encode("tokens", tokens)
        positions = np.arange(self._check_start(tokens, start), len(tokens))
        chunk = max(1, 2**20 // self.vocab_size)  # rows per block, so that memory stays small for any length
        p = np.concatenate([self._rows(tokens, block)[np.arange(len(block)), tokens[block]]
                            for block in np.split(positions, range(chunk, len(positions), chunk))])
        if not p.all():
            i = positions[np.argmin(p)]
            raise ValueError(f"token {self._shown(tokens[i])} at position {i} has probability 0; use alpha > 0")
        return safe_exp(float(-np.log(p).mean()))

    def _rows(self, tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``(len(positions), V)``: row ``r`` is ``P(. | the last order - 1 ids of tokens[:positions[r]])``."""
        V, D = self.vocab_size, self.discount
        k = np.minimum(positions, self.order - 1)  # context length of each row
        ids = self._context_ids(tokens, positions)
        out = np.empty((len(positions), V))
        if self.smoothing == "add-alpha":
            for m in np.unique(k) + 1:  # rows with m - 1 tokens of context use the m-gram counts
                rows = np.flatnonzero(k == m - 1)
                contexts, inverse = np.unique(ids[m - 1][rows], return_inverse=True)  # one row per context
                seen = np.flatnonzero(contexts >= 0)
                table, denominator = self._raw[m], np.full(len(contexts), self.alpha * V)
                denominator[seen] += table.total[contexts[seen]]
                if not denominator.all():
                    p = positions[rows[np.argmin(denominator[inverse])]]
                    raise ValueError(f"context {self._shown(tokens[p - m + 1:p])} was never seen and alpha is 0, "
                                     "so P is undefined; use alpha > 0")
                dist = np.full((len(contexts), V), self.alpha)
                r, e = _entries(table, contexts[seen])
                dist[seen[r], table.token[e]] += table.count[e]
                out[rows] = (dist / denominator[:, None])[inverse]
            return out
        # Kneser-Ney, from P_0 = 1/V up one order at a time. Rows with the same context have the same distribution,
        # so each order computes one "node" per distinct context, from the node of its context one token shorter.
        nodes, node = np.full((1, V), 1 / V), np.zeros(len(positions), dtype=np.int64)  # (K, V); each row's node
        growing = np.ones(len(positions), dtype=bool)  # rows whose context has not ended yet
        for m in range(1, self.order + 1):
            levels = [(self._raw[m], k == m - 1)]  # raw counts where m is the row's top order
            if m < self.order:
                levels.append((self._cont[m], k > m - 1))  # continuation counts below it
            blocks, next_node = [], np.full(len(positions), -1)
            for table, at_level in levels:
                rows = np.flatnonzero(at_level & growing)
                c = ids[m - 1][rows]
                seen = c >= 0
                seen[seen] = table.total[c[seen]] > 0  # an unseen context leaves P_m = P_{m-1}
                rows, c = rows[seen], c[seen]
                contexts, first, inverse = np.unique(c, return_index=True, return_inverse=True)
                total = table.total[contexts]
                types = table.start[contexts + 1] - table.start[contexts]
                dist = nodes[node[rows[first]]] * (D * types / total)[:, None]  # (contexts, V)
                r, e = _entries(table, contexts)
                dist[r, table.token[e]] += (table.count[e] - D) / total[r]  # every count is >= 1 >= D
                next_node[rows] = sum(map(len, blocks)) + inverse
                blocks.append(dist)
            ended = growing & (next_node < 0)  # unseen at order m: keep P_{m-1}
            out[ended] = nodes[node[ended]]
            nodes, node, growing = np.concatenate(blocks), next_node, growing & ~ended
            complete = growing & (k == m - 1)  # the whole context is used
            out[complete] = nodes[node[complete]]
            growing &= ~complete
        return out

    def _context_ids(self, tokens: np.ndarray, positions: np.ndarray) -> list[np.ndarray]:
        """``ids[j][r]``: id of the ``j`` tokens before ``positions[r]``; -1 if never seen in fit or too few."""
        ids = [np.zeros(len(positions), dtype=np.int64)]
        for j in range(1, self.order):
            out = np.full(len(positions), -1, dtype=np.int64)
            rows = np.flatnonzero((positions >= j) & (ids[j - 1] >= 0))
            keys = self._keys[j]
            if len(rows) and len(keys):
                code = ids[j - 1][rows] * self.vocab_size + tokens[positions[rows] - j]
                found = np.minimum(np.searchsorted(keys, code), len(keys) - 1)
                out[rows] = np.where(keys[found] == code, found, -1)
            ids.append(out)
        return ids

    def _encode(self, name: str, tokens: object) -> np.ndarray:
        """``tokens`` as an ``int64`` array of ids, checked against what the model was fitted on."""
        if self._symbols is None:
            return check_tokens(name, tokens, self.vocab_size)
        if not _is_text(tokens):
            raise TypeError(f"{name} must be a string or a list of strings, as the model was fitted on, got "
                            f"{type(tokens).__name__}")
        spare = len(self._symbols)  # the first id the text did not use; every unseen string stands for it
        if spare == self.vocab_size and any(t not in self._symbols for t in tokens):
            bad = next(t for t in tokens if t not in self._symbols)
            raise ValueError(f"{name} holds {bad!r}, which the model never saw, and the text it was fitted on "
                             f"already uses all {self.vocab_size} tokens of the vocabulary; check the spelling")
        return np.fromiter((self._symbols.get(t, spare) for t in tokens), dtype=np.int64, count=len(tokens))

    def _shown(self, ids: np.ndarray | np.integer) -> str:
        """``ids`` as the tokens the model was fitted on (strings or ids), for messages."""
        ids = np.atleast_1d(ids).tolist()
        if self._symbols is not None:
            names = list(self._symbols)
            ids = [names[i] if i < len(names) else "<unseen>" for i in ids]
        return repr(tuple(ids)) if len(ids) != 1 else repr(ids[0])

    def _check_start(self, tokens: np.ndarray, start: int) -> int:
        if not len(tokens):
            raise ValueError("tokens is empty: give at least one token to score")
        return check_int("start", start, minimum=0, maximum=len(tokens) - 1)

    def _check_fitted(self) -> None:
        if not self._raw:
            raise ValueError("the model has no counts yet: call fit(tokens) before asking for probabilities")

    def _check_ids(self) -> None:
        self._check_fitted()
        if self._symbols is not None:
            raise ValueError(f"probs and next_token_probs return vectors indexed by integer ids in "
                             f"range({self.vocab_size}), but the model was fitted on strings; fit it on vocab[tokens]")

    def _as_dicts(self, name: str) -> list[Counter]:
        """``counts``, ``contexts`` or ``continuations``: dicts keyed by tuples, built from the tables on first use."""
        if not self._raw:
            return []
        if name not in self._dicts:
            dicts = [Counter()]
            for m in range(1, self.order + (name != "continuations")):
                table = (self._cont if name == "continuations" else self._raw)[m]
                if name == "contexts":
                    seen = np.flatnonzero(table.total)
                    dicts.append(self._counter(self._spell(m - 1, seen), table.total[seen].astype(np.int64)))
                else:
                    dicts.append(self._counter(self._spell(m - 1, table.context, table.token), table.count))
            self._dicts[name] = dicts
        return self._dicts[name]

    def _spell(self, j: int, contexts: np.ndarray, then: np.ndarray | None = None) -> np.ndarray:
        """The ids of the contexts of ``j`` tokens with ids ``contexts``, oldest first, and ``then`` appended."""
        grams = np.empty((len(contexts), j + (then is not None)), dtype=np.int64)  # (len(contexts), j [+ 1])
        for col in range(j):  # a context's code is (id of its newest j - col - 1 tokens) * V + its oldest token
            contexts, grams[:, col] = np.divmod(self._keys[j - col][contexts], self.vocab_size)
        if then is not None:
            grams[:, -1] = then
        return grams

    def _counter(self, grams: np.ndarray, counts: np.ndarray) -> Counter:
        """A Counter mapping each row of ``grams`` (as a tuple of the fitted tokens) to its count."""
        rows = grams.tolist()
        if self._symbols is not None:
            names = list(self._symbols)
            rows = [[names[i] for i in row] for row in rows]
        return Counter(dict(zip(map(tuple, rows), counts.tolist())))


def _is_text(tokens: object) -> bool:
    """Whether ``tokens`` is a string, or a list or tuple of strings (words)."""
    return isinstance(tokens, str) or (isinstance(tokens, list | tuple) and len(tokens) > 0
                                       and all(isinstance(t, str) for t in tokens))


def _as_list(name: str, tokens: Iterable) -> list:
    """Tokens as a list of plain values (tensors and arrays through ``tolist()``, so that they hash as numbers)."""
    if hasattr(tokens, "tolist"):
        return tokens.tolist()
    if not isinstance(tokens, Iterable):
        raise TypeError(f"{name} must be a sequence of tokens (a list, a string, an array or a tensor), got "
                        f"{type(tokens).__name__}")
    return list(tokens)
