"""n-gram counts and smoothed probabilities (add-alpha and Kneser-Ney), checked against hand-computed values."""

import math
from collections import Counter

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
    assert laplace.prob([2, 0, 1], 0) == laplace.prob([1], 0)  # only the last order-1 tokens count


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
    with pytest.raises(ValueError, match="call fit"):
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
    ({"smoothing": "kneser-ney", "discount": 1.5}, "discount"),
    ({"smoothing": "kneser-ney", "discount": -0.5}, "discount"),
    ({"smoothing": "kneser-ney", "discount": float("nan")}, "discount"),
    ({"alpha": float("inf")}, "alpha"),
    ({"alpha": "0.1"}, "alpha"),
])
def test_bad_smoothing_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NGramLM(3, 3, **kwargs)


def test_errors_of_fit_probs_and_next_token_probs():
    with pytest.raises(IndexError, match="tokens holds the index 2"):
        NGramLM(2, 2).fit(TOKENS)
    with pytest.raises(ValueError, match="vocab_size is 2"):
        NGramLM(2, 2).fit("abab a")
    chars = NGramLM(2, 3).fit("abab a")
    assert chars.prob("a", "b") == pytest.approx((2 + 0.1) / (2 + 0.3))  # prob works on any tokens
    with pytest.raises(ValueError, match="integer ids"):
        chars.probs("a")
    with pytest.raises(ValueError, match="call fit"):
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


def test_discount_of_one_is_allowed_and_still_sums_to_one():
    # D = 1 removes each seen count's first occurrence entirely; every count is >= 1, so nothing goes negative.
    lm = NGramLM(3, 4, smoothing="kneser-ney", discount=1).fit([0, 1, 0, 1, 2, 0, 1, 1])
    for context in ([], [0], [0, 1], [3, 3]):
        row = lm.probs(context)
        assert row.sum() == pytest.approx(1.0) and row.min() > 0


