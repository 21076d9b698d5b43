"""A character RNN to play with: type a prefix, see the next-character distribution, sample with temperature.

``playground(model, vocab)`` returns an object whose display carries two views, as
``d2lmini.widgets.explore`` does:

* ``application/vnd.jupyter.widget-view+json``: ipywidgets controls whose output the
  kernel computes with the model itself (Jupyter, Colab; core widgets of 7.7.1 and 8.x).
* ``text/html``: the model's weights embedded as JSON (``export_model``) and a short
  script that runs the same forward pass in the browser, in float64. It needs no
  kernel and no network; markup, style and script are ``d2lmini/templates/playground.*``.

Both views show the same probabilities. Sampled text differs between them: the
browser draws with a seeded mulberry32 generator, the kernel with a seeded
``torch.Generator``; each reproduces its own text for a given seed. At temperature 0
(greedy) there is no randomness and the two agree.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
import string
from importlib import resources
from itertools import count

import torch
from torch import nn

from d2lmini.checks import check_int, check_str, check_temperature, check_vocab
from d2lmini.models import RNN, RNNLM, RNNLMScratch, RNNScratch, eval_mode
from d2lmini.text import preprocess
from d2lmini.vocab import Vocab
from d2lmini.widgets import TwoViews

MAX_STATIC_BYTES = 200_000
MAX_TEMPERATURE = 2.0
TEMPERATURE_STEP = 0.05
MAX_LENGTH = 1000
MAX_PREFIX = 500
MAX_SEED = 2**32 - 1
TOP = 10
_instances = count()


def _encode(tensor: torch.Tensor) -> dict:
    """``{"shape": [...], "data": base64 of little-endian float32}`` for one weight tensor."""
    array = tensor.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4")
    return {"shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def _recurrent_weights(rnn: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(W_xh (V, H), W_hh (H, H), b_h (H))`` of an ``RNNScratch`` or a one-layer tanh ``RNN``."""
    if isinstance(rnn, RNNScratch):
        return rnn.W_xh, rnn.W_hh, rnn.b_h
    if isinstance(rnn, RNN):
        layer = rnn.rnn
        if layer.num_layers != 1 or layer.bidirectional or layer.nonlinearity != "tanh" or layer.proj_size:
            raise ValueError("the playground runs a one-layer, one-directional tanh nn.RNN; this one has "
                             f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}, "
                             f"nonlinearity={layer.nonlinearity!r}")
        if not layer.bias:
            zeros = torch.zeros(layer.hidden_size)
            return layer.weight_ih_l0.T, layer.weight_hh_l0.T, zeros
        # nn.RNN stores W_xh and W_hh transposed, (H, V) and (H, H), and adds two biases.
        return layer.weight_ih_l0.T, layer.weight_hh_l0.T, layer.bias_ih_l0 + layer.bias_hh_l0
    raise TypeError(f"the playground runs d2lmini's RNNScratch or RNN layers, got a {type(rnn).__name__}")


