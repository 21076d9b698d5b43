"""n-gram counts and smoothed probabilities (add-alpha and Kneser-Ney), checked against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from d2lmini import NGramLM, count_ngrams

# "abab a": tokens a=0, b=1, space=2
TOKENS = [0, 1, 0, 1, 2, 0]


def test_counts_by_hand():
    lm = NGramLM(2, vocab_size=3, alpha=0).fit(TOKENS)
    assert lm.counts[1] == {(0,): 3, (1,): 2, (2,): 1}
    assert lm.counts[2] == {(0, 1): 2, (1, 0): 1, (1, 2): 1, (2, 0): 1}
    assert lm.contexts[2] == {(0,): 2, (1,): 2, (2,): 1}  # the last 'a' is followed by nothing


def test_maximum_likelihood_and_laplace_probabilities():
    mle = NGramLM(2, 3, alpha=0).fit(TOKENS)
    assert mle.prob([0], 1) == 1.0
    assert mle.prob([1], 0) == 0.5
    laplace = NGramLM(2, 3, alpha=1).fit(TOKENS)
    assert laplace.prob([0], 1) == pytest.approx((2 + 1) / (2 + 3))
    assert laplace.prob([0], 2) == pytest.approx(1 / 5)
    assert sum(laplace.prob([1], w) for w in range(3)) == pytest.approx(1.0)
    assert laplace.prob([9, 9, 1], 0) == laplace.prob([1], 0)  # only the last order-1 tokens count


def test_short_context_falls_back_to_lower_order():
    lm = NGramLM(3, 3, alpha=1).fit(TOKENS)
    assert lm.prob([], 0) == pytest.approx((3 + 1) / (6 + 3))  # unigram
    assert lm.prob([0], 1) == pytest.approx((2 + 1) / (2 + 3))  # bigram


def test_perplexity_by_hand():
    lm = NGramLM(1, 3, alpha=0).fit(TOKENS)
    # scores tokens[1:] = b a b _ a with unigram probabilities 2/6, 3/6, 2/6, 1/6, 3/6
    probs = [2 / 6, 3 / 6, 2 / 6, 1 / 6, 3 / 6]
    expected = math.exp(-sum(math.log(p) for p in probs) / 5)
    assert lm.perplexity(TOKENS) == pytest.approx(expected)


def test_uniform_limit_and_errors():
    huge_alpha = NGramLM(2, 3, alpha=1e9).fit(TOKENS)
    assert huge_alpha.perplexity(TOKENS) == pytest.approx(3, rel=1e-6)
    with pytest.raises(ValueError, match="probability 0"):
        NGramLM(1, 4, alpha=0).fit(TOKENS).perplexity([0, 3])
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(2, 3).prob([0], 1)
    with pytest.raises(ValueError, match="order"):
        NGramLM(0, 3)
    with pytest.raises(ValueError, match="alpha"):
        NGramLM(2, 3, alpha=-1)


def test_count_ngrams_by_hand():
    assert count_ngrams(TOKENS, 2) == {(0, 1): 2, (1, 0): 1, (1, 2): 1, (2, 0): 1}
    assert count_ngrams("abab", 3) == {("a", "b", "a"): 1, ("b", "a", "b"): 1}
    assert count_ngrams(torch.tensor(TOKENS), 1) == {(0,): 3, (1,): 2, (2,): 1}  # tensors count as their values
    assert count_ngrams(TOKENS, 7) == {}  # shorter than n
    assert sum(count_ngrams(TOKENS, 3).values()) == len(TOKENS) - 2
    for n in (0, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            count_ngrams(TOKENS, n)


def test_kneser_ney_by_hand():
    """Order 3, D = 1/2, V = 3 on "abab a" (a=0, b=1, space=2); every number below is worked out by hand."""
    lm = NGramLM(3, 3, smoothing="kneser-ney", discount=0.5).fit(TOKENS)
    # Continuation counts (distinct tokens just before): unigrams a <- {b, space}: 2, b <- {a}: 1, space <- {b}: 1,
    # total 4, 3 types. P1(w) = (N(.w) - 1/2 + 1/2 * 3 * 1/3) / 4: a 2/4, b 1/4, space 1/4.
    assert lm.continuations[1] == {(0,): 2, (1,): 1, (2,): 1}
    # Bigrams (a b, b a, b space, space a) each have one distinct left neighbour; "a b" occurs twice but the first
    # one has nothing before it. Context b: total 2, 2 types; context space: total 1, 1 type.
    assert lm.continuations[2] == {(0, 1): 1, (1, 0): 1, (1, 2): 1, (2, 0): 1}
    # P2(. | b) = (N(b.) - 1/2 + 1/2 * 2 * P1) / 2: a (1/2 + 1/2) / 2 = 1/2, b (0 + 1/4) / 2 = 1/8,
    # space (1/2 + 1/4) / 2 = 3/8.
    # Trigram context "a b" is seen twice, followed by a and by space (2 types):
    # P3(. | a b) = (c - 1/2 + 1/2 * 2 * P2(. | b)) / 2: a (1/2 + 1/2) / 2 = 1/2, b (0 + 1/8) / 2 = 1/16,
    # space (1/2 + 3/8) / 2 = 7/16.
    assert [lm.prob([0, 1], w) for w in range(3)] == pytest.approx([1 / 2, 1 / 16, 7 / 16])
    # Context "space space" was never seen: back off fully to P2(. | space), whose only continuation is a (total 1):
    # a (1/2 + 1/2 * 1 * 1/2) / 1 = 3/4, b 1/2 * 1/4 = 1/8, space 1/2 * 1/4 = 1/8.
    assert [lm.prob([2, 2], w) for w in range(3)] == pytest.approx([3 / 4, 1 / 8, 1 / 8])
    # Only one token of context: the bigram model with raw counts at its top. Context a: raw "a b" twice, 1 type;
    # P1 from continuation counts as above: a (0 + 1/2 * 1/2) / 2 = 1/8, b (3/2 + 1/2 * 1/4) / 2 = 13/16,
    # space (1/2 * 1/4) / 2 = 1/16. Continuation counts at order 2 would give b only (1/2 + 1/8) / 1 = 5/8.
    assert [lm.prob([0], w) for w in range(3)] == pytest.approx([1 / 8, 13 / 16, 1 / 16])
    # No context: raw unigram counts a 3, b 2, space 1 (total 6, 3 types):
    # a (5/2 + 1/2) / 6 = 1/2, b (3/2 + 1/2) / 6 = 1/3, space (1/2 + 1/2) / 6 = 1/6.
    assert [lm.prob([], w) for w in range(3)] == pytest.approx([1 / 2, 1 / 3, 1 / 6])
    assert lm.probs([0, 1]) == pytest.approx([1 / 2, 1 / 16, 7 / 16])  # the vector agrees with prob


def test_short_kneser_ney_context_is_the_lower_order_model():
    tokens = np.random.default_rng(0).integers(0, 4, 300).tolist()
    high = NGramLM(4, 5, smoothing="kneser-ney").fit(tokens)
    for k in range(3):
        low = NGramLM(k + 1, 5, smoothing="kneser-ney").fit(tokens)
        context = tokens[:k]
        assert high.probs(context) == pytest.approx(low.probs(context))


@pytest.mark.parametrize("smoothing", ["add-alpha", "kneser-ney"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_probabilities_sum_to_one_for_every_context(smoothing, order):
    # V = 6 but token 5 never occurs; tokens 0..4 in a skewed random text.
    tokens = np.random.default_rng(order).choice(5, 400, p=[0.4, 0.3, 0.15, 0.1, 0.05]).tolist()
    lm = NGramLM(order, 6, smoothing=smoothing, alpha=0.5, discount=0.6).fit(tokens)
    contexts = [tokens[10:10 + order - 1],   # seen
                [5] * (order - 1),            # never seen (token 5 never occurs)
                [4, 4, 4, 4, 3, 5, 0],       # longer than order - 1: only the last tokens count
                tokens[:max(order - 2, 0)],  # short
                []]                          # empty
    for context in contexts:
        row = [lm.prob(context, w) for w in range(6)]
        assert sum(row) == pytest.approx(1.0)
        assert min(row) > 0
        assert lm.probs(context) == pytest.approx(row)


def test_next_token_probs_are_the_rows_that_perplexity_scores():
    tokens = np.random.default_rng(1).choice(4, 500, p=[0.5, 0.25, 0.15, 0.1]).tolist()
    held_out = np.random.default_rng(2).choice(4, 120, p=[0.5, 0.25, 0.15, 0.1]).tolist()
    for smoothing in ("add-alpha", "kneser-ney"):
        lm = NGramLM(4, 4, smoothing=smoothing).fit(tokens)
        rows = lm.next_token_probs(held_out)
        assert rows.shape == (119, 4)
        assert rows.sum(axis=1) == pytest.approx(np.ones(119))
        assert rows[0] == pytest.approx(lm.probs(held_out[:1]))
        assert rows[50] == pytest.approx(lm.probs(held_out[48:51]))  # tokens 48..50 predict token 51
        nll = -np.log(rows[np.arange(119), held_out[1:]]).mean()
        assert math.exp(nll) == pytest.approx(lm.perplexity(held_out))
        everything = lm.next_token_probs(torch.tensor(held_out), start=0)
        assert everything.shape == (120, 4) and everything[0] == pytest.approx(lm.probs([]))


def test_changing_smoothing_parameters_after_fit_resmooths():
    lm = NGramLM(3, 3, smoothing="kneser-ney", discount=0.5).fit(TOKENS)
    before = lm.probs([0, 1])
    lm.discount = 0.9
    assert not np.allclose(lm.probs([0, 1]), before)  # not a stale cached distribution
    assert lm.probs([0, 1]) == pytest.approx(NGramLM(3, 3, smoothing="kneser-ney", discount=0.9).fit(TOKENS)
                                             .probs([0, 1]))
    lm.smoothing, lm.alpha = "add-alpha", 1
    assert lm.probs([0, 1]) == pytest.approx([(1 + 1) / (2 + 3), 1 / 5, (1 + 1) / 5])


@pytest.mark.parametrize("kwargs, message", [
    ({"smoothing": "kn"}, "smoothing must be one of"),
    ({"smoothing": "kneser-ney", "discount": 0}, "discount"),
    ({"smoothing": "kneser-ney", "discount": 1}, "discount"),
    ({"smoothing": "kneser-ney", "discount": float("nan")}, "discount"),
    ({"alpha": float("inf")}, "alpha"),
    ({"alpha": "0.1"}, "alpha"),
])
def test_bad_smoothing_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NGramLM(3, 3, **kwargs)


def test_errors_of_fit_probs_and_next_token_probs():
    with pytest.raises(ValueError, match="vocab_size is 2"):
        NGramLM(2, 2).fit(TOKENS)
    chars = NGramLM(2, 3).fit("abab a")
    assert chars.prob("a", "b") == pytest.approx((2 + 0.1) / (2 + 0.3))  # prob works on any tokens
    with pytest.raises(ValueError, match="integer ids"):
        chars.probs("a")
    with pytest.raises(RuntimeError, match="fit"):
        NGramLM(2, 3).next_token_probs(TOKENS)
    with pytest.raises(ValueError, match="start"):
        NGramLM(2, 3).fit(TOKENS).next_token_probs(TOKENS, start=6)


@pytest.fixture(scope="module")
def book(time_machine_available):
    import d2lmini as d2l

    return d2l.TimeMachine(32, 32)  # 80/10/10


def test_time_machine_five_gram_baseline(book):
    lm = NGramLM(5, len(book.vocab), alpha=0.1).fit(book.train_corpus.tolist())
    assert 4.3 < lm.perplexity(book.val_corpus.tolist()) < 4.6  # 4.45 measured on the 80/10/10 split


@pytest.mark.parametrize("order", [5, 6, 7])
def test_kneser_ney_beats_add_alpha_on_the_book(book, order):
    train, val = book.train_corpus.tolist(), book.val_corpus.tolist()
    lm = NGramLM(order, len(book.vocab), alpha=0.1).fit(train)
    add_alpha = lm.perplexity(val)
    lm.smoothing = "kneser-ney"
    kneser_ney = lm.perplexity(val)
    print(f"order {order}: add-0.1 {add_alpha:.3f}, Kneser-Ney (D=0.75) {kneser_ney:.3f}")
    assert kneser_ney < add_alpha - 0.5  # measured: 3.78 vs 4.45, 3.63 vs 5.37, 3.65 vs 7.19
    assert 3.4 < kneser_ney < 4.0


def test_next_token_probs_on_the_book_reproduce_perplexity(book):
    # Its speed (distributions cached per context) is measured by `make bench`, not asserted here.
    val = book.val_corpus.tolist()
    lm = NGramLM(7, len(book.vocab), smoothing="kneser-ney").fit(book.train_corpus.tolist())
    rows = lm.next_token_probs(val)  # 17,342 positions x 28 tokens
    assert rows.shape == (len(val) - 1, 28)
    assert np.allclose(rows.sum(axis=1), 1.0)
    assert math.exp(-np.log(rows[np.arange(len(rows)), val[1:]]).mean()) == pytest.approx(lm.perplexity(val))