@pytest.mark.parametrize("call, error, message", [
    (lambda: NGramLM(2, 5).fit([0, 1, 9]), IndexError, r"tokens holds the index 9, outside the vocabulary \[0, 5\)"),
    (lambda: NGramLM(2, 5).fit([0, -1, 2]), IndexError, "tokens holds the index -1"),
    (lambda: NGramLM(2, 5).fit([0, 1.5, 2]), TypeError, "tokens must hold integer token indices"),
    (lambda: NGramLM(2, 5).fit(torch.tensor([0.0, 1.0])), TypeError, "tokens must hold integer"),
    (lambda: NGramLM(2, 5).fit([[0, 1], [2]]), TypeError, "tokens must be a sequence of integer"),
    (lambda: NGramLM(2, 5).fit(None), TypeError, "tokens must hold integer"),
    (lambda: NGramLM(2, 5).fit([0, "a"]), TypeError, "tokens must hold integer"),
    (lambda: NGramLM(2, 3).fit(TOKENS).prob([0], 3 + 10), IndexError, r"token is 13, outside \[0, 3\)"),
    (lambda: NGramLM(2, 3).fit(TOKENS).prob([0], -1), IndexError, "token is -1"),
    (lambda: NGramLM(2, 3).fit(TOKENS).prob([0], 1.0), TypeError, "token must be an integer index"),
    (lambda: NGramLM(2, 3).fit(TOKENS).prob([0], "b"), TypeError, "token must be an integer index"),
    (lambda: NGramLM(2, 3).fit(TOKENS).prob([0, 7], 1), IndexError, "context holds the index 7"),
    (lambda: NGramLM(2, 3).fit(TOKENS).probs("ab"), TypeError, "context must be token indices, got a string"),
    (lambda: NGramLM(2, 3).fit(TOKENS).next_token_probs([0, 5]), IndexError, "tokens holds the index 5"),
    (lambda: NGramLM(2, 3).fit(TOKENS).perplexity([0, 1.5]), TypeError, "tokens must hold integer"),
    (lambda: NGramLM(2, 3).fit(TOKENS).perplexity([]), ValueError, "tokens is empty"),
    (lambda: NGramLM(2, 3).fit(TOKENS).next_token_probs(TOKENS, start=-1), ValueError, "start must be an integer"),
    (lambda: NGramLM(2, 3).fit(TOKENS).next_token_probs(TOKENS, start=1.0), ValueError, "start must be an integer"),
    (lambda: NGramLM(2, 3).perplexity(TOKENS), ValueError, r"call fit\(tokens\)"),
    (lambda: NGramLM(2, 3).probs([0]), ValueError, r"call fit\(tokens\)"),
    (lambda: NGramLM(3, 3, alpha=0).fit(TOKENS).probs([2, 2]), ValueError, r"context \(2, 2\) was never seen"),
    (lambda: NGramLM(2, 3).fit("abab a").prob("a", 1), TypeError, "token must be a string"),
    (lambda: NGramLM(2, 3).fit("abab a").prob([0], "a"), TypeError, "context must be a string or a list of strings"),
    (lambda: NGramLM(2, 3).fit("abab a").prob("a", "z"), ValueError, "'z', which the model never saw"),
    (lambda: NGramLM(2, 3).fit("abab a").next_token_probs("abab"), ValueError, "fitted on strings"),
    (lambda: NGramLM(True, 3), ValueError, "order must be a positive integer"),
    (lambda: NGramLM(2.0, 3), ValueError, "order must be a positive integer"),
    (lambda: NGramLM(2, 0), ValueError, "vocab_size must be a positive integer"),
    (lambda: NGramLM(2, 3, alpha=float("nan")), ValueError, "alpha must be a finite number >= 0"),
    (lambda: NGramLM(2, 3, smoothing="kneser-ney", discount=0), ValueError, r"discount must be .*> 0 and <= 1"),
    (lambda: count_ngrams(None, 2), TypeError, "tokens must be a sequence of tokens"),
    (lambda: count_ngrams([["a", "b"], ["c"]], 2), TypeError, "for a list of lines, join them"),
])
def test_bad_calls_are_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_string_tokens_unseen_ones_stand_for_an_unused_id():
    chars = NGramLM(3, 4, smoothing="kneser-ney").fit("abab a")  # 3 distinct characters, V = 4
    ids = NGramLM(3, 4, smoothing="kneser-ney").fit(TOKENS)      # the same text as ids; id 3 never occurs
    assert chars.prob("ab", "z") == ids.prob([0, 1], 3)
    assert chars.prob("zb", " ") == ids.prob([3, 1], 2)
    assert chars.perplexity("ab az") == pytest.approx(ids.perplexity([0, 1, 2, 0, 3]), rel=1e-12)
    assert chars.counts[2] == count_ngrams("abab a", 2)
    assert chars.contexts[3] == {("a", "b"): 2, ("b", "a"): 1, ("b", " "): 1}
    assert NGramLM(2, 9).fit(["the", "time", "the"]).prob(["the"], "time") == pytest.approx((1 + 0.1) / (1 + 0.9))


# ---------------------------------------------------------------------------- the book against plain Python

def _totals_and_types(grams: Counter) -> dict:
    """Context -> (sum of the counts of the grams extending it, number of them)."""
    out = {}
    for gram, count in grams.items():
        total, types = out.get(gram[:-1], (0, 0))
        out[gram[:-1]] = (total + count, types + 1)
    return out


class ReferenceLM:
    """The smoothing formulas of ``NGramLM``'s docstring, one probability at a time, with dicts of tuples.

    Counts go up to ``max_order``; ``prob`` takes the model's order, so one counting serves every order.
    """

    def __init__(self, tokens: list[int], max_order: int, V: int) -> None:
        self.V = V
        self.raw = {m: Counter(zip(*(tokens[i:] for i in range(m)))) for m in range(1, max_order + 1)}
        # continuation count of g: the number of distinct tokens seen just before it
        self.cont = {m: Counter(gram[1:] for gram in self.raw[m + 1]) for m in range(1, max_order)}
        self.raw_stats = {m: _totals_and_types(grams) for m, grams in self.raw.items()}
        self.cont_stats = {m: _totals_and_types(grams) for m, grams in self.cont.items()}

    def prob(self, order: int, context: list[int], w: int, smoothing: str, alpha: float, D: float) -> float:
        h = tuple(context[max(len(context) - order + 1, 0):])
        top = len(h) + 1  # near the start of the text, the model of a lower order
        if smoothing == "add-alpha":
            total = self.raw_stats[top].get(h, (0, 0))[0]
            return (self.raw[top].get(h + (w,), 0) + alpha) / (total + alpha * self.V)
        p = 1 / self.V
        for m in range(1, top + 1):  # raw counts at the top order, continuation counts below it
            grams, stats = (self.raw[m], self.raw_stats[m]) if m == top else (self.cont[m], self.cont_stats[m])
            hm = h[len(h) - m + 1:]
            total, types = stats.get(hm, (0, 0))
            if total:  # an unseen context backs off fully
                p = (max(grams.get(hm + (w,), 0) - D, 0) + D * types * p) / total
        return p


