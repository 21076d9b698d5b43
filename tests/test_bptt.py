"""Hand-written BPTT against autograd, the truncated variants, and the Jacobian products."""

import itertools
import math

import pytest
import torch

import d2lmini as d2l
from d2lmini.bptt import (
    block_carry,
    bptt_backward,
    gradient_agreement,
    random_carry,
    random_rnn,
    recurrent_matrix,
    segment_lengths,
    state_jacobians,
    windowed_bptt,
)

DT = torch.float64


def problem(T=7, B=3, I=4, H=5, radius=0.9, seed=0, h0=True):
    """A float64 RNNScratch, inputs, a nonzero initial state and a squared-error read-out."""
    gen = torch.Generator().manual_seed(seed)
    rnn = d2l.RNNScratch(I, H).double()
    with torch.no_grad():
        rnn.W_xh.copy_(torch.randn(I, H, generator=gen, dtype=DT))
        rnn.W_hh.copy_(recurrent_matrix(H, radius, generator=gen))
        rnn.b_h.copy_(0.3 * torch.randn(H, generator=gen, dtype=DT))
    X = torch.randn(T, B, I, generator=gen, dtype=DT)
    H0 = 0.5 * torch.randn(B, H, generator=gen, dtype=DT) if h0 else None
    W_q = torch.randn(H, 2, generator=gen, dtype=DT)
    Y = torch.randn(T, B, 2, generator=gen, dtype=DT)

    def loss_fn(states):  # (T, B, H) -> scalar; depends on each state only through its own output
        return 0.5 * ((states @ W_q - Y) ** 2).mean()

    return rnn, X, H0, loss_fn


def forward_and_partials(rnn, X, H0, loss_fn):
    """Detached states and the partial derivatives dL/dH_t (each state treated as a leaf)."""
    with torch.no_grad():
        H, _ = rnn(X, H0)
    leaf = H.clone().requires_grad_()
    (dL_dH,) = torch.autograd.grad(loss_fn(leaf), leaf)
    return H, dL_dH


def params(rnn):
    return [rnn.W_xh, rnn.W_hh, rnn.b_h]


@pytest.mark.parametrize("seed, T, B, radius", [(0, 1, 1, 0.9), (1, 7, 3, 0.9), (2, 12, 2, 1.3), (3, 20, 4, 0.5)])
def test_hand_gradient_equals_autograd(seed, T, B, radius):
    rnn, X, H0, loss_fn = problem(T=T, B=B, radius=radius, seed=seed)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    auto = torch.autograd.grad(loss_fn(rnn(X, H0)[0]), params(rnn))
    hand = bptt_backward(X, H, rnn.W_hh.detach(), dL_dH, H0)
    for a, h in zip(auto, (hand.W_xh, hand.W_hh, hand.b_h)):
        assert h.shape == a.shape
        assert torch.allclose(h, a, rtol=1e-10, atol=1e-13)
    assert hand.steps == T - 1


def test_total_derivatives_of_the_states_equal_autograd():
    # Add a zero perturbation E_t to every state: dL/dE_t is the total derivative dL/dH_t.
    rnn, X, H0, loss_fn = problem(T=9, seed=4)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    E = torch.zeros_like(H, requires_grad=True)
    state, states = H0, []
    for t in range(X.shape[0]):
        state = torch.tanh(X[t] @ rnn.W_xh + state @ rnn.W_hh + rnn.b_h) + E[t]
        states.append(state)
    (total,) = torch.autograd.grad(loss_fn(torch.stack(states)), E)
    hand = bptt_backward(X, H, rnn.W_hh.detach(), dL_dH, H0)
    assert torch.allclose(hand.dL_dH, total, rtol=1e-10, atol=1e-14)
    assert torch.equal(hand.dL_dH[-1], dL_dH[-1])  # the last state has nothing downstream
    assert not torch.allclose(hand.dL_dH[0], dL_dH[0])  # but the first one does


