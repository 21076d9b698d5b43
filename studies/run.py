"""Studies too slow for a page: each subcommand measures one thing and writes one JSON file.

Usage: python studies/run.py {ngram,timing,seeds,search,epochs,width_64,width_128,width_256,width_512,text,all}
                            [--quick] [--out DIR]

Every file holds the exact command, the seeds, package versions, the machine, a timestamp, the wall time
and the results; the pages read these files instead of retraining. Training uses one thread, so two studies
can run side by side on two cores. ``--quick`` runs a tiny slice (for the unit test). See studies/README.md.
The results are package data (d2lmini/study_results/): an installed d2lmini reads the results of its own version.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

import d2lmini as d2l
from d2lmini.checks import check_int, safe_exp

STUDIES_DIR = Path(__file__).resolve().parent
RESULTS_DIR = STUDIES_DIR.parent / "d2lmini" / "study_results"  # package data: load_study reads it, wheels ship it


# The chapter's setup (rnn-scratch, rnn-concise) is d2l.CHAPTER: 128 hidden, batch 32, 64 steps, Adam 0.01, clip 1,
# 30 epochs with lr x0.1 for the last 6. The studies vary it with CHAPTER.replace(...).
SETUP = d2l.CHAPTER
KINDS = d2l.chapter.KINDS

NGRAM_ORDERS = range(1, 9)
NGRAM_ALPHA = 0.1
KN_DISCOUNTS = (0.5, 0.6, 0.75, 0.9, 0.95)

SEEDS = (0, 1, 2, 3, 4)   # the chapter's setup: the seeds study, whose spread sets the pages' bands
STUDY_SEEDS = (0, 1, 2)   # every configuration that search, epochs, width and text compare
# One factor at a time around the chapter's setup (nn.RNN). Every configuration makes the same number of
# optimiser updates as the chapter's 30 epochs: a change of batch size or row length scales the epochs.
SEARCH_VARIATIONS: list[tuple[str, dict]] = [
    ("chapter setup", {}),
    ("num_steps 32", {"num_steps": 32}),
    ("num_steps 128", {"num_steps": 128}),
    ("batch 16", {"batch_size": 16}),
    ("batch 64", {"batch_size": 64}),
    ("lr 0.005", {"lr": 0.005}),
    ("lr 0.02", {"lr": 0.02}),
    ("no lr drop", {"lr_drop_fraction": 0.0}),
    ("sequential, state carried", {"partition": "sequential"}),
]
MIX_WEIGHTS = [round(0.05 * i, 2) for i in range(21)]  # weight of the RNN in w p_RNN + (1 - w) p_KN
IDENTITY_RTOL = 1e-6

LONG_EPOCHS = 120
WIDTHS = (64, 128, 256, 512)
WIDTH_LRS = (0.003, 0.01)  # Adam learning rates tried at every width (seed 0); the better then on the other seeds
TEXT_FRACTIONS = (0.25, 0.5, 1.0)

TIMING_REPS = 7
LAYER_STEPS = (16, 32, 64, 128, 256, 512, 1024)
LAYER_REPS = 5

# --quick: a slice of each part, one epoch, two configurations.
QUICK_TRAIN_CHARS, QUICK_EVAL_CHARS = 6000, 1500


def log(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------------- data, models, training

def load_data(setup: d2l.Setup, quick: bool = False, train_fraction: float = 1.0) -> d2l.TimeMachine:
    """Return The Time Machine (80/10/10) batched as ``setup`` says, keeping only the first ``train_fraction``
    of the training part; ``quick`` keeps a small slice of every part.

    ``TimeMachine`` reads ``train_corpus``, ``val_corpus`` and ``test_corpus`` whenever a dataloader is asked
    for, so shortening them shortens what every dataloader yields.
    """
    data = setup.data()
    if quick:
        data.train_corpus = data.train_corpus[:QUICK_TRAIN_CHARS]
        data.val_corpus = data.val_corpus[:QUICK_EVAL_CHARS]
        data.test_corpus = data.test_corpus[:QUICK_EVAL_CHARS]
    data.train_corpus = data.train_corpus[:round(len(data.train_corpus) * train_fraction)]
    return data


def data_sizes(data: d2l.TimeMachine) -> dict:
    return {"train_chars": len(data.train_corpus), "val_chars": len(data.val_corpus),
            "test_chars": len(data.test_corpus), "vocab_size": len(data.vocab), "val_streams": data.val_streams}


def equal_updates(setup: d2l.Setup, reference: d2l.Setup = SETUP, fraction: float = 1.0) -> d2l.Setup:
    """Return ``setup`` with as many epochs as give ``reference``'s number of updates on ``fraction`` of the text.

    An epoch makes about ``train_chars / (batch_size * num_steps)`` updates, so halving the batch or the text
    halves the epochs needed for the same number of updates.
    """
    scale = (setup.batch_size * setup.num_steps) / (reference.batch_size * reference.num_steps) / fraction
    return setup.replace(max_epochs=max(1, round(reference.max_epochs * scale)))


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (no machine-specific folders in the files)."""
    root = Path(__file__).resolve().parent.parent
    return str(path.resolve().relative_to(root)) if path.resolve().is_relative_to(root) else str(path)