def export_model(model: nn.Module, vocab: Vocab) -> dict:
    """Return the weights of a character RNN language model as a JSON-ready dict.

    Keys: ``vocab`` (the tokens in index order), ``num_hiddens``, and ``W_xh`` (V×H),
    ``W_hh`` (H×H), ``b_h`` (H), ``W_hq`` (H×V), ``b_q`` (V), each
    ``{"shape": [...], "data": base64 of little-endian float32}``, such that
    ``h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h)`` and ``logits = h_t W_hq + b_q``.
    For ``nn.RNN`` the weights are transposed and ``b_h`` is the sum of its two biases;
    an ``nn.Linear`` read-out gives ``W_hq = weight.T`` and ``b_q = bias``.

    Raises:
        TypeError: ``model`` is not an ``RNNLMScratch`` or ``RNNLM`` over an ``RNNScratch``
            or ``RNN``, or ``vocab`` is not a ``Vocab``.
        ValueError: a multi-layer or bidirectional ``nn.RNN``, a vocabulary whose size is
            not the model's or whose tokens are not those the model was trained with
            (``model.vocab``, set by ``Trainer.fit``), or a vocabulary of words rather than characters.
    """
    if not isinstance(model, RNNLMScratch):
        raise TypeError("the playground runs a d2lmini character language model (RNNLMScratch or RNNLM), "
                        f"got a {type(model).__name__}")
    check_vocab(vocab, model.vocab_size, getattr(model, "vocab", None))
    tokens = vocab.idx_to_token
    if not all(isinstance(t, str) and (len(t) == 1 or re.fullmatch(r"<\w+>", t)) for t in tokens):
        words = [t for t in tokens if not (isinstance(t, str) and len(t) == 1)][:3]
        raise ValueError(f"the playground reads characters, but the vocabulary has tokens such as {words}; "
                         "pass a character vocabulary")
    W_xh, W_hh, b_h = _recurrent_weights(model.rnn)
    if isinstance(model, RNNLM):
        W_hq, b_q = model.linear.weight.T, model.linear.bias  # nn.Linear stores (V, H)
    else:
        W_hq, b_q = model.W_hq, model.b_q
    return {"vocab": list(tokens), "num_hiddens": int(W_hh.shape[0]),
            "W_xh": _encode(W_xh), "W_hh": _encode(W_hh), "b_h": _encode(b_h),
            "W_hq": _encode(W_hq), "b_q": _encode(b_q)}


@functools.cache
def _template(name: str) -> str:
    """One of the ``templates/playground.*`` files, read once from the package."""
    return (resources.files("d2lmini") / "templates" / name).read_text(encoding="utf-8")


def _ignored(prefix: str) -> list[str]:
    """The distinct characters of ``prefix`` that preprocessing removes, in order of appearance."""
    return list(dict.fromkeys(ch for ch in prefix if not re.fullmatch("[A-Za-z ]", ch)))


def _show(token: str) -> str:
    return "\u2423 (space)" if token == " " else token


