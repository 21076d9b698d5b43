"""n-gram counts and smoothed probabilities, checked against hand-computed values."""

import math

import pytest

from d2lmini import NGramLM

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


def test_time_machine_five_gram_baseline(time_machine_available):
    import d2lmini as d2l

    data = d2l.TimeMachine(32, 32)
    lm = NGramLM(5, len(data.vocab), alpha=0.1).fit(data.train_corpus.tolist())
    assert 4.4 < lm.perplexity(data.val_corpus.tolist()) < 4.7  # REFERENCE.md: about 4.55
