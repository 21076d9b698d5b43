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


def test_noisy_sine_is_reproducible_and_has_the_asked_noise():
    t, signal, x = d2l.sequence.noisy_sine(T=5000, sigma=0.2, seed=3)
    assert t[0] == 1 and t[-1] == 5000 and x.dtype == torch.float64
    assert torch.equal(signal, torch.sin(0.01 * t))
    torch.manual_seed(123)  # the global generator does not matter
    _, _, again = d2l.sequence.noisy_sine(T=5000, sigma=0.2, seed=3)
    assert torch.equal(x, again)
    assert abs((x - signal).std().item() - 0.2) < 0.01
    assert not torch.equal(x, d2l.sequence.noisy_sine(T=5000, seed=4)[2])
    _, clean, noiseless = d2l.sequence.noisy_sine(T=10, sigma=0.0)
    assert torch.equal(clean, noiseless)
    for bad in ({"T": 0}, {"sigma": -0.1}, {"sigma": math.nan}, {"seed": -1}, {"omega": math.inf}):
        with pytest.raises(ValueError):
            d2l.sequence.noisy_sine(**bad)


def _manual_forecast(model, x, t, k):
    """Read x[0 .. t - k] one value at a time, then feed k - 1 own predictions back: the forecast of x[t]."""
    state, y = None, None
    with torch.no_grad():
        for value in x[:t - k + 1]:
            y, state = model(value.reshape(1, 1), state)
        for _ in range(k - 1):
            y, state = model(y, state)
    return y.item()


@pytest.mark.parametrize("scratch", [False, True])
def test_rnn_forecaster_k_step_ahead_matches_a_step_by_step_rollout(scratch):
    torch.manual_seed(0)
    model = d2l.sequence.RNNForecaster(5, scratch=scratch).double()
    x = torch.randn(40, dtype=torch.float64)
    preds = model.k_step_ahead(x, max_k=6)
    assert preds.shape == (6, 40) and preds.dtype == torch.float64
    for k in (1, 3, 6):
        assert torch.isnan(preds[k - 1, :k]).all() and not torch.isnan(preds[k - 1, k:]).any()
        for t in (k, 17, 39):
            assert math.isclose(preds[k - 1, t].item(), _manual_forecast(model, x, t, k), abs_tol=1e-12)
    with torch.no_grad():
        one_step, _ = model(x[:, None])  # (40, 1): row i forecasts x[i + 1]
    assert torch.allclose(preds[0, 1:], one_step[:-1, 0])


def test_rnn_forecaster_uses_only_observations_up_to_t_minus_k():
    torch.manual_seed(1)
    model = d2l.sequence.RNNForecaster(4).double()
    x = torch.randn(30, dtype=torch.float64)
    base = model.k_step_ahead(x, max_k=5)
    t, k = 20, 4
    changed = x.clone()
    changed[t - k + 1:] += 10.0
    again = model.k_step_ahead(changed, max_k=5)
    assert base[k - 1, t] == again[k - 1, t]
    assert base[k - 2, t] != again[k - 2, t]


def test_rnn_forecaster_scratch_and_concise_agree_with_the_same_weights():
    torch.manual_seed(2)
    scratch = d2l.sequence.RNNForecaster(3, scratch=True).double()
    concise = d2l.sequence.RNNForecaster(3).double()
    with torch.no_grad():
        concise.rnn.rnn.weight_ih_l0.copy_(scratch.rnn.W_xh.T)
        concise.rnn.rnn.weight_hh_l0.copy_(scratch.rnn.W_hh.T)
        concise.rnn.rnn.bias_ih_l0.copy_(scratch.rnn.b_h)
        concise.rnn.rnn.bias_hh_l0.zero_()
        concise.read_out.load_state_dict(scratch.read_out.state_dict())
    x = torch.randn(25, dtype=torch.float64)
    assert torch.allclose(scratch.k_step_ahead(x, 7), concise.k_step_ahead(x, 7), equal_nan=True, atol=1e-12)


def test_rnn_forecaster_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_hiddens"):
        d2l.sequence.RNNForecaster(0)
    model = d2l.sequence.RNNForecaster(2)
    with pytest.raises(ValueError, match="max_k"):
        model.k_step_ahead(torch.zeros(5), 0)
    with pytest.raises(ValueError, match="one series"):
        model.k_step_ahead(torch.zeros(5, 1), 2)


