"""Show a result as a function of one parameter: live in Jupyter, static in the HTML book.

``explore(func, name, values)`` returns an object whose display carries two views:

* ``application/vnd.jupyter.widget-view+json``: an ipywidgets slider that calls
  ``func`` again whenever it moves (JupyterLab, Notebook 7, VS Code, Colab).
  Only core widgets present in ipywidgets 7.7.1 and 8.x are used.
* ``text/html``: every value's output precomputed (figures as PNG) behind a
  native range input and a few lines of JavaScript. It needs no kernel and no
  network, so it works in the built book and in a page opened from disk.

Jupyter front ends pick the widget; the book's ``_config.yml`` tells myst-nb
to pick the HTML. The static view's markup and script live in
``d2lmini/templates/explore.html``.

``temperature_explorer(model, prefix, vocab, temperatures)`` is the slider over
sampling temperatures that the language-model pages show.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import json
import re
import string
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import count

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from d2lmini.checks import check_callable, check_int, check_str, check_temperature

MAX_STATIC_BYTES = 500_000
LIVE_SCALE = 2  # the live view renders figures at twice the dpi, for high-DPI screens
_instances = count()


@functools.cache
def _template() -> string.Template:
    """The static view's template, read once from the package.

    The file is laid out for reading: a line break and the indentation after it are
    not part of the HTML, so the page gets one line, as compact as it was written.
    """
    text = (resources.files("d2lmini") / "templates" / "explore.html").read_text(encoding="utf-8")
    return string.Template(re.sub(r"\n\s*", "", text))


@dataclass(frozen=True)
class Frame:
    """What ``func`` gave for one value: PNG bytes and/or text (either may be ``None``)."""

    png: bytes | None
    text: str | None


def figure_to_png(fig: Figure, dpi: int = 80, colors: int = 64) -> bytes:
    """Render ``fig`` to a compact palette PNG and close it.

    A line plot needs few colours; a 64-colour palette makes the PNG several
    times smaller than full RGB, which keeps a widget with dozens of frames light.
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=colors)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """Return the (width, height) in pixels of a PNG, read from its header.

    Raises:
        ValueError: ``png`` does not start with a PNG signature and an IHDR chunk.
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError(f"not a PNG image (it starts with {png[:16]!r}); pass the bytes of a PNG file")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _to_frame(result, dpi: int) -> Frame:
    """Accept a Figure, a str, or a (Figure, str) pair from ``func``."""
    if isinstance(result, tuple) and len(result) == 2:
        fig, text = result
    elif isinstance(result, Figure):
        fig, text = result, None
    elif isinstance(result, str):
        fig, text = None, result
    else:
        raise TypeError("the explored function must return a matplotlib Figure, a str, or a (Figure, str) "
                        f"pair; it returned {type(result).__name__}")
    if fig is not None and not isinstance(fig, Figure):
        raise TypeError(f"expected a matplotlib Figure, got {type(fig).__name__}")
    if text is not None and not isinstance(text, str):
        raise TypeError(f"expected text as str, got {type(text).__name__}")
    return Frame(figure_to_png(fig, dpi) if fig is not None else None, text)


class TwoViews:
    """A display with two views: live ipywidgets (``_build_widget``) and static HTML (``static_html``).

    Jupyter front ends show the widget; the book's ``_config.yml`` makes myst-nb show the HTML.
    Subclasses set ``self._widget = None`` and define ``_build_widget``, ``static_html`` and ``_summary``.
    """

    _widget = None

    @property
    def widget(self):
        """The live ipywidgets view, created once."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "text/plain": self._summary(),
            "text/html": self.static_html(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
        }


