"""Property-based tests: the public API driven with generated inputs (Hypothesis).

Every call either returns what its docstring promises or raises ``ValueError``, ``TypeError`` or (for an
index out of range) ``IndexError`` from d2lmini's own code, with a message that names what was wrong. Any
other exception type fails the test, and so does an allowed type raised from inside PyTorch, NumPy or the
standard library (a raw message that names neither the argument nor the fix).

Profiles: ``ci`` (the default, a few dozen examples per property, derandomized so that runs repeat) and
``fuzz`` (``make fuzz``: ``HYPOTHESIS_PROFILE=fuzz``, many more examples, a fresh random seed each run).
"""

import math
import os
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import d2lmini as d2l
from d2lmini import checks
from d2lmini.models import eval_mode

settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PACKAGE = Path(d2l.__file__).resolve().parent
ALLOWED = (ValueError, TypeError, IndexError)
V, H = 6, 5

# Values of the wrong kind that any argument may receive.
junk = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.just([1, 2]), st.just({"a": 1}),
                 st.floats(allow_nan=True, allow_infinity=True), st.just(torch.tensor([1.0, 2.0])))
small_ints = st.integers(min_value=-3, max_value=12)
sizes = st.one_of(small_ints, small_ints.map(float), junk)
reals = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.sampled_from([1e-300, 5e-324,
                  1e300, -0.0]), junk)
unicode_text = st.text(st.characters(codec=None), max_size=30)


def attempt(fn, *args, **kwargs):
    """Return ``(result, None)``, or ``(None, error)`` for an allowed error raised by d2lmini with a real message.

    Any other exception propagates and fails the test.
    """
    try:
        return fn(*args, **kwargs), None
    except ALLOWED as error:
        check_raised_by_us(error)
        return None, error


def check_raised_by_us(error: BaseException) -> None:
    frame = traceback.extract_tb(error.__traceback__)[-1]
    where = Path(frame.filename).resolve()
    assert where.parent == PACKAGE, (f"{type(error).__name__} raised outside d2lmini, at {where}:{frame.lineno}: "
                                     f"{error}")
    message = str(error)
    assert len(message) > 20, f"a message too short to help: {message!r}"
    if isinstance(error, IndexError):
        assert "outside" in message, f"an IndexError that is not about an index out of range: {message!r}"


# Checks --------------------------------------------------------------------------------------------------

@given(value=st.one_of(sizes, st.integers()), minimum=st.integers(-3, 3))
def test_check_int_returns_the_int_or_says_what_it_wanted(value, minimum):
    result, error = attempt(checks.check_int, "n", value, minimum=minimum)
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    assert (error is None) == ok
    assert result == value if ok else isinstance(error, ValueError) and str(error).startswith("n must be")


@given(value=reals, low=st.one_of(st.none(), st.floats(-2, 2)))
def test_check_real_returns_a_finite_float_or_says_what_it_wanted(value, low):
    result, error = attempt(checks.check_real, "x", value, minimum=low)
    if error is None:
        assert isinstance(result, float) and math.isfinite(result) and (low is None or result >= low)
    else:
        assert isinstance(error, ValueError) and str(error).startswith("x must be a finite number")


# Layers --------------------------------------------------------------------------------------------------

@given(layer=st.sampled_from([d2l.RNNScratch, d2l.RNN]), num_inputs=sizes, num_hiddens=sizes)
def test_layers_check_their_sizes(layer, num_inputs, num_hiddens):
    result, error = attempt(layer, num_inputs, num_hiddens)
    ok = all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in (num_inputs, num_hiddens))
    assert (error is None) == ok, error
    if error is not None:
        assert "num_inputs" in str(error) or "num_hiddens" in str(error)


@given(layer=st.sampled_from([d2l.RNNScratch, d2l.RNN]),
       shape=st.lists(st.integers(0, 4), min_size=0, max_size=4),
       dtype=st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]),
       state_shape=st.one_of(st.none(), st.lists(st.integers(0, 4), min_size=1, max_size=3)),
       state_dtype=st.sampled_from([torch.float32, torch.float64]))
