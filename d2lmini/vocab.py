"""A vocabulary: the two-way map between tokens and integer indices."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from d2lmini.checks import check_index, check_int

UNK = "<unk>"


class Vocab:
    """Map tokens to indices and back.

    ``idx_to_token`` is the sorted set of ``'<unk>'``, the reserved tokens and
    every token seen at least ``min_freq`` times; ``token_freqs`` lists
    ``(token, count)`` pairs by descending count. Unknown tokens map to the
    index of ``'<unk>'``.

    Args:
        tokens: a flat sequence of tokens, or a list of token lists (for
            example one list per line), which is flattened. Tuples are tokens
            too (for example bigrams), never flattened.
        min_freq: tokens seen fewer times than this map to ``'<unk>'``.
        reserved_tokens: tokens that always get an index, such as ``'<pad>'``.

    Raises:
        TypeError: ``tokens`` or ``reserved_tokens`` is not an iterable of hashable tokens
            (``reserved_tokens`` is a list, not one string), or lines mixed with tokens.
        ValueError: ``min_freq`` is not an integer >= 0.
    """

    def __init__(self, tokens: Iterable = (), min_freq: int = 0,
                 reserved_tokens: Iterable[str] = ()) -> None:
        check_int("min_freq", min_freq, minimum=0)
        if isinstance(reserved_tokens, str):
            raise TypeError(f"reserved_tokens must be a list of tokens, got the string {reserved_tokens!r}; "
                            f"write reserved_tokens=[{reserved_tokens!r}]")
        try:
            tokens, reserved_tokens = list(tokens), list(reserved_tokens)
        except TypeError:
            raise TypeError("tokens and reserved_tokens must be iterables of tokens (e.g. tokenize(text) or "
                            f"a list of lines), got {type(tokens).__name__} and {type(reserved_tokens).__name__}"
                            ) from None
        if tokens and isinstance(tokens[0], list):
            if not all(isinstance(line, list) for line in tokens):
                raise TypeError("tokens mixes lists (lines) with single tokens; give either one flat list of "
                                "tokens or one list of tokens per line")
            tokens = [token for line in tokens for token in line]
        try:
            counts = Counter(tokens)
            set(reserved_tokens)
        except TypeError:
            raise TypeError("every token must be hashable (a str, or a tuple such as a bigram); got a "
                            "nested list or another unhashable value") from None
        self.token_freqs: list[tuple[str, int]] = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
        kept = {token for token, freq in self.token_freqs if freq >= min_freq}
        # Strings sort as usual; other tokens (tuples such as bigrams) after them, by their text.
        self.idx_to_token: list = sorted(kept | {UNK} | set(reserved_tokens),
                                         key=lambda t: (not isinstance(t, str), str(t)))
        self.token_to_idx: dict = {token: i for i, token in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: object) -> bool:
        try:
            return token in self.token_to_idx
        except TypeError:  # unhashable, so not a token
            return False

    def __getitem__(self, tokens):
        """Return the index of one token, or a list of indices for a list or tuple of tokens.

        A tuple that is itself a token of this vocabulary (a bigram such as
        ``("the", "time")``) is looked up as one token; any other list or tuple
        maps element by element, as in d2l. Unknown tokens give ``unk``.

        Raises:
            TypeError: a token is unhashable (a nested list, a dict...).
        """
        try:
            if isinstance(tokens, tuple) and tokens in self.token_to_idx:
                return self.token_to_idx[tokens]
            if isinstance(tokens, (list, tuple)):
                return [self.token_to_idx.get(token, self.unk) for token in tokens]
            return self.token_to_idx.get(tokens, self.unk)
        except TypeError:
            raise TypeError(f"vocab[...] takes a token or a flat list of tokens, got {type(tokens).__name__} "
                            "holding an unhashable value (a nested list?); look up one line at a time") from None

    def to_tokens(self, indices):
        """Return the token of one index, or a list of tokens for a sequence of indices.

        A one-element list gives a one-element list. Tensors and arrays work too.

        Raises:
            IndexError: an index is outside ``[0, len(vocab))``.
            TypeError: ``indices`` is a string (look tokens up with ``vocab[...]`` instead), or an
                index is not an integer (a float such as 1.7 is never truncated).
        """
        if isinstance(indices, str):
            raise TypeError(f"to_tokens takes indices, got the string {indices!r}; "
                            "use vocab[token] to turn tokens into indices")
        if hasattr(indices, "tolist"):
            indices = indices.tolist()
        if isinstance(indices, Sequence):
            return [self._token(i) for i in indices]
        return self._token(indices)

    def _token(self, index: object) -> str:
        hint = (f"to_tokens never rounds (write int(...) yourself), and a vocabulary of {len(self)} tokens "
                "has the indices 0 .. len(vocab) - 1")
        return self.idx_to_token[check_index("index", index, len(self), hint)]

    @property
    def unk(self) -> int:
        """The index of the unknown token ``'<unk>'``."""
        return self.token_to_idx[UNK]