class Explorer(TwoViews):
    """A parameter explorer; build it with ``explore``.

    Attributes:
        name: the parameter's name. values: its values. labels: how each is shown.
        default_index: the position of the default value. calls: how many times
        ``func`` has run (the live view calls it on every move).
    """

    def __init__(self, func: Callable, name: str, values: Sequence, default=None, dpi: int = 80,
                 fmt: Callable[[object], str] | None = None, max_bytes: int = MAX_STATIC_BYTES) -> None:
        check_callable("func", func, "it gets one value and returns a Figure, a str, or a (Figure, str) pair")
        check_str("name", name)
        if fmt is not None:
            check_callable("fmt", fmt, "it turns a value into its label")
        check_int("dpi", dpi)
        check_int("max_bytes", max_bytes)
        try:
            values = list(values)
        except TypeError:
            raise TypeError(f"values must be a list of the values of {name!r}, got {type(values).__name__}") from None
        if not values:
            raise ValueError(f"give at least one value for {name!r}")
        if default is None:
            default = values[0]
        if default not in values:
            raise ValueError(f"default {default!r} is not one of the values of {name!r}: {values}")
        self.func, self.name, self.values, self.dpi, self.max_bytes = func, name, values, dpi, max_bytes
        self.labels = [fmt(v) if fmt else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values]
        self.default_index = values.index(default)
        self.calls = 0
        self._instance = next(_instances)
        self._widget = None
        # Every frame now, not when the page is displayed: a value at which func fails is named here.
        self._html = self._build_static([self.render(v) for v in values])

    def render(self, value, dpi: int | None = None) -> Frame:
        """Call ``func(value)`` and return its output as a ``Frame`` (figures at ``dpi``, default ``self.dpi``).

        Raises:
            ValueError: ``func`` raised; the message names the value and the original error (chained).
            TypeError: ``func`` returned something other than a Figure, a str or a (Figure, str) pair.
        """
        self.calls += 1
        try:
            result = self.func(value)
        except Exception as exc:
            raise ValueError(f"the explored function failed at {self.name} = {value!r} with "
                             f"{type(exc).__name__}: {exc}") from exc
        try:
            return _to_frame(result, self.dpi if dpi is None else dpi)
        except TypeError as exc:
            raise TypeError(f"at {self.name} = {value!r}: {exc}") from None

    # The static view ---------------------------------------------------------

    def static_html(self) -> str:
        """Return the self-contained HTML view with every value precomputed (when the explorer was built)."""
        return self._html

    def _build_static(self, frames: list[Frame]) -> str:
        # The id must not depend on PNG bytes (they differ between machines' font
        # renderers), only on what is the same everywhere.
        key = json.dumps([self.name, self.labels, [f.text for f in frames], self._instance])
        uid = "d2lmini-explore-" + hashlib.sha1(key.encode()).hexdigest()[:12]
        name = html.escape(self.name)
        parts = []
        for i, (frame, label) in enumerate(zip(frames, self.labels)):
            hidden = "" if i == self.default_index else " hidden"
            body = ""
            if frame.png is not None:
                data = base64.b64encode(frame.png).decode("ascii")
                body += f'<img src="data:image/png;base64,{data}" alt="{name} = {html.escape(label)}">'
            if frame.text is not None:
                body += f'<pre class="d2lmini-text">{html.escape(frame.text, quote=False)}</pre>'
            parts.append(f'<div class="d2lmini-frame" data-frame="{i}"{hidden}>{body}</div>')
        out = _template().substitute(
            uid=uid, uid_json=json.dumps(uid), name=name, name_json=json.dumps(self.name),
            labels_json=json.dumps(self.labels), default_label=html.escape(self.labels[self.default_index]),
            default_index=self.default_index, last=len(self.values) - 1, frames="".join(parts))
        if len(out.encode()) > self.max_bytes:
            raise ValueError(
                f"the static view of {self.name!r} is {len(out.encode()):,} bytes, over the limit of "
                f"{self.max_bytes:,}; use fewer values, a smaller figure or a lower dpi")
        return out

    # The live view -----------------------------------------------------------

    def _build_widget(self):
        import ipywidgets as widgets

        self.slider = widgets.SelectionSlider(
            options=list(zip(self.labels, range(len(self.values)))), value=self.default_index,
            description=self.name, continuous_update=False,
            style={"description_width": "initial"}, layout=widgets.Layout(width="32em"))
        self.image = widgets.Image(format="png")
        self.text = widgets.HTML()
        self._show(self.default_index)
        self.slider.observe(lambda change: self._show(change["new"]), names="value")
        return widgets.VBox([self.slider, self.image, self.text])

    def _show(self, index: int) -> None:
        # Rendered at LIVE_SCALE times the dpi and shown at 1/LIVE_SCALE of its pixels: the figure keeps
        # its natural size (a flex box would otherwise stretch it across the cell) and stays sharp on
        # high-DPI screens. Layout width and height are CSS, honoured by ipywidgets 7.7 and 8.x alike.
        frame = self.render(self.values[index], dpi=LIVE_SCALE * self.dpi)
        self.image.value = frame.png or b""
        layout = self.image.layout
        if frame.png:
            width, height = png_size(frame.png)  # pixels
            layout.width, layout.height = f"{width / LIVE_SCALE:g}px", f"{height / LIVE_SCALE:g}px"
            layout.display = None
        else:
            layout.display = "none"
        self.text.value = f"<pre>{html.escape(frame.text)}</pre>" if frame.text is not None else ""

    def set_value(self, value) -> None:
        """Move the live slider to ``value`` (as a reader would) and recompute."""
        self.widget.children[0].value = self.values.index(value)

    # Display -----------------------------------------------------------------

    def _summary(self) -> str:
        return f"explore({self.name}: {self.labels[0]} … {self.labels[-1]}, {len(self.values)} values)"


