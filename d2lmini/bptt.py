"""Backpropagation through time written out by hand, with its truncated variants.

The layer is ``RNNScratch``'s: ``H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)`` with
row-vector states, so one step back multiplies a gradient row by the Jacobian
``dH_t/dH_{t-1} = diag(1 - H_t**2) W_hh^T``. Shapes: ``T`` time steps, ``B``
batch, ``I`` inputs, ``H`` hidden units; time is the first axis, as in ``RNNScratch``.
Step ``t`` of the arrays is ``H[t]``; the state before step 0 is ``H0``.

Every backward function takes ``dL_dH``: the *partial* derivatives of the loss
with respect to each state, through that step's output only (holding every
other state fixed). It returns the *total* derivatives and the parameter
gradients, and counts ``steps``: how many times a gradient was carried one
step back through ``W_hh^T`` (one vector-Jacobian product each), the unit of
cost in which the variants are compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from d2lmini.checks import check_choice, check_int, check_real, check_tokens
from d2lmini.models import RNNScratch


@dataclass
class BPTTGrads:
    """Gradients returned by ``bptt_backward`` and ``windowed_bptt``.

    Attributes:
        W_xh: ``(I, H)``. W_hh: ``(H, H)``. b_h: ``(H,)``: parameter gradients.
        dL_dH: ``(T, B, H)``: the gradient that reached each state (the total
            derivative ``dL/dH_t`` when nothing is truncated).
        steps: vector-Jacobian products through ``W_hh^T`` that were computed.
    """

    W_xh: torch.Tensor
    W_hh: torch.Tensor
    b_h: torch.Tensor
    dL_dH: torch.Tensor
    steps: int


def recurrent_matrix(num_hiddens: int, radius: float, kind: str = "gaussian",
                     generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Return a random ``(H, H)`` matrix whose spectral radius (largest ``|eigenvalue|``) is ``radius``.

    ``kind='gaussian'`` rescales a matrix of independent standard normal
    entries; ``kind='orthogonal'`` rescales a random orthogonal matrix, so that
    every eigenvalue *and* every singular value equals ``radius``.

    Raises:
        ValueError: ``num_hiddens < 1``, a negative or non-finite ``radius``, or an unknown ``kind``.
    """
    check_int("num_hiddens", num_hiddens)
    radius = check_real("radius", radius, minimum=0)
    check_choice("kind", kind, ("gaussian", "orthogonal"))
    A = torch.randn(num_hiddens, num_hiddens, generator=generator, dtype=torch.float64)
    if kind == "orthogonal":
        Q, R = torch.linalg.qr(A)
        A = Q * torch.sign(torch.diagonal(R))  # sign fix: Q is then uniformly distributed
    rho = torch.linalg.eigvals(A).abs().max()
    return (A * (radius / rho)).to(dtype)


def random_rnn(num_inputs: int, num_hiddens: int, radius: float, input_scale: float = 0.3, kind: str = "gaussian",
               generator: torch.Generator | None = None) -> RNNScratch:
    """Return a float64 ``RNNScratch`` with random weights, for studying gradients rather than a task.

    ``W_xh`` has independent normal entries scaled by ``input_scale / sqrt(num_inputs)`` (how strongly
    the inputs drive the units, hence how saturated they are); ``W_hh`` comes from
    ``recurrent_matrix(num_hiddens, radius, kind)``; ``b_h`` is zero. The two matrices are drawn in
    that order from ``generator``, so a seeded generator gives the same network every time.

    Raises:
        ValueError: ``num_inputs`` or ``num_hiddens`` below 1, a negative or non-finite ``radius`` or
            ``input_scale``, or an unknown ``kind``.
    """
    check_int("num_inputs", num_inputs)
    input_scale = check_real("input_scale", input_scale, minimum=0)
    rnn = RNNScratch(num_inputs, num_hiddens).double()
    with torch.no_grad():
        W_xh = torch.randn(num_inputs, num_hiddens, generator=generator, dtype=torch.float64)  # (I, H)
        rnn.W_xh.copy_(W_xh * input_scale / math.sqrt(num_inputs))
        rnn.W_hh.copy_(recurrent_matrix(num_hiddens, radius, kind, generator))  # (H, H)
        rnn.b_h.zero_()
    return rnn


