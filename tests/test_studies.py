"""studies/run.py: every study runs in --quick mode and writes a sane, complete JSON record; the training loop
trains exactly as d2l.Trainer does, carries the state when asked, and keeps to its budget."""

import datetime
import importlib.util
import json
import math
import statistics
import sys

import pytest
import torch
from conftest import ROOT

import d2lmini as d2l

STUDIES = ("ngram", "search", "seeds", "scaling", "timing")


def load_run_module():
    spec = importlib.util.spec_from_file_location("studies_run", ROOT / "studies" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


run = load_run_module()


@pytest.fixture(scope="module")
def records(tmp_path_factory, time_machine_available):
    """Run every study with --quick into one folder (seeds reads the n-gram file ngram wrote there)."""
    out = tmp_path_factory.mktemp("studies")
    threads = torch.get_num_threads()
    for name in STUDIES:
        assert run.main([name, "--quick", "--out", str(out)]) == 0
    assert torch.get_num_threads() == threads  # the script gives the thread count back
    return {name: json.loads((out / f"{name}.json").read_text()) for name in STUDIES} | {"out": out}


def finite_ppl(value, vocab_size=28):
    return isinstance(value, float) and math.isfinite(value) and 1 < value < 2 * vocab_size


@pytest.mark.parametrize("name", STUDIES)
def test_every_record_says_how_where_and_when_it_was_made(records, name):
    record = records[name]
    assert record["study"] == name and record["quick"] is True
    assert record["command"] == f"python studies/run.py {name} --quick --out {records['out']}"
    assert set(record["versions"]) >= {"python", "torch", "numpy", "d2lmini"}
    assert record["versions"]["torch"] == torch.__version__ and record["versions"]["d2lmini"] == d2l.__version__
    machine = record["machine"]
    assert machine["torch_threads"] == 1 and machine["cpu_count"] >= 1
    assert machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and machine["platform"]
    datetime.datetime.fromisoformat(record["timestamp"])
    assert record["wall_seconds"] > 0 and isinstance(record["seeds"], list)
    assert record["data"]["train_chars"] == run.QUICK_TRAIN_CHARS
    assert record["data"]["val_chars"] == record["data"]["test_chars"] == run.QUICK_EVAL_CHARS


def test_ngram_picks_the_best_of_each_smoothing_on_validation(records):
    results = records["ngram"]["results"]
    rows = results["rows"]
    assert len(rows) == len(results["orders"]) * (1 + len(results["discounts"]))
    assert all(finite_ppl(row["val_ppl"]) for row in rows)
    for smoothing in ("add-alpha", "kneser-ney"):
        best = results["best"][smoothing]
        assert best["val_ppl"] == min(r["val_ppl"] for r in rows if r["smoothing"] == smoothing)
        assert finite_ppl(best["test_ppl"])
    # More context helps on this tiny slice too: the bigram beats the unigram.
    by_order = {r["order"]: r["val_ppl"] for r in rows if r["smoothing"] == "kneser-ney"}
    assert by_order[2] < by_order[1]


def test_search_records_every_configuration(records):
    results = records["search"]["results"]
    assert [row["name"] for row in results["rows"]] == ["baseline", "sequential, state carried"]
    for row in results["rows"]:
        assert finite_ppl(row["val_ppl"]) and finite_ppl(row["train_ppl"])
        assert row["epochs"] == 1 and row["train_seconds"] > 0
    assert results["rows"][1]["setup"]["partition"] == "sequential"
    assert results["best"] == min(results["rows"], key=lambda r: r["val_ppl"])["name"]
    assert results["kneser_ney"]["order"] == records["ngram"]["results"]["best"]["kneser-ney"]["order"]


def test_seeds_summarise_runs_and_the_mixture_reduces_to_each_model(records):
    results = records["seeds"]["results"]
    seeds = records["seeds"]["seeds"]
    kn = results["kneser_ney"]
    assert kn["order"] == records["ngram"]["results"]["best"]["kneser-ney"]["order"]
    assert kn["test_ppl"] == pytest.approx(records["ngram"]["results"]["best"]["kneser-ney"]["test_ppl"], rel=1e-12)
    assert [(r["kind"], r["seed"]) for r in results["runs"]] == [(k, s) for k in run.KINDS for s in seeds]
    for r in results["runs"]:
        mix = r["mix"]
        assert finite_ppl(r["test_ppl"]) and finite_ppl(r["val_ppl"]) and r["train_seconds"] > 0
        assert max(mix[key] for key in mix if "rel_err" in key) <= run.IDENTITY_RTOL
        curve = mix["val_ppl_by_weight"]
        assert len(curve) == len(results["weights"]) == 21
        assert curve[-1] == pytest.approx(r["val_ppl"], rel=1e-6)   # w = 1: the RNN alone
        assert curve[0] == pytest.approx(kn["val_ppl"], rel=1e-6)   # w = 0: Kneser-Ney alone
        assert mix["val_ppl"] == min(curve) and mix["weight"] in results["weights"]
        assert finite_ppl(mix["test_ppl"])
    for kind in run.KINDS:
        mine = [r["test_ppl"] for r in results["runs"] if r["kind"] == kind]
        stats = results["summary"][kind]["test_ppl"]
        assert stats["mean"] == pytest.approx(statistics.fmean(mine)) and stats["n"] == len(seeds)
        assert stats["sd"] == pytest.approx(statistics.stdev(mine))


def test_scaling_reports_each_arm(records):
    results = records["scaling"]["results"]
    long_run = results["epochs"]
    assert long_run["epochs"] == len(long_run["history"]["val_ppl"]) == 2
    assert long_run["history"]["val_ppl"][-1] == pytest.approx(long_run["val_ppl"])
    assert [h["num_hiddens"] for h in results["hidden"]] == [16, 32]
    fractions = results["data"]
    assert [f["fraction"] for f in fractions] == [0.5, 1.0]
    assert fractions[0]["train_chars"] == fractions[1]["train_chars"] // 2 == run.QUICK_TRAIN_CHARS // 2
    for arm in [long_run, *results["hidden"], *fractions]:
        assert finite_ppl(arm["val_ppl"]) and finite_ppl(arm["test_ppl"]) and arm["train_seconds"] > 0


def test_timing_reports_medians_and_spread(records):
    results = records["timing"]["results"]
    for kind in run.KINDS:
        times = results["seconds"][kind]
        assert len(times) == results["repetitions"] == 2 and min(times) > 0
        stats = results["stats"][kind]
        assert stats["median"] == pytest.approx(statistics.median(times))
        assert stats["q1"] <= stats["median"] <= stats["q3"] and stats["iqr"] >= 0
    medians = results["stats"]["scratch"]["median"] / results["stats"]["nn.RNN"]["median"]
    assert results["ratio_of_medians"] == pytest.approx(medians)


def test_seeds_without_an_ngram_file_asks_for_one(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "STUDIES_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="run `python studies/run.py ngram` first"):
        run.main(["seeds", "--quick", "--out", str(tmp_path)])


@pytest.fixture
def tiny_data(time_machine_available):
    return run.load_data(run.SETUP, quick=True)


def test_training_loop_trains_exactly_as_the_trainer(tiny_data):
    setup = run.Setup(kind="nn.RNN", num_hiddens=16, max_epochs=2, lr_drop_fraction=0.5)  # epoch 2 at lr / 10
    d2l.set_seed(0)
    mine = run.build_model(setup, len(tiny_data.vocab))
    record = run.train(mine, tiny_data, setup)
    d2l.set_seed(0)
    theirs = run.build_model(setup, len(tiny_data.vocab))
    trainer = d2l.Trainer(max_epochs=2, gradient_clip_val=setup.gradient_clip_val, device="cpu", plot=False,
                          lr_schedule=lambda e: 1.0 if e <= 1 else 0.1).fit(theirs, tiny_data)
    assert record["epochs"] == 2 and record["lr_drop_epochs"] == 1
    for a, b in zip(mine.parameters(), theirs.parameters()):
        assert torch.equal(a, b)
    assert record["history"]["train_ppl"] == trainer.history["train_ppl"]


def test_sequential_training_carries_the_detached_state(tiny_data, monkeypatch):
    setup = run.Setup(kind="scratch", num_hiddens=8, max_epochs=1, partition="sequential")
    data = run.load_data(setup, quick=True)
    d2l.set_seed(0)
    model = run.build_model(setup, len(data.vocab))
    calls = []
    forward = model.rnn.forward

    def recording_forward(inputs, state=None):
        outputs, last = forward(inputs, state)
        calls.append((state, last.detach().clone()))
        return outputs, last

    monkeypatch.setattr(model.rnn, "forward", recording_forward)
    run.train(model, data, setup)
    assert len(calls) >= 2 and calls[0][0] is None
    for (_, previous_last), (state, _) in zip(calls, calls[1:]):
        assert state is not None and not state.requires_grad and torch.equal(state, previous_last)


def test_budget_sets_the_number_of_epochs_from_the_first(tiny_data):
    setup = run.Setup(num_hiddens=8, max_epochs=50)
    assert run.train(run.build_model(setup, 28), tiny_data, setup, budget=1e-9)["epochs"] == 1
    setup = run.Setup(num_hiddens=8, max_epochs=3)
    record = run.train(run.build_model(setup, 28), tiny_data, setup, budget=1e9)
    assert record["epochs"] == len(record["history"]["epoch"]) == 3


def test_interpolation_refuses_streams_that_drop_text(tiny_data, monkeypatch):
    model = run.build_model(run.Setup(num_hiddens=8), len(tiny_data.vocab))
    kn = d2l.NGramLM(2, len(tiny_data.vocab), smoothing="kneser-ney").fit(tiny_data.train_corpus)
    kn_probs = {part: run.kn_target_probs(kn, corpus.tolist())
                for part, corpus in (("val", tiny_data.val_corpus), ("test", tiny_data.test_corpus))}
    kn_probs |= {"val_ppl": kn.perplexity(tiny_data.val_corpus), "test_ppl": kn.perplexity(tiny_data.test_corpus)}
    assert run.interpolate(model, tiny_data, kn_probs)["val_rel_err_w0"] <= run.IDENTITY_RTOL
    first_batch_only = tiny_data.val_dataloader
    monkeypatch.setattr(tiny_data, "val_dataloader", lambda: iter([next(first_batch_only())]))
    with pytest.raises(RuntimeError, match="not the val text"):
        run.interpolate(model, tiny_data, kn_probs)
