"""Forecasting a 1-D series: the noisy sine, lag features, an RNN forecaster, k-step-ahead prediction.

``train_forecasters`` trains one RNN forecaster per seed, all at once: the sequence page's training loop
with the models stacked along a leading axis ``M`` and the backward pass written out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn.utils import parameters_to_vector

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


def train_forecasters(x: torch.Tensor, seeds: Sequence[int], steps: int = 600, num_hiddens: int = 16,
                      batch_size: int = 32, num_steps: int = 64, warmup: int = 16, lr: float = 0.01,
                      clip: float = 1.0) -> tuple[list[RNNForecaster], torch.Tensor]:
    """Train one float64 ``RNNForecaster`` per seed on the series ``x``, all seeds in one batched loop.

    For each seed this is the sequence page's ``train_forecaster(seed)``: ``torch.manual_seed(seed)``
    draws the initial weights of ``RNNForecaster(num_hiddens).double()``; a ``torch.Generator`` seeded
    with ``seed`` draws ``batch_size`` random stretches of ``num_steps + 1`` observations at every step;
    the network reads the first ``num_steps`` values of each stretch, and the loss is the mean squared
    error of its forecasts after the first ``warmup``; the gradient is clipped to norm ``clip`` (each
    model by its own norm, the rule of ``clip_grad_norm_``) and Adam with learning rate ``lr`` takes a step.

    Rather than one autograd graph per model, the models' parameters are stacked along a leading axis:
    the forward pass runs all of them with batched matrix products, and the backward pass is
    backpropagation through time written out (as on the bptt page). The arithmetic is that of training
    the models one by one, so the results agree with it up to float64 rounding: to about 1e-16 after a
    few steps; over the page's 600 steps the rounding differences grow, and its networks agree to within
    about 1e-11. The time is a fraction, because a network this small spends it on the overhead of each
    operation, which the models now share. Like the page, it leaves torch's global generator seeded (by
    the last seed).

    Args:
        x: the observations to train on, shape ``(T,)``; converted to float64.
        seeds: one seed per model, e.g. ``[0, 1, 2]``.
        steps: optimizer steps.
        num_hiddens: hidden units of each network.
        batch_size: stretches per step.
        num_steps: the values of a stretch that the network reads; below ``len(x)``.
        warmup: forecasts at the start of a stretch that the loss leaves out; in ``[0, num_steps)``.
        lr: Adam's learning rate.
        clip: the largest gradient norm of each model.

    Returns:
        ``(models, losses)``: ``models[i]`` is the network trained with ``seeds[i]``; ``losses``,
        of shape ``(steps, len(seeds))``, holds every step's training loss of every model.

    Raises:
        TypeError: ``x`` is not a float tensor, or ``seeds`` not a list of seeds.
        ValueError: ``x`` is not one non-empty series; ``seeds`` is empty or holds anything but integers
            >= 0; ``steps``, ``num_hiddens``, ``batch_size`` or ``num_steps`` is not a positive integer;
            ``num_steps >= len(x)``; ``warmup`` is outside ``[0, num_steps)``; ``lr`` or ``clip`` is not
            a finite number > 0.
    """
    _check_series(x)
    seeds = _check_seeds(seeds)
    steps = check_int("steps", steps)
    num_hiddens = check_int("num_hiddens", num_hiddens)
    batch_size = check_int("batch_size", batch_size)
    num_steps = check_int("num_steps", num_steps)
    if num_steps >= len(x):
        raise ValueError(f"num_steps must be below len(x) = {len(x)}, since a stretch holds num_steps + 1 "
                         f"observations, got {num_steps}; pass a longer series or a smaller num_steps")
    warmup = check_int("warmup", warmup, minimum=0, maximum=num_steps - 1)
    lr = check_real("lr", lr, minimum=0, exclusive_minimum=True, hint="Adam's learning rate")
    clip = check_real("clip", clip, minimum=0, exclusive_minimum=True, hint="the largest gradient norm of a model")
    x = x.detach().to(torch.float64)
    models = []
    for seed in seeds:
        torch.manual_seed(seed)  # the initial weights
        models.append(RNNForecaster(num_hiddens).double())
    sizes = [param.numel() for param in models[0].parameters()]
    rows = torch.stack([parameters_to_vector(model.parameters()) for model in models]).detach()  # (M, P)
    params = [chunk.view(len(models), *param.shape)  # (M, ...) views of the rows, updated with them
              for chunk, param in zip(rows.split(sizes, dim=1), models[0].parameters())]
    optimizer = torch.optim.Adam([rows], lr=lr)  # elementwise: the same as one Adam per model
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]  # the stretches
    offsets = torch.arange(num_steps + 1)[:, None]  # (num_steps + 1, 1)
    losses = []
    for _ in range(steps):
        stretches = torch.stack([x[torch.randint(0, len(x) - num_steps, (batch_size,), generator=generator) + offsets]
                                 for generator in generators], dim=1)  # (num_steps + 1, M, B), time-major
        loss, grad = _losses_and_gradients(params, stretches, warmup)  # (M,) and (M, P)
        norms = grad.norm(dim=1, keepdim=True)  # (M, 1): each model's norm over all its parameters
        rows.grad = grad.mul_((clip / (norms + 1e-6)).clamp(max=1.0))  # clip_grad_norm_'s rule, model by model
        optimizer.step()
        losses.append(loss)
    with torch.no_grad():
        for model, row in zip(models, rows):
            for param, value in zip(model.parameters(), row.split(sizes)):
                param.copy_(value.view_as(param))
    return models, torch.stack(losses)


def _losses_and_gradients(params: list[torch.Tensor], stretches: torch.Tensor, warmup: int
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each model's loss ``(M,)`` and gradient ``(M, P)`` on its column of ``stretches (T + 1, M, B)``.

    Column ``m`` of ``stretches`` holds model ``m``'s ``B`` stretches, of which the network reads the first
    ``T`` values. ``params`` are the parameters of the ``M`` stacked forecasters, ``(M, ...)`` each, in the
    order of ``RNNForecaster.parameters()``; a row of the gradient holds them flattened in that order.
    """
    W_ih, W_hh, b_ih, b_hh, W_q, b_q = params  # (M, H, 1), (M, H, H), (M, H), (M, H), (M, 1, H), (M, 1)
    inputs, targets = stretches[:-1], stretches[warmup + 1:]  # (T, M, B) and (T', M, B), T' = T - warmup
    M, B, H = inputs.shape[1], inputs.shape[2], W_hh.shape[1]
    # Forward, nn.RNN's recurrence: H_t = tanh(x_t W_ih^T + b_ih + H_{t-1} W_hh^T + b_hh), H_0 = 0. The two
    # biases stay two parameters, as in nn.RNN, so each gets the same gradient and its own Adam update.
    input_terms = torch.addcmul((b_ih + b_hh)[:, None], inputs[..., None], W_ih.mT)  # (T, M, B, H)
    states = [inputs.new_zeros(M, B, H)]
    for input_term in input_terms.unbind(0):
        states.append(torch.baddbmm(input_term, states[-1], W_hh.mT).tanh_())  # (M, B, H)
    stacked = torch.stack(states, dim=1)  # (M, T + 1, B, H), H_0 first
    scored = stacked[:, warmup + 1:].reshape(M, -1, H)  # (M, T' B, H): the states whose forecasts count
    forecasts = torch.baddbmm(b_q[:, None], scored, W_q.mT)[..., 0]  # (M, T' B)
    errors = forecasts - targets.transpose(0, 1).reshape(M, -1)  # (M, T' B)
    losses = errors.square().mean(dim=1)
    # Backward through the mean and the read-out o_t = H_t W_q^T + b_q ...
    d_forecasts = errors * (2 / errors.shape[1])  # (M, T' B)
    d_W_q = torch.bmm(d_forecasts[:, None], scored)  # (M, 1, H)
    d_b_q = d_forecasts.sum(dim=1, keepdim=True)  # (M, 1)
    d_read = (d_forecasts.view(M, -1, B).transpose(0, 1)[..., None] * W_q).unbind(0)  # T' x (M, B, H): via o_t
    d_read = [torch.zeros_like(states[0])] * warmup + list(d_read)  # a warm-up state has no scored forecast
    # ... then back through time: dL/dH_t adds what reaches H_t through H_{t+1}; tanh' is 1 - H_t^2.
    d_pre = torch.zeros_like(states[0])  # dL/d(pre-activation) of the step after the last: nothing
    d_pres = []
    for d_out, state in zip(reversed(d_read), reversed(states[1:])):
        d_state = torch.baddbmm(d_out, d_pre, W_hh)  # (M, B, H): dL/dH_t
        d_pre = torch.addcmul(d_state, d_state * state, state, value=-1)  # dL/dH_t * (1 - H_t^2)
        d_pres.append(d_pre)
    d_pre_all = torch.stack(d_pres[::-1], dim=1).view(M, -1, H)  # (M, T B, H), in time order
    d_W_hh = d_pre_all.mT @ stacked[:, :-1].reshape(M, -1, H)  # (M, H, H): summed over the steps and the batch
    d_W_ih = d_pre_all.mT @ inputs.transpose(0, 1).reshape(M, -1, 1)  # (M, H, 1)
    d_b = d_pre_all.sum(dim=1)  # (M, H): the gradient of b_ih and of b_hh alike
    grads = (d_W_ih, d_W_hh, d_b, d_b, d_W_q, d_b_q)
    return losses, torch.cat([grad.flatten(1) for grad in grads], dim=1)


def _check_seeds(seeds: object) -> list[int]:
    """Return ``seeds`` as a list if it is a non-empty sequence of integers >= 0."""
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence):
        raise TypeError(f"seeds must be a list of integer seeds, one per model, e.g. [0, 1, 2], got "
                        f"{seeds!r:.60} (a {type(seeds).__name__})")
    if not seeds:
        raise ValueError("seeds is empty; give one seed per model, e.g. [0, 1, 2]")
    return [check_int(f"seeds[{i}]", seed, minimum=0) for i, seed in enumerate(seeds)]


def _check_series(x: object) -> None:
    """Raise unless ``x`` is one non-empty floating-point series of shape ``(T,)``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        shown = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else f"a {type(x).__name__}"
        raise TypeError(f"x must be a float tensor of shape (T,), got {shown}; e.g. torch.tensor(values, "
                        "dtype=torch.float64)")
    if x.dim() != 1 or len(x) == 0:
        raise ValueError(f"x must be one series of shape (T,) with T >= 1, got shape {tuple(x.shape)}")
