"""The perplexity bands the pages assert catch broken runs.

``d2l.perplexity_band`` turns the seeds study into the band a run of the chapter's setup must land in. A band
is only a check if a broken run falls outside it: here, recorded runs without the learning-rate drop, and a
model without recurrence (W_hh = 0), whose best possible perplexity is bounded below by counting.
"""

import pytest

import d2lmini as d2l


@pytest.mark.parametrize("kind", d2l.chapter.KINDS)
@pytest.mark.parametrize("part", ["val", "test"])
def test_band_is_narrow_and_holds_every_recorded_seed(kind, part):
    low, high = d2l.perplexity_band(kind, part)
    assert 0 < high - low <= 2 * d2l.chapter.BAND_MAX + 1e-12
    runs = [r for r in d2l.load_study("seeds")["results"]["runs"] if r["kind"] == kind]
    assert len(runs) >= 3
    assert all(low < r[f"{part}_ppl"] < high for r in runs)


def test_a_run_without_the_learning_rate_drop_fails_the_band():
    # The search trained nn.RNN with the chapter's setup minus the drop, same updates, three seeds.
    rows = {row["name"]: row for row in d2l.load_study("search")["results"]["rows"]}
    no_drop = rows["no lr drop"]
    assert no_drop["setup"]["lr_drop_fraction"] == 0 and len(no_drop["runs"]) >= 3
    low, high = d2l.perplexity_band("nn.RNN", "val")
    assert all(r["val_ppl"] > high for r in no_drop["runs"])
    # And the scratch runs of the seeds study, just before their drop (epoch 24), sit above the scratch band.
    low, high = d2l.perplexity_band("scratch", "val")
    for run in d2l.load_study("seeds")["results"]["runs"]:
        if run["kind"] == "scratch":
            before_drop = run["history"]["val_ppl"][run["epochs"] - run["lr_drop_epochs"] - 1]
            assert before_drop > high


def test_a_model_without_recurrence_cannot_reach_the_band(time_machine_available):
    # With W_hh = 0 the prediction at each step depends on the previous character only. No such model can
    # score better on a text than the bigram fitted by counting on that very text (maximum likelihood), so
    # that bigram's perplexity is a lower bound for every run with the recurrence cut.
    data = d2l.TimeMachine(32, 64)
    val = data.val_corpus.tolist()
    bound = d2l.NGramLM(2, len(data.vocab), alpha=0).fit(val).perplexity(val)
    for kind in d2l.chapter.KINDS:
        assert bound > d2l.perplexity_band(kind, "val")[1] + 1


def test_band_rejects_unknown_kinds_and_parts():
    with pytest.raises(ValueError, match="kind must be one of"):
        d2l.perplexity_band("lstm", "val")
    with pytest.raises(ValueError, match="part must be one of 'val', 'test'"):
        d2l.perplexity_band("scratch", "train")
