"""Training language models: seeds, devices, perplexity and the Trainer."""

from __future__ import annotations

import math
import numbers
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from d2lmini.checks import (
    check_callable,
    check_device,
    check_index_tensor,
    check_int,
    check_real,
    check_vocab,
    safe_exp,
)
from d2lmini.models import eval_mode


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's (CPU and GPU) random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def try_gpu(i: int = 0) -> torch.device:
    """Return ``cuda:i`` if that GPU exists, else the CPU."""
    if torch.cuda.device_count() > i:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def perplexity(model: Callable[[torch.Tensor], torch.Tensor],
               dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
               device: torch.device | str | None = None) -> float:
    """Return ``exp(total negative log-likelihood / total number of predicted tokens)``.

    ``model`` maps indices ``(B, T)`` to logits ``(B, T, V)``. Every target
    token counts once, so batches of different sizes are weighted correctly.

    Raises:
        TypeError: ``model`` is not callable or ``dataloader`` not iterable (call the method:
            ``data.val_dataloader()``).
        ValueError: the dataloader yields no tokens, or logits whose shape does not match the targets.
        IndexError: a target is outside ``[0, V)``.
    """
    check_callable("model", model, "a language model mapping indices (B, T) to logits (B, T, V)")
    if callable(dataloader) and not hasattr(dataloader, "__iter__"):
        raise TypeError("dataloader must be an iterable of (X, Y) batches; call the method, e.g. "
                        "perplexity(model, data.val_dataloader())")
    if not hasattr(dataloader, "__iter__"):
        raise TypeError(f"dataloader must be an iterable of (X, Y) batches, got {type(dataloader).__name__}")
    if device is None and isinstance(model, nn.Module):
        device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    with eval_mode(model), torch.no_grad():
        for X, Y in dataloader:
            X, Y = X.to(device), Y.to(device)
            logits = model(X)
            check_index_tensor("Y", Y, logits.shape[-1], ndim=None)  # targets in [0, V), not a raw torch error
            if logits.shape[:-1] != Y.shape:
                raise ValueError(f"the model gave logits of shape {tuple(logits.shape)} for targets of shape "
                                 f"{tuple(Y.shape)}; expected (B, T, V) for (B, T)")
            total_nll += nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), Y.reshape(-1), reduction="sum").item()
            total_tokens += Y.numel()
    if total_tokens == 0:
        raise ValueError("the dataloader yielded no tokens, so perplexity is undefined")
    return safe_exp(total_nll / total_tokens)  # inf for a diverged model, not an OverflowError