def test_layers_check_inputs_and_state(layer, shape, dtype, state_shape, state_dtype):
    rnn = layer(3, 4)
    inputs = torch.zeros(shape, dtype=dtype)
    state = None if state_shape is None else torch.zeros(state_shape, dtype=state_dtype)
    result, error = attempt(rnn, inputs, state)
    if error is None:
        outputs, last = result
        T, B = shape[0], shape[1]
        assert outputs.shape == (T, B, 4) and last.shape == ((B, 4) if layer is d2l.RNNScratch else (1, B, 4))
    elif state is not None and "state" in str(error):
        assert "expected" in str(error) or "dtype" in str(error)


# Language models -----------------------------------------------------------------------------------------

def scratch_lm() -> d2l.RNNLMScratch:
    torch.manual_seed(0)
    return d2l.RNNLMScratch(d2l.RNNScratch(V, H, sigma=0.5), V)


def concise_lm() -> d2l.RNNLM:
    torch.manual_seed(0)
    return d2l.RNNLM(d2l.RNN(V, H), V)


MODELS = {"scratch": scratch_lm(), "concise": concise_lm()}
VOCAB = d2l.Vocab(list("abcde"))  # 5 letters and <unk>: V = 6
assert len(VOCAB) == V


@given(vocab_size=sizes, lr=reals, optimizer=st.one_of(st.sampled_from(["sgd", "adam", "SGD", "rmsprop"]), junk.filter(
    lambda o: not isinstance(o, torch.Tensor))))
def test_language_models_check_their_arguments(vocab_size, lr, optimizer):
    _, error = attempt(d2l.RNNLMScratch, d2l.RNNScratch(V, H), vocab_size, lr=lr, optimizer=optimizer)
    ok = type(vocab_size) is int and vocab_size == V and optimizer in ("sgd", "adam") and not isinstance(lr, bool) \
        and isinstance(lr, int | float) and math.isfinite(lr) and lr > 0
    assert (error is None) == ok, error


@given(name=st.sampled_from(list(MODELS)), shape=st.lists(st.integers(0, 4), max_size=3),
       dtype=st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.float32, torch.bool]),
       low=st.integers(-3, V + 2), high=st.integers(-3, V + 3), training=st.booleans())
