"""The chapter's benchmark: speed and quality figures, printed and written to bench/results.json.

Usage: python bench/run.py [--skip-notebooks] [--skip-book] [--skip-training] [--make-test-seconds S]
                           [--history CSV | --no-history]

Targets (2-core CPU) are reported next to each figure; nothing here fails on a miss. Each run appends its
figures, with the commit, date and machine, to bench/history.csv and prints the change against the previous
run on the same machine (bench/history.py). `make test`'s time is not measured here: pass it with
--make-test-seconds or the MAKE_TEST_SECONDS environment variable (`make bench MAKE_TEST_SECONDS=455`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import d2lmini as d2l

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import history  # noqa: E402  (bench/history.py, beside this file)
from run_notebooks import run as run_notebook  # noqa: E402

# The setup the rnn-scratch and rnn-concise pages train with, defined once in d2lmini/chapter.py.
SETUP = d2l.CHAPTER


def notebook_times() -> dict[str, float]:
    """Execute a copy of every page in a fresh kernel; return seconds per page."""
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for page in sorted((ROOT / "book").glob("*.ipynb")):
            copy = Path(tmp) / page.name
            shutil.copy(page, copy)
            times[page.stem] = round(run_notebook(copy), 1)
            print(f"  {page.stem:16s} {times[page.stem]:6.1f} s", flush=True)
    return times


def throughput(num_updates: int = 30) -> dict[str, float]:
    """Characters per second of training for the scratch and nn.RNN models at the chapter's size.

    Measured on the chapter's thread count (``d2l.chapter.THREADS``) and on torch's default, to show why the
    chapter trains on one thread.
    """
    data = SETUP.data()
    V = len(data.vocab)
    batches = [b for b, _ in zip(data.train_dataloader(torch.Generator().manual_seed(0)), range(num_updates))]
    result = {}
    default = torch.get_num_threads()
    for threads, suffix in [(d2l.chapter.THREADS, ""), (default, f" at {default} threads")]:
        for name, model in [(kind, SETUP.replace(kind=kind).model(V)) for kind in d2l.chapter.KINDS]:
            optimizer = model.configure_optimizers()
            best = float("inf")
            with d2l.training.cpu_threads(threads):
                for _ in range(3):  # best of three passes over the same batches
                    start = time.perf_counter()
                    chars = 0
                    for X, Y in batches:
                        loss = model.loss(model(X), Y)
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                        chars += Y.numel()
                    best = min(best, time.perf_counter() - start)
            result[name + suffix] = round(chars / best)
    result["scratch_over_nnrnn_time_per_char"] = round(result["nn.RNN"] / result["scratch"], 3)
    return result


def kneser_ney_time() -> float:
    """Seconds to fit the 7-gram Kneser-Ney model and compute ``next_token_probs`` on the test text (issue: <= 1 s)."""
    data = SETUP.data()
    train, test = data.train_corpus.tolist(), data.test_corpus.tolist()
    start = time.perf_counter()
    d2l.NGramLM(7, len(data.vocab), smoothing="kneser-ney", discount=0.9).fit(train).next_token_probs(test)
    return round(time.perf_counter() - start, 3)


def quality(train_rnns: bool = True) -> dict:
    """Validation and test perplexity of the n-gram baselines and (``train_rnns``) of the chapter's RNNs, 80/10/10."""
    data = SETUP.data()
    V = len(data.vocab)
    out = {"ngram": {}}
    train, val, test = data.train_corpus.tolist(), data.val_corpus.tolist(), data.test_corpus.tolist()
    for smoothing, orders in [("add-alpha", range(1, 8)), ("kneser-ney", range(4, 9))]:
        for order in orders:
            start = time.perf_counter()
            lm = d2l.NGramLM(order, V, smoothing=smoothing, alpha=0.1, discount=0.9).fit(train)
            ppl = lm.perplexity(val)
            out["ngram"][f"{smoothing} {order}-gram"] = {
                "val_ppl": round(ppl, 3), "test_ppl": round(lm.perplexity(test), 3),
                "seconds": round(time.perf_counter() - start, 2)}
    kn = d2l.NGramLM(7, V, smoothing="kneser-ney", discount=0.9).fit(train)
    start = time.perf_counter()
    kn.next_token_probs(val)  # the full distribution at every validation position
    out["kneser_ney_next_token_probs_seconds"] = round(time.perf_counter() - start, 2)
    for name in d2l.chapter.KINDS if train_rnns else []:
        model, trainer = SETUP.replace(kind=name).train(data, seed=0)
        out[name] = {"val_ppl": round(trainer.history["val_ppl"][-1], 3),
                     "test_ppl": round(d2l.perplexity(model, data.test_dataloader()), 3),
                     "best_epoch_val_ppl": round(min(trainer.history["val_ppl"]), 3),
                     "train_seconds": round(trainer.train_time, 1)}
        print(f"  {name:8s} val ppl {out[name]['val_ppl']:.3f}, test {out[name]['test_ppl']:.3f} "
              f"in {out[name]['train_seconds']:.1f} s", flush=True)
    return out


