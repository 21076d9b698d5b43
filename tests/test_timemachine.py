"""Preprocessing, the train/validation split and random partitioning of The Time Machine."""

import copy

import pytest
import torch

import d2lmini as d2l


@pytest.fixture(scope="module")
def data(time_machine_available):
    return d2l.TimeMachine(batch_size=8, num_steps=10)


def test_preprocessing_and_vocabulary(data):
    assert d2l.preprocess("Hello,  World!\n2nd") == "hello world nd"
    assert len(data.text) == 173_428
    assert len(data.vocab) == 28 and "<unk>" in data.vocab
    assert len(set(data.text)) == 27
    assert len(data.corpus) == len(data.text)
    assert data.vocab.to_tokens(data.corpus[:5]) == list(data.text[:5])


def test_split_uses_the_whole_book_with_no_overlap(data):
    n_train = len(data.train_corpus)
    assert n_train + len(data.val_corpus) == len(data.corpus)
    assert n_train == int(0.9 * len(data.corpus))
    assert data.train_corpus.tolist() == data.corpus[:n_train]
    assert data.val_corpus.tolist() == data.corpus[n_train:]


def positions(data, length):
    """A copy of the data whose corpora hold their own positions, so batches show where they came from."""
    data = copy.copy(data)
    data.train_corpus = torch.arange(length)
    data.val_corpus = torch.arange(length)
    return data


def test_one_epoch_is_non_overlapping_shifted_subsequences(data):
    data = positions(data, 1000)
    batches = list(data.train_dataloader())
    X = torch.cat([x for x, _ in batches])
    Y = torch.cat([y for _, y in batches])
    assert all(x.shape[1] == 10 for x, _ in batches) and all(len(x) <= 8 for x, _ in batches)
    assert torch.equal(Y, X + 1)                      # targets are the inputs shifted by one
    assert torch.equal(X[:, 1:], X[:, :-1] + 1)       # each row is a contiguous stretch
    starts = X[:, 0].sort().values
    assert int(starts[0]) < 10                        # the offset is below num_steps
    assert torch.all(starts.diff() == 10)             # back to back, never overlapping
    assert len(starts) >= (1000 - 10) // 10 - 1       # the whole corpus after the offset is used
    assert int(Y.max()) < 1000


def test_every_training_character_is_reachable_across_epochs(data):
    data = positions(data, 1000)
    torch.manual_seed(0)
    seen, offsets = set(), set()
    for _ in range(60):
        for X, Y in data.train_dataloader():
            seen.update(X.flatten().tolist())
            seen.update(Y.flatten().tolist())
        offsets.add(int(X[:, 0].min()) % 10)
    assert seen == set(range(1000))
    assert len(offsets) > 1  # a fresh offset is drawn every epoch


def test_order_is_reproducible_with_a_generator(data):
    data = positions(data, 1000)
    runs = [[x.tolist() for x, _ in data.train_dataloader(torch.Generator().manual_seed(3))] for _ in range(2)]
    assert runs[0] == runs[1]


def test_validation_predicts_every_character_once_as_continuous_text(data):
    data = positions(data, 1003)
    batches = list(data.val_dataloader())
    targets = torch.cat([y.flatten() for _, y in batches])
    inputs = torch.cat([x.flatten() for x, _ in batches])
    assert targets.tolist() == list(range(1, 1003))  # in reading order, each once
    assert torch.equal(targets, inputs + 1)
    first = batches[0][0]
    assert first.shape == (8, 1002 // 8)  # val_streams long rows: few cold starts
    assert torch.equal(first[:, 1:], first[:, :-1] + 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0, "num_steps": 5}, "batch_size"),
    ({"batch_size": 2, "num_steps": -1}, "num_steps"),
    ({"batch_size": 2, "num_steps": 2.5}, "num_steps"),
    ({"batch_size": 2, "num_steps": 5, "val_fraction": 1.5}, "val_fraction"),
    ({"batch_size": 2, "num_steps": 50_000}, "too large"),
    ({"batch_size": 2, "num_steps": 5, "val_streams": 0}, "val_streams"),
])
def test_bad_arguments_are_clear_errors(time_machine_available, kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l.TimeMachine(**kwargs)


def test_tokenize():
    assert d2l.tokenize("ab c", "char") == ["a", "b", " ", "c"]
    assert d2l.tokenize("ab c", "word") == ["ab", "c"]
    with pytest.raises(ValueError, match="'char' or 'word'"):
        d2l.tokenize("ab", "byte")
