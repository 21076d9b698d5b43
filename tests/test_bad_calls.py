"""The bad calls of issue 18, and more: each gives an error that names the argument, what was expected and the fix.

``BAD_CALLS`` is the list; run this file as a script to print each call with the error it now gives.
"""

import math

import pytest
import torch

import d2lmini as d2l

V, H = 28, 8
VOCAB = d2l.Vocab(list("abcdefghijklmnopqrstuvwxyz "))  # 26 letters, space and <unk>: 28 tokens
assert len(VOCAB) == V


def scratch():
    torch.manual_seed(0)
    return d2l.RNNLMScratch(d2l.RNNScratch(V, H), V)


def concise():
    torch.manual_seed(0)
    return d2l.RNNLM(d2l.RNN(V, H), V)


def trained(model):
    model.vocab = VOCAB  # what Trainer.fit(model, data) leaves
    return model


class NoVal:
    def train_dataloader(self):
        return iter([])


OTHER_VOCAB = d2l.Vocab(list("abcdefghijklmnopqrstuvwxy .")).idx_to_token  # same size, other tokens
SAME_SIZE = d2l.Vocab(list("abcdefghijklmnopqrstuvwxy."))
SAME_SIZE.idx_to_token = OTHER_VOCAB
SAME_SIZE.token_to_idx = {t: i for i, t in enumerate(OTHER_VOCAB)}
assert len(SAME_SIZE) == V


SERIES = torch.zeros(100, dtype=torch.float64)  # 100 observations for train_forecasters


def raise_at_two(k):
    if k == 2:
        raise RuntimeError("boom")
    return "ok"


