"""Turning a language model's logits into text: greedy decoding and sampling."""

from __future__ import annotations

import torch

from d2lmini.checks import check_int, check_temperature


def sample(logits: torch.Tensor, temperature: float, top_k: int | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token index per row of ``logits`` (shape ``(..., V)``).

    ``temperature == 0`` returns the argmax (greedy). Otherwise the logits are
    divided by ``temperature`` and the index is drawn from their softmax; with
    ``top_k`` only the ``k`` most likely tokens stay candidates. Pass a seeded
    ``torch.Generator`` for reproducible draws.

    Returns:
        A LongTensor of shape ``logits.shape[:-1]``.

    Raises:
        ValueError: negative, NaN or infinite temperature, or ``top_k`` not in ``[1, V]``.
    """
    temperature = check_temperature(temperature)
    vocab_size = logits.shape[-1]
    if top_k is not None and check_int("top_k", top_k) > vocab_size:
        raise ValueError(f"top_k must be an integer between 1 and {vocab_size}, got {top_k!r}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.detach().float() / temperature
    if top_k is not None:
        kth_largest = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    probs = torch.softmax(logits, dim=-1).reshape(-1, vocab_size)  # (N, V)
    if generator is not None:
        probs = probs.to(generator.device)
    draws = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
    return draws.reshape(logits.shape[:-1]).to(logits.device)
