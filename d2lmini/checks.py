"""Argument checks shared by the package, each raising ``ValueError`` with a message that says what to pass."""

from __future__ import annotations

import math

# exp(x) overflows a float64 for x above about 709.78; a mean NLL this large means the model diverged.
MAX_EXP_ARG = 700.0


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) that is at least ``minimum``.

    Raises:
        ValueError: ``value`` is a bool, not an int, or below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return value


def safe_exp(mean_nll: float) -> float:
    """Return ``exp(mean_nll)``, or ``inf`` where that would overflow (a diverged model), never an OverflowError."""
    return math.exp(mean_nll) if mean_nll < MAX_EXP_ARG else math.inf
