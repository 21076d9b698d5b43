"""Forecasting a 1-D series: the noisy sine, lag features, an RNN forecaster, k-step-ahead prediction."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from d2lmini.checks import check_callable, check_int, check_real
from d2lmini.models import RNN, RNNScratch


def noisy_sine(T: int = 1000, omega: float = 0.01, sigma: float = 0.2, seed: int = 0,
               dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(t, signal, x)``: time steps ``1 .. T``, ``sin(omega t)`` and ``x = signal + N(0, sigma^2)`` noise.

    The noise comes from its own ``torch.Generator`` seeded with ``seed`` (drawn in float64,
    then cast to ``dtype``), so the series does not depend on the global random state: the
    sequence page and its exercise solutions get the same data.

    Raises:
        ValueError: ``T`` is not a positive integer, ``seed`` not an integer >= 0, ``sigma``
            negative or not finite, or ``omega`` not finite.
    """
    check_int("T", T)
    check_int("seed", seed, minimum=0)
    sigma = check_real("sigma", sigma, minimum=0, hint="the noise's standard deviation")
    omega = check_real("omega", omega, hint="the angular frequency")
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(1, T + 1, dtype=torch.float64)  # (T,)
    signal = torch.sin(omega * t)  # (T,)
    x = signal + sigma * torch.randn(T, generator=generator, dtype=torch.float64)  # (T,)
    return t.to(dtype), signal.to(dtype), x.to(dtype)


def lag_features(x: torch.Tensor, tau: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(features, labels)`` for predicting ``x[t]`` from ``x[t - tau : t]``.

    ``features`` has shape ``(T - tau, tau)`` (oldest value first) and
    ``labels`` shape ``(T - tau,)``; row ``i`` predicts ``x[i + tau]``.

    Raises:
        TypeError: ``x`` is not a tensor.
        ValueError: ``x`` is not one-dimensional, or ``tau`` is not in ``[1, len(x))``.
    """
    _check_series(x)
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

    Raises:
        TypeError: ``x`` is not a tensor or ``predict`` not callable.
        ValueError: ``x`` is not one-dimensional, ``tau`` not in ``[1, len(x))`` or ``max_k`` not a positive integer.
    """
    _check_series(x)
    check_callable("predict", predict, "it maps features (N, tau) to predictions (N,)")
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


class RNNForecaster(nn.Module):
    """An RNN with a linear read-out that predicts the next value of a scalar series.

    ``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)`` reads one value per step and
    ``o_t = h_t W_hq + b_q`` predicts ``x_{t+1}``: ``num_hiddens ** 2 + 3 * num_hiddens + 1``
    parameters (plus ``num_hiddens`` for the second bias of ``nn.RNN``).

    Args:
        num_hiddens: hidden units ``h``.
        scratch: use ``RNNScratch`` (written out) instead of ``RNN`` (``torch.nn.RNN``).

    Raises:
        ValueError: ``num_hiddens`` is not a positive integer.
    """

    def __init__(self, num_hiddens: int, scratch: bool = False) -> None:
        super().__init__()
        check_int("num_hiddens", num_hiddens)
        self.rnn = RNNScratch(1, num_hiddens, sigma=1 / math.sqrt(num_hiddens)) if scratch else RNN(1, num_hiddens)
        self.read_out = nn.Linear(num_hiddens, 1)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Read ``inputs (T, B)`` and return ``(predictions (T, B), state)``.

        ``predictions[t]`` forecasts ``inputs[t + 1]``; ``state`` is the layer's last state
        (``(1, B, h)`` for ``RNN``, ``(B, h)`` for ``RNNScratch``), to pass back in to continue.
        """
        hiddens, state = self.rnn(inputs[..., None], state)  # (T, B, h)
        return self.read_out(hiddens).squeeze(-1), state

    def k_step_ahead(self, x: torch.Tensor, max_k: int) -> torch.Tensor:
        """Return every j-step-ahead prediction of ``x`` for ``j = 1 .. max_k``, aligned in time.

        Entry ``[j - 1, t]`` predicts ``x[t]`` from the observations up to ``x[t - j]``: the
        state after reading ``x[0 .. t - j]``, then ``j - 1`` steps that read the model's own
        predictions. Positions ``t < j`` hold NaN. The layout is that of ``k_step_ahead``,
        so the two models can be scored on the same positions.

        Args:
            x: the observed series, shape ``(T,)``, of the model's dtype.
            max_k: the longest horizon.

        Returns:
            A tensor of shape ``(max_k, T)``.

        Raises:
            TypeError: ``x`` is not a tensor.
            ValueError: ``max_k`` is not a positive integer or ``x`` is not one-dimensional.
        """
        check_int("max_k", max_k)
        _check_series(x)
        T = len(x)
        preds = torch.full((max_k, T), float("nan"), dtype=x.dtype)
        with torch.no_grad():
            hiddens, last = self.rnn(x[:, None, None], None)  # (T, 1, h): the state after each observation
            state = hiddens[:, 0]  # (T, h): T forecasts run side by side as a batch
            if last.dim() == 3:  # nn.RNN wants (layers, B, h)
                state = state[None]
            y = self.read_out(hiddens[:, 0]).squeeze(-1)  # (T,): y[i] forecasts x[i + 1]
            for j in range(1, max_k + 1):  # now y[i] forecasts x[i + j]
                preds[j - 1, j:] = y[:T - j]
                y, state = self(y[None, :], state)  # (1, T): read the forecast, predict one step further
                y = y[0]
        return preds


def _check_series(x: object) -> None:
    """Raise unless ``x`` is one non-empty floating-point series of shape ``(T,)``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        shown = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else f"a {type(x).__name__}"
        raise TypeError(f"x must be a float tensor of shape (T,), got {shown}; e.g. torch.tensor(values, "
                        "dtype=torch.float64)")
    if x.dim() != 1 or len(x) == 0:
        raise ValueError(f"x must be one series of shape (T,) with T >= 1, got shape {tuple(x.shape)}")