@pytest.mark.parametrize("k", [7, 8, 100])
def test_truncation_with_k_at_least_T_is_full_bptt(k):
    rnn, X, H0, loss_fn = problem(T=7, seed=5)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    W_hh = rnn.W_hh.detach()
    full = bptt_backward(X, H, W_hh, dL_dH, H0)
    block = bptt_backward(X, H, W_hh, dL_dH, H0, carry=block_carry(7, k))
    window = windowed_bptt(X, H, W_hh, dL_dH, k, H0)
    for g in (block, window):
        for name in ("W_xh", "W_hh", "b_h", "dL_dH"):
            assert torch.allclose(getattr(g, name), getattr(full, name), rtol=1e-12, atol=1e-15)
    assert block.steps == 6 and window.steps == 7 * 6 // 2


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_block_truncation_equals_detaching_the_state_every_k_steps(k):
    rnn, X, H0, loss_fn = problem(T=11, seed=6)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    state, chunks = H0, []
    for start in range(0, 11, k):
        out, state = rnn(X[start:start + k], state)
        chunks.append(out)
        state = state.detach()
    auto = torch.autograd.grad(loss_fn(torch.cat(chunks)), params(rnn))
    block = bptt_backward(X, H, rnn.W_hh.detach(), dL_dH, H0, carry=block_carry(11, k))
    for a, h in zip(auto, (block.W_xh, block.W_hh, block.b_h)):
        assert torch.allclose(h, a, rtol=1e-10, atol=1e-13)
    assert block.steps == 11 - math.ceil(11 / k)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_windowed_truncation_sends_each_loss_term_back_k_steps(k):
    rnn, X, H0, loss_fn = problem(T=8, seed=7)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    T = X.shape[0]
    # Reference: for each loss term, a fresh graph that starts k steps back from a detached state.
    expected = [torch.zeros_like(p) for p in params(rnn)]
    for t in range(T):
        start = max(t - k + 1, 0)
        before = H0 if start == 0 else H[start - 1]
        out, _ = rnn(X[start:t + 1], before)
        # Only the term at step t: put the fresh state into a detached copy of all states.
        states = H.clone()
        states[t] = out[-1]
        for e, g in zip(expected, torch.autograd.grad(loss_fn(states), params(rnn))):
            e += g
    window = windowed_bptt(X, H, rnn.W_hh.detach(), dL_dH, k, H0)
    for e, h in zip(expected, (window.W_xh, window.W_hh, window.b_h)):
        assert torch.allclose(h, e, rtol=1e-10, atol=1e-13)
    assert window.steps == sum(min(k, t + 1) - 1 for t in range(T))


def test_random_truncation_is_unbiased_exactly():
    # Enumerate every cut pattern of a short sequence and weight it by its probability.
    T, c = 5, 0.3
    rnn, X, H0, loss_fn = problem(T=T, seed=8, radius=1.2)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    W_hh = rnn.W_hh.detach()
    full = bptt_backward(X, H, W_hh, dL_dH, H0)
    mean = torch.zeros_like(full.W_hh)
    for keep in itertools.product([False, True], repeat=T - 1):
        prob = math.prod((1 - c) if k else c for k in keep)
        carry = torch.tensor((1.0,) + tuple(1 / (1 - c) if k else 0.0 for k in keep), dtype=DT)
        mean += prob * bptt_backward(X, H, W_hh, dL_dH, H0, carry=carry).W_hh
    assert torch.allclose(mean, full.W_hh, rtol=1e-10, atol=1e-14)


def test_random_carry_values_and_seeding():
    carry = random_carry(1000, 0.2, torch.Generator().manual_seed(0))
    assert carry[0] == 1 and set(carry[1:].tolist()) == {0.0, 1.25}
    assert abs(float(carry.mean()) - 1) < 0.1
    assert torch.equal(carry, random_carry(1000, 0.2, torch.Generator().manual_seed(0)))
    assert torch.equal(random_carry(10, 0.0), torch.ones(10, dtype=DT))


def test_block_carry_pattern_and_segments():
    assert block_carry(7, 3).tolist() == [1, 1, 1, 0, 1, 1, 0]
    assert block_carry(4, 1).tolist() == [1, 0, 0, 0]
    assert segment_lengths(block_carry(7, 3)) == [3, 3, 1]
    assert segment_lengths(block_carry(7, 10)) == [7]
    assert segment_lengths(torch.tensor([0.0, 2.0, 0.0, 0.0])) == [2, 1, 1]


def test_state_jacobians_equal_autograd_and_use_the_transpose():
    rnn, X, H0, loss_fn = problem(T=6, B=2, seed=9, radius=1.1)
    H, _ = forward_and_partials(rnn, X, H0, loss_fn)
    W_hh = rnn.W_hh.detach()
    J = state_jacobians(H, W_hh)
    assert J.shape == (6, 2, 5, 5)
    assert torch.equal(J[0], torch.eye(5, dtype=DT).expand(2, 5, 5))
    for d in range(1, 6):
        s = 5 - d
        for b in range(2):
            def run_from(h, s=s, b=b):
                return rnn(X[s + 1:, b:b + 1], h[None])[0][-1, 0]
            auto = torch.autograd.functional.jacobian(run_from, H[s, b])
            assert torch.allclose(J[d, b], auto, rtol=1e-10, atol=1e-14)
    # The untransposed product is a different (wrong) matrix for a non-symmetric W_hh.
    wrong = torch.diag(1 - H[5, 0] ** 2) @ W_hh
    assert not torch.allclose(wrong, J[1, 0])


def test_jacobian_norms_vanish_for_a_small_spectral_radius():
    gen = torch.Generator().manual_seed(10)
    W_hh = recurrent_matrix(16, 0.5, generator=gen)
    H = torch.tanh(torch.randn(60, 3, 16, generator=gen, dtype=DT))
    norms = torch.linalg.matrix_norm(state_jacobians(H, W_hh), ord=2)  # (T, B)
    assert float(norms[40:].max()) < 1e-8
    # |tanh'| <= 1, so ||dH_T/dH_{T-d}|| <= ||W_hh||^d.
    bound = torch.linalg.matrix_norm(W_hh, ord=2) ** torch.arange(60, dtype=DT)
    assert bool((norms <= bound[:, None] * (1 + 1e-9)).all())


