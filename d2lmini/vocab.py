"""A vocabulary: the two-way map between tokens and integer indices."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

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
    """

    def __init__(self, tokens: Iterable = (), min_freq: int = 0,
                 reserved_tokens: Iterable[str] = ()) -> None:
        tokens = list(tokens)
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        counts = Counter(tokens)
        self.token_freqs: list[tuple[str, int]] = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
        kept = {token for token, freq in self.token_freqs if freq >= min_freq}
        # Strings sort as usual; other tokens (tuples such as bigrams) after them, by their text.
        self.idx_to_token: list = sorted(kept | {UNK} | set(reserved_tokens),
                                         key=lambda t: (not isinstance(t, str), str(t)))
        self.token_to_idx: dict = {token: i for i, token in enumerate(self.idx_to_token)}

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    def __getitem__(self, tokens):
        """Return the index of one token, or a list of indices for a list or tuple of tokens.

        A tuple that is itself a token of this vocabulary (a bigram such as
        ``("the", "time")``) is looked up as one token; any other list or tuple
        maps element by element, as in d2l. Unknown tokens give ``unk``.
        """
        if isinstance(tokens, tuple) and tokens in self.token_to_idx:
            return self.token_to_idx[tokens]
        if isinstance(tokens, (list, tuple)):
            return [self.token_to_idx.get(token, self.unk) for token in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        """Return the token of one index, or a list of tokens for a sequence of indices.

        A one-element list gives a one-element list. Tensors and arrays work too.

        Raises:
            IndexError: an index is outside ``[0, len(vocab))``.
            TypeError: ``indices`` is a string (look tokens up with ``vocab[...]`` instead).
        """
        if isinstance(indices, str):
            raise TypeError(f"to_tokens takes indices, got the string {indices!r}; "
                            "use vocab[token] to turn tokens into indices")
        if hasattr(indices, "tolist"):
            indices = indices.tolist()
        if isinstance(indices, Sequence):
            return [self._token(int(i)) for i in indices]
        return self._token(int(indices))

    def _token(self, index: int) -> str:
        if not 0 <= index < len(self.idx_to_token):
            raise IndexError(f"index {index} is outside the vocabulary of {len(self)} tokens")
        return self.idx_to_token[index]

    @property
    def unk(self) -> int:
        """The index of the unknown token ``'<unk>'``."""
        return self.token_to_idx[UNK]
