"""The bptt page's trainer in headless Chromium, on the built page: PyTorch's gradients, the Python twin's
training run, the keyboard, and no network.

Needs `_build/html/book/bptt.html` (make test builds the book first) and Debian's chromium.
"""

import time
from pathlib import Path

import pytest
import torch
from test_bptt_trainer import autograd_loss_and_gradients, random_params, rel_err
from test_browser_playground import open_page

from d2lmini.bptt import LM_PARAMS
from d2lmini.bptt_trainer import VOCAB, BPTTTrainer, encode

ROOT = Path(__file__).resolve().parent.parent
BOOK_PAGE = ROOT / "_build" / "html" / "book" / "bptt.html"
pytestmark = pytest.mark.browser
TEXT = "the time traveller smiled round at us then still smiling faintly and with his hands deep in his pockets"


@pytest.fixture(scope="module")
def page(chromium_browser):
    """The built bptt page in the session's Chromium (tests/conftest.py): one Playwright per worker."""
    if not BOOK_PAGE.is_file():
        pytest.fail(f"{BOOK_PAGE} is missing: build the book first (`make html`; make test does it)")
    page, external, errors = open_page(chromium_browser, BOOK_PAGE)
    yield page
    assert external == [], f"the page made network requests: {external[:5]}"
    assert errors == [], errors
    page.close()


def control(root, role):
    return root.locator(f'[data-role="{role}"]')


def wait_idle(page, root, timeout=120):
    page.wait_for_function("el => el.getAttribute('data-state') === 'idle'", arg=root.element_handle(),
                           timeout=timeout * 1000)


def replace_text(page, root, role, text):
    control(root, role).focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.keyboard.type(text)
    page.keyboard.press("Tab")  # leaving the box fires its change event


def test_loss_and_gradients_equal_pytorch(page):
    worst = 0.0
    for seed, (V, H, T) in enumerate([(27, 16, 60), (27, 32, 120), (7, 5, 9)]):
        params = random_params(V, H, seed)
        tokens = torch.randint(0, V, (T,), generator=torch.Generator().manual_seed(seed)).tolist()
        for k in [None, 1, 3, 5]:
            js = page.evaluate("([p, x, k]) => window.d2lmini.bptt.lossAndGradients(p, x, k)",
                               [{n: p.tolist() for n, p in params.items()}, tokens, k])
            loss, grads = autograd_loss_and_gradients(params, tokens, k)
            errors = [abs(js["loss"] - loss) / loss] + [rel_err(js["grads"][n], grads[n]) for n in LM_PARAMS]
            assert max(errors) <= 1e-9, (V, H, T, k, errors)
            worst = max(worst, *errors)
    print(f"\nlargest relative difference between the page and PyTorch autograd (float64): {worst:.1e}")


def test_training_run_equals_the_python_twin_and_the_loss_falls(page):
    root = page.locator("[data-d2lmini-trainer]").first
    replace_text(page, root, "text", TEXT)
    replace_text(page, root, "hidden", "16")
    replace_text(page, root, "seed", "3")
    control(root, "truncation").select_option("5")
    replace_text(page, root, "lr", "1")
    replace_text(page, root, "clip", "1")
    control(root, "reset").click()
    assert control(root, "step").text_content() == "0"
    started = time.perf_counter()
    control(root, "train").click()
    wait_idle(page, root)
    seconds = time.perf_counter() - started
    browser = root.evaluate("el => el.d2lminiTrainer.losses")
    twin = BPTTTrainer(TEXT, num_hiddens=16, truncation=5, lr=1.0, clip=1.0, seed=3)
    twin.train(100)
    assert len(browser) == 100 and control(root, "step").text_content() == "100"
    parts = [abs(a - b) / b for a, b in zip(browser, twin.losses)]
    assert max(parts[:20]) <= 1e-9, parts[:20]
    print(f"\n100 updates ({len(encode(TEXT)) - 1} predictions, 16 units): {seconds:.2f} s in Chromium; "
          f"largest relative difference from BPTTTrainer: {max(parts[:20]):.1e} in updates 1-20, "
          f"{max(parts):.1e} in 1-100")
    shown = float(control(root, "loss").get_attribute("data-value"))
    assert shown == browser[-1] and browser[-1] < 0.6 * browser[0]
    assert control(root, "sample").text_content() == twin.sample(min(120, len(encode(TEXT)) - 1)) \
        or max(parts) > 1e-12  # the sample may differ only where the runs have parted
    norms = root.evaluate("el => el.d2lminiTrainer.last.stateGradNorms")
    assert len(norms) == len(encode(TEXT)) - 1
    assert control(root, "norms-table").text_content().count("t = ") == len(norms)
    assert control(root, "grad-norms").locator("polyline").count() == 1