@pytest.mark.parametrize("kind", ["gaussian", "orthogonal"])
def test_recurrent_matrix_has_the_requested_spectral_radius(kind):
    W = recurrent_matrix(12, 1.1, kind=kind, generator=torch.Generator().manual_seed(11))
    assert W.dtype == DT and W.shape == (12, 12)
    assert abs(float(torch.linalg.eigvals(W).abs().max()) - 1.1) < 1e-12
    if kind == "orthogonal":
        assert torch.allclose(torch.linalg.svdvals(W), torch.full((12,), 1.1, dtype=DT))


def test_gradient_agreement():
    x = torch.tensor([3.0, 4.0])
    assert gradient_agreement(x, x) == (pytest.approx(1.0), 0.0)
    cos, rel = gradient_agreement(torch.tensor([3.0, 0.0]), x)
    assert cos == pytest.approx(0.6) and rel == pytest.approx(0.8)


def test_bad_inputs_raise_clear_errors():
    rnn, X, H0, loss_fn = problem(T=5, seed=12)
    H, dL_dH = forward_and_partials(rnn, X, H0, loss_fn)
    W = rnn.W_hh.detach()
    with pytest.raises(ValueError, match="disagree on"):
        bptt_backward(X[:4], H, W, dL_dH)
    with pytest.raises(ValueError, match="W_hh must be"):
        bptt_backward(X, H, W[:4], dL_dH)
    with pytest.raises(ValueError, match="dL_dH must have the shape"):
        bptt_backward(X, H, W, dL_dH[:, :1])
    with pytest.raises(ValueError, match="H0 must be"):
        bptt_backward(X, H, W, dL_dH, H0[:1])
    with pytest.raises(ValueError, match="time-major"):
        bptt_backward(X[0], H, W, dL_dH)
    with pytest.raises(ValueError, match="carry must hold 5"):
        bptt_backward(X, H, W, dL_dH, carry=torch.ones(4))
    with pytest.raises(ValueError, match="carry must hold 5"):
        bptt_backward(X, H, W, dL_dH, carry=-torch.ones(5))
    with pytest.raises(ValueError, match="truncation length k"):
        windowed_bptt(X, H, W, dL_dH, 0)
    with pytest.raises(ValueError, match="truncation length k"):
        block_carry(5, 2.5)
    with pytest.raises(ValueError, match="cut_prob"):
        random_carry(5, 1.0)
    with pytest.raises(ValueError, match="radius"):
        recurrent_matrix(4, -1.0)
    with pytest.raises(ValueError, match="kind"):
        recurrent_matrix(4, 1.0, kind="unitary")
    with pytest.raises(ValueError, match="num_hiddens"):
        recurrent_matrix(0, 1.0)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        segment_lengths(torch.ones(2, 2))
    with pytest.raises(ValueError, match="need H"):
        state_jacobians(H[0], W)
    with pytest.raises(ValueError, match="exact gradient is zero"):
        gradient_agreement(torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match="shapes differ"):
        gradient_agreement(torch.ones(3), torch.ones(2))


def test_random_rnn_is_seeded_float64_with_the_requested_radius():
    rnn = random_rnn(4, 10, 1.3, input_scale=0.5, generator=torch.Generator().manual_seed(13))
    assert isinstance(rnn, d2l.RNNScratch) and rnn.W_hh.dtype == DT
    assert abs(float(torch.linalg.eigvals(rnn.W_hh.detach()).abs().max()) - 1.3) < 1e-12
    assert torch.equal(rnn.b_h.detach(), torch.zeros(10, dtype=DT))
    again = random_rnn(4, 10, 1.3, input_scale=0.5, generator=torch.Generator().manual_seed(13))
    assert torch.equal(rnn.W_xh, again.W_xh) and torch.equal(rnn.W_hh, again.W_hh)
    # Scaling the inputs scales W_xh and nothing else.
    double = random_rnn(4, 10, 1.3, input_scale=1.0, generator=torch.Generator().manual_seed(13))
    assert torch.allclose(double.W_xh, 2 * rnn.W_xh) and torch.equal(double.W_hh, rnn.W_hh)
    ortho = random_rnn(4, 10, 0.8, kind="orthogonal", generator=torch.Generator().manual_seed(13))
    assert torch.allclose(torch.linalg.svdvals(ortho.W_hh.detach()), torch.full((10,), 0.8, dtype=DT))
    with pytest.raises(ValueError, match="input_scale"):
        random_rnn(4, 10, 1.0, input_scale=-1.0)
    with pytest.raises(ValueError, match="num_inputs"):
        random_rnn(0, 10, 1.0)
