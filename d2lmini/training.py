"""Training language models: seeds, devices, perplexity and the Trainer."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn


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
        ValueError: the dataloader yields no tokens.
    """
    if device is None and isinstance(model, nn.Module):
        device = next(model.parameters()).device
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for X, Y in dataloader:
            X, Y = X.to(device), Y.to(device)
            logits = model(X)
            total_nll += nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), Y.reshape(-1), reduction="sum").item()
            total_tokens += Y.numel()
    if isinstance(model, nn.Module):
        model.train(was_training)
    if total_tokens == 0:
        raise ValueError("the dataloader yielded no tokens, so perplexity is undefined")
    mean_nll = total_nll / total_tokens
    return math.exp(mean_nll) if mean_nll < 700 else math.inf  # a diverged model: no overflow error


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

    Args:
        max_epochs: number of passes over the training data.
        gradient_clip_val: if > 0, rescale the gradient of all parameters
            together whenever its global L2 norm exceeds this value.
        device: where to train; ``None`` means a GPU when one exists, else the CPU.
        plot: draw a live train/validation perplexity plot when running in Jupyter.
        lr_schedule: optional ``f(epoch) -> factor``; epoch ``e`` (counted from 0)
            trains with the optimiser's learning rate times ``f(e)``. For example
            ``lambda e: 1.0 if e < 24 else 0.1`` divides it by ten for the last epochs.

    After ``fit``: ``history`` maps ``'epoch'``, ``'train_ppl'``, ``'val_ppl'`` and
    ``'epoch_time'`` (seconds) to per-epoch lists; ``grad_norms`` holds the
    global gradient norm of every update before clipping; ``train_time`` is
    the total seconds spent in ``fit``.
    """

    def __init__(self, max_epochs: int, gradient_clip_val: float = 0, device: torch.device | str | None = None,
                 plot: bool = True, lr_schedule: Callable[[int], float] | None = None) -> None:
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")
        if not gradient_clip_val >= 0:
            raise ValueError(f"gradient_clip_val must be >= 0 (0 turns clipping off), got {gradient_clip_val!r}")
        self.max_epochs, self.gradient_clip_val = max_epochs, gradient_clip_val
        self.device = torch.device(device) if device is not None else try_gpu()
        self.plot, self.lr_schedule = plot, lr_schedule
        self.history: dict[str, list] = {"epoch": [], "train_ppl": [], "val_ppl": [], "epoch_time": []}
        self.grad_norms: list[float] = []
        self.train_time = 0.0

    def fit(self, model: nn.Module, data) -> Trainer:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs and return ``self``."""
        model.to(self.device)
        optimizer = model.configure_optimizers()
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.lr_schedule) if self.lr_schedule else None
        params = [p for p in model.parameters() if p.requires_grad]
        live = _LivePlot() if self.plot and _in_notebook() else None
        start = time.perf_counter()
        for epoch in range(1, self.max_epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            total_nll, total_tokens = 0.0, 0
            for X, Y in data.train_dataloader():
                X, Y = X.to(self.device), Y.to(self.device)
                loss = model.loss(model(X), Y)
                optimizer.zero_grad()
                loss.backward()
                self.grad_norms.append(self.clip_gradients(params))
                optimizer.step()
                total_nll += loss.item() * Y.numel()
                total_tokens += Y.numel()
            if scheduler:
                scheduler.step()
            val_ppl = perplexity(model, data.val_dataloader(), self.device)
            self.history["epoch"].append(epoch)
            mean_nll = total_nll / total_tokens
            self.history["train_ppl"].append(math.exp(mean_nll) if mean_nll < 700 else math.inf)
            self.history["val_ppl"].append(val_ppl)
            self.history["epoch_time"].append(time.perf_counter() - epoch_start)
            if live:
                live.update(self.history)
        self.train_time = time.perf_counter() - start
        if live:
            live.close()
        return self

    def clip_gradients(self, params: list[nn.Parameter]) -> float:
        """Clip by global norm if ``gradient_clip_val > 0``; return the norm before clipping."""
        max_norm = self.gradient_clip_val if self.gradient_clip_val > 0 else math.inf
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
