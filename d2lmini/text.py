"""Text processing: from raw text to the characters or words a vocabulary indexes.

Kept apart from ``data`` (downloading and batching) so that models and pages can
preprocess a prompt without importing the downloader.
"""

from __future__ import annotations

import re


def preprocess(text: str) -> str:
    """Replace every run of non-letters by one space and lowercase the result."""
    return re.sub("[^A-Za-z]+", " ", text).lower()


def tokenize(text: str, token: str = "char") -> list[str]:
    """Split preprocessed text into characters (``token='char'``) or words (``'word'``).

    Raises:
        ValueError: ``token`` is neither ``'char'`` nor ``'word'``.
    """
    if token == "char":
        return list(text)
    if token == "word":
        return text.split()
    raise ValueError(f"token must be 'char' or 'word', got {token!r}")