def book_build() -> dict:
    """Time `make book` with the existing .venv (setup is a no-op) and find the largest page."""
    start = time.perf_counter()
    subprocess.run(["make", "-s", "book"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    pages = sorted((ROOT / "_build" / "html").rglob("*.html"), key=lambda p: p.stat().st_size)
    largest = pages[-1]
    return {"seconds": round(seconds, 1), "largest_page": str(largest.relative_to(ROOT)),
            "largest_page_bytes": largest.stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--skip-book", action="store_true")
    parser.add_argument("--skip-training", action="store_true", help="no throughput and no RNN training")
    parser.add_argument("--make-test-seconds", type=float, default=os.environ.get("MAKE_TEST_SECONDS") or None,
                        help="make test's wall time, measured elsewhere, for the history (default: $MAKE_TEST_SECONDS)")
    parser.add_argument("--history", type=Path, default=ROOT / "bench" / "history.csv")
    parser.add_argument("--no-history", action="store_true", help="do not append this run to the history")
    args = parser.parse_args()
    results = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                           "threads": torch.get_num_threads(), "processor": platform.machine()},
               "setup": dataclasses.asdict(SETUP)}
    if args.make_test_seconds is not None:
        results["make_test_seconds"] = args.make_test_seconds
    if not args.skip_notebooks:
        print("1. Fresh-kernel execution time per notebook")
        results["notebooks"] = notebook_times()
        results["notebooks_total"] = round(sum(results["notebooks"].values()), 1)
    if not args.skip_training:
        print("2. Training throughput (characters per second)")
        results["throughput"] = throughput()
    print("3. Validation and test perplexity (80/10/10 split)")
    results["kneser_ney_fit_and_test_probs_seconds"] = kneser_ney_time()  # first, while nothing is cached
    results["quality"] = quality(train_rnns=not args.skip_training)
    if not args.skip_book:
        print("4. make book with an existing environment")
        results["book"] = book_build()
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_summary(results)
    if not args.no_history:
        history.record(args.history, figures(results))
    return 0


def figures(r: dict) -> dict[str, object]:
    """The row of bench/history.csv for results ``r`` (see bench/history.py for the columns); None: not measured."""
    q, t = r["quality"], r.get("throughput", {})
    row = {"torch": r["machine"]["torch"], "threads": r["machine"]["threads"],
           "make_test_s": r.get("make_test_seconds"), "chapter_s": r.get("notebooks_total"),
           "book_build_s": r.get("book", {}).get("seconds"),
           "scratch_train_s": q.get("scratch", {}).get("train_seconds"),
           "nnrnn_train_s": q.get("nn.RNN", {}).get("train_seconds"),
           "scratch_val_ppl": q.get("scratch", {}).get("val_ppl"), "nnrnn_val_ppl": q.get("nn.RNN", {}).get("val_ppl"),
           "scratch_chars_per_s": t.get("scratch"), "nnrnn_chars_per_s": t.get("nn.RNN"),
           "kn7_fit_and_test_probs_s": r["kneser_ney_fit_and_test_probs_seconds"],
           "kn7_val_probs_s": q["kneser_ney_next_token_probs_seconds"]}
    return row | {f"page_{page}_s": seconds for page, seconds in r.get("notebooks", {}).items()}


def print_summary(r: dict) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("\nSummary (targets for a 2-core CPU)")
    if "notebooks" in r:
        for page, seconds in r["notebooks"].items():
            print(f"  notebook {page:16s} {seconds:7.1f} s")
        print(f"  notebooks total          {r['notebooks_total']:7.1f} s   target <= 60 s: "
              f"{verdict(r['notebooks_total'] <= 60)}")
    if "throughput" in r:
        t = r["throughput"]
        default = r["machine"]["threads"]
        for name in d2l.chapter.KINDS:
            print(f"  {name:8s} throughput      {t[name]:7d} chars/s on {d2l.chapter.THREADS} thread(s) "
                  f"(the chapter's), {t[f'{name} at {default} threads']:7d} on {default} (torch's default)")
        ratio = t["scratch_over_nnrnn_time_per_char"]
        print(f"  scratch / nn.RNN time per char {ratio:.2f}   target <= 1.5: {verdict(ratio <= 1.5)}")
    q = r["quality"]
    best_ngram = min(q["ngram"].items(), key=lambda kv: kv[1]["val_ppl"])  # chosen on validation
    for order, v in q["ngram"].items():
        print(f"  {order:22s} val ppl {v['val_ppl']:.3f}  test ppl {v['test_ppl']:.3f}")
    print(f"  Kneser-Ney next_token_probs on validation: {q['kneser_ney_next_token_probs_seconds']:.2f} s "
          "(target <= 5 s)")
    kn = r["kneser_ney_fit_and_test_probs_seconds"]
    print(f"  Kneser-Ney 7-gram fit + next_token_probs on test: {kn:.2f} s   target <= 1 s: {verdict(kn <= 1)}")
    for name in [name for name in ("scratch", "nn.RNN") if name in q]:
        v = q[name]
        ok = v["val_ppl"] <= 4.5 and v["train_seconds"] <= 60
        print(f"  RNN {name:8s}            val ppl {v['val_ppl']:.3f}, test {v['test_ppl']:.3f} after "
              f"{v['train_seconds']:.1f} s of training; target <= 4.5 in <= 60 s: {verdict(ok)}; gap to the best "
              f"n-gram ({best_ngram[0]}, test {best_ngram[1]['test_ppl']:.3f}): "
              f"{v['test_ppl'] - best_ngram[1]['test_ppl']:+.3f}")
    if "book" in r:
        b = r["book"]
        print(f"  make book (existing env) {b['seconds']:7.1f} s   target <= 60 s: {verdict(b['seconds'] <= 60)}")
        print(f"  largest page {b['largest_page']}: {b['largest_page_bytes'] / 1e6:.2f} MB   "
              f"target <= 2 MB: {verdict(b['largest_page_bytes'] <= 2_000_000)}")
    print("Written to bench/results.json")


if __name__ == "__main__":
    sys.exit(main())
