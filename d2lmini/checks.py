"""Argument checks shared by the package: the one home of every boundary check.

Each check returns the value it accepted (converted where that is harmless) and raises ``ValueError``
(or ``TypeError`` for a value of the wrong kind) with a message that names the argument, says what was
expected and what came, and how to fix it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np
import torch

# exp(x) overflows a float64 for x above about 709.78; a mean NLL this large means the model diverged.
MAX_EXP_ARG = 700.0


def check_int(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` if it is an integer (not a ``bool``) in ``[minimum, maximum]``.

    NumPy and 0-d integer tensors are accepted and returned as ``int``.

    Raises:
        ValueError: ``value`` is a bool, not an integer, or out of range.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        value, ok = int(value), True
    if ok and value >= minimum and (maximum is None or value <= maximum):
        return int(value)
    if maximum is not None:
        kind = f"an integer between {minimum} and {maximum}"
    else:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise ValueError(f"{name} must be {kind}, got {_shown(value)}")


def check_real(name: str, value: object, minimum: float | None = None, maximum: float | None = None, *,
               exclusive_minimum: bool = False, exclusive_maximum: bool = False, hint: str = "") -> float:
    """Return ``value`` as a ``float`` if it is a finite real number (not a ``bool``) within the bounds.

    ``minimum`` and ``maximum`` are inclusive unless ``exclusive_minimum``/``exclusive_maximum``.
    ``hint`` is added to the message (e.g. what 0 means).

    Raises:
        ValueError: ``value`` is not a real number, is NaN or infinite, or is out of range.
    """
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.dtype != torch.bool:
        value = value.item()
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if exclusive_maximum else '<='} {maximum}")
    expected = f"{name} must be a finite number{' ' + ' and '.join(parts) if parts else ''}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ValueError(f"{expected}, got {_shown(value)}{_hint(hint)}")
    value = float(value)
    low_ok = minimum is None or (value > minimum if exclusive_minimum else value >= minimum)
    high_ok = maximum is None or (value < maximum if exclusive_maximum else value <= maximum)
    if math.isfinite(value) and low_ok and high_ok:
        return value
    raise ValueError(f"{expected}, got {value!r}{_hint(hint)}")


def check_choice(name: str, value: object, choices: tuple) -> object:
    """Return ``value`` if it is one of ``choices``.

    Raises:
        ValueError: it is not (the message lists the choices).
    """
    if isinstance(value, str | int | float | type(None)) and value in choices:
        return value
    raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_shown(value)}")


def check_str(name: str, value: object, hint: str = "") -> str:
    """Return ``value`` if it is a ``str``.

    Raises:
        TypeError: it is not.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_shown(value)}{_hint(hint)}")
    return value


def check_callable(name: str, value: object, hint: str = "") -> Callable:
    """Return ``value`` if it can be called.

    Raises:
        TypeError: it cannot.
    """
    if not callable(value):
        raise TypeError(f"{name} must be a function, got {_shown(value)}{_hint(hint)}")
    return value


def check_temperature(temperature: object) -> float:
    """Return ``temperature`` as a float; it must be finite and ``>= 0`` (0 means greedy).

    Raises:
        ValueError: negative, NaN, infinite or not a number.
    """
    return check_real("temperature", temperature, minimum=0, hint="; 0 means greedy, 1 the model's own distribution")


def check_index_tensor(name: str, X: object, vocab_size: int, ndim: int | None = 2) -> torch.Tensor:
    """Return ``X`` if it is an integer tensor of ``ndim`` dimensions with every entry in ``[0, vocab_size)``.

    Raises:
        TypeError: ``X`` is not a tensor, or not of an integer dtype.
        ValueError: wrong number of dimensions, or no entries.
        IndexError: an entry lies outside ``[0, vocab_size)``.
    """
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of token indices, got {type(X).__name__}; "
                        f"use torch.tensor(...) with dtype=torch.long")
    if X.is_floating_point() or X.is_complex() or X.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token indices, got dtype {X.dtype}; convert with .long()")
    if ndim is not None and X.ndim != ndim:
        shape = "(B, T): one row of token indices per sequence" if ndim == 2 else f"{ndim} dimensions"
        raise ValueError(f"{name} must have shape {shape}, got shape {tuple(X.shape)}"
                         + ("; add a batch dimension with X[None]" if ndim == 2 and X.ndim == 1 else ""))
    if X.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(X.shape)}); give at least one token in every row")
    if int(X.min()) < 0 or int(X.max()) >= vocab_size:
        bad = int(X.min()) if int(X.min()) < 0 else int(X.max())
        raise IndexError(f"{name} holds the index {bad}, outside the vocabulary [0, {vocab_size}); "
                         "encode text with the vocabulary the model was built for")
    return X