def _check(X: torch.Tensor, H: torch.Tensor, W_hh: torch.Tensor, dL_dH: torch.Tensor,
           H0: torch.Tensor | None) -> torch.Tensor:
    """Validate shapes and return ``H0`` (zeros when ``None``)."""
    if X.dim() != 3 or H.dim() != 3:
        raise ValueError(f"X and H must be time-major (T, B, I) and (T, B, H); got shapes "
                         f"{tuple(X.shape)} and {tuple(H.shape)}")
    T, B, num_hiddens = H.shape
    if X.shape[:2] != (T, B):
        raise ValueError(f"X {tuple(X.shape)} and H {tuple(H.shape)} disagree on (T, B)")
    if T == 0:
        raise ValueError("the sequence is empty (T = 0)")
    if W_hh.shape != (num_hiddens, num_hiddens):
        raise ValueError(f"W_hh must be ({num_hiddens}, {num_hiddens}) to match H, got {tuple(W_hh.shape)}")
    if dL_dH.shape != H.shape:
        raise ValueError(f"dL_dH must have the shape of H {tuple(H.shape)}, got {tuple(dL_dH.shape)}")
    if H0 is None:
        return H.new_zeros(B, num_hiddens)
    if H0.shape != (B, num_hiddens):
        raise ValueError(f"H0 must be ({B}, {num_hiddens}), got {tuple(H0.shape)}")
    return H0