def explore(func: Callable, name: str, values: Sequence, default=None, *, dpi: int = 80,
            fmt: Callable[[object], str] | None = None, max_bytes: int = MAX_STATIC_BYTES) -> Explorer:
    """Show ``func(value)`` with a slider over ``values``.

    Args:
        func: returns a matplotlib ``Figure``, a ``str``, or a ``(Figure, str)`` pair.
            It should be deterministic (seed any sampling inside it).
        name: the parameter's name, shown beside the slider.
        values: the values the slider steps through, in order.
        default: the value shown first (the first value if omitted).
        dpi: resolution of the precomputed PNGs. The live view renders at twice this dpi and
            shows the image at half its pixel size: the same size, sharp on high-DPI screens.
        fmt: turns a value into its label (default: ``str``, ``:g`` for floats).
        max_bytes: the static view's size limit.

    Returns:
        An ``Explorer``; make it the last expression of a cell to display it.

    Every value is rendered now, once, for the static view; the live view renders again as the slider moves.

    Raises:
        TypeError: ``func`` or ``fmt`` not callable, ``name`` not a str, or ``func`` returned something
            other than a Figure, a str or a (Figure, str) pair.
        ValueError: no values, a default outside them, ``func`` failed at a value (named in the message,
            the original error chained), or a static view over ``max_bytes``.
    """
    return Explorer(func, name, values, default, dpi=dpi, fmt=fmt, max_bytes=max_bytes)


def temperature_explorer(model, prefix: str, vocab, temperatures: Sequence[float], num_preds: int = 200,
                         seed: int = 1234, width: int = 72, default: float | None = None) -> Explorer:
    """Show what ``model`` writes after ``prefix`` with a slider over sampling ``temperatures``.

    Every temperature samples with a fresh ``torch.Generator`` seeded with ``seed``, so
    a value always shows the same text however the slider got there, and the static
    view matches the live one.

    Args:
        model: a language model with ``predict(prefix, num_preds, vocab, temperature=, generator=)``
            (``RNNLMScratch``, ``RNNLM``).
        prefix: the text to continue. vocab: the model's ``Vocab``.
        temperatures: the slider's values (0 is greedy).
        num_preds: characters to generate after the prefix.
        seed: the seed of every draw.
        width: the text is wrapped to lines of at most this many characters.
        default: the temperature shown first (the first one if omitted).

    Returns:
        An ``Explorer`` named ``"temperature"``; make it the last expression of a cell.

    Raises:
        ValueError: a temperature that is negative or not finite, ``num_preds`` or
            ``width`` not a positive integer, ``seed`` not an integer >= 0, or a
            ``default`` outside ``temperatures``.
    """
    check_str("prefix", prefix, hint="give the text to continue, e.g. 'the time traveller'")
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must be a language model with predict(), such as RNNLMScratch, "
                        f"got a {type(model).__name__}")
    temperatures = list(temperatures)
    for temperature in temperatures:
        check_temperature(temperature)  # now rather than when the slider first reaches it
    check_int("num_preds", num_preds)
    check_int("width", width)
    check_int("seed", seed, minimum=0)

    def sample_text(temperature: float) -> str:
        generator = torch.Generator().manual_seed(seed)
        text = model.predict(prefix, num_preds, vocab, temperature=temperature, generator=generator)
        return textwrap.fill(text, width)

    return explore(sample_text, "temperature", temperatures, default)