def test_default_trainer_trains_by_keyboard_and_stays_responsive(page):
    root = page.locator("[data-d2lmini-trainer]").first
    page.reload()
    page.wait_for_load_state("load")
    assert control(root, "truncation").input_value() == "full"
    # Tab order: text, hidden, truncation, lr, clip, seed, train, reset; each with a visible focus ring.
    control(root, "text").focus()
    for role in ["text", "hidden", "truncation", "lr", "clip", "seed", "train", "reset"]:
        assert page.evaluate("() => document.activeElement.getAttribute('data-role')") == role
        assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none", role
        page.keyboard.press("Tab")
    for role, name in [("hidden", "Hidden units"), ("seed", "Seed"), ("lr", "Learning rate (SGD)")]:
        assert root.get_by_role("spinbutton", name=name, exact=True).get_attribute("data-role") == role
    control(root, "truncation").focus()
    page.keyboard.press("ArrowDown")  # full -> blocks of 1
    assert control(root, "truncation").input_value() == "1"
    page.keyboard.press("ArrowUp")
    assert control(root, "truncation").input_value() == "full"
    control(root, "lr").focus()
    page.keyboard.press("ArrowUp")  # a number box steps with the arrow keys
    assert control(root, "lr").input_value() == "1.1"
    page.keyboard.press("ArrowDown")
    assert control(root, "lr").input_value() == "1"
    control(root, "train").focus()
    page.keyboard.press("Enter")
    # While it trains the page keeps answering: a 10 ms timer keeps firing until the run ends.
    gaps = page.evaluate("""el => new Promise(done => {
        const stamps = [performance.now()];
        const id = setInterval(() => {
          stamps.push(performance.now());
          if (el.getAttribute("data-state") === "idle") {
            clearInterval(id);
            done(stamps.slice(1).map((t, i) => t - stamps[i]).sort((a, b) => a - b));
          }
        }, 10); })""", root.element_handle())
    median, longest, total = gaps[len(gaps) // 2], gaps[-1], sum(gaps)
    print(f"\ntimer gaps while training: median {median:.0f} ms, longest {longest:.0f} ms, {len(gaps)} ticks "
          f"in {total:.0f} ms")
    # Work in chunks: the timer keeps firing through the run, and no chunk holds the page for a large part of it.
    # (Relative, not in milliseconds, so that a slow or busy machine, which stretches every chunk, still passes;
    # one blocking run would give a single gap as long as the whole run.)
    assert len(gaps) >= 5 and longest < total / 2, gaps
    wait_idle(page, root)
    first = root.evaluate("el => el.d2lminiTrainer.losses.slice()")
    page.keyboard.press(" ")  # the train button keeps focus: Space continues for another 100 updates
    wait_idle(page, root)
    losses = root.evaluate("el => el.d2lminiTrainer.losses")
    assert len(first) == 100 and len(losses) == 200 and losses[:100] == first
    assert losses[-1] < 0.5 * losses[0]
    assert "(not trained yet)" not in control(root, "loss").text_content()
    control(root, "reset").focus()
    page.keyboard.press("Enter")
    assert control(root, "step").text_content() == "0"
    assert root.evaluate("el => el.d2lminiTrainer.losses.length") == 0
    sample = control(root, "sample").text_content()
    assert sample and set(sample) <= set(VOCAB)


def test_bad_settings_are_explained_not_trained(page):
    root = page.locator("[data-d2lmini-trainer]").first
    replace_text(page, root, "hidden", "1000")
    assert "Hidden units must be" in control(root, "message").text_content()
    replace_text(page, root, "hidden", "8")
    replace_text(page, root, "lr", "-1")
    control(root, "train").click()
    wait_idle(page, root)
    assert "learning rate" in control(root, "message").text_content()
    assert root.evaluate("el => el.d2lminiTrainer.losses.length") == 0
    replace_text(page, root, "lr", "1")
    replace_text(page, root, "text", "!!!")
    assert "training text" in control(root, "message").text_content()