class Playground(TwoViews):
    """A character language model to play with; build it with ``playground``.

    Attributes:
        model, vocab: the language model and its vocabulary.
        prefix, temperature, length, seed: the settings both views start from;
            the live view updates them as the reader changes its controls.
        exported: the weights as ``export_model`` gives them, taken when the playground
            was made (the static view embeds these).
    """

    def __init__(self, model: RNNLMScratch, vocab: Vocab, prefix: str = "the time traveller ",
                 temperature: float = 0.75, length: int = 120, seed: int = 0,
                 max_bytes: int = MAX_STATIC_BYTES) -> None:
        check_str("prefix", prefix)
        if len(prefix) > MAX_PREFIX:
            raise ValueError(f"prefix has {len(prefix)} characters; keep it to at most {MAX_PREFIX}")
        temperature = check_temperature(temperature)
        if temperature > MAX_TEMPERATURE:
            raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE} (the slider's range), "
                             f"got {temperature}")
        check_int("length", length, minimum=0)
        if length > MAX_LENGTH:
            raise ValueError(f"length must be at most {MAX_LENGTH}, got {length}")
        check_int("seed", seed, minimum=0)
        if seed > MAX_SEED:
            raise ValueError(f"seed must be at most 2**32 - 1, got {seed}")
        check_int("max_bytes", max_bytes)
        self.exported = export_model(model, vocab)
        self.model, self.vocab, self.max_bytes = model, vocab, max_bytes
        # Snap to the slider's grid, so that both views start where their sliders can be.
        self.temperature = round(round(temperature / TEMPERATURE_STEP) * TEMPERATURE_STEP, 2)
        self.prefix, self.length, self.seed = prefix, length, seed
        self._instance = next(_instances)
        self._html: str | None = None
        self._widget = None

    # What the model says, computed by the kernel ------------------------------

    def distribution(self, prefix: str, temperature: float) -> torch.Tensor:
        """Return the next-character probabilities ``(V,)`` (float64) after ``prefix``.

        The prefix is preprocessed like the corpus; the model reads it from a zero
        state. ``temperature == 0`` puts all the mass on the most likely character.

        Raises:
            TypeError: ``prefix`` is not a str.
            ValueError: an empty prefix, a character outside the vocabulary, or a bad temperature.
        """
        temperature = check_temperature(temperature)
        text = preprocess(prefix)
        if not text:
            raise ValueError("prefix is empty; give at least one character to start from")
        unknown = sorted({ch for ch in text if ch not in self.vocab})
        if unknown:
            raise ValueError(f"prefix has characters outside the vocabulary: {unknown}")
        device = next(self.model.parameters()).device
        with eval_mode(self.model), torch.no_grad():
            X = torch.tensor([self.vocab[list(text)]], device=device)  # (1, T)
            logits = self.model(X)[0, -1].double().cpu()  # (V,)
        if temperature == 0:
            return nn.functional.one_hot(logits.argmax(), len(logits)).double()
        return torch.softmax(logits / temperature, dim=0)

    def continuation(self, prefix: str, temperature: float, length: int, seed: int) -> str:
        """Return the preprocessed ``prefix`` and ``length`` characters the model writes after it.

        Sampling uses ``torch.Generator().manual_seed(seed)``. Raises as ``RNNLMScratch.predict``, and
        ``ValueError`` for a seed outside ``[0, 2**32)``.
        """
        check_int("seed", seed, minimum=0, maximum=MAX_SEED)
        generator = torch.Generator().manual_seed(seed)
        return self.model.predict(prefix, length, self.vocab, temperature=temperature, generator=generator)

    def live_html(self, prefix: str, temperature: float, length: int, seed: int) -> str:
        """Return the live view's output: notes, the top-10 table, the entropy and the continuation."""
        notes = []
        ignored = _ignored(prefix)
        if ignored:
            shown = ("tab" if c == "\t" else f"\u201c{c}\u201d" for c in ignored)
            notes.append("Ignored, as in the training text: " + " ".join(shown) + ".")
        try:
            probs = self.distribution(prefix, temperature)  # (V,)
            text = self.continuation(prefix, temperature, length, seed)
        except ValueError as err:
            return f'<p data-role="message">{html.escape(" ".join([*notes, str(err)]))}</p>'
        order = sorted(range(len(probs)), key=lambda v: (-float(probs[v]), v))[:TOP]
        rows = "".join(
            f'<tr data-char="{html.escape(self.vocab.idx_to_token[v])}" data-prob="{float(probs[v])!r}">'
            f"<td>{html.escape(_show(self.vocab.idx_to_token[v]))}</td>"
            f'<td style="font-family:monospace">{float(probs[v]):.4f}</td>'
            f'<td style="width:12em"><div style="height:0.8em;background:#1a5fb4;'
            f'width:{100 * float(probs[v]):.2f}%"></div></td></tr>' for v in order)
        bits = -sum(float(p) * math.log2(float(p)) for p in probs if p > 0)
        start = preprocess(prefix)
        return (f'<p data-role="message">{html.escape(" ".join(notes))}</p>'
                f'<table data-role="probs"><caption>The ten most likely next characters at temperature '
                f"{temperature:.2f}</caption><tbody>{rows}</tbody></table>"
                f'<p data-role="entropy" data-entropy-bits="{bits!r}">Entropy: {bits:.3f} bits</p>'
                f'<p data-role="continuation" style="font-family:monospace;white-space:pre-wrap">'
                f"{html.escape(start)}<mark>{html.escape(text[len(start):])}</mark></p>"
                f"<p>seed {seed}</p>")

    # The static view ---------------------------------------------------------

    def static_html(self) -> str:
        """Return the kernel-free HTML view: controls, the embedded weights and the script (cached).

        Raises:
            ValueError: the HTML exceeds ``max_bytes`` (a model too large to embed).
        """
        if self._html is not None:
            return self._html
        # The id depends on what is the same on every machine, never on trained weights.
        key = json.dumps([self.exported["vocab"], self.exported["num_hiddens"], self.prefix, self.temperature,
                          self.length, self.seed, self._instance])
        uid = "d2lmini-playground-" + hashlib.sha1(key.encode()).hexdigest()[:12]
        # Inside <script>, "</" would end the element: escape the characters HTML looks at.
        model_json = json.dumps(self.exported, separators=(",", ":"))
        model_json = model_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        page = string.Template(_template("playground.html")).substitute(
            uid=uid, uid_json=json.dumps(uid), css=_template("playground.css"), script=_template("playground.js"),
            model_json=model_json, prefix=html.escape(self.prefix), max_prefix=MAX_PREFIX,
            temperature=f"{self.temperature:.2f}", temperature_label=f"{self.temperature:.2f}",
            max_temperature=MAX_TEMPERATURE, temperature_step=TEMPERATURE_STEP,
            length=self.length, max_length=MAX_LENGTH, seed=self.seed, max_seed=MAX_SEED)
        size = len(page.encode())
        if size > self.max_bytes:
            raise ValueError(f"the playground's static view is {size:,} bytes, over the limit of {self.max_bytes:,}; "
                             "a model with fewer hidden units embeds in fewer bytes")
        self._html = page
        return page

    # The live view -----------------------------------------------------------

    def _build_widget(self):
        import ipywidgets as widgets

        style = {"description_width": "initial"}
        self.prefix_box = widgets.Text(value=self.prefix, description="prefix", style=style,
                                       layout=widgets.Layout(width="32em"))
        self.temperature_slider = widgets.FloatSlider(
            value=self.temperature, min=0.0, max=MAX_TEMPERATURE, step=TEMPERATURE_STEP, readout_format=".2f",
            description="temperature", continuous_update=False, style=style)
        self.length_slider = widgets.IntSlider(value=self.length, min=0, max=MAX_LENGTH, description="length",
                                               continuous_update=False, style=style)
        self.seed_box = widgets.BoundedIntText(value=self.seed, min=0, max=MAX_SEED, description="seed",
                                               style=style, layout=widgets.Layout(width="14em"))
        self.resample_button = widgets.Button(description="resample", tooltip="draw again with the next seed")
        self.output = widgets.HTML()
        for control in (self.prefix_box, self.temperature_slider, self.length_slider, self.seed_box):
            control.observe(lambda change: self._update(), names="value")
        self.resample_button.on_click(lambda button: self.resample())
        self._update()
        return widgets.VBox([self.prefix_box, self.temperature_slider, self.length_slider,
                             widgets.HBox([self.seed_box, self.resample_button]), self.output])

    def _update(self) -> None:
        self.prefix, self.temperature = self.prefix_box.value, self.temperature_slider.value
        self.length, self.seed = self.length_slider.value, self.seed_box.value
        self.output.value = self.live_html(self.prefix, self.temperature, self.length, self.seed)

    def resample(self) -> None:
        """Draw a new continuation in the live view with the next seed (what the button does)."""
        self.widget  # noqa: B018 - build the live view first
        self.seed_box.value = (self.seed + 1) % (MAX_SEED + 1)

    # Display -----------------------------------------------------------------

    def _summary(self) -> str:
        return (f"playground({type(self.model).__name__}: {len(self.vocab)} tokens, "
                f"{self.exported['num_hiddens']} hidden units)")


def playground(model: RNNLMScratch, vocab: Vocab, prefix: str = "the time traveller ", temperature: float = 0.75,
               length: int = 120, seed: int = 0, *, max_bytes: int = MAX_STATIC_BYTES) -> Playground:
    """Let the reader type a prefix, see the ten likeliest next characters, and sample a continuation.

    Args:
        model: a trained ``RNNLMScratch`` or ``RNNLM`` over an ``RNNScratch`` or ``RNN``.
        vocab: its character ``Vocab``.
        prefix: the text shown first; preprocessed like the corpus.
        temperature: in ``[0, 2]``, rounded to the slider's step of 0.05; 0 is greedy.
        length: characters to generate, ``0 <= length <= 1000``.
        seed: the first seed of the sampler, ``0 <= seed < 2**32``.
        max_bytes: the static view's size limit.

    Returns:
        A ``Playground``; make it the last expression of a cell to display it.

    Raises:
        TypeError: a model or vocabulary the playground cannot run (see ``export_model``), a non-str prefix.
        ValueError: a setting out of range, or (when displayed) a static view over ``max_bytes``.
    """
    return Playground(model, vocab, prefix, temperature, length, seed, max_bytes=max_bytes)