def train_one(setup: d2l.Setup, seed: int, data: d2l.TimeMachine) -> tuple[d2l.RNNLMScratch, dict]:
    """Train ``setup`` from ``seed`` with ``d2l.Trainer``; return the model and a record of the run.

    The record: ``epochs``, ``lr_drop_epochs``, ``updates``, ``train_seconds`` (the epochs' updates only, no
    validation), ``train_ppl`` (measured during the last epoch), ``val_ppl``, ``test_ppl`` and the per-epoch
    ``history`` (``epoch``, ``train_ppl``, ``val_ppl``, ``seconds``).
    """
    model, trainer = setup.train(data, seed)
    history = trainer.history
    record = {"seed": seed, "epochs": setup.max_epochs, "lr_drop_epochs": setup.lr_drop_epochs,
              "updates": len(trainer.grad_norms), "train_seconds": sum(history["epoch_time"]),
              "train_ppl": history["train_ppl"][-1], "val_ppl": history["val_ppl"][-1],
              "test_ppl": d2l.perplexity(model, data.test_dataloader()),
              "history": {"epoch": history["epoch"], "train_ppl": history["train_ppl"],
                          "val_ppl": history["val_ppl"], "seconds": history["epoch_time"]}}
    return model, record


def run_seeds(label: str, setup: d2l.Setup, data: d2l.TimeMachine, seeds: Iterable[int],
              keep_history: bool = False) -> dict:
    """Train ``setup`` once per seed; return ``{"setup", "runs", "summary"}`` (mean and sd of each measure)."""
    runs = []
    for seed in seeds:
        _, record = train_one(setup, seed, data)
        if not keep_history:
            del record["history"]
        runs.append(record)
        log(f"  {label:30s} seed {seed}: val {record['val_ppl']:.3f} test {record['test_ppl']:.3f} "
            f"({record['epochs']} epochs, {record['updates']} updates, {record['train_seconds']:.1f} s)")
    return {"setup": dataclasses.asdict(setup), "runs": runs,
            "summary": {key: summary(r[key] for r in runs) for key in ("val_ppl", "test_ppl", "train_seconds")}}


def summary(values: Iterable[float]) -> dict:
    """Return mean, sample standard deviation (``None`` for one value), min, max and n of ``values``."""
    values = list(values)
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "min": min(values), "max": max(values), "n": len(values)}


def quartiles(values: Iterable[float]) -> dict:
    """Return the median, first and third quartiles and interquartile range of ``values``."""
    q1, median, q3 = np.percentile(list(values), [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1)}


# ------------------------------------------------------------------------------------------------------ n-grams

