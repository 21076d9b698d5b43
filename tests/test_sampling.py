"""Sampling rules: T = 0 is argmax, T = 1 follows the softmax, shifts change nothing, bad T raises."""

import math

import pytest
import torch

from d2lmini import sample


def frequencies(logits, temperature, n=40_000, top_k=None, seed=0):
    draws = sample(logits.expand(n, -1), temperature, top_k, torch.Generator().manual_seed(seed))
    return torch.bincount(draws, minlength=logits.shape[-1]).float() / n


LOGITS = torch.tensor([2.0, 1.0, 0.0, -1.0])


def test_zero_temperature_is_argmax():
    logits = torch.randn(5, 7, 11)
    assert torch.equal(sample(logits, 0.0), logits.argmax(-1))
    assert sample(logits, 0).shape == (5, 7)


def test_temperature_one_matches_softmax_frequencies():
    assert torch.allclose(frequencies(LOGITS, 1.0), torch.softmax(LOGITS, -1), atol=0.01)


def test_temperature_scales_logits_not_probabilities():
    assert torch.allclose(frequencies(LOGITS, 2.0), torch.softmax(LOGITS / 2, -1), atol=0.01)
    # Higher temperature, flatter distribution.
    assert frequencies(LOGITS, 2.0)[0] < frequencies(LOGITS, 1.0)[0] < frequencies(LOGITS, 0.5)[0]


def test_shifting_all_logits_changes_nothing():
    assert torch.equal(frequencies(LOGITS, 0.7, seed=3), frequencies(LOGITS + 100.0, 0.7, seed=3))


def test_top_k():
    freq = frequencies(LOGITS, 1.0, top_k=2)
    assert freq[2:].sum() == 0
    assert torch.allclose(freq[:2], torch.softmax(LOGITS[:2], -1), atol=0.01)
    assert torch.equal(sample(LOGITS.expand(50, -1), 5.0, top_k=1), torch.zeros(50, dtype=torch.long))


@pytest.mark.parametrize("temperature", [-1.0, float("nan"), math.inf, "hot", None])
def test_bad_temperatures_raise(temperature):
    with pytest.raises(ValueError, match="temperature"):
        sample(LOGITS, temperature)


@pytest.mark.parametrize("top_k", [0, 5, -1, 1.5])
def test_bad_top_k_raises(top_k):
    with pytest.raises(ValueError, match="top_k"):
        sample(LOGITS, 1.0, top_k=top_k)