def check_index(name: str, value: object, size: int, hint: str = "") -> int:
    """Return ``value`` as an ``int`` if it is one integer (not a ``bool``) in ``[0, size)``, e.g. a token id.

    NumPy integers and 0-d integer tensors are accepted.

    Raises:
        TypeError: ``value`` is not an integer.
        IndexError: it lies outside ``[0, size)``.
    """
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point() \
            and value.dtype != torch.bool:
        value = int(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer index in [0, {size}), got {_shown(value)}{_hint(hint)}")
    if not 0 <= value < size:
        raise IndexError(f"{name} is {int(value)}, outside [0, {size}){_hint(hint)}")
    return int(value)


def check_tokens(name: str, tokens: Iterable[object], vocab_size: int) -> np.ndarray:
    """Return ``tokens`` (a sequence of integer indices) as a 1-D ``int64`` array, each in ``[0, vocab_size)``.

    Accepts a list, tuple, NumPy array or tensor of integers.

    Raises:
        TypeError: ``tokens`` is a string, or holds something that is not an integer.
        IndexError: an index lies outside ``[0, vocab_size)``.
    """
    if isinstance(tokens, str | bytes):
        raise TypeError(f"{name} must be token indices, got a string; encode it first, e.g. vocab[list(text)]")
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
    try:
        array = np.asarray(tokens)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a sequence of integer token indices: {exc}") from None
    if array.dtype == object or array.dtype.kind not in "iu":
        if array.size == 0:
            return np.zeros(0, dtype=np.int64)
        raise TypeError(f"{name} must hold integer token indices, got {array.dtype} values "
                        f"such as {array.reshape(-1)[0]!r}; encode text with vocab[...] first")
    array = array.reshape(-1).astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        bad = int(array.min()) if array.min() < 0 else int(array.max())
        raise IndexError(f"{name} holds the index {bad}, outside the vocabulary [0, {vocab_size})")
    return array


def check_features(name: str, inputs: object, num_inputs: int, like: torch.Tensor) -> torch.Tensor:
    """Return ``inputs`` if it is a time-major ``(T, B, num_inputs)`` tensor of the dtype and device of ``like``.

    ``like`` is a parameter of the layer that will read ``inputs``.

    Raises:
        TypeError: not a tensor, or not floating point.
        ValueError: wrong shape, dtype or device.
    """
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"{name} must be a float tensor of shape (T, B, {num_inputs}), got {_shown(inputs)}")
    if not inputs.is_floating_point():
        raise TypeError(f"{name} must hold features (a float tensor), got dtype {inputs.dtype}; "
                        "a language model turns indices into features with model.one_hot(X)")
    if inputs.ndim != 3 or inputs.shape[-1] != num_inputs or not inputs.shape[0] or not inputs.shape[1]:
        fix = "; add a batch dimension with inputs[:, None]" if inputs.ndim == 2 else ""
        raise ValueError(f"{name} must have shape (T, B, {num_inputs}) with T, B >= 1: time-major, {num_inputs} "
                         f"features per step, got shape {tuple(inputs.shape)}{fix}")
    _same_dtype_and_device(name, inputs, "the layer's weights", like)
    return inputs


def check_state(name: str, state: object, shape: tuple[int, ...], like: torch.Tensor, hint: str = "") -> torch.Tensor:
    """Return ``state`` if it is a tensor of ``shape`` with the dtype and device of ``like`` (the inputs).

    Raises:
        TypeError: ``state`` is not a tensor.
        ValueError: wrong shape, dtype or device; the message gives the expected and the actual value.
    """
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{name} must be None or a tensor of shape {shape}, got {_shown(state)}")
    if tuple(state.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(state.shape)}, expected {tuple(shape)}{_hint(hint)}")
    _same_dtype_and_device(name, state, "the inputs", like)
    return state


def check_vocab(vocab: object, vocab_size: int, trained: object = None, name: str = "vocab") -> None:
    """Check that ``vocab`` (a ``Vocab``) fits a model with ``vocab_size`` outputs trained with ``trained``.

    ``trained`` is the vocabulary the model was trained with (``model.vocab``), or ``None`` if unknown;
    two vocabularies match when their token lists are equal.

    Raises:
        TypeError: ``vocab`` is not a vocabulary.
        ValueError: its size is not ``vocab_size``, or its tokens are not those of ``trained``.
    """
    tokens = getattr(vocab, "idx_to_token", None)
    if not isinstance(tokens, list):
        raise TypeError(f"{name} must be the d2lmini Vocab the model was trained with (e.g. data.vocab), "
                        f"got {_shown(vocab)}")
    if len(tokens) != vocab_size:
        raise ValueError(f"{name} has {len(tokens)} tokens but the model predicts {vocab_size}; "
                         "pass the vocabulary the model was trained with (e.g. data.vocab)")
    known = getattr(trained, "idx_to_token", None)
    if known is not None and list(known) != tokens:
        diff = next(i for i, (a, b) in enumerate(zip(known, tokens)) if a != b)
        raise ValueError(f"{name} is not the vocabulary this model was trained with: index {diff} is "
                         f"{tokens[diff]!r} here but {known[diff]!r} in training, so every prediction would be "
                         "decoded as the wrong token; pass the training vocabulary (model.vocab)")


def check_device(name: str, device: object) -> torch.device:
    """Return ``torch.device(device)``.

    Raises:
        ValueError: ``device`` names no device type torch knows.
    """
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name} must be a torch.device or a name such as 'cpu' or 'cuda:0', got {_shown(device)} "
                         f"({exc})") from None


def safe_exp(mean_nll: float) -> float:
    """Return ``exp(mean_nll)``, or ``inf`` where that would overflow (a diverged model), never an OverflowError."""
    return math.exp(mean_nll) if mean_nll < MAX_EXP_ARG else math.inf


def _same_dtype_and_device(name: str, tensor: torch.Tensor, other_name: str, other: torch.Tensor) -> None:
    if tensor.dtype != other.dtype:
        raise ValueError(f"{name} has dtype {tensor.dtype} but {other_name} {other.dtype}; "
                         f"convert it with .to({other.dtype})")
    if tensor.device != other.device:
        raise ValueError(f"{name} is on {tensor.device} but {other_name} on {other.device}; "
                         f"move it with .to({str(other.device)!r})")


def _shown(value: object) -> str:
    """``value``'s repr (shortened) and, for anything but a number, its type."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return text
    return f"{text} (a {type(value).__name__})"


def _hint(hint: str) -> str:
    return hint if not hint or hint.startswith(";") else f"; {hint}"