@contextmanager
def cpu_threads(num_threads: int | None) -> Iterator[None]:
    """Run the ``with`` block on ``num_threads`` torch CPU threads, then restore the previous number.

    ``None`` changes nothing. Raises ``ValueError`` unless ``num_threads`` is ``None`` or an integer >= 1.
    """
    if num_threads is None:
        yield
        return
    check_int("num_threads", num_threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class Trainer:
    """Fit a language model: minibatch updates, optional clipping, a perplexity curve.

    The model provides ``forward(X) -> logits``, ``loss(logits, Y)`` and
    ``configure_optimizers()``; the data provides ``train_dataloader()`` and
    ``val_dataloader()`` (see ``TimeMachine``).

    Args (all but ``max_epochs`` by keyword: d2l's second positional argument is
    ``num_gpus``, ours was ``gradient_clip_val``, so ``Trainer(10, 1)`` raises a ``TypeError``):
        max_epochs: number of passes over the training data.
        gradient_clip_val: if > 0, rescale the gradient of all parameters
            together whenever its global L2 norm exceeds this value.
        num_gpus: as in d2l: 0 trains on the CPU, 1 or more on the first GPU if
            there is one (else the CPU); only one device is ever used.
        device: where to train; ``None`` means a GPU when one exists, else the CPU.
            Give ``device`` or ``num_gpus``, not both.
        plot: draw a live train/validation perplexity plot when running in Jupyter.
        lr_schedule: optional ``f(epoch) -> factor``. Epochs are counted from 1, as in
            ``history['epoch']``: epoch ``e`` trains with the optimiser's learning rate
            times ``f(e)``. For example ``lambda e: 1.0 if e <= 24 else 0.1`` divides it
            by ten from epoch 25 on.
        num_threads: torch's CPU threads while ``fit`` runs (``torch.set_num_threads``; the previous
            number is restored afterwards, even after an error). ``None`` leaves torch's own choice.
            The chapter's models are small enough that a second thread only costs: ``CHAPTER`` trains
            on one (``bench/run.py`` prints both speeds).

    Minibatches from sequential partitioning (``data.partition == "sequential"``, see ``TimeMachine``)
    continue each other row by row, so the trainer then carries the RNN's state from one batch into the
    next, detached: the state's value flows on, gradients stop at the batch edge (truncated BPTT). The
    state starts from zeros at every epoch. With random partitioning every batch starts from zeros.

    After ``fit``: ``history`` maps ``'epoch'`` (1, 2, ...), ``'train_ppl'``, ``'val_ppl'``,
    ``'epoch_time'`` (seconds of the epoch's updates) and ``'val_time'`` (seconds of its validation
    pass) to per-epoch lists; ``grad_norms`` holds the global gradient norm of every update before
    clipping; ``train_time`` is the total seconds spent in ``fit``, validation included. Each call of
    ``fit`` starts these afresh.
    """

    def __init__(self, max_epochs: int, *args: object, gradient_clip_val: float = 0, num_gpus: int | None = None,
                 device: torch.device | str | None = None, plot: bool = True,
                 lr_schedule: Callable[[int], float] | None = None, num_threads: int | None = None) -> None:
        """Raises ``TypeError`` for a positional argument after ``max_epochs`` and ``ValueError`` for bad values."""
        if args:
            raise TypeError(
                f"Trainer takes only max_epochs by position, got {args!r} after it. Name the rest, e.g. "
                "Trainer(max_epochs=10, num_gpus=1, gradient_clip_val=1.0): d2l's second positional argument is "
                "num_gpus and this package's was gradient_clip_val, so a positional value would be ambiguous."
            )
        check_int("max_epochs", max_epochs)
        gradient_clip_val = check_real("gradient_clip_val", gradient_clip_val, minimum=0, hint="0 turns clipping off")
        if lr_schedule is not None:
            check_callable("lr_schedule", lr_schedule, "e.g. lambda epoch: 1.0 if epoch <= 24 else 0.1")
        if not isinstance(plot, bool):
            raise TypeError(f"plot must be True or False, got {plot!r}")
        if num_gpus is not None:
            check_int("num_gpus", num_gpus, minimum=0)
            if device is not None:
                raise ValueError(f"give device or num_gpus, not both (got device={device!r}, num_gpus={num_gpus})")
            device = try_gpu() if num_gpus > 0 else torch.device("cpu")
        self.max_epochs, self.gradient_clip_val = max_epochs, gradient_clip_val
        self.device = check_device("device", device) if device is not None else try_gpu()
        self.plot, self.lr_schedule = plot, lr_schedule
        self.num_threads = None if num_threads is None else check_int("num_threads", num_threads)
        self.history: dict[str, list] = {"epoch": [], "train_ppl": [], "val_ppl": [], "epoch_time": [],
                                         "val_time": []}
        self.grad_norms: list[float] = []
        self.train_time = 0.0

    def fit(self, model: nn.Module, data) -> Trainer:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs and return ``self``.

        Every call starts a fresh ``history`` and ``grad_norms`` (epochs counted from 1
        again) and a fresh optimiser from ``model.configure_optimizers()``; the model
        keeps its weights, so a second call trains it further but records only its own epochs.

        The model remembers the vocabulary it is trained with: ``model.vocab = data.vocab`` when
        ``data`` has one and the model a ``vocab_size``, so that ``predict`` can refuse another.

        Raises:
            TypeError: ``model`` lacks ``loss`` or ``configure_optimizers`` (or ``logits_and_state`` for
                sequential data), or ``data`` lacks ``train_dataloader``/``val_dataloader``.
            ValueError: ``data.vocab`` does not fit the model (another size, or other tokens than the model
                was trained with before), or ``lr_schedule`` returned a factor that is negative or not finite.
        """
        self._check_fit_arguments(model, data)
        with cpu_threads(self.num_threads):
            return self._fit(model, data)

    def _fit(self, model: nn.Module, data) -> Trainer:
        vocab = getattr(data, "vocab", None)
        if vocab is not None and hasattr(model, "vocab_size"):
            check_vocab(vocab, model.vocab_size, getattr(model, "vocab", None), name="data.vocab")
            model.vocab = vocab
        model.to(self.device)
        optimizer = model.configure_optimizers()
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        params = [p for p in model.parameters() if p.requires_grad]
        self.history = {key: [] for key in self.history}  # the keys __init__ lists, emptied
        self.grad_norms = []
        live = _LivePlot() if self.plot and _in_notebook() else None
        stateful = getattr(data, "partition", "random") == "sequential"
        start = time.perf_counter()
        for epoch in range(1, self.max_epochs + 1):
            epoch_start = time.perf_counter()
            if self.lr_schedule is not None:
                self._set_learning_rates(optimizer, base_lrs, epoch)
            model.train()
            total_nll, total_tokens, state = 0.0, 0, None
            for X, Y in data.train_dataloader():
                X, Y = X.to(self.device), Y.to(self.device)
                if stateful:  # row i continues row i of the previous batch: carry the value, not the graph
                    logits, state = model.logits_and_state(X, state)
                    state = state.detach()
                else:
                    logits = model(X)
                loss = model.loss(logits, Y)
                optimizer.zero_grad()
                loss.backward()
                self.grad_norms.append(self.clip_gradients(params))
                optimizer.step()
                total_nll += loss.item() * Y.numel()
                total_tokens += Y.numel()
            val_start = time.perf_counter()
            val_ppl = perplexity(model, data.val_dataloader(), self.device)
            self.history["epoch"].append(epoch)
            self.history["train_ppl"].append(safe_exp(total_nll / total_tokens))
            self.history["val_ppl"].append(val_ppl)
            self.history["epoch_time"].append(val_start - epoch_start)
            self.history["val_time"].append(time.perf_counter() - val_start)
            if live:
                live.update(self.history)
        self.train_time = time.perf_counter() - start
        if live:
            live.close()
        return self

    @staticmethod
    def _check_fit_arguments(model: object, data: object) -> None:
        """Raise ``TypeError`` unless ``model`` and ``data`` provide what ``fit`` calls."""
        needs = ["loss", "configure_optimizers"]
        if getattr(data, "partition", "random") == "sequential":
            needs.append("logits_and_state")
        missing = [name for name in needs if not callable(getattr(model, name, None))]
        if not isinstance(model, nn.Module) or missing:
            raise TypeError(f"model must be an nn.Module with loss(logits, Y) and configure_optimizers() (and "
                            f"logits_and_state(X, state) for sequential data), such as RNNLMScratch; got a "
                            f"{type(model).__name__}" + (f" without {', '.join(missing)}" if missing else ""))
        missing = [name for name in ("train_dataloader", "val_dataloader") if not callable(getattr(data, name, None))]
        if missing:
            raise TypeError(f"data must provide train_dataloader() and val_dataloader(), such as "
                            f"TimeMachine(batch_size=32, num_steps=64); got a {type(data).__name__} without "
                            f"{', '.join(missing)}")

    def _set_learning_rates(self, optimizer: torch.optim.Optimizer, base_lrs: list[float], epoch: int) -> None:
        """Set each parameter group's rate to its starting rate times ``lr_schedule(epoch)``."""
        factor = check_real(f"lr_schedule({epoch})", self.lr_schedule(epoch), minimum=0,
                            hint="the factor the learning rate is multiplied by")
        for group, base_lr in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base_lr * factor

    def clip_gradients(self, params: Iterable[torch.Tensor] | nn.Module | float,
                       model: nn.Module | None = None) -> float:
        """Rescale gradients together so their global L2 norm is at most a bound; return the norm before clipping.

        ``clip_gradients(params)`` (a list of parameters or a model) clips to
        ``gradient_clip_val`` and only measures when that is 0. d2l's form
        ``clip_gradients(grad_clip_val, model)`` clips the trainable parameters
        of ``model`` to ``grad_clip_val``.

        Raises:
            TypeError: a number without a model after it, or a model after a list of parameters.
            ValueError: ``grad_clip_val`` is not a positive number.
        """
        if isinstance(params, numbers.Real) and not isinstance(params, bool):
            if not isinstance(model, nn.Module):
                raise TypeError(
                    f"clip_gradients({params!r}) looks like d2l's clip_gradients(grad_clip_val, model) without the "
                    "model: pass the model second, or call clip_gradients(model.parameters()) to clip to "
                    "this trainer's gradient_clip_val"
                )
            max_norm = check_real("grad_clip_val", params, minimum=0, exclusive_minimum=True, hint="a positive number")
            params = model
        elif model is not None:
            raise TypeError("clip_gradients takes (params) or d2l's (grad_clip_val, model), not (params, model)")
        else:
            max_norm = self.gradient_clip_val if self.gradient_clip_val > 0 else math.inf
        if isinstance(params, nn.Module):
            params = [p for p in params.parameters() if p.requires_grad]
        return float(nn.utils.clip_grad_norm_(params, max_norm))


class _LivePlot:
    """One figure, redrawn in place after every epoch, that stays as the cell's only plot."""

    def __init__(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.fig, self.ax = plt.subplots(figsize=(5, 3))
        plt.close(self.fig)  # keep the inline backend from showing a second copy
        self.handle = display(self.fig, display_id=True)

    def update(self, history: dict[str, list]) -> None:
        ax = self.ax
        ax.clear()
        ax.plot(history["epoch"], history["train_ppl"], "-o", ms=3, label="train")
        ax.plot(history["epoch"], history["val_ppl"], "--s", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("perplexity")
        ax.legend()
        ax.grid(alpha=0.3)
        self.handle.update(self.fig)

    def close(self) -> None:
        self.handle.update(self.fig)
