"""Text processing: from raw text to the characters or words a vocabulary indexes.

Kept apart from ``data`` (downloading and batching) so that models and pages can
preprocess a prompt without importing the downloader.
"""

from __future__ import annotations

import re
from typing import overload


def preprocess(text: str) -> str:
    """Replace every run of non-letters by one space and lowercase the result.

    Only the ASCII letters ``A-Z``, ``a-z`` are kept; accented and other letters become spaces, as in the corpus.

    Raises:
        TypeError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"preprocess takes a str, got {type(text).__name__}"
                        + ("; decode bytes first with text.decode('utf-8')" if isinstance(text, bytes) else ""))
    return re.sub("[^A-Za-z]+", " ", text).lower()


@overload
def tokenize(text: str, token: str | None = None) -> list[str]: ...
@overload
def tokenize(text: list[str] | tuple[str, ...], token: str | None = None) -> list[list[str]]: ...


def tokenize(text: str | list[str] | tuple[str, ...], token: str | None = None) -> list[str] | list[list[str]]:
    """Split preprocessed text into characters (``token='char'``, the default for a string) or words (``'word'``).

    Given a string, returns its list of tokens. Given a list of lines (d2l's
    ``tokenize(lines, token)``), returns one token list per line, as d2l does.
    For a list, ``token`` must be named: d2l's default is ``'word'`` and this
    package's is ``'char'``, so a silent default would split differently.

    Raises:
        ValueError: ``token`` is neither ``'char'`` nor ``'word'``, or a list was given without ``token``.
        TypeError: ``text`` is neither a string nor a list of strings.
    """
    if token not in (None, "char", "word"):
        raise ValueError(f"token must be 'char' or 'word', got {token!r}")
    if isinstance(text, str):
        return _split(text, token or "char")
    if not isinstance(text, (list, tuple)) or not all(isinstance(line, str) for line in text):
        raise TypeError(f"tokenize takes a string or a list of strings (lines), got {type(text).__name__}")
    if token is None:
        raise ValueError(
            "tokenize(lines) needs token='word' or token='char': d2l's default for a list of lines is 'word', "
            "d2lmini's is 'char'. Write tokenize(lines, 'word') for d2l's behaviour."
        )
    return [_split(line, token) for line in text]


def _split(text: str, token: str) -> list[str]:
    return list(text) if token == "char" else text.split()