def ngram_study(args: argparse.Namespace) -> dict:
    """Add-alpha and Kneser-Ney by order on validation; the best of each (chosen on validation) on test."""
    data = load_data(SETUP, args.quick)
    V = len(data.vocab)
    train_tokens, val_tokens = data.train_corpus.tolist(), data.val_corpus.tolist()
    test_tokens = data.test_corpus.tolist()
    orders = range(1, 3) if args.quick else NGRAM_ORDERS
    discounts = KN_DISCOUNTS[2:3] if args.quick else KN_DISCOUNTS
    rows = []
    candidates = [("add-alpha", order, {"alpha": NGRAM_ALPHA}) for order in orders]
    candidates += [("kneser-ney", order, {"discount": d}) for order in orders for d in discounts]
    for smoothing, order, params in candidates:
        start = time.perf_counter()
        model = d2l.NGramLM(order, V, smoothing=smoothing, **params).fit(train_tokens)
        row = {"smoothing": smoothing, "order": order, "alpha": params.get("alpha"),
               "discount": params.get("discount"), "val_ppl": model.perplexity(val_tokens)}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        log(f"  {smoothing:10s} order {order} {params}: val ppl {row['val_ppl']:.3f}")
    best = {}
    for smoothing in ("add-alpha", "kneser-ney"):
        row = min((r for r in rows if r["smoothing"] == smoothing), key=lambda r: r["val_ppl"])
        params = {"alpha": row["alpha"]} if smoothing == "add-alpha" else {"discount": row["discount"]}
        model = d2l.NGramLM(row["order"], V, smoothing=smoothing, **params).fit(train_tokens)
        best[smoothing] = {**row, "test_ppl": model.perplexity(test_tokens)}
        del best[smoothing]["seconds"]
        log(f"  best {smoothing}: order {row['order']} {params}, val {row['val_ppl']:.3f}, "
            f"test {best[smoothing]['test_ppl']:.3f}")
    return {"seeds": [], "data": data_sizes(data),
            "results": {"orders": list(orders), "alpha": NGRAM_ALPHA, "discounts": list(discounts),
                        "rows": rows, "best": best}}


def best_kn_row(out: Path, quick: bool) -> dict | None:
    """Return the best Kneser-Ney row of ``ngram.json`` in ``out`` (else in studies/) plus its path, or ``None``.

    A full study never reads a ``--quick`` n-gram file (that gives ``None`` too).
    """
    for path in (out / "ngram.json", RESULTS_DIR / "ngram.json"):
        if path.is_file():
            record = json.loads(path.read_text())
            if record["quick"] and not quick:
                return None
            return {**record["results"]["best"]["kneser-ney"], "source": _shown(path)}
    return None


# ------------------------------------------------------------------------------------------------------- search

def search_study(args: argparse.Namespace) -> dict:
    """One-factor variations around the chapter's setup (nn.RNN), each at the chapter's number of updates,
    over ``STUDY_SEEDS``, scored on validation (test is recorded, never used to choose)."""
    quick_names = ("chapter setup", "sequential, state carried")
    variations = [v for v in SEARCH_VARIATIONS if v[0] in quick_names] if args.quick else SEARCH_VARIATIONS
    base = SETUP.replace(kind="nn.RNN", max_epochs=1 if args.quick else SETUP.max_epochs)
    seeds = (0,) if args.quick else STUDY_SEEDS
    rows = []
    for name, changes in variations:
        setup = equal_updates(base.replace(**changes), reference=base)
        rows.append({"name": name, "changes": changes, **run_seeds(name, setup, load_data(setup, args.quick), seeds)})
    best = min(rows, key=lambda r: r["summary"]["val_ppl"]["mean"])
    return {"seeds": list(seeds), "data": data_sizes(load_data(base, args.quick)),
            "results": {"baseline": dataclasses.asdict(base), "rows": rows, "best": best["name"],
                        "kneser_ney": best_kn_row(args.out, args.quick)}}


# -------------------------------------------------------------------------------------------------------- seeds

