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
        TypeError: ``logits`` is not a floating-point tensor with at least one dimension, or
            ``generator`` is not a ``torch.Generator``.
        ValueError: ``logits`` holds NaN or +inf (or a row is all -inf), a negative, NaN or infinite
            temperature, a temperature so small that ``logits / temperature`` overflows,
            or ``top_k`` not in ``[1, V]``.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim == 0:
        shown = f"dtype {logits.dtype}, shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) \
            else type(logits).__name__
        raise TypeError(f"logits must be a float tensor of shape (..., V), got {shown}")
    temperature = check_temperature(temperature)
    vocab_size = logits.shape[-1]
    if top_k is not None:
        check_int("top_k", top_k, maximum=vocab_size)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got a {type(generator).__name__}")
    # NaN or +inf would make argmax and the softmax meaningless; -inf is a masked token, fine while each row has a
    # finite entry.
    if logits.numel() == 0 or logits.isnan().any() or logits.isposinf().any() \
            or not logits.isfinite().any(dim=-1).all():
        raise ValueError("logits must be finite (NaN and +inf are not; -inf masks a token, but every row needs a "
                         "finite entry), and have at least one entry; a model that gives NaN has diverged: "
                         "retrain it with gradient clipping or a lower learning rate")
    if temperature == 0:
        return logits.argmax(dim=-1)
    finite = logits.isfinite()
    # Above float32's largest value the divisor would round to inf and turn -inf logits into NaN; the limit
    # (every finite logit scaled to about 0: a uniform choice) is the same.
    logits = logits.detach().float() / min(temperature, torch.finfo(torch.float32).max)
    if not logits[finite].isfinite().all():
        raise ValueError(f"temperature={temperature!r} is so small that logits / temperature overflows float32; "
                         "use temperature=0 for greedy decoding, or a larger temperature")
    if top_k is not None:
        kth_largest = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    probs = torch.softmax(logits, dim=-1).reshape(-1, vocab_size)  # (N, V)
    if generator is not None:
        probs = probs.to(generator.device)
    draws = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
    return draws.reshape(logits.shape[:-1]).to(logits.device)
