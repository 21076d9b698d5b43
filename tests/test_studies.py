"""studies/run.py: every study runs in --quick mode and writes a sane, complete JSON record; it trains with
d2l.Trainer and the chapter's Setup, compares configurations at equal numbers of updates, and times the layer."""

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

STUDIES = ("ngram", "timing", "seeds", "search", "epochs", "width_64", "width_128", "text")


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


def test_search_records_every_configuration_at_equal_updates(records):
    results = records["search"]["results"]
    assert [row["name"] for row in results["rows"]] == ["chapter setup", "sequential, state carried"]
    for row in results["rows"]:
        assert [r["seed"] for r in row["runs"]] == records["search"]["seeds"]
        for r in row["runs"]:
            assert finite_ppl(r["val_ppl"]) and finite_ppl(r["train_ppl"]) and r["train_seconds"] > 0
        assert row["summary"]["val_ppl"]["mean"] == pytest.approx(statistics.fmean(r["val_ppl"] for r in row["runs"]))
    assert results["rows"][1]["setup"]["partition"] == "sequential"
    assert results["best"] == min(results["rows"], key=lambda r: r["summary"]["val_ppl"]["mean"])["name"]
    assert results["kneser_ney"]["order"] == records["ngram"]["results"]["best"]["kneser-ney"]["order"]


def test_equal_updates_scales_the_epochs_with_batch_rows_and_text():
    base = run.SETUP
    assert run.equal_updates(base.replace(batch_size=16)).max_epochs == 15
    assert run.equal_updates(base.replace(num_steps=128)).max_epochs == 60
    assert run.equal_updates(base, fraction=0.25).max_epochs == 120
    assert run.equal_updates(base.replace(lr=0.02)).max_epochs == 30


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
        assert r["val_ppl"] == r["history"]["val_ppl"][-1] and r["updates"] > 0
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


def test_epochs_width_and_text_report_every_run_over_seeds(records):
    long_runs = records["epochs"]["results"]["runs"]
    assert [r["seed"] for r in long_runs] == records["epochs"]["seeds"]
    assert all(r["epochs"] == len(r["history"]["val_ppl"]) == 2 for r in long_runs)
    widths = [records[f"width_{h}"]["results"] for h in (64, 128)]
    assert [w["rows"][0]["num_hiddens"] for w in widths] == [4, 8]  # --quick: a sixteenth of the width
    for width, name in zip(widths, ("width_64", "width_128")):
        h = width["rows"][0]
        # the learning rate is the grid's best on validation (seed 0), then trained on every seed
        assert h["lr"] == min(width["lrs"], key=lambda lr: h["grid"][str(lr)])
        assert [r["seed"] for r in h["runs"]] == records[name]["seeds"] and h["setup"]["lr"] == h["lr"]
    text = records["text"]["results"]["rows"]
    assert [f["fraction"] for f in text] == [0.5, 1.0]
    assert text[0]["train_chars"] == text[1]["train_chars"] // 2 == run.QUICK_TRAIN_CHARS // 2
    assert text[0]["setup"]["max_epochs"] == 2 * text[1]["setup"]["max_epochs"]  # equal updates
    assert text[0]["kneser_ney"]["val_ppl"] > text[1]["kneser_ney"]["val_ppl"]  # counts gain from more text
    for arm in [records["epochs"]["results"], *(w["rows"][0] for w in widths), *text]:
        for r in arm["runs"]:
            assert finite_ppl(r["val_ppl"]) and finite_ppl(r["test_ppl"]) and r["train_seconds"] > 0
        assert arm["summary"]["test_ppl"]["n"] == len(arm["runs"]) == 2


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
    layer = results["layer"]
    assert set(layer["seconds"]) == {"indexing", "unbind", "nn.RNN"}
    for by_steps in layer["seconds"].values():
        assert sorted(map(int, by_steps)) == layer["steps"]
        assert all(len(times) == layer["repetitions"] and min(times) > 0 for times in by_steps.values())
    # The profile shows the cause: one selection node and one zero-filled gradient per step, against one unbind.
    T = layer["profile_steps"]
    assert layer["profile"]["indexing"]["SelectBackward0"] == T and layer["profile"]["indexing"]["aten::zeros"] >= T
    assert layer["profile"]["unbind"]["SelectBackward0"] == 0 and layer["profile"]["unbind"]["UnbindBackward0"] == 1


def test_indexing_layer_computes_what_the_package_layer_computes():
    torch.manual_seed(0)
    layer = d2l.RNNScratch(5, 4, sigma=0.5)
    X = torch.randn(7, 3, 5)
    torch.testing.assert_close(run.indexing_layer(layer, X), layer(X)[0])


def test_seeds_without_an_ngram_file_asks_for_one(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "RESULTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="run `python studies/run.py ngram` first"):
        run.main(["seeds", "--quick", "--out", str(tmp_path)])


@pytest.fixture
def tiny_data(time_machine_available):
    return run.load_data(run.SETUP, quick=True)


def test_train_one_trains_exactly_as_the_chapter_setup(tiny_data):
    setup = run.SETUP.replace(kind="nn.RNN", num_hiddens=16, max_epochs=2, lr_drop_fraction=0.5)  # epoch 2: lr / 10
    mine, record = run.train_one(setup, 0, tiny_data)
    d2l.set_seed(0)
    theirs = setup.model(len(tiny_data.vocab))
    trainer = d2l.Trainer(max_epochs=2, gradient_clip_val=setup.gradient_clip_val, device="cpu", plot=False,
                          lr_schedule=lambda e: 1.0 if e <= 1 else 0.1, num_threads=d2l.chapter.THREADS
                          ).fit(theirs, tiny_data)
    assert record["epochs"] == 2 and record["lr_drop_epochs"] == 1 and record["updates"] == len(trainer.grad_norms)
    for a, b in zip(mine.parameters(), theirs.parameters()):
        assert torch.equal(a, b)
    assert record["history"]["train_ppl"] == trainer.history["train_ppl"]


def test_interpolation_refuses_streams_that_drop_text(tiny_data, monkeypatch):
    model = run.SETUP.replace(num_hiddens=8).model(len(tiny_data.vocab))
    kn = d2l.NGramLM(2, len(tiny_data.vocab), smoothing="kneser-ney").fit(tiny_data.train_corpus)
    kn_probs = {part: run.kn_target_probs(kn, corpus.tolist())
                for part, corpus in (("val", tiny_data.val_corpus), ("test", tiny_data.test_corpus))}
    kn_probs |= {"val_ppl": kn.perplexity(tiny_data.val_corpus), "test_ppl": kn.perplexity(tiny_data.test_corpus)}
    assert run.interpolate(model, tiny_data, kn_probs)["val_rel_err_w0"] <= run.IDENTITY_RTOL
    first_batch_only = tiny_data.val_dataloader
    monkeypatch.setattr(tiny_data, "val_dataloader", lambda: iter([next(first_batch_only())]))
    with pytest.raises(RuntimeError, match="not the val text"):
        run.interpolate(model, tiny_data, kn_probs)