def stream_probs(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Return the model's probability of every target and the targets, both ``(N,)``, in the order batches give.

    For the streamed batches of ``val_dataloader``/``test_dataloader`` (rows back to back, then the remainder)
    row-major order is text order: the targets are ``corpus[1:]``.
    """
    model.eval()
    probs, targets = [], []
    with torch.no_grad():
        for X, Y in batches:
            log_p = torch.log_softmax(model(X).double(), dim=-1)  # (B, T, V)
            probs.append(log_p.gather(-1, Y[..., None]).squeeze(-1).exp().reshape(-1))  # (B * T,)
            targets.append(Y.reshape(-1))
    return torch.cat(probs).numpy(), torch.cat(targets).numpy()


def kn_target_probs(kn: d2l.NGramLM, tokens: list[int]) -> np.ndarray:
    """Return Kneser-Ney's probability of ``tokens[i]`` given the tokens before it, for ``i >= 1``: ``(N - 1,)``."""
    probs = kn.next_token_probs(tokens, start=1)  # (N - 1, V)
    return probs[np.arange(len(tokens) - 1), tokens[1:]]


def mixture_perplexity(weight: float, p_rnn: np.ndarray, p_kn: np.ndarray) -> float:
    """Return the perplexity of ``weight * p_rnn + (1 - weight) * p_kn`` (each the probability of the target)."""
    return safe_exp(float(-np.mean(np.log(weight * p_rnn + (1 - weight) * p_kn))))


def check_identity(name: str, got: float, expected: float) -> float:
    """Return the relative difference of ``got`` and ``expected``.

    Raises:
        RuntimeError: it exceeds ``IDENTITY_RTOL``: the RNN's and KN's positions do not line up.
    """
    rel = abs(got - expected) / abs(expected)
    if not rel <= IDENTITY_RTOL:
        raise RuntimeError(f"{name}: the mixture gives {got!r} but the model alone {expected!r} (relative "
                           f"difference {rel:.2e} > {IDENTITY_RTOL}); the RNN's and KN's positions do not line up")
    return rel


def interpolate(model: nn.Module, data: d2l.TimeMachine, kn_probs: dict[str, np.ndarray]) -> dict:
    """Tune the RNN's weight in the mixture with KN on validation, report it on test, check w = 0 and w = 1."""
    out: dict = {"val_ppl_by_weight": []}
    p_rnn = {}
    for part, corpus, loader in (("val", data.val_corpus, data.val_dataloader),
                                 ("test", data.test_corpus, data.test_dataloader)):
        p_rnn[part], targets = stream_probs(model, loader())
        if not np.array_equal(targets, corpus[1:].numpy()):
            raise RuntimeError(f"the streamed {part} targets are not the {part} text from its second character on")
        rnn_alone = d2l.perplexity(model, loader())
        out[f"{part}_rel_err_w1"] = check_identity(f"{part}, w = 1", mixture_perplexity(1.0, p_rnn[part],
                                                                                          kn_probs[part]), rnn_alone)
        out[f"{part}_rel_err_w0"] = check_identity(f"{part}, w = 0", mixture_perplexity(0.0, p_rnn[part],
                                                                                          kn_probs[part]),
                                                   kn_probs[f"{part}_ppl"])
    out["val_ppl_by_weight"] = [mixture_perplexity(w, p_rnn["val"], kn_probs["val"]) for w in MIX_WEIGHTS]
    best = int(np.argmin(out["val_ppl_by_weight"]))
    out["weight"] = MIX_WEIGHTS[best]
    out["val_ppl"] = out["val_ppl_by_weight"][best]
    out["test_ppl"] = mixture_perplexity(out["weight"], p_rnn["test"], kn_probs["test"])
    return out


def seeds_study(args: argparse.Namespace) -> dict:
    """The chapter's setup over several seeds, scratch and nn.RNN, alone and mixed with the best Kneser-Ney."""
    seeds = args.seeds or ((0, 1) if args.quick else SEEDS)
    if args.kn_order is not None and args.kn_discount is not None:
        kn_choice = {"order": args.kn_order, "discount": args.kn_discount, "source": "command line"}
    else:
        best = best_kn_row(args.out, args.quick)
        if best is None:
            raise FileNotFoundError(f"no usable ngram.json in {args.out} or {RESULTS_DIR} (a full study needs a full "
                                    "one): run `python studies/run.py ngram` first, or pass --kn-order and "
                                    "--kn-discount")
        kn_choice = {key: best[key] for key in ("order", "discount", "source")}
    setup = SETUP.replace(max_epochs=1) if args.quick else SETUP
    data = load_data(setup, args.quick)
    val_tokens, test_tokens = data.val_corpus.tolist(), data.test_corpus.tolist()
    log(f"  Kneser-Ney order {kn_choice['order']}, D = {kn_choice['discount']} ({kn_choice['source']})")
    kn = d2l.NGramLM(kn_choice["order"], len(data.vocab), smoothing="kneser-ney",
                     discount=kn_choice["discount"]).fit(data.train_corpus.tolist())
    kn_probs = {"val": kn_target_probs(kn, val_tokens), "test": kn_target_probs(kn, test_tokens),
                "val_ppl": kn.perplexity(val_tokens), "test_ppl": kn.perplexity(test_tokens)}
    runs = []
    for kind in KINDS:
        for seed in seeds:
            model, record = train_one(setup.replace(kind=kind), seed, data)
            mix = interpolate(model, data, kn_probs)
            runs.append({"kind": kind, **record, "mix": mix})
            log(f"  {kind:8s} seed {seed}: test ppl {record['test_ppl']:.3f} in {record['train_seconds']:.1f} s; "
                f"mixed with KN (w = {mix['weight']}) {mix['test_ppl']:.3f}")
    by_kind = {}
    for kind in KINDS:
        mine = [r for r in runs if r["kind"] == kind]
        by_kind[kind] = {key: summary(r[key] for r in mine) for key in ("test_ppl", "val_ppl", "train_seconds")}
        by_kind[kind]["mix_test_ppl"] = summary(r["mix"]["test_ppl"] for r in mine)
        by_kind[kind]["mix_weight"] = summary(r["mix"]["weight"] for r in mine)
    return {"seeds": list(seeds), "data": data_sizes(data),
            "results": {"setup": dataclasses.asdict(setup), "weights": MIX_WEIGHTS,
                        "kneser_ney": {**kn_choice, "val_ppl": kn_probs["val_ppl"], "test_ppl": kn_probs["test_ppl"]},
                        "runs": runs, "summary": by_kind}}


# ------------------------------------------------------------------------------------- epochs, width, text

def epochs_study(args: argparse.Namespace) -> dict:
    """More epochs: the chapter's setup (nn.RNN) trained for four times as many epochs, over ``STUDY_SEEDS``,
    with the validation perplexity after every epoch."""
    base = SETUP.replace(kind="nn.RNN", max_epochs=2 if args.quick else LONG_EPOCHS)
    seeds = (0, 1) if args.quick else STUDY_SEEDS
    data = load_data(base, args.quick)
    return {"seeds": list(seeds), "data": data_sizes(data),
            "results": {**run_seeds(f"{base.max_epochs} epochs", base, data, seeds, keep_history=True),
                        "kneser_ney": best_kn_row(args.out, args.quick)}}


def width_study(args: argparse.Namespace, width: int) -> dict:
    """More hidden units (nn.RNN, 30 epochs): ``width`` units at the better of ``WIDTH_LRS`` on validation (seed 0),
    then the other seeds of ``STUDY_SEEDS`` at that rate. One file per width (``width_64`` ...), so that the
    widths can run side by side; ``--quick`` shrinks the width to a sixteenth."""
    base = SETUP.replace(kind="nn.RNN", max_epochs=1 if args.quick else SETUP.max_epochs)
    seeds = (0, 1) if args.quick else STUDY_SEEDS
    widths = (width // 16,) if args.quick else (width,)
    data = load_data(base, args.quick)
    rows = []
    for h in widths:
        grid = {lr: run_seeds(f"{h} hidden, lr {lr}", base.replace(num_hiddens=h, lr=lr), data, seeds[:1])
                for lr in WIDTH_LRS}
        best_lr = min(grid, key=lambda lr: grid[lr]["summary"]["val_ppl"]["mean"])
        chosen = run_seeds(f"{h} hidden, lr {best_lr}", base.replace(num_hiddens=h, lr=best_lr), data, seeds[1:])
        runs = grid[best_lr]["runs"] + chosen["runs"]
        rows.append({"num_hiddens": h, "lr": best_lr, "grid": {str(lr): grid[lr]["runs"][0]["val_ppl"] for lr in grid},
                     "setup": chosen["setup"], "runs": runs,
                     "summary": {key: summary(r[key] for r in runs)
                                 for key in ("val_ppl", "test_ppl", "train_seconds")}})
    return {"seeds": list(seeds), "data": data_sizes(data),
            "results": {"setup": dataclasses.asdict(base), "lrs": list(WIDTH_LRS), "rows": rows,
                        "kneser_ney": best_kn_row(args.out, args.quick)}}


def text_study(args: argparse.Namespace) -> dict:
    """More training text (nn.RNN): the first part of the training text, at the chapter's number of updates,
    over ``STUDY_SEEDS``; Kneser-Ney refitted on the same part for comparison."""
    base = SETUP.replace(kind="nn.RNN", max_epochs=1 if args.quick else SETUP.max_epochs)
    seeds = (0, 1) if args.quick else STUDY_SEEDS
    fractions = (0.5, 1.0) if args.quick else TEXT_FRACTIONS
    kn_row = best_kn_row(args.out, args.quick)
    rows = []
    for fraction in fractions:
        part = load_data(base, args.quick, train_fraction=fraction)
        setup = equal_updates(base, reference=base, fraction=fraction)
        row = {"fraction": fraction, "train_chars": len(part.train_corpus),
               **run_seeds(f"{fraction:.0%} of the training text", setup, part, seeds)}
        if kn_row is not None:
            kn = d2l.NGramLM(kn_row["order"], len(part.vocab), smoothing="kneser-ney", discount=kn_row["discount"])
            kn.fit(part.train_corpus.tolist())
            row["kneser_ney"] = {"val_ppl": kn.perplexity(part.val_corpus.tolist()),
                                 "test_ppl": kn.perplexity(part.test_corpus.tolist())}
        rows.append(row)
    return {"seeds": list(seeds), "data": data_sizes(load_data(base, args.quick)),
            "results": {"setup": dataclasses.asdict(base), "rows": rows, "kneser_ney": kn_row}}


# ------------------------------------------------------------------------------------------------------- timing

def indexing_layer(layer: d2l.RNNScratch, inputs: torch.Tensor) -> torch.Tensor:
    """``RNNScratch``'s recurrence written with ``input_terms[t]`` inside the loop: the first attempt that
    rnn-concise measures. Every selection adds a backward node that writes a full ``(T, B, H)`` gradient."""
    input_terms = inputs @ layer.W_xh + layer.b_h  # (T, B, H)
    state = inputs.new_zeros(inputs.shape[1], layer.num_hiddens)
    outputs = []
    for t in range(inputs.shape[0]):
        state = torch.tanh(torch.addmm(input_terms[t], state, layer.W_hh))
        outputs.append(state)
    return torch.stack(outputs)


LAYER_VARIANTS: dict[str, Callable[[nn.Module, torch.Tensor], torch.Tensor]] = {
    "indexing": lambda layer, X: indexing_layer(layer, X),
    "unbind": lambda layer, X: layer(X)[0],
    "nn.RNN": lambda layer, X: layer(X)[0],
}


def layer_seconds(variant: str, steps: int, batch_size: int, num_hiddens: int, vocab_size: int) -> float:
    """Seconds of one forward and backward pass of the layer alone over one-hot inputs ``(steps, B, V)``."""
    torch.manual_seed(0)
    layer = d2l.RNN(vocab_size, num_hiddens) if variant == "nn.RNN" else d2l.RNNScratch(vocab_size, num_hiddens)
    X = torch.nn.functional.one_hot(torch.randint(vocab_size, (steps, batch_size)), vocab_size).float()
    start = time.perf_counter()
    LAYER_VARIANTS[variant](layer, X).sum().backward()
    return time.perf_counter() - start


def autograd_profile(steps: int, batch_size: int, num_hiddens: int, vocab_size: int) -> dict:
    """Count, for the indexing and the unbind loop, the backward nodes and the zero-filled tensors autograd makes."""
    from torch.profiler import ProfilerActivity, profile
    counts = {}
    for variant in ("indexing", "unbind"):
        layer = d2l.RNNScratch(vocab_size, num_hiddens)
        X = torch.nn.functional.one_hot(torch.randint(vocab_size, (steps, batch_size)), vocab_size).float()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            LAYER_VARIANTS[variant](layer, X).sum().backward()
        names = [event.name for event in prof.events()]
        counts[variant] = {name: names.count(name) for name in
                           ("SelectBackward0", "UnbindBackward0", "aten::zeros", "aten::select_backward",
                            "aten::unbind_backward")}
    return counts


def timing_study(args: argparse.Namespace) -> dict:
    """(a) The layer alone, forward and backward, over T: indexing loop, unbind loop, nn.RNN. (b) Seconds of one
    training epoch (no validation), scratch and nn.RNN alternating who goes first, repeated."""
    V, B, H = 28, SETUP.batch_size, SETUP.num_hiddens
    layer_steps = (8, 16) if args.quick else LAYER_STEPS
    layer_reps = 2 if args.quick else LAYER_REPS
    layer: dict[str, dict[str, list[float]]] = {variant: {} for variant in LAYER_VARIANTS}
    for steps in layer_steps:
        for rep in range(-1, layer_reps):  # rep -1 warms up and is not recorded
            order = list(LAYER_VARIANTS) if rep % 2 == 0 else list(LAYER_VARIANTS)[::-1]
            for variant in order:
                seconds = layer_seconds(variant, steps, B, H, V)
                if rep >= 0:
                    layer[variant].setdefault(str(steps), []).append(seconds)
        log(f"  layer, T = {steps:4d}: " + ", ".join(
            f"{v} {statistics.median(layer[v][str(steps)]) * 1000:.1f} ms" for v in LAYER_VARIANTS))
    layer_stats = {v: {T: quartiles(times) for T, times in by_steps.items()} for v, by_steps in layer.items()}
    profile_steps = 8 if args.quick else 64
    reps = 2 if args.quick else args.reps
    setup = SETUP.replace(max_epochs=1, lr_drop_fraction=0.0)
    data = load_data(setup, args.quick)
    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for rep in range(-1, reps):  # rep -1 warms both up and is not recorded
        for kind in (KINDS if rep % 2 == 0 else KINDS[::-1]):  # alternate who goes first
            _, record = train_one(setup.replace(kind=kind), max(rep, 0), data)  # same seed: same batches
            if rep >= 0:
                seconds[kind].append(record["train_seconds"])
        if rep >= 0:
            log(f"  epoch, repetition {rep}: " + ", ".join(f"{k} {seconds[k][-1]:.2f} s" for k in KINDS))
    stats = {kind: quartiles(seconds[kind]) for kind in KINDS}
    paired = [s / n for s, n in zip(seconds["scratch"], seconds["nn.RNN"])]
    tokens = sum(Y.numel() for _, Y in data.train_dataloader(torch.Generator().manual_seed(0)))
    return {"seeds": list(range(reps)), "data": data_sizes(data),
            "results": {"setup": dataclasses.asdict(setup),
                        "layer": {"batch_size": B, "num_hiddens": H, "num_inputs": V, "repetitions": layer_reps,
                                  "steps": list(layer_steps), "seconds": layer, "stats": layer_stats,
                                  "profile_steps": profile_steps,
                                  "profile": autograd_profile(profile_steps, B, H, V)},
                        "repetitions": reps, "tokens_per_epoch": tokens, "seconds": seconds, "stats": stats,
                        "ratio_of_medians": stats["scratch"]["median"] / stats["nn.RNN"]["median"],
                        "paired_ratios": paired, "paired_ratio_stats": quartiles(paired)}}


# -------------------------------------------------------------------------------------------------------- shell

STUDIES: dict[str, Callable[[argparse.Namespace], dict]] = {
    "ngram": ngram_study, "timing": timing_study, "seeds": seeds_study, "search": search_study,
    "epochs": epochs_study, **{f"width_{h}": functools.partial(width_study, width=h) for h in WIDTHS},
    "text": text_study}


def environment() -> dict:
    """Return package versions and a description of the machine."""
    # Read-only git queries (GIT_OPTIONAL_LOCKS=0: never touch the index): the commit, and whether the package
    # or this script differ from it, in which case the commit alone does not say what code made the file.
    git = {"cwd": STUDIES_DIR, "capture_output": True, "text": True, "timeout": 30,
           "env": {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], **git).stdout.strip() or None
        changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "../d2lmini", "run.py"], **git).returncode
    except (OSError, subprocess.TimeoutExpired):
        commit, changed = None, None
    return {"versions": {"python": platform.python_version(), "torch": torch.__version__,
                         "numpy": np.__version__, "d2lmini": d2l.__version__, "git_commit": commit,
                         "uncommitted_changes": None if commit is None else changed != 0},
            "machine": {"platform": platform.platform(), "processor": platform.machine(),
                        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                        "cpu_capability": torch.backends.cpu.get_cpu_capability()}}


