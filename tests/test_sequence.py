"""Lag features and k-step-ahead predictions, checked with an exact oracle."""

import math

import pytest
import torch

import d2lmini as d2l


def test_lag_features_rows_predict_the_next_value():
    x = torch.arange(10.0)
    features, labels = d2l.lag_features(x, 3)
    assert features.shape == (7, 3)
    assert torch.equal(features[0], torch.tensor([0.0, 1, 2])) and labels[0] == 3
    assert torch.equal(features[:, -1] + 1, labels)
    with pytest.raises(ValueError, match="tau"):
        d2l.lag_features(x, 10)


def test_oracle_reproduces_a_noise_free_sine_for_every_k():
    w = 0.01
    x = torch.sin(w * torch.arange(1, 1001, dtype=torch.float64))
    weights = torch.tensor([-1.0, 2 * math.cos(w)], dtype=torch.float64)
    preds = d2l.k_step_ahead(x, lambda f: f @ weights, tau=2, max_k=64)
    for k in (1, 4, 16, 64):
        row = preds[k - 1]
        assert torch.isnan(row[: 2 + k - 1]).all() and not torch.isnan(row[2 + k - 1:]).any()
        assert row.dtype == torch.float64
        assert torch.allclose(row[2 + k - 1:], x[2 + k - 1:], atol=1e-8)


def test_k_step_prediction_only_uses_observations_up_to_t_minus_k():
    torch.manual_seed(0)
    x = torch.randn(50)
    weights = torch.randn(3)
    base = d2l.k_step_ahead(x, lambda f: f @ weights, tau=3, max_k=5)
    t, k = 30, 4
    changed = x.clone()
    changed[t - k + 1:] += 100.0  # everything after t - k changes
    again = d2l.k_step_ahead(changed, lambda f: f @ weights, tau=3, max_k=5)
    assert torch.allclose(base[k - 1, t], again[k - 1, t])
    assert not torch.allclose(base[k - 2, t], again[k - 2, t])  # (k-1)-step saw x[t-k+1]


def test_bad_max_k():
    with pytest.raises(ValueError, match="max_k"):
        d2l.k_step_ahead(torch.zeros(10), lambda f: f.sum(1), 2, 0)
