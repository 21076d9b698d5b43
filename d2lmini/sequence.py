"""Autoregressive forecasting of a 1-D series: features and k-step-ahead prediction."""

from __future__ import annotations

from collections.abc import Callable

import torch

from d2lmini.checks import check_int


def lag_features(x: torch.Tensor, tau: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(features, labels)`` for predicting ``x[t]`` from ``x[t - tau : t]``.

    ``features`` has shape ``(T - tau, tau)`` (oldest value first) and
    ``labels`` shape ``(T - tau,)``; row ``i`` predicts ``x[i + tau]``.

    Raises:
        ValueError: ``tau`` is not in ``[1, len(x))``.
    """
    if check_int("tau", tau) >= len(x):
        raise ValueError(f"tau must be between 1 and len(x) - 1 = {len(x) - 1}, got {tau}")
    features = torch.stack([x[i:len(x) - tau + i] for i in range(tau)], dim=1)
    return features, x[tau:]


def k_step_ahead(x: torch.Tensor, predict: Callable[[torch.Tensor], torch.Tensor], tau: int,
                 max_k: int) -> torch.Tensor:
    """Return every j-step-ahead prediction of ``x`` for ``j = 1 .. max_k``, aligned in time.

    Entry ``[j - 1, t]`` predicts ``x[t]`` from the observations up to ``x[t - j]``:
    the model reads the ``tau`` observed values ``x[t-j-tau+1 .. t-j]`` and then
    feeds its own predictions back in for ``j - 1`` further steps. Times for
    which that is impossible (``t < tau + j - 1``) hold NaN.

    Args:
        x: the observed series, shape ``(T,)``.
        predict: maps features ``(N, tau)`` to predictions ``(N,)``.
        tau: number of past values the model reads.
        max_k: the longest horizon.

    Returns:
        A tensor of shape ``(max_k, T)`` with the dtype of ``x``.
    """
    check_int("max_k", max_k)
    T = len(x)
    windows, _ = lag_features(torch.cat([x, x.new_zeros(1)]), tau)  # (T - tau + 1, tau): every observed window
    columns = list(windows.T)
    with torch.no_grad():
        for _ in range(max_k):
            columns.append(predict(torch.stack(columns[-tau:], dim=1)).reshape(-1))
    preds = torch.full((max_k, T), float("nan"), dtype=x.dtype)
    for j in range(1, max_k + 1):
        targets = torch.arange(len(windows)) + tau + j - 1  # window i ends at i + tau - 1
        keep = targets < T
        preds[j - 1, targets[keep]] = columns[tau + j - 1][keep].to(x.dtype)
    return preds
