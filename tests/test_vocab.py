import pytest
import torch

from d2lmini import Vocab


def test_index_order_is_sorted_set_of_unk_reserved_and_frequent_tokens():
    vocab = Vocab(list("abbccc"), min_freq=2, reserved_tokens=["<pad>"])
    assert vocab.idx_to_token == ["<pad>", "<unk>", "b", "c"]
    assert len(vocab) == 4
    assert vocab.token_freqs == [("c", 3), ("b", 2), ("a", 1)]


def test_lookup_of_tokens_lists_and_unknowns():
    vocab = Vocab("the time machine the".split())
    assert vocab["the"] == vocab.token_to_idx["the"]
    assert vocab["zebra"] == vocab.unk == vocab.token_to_idx["<unk>"]
    assert vocab[["time", "zebra"]] == [vocab["time"], vocab.unk]
    assert vocab[("the",)] == [vocab["the"]]


def test_to_tokens_handles_ints_lists_one_element_lists_and_tensors():
    vocab = Vocab(list("hello"))
    i = vocab["l"]
    assert vocab.to_tokens(i) == "l"
    assert vocab.to_tokens([i]) == ["l"]  # d2l crashes here
    assert vocab.to_tokens([i, vocab["h"]]) == ["l", "h"]
    assert vocab.to_tokens(torch.tensor([i, i])) == ["l", "l"]
    assert vocab.to_tokens(torch.tensor(i)) == "l"


def test_to_tokens_out_of_range_is_a_clear_error():
    with pytest.raises(IndexError, match=r"outside \[0, "):
        Vocab(list("ab")).to_tokens(7)


def test_nested_token_lists_are_flattened_and_empty_vocab_has_unk():
    assert Vocab([["a", "b"], ["b"]]).token_freqs == [("b", 2), ("a", 1)]
    empty = Vocab()
    assert empty.idx_to_token == ["<unk>"] and empty["anything"] == 0


def test_tuples_are_tokens_and_strings_are_not_indices():
    bigrams = Vocab([("the", "time"), ("the", "time"), ("time", "machine")])
    assert bigrams.token_freqs[0] == (("the", "time"), 2) and len(bigrams) == 3
    with pytest.raises(TypeError, match="vocab\\[token\\]"):
        Vocab(list("ab")).to_tokens("ab")


def test_a_tuple_that_is_a_token_is_looked_up_as_one_token():
    pairs = [("the", "time"), ("time", "machine"), ("the", "time")]
    bigrams = Vocab(pairs)
    assert bigrams[("the", "time")] == bigrams.token_to_idx[("the", "time")]
    assert isinstance(bigrams[("the", "time")], int)
    assert bigrams[pairs] == [bigrams.token_to_idx[p] for p in pairs]  # a list of bigrams maps elementwise
    assert bigrams[("no", "such")] == [bigrams.unk, bigrams.unk]       # not a token: element by element
    words = Vocab("the time machine".split())
    assert words[("the", "time")] == [words["the"], words["time"]]     # d2l's behaviour for word vocabularies