# (description, call, error type, regex the message must match)
BAD_CALLS = [
    # The examples.
    ("model(X) with an index >= V", lambda: scratch()(torch.tensor([[0, V + 3]])), IndexError,
     r"X holds the index 31, outside the vocabulary \[0, 28\)"),
    ("predict(None, 5, vocab)", lambda: scratch().predict(None, 5, VOCAB), TypeError, "prefix must be a str"),
    ("scratch model(X, state (1, B, H))", lambda: scratch()(torch.zeros(2, 3, dtype=torch.long), torch.zeros(1, 2, H)),
     ValueError, r"state has shape \(1, 2, 8\), expected \(2, 8\).*state\[0\]"),
    ("concise model(X, state (B, H))", lambda: concise()(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, H)),
     ValueError, r"state has shape \(2, 8\), expected \(1, 2, 8\).*state\[None\]"),
    ("RNNScratch(28, -3)", lambda: d2l.RNNScratch(28, -3), ValueError, "num_hiddens must be a positive integer"),
    ("RNNScratch(0, 8)", lambda: d2l.RNNScratch(0, 8), ValueError, "num_inputs must be a positive integer"),
    ("sample(NaN logits, 1.0)", lambda: d2l.sample(torch.tensor([0.0, math.nan]), 1.0), ValueError, "finite"),
    ("sample(NaN logits, 0) (greedy)", lambda: d2l.sample(torch.tensor([math.nan, 1.0]), 0), ValueError, "finite"),
    ("sample(logits, 1e-40)", lambda: d2l.sample(torch.tensor([0.0, 5.0]), 1e-40), ValueError,
     "so small that logits / temperature overflows"),
    ("Trainer(max_epochs=1, gradient_clip_val='1')", lambda: d2l.Trainer(max_epochs=1, gradient_clip_val="1"),
     ValueError, r"gradient_clip_val must be a finite number >= 0, got '1' \(a str\)"),
    ("Trainer().fit(model, None)", lambda: d2l.Trainer(1, device="cpu", plot=False).fit(scratch(), None), TypeError,
     r"data must provide train_dataloader\(\) and val_dataloader\(\)"),
    ("copy_scratch_weights(concise, scratch)", lambda: d2l.copy_scratch_weights(concise(), scratch()), TypeError,
     "takes the RNNLMScratch over RNNScratch first"),
    ("predict with another vocabulary of the same size", lambda: trained(scratch()).predict("abc", 3, SAME_SIZE),
     ValueError, "not the vocabulary this model was trained with"),
    ("vocab.to_tokens(1.7)", lambda: VOCAB.to_tokens(1.7), TypeError, "never rounds"),
    ("explore(f) where f raises at 2", lambda: d2l.explore(raise_at_two, "k", [1, 2, 3]), ValueError,
     r"failed at k = 2 with RuntimeError: boom"),
    # More.
    ("RNNScratch(28, 8, sigma=-1)", lambda: d2l.RNNScratch(28, 8, sigma=-1), ValueError, "sigma must be"),
    ("RNN(28.0, 8)", lambda: d2l.RNN(28.0, 8), ValueError, "num_inputs must be a positive integer, got 28.0"),
    ("RNNLMScratch(RNNScratch(28, 8), 28, lr=0)", lambda: d2l.RNNLMScratch(d2l.RNNScratch(V, H), V, lr=0),
     ValueError, "lr must be a finite number > 0"),
    ("RNNLMScratch(nn.GRU(28, 8), 28)", lambda: d2l.RNNLMScratch(torch.nn.GRU(V, H), V), TypeError,
     "rnn must be an RNN layer"),
    ("RNNLMScratch(..., optimizer='SGD')", lambda: d2l.RNNLMScratch(d2l.RNNScratch(V, H), V, optimizer="SGD"),
     ValueError, "optimizer must be one of 'sgd', 'adam'"),
    ("model(X) with float X", lambda: scratch()(torch.zeros(2, 3)), TypeError, r"integer token indices.*\.long\(\)"),
    ("model(X) with 1-D X", lambda: scratch()(torch.zeros(3, dtype=torch.long)), ValueError, r"X\[None\]"),
    ("model(X) with an empty X", lambda: scratch()(torch.zeros(2, 0, dtype=torch.long)), ValueError, "empty"),
    ("model(X) with a list", lambda: scratch()([[1, 2]]), TypeError, "torch tensor of token indices"),
    ("layer(inputs) with batch-major one-hot", lambda: d2l.RNNScratch(V, H)(torch.zeros(3, 5, 4)), ValueError,
     r"inputs must have shape \(T, B, 28\)"),
    ("layer(float64 inputs) on float32 weights", lambda: d2l.RNN(V, H)(torch.zeros(3, 2, V, dtype=torch.float64)),
     ValueError, "dtype torch.float64 but the layer's weights torch.float32"),
    ("model.loss(logits, Y >= V)", lambda: scratch().loss(torch.zeros(1, 2, V), torch.tensor([[0, 40]])),
     IndexError, "Y holds the index 40"),
    ("predict('abc', 5, vocab, temperature=-1)", lambda: scratch().predict("abc", 5, VOCAB, temperature=-1),
     ValueError, "temperature must be a finite number >= 0"),
    ("predict('abc', 5, vocab, top_k=0, temperature=1)", lambda: scratch().predict("abc", 5, VOCAB, top_k=0,
                                                                                 temperature=1), ValueError, "top_k"),
    ("predict('abc', 2.5, vocab)", lambda: scratch().predict("abc", 2.5, VOCAB), ValueError, "num_preds"),
    ("predict('abc', 5, Vocab of 5 tokens)", lambda: scratch().predict("abc", 5, d2l.Vocab(list("abcd"))), ValueError,
     "vocab has 5 tokens but the model predicts 28"),
    ("predict('abc', 5, data) (not a Vocab)", lambda: scratch().predict("abc", 5, "abc"), TypeError,
     "vocab must be the d2lmini Vocab"),
    ("predict('abc', 5, vocab, generator=0)", lambda: scratch().predict("abc", 5, VOCAB, generator=0), TypeError,
     "generator must be a torch.Generator"),
    ("predict('abc', 5, vocab, device='gpu')", lambda: scratch().predict("abc", 5, VOCAB, device="gpu"), ValueError,
     "device must be a torch.device"),
    ("next_token_probs('hello')", lambda: scratch().next_token_probs("hello"), TypeError, r"vocab\[list\(text\)\]"),
    ("next_token_probs([1, 99])", lambda: scratch().next_token_probs([1, 99]), IndexError, "index 99"),
    ("next_token_probs([1.5, 2.0])", lambda: scratch().next_token_probs([1.5, 2.0]), TypeError, "integer token"),
    ("next_token_probs([1, 2], start=2)", lambda: scratch().next_token_probs([1, 2], start=2), ValueError,
     "start must be an integer between 1 and 1"),
    ("sample(logits, 1.0, top_k=1.5)", lambda: d2l.sample(torch.zeros(4), 1.0, top_k=1.5), ValueError, "top_k"),
    ("sample([0.1, 0.9], 1.0) (a list)", lambda: d2l.sample([0.1, 0.9], 1.0), TypeError, "float tensor"),
    ("sample(+inf logits, 1.0)", lambda: d2l.sample(torch.tensor([0.0, math.inf]), 1.0), ValueError, "finite"),
    ("Vocab(reserved_tokens='<pad>')", lambda: d2l.Vocab(list("ab"), reserved_tokens="<pad>"), TypeError,
     r"reserved_tokens=\['<pad>'\]"),
    ("Vocab(None)", lambda: d2l.Vocab(None), TypeError, "iterables of tokens"),
    ("Vocab([[['a']]]) (nested too deep)", lambda: d2l.Vocab([[["a"]]]), TypeError, "hashable"),
    ("Vocab(tokens, min_freq=-1)", lambda: d2l.Vocab(["a"], min_freq=-1), ValueError, "min_freq"),
    ("vocab.to_tokens(28)", lambda: VOCAB.to_tokens(28), IndexError, r"outside \[0, 28\)"),
    ("vocab.to_tokens([0, True])", lambda: VOCAB.to_tokens([0, True]), TypeError, "a bool"),
    ("preprocess(None)", lambda: d2l.preprocess(None), TypeError, "preprocess takes a str"),
    ("preprocess(b'bytes')", lambda: d2l.preprocess(b"abc"), TypeError, "decode"),
    ("Trainer(1, device='gpu')", lambda: d2l.Trainer(1, device="gpu"), ValueError, "device must be a torch.device"),
    ("Trainer(1, lr_schedule=0.1)", lambda: d2l.Trainer(1, lr_schedule=0.1), TypeError,
     "lr_schedule must be a function"),
    ("Trainer(1, plot='no')", lambda: d2l.Trainer(1, plot="no"), TypeError, "plot must be True or False"),
    ("Trainer().fit(nn.Linear, data)", lambda: d2l.Trainer(1, device="cpu", plot=False).fit(
        torch.nn.Linear(2, 2), None), TypeError, "without loss, configure_optimizers"),
    ("Trainer().fit(model, data without val_dataloader)", lambda: d2l.Trainer(1, device="cpu", plot=False).fit(
        scratch(), NoVal()), TypeError, "without val_dataloader"),
    ("perplexity(model, data.val_dataloader) (not called)", lambda: d2l.perplexity(scratch(), NoVal().train_dataloader),
     TypeError, r"call the method"),
    ("copy_scratch_weights(scratch, scratch)", lambda: d2l.copy_scratch_weights(scratch(), scratch()), TypeError,
     "the second argument is a RNNLMScratch over RNNScratch"),
    ("copy_scratch_weights of other sizes", lambda: d2l.copy_scratch_weights(scratch(), d2l.RNNLM(d2l.RNN(V, 9), V)),
     ValueError, "differ in size"),
    ("export_model(model, another vocabulary of the same size)", lambda: d2l.export_model(trained(scratch()),
                                                                                         SAME_SIZE),
     ValueError, "not the vocabulary this model was trained with"),
    ("playground(model, another vocabulary of the same size)", lambda: d2l.playground(trained(scratch()), SAME_SIZE),
     ValueError, "not the vocabulary this model was trained with"),
    ("playground(model, vocab, prefix=None)", lambda: d2l.playground(scratch(), VOCAB, prefix=None), TypeError,
     "prefix must be a str"),
    ("explore(f, 'k', 5) (values not a list)", lambda: d2l.explore(str, "k", 5), TypeError, "values must be a list"),
    ("explore('f', 'k', [1])", lambda: d2l.explore("f", "k", [1]), TypeError, "func must be a function"),
    ("temperature_explorer(model, None, vocab, [1])", lambda: d2l.temperature_explorer(scratch(), None, VOCAB, [1.0]),
     TypeError, "prefix must be a str"),
    ("partition_starts(100, 0, 0)", lambda: d2l.partition_starts(100, 0, 0), ValueError, "num_steps"),
    ("noisy_sine(sigma='0.2')", lambda: d2l.noisy_sine(sigma="0.2"), ValueError, "sigma must be a finite number"),
    ("lag_features([1.0, 2.0], 1) (a list)", lambda: d2l.lag_features([1.0, 2.0], 1), TypeError, "float tensor"),
    ("train_forecasters(x, 0) (one seed, not a list)", lambda: d2l.train_forecasters(SERIES, 0), TypeError,
     r"seeds must be a list of integer seeds, one per model, e\.g\. \[0, 1, 2\]"),
    ("train_forecasters(100 values, [0], num_steps=100)", lambda: d2l.train_forecasters(SERIES, [0], num_steps=100),
     ValueError, r"num_steps must be below len\(x\) = 100.*smaller num_steps"),
    ("train_forecasters(x, [0], warmup=64)", lambda: d2l.train_forecasters(SERIES, [0], warmup=64), ValueError,
     "warmup must be an integer between 0 and 63, got 64"),
    ("load_study('seeds.json')", lambda: d2l.load_study("seeds.json"), ValueError, "stem"),
    ("load_study(None)", lambda: d2l.load_study(None), TypeError, "as a str"),
]