@pytest.fixture(scope="module")
def reference(book):
    return ReferenceLM(book.train_corpus.tolist(), 7, len(book.vocab))


SETTINGS = [("add-alpha", {"alpha": 0.1}), ("add-alpha", {"alpha": 1.0}), ("kneser-ney", {"discount": 0.5}),
            ("kneser-ney", {"discount": 0.75}), ("kneser-ney", {"discount": 0.9}), ("kneser-ney", {"discount": 1.0})]


@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_the_book_matches_the_plain_python_formulas(book, reference, order):
    """Every way to ask (next_token_probs, probs, prob, perplexity) agrees with ReferenceLM to 1e-12, for add-alpha
    and Kneser-Ney, with the smoothing changed after fit; rows near the start use the lower orders."""
    V, train = len(book.vocab), book.train_corpus.tolist()
    test = book.test_corpus.tolist()[:3000]
    lm = NGramLM(order, V).fit(train)
    rng = np.random.default_rng(order)
    positions = np.r_[0:order + 1, rng.choice(np.arange(order + 1, len(test)), 40, replace=False)]
    for smoothing, params in SETTINGS:
        lm.smoothing = smoothing
        for name, value in params.items():
            setattr(lm, name, value)
        alpha, D = params.get("alpha", 0.1), params.get("discount", 0.75)

        def ref(context, w, smoothing=smoothing, alpha=alpha, D=D):
            return reference.prob(order, context, w, smoothing, alpha, D)

        rows = lm.next_token_probs(test, start=0)
        for i in positions:
            expected = [ref(test[:i], w) for w in range(V)]
            np.testing.assert_allclose(rows[i], expected, rtol=1e-12, atol=0)
        np.testing.assert_allclose(lm.probs(test[:order + 3]), [ref(test[:order + 3], w) for w in range(V)],
                                   rtol=1e-12, atol=0)
        unseen = [1] * 8  # <unk> never occurs in the book
        np.testing.assert_allclose([lm.prob(unseen, w) for w in range(V)], [ref(unseen, w) for w in range(V)],
                                   rtol=1e-12, atol=0)
        nll = math.fsum(-math.log(ref(test[:i], test[i])) for i in range(1, len(test))) / (len(test) - 1)
        assert lm.perplexity(test) == pytest.approx(math.exp(nll), rel=1e-12, abs=0)


def test_count_dicts_on_the_book_match_plain_python(book, reference):
    lm = NGramLM(7, len(book.vocab), smoothing="kneser-ney").fit(book.train_corpus)
    for m in range(1, 8):
        assert lm.counts[m] == reference.raw[m]
        assert lm.contexts[m] == {h: total for h, (total, _) in reference.raw_stats[m].items()}
        if m < 7:
            assert lm.continuations[m] == reference.cont[m]
    assert lm.counts[0] == lm.contexts[0] == lm.continuations[0] == {}


def test_the_book_as_characters_gives_the_same_probabilities_as_ids(book):
    text = book.text[:len(book.train_corpus)]
    chars = NGramLM(5, len(book.vocab), smoothing="kneser-ney").fit(text)
    ids = NGramLM(5, len(book.vocab), smoothing="kneser-ney").fit(book.vocab[list(text)])
    context = " wee"
    for token in "nkz ":
        assert chars.prob(context, token) == pytest.approx(ids.prob(book.vocab[list(context)], book.vocab[token]),
                                                           rel=1e-12)
    assert chars.contexts[5][tuple(context)] == ids.contexts[5][tuple(book.vocab[list(context)])]