def _train_one_at_a_time(x, seed, steps, num_hiddens=16, batch_size=32, num_steps=64, warmup=16, lr=0.01, clip=1.0):
    """The sequence page's train_forecaster, with its sizes as arguments: one model, autograd, nn.RNN."""
    torch.manual_seed(seed)
    model = d2l.RNNForecaster(num_hiddens).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses, norms = [], []
    for _ in range(steps):
        starts = torch.randint(0, len(x) - num_steps, (batch_size,), generator=generator)
        stretch = x[starts + torch.arange(num_steps + 1)[:, None]]  # (num_steps + 1, batch_size)
        forecasts, _ = model(stretch[:-1])
        loss = ((forecasts[warmup:] - stretch[warmup + 1:]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item())
        optimizer.step()
        losses.append(loss.item())
    return model, losses, norms


@pytest.mark.parametrize("sizes", [
    {},  # the page's: 16 hidden units, 32 stretches of 64 + 1 values, 16 warm-up steps, lr 0.01, clip 1
    {"num_hiddens": 5, "batch_size": 7, "num_steps": 12, "warmup": 0, "lr": 0.05, "clip": 0.3},
])
def test_train_forecasters_equals_training_one_model_at_a_time(sizes):
    _, _, x = d2l.noisy_sine(T=604)
    seeds, steps = [3, 0, 1], 40  # not in order: models[i] belongs to seeds[i]
    models, losses = d2l.train_forecasters(x, seeds, steps=steps, **sizes)
    assert losses.shape == (steps, len(seeds)) and losses.dtype == torch.float64
    assert len({param.data_ptr() for model in models for param in model.parameters()}) == 6 * len(seeds)
    clipped = []
    for model, seed, batched_losses in zip(models, seeds, losses.T):
        assert isinstance(model, d2l.RNNForecaster) and model.read_out.weight.dtype == torch.float64
        reference, reference_losses, norms = _train_one_at_a_time(x, seed, steps, **sizes)
        # The same arithmetic in another order: float64 rounding apart (about 1e-16 here), the same run.
        torch.testing.assert_close(batched_losses, torch.tensor(reference_losses, dtype=torch.float64),
                                   rtol=0, atol=1e-10)
        for (name, got), expected in zip(model.named_parameters(), reference.parameters()):
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-10, msg=name)
        clipped += [norm > sizes.get("clip", 1.0) for norm in norms]
    assert any(clipped) and not all(clipped)  # the clipping rule ran both ways


def test_train_forecasters_leaves_its_input_and_takes_float32():
    _, _, x = d2l.noisy_sine(T=200, dtype=torch.float32)
    before = x.clone()
    models, losses = d2l.train_forecasters(x, [0], steps=3, num_steps=20, warmup=5)
    reference, reference_losses, _ = _train_one_at_a_time(x.double(), 0, 3, num_steps=20, warmup=5)
    assert torch.equal(x, before) and x.dtype == torch.float32
    torch.testing.assert_close(losses[:, 0], torch.tensor(reference_losses, dtype=torch.float64), rtol=0, atol=1e-12)


def test_train_forecasters_rejects_bad_arguments():
    x = torch.zeros(100, dtype=torch.float64)
    bad = [
        ({"x": [0.0] * 100}, TypeError, "x must be a float tensor"),
        ({"seeds": 0}, TypeError, "seeds must be a list of integer seeds"),
        ({"seeds": "012"}, TypeError, "seeds must be a list"),
        ({"seeds": []}, ValueError, "seeds is empty"),
        ({"seeds": [0, -1]}, ValueError, r"seeds\[1\] must be an integer >= 0"),
        ({"seeds": [0, 1.5]}, ValueError, r"seeds\[1\]"),
        ({"steps": 0}, ValueError, "steps must be a positive integer"),
        ({"num_steps": 100}, ValueError, r"num_steps must be below len\(x\) = 100"),
        ({"warmup": 64}, ValueError, "warmup must be an integer between 0 and 63"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        ({"clip": math.inf}, ValueError, "clip must be a finite number > 0"),
    ]
    for change, error, match in bad:
        arguments = {"x": x, "seeds": [0]} | change
        with pytest.raises(error, match=match):
            d2l.train_forecasters(**arguments)