def test_models_take_2d_integer_indices_in_range(name, shape, dtype, low, high, training):
    model = MODELS[name].train(training)
    if dtype == torch.uint8:  # no negative values in uint8
        low, high = max(low, 0), max(high, 0)
    assume(low <= high)
    values = torch.randint(low, high + 1, shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    result, error = attempt(model, values)
    ok = len(shape) == 2 and 0 not in shape and dtype not in (torch.float32, torch.bool) \
        and (values.numel() == 0 or (int(values.min()) >= 0 and int(values.max()) < V))
    assert (error is None) == ok, error
    if ok:
        assert result.shape == (*shape, V) and torch.isfinite(result).all()
    assert model.training == training


@given(name=st.sampled_from(list(MODELS)), B=st.integers(1, 3),
       state_shape=st.lists(st.integers(1, 6), min_size=1, max_size=3))
def test_models_check_the_state_shape(name, B, state_shape):
    model = MODELS[name]
    X = torch.zeros(B, 4, dtype=torch.long)
    _, error = attempt(model, X, torch.zeros(state_shape))
    expected = (B, H) if name == "scratch" else (1, B, H)
    assert (error is None) == (tuple(state_shape) == expected)
    if error is not None:
        assert f"expected {expected}" in str(error) and str(tuple(state_shape)) in str(error)


@given(name=st.sampled_from(list(MODELS)), prefix=st.one_of(unicode_text, junk), num_preds=sizes,
       temperature=reals, top_k=st.one_of(st.none(), small_ints, junk), training=st.booleans(),
       vocab=st.sampled_from(["same", "shuffled", "smaller", "none"]))
def test_predict_returns_text_or_names_the_bad_argument(name, prefix, num_preds, temperature, top_k, training,
                                                       vocab):
    model = MODELS[name].train(training)
    vocabs = {"same": VOCAB, "shuffled": d2l.Vocab(list("abcdf")), "smaller": d2l.Vocab(list("abc")), "none": None}
    model.vocab = VOCAB  # as Trainer.fit leaves it
    try:
        result, error = attempt(model.predict, prefix, num_preds, vocabs[vocab], temperature=temperature, top_k=top_k,
                                generator=torch.Generator().manual_seed(0))
    finally:
        model.vocab = None
    assert model.training == training  # restored, whether predict returned or raised
    if error is None:
        start = d2l.preprocess(prefix)
        assert vocab == "same" and result.startswith(start) and len(result) == len(start) + num_preds
        assert set(result) <= set("abcde ") | {"<"} or "<unk>" in result
    elif vocab == "shuffled":
        assert isinstance(error, TypeError | ValueError)
    if prefix is None:
        assert isinstance(error, TypeError) and "prefix" in str(error)


@given(name=st.sampled_from(list(MODELS)),
       tokens=st.one_of(st.lists(st.integers(-2, V + 1), max_size=12), st.lists(st.floats(0, 3), max_size=4),
                        st.text(max_size=4), st.none()),
       start=st.one_of(small_ints, junk), training=st.booleans())
def test_next_token_probs_rows_are_distributions_or_a_clear_error(name, tokens, start, training):
    model = MODELS[name].train(training)
    result, error = attempt(model.next_token_probs, tokens, start)
    assert model.training == training
    if error is None:
        assert result.shape == (len(tokens) - start, V) and np.allclose(result.sum(axis=1), 1)


@given(name=st.sampled_from(list(MODELS)), B=st.integers(1, 3), T=st.integers(1, 3),
       y=st.one_of(st.integers(-2, V + 1), st.just("float"), st.just("shape")))
def test_loss_checks_its_targets(name, B, T, y):
    model = MODELS[name]
    logits = model(torch.zeros(B, T, dtype=torch.long))
    Y = torch.full((B, T), 0.0) if y == "float" else torch.zeros(B, T + 1, dtype=torch.long) if y == "shape" \
        else torch.full((B, T), y, dtype=torch.long)
    result, error = attempt(model.loss, logits, Y)
    assert (error is None) == (isinstance(y, int) and 0 <= y < V)


@given(first=st.sampled_from(["scratch", "concise", "layer", "none", "big"]),
       second=st.sampled_from(["scratch", "concise", "layer", "none", "big"]))
def test_copy_scratch_weights_says_the_order(first, second):
    make = {"scratch": scratch_lm, "concise": concise_lm, "layer": lambda: d2l.RNNScratch(V, H), "none": lambda: None,
            "big": lambda: d2l.RNNLM(d2l.RNN(V, H + 1), V)}
    _, error = attempt(d2l.copy_scratch_weights, make[first](), make[second]())
    assert (error is None) == (first == "scratch" and second == "concise")
    if error is not None and "big" not in (first, second):
        assert isinstance(error, TypeError) and "RNNLMScratch over RNNScratch first" in str(error)


# Sampling ------------------------------------------------------------------------------------------------

@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       special=st.sampled_from([None, math.nan, math.inf, -math.inf]), scale=st.sampled_from([1.0, 1e30, 1e38]),
       temperature=reals, top_k=st.one_of(st.none(), small_ints, junk))
def test_sample_returns_valid_indices_or_a_clear_error(shape, special, scale, temperature, top_k):
    logits = torch.randn(shape, generator=torch.Generator().manual_seed(1)) * scale
    if special is not None and logits.numel():
        logits.view(-1)[0] = special
    result, error = attempt(d2l.sample, logits, temperature, top_k, torch.Generator().manual_seed(0))
    if error is None:
        assert result.shape == logits.shape[:-1] and result.dtype == torch.long
        assert ((result >= 0) & (result < logits.shape[-1])).all()
        assert logits.gather(-1, result[..., None]).isfinite().all()  # never a masked or NaN entry
        if temperature == 0:
            assert torch.equal(result, logits.argmax(-1))
    if special is not None and special != -math.inf and logits.numel():
        assert error is not None  # NaN or +inf: never an answer


