"""The RNN layers, the language models, their state contract and text generation."""

import pytest
import torch

import d2lmini as d2l

V, H = 28, 16


@pytest.fixture
def vocab():
    return d2l.Vocab(list("abcdefghijklmnopqrstuvwxyz "))


def scratch_lm(seed=0):
    torch.manual_seed(seed)
    return d2l.RNNLMScratch(d2l.RNNScratch(V, H, sigma=0.3), V)


def concise_lm(seed=0):
    torch.manual_seed(seed)
    return d2l.RNNLM(d2l.RNN(V, H), V)


@pytest.mark.parametrize("layer, state_shape", [
    (lambda: d2l.RNNScratch(5, H), lambda b: (b, H)),
    (lambda: d2l.RNN(5, H), lambda b: (1, b, H)),
])
@pytest.mark.parametrize("batch", [1, 3])
def test_state_goes_back_in_for_any_batch_size(layer, state_shape, batch):
    torch.manual_seed(0)
    rnn = layer()
    inputs = torch.randn(7, batch, 5)
    outputs, state = rnn(inputs)
    assert outputs.shape == (7, batch, H) and state.shape == state_shape(batch)
    assert torch.allclose(outputs[-1], state.reshape(batch, H))
    # Feeding the sequence in two halves, passing the state along, equals one pass.
    first, mid_state = rnn(inputs[:4])
    second, end_state = rnn(inputs[4:], mid_state)
    assert torch.allclose(torch.cat([first, second]), outputs, atol=1e-6)
    assert torch.allclose(end_state, state, atol=1e-6)


def test_scratch_layer_computes_the_rnn_equation():
    torch.manual_seed(0)
    rnn = d2l.RNNScratch(3, 4, sigma=0.5)
    x = torch.randn(2, 1, 3)
    h1 = torch.tanh(x[0] @ rnn.W_xh + rnn.b_h)
    h2 = torch.tanh(x[1] @ rnn.W_xh + h1 @ rnn.W_hh + rnn.b_h)
    outputs, state = rnn(x)
    assert torch.allclose(outputs[0], h1) and torch.allclose(state, h2)


def test_scratch_and_concise_agree_given_the_same_weights():
    scratch, concise = scratch_lm(), concise_lm(seed=1)
    X = torch.randint(V, (4, 9))
    assert not torch.allclose(scratch(X), concise(X), atol=1e-3)
    d2l.copy_scratch_weights(scratch, concise)
    assert torch.allclose(scratch(X), concise(X), atol=1e-5)
    _, s_state = scratch.rnn(scratch.one_hot(X))
    _, c_state = concise.rnn(concise.one_hot(X))
    assert torch.allclose(s_state, c_state[0], atol=1e-5)


def test_logits_shape_and_one_hot():
    model = scratch_lm()
    X = torch.randint(V, (2, 5))
    assert model(X).shape == (2, 5, V)
    one_hot = model.one_hot(X)
    assert one_hot.shape == (5, 2, V) and torch.equal(one_hot.argmax(-1), X.T)


def test_mismatched_sizes_and_unknown_optimizer_are_errors():
    with pytest.raises(ValueError, match="one-hot"):
        d2l.RNNLMScratch(d2l.RNNScratch(10, H), V)
    with pytest.raises(ValueError, match="optimizer"):
        d2l.RNNLMScratch(d2l.RNNScratch(V, H), V, optimizer="rmsprop")


@pytest.mark.parametrize("make", [scratch_lm, concise_lm])
def test_greedy_predict_matches_step_by_step_argmax(make, vocab):
    model = make()
    text = model.predict("It has", 6, vocab)
    assert text.startswith("it has")
    # Recompute the continuation by re-reading the whole text each time: same result.
    chars = list("it has")
    for _ in range(6):
        logits = model(torch.tensor([vocab[chars]]))[0, -1]
        chars.append(vocab.to_tokens(int(logits.argmax())))
    assert text == "".join(chars)