def _param_grads(X: torch.Tensor, H: torch.Tensor, H0: torch.Tensor, A: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sum each step's contribution, given ``A[t] = dL/dZ_t`` for the pre-activations ``Z_t``."""
    H_prev = torch.cat([H0[None], H[:-1]])  # (T, B, H): the state each step reads
    # dL/dW = sum_t (input of step t)^T @ A[t]; einsum sums over time and batch at once.
    return (torch.einsum("tbi,tbh->ih", X, A), torch.einsum("tbj,tbh->jh", H_prev, A), A.sum((0, 1)))


def bptt_backward(X: torch.Tensor, H: torch.Tensor, W_hh: torch.Tensor, dL_dH: torch.Tensor,
                  H0: torch.Tensor | None = None, carry: torch.Tensor | None = None) -> BPTTGrads:
    """Backpropagate through time by the recursion ``G_t = dL_dH[t] + carry[t+1] (G_{t+1} * (1 - H_{t+1}**2)) W_hh^T``.

    Args:
        X: inputs ``(T, B, I)``. H: states ``(T, B, H)`` from the forward pass.
        W_hh: ``(H, H)``. dL_dH: partial derivatives ``(T, B, H)`` (see the module docstring).
        H0: the state before step 0 ``(B, H)``; zeros if ``None``.
        carry: ``(T,)`` weights on the gradient carried from step ``t`` back to
            step ``t - 1`` (``carry[0]`` is unused). ``None`` or all ones is
            full BPTT; a 0 cuts the graph there (see ``block_carry``,
            ``random_carry``); a cut step costs nothing.

    Returns:
        ``BPTTGrads``; with ``carry=None`` its ``dL_dH`` holds the total derivatives.

    Raises:
        ValueError: inconsistent shapes, or ``carry`` of the wrong length or with negative entries.
    """
    H0 = _check(X, H, W_hh, dL_dH, H0)
    T = H.shape[0]
    if carry is None:
        carry = torch.ones(T)
    if carry.shape != (T,) or bool((carry < 0).any()) or not bool(torch.isfinite(carry).all()):
        raise ValueError(f"carry must hold {T} finite weights >= 0, got shape {tuple(carry.shape)}")
    D = 1 - H ** 2      # (T, B, H): tanh'(Z_t), diagonal of each Jacobian
    W_hh_T = W_hh.T     # (H, H)
    G, A = [], []       # per step, last step first: dL/dH_t (total derivatives), dL/dZ_t (Z_t pre-activations)
    from_later = 0      # what the steps after t send back to H_t: nothing, after the last step
    steps = 0
    # Back over time, one (B, H) slice of each tensor per step (unbind makes views, no copies).
    backwards = zip(reversed(range(T)), reversed(dL_dH.unbind(0)), reversed(D.unbind(0)), reversed(carry.tolist()))
    for t, dL_dH_t, D_t, weight in backwards:
        G_t = dL_dH_t + from_later  # total = partial + everything downstream
        A_t = G_t * D_t             # back through tanh: times diag(1 - H_t^2)
        G.append(G_t)
        A.append(A_t)
        if t > 0 and weight != 0:
            from_later = A_t @ W_hh_T  # back through H_{t-1} W_hh: times W_hh^T
            if weight != 1:
                from_later = weight * from_later  # a reweighted carry (random cuts)
            steps += 1
        else:
            from_later = 0          # cut: nothing reaches H_{t-1}
    G, A = torch.stack(G[::-1]), torch.stack(A[::-1])  # (T, B, H) each, in time order
    dW_xh, dW_hh, db_h = _param_grads(X, H, H0, A)
    return BPTTGrads(dW_xh, dW_hh, db_h, G, steps)


def block_carry(num_steps: int, k: int) -> torch.Tensor:
    """Carry weights that cut the graph every ``k`` steps: blocks ``[0, k)``, ``[k, 2k)``, ...

    This is what detaching the state every ``k`` steps does; ``k >= num_steps`` cuts nothing.

    Raises:
        ValueError: ``k < 1`` or ``num_steps < 1``.
    """
    check_int("the truncation length k", k)
    check_int("num_steps", num_steps)
    carry = torch.ones(num_steps)
    carry[::k] = 0  # no gradient flows from the first step of a block into the previous block
    carry[0] = 1    # (the entry for step 0 is never used)
    return carry


def random_carry(num_steps: int, cut_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random cuts with compensation (Tallec & Ollivier, 2017): an unbiased gradient estimate.

    At each step the graph is cut with probability ``cut_prob``; where it is not
    cut, the carried gradient is multiplied by ``1 / (1 - cut_prob)``, so every
    carry weight has expectation 1 and so does every product of them along a path.
    The draws are independent of the data, so they can be made before the
    forward pass, and a stream can be processed one uncut segment at a time.

    Raises:
        ValueError: ``cut_prob`` outside ``[0, 1)`` or ``num_steps < 1``.
    """
    cut_prob = check_real("cut_prob", cut_prob, minimum=0, maximum=1, exclusive_maximum=True)
    check_int("num_steps", num_steps)
    keep = torch.rand(num_steps, generator=generator, dtype=torch.float64) >= cut_prob
    carry = keep.double() / (1 - cut_prob)
    carry[0] = 1  # the entry for step 0 is never used (as in ``block_carry``)
    return carry


def segment_lengths(carry: torch.Tensor) -> list[int]:
    """Lengths of the uncut runs of steps in ``carry`` (a 0 at step ``t > 0`` starts a new run).

    A backward pass through one run needs all of that run's states, so the
    longest run is the memory a truncated pass needs, in states.

    Raises:
        ValueError: ``carry`` is not a non-empty 1-D tensor.
    """
    if carry.dim() != 1 or carry.numel() == 0:
        raise ValueError(f"carry must be a non-empty 1-D tensor, got shape {tuple(carry.shape)}")
    starts = [0] + [t for t in range(1, len(carry)) if float(carry[t]) == 0] + [len(carry)]
    return [b - a for a, b in zip(starts, starts[1:])]


def windowed_bptt(X: torch.Tensor, H: torch.Tensor, W_hh: torch.Tensor, dL_dH: torch.Tensor, k: int,
                  H0: torch.Tensor | None = None) -> BPTTGrads:
    """Truncate every loss term to its own last ``k`` steps (a sliding window).

    The loss at step ``t`` sends gradient back to steps ``t, t-1, ..., t-k+1``
    only. Different terms stop at different places, so no carried sum can be
    shared: each term needs its own chain of ``min(k, t + 1) - 1`` steps back.
    The chains are advanced together, one offset ``j`` at a time, which changes
    the speed but not the count. ``k >= T`` gives the full gradient for
    ``T (T - 1) / 2`` steps instead of ``T - 1``.

    Raises:
        ValueError: inconsistent shapes or ``k < 1``.
    """
    H0 = _check(X, H, W_hh, dL_dH, H0)
    check_int("the truncation length k", k)
    T = H.shape[0]
    G = torch.zeros_like(H)  # (T, B, H): gradient reaching each state, summed over the chains
    A = torch.zeros_like(H)  # (T, B, H): the same, at each pre-activation
    q = dL_dH                # q[s]: chain t = s + j, now at state s (offset j = 0: every chain at its start)
    steps = 0
    for j in range(min(k, T)):
        n = T - j                       # chains t = j, ..., T-1 are still inside their window
        G[:n] += q
        a = q * (1 - H[:n] ** 2)        # (n, B, H)
        A[:n] += a
        if j + 1 < min(k, T):
            q = a[1:] @ W_hh.T          # each chain one step back: state s + 1 -> s
            steps += n - 1
    dW_xh, dW_hh, db_h = _param_grads(X, H, H0, A)
    return BPTTGrads(dW_xh, dW_hh, db_h, G, steps)


def state_jacobians(H: torch.Tensor, W_hh: torch.Tensor) -> torch.Tensor:
    """Return ``J (T, B, H, H)`` with ``J[d, b] = dH_{T-1}/dH_{T-1-d}`` for sequence ``b``.

    Built as the product ``diag(1 - H_{T-1}^2) W_hh^T ... diag(1 - H_{T-d}^2) W_hh^T``
    (latest step on the left); ``J[0]`` is the identity. Row ``i``, column ``j``
    of a Jacobian is the derivative of component ``i`` of the later state
    with respect to component ``j`` of the earlier one.

    Raises:
        ValueError: ``H`` is not ``(T, B, H)`` or ``W_hh`` is not ``(H, H)``.
    """
    if H.dim() != 3 or W_hh.shape != (H.shape[2], H.shape[2]):
        raise ValueError(f"need H (T, B, H) and W_hh (H, H); got {tuple(H.shape)} and {tuple(W_hh.shape)}")
    T, B, num_hiddens = H.shape
    P = torch.eye(num_hiddens, dtype=H.dtype).expand(B, num_hiddens, num_hiddens)  # (B, H, H)
    out = [P]
    for d in range(1, T):
        t = T - d  # multiply on the right by the Jacobian of step t: dH_t/dH_{t-1}
        P = (P * (1 - H[t] ** 2)[:, None, :]) @ W_hh.T  # P diag(1 - H_t^2) W_hh^T
        out.append(P)
    return torch.stack(out)


def gradient_agreement(estimate: torch.Tensor, exact: torch.Tensor) -> tuple[float, float]:
    """Return ``(cosine similarity, relative error ||estimate - exact|| / ||exact||)``.

    Raises:
        ValueError: different shapes, or ``exact`` is zero.
    """
    if estimate.shape != exact.shape:
        raise ValueError(f"shapes differ: {tuple(estimate.shape)} vs {tuple(exact.shape)}")
    e, x = estimate.flatten().double(), exact.flatten().double()
    norm = x.norm()
    if norm == 0:
        raise ValueError("the exact gradient is zero, so the relative error is undefined")
    cosine = float(e @ x / (e.norm() * norm)) if e.norm() > 0 else 0.0
    return cosine, float((e - x).norm() / norm)


LM_PARAMS = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")


@dataclass
class LMGrads:
    """What ``lm_loss_and_gradients`` returns.

    Attributes:
        loss: the mean cross-entropy over the ``T = len(tokens) - 1`` predictions.
        grads: ``{name: float64 tensor}`` for ``W_xh (V, H)``, ``W_hh (H, H)``, ``b_h (H,)``,
            ``W_hq (H, V)``, ``b_q (V,)``: the (truncated) gradients of ``loss``.
        state_grad_norms: ``(T,)``: ``||dL/dh_t||`` for ``t = 1, ..., T``, the gradient that reached each
            state in this backward pass (cut at block starts when truncated).
    """

    loss: float
    grads: dict[str, torch.Tensor]
    state_grad_norms: torch.Tensor


def lm_loss_and_gradients(params: dict, tokens, truncation: int | None = None) -> LMGrads:
    """Loss and gradients of a character RNN language model on one sequence, by ``bptt_backward``.

    The model is ``RNNLMScratch``'s, for one sequence: from a zero state, step ``t = 1, ..., T``
    (``T = len(tokens) - 1``) reads ``tokens[t-1]`` one-hot, computes
    ``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)`` and predicts ``tokens[t]`` from the logits
    ``h_t W_hq + b_q``. With ``truncation = k`` the steps form blocks ``1..k, k+1..2k, ...`` and no
    gradient crosses a block start (``block_carry``): the state that enters a block is a constant.
    Everything is computed in float64; the bptt page's trainer runs the same function in JavaScript.

    Args:
        params: ``{name: array or tensor}`` with the shapes above (``V`` tokens, ``H`` hidden units).
        tokens: at least two token indices in ``[0, V)``.
        truncation: ``None`` for full BPTT, or the block length ``k >= 1``.

    Returns:
        ``LMGrads``.

    Raises:
        ValueError: a missing parameter or a wrong shape, fewer than two tokens, or a bad ``truncation``.
        TypeError, IndexError: ``tokens`` that are not indices in ``[0, V)`` (see ``check_tokens``).
    """
    missing = [name for name in LM_PARAMS if name not in params]
    if missing:
        raise ValueError(f"params lacks {missing}; it needs {list(LM_PARAMS)}")
    W_xh, W_hh, b_h, W_hq, b_q = (torch.as_tensor(params[name], dtype=torch.float64) for name in LM_PARAMS)
    V, H = W_xh.shape if W_xh.dim() == 2 else (0, 0)
    shapes = {"W_xh": (V, H), "W_hh": (H, H), "b_h": (H,), "W_hq": (H, V), "b_q": (V,)}
    for name, tensor in zip(LM_PARAMS, (W_xh, W_hh, b_h, W_hq, b_q)):
        if tuple(tensor.shape) != shapes[name] or V == 0 or H == 0:
            raise ValueError(f"{name} must have shape {shapes[name]} (from W_xh (V, H)), got {tuple(tensor.shape)}")
    tokens = torch.from_numpy(check_tokens("tokens", tokens, V))
    if len(tokens) < 2:
        raise ValueError(f"tokens must hold at least 2 indices (one input and one target), got {len(tokens)}")
    T = len(tokens) - 1
    carry = None if truncation is None else block_carry(T, check_int("truncation", truncation))
    X = torch.nn.functional.one_hot(tokens[:-1], V).double()[:, None, :]  # (T, 1, V): inputs
    Y = tokens[1:]                                                          # (T,): targets
    with torch.no_grad():
        state, states = torch.zeros(1, H, dtype=torch.float64), []
        for x_term in (X @ W_xh + b_h).unbind(0):  # (1, H) each: x_t W_xh + b_h
            state = torch.tanh(x_term + state @ W_hh)
            states.append(state)
        Hs = torch.stack(states)                  # (T, 1, H)
        logits = Hs[:, 0] @ W_hq + b_q            # (T, V)
        log_probs = torch.log_softmax(logits, dim=1)
        loss = -log_probs[torch.arange(T), Y].mean()
        dL_dO = (log_probs.exp() - torch.nn.functional.one_hot(Y, V)) / T  # (T, V): partial dL/do_t
        dL_dH = (dL_dO @ W_hq.T)[:, None]         # (T, 1, H): partial dL/dh_t through o_t
        back = bptt_backward(X, Hs, W_hh, dL_dH, carry=carry)
    grads = {"W_xh": back.W_xh, "W_hh": back.W_hh, "b_h": back.b_h,
             "W_hq": Hs[:, 0].T @ dL_dO, "b_q": dL_dO.sum(0)}
    return LMGrads(float(loss), grads, back.dL_dH[:, 0].norm(dim=1))