def to_json(record: dict) -> str:
    """Return ``record`` as indented JSON with every list of numbers on one line (short, diff-friendly files)."""
    text = json.dumps(record, indent=1)
    number_list = re.compile(r"\[\s+((?:(?:-?[0-9.eE+-]+|Infinity|-Infinity|NaN|null),\s+)*"
                             r"(?:-?[0-9.eE+-]+|Infinity|-Infinity|NaN|null))\s+\]")
    return number_list.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def run_study(name: str, args: argparse.Namespace, command: str) -> Path:
    """Run one study and write ``<out>/<name>.json``; return its path."""
    log(f"{name}{' (quick)' if args.quick else ''}")
    started = datetime.datetime.now(datetime.UTC)
    start = time.perf_counter()
    found = STUDIES[name](args)
    record = {"study": name, "command": command, "quick": args.quick, "seeds": found.pop("seeds"),
              **environment(), "timestamp": started.isoformat(timespec="seconds"),
              "wall_seconds": time.perf_counter() - start, **found}
    path = args.out / f"{name}.json"
    path.write_text(to_json(record))
    log(f"  wrote {path} ({record['wall_seconds']:.0f} s)")
    return path


def parse_args(argv: list[str]) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quick", action="store_true", help="a tiny slice: one epoch, two configurations")
    common.add_argument("--out", type=Path, default=RESULTS_DIR,
                        help="folder for the JSON files (default: d2lmini/study_results/, the package's data)")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="study", required=True)
    sub.add_parser("ngram", parents=[common], help="add-alpha and Kneser-Ney by order and discount")
    sub.add_parser("search", parents=[common], help="hyperparameters of nn.RNN at equal updates, over seeds")
    seeds = sub.add_parser("seeds", parents=[common], help="the chapter's setup over seeds, and mixed with KN")
    seeds.add_argument("--seeds", type=int, nargs="+", help=f"default: {' '.join(map(str, SEEDS))}")
    seeds.add_argument("--kn-order", type=int, help="default: the best order in ngram.json")
    seeds.add_argument("--kn-discount", type=float, help="default: the best discount in ngram.json")
    sub.add_parser("epochs", parents=[common], help="more epochs, over seeds")
    for h in WIDTHS:
        sub.add_parser(f"width_{h}", parents=[common], help=f"{h} hidden units, learning rate tuned, over seeds")
    sub.add_parser("text", parents=[common], help="more training text at equal updates, over seeds")
    timing = sub.add_parser("timing", parents=[common], help="seconds per training epoch, scratch vs nn.RNN")
    timing.add_argument("--reps", type=int, default=TIMING_REPS, help="timed repetitions per kind")
    sub.add_parser("all", parents=[common], help="every study in turn, with its defaults")
    args = parser.parse_args(argv)
    if args.study == "seeds" and (args.kn_order is None) != (args.kn_discount is None):
        parser.error("pass both --kn-order and --kn-discount, or neither (then ngram.json decides)")
    if args.study == "timing":
        check_int("--reps", args.reps)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the study named on the command line (``all``: every one); return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python studies/run.py " + shlex.join(argv)
    defaults = {"seeds": None, "kn_order": None, "kn_discount": None, "reps": TIMING_REPS}
    for key, value in defaults.items():
        setattr(args, key, getattr(args, key, value))
    with d2l.training.cpu_threads(1):  # every study on one thread (timings included), given back afterwards
        for name in STUDIES if args.study == "all" else [args.study]:
            run_study(name, args, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