# Text and vocabulary -------------------------------------------------------------------------------------

@given(text=st.one_of(unicode_text, junk))
def test_preprocess_keeps_only_lowercase_letters_and_single_spaces(text):
    result, error = attempt(d2l.preprocess, text)
    assert (error is None) == isinstance(text, str)
    if error is None:
        assert set(result) <= set("abcdefghijklmnopqrstuvwxyz ") and "  " not in result
        assert d2l.preprocess(result) == result


@given(text=st.one_of(unicode_text, st.lists(unicode_text, max_size=3), junk),
       token=st.one_of(st.sampled_from([None, "char", "word", "CHAR"]), junk))
def test_tokenize_splits_or_names_the_argument(text, token):
    result, error = attempt(d2l.tokenize, text, token)
    if error is None and isinstance(text, str):
        assert "".join(result) == (text if token in (None, "char") else "".join(text.split()))


@given(tokens=st.one_of(st.lists(unicode_text, max_size=20), st.lists(st.lists(unicode_text, max_size=4), max_size=4),
                        st.just([["a"], "b"]), st.just([[["a"]]]), junk),
       min_freq=st.one_of(small_ints, junk),
       reserved=st.one_of(st.just(()), st.just(["<pad>"]), st.just("<pad>"), junk))
def test_vocab_maps_every_kept_token_back_to_itself(tokens, min_freq, reserved):
    vocab, error = attempt(d2l.Vocab, tokens, min_freq, reserved)
    if error is None:
        kept = [t for t in vocab.idx_to_token]
        assert vocab.to_tokens(vocab[kept]) == kept and vocab.unk == vocab["<unk>"]


@given(index=st.one_of(st.integers(-3, 10), st.floats(allow_nan=True), st.booleans(), st.lists(st.integers(-1, 9),
                       max_size=3), st.just(np.int64(2)), st.just(torch.tensor([1, 2])), st.just(torch.tensor(1.5)),
                       st.text(max_size=2), st.none()))
def test_to_tokens_never_truncates(index):
    vocab = VOCAB
    result, error = attempt(vocab.to_tokens, index)
    if isinstance(index, float):
        assert isinstance(error, TypeError)
    if error is None:
        assert result == (vocab.idx_to_token[int(index)] if np.ndim(index) == 0 and not isinstance(index, list)
                          else [vocab.idx_to_token[int(i)] for i in index])


# Training ------------------------------------------------------------------------------------------------

@given(max_epochs=sizes, gradient_clip_val=reals, num_gpus=st.one_of(st.none(), small_ints, junk),
       device=st.one_of(st.none(), st.sampled_from(["cpu", "gpu", "cuda:x", ""]), junk),
       lr_schedule=st.one_of(st.none(), st.just(lambda e: 1.0), junk), plot=st.one_of(st.booleans(), junk))
def test_trainer_checks_its_arguments(max_epochs, gradient_clip_val, num_gpus, device, lr_schedule, plot):
    attempt(d2l.Trainer, max_epochs=max_epochs, gradient_clip_val=gradient_clip_val, num_gpus=num_gpus, device=device,
            lr_schedule=lr_schedule, plot=plot)


class Tiny:
    """Four batches of a periodic sequence over V tokens, with a vocabulary."""

    vocab = VOCAB

    def __init__(self):
        seq = torch.arange(33) % V
        self.X, self.Y = seq[:-1].reshape(1, -1), seq[1:].reshape(1, -1)

    def train_dataloader(self):
        return iter([(self.X, self.Y)])

    def val_dataloader(self):
        return iter([(self.X, self.Y)])


@given(model=st.sampled_from(["scratch", "concise", "linear", "none"]), data=st.sampled_from(["tiny", "none", "list"]),
       schedule=st.sampled_from([1.0, -1.0, math.nan, "1"]))