@pytest.mark.parametrize("description, call, error, match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_call_gives_a_clear_error(description, call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call", [
    lambda m: m.predict("abc", 5, d2l.Vocab(list("ab"))),
    lambda m: m.predict("abc", 5, VOCAB, temperature=float("nan")),
    lambda m: m.next_token_probs([0, 99]),
    lambda m: m.next_token_probs([0, 1], start=5),
    lambda m: d2l.perplexity(m, iter([(torch.zeros(1, 2, dtype=torch.long), torch.tensor([[0, 99]]))])),
])
@pytest.mark.parametrize("training", [True, False])
def test_a_failing_call_leaves_the_mode_as_it_was(call, training):
    model = scratch().train(training)
    with pytest.raises((ValueError, TypeError, IndexError)):
        call(model)
    assert model.training == training


def test_fit_remembers_the_vocabulary_and_predict_refuses_another():
    class Data:
        vocab = VOCAB

        def train_dataloader(self):
            return iter([(torch.tensor([[1, 2, 3]]), torch.tensor([[2, 3, 4]]))])

        val_dataloader = train_dataloader

    model = scratch()
    d2l.Trainer(1, device="cpu", plot=False).fit(model, Data())
    assert model.vocab is VOCAB and model.predict("ab", 2, VOCAB).startswith("ab")
    with pytest.raises(ValueError, match="index 1 is '.' here but '<unk>' in training"):
        model.predict("ab", 2, SAME_SIZE)
    other = Data()
    other.vocab = SAME_SIZE
    with pytest.raises(ValueError, match="data.vocab is not the vocabulary this model was trained with"):
        d2l.Trainer(1, device="cpu", plot=False).fit(model, other)


if __name__ == "__main__":
    for description, call, _, _ in BAD_CALLS:
        try:
            call()
            print(f"{description}: NO ERROR")
        except Exception as exc:  # noqa: BLE001 - we print whatever comes
            print(f"{description} -> {type(exc).__name__}: {exc}")