def test_sampled_predict_is_reproducible_with_a_generator(vocab):
    model = scratch_lm()
    runs = [model.predict("the", 30, vocab, temperature=1.0, generator=torch.Generator().manual_seed(5))
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert model.predict("the", 0, vocab) == "the"
    assert model.training  # predict restores the training mode


@pytest.mark.parametrize("prefix, num_preds, kwargs, message", [
    ("", 5, {}, "empty"),
    ("it has", -1, {}, "num_preds"),
    ("it has", 2.0, {}, "num_preds"),
    ("it has", 5, {"temperature": -0.5}, "temperature"),
    ("it has", 5, {"temperature": float("nan")}, "temperature"),
    ("it has", 5, {"top_k": 0, "temperature": 1.0}, "top_k"),
])
def test_predict_rejects_bad_arguments(vocab, prefix, num_preds, kwargs, message):
    with pytest.raises(ValueError, match=message):
        scratch_lm().predict(prefix, num_preds, vocab, **kwargs)


def test_prefix_is_preprocessed_and_out_of_vocabulary_characters_are_errors():
    small = d2l.Vocab(list("abc "))
    model = d2l.RNNLMScratch(d2l.RNNScratch(len(small), H), len(small))
    assert model.predict("A, B!", 0, small) == "a b "
    with pytest.raises(ValueError, match=r"outside the vocabulary.*\['d', 'z'\]"):
        model.predict("zad", 3, small)


def test_next_token_probs_reads_one_row_and_matches_the_loss():
    import numpy as np

    torch.manual_seed(0)
    lm = d2l.RNNLMScratch(d2l.RNNScratch(6, 5, sigma=0.5), 6)
    tokens = torch.randint(0, 6, (40,))
    probs = lm.next_token_probs(tokens)                       # (39, 6): row j is P(tokens[j + 1] | ...)
    assert probs.shape == (39, 6) and np.allclose(probs.sum(axis=1), 1)
    nll = -np.log(probs[np.arange(39), tokens[1:].numpy()]).mean()
    loss = lm.loss(lm(tokens[None, :-1]), tokens[None, 1:]).item()
    assert nll == pytest.approx(loss, rel=1e-5)
    assert np.allclose(lm.next_token_probs(tokens, start=10), probs[9:])
    with pytest.raises(ValueError, match="start"):
        lm.next_token_probs(tokens, start=0)


@pytest.mark.parametrize("make", [lambda: d2l.RNNLMScratch(d2l.RNNScratch(V, H), V),
                                  lambda: d2l.RNNLM(d2l.RNN(V, H), V)])
def test_a_float64_model_runs_and_trains_in_float64(make):
    lm = make().double()
    X = torch.randint(0, V, (3, 7))
    assert lm.one_hot(X).dtype == torch.float64
    logits = lm(X)
    assert logits.dtype == torch.float64
    lm.loss(logits, X).backward()
    assert all(p.grad.dtype == torch.float64 for p in lm.parameters())


def test_scratch_layer_matches_a_plain_reference_loop_in_float64():
    # The layer loops over unbind(0) for O(T) backward work; it must compute exactly the recurrence
    # H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h), written here step by step with indexing, and the same gradients.
    torch.manual_seed(0)
    layer = d2l.RNNScratch(5, 7, sigma=0.5).double()
    X = torch.randn(9, 3, 5, dtype=torch.float64, requires_grad=True)
    H0 = torch.randn(3, 7, dtype=torch.float64)
    outputs, last = layer(X, H0)
    weights = torch.randn_like(outputs)
    grads = torch.autograd.grad((outputs * weights).sum(), [X, *layer.parameters()])

    W_xh, W_hh, b_h = (p.detach().clone().requires_grad_() for p in (layer.W_xh, layer.W_hh, layer.b_h))
    X_ref = X.detach().clone().requires_grad_()
    state, reference = H0, []
    for t in range(X_ref.shape[0]):
        state = torch.tanh(X_ref[t] @ W_xh + state @ W_hh + b_h)
        reference.append(state)
    reference = torch.stack(reference)
    ref_grads = torch.autograd.grad((reference * weights).sum(), [X_ref, W_xh, W_hh, b_h])
    torch.testing.assert_close(outputs, reference, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(last, reference[-1], rtol=1e-12, atol=1e-14)
    for got, expected in zip(grads, ref_grads):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_scratch_layer_backward_has_one_node_for_all_steps():
    # Indexing inside the loop would leave one SelectBackward node per step in the graph (O(T^2) backward work).
    layer = d2l.RNNScratch(4, 3)
    outputs, _ = layer(torch.randn(50, 2, 4))
    seen, stack, names = set(), [outputs.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(type(node).__name__)
        stack.extend(next_fn for next_fn, _ in node.next_functions)
    assert names.count("UnbindBackward0") == 1
    assert not any(name.startswith("SelectBackward") for name in names)
