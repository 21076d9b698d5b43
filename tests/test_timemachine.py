"""Preprocessing, the train/validation/test split, random and sequential partitioning of The Time Machine."""

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


def test_three_way_split_covers_the_book_in_order_with_no_overlap(data):
    n = len(data.corpus)
    a, b = len(data.train_corpus), len(data.train_corpus) + len(data.val_corpus)
    assert (a, b) == (int(n * (1 - 0.1 - 0.1)), int(n * (1 - 0.1)))  # the cut points the docstring states
    assert (a, b - a, n - b) == (138_742, 17_343, 17_343)
    assert b + len(data.test_corpus) == n
    assert data.train_corpus.tolist() == data.corpus[:a]   # book order: train, then validation, then test
    assert data.val_corpus.tolist() == data.corpus[a:b]
    assert data.test_corpus.tolist() == data.corpus[b:]
    assert all(part.dtype == torch.long for part in (data.train_corpus, data.val_corpus, data.test_corpus))


def test_test_fraction_zero_is_the_two_way_split(time_machine_available):
    two = d2l.TimeMachine(batch_size=8, num_steps=10, test_fraction=0)
    n = len(two.corpus)
    assert len(two.train_corpus) == int(0.9 * n) and len(two.val_corpus) == n - int(0.9 * n)
    assert len(two.test_corpus) == 0 and two.test_corpus.dtype == torch.long
    with pytest.raises(ValueError, match="no test part"):
        two.test_dataloader()


def positions(data, length):
    """A copy of the data whose corpora hold their own positions, so batches show where they came from."""
    data = copy.copy(data)
    data.train_corpus = torch.arange(length)
    data.val_corpus = torch.arange(length)
    data.test_corpus = torch.arange(length)
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


def test_test_part_streams_exactly_like_validation(data):
    data = positions(data, 1003)
    data.test_corpus = torch.arange(5000, 6003)
    batches = list(data.test_dataloader())
    assert [x.shape for x, _ in batches] == [x.shape for x, _ in data.val_dataloader()]  # (8, 125), (1, 2)
    targets = torch.cat([y.flatten() for _, y in batches])
    assert targets.tolist() == list(range(5001, 6003))  # every test character after the first, once, in order
    assert torch.equal(targets, torch.cat([x.flatten() for x, _ in batches]) + 1)


def test_real_test_part_is_predicted_once(data):
    targets = torch.cat([y.flatten() for _, y in data.test_dataloader()])
    assert torch.equal(targets, data.test_corpus[1:])


@pytest.fixture(scope="module")
def sequential(time_machine_available):
    return d2l.TimeMachine(batch_size=4, num_steps=5, partition="sequential")


def test_sequential_batches_continue_row_by_row(sequential):
    data = positions(sequential, 1000)
    batches = list(data.train_dataloader(torch.Generator().manual_seed(1)))
    assert all(x.shape == (4, 5) and torch.equal(y, x + 1) for x, y in batches)
    for (x, _), (x_next, _) in zip(batches, batches[1:]):
        assert torch.equal(x_next[:, 0], x[:, -1] + 1)  # row i of batch k + 1 starts where row i of batch k ended
    X = torch.cat([x for x, _ in batches], dim=1)        # (4, steps): each row one contiguous stream
    assert torch.equal(X[:, 1:], X[:, :-1] + 1)
    offset, stream = int(X[0, 0]), (1000 - int(X[0, 0]) - 1) // 4
    assert offset < 5                                     # the offset is below num_steps
    assert X[:, 0].tolist() == [offset + i * stream for i in range(4)]  # back-to-back streams, no overlap
    assert X.shape[1] == stream - stream % 5              # each stream walked to its last full window
    runs = [[x.tolist() for x, _ in data.train_dataloader(torch.Generator().manual_seed(1))] for _ in range(2)]
    assert runs[0] == runs[1] == [x.tolist() for x, _ in batches]
    torch.manual_seed(0)
    assert len({int(next(data.train_dataloader())[0][0, 0]) for _ in range(30)}) > 1  # a fresh offset per epoch


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0, "num_steps": 5}, "batch_size"),
    ({"batch_size": 2, "num_steps": -1}, "num_steps"),
    ({"batch_size": 2, "num_steps": 2.5}, "num_steps"),
    ({"batch_size": 2, "num_steps": 5, "val_fraction": 1.5}, "val_fraction"),
    ({"batch_size": 2, "num_steps": 50_000}, "too large"),
    ({"batch_size": 2, "num_steps": 5, "val_streams": 0}, "val_streams"),
    ({"batch_size": 2, "num_steps": 5, "val_fraction": 0}, "val_fraction"),
    ({"batch_size": 2, "num_steps": 5, "val_fraction": True}, "val_fraction"),
    ({"batch_size": 2, "num_steps": 5, "test_fraction": -0.1}, "test_fraction"),
    ({"batch_size": 2, "num_steps": 5, "test_fraction": float("nan")}, "test_fraction"),
    ({"batch_size": 2, "num_steps": 5, "val_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
    ({"batch_size": 2, "num_steps": 5, "test_fraction": 0.00001}, "test part"),
    ({"batch_size": 2, "num_steps": 80_000, "test_fraction": 0.1}, "training part"),
    ({"batch_size": 8_000, "num_steps": 20, "partition": "sequential"}, "training part"),
    ({"batch_size": 2, "num_steps": 5, "partition": "shuffled"}, "partition"),
])
def test_bad_arguments_are_clear_errors(time_machine_available, kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l.TimeMachine(**kwargs)


def test_tokenize():
    assert d2l.tokenize("ab c", "char") == ["a", "b", " ", "c"]
    assert d2l.tokenize("ab c", "word") == ["ab", "c"]
    with pytest.raises(ValueError, match="'char' or 'word'"):
        d2l.tokenize("ab", "byte")