@settings(max_examples=12)
def test_fit_checks_model_data_and_schedule(model, data, schedule):
    models = {"scratch": scratch_lm, "concise": concise_lm, "linear": lambda: torch.nn.Linear(2, 2),
              "none": lambda: None}
    datas = {"tiny": Tiny(), "none": None, "list": [1, 2]}
    trainer = d2l.Trainer(max_epochs=1, device="cpu", plot=False, lr_schedule=lambda e: schedule)
    lm = models[model]()
    result, error = attempt(trainer.fit, lm, datas[data])
    assert (error is None) == (model in ("scratch", "concise") and data == "tiny" and schedule == 1.0)
    if error is None:
        assert lm.vocab is VOCAB


# Widgets and the playground ------------------------------------------------------------------------------

@given(values=st.lists(st.integers(-3, 3), min_size=1, max_size=4, unique=True))
@settings(max_examples=15)
def test_explore_names_the_value_at_which_the_function_failed(values):
    def func(k):
        return f"1/k = {1 / k}"

    _, error = attempt(d2l.explore, func, "k", values)
    assert (error is None) == (0 not in values)
    if error is not None:
        assert "k = 0" in str(error) and isinstance(error.__cause__, ZeroDivisionError)


@given(vocab=st.sampled_from(["same", "shuffled", "smaller", "words", "none"]), trained=st.booleans())
@settings(max_examples=15)
def test_export_model_refuses_a_vocabulary_that_is_not_the_models(vocab, trained):
    vocabs = {"same": VOCAB, "shuffled": d2l.Vocab(list("abcdf")), "smaller": d2l.Vocab(list("ab")),
              "words": d2l.Vocab(["one", "two", "three", "four", "five"]), "none": None}
    model = scratch_lm()
    if trained:
        model.vocab = VOCAB
    _, error = attempt(d2l.export_model, model, vocabs[vocab])
    assert (error is None) == (vocab == "same" or (vocab == "shuffled" and not trained))
    _, error = attempt(d2l.playground, model, vocabs[vocab])
    assert (error is None) == (vocab == "same" or (vocab == "shuffled" and not trained))


# State survives failure -----------------------------------------------------------------------------------

@given(training=st.booleans(), fails=st.booleans())
@settings(max_examples=8)
def test_eval_mode_restores_the_mode_after_an_error(training, fails):
    model = scratch_lm().train(training)
    with pytest.raises(RuntimeError) if fails else eval_mode(model):
        with eval_mode(model):
            assert not model.training
            if fails:
                raise RuntimeError("inside")
    assert model.training == training


# Data ----------------------------------------------------------------------------------------------------

@given(length=sizes, num_steps=sizes, offset=sizes)
def test_partition_starts_are_in_range(length, num_steps, offset):
    result, error = attempt(d2l.partition_starts, length, num_steps, offset)
    if error is None:
        assert ((result >= offset) & (result + num_steps < length)).all() and (torch.diff(result) == num_steps).all()


@given(T=sizes, omega=reals, sigma=reals, seed=sizes)
@settings(max_examples=25)
def test_noisy_sine_checks_its_arguments(T, omega, sigma, seed):
    result, error = attempt(d2l.noisy_sine, T, omega, sigma, seed)
    if error is None:
        assert all(len(part) == T for part in result) and torch.isfinite(result[2]).all()


# Arguments of train_forecasters that are fine, and a bad value for one of them (or none).
not_a_seed_list = junk.filter(lambda v: not (isinstance(v, list) and v == [1, 2]))  # [1, 2] is a fine list of seeds
not_a_rate = junk.filter(lambda v: not (type(v) is float and math.isfinite(v) and v > 0))  # a finite float > 0 is fine
FORECASTER_BAD = {"seeds": st.one_of(st.just([]), st.just([0, -1]), st.just(3), not_a_seed_list),
                  "num_hiddens": st.one_of(st.integers(-2, 0), junk), "batch_size": st.one_of(st.just(0), junk),
                  "num_steps": st.integers(30, 40), "warmup": st.one_of(st.integers(-3, -1), st.just(50), junk),
                  "lr": st.one_of(st.sampled_from([0.0, -0.1, math.nan]), not_a_rate),
                  "clip": st.one_of(st.sampled_from([0.0, math.inf]), not_a_rate)}


