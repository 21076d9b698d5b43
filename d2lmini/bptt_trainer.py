"""Train a small character RNN on one text, with full or truncated BPTT: the bptt page's trainer.

The same computation exists twice, so that the page's prose can quote what its trainer will do:

* ``BPTTTrainer`` here, in float64 with PyTorch: plain SGD on the mean cross-entropy of one text, with the
  gradients of ``d2lmini.bptt.lm_loss_and_gradients`` clipped to a global norm;
* ``templates/bptt_trainer.js``, the same math in the reader's browser (``window.d2lmini.bptt``), driven by
  the controls of ``bptt_trainer(...)``, which needs no kernel.

Both start from the same weights (``init_params``: a seeded mulberry32 generator, written in both languages
with exact 32-bit integer arithmetic) and take the same steps, so their losses agree to rounding.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import math
import string
from collections.abc import Callable
from importlib import resources

import torch

from d2lmini.bptt import LM_PARAMS, LMGrads, lm_loss_and_gradients
from d2lmini.checks import check_int, check_real
from d2lmini.text import preprocess

VOCAB = " abcdefghijklmnopqrstuvwxyz"  # what preprocess leaves: a space and the 26 lowercase letters
TRUNCATIONS = (None, 1, 2, 3, 5, 10, 20, 50)  # the choices of the page's menu; None is full BPTT
MIN_HIDDEN, MAX_HIDDEN = 4, 64
MIN_LR, MAX_LR = 0.01, 10.0
MAX_CLIP = 100.0
MAX_CHARS = 1000
MAX_SEED = 2**32 - 1
STEPS_PER_PRESS = 100
SAMPLE_LENGTH = 120
_MASK = 0xFFFFFFFF


def mulberry32(seed: int) -> Callable[[], float]:
    """Return a generator of floats in ``[0, 1)``: mulberry32 seeded with ``seed``, as the page's script runs it.

    Raises:
        ValueError: ``seed`` outside ``[0, 2**32)``.
    """
    state = check_int("seed", seed, minimum=0, maximum=MAX_SEED)

    def draw() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & _MASK
        z = ((state ^ (state >> 15)) * (state | 1)) & _MASK
        z = (z ^ ((z + (((z ^ (z >> 7)) * (z | 61)) & _MASK)) & _MASK)) & _MASK
        return (z ^ (z >> 14)) / 4294967296

    return draw


def init_params(num_hiddens: int, seed: int, vocab_size: int = len(VOCAB)) -> dict[str, torch.Tensor]:
    """Return the trainer's initial weights (float64), the same as the page's script draws for ``seed``.

    ``W_xh (V, H)`` is uniform in ``(-1, 1)``; ``W_hh (H, H)`` and ``W_hq (H, V)`` are uniform in
    ``(-1/sqrt(H), 1/sqrt(H))``; they are drawn in that order, row by row, from ``mulberry32(seed)``.
    ``b_h`` and ``b_q`` are zero.

    Raises:
        ValueError: ``num_hiddens`` or ``vocab_size`` below 1, or a seed outside ``[0, 2**32)``.
    """
    H, V = check_int("num_hiddens", num_hiddens), check_int("vocab_size", vocab_size)
    draw, scale = mulberry32(seed), 1 / math.sqrt(H)

    def uniform(rows: int, cols: int, bound: float) -> torch.Tensor:
        return torch.tensor([bound * (2 * draw() - 1) for _ in range(rows * cols)], dtype=torch.float64).reshape(
            rows, cols)

    W_xh, W_hh, W_hq = uniform(V, H, 1.0), uniform(H, H, scale), uniform(H, V, scale)
    return {"W_xh": W_xh, "W_hh": W_hh, "b_h": torch.zeros(H, dtype=torch.float64),
            "W_hq": W_hq, "b_q": torch.zeros(V, dtype=torch.float64)}


def encode(text: str) -> list[int]:
    """Preprocess ``text`` like the corpus and return its characters as indices into ``VOCAB``."""
    return [VOCAB.index(ch) for ch in preprocess(text)]


def _check_truncation(truncation: int | None) -> int | None:
    return None if truncation is None else check_int("truncation", truncation)


class BPTTTrainer:
    """SGD on one text with full or truncated BPTT and gradient clipping: the page's trainer, in Python.

    Each ``step`` computes ``lm_loss_and_gradients(params, tokens, truncation)``, scales the gradients by
    ``min(1, clip / norm)`` (``norm`` the global norm of all five; ``clip = 0`` turns clipping off) and
    subtracts ``lr`` times the result.

    Attributes:
        vocab: ``VOCAB``, the characters the model reads and writes (a class attribute).
        tokens: the text as indices into ``VOCAB``. params: the current weights (float64 tensors).
        losses: the loss before each update. grad_norms: the global gradient norm of each update, before
            clipping. clipped: whether each update was clipped. last: the ``LMGrads`` of the last update.
    """

    vocab = VOCAB

    def __init__(self, text: str, num_hiddens: int = 32, truncation: int | None = None, lr: float = 1.0,
                 clip: float = 1.0, seed: int = 0) -> None:
        self.tokens = encode(text)
        if not 2 <= len(self.tokens) <= MAX_CHARS:
            raise ValueError(f"text must have from 2 to {MAX_CHARS} characters after preprocessing, "
                             f"got {len(self.tokens)}")
        self.num_hiddens = check_int("num_hiddens", num_hiddens, minimum=MIN_HIDDEN, maximum=MAX_HIDDEN)
        self.truncation = _check_truncation(truncation)
        self.lr = check_real("lr", lr, minimum=MIN_LR, maximum=MAX_LR)
        self.clip = check_real("clip", clip, minimum=0, maximum=MAX_CLIP, hint="0 turns clipping off")
        self.seed = check_int("seed", seed, minimum=0, maximum=MAX_SEED)
        self.params = init_params(self.num_hiddens, self.seed)
        self.losses: list[float] = []
        self.grad_norms: list[float] = []
        self.clipped: list[bool] = []
        self.last: LMGrads | None = None

    def step(self) -> float:
        """Take one update and return the loss before it."""
        out = lm_loss_and_gradients(self.params, self.tokens, self.truncation)
        norm = math.sqrt(sum(float((g * g).sum()) for g in out.grads.values()))
        clipped = self.clip > 0 and norm > self.clip
        factor = self.lr * (self.clip / norm if clipped else 1.0)  # the script multiplies in the same order
        for name in LM_PARAMS:
            self.params[name] = self.params[name] - factor * out.grads[name]
        self.losses.append(out.loss)
        self.grad_norms.append(norm)
        self.clipped.append(clipped)
        self.last = out
        return out.loss

    def train(self, steps: int = STEPS_PER_PRESS) -> list[float]:
        """Take ``steps`` updates (one press of the page's train button by default); return their losses."""
        return [self.step() for _ in range(check_int("steps", steps))]

    def sample(self, length: int = SAMPLE_LENGTH) -> str:
        """Return the text's first character and ``length`` more, drawn from the model at temperature 1.

        Draws come from ``mulberry32(seed)`` by inverse transform sampling, as the page's sample line does.
        """
        check_int("length", length, minimum=0)
        draw, p = mulberry32(self.seed), self.params
        x, h, out = self.tokens[0], torch.zeros(self.num_hiddens, dtype=torch.float64), [VOCAB[self.tokens[0]]]
        for _ in range(length):
            h = torch.tanh(p["W_xh"][x] + p["b_h"] + h @ p["W_hh"])
            logits = (h @ p["W_hq"] + p["b_q"]).tolist()
            top = max(logits)
            weights = [math.exp(value - top) for value in logits]
            total, u, cumulative, x = sum(weights), draw(), 0.0, len(weights) - 1
            for v, w in enumerate(weights):
                cumulative += w / total
                if u < cumulative:
                    x = v
                    break
            out.append(VOCAB[x])
        return "".join(out)


@functools.cache
def _template(name: str) -> str:
    return (resources.files("d2lmini") / "templates" / name).read_text(encoding="utf-8")


class TrainerView:
    """The page's trainer for one text; build it with ``bptt_trainer``. Its display is self-contained HTML."""

    def __init__(self, text: str, num_hiddens: int, truncation: int | None, lr: float, clip: float,
                 seed: int) -> None:
        BPTTTrainer(text, num_hiddens, truncation, lr, clip, seed)  # the same checks as the Python twin
        if truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of the menu's choices {TRUNCATIONS}, got {truncation!r}")
        self.text, self.num_hiddens, self.truncation = text, num_hiddens, truncation
        self.lr, self.clip, self.seed = lr, clip, seed

    def html(self) -> str:
        """Return the trainer's HTML: controls, charts, the style and the script (no kernel, no network)."""
        key = json.dumps([self.text, self.num_hiddens, self.truncation, self.lr, self.clip, self.seed])
        uid = "d2lmini-trainer-" + hashlib.sha1(key.encode()).hexdigest()[:12]
        options = "".join(
            f'<option value="{"full" if k is None else k}"{" selected" if k == self.truncation else ""}>'
            f'{"full BPTT" if k is None else f"blocks of {k}"}</option>' for k in TRUNCATIONS)
        settings = {"vocab": VOCAB, "min_hidden": MIN_HIDDEN, "max_hidden": MAX_HIDDEN, "min_lr": MIN_LR,
                    "max_lr": MAX_LR, "max_clip": MAX_CLIP, "max_chars": MAX_CHARS,
                    "steps_per_press": STEPS_PER_PRESS, "sample_length": SAMPLE_LENGTH}
        return string.Template(_template("bptt_trainer.html")).substitute(
            uid=uid, uid_json=json.dumps(uid), css=_template("bptt_trainer.css"),
            script=_template("bptt_trainer.js"), settings_json=json.dumps(settings),
            text=html.escape(self.text), max_text=4 * MAX_CHARS, hidden=self.num_hiddens, min_hidden=MIN_HIDDEN,
            max_hidden=MAX_HIDDEN, options=options, lr=f"{self.lr:g}", max_lr=MAX_LR,
            clip=f"{self.clip:g}", max_clip=MAX_CLIP, seed=self.seed, max_seed=MAX_SEED,
            steps=STEPS_PER_PRESS)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        k = "full BPTT" if self.truncation is None else f"blocks of {self.truncation}"
        return (f"bptt_trainer({len(encode(self.text))} characters, {self.num_hiddens} hidden units, {k}, "
                f"lr {self.lr:g}, clip {self.clip:g}, seed {self.seed})")


def bptt_trainer(text: str, num_hiddens: int = 32, truncation: int | None = None, lr: float = 1.0,
                 clip: float = 1.0, seed: int = 0) -> TrainerView:
    """Let the reader train a character RNN on ``text`` in the page, with full or truncated BPTT.

    The display is HTML and JavaScript only, the same in the HTML book, JupyterLab and Colab: the training
    runs in the browser (``templates/bptt_trainer.js``), never in the kernel. ``BPTTTrainer`` with the same
    arguments computes, in Python, what the reader's first presses of the train button will show.

    Args:
        text: the training text (preprocessed like the corpus; 2 to 1000 characters after that).
        num_hiddens: hidden units, 4 to 64. truncation: ``None`` (full BPTT) or one of ``TRUNCATIONS``.
        lr: SGD's learning rate, 0.01 to 10. clip: the global gradient norm to clip at; 0 turns clipping off.
        seed: the seed of the initial weights and of the sample, ``0 <= seed < 2**32``.

    Returns:
        A ``TrainerView``; make it the last expression of a cell to display it.

    Raises:
        ValueError: a setting out of range, a truncation not on the menu, or a text that is too short or too long.
    """
    return TrainerView(text, num_hiddens, truncation, lr, clip, seed)