@given(seeds=st.lists(st.integers(0, 5), min_size=1, max_size=3), num_hiddens=st.integers(1, 4),
       batch_size=st.integers(1, 4), num_steps=st.integers(1, 12), warmup_share=st.floats(0, 0.99),
       lr=st.sampled_from([0.01, 0.1]), clip=st.sampled_from([0.05, 1.0]),
       broken=st.one_of(st.none(), st.sampled_from(sorted(FORECASTER_BAD))), data=st.data())
@settings(max_examples=25)
def test_train_forecasters_equals_the_one_model_loop_or_says_what_was_wrong(seeds, num_hiddens, batch_size, num_steps,
                                                                             warmup_share, lr, clip, broken, data):
    from test_sequence import _train_one_at_a_time  # the page's loop, one model at a time

    x = torch.sin(torch.arange(30, dtype=torch.float64))  # 30 values: num_steps up to 29 fits
    args = {"seeds": seeds, "num_hiddens": num_hiddens, "batch_size": batch_size, "num_steps": num_steps,
            "warmup": int(warmup_share * num_steps), "lr": lr, "clip": clip}
    if broken is not None:
        args[broken] = data.draw(FORECASTER_BAD[broken], label=broken)
    trained, error = attempt(d2l.train_forecasters, x, steps=2, **args)
    assert (error is None) == (broken is None), error  # every bad value is refused, every good set trains
    if error is None:
        models, losses = trained
        seeds = args.pop("seeds")
        for model, seed, batched in zip(models, seeds, losses.T, strict=True):
            reference, reference_losses, _ = _train_one_at_a_time(x, seed, 2, **args)
            assert torch.allclose(batched, torch.tensor(reference_losses, dtype=torch.float64), rtol=0, atol=1e-10)
            for got, expected in zip(model.parameters(), reference.parameters()):
                assert torch.allclose(got, expected, rtol=0, atol=1e-10)


@given(batch_size=sizes, num_steps=st.one_of(st.integers(-1, 5000), junk), val_fraction=reals,
       partition=st.one_of(st.sampled_from(["random", "sequential", "Random"]), junk))
@settings(max_examples=15)
def test_timemachine_checks_its_arguments(batch_size, num_steps, val_fraction, partition, time_machine_available):
    attempt(d2l.TimeMachine, batch_size, num_steps, val_fraction=val_fraction, partition=partition)


# N-gram models (the documented behaviour of NGramLM) ------------------------------------------------------

@given(order=sizes, vocab_size=sizes, alpha=reals, smoothing=st.one_of(st.sampled_from(["add-alpha", "kneser-ney",
       "laplace"]), junk), discount=reals)
def test_ngram_constructor_accepts_the_documented_ranges(order, vocab_size, alpha, smoothing, discount):
    _, error = attempt(d2l.NGramLM, order, vocab_size, alpha=alpha, smoothing=smoothing, discount=discount)
    ok = all(type(n) is int and n >= 1 for n in (order, vocab_size)) and smoothing in ("add-alpha", "kneser-ney") \
        and all(type(x) in (int, float) and math.isfinite(x) for x in (alpha, discount)) and alpha >= 0 \
        and 0 < discount <= 1
    assert (error is None) == ok, error


@given(tokens=st.lists(st.integers(-2, V + 2), min_size=1, max_size=30), order=st.integers(1, 4),
       smoothing=st.sampled_from(["add-alpha", "kneser-ney"]), token=st.one_of(st.integers(-2, V + 2), junk))
def test_ngram_fit_and_prob_take_ids_in_range(tokens, order, smoothing, token):
    model = d2l.NGramLM(order, V, alpha=0.5, smoothing=smoothing)
    fitted, error = attempt(model.fit, tokens)
    assert (error is None) == all(0 <= t < V for t in tokens)
    if error is None:
        p, error = attempt(model.prob, tokens[:order - 1], token)
        if type(token) is int and 0 <= token < V:
            assert error is None and 0 < p <= 1
        else:
            assert error is not None
