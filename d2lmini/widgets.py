"""Show a result as a function of one parameter: live in Jupyter, static in the HTML book.

``explore(func, name, values)`` returns an object whose display carries two views:

* ``application/vnd.jupyter.widget-view+json``: an ipywidgets slider that calls
  ``func`` again whenever it moves (JupyterLab, Notebook 7, VS Code, Colab).
  Only core widgets present in ipywidgets 7.7.1 and 8.x are used.
* ``text/html``: every value's output precomputed (figures as PNG) behind a
  native range input and a few lines of JavaScript. It needs no kernel and no
  network, so it works in the built book and in a page opened from disk.

Jupyter front ends pick the widget; the book's ``_config.yml`` tells myst-nb
to pick the HTML.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

MAX_STATIC_BYTES = 500_000
_instances = count()


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


class Explorer:
    """A parameter explorer; build it with ``explore``.

    Attributes:
        name: the parameter's name. values: its values. labels: how each is shown.
        default_index: the position of the default value. calls: how many times
        ``func`` has run (the live view calls it on every move).
    """

    def __init__(self, func: Callable, name: str, values: Sequence, default=None, dpi: int = 80,
                 fmt: Callable[[object], str] | None = None, max_bytes: int = MAX_STATIC_BYTES) -> None:
        values = list(values)
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
        self._html: str | None = None

    def render(self, value) -> Frame:
        """Call ``func(value)`` and return its output as a ``Frame``."""
        self.calls += 1
        return _to_frame(self.func(value), self.dpi)

    # The static view ---------------------------------------------------------

    def static_html(self) -> str:
        """Return the self-contained HTML view with every value precomputed (cached).

        Raises:
            ValueError: the HTML exceeds ``max_bytes``; use fewer values, a smaller figure or a lower dpi.
        """
        if self._html is None:
            self._html = self._build_static([self.render(v) for v in self.values])
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
        last = len(self.values) - 1
        default_label = html.escape(self.labels[self.default_index])
        out = (
            f'<div class="d2lmini-explore" id="{uid}">'
            f'<label style="display:flex;gap:0.75em;align-items:center">'
            f'<span>{name} = <output>{default_label}</output></span>'
            f'<input type="range" min="0" max="{last}" step="1" value="{self.default_index}" '
            f'aria-label="{name}" aria-valuetext="{name} = {default_label}" style="flex:1;max-width:24em">'
            f'</label>{"".join(parts)}'
            f"<script>(function () {{"
            f"var root = document.getElementById({json.dumps(uid)});"
            f"var input = root.querySelector('input'), output = root.querySelector('output');"
            f"var frames = root.querySelectorAll('.d2lmini-frame');"
            f"var labels = {json.dumps(self.labels)}, name = {json.dumps(self.name)};"
            f"function show() {{ var i = Number(input.value);"
            f" frames.forEach(function (f, j) {{ f.hidden = (j !== i); }});"
            f" output.textContent = labels[i]; input.setAttribute('aria-valuetext', name + ' = ' + labels[i]); }}"
            f"input.addEventListener('input', show); input.addEventListener('change', show); show();"
            f"}})();</script></div>"
        )
        if len(out.encode()) > self.max_bytes:
            raise ValueError(
                f"the static view of {self.name!r} is {len(out.encode()):,} bytes, over the limit of "
                f"{self.max_bytes:,}; use fewer values, a smaller figure or a lower dpi")
        return out

    # The live view -----------------------------------------------------------

    @property
    def widget(self):
        """The live ipywidgets view (a ``VBox`` of slider, image and text), created once."""
        if self._widget is None:
            self._widget = self._build_widget()
        return self._widget

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
        frame = self.render(self.values[index])
        self.image.value = frame.png or b""
        self.image.layout.display = None if frame.png else "none"
        self.text.value = f"<pre>{html.escape(frame.text)}</pre>" if frame.text is not None else ""

    def set_value(self, value) -> None:
        """Move the live slider to ``value`` (as a reader would) and recompute."""
        self.widget.children[0].value = self.values.index(value)

    # Display -----------------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        widget = self.widget
        return {
            "text/plain": f"explore({self.name}: {self.labels[0]} … {self.labels[-1]}, "
                          f"{len(self.values)} values)",
            "text/html": self.static_html(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": widget.model_id},
        }


def explore(func: Callable, name: str, values: Sequence, default=None, *, dpi: int = 80,
            fmt: Callable[[object], str] | None = None, max_bytes: int = MAX_STATIC_BYTES) -> Explorer:
    """Show ``func(value)`` with a slider over ``values``.

    Args:
        func: returns a matplotlib ``Figure``, a ``str``, or a ``(Figure, str)`` pair.
            It should be deterministic (seed any sampling inside it).
        name: the parameter's name, shown beside the slider.
        values: the values the slider steps through, in order.
        default: the value shown first (the first value if omitted).
        dpi: resolution of the precomputed PNGs.
        fmt: turns a value into its label (default: ``str``, ``:g`` for floats).
        max_bytes: the static view's size limit.

    Returns:
        An ``Explorer``; make it the last expression of a cell to display it.

    Raises:
        ValueError: no values, a default outside them, or a static view over ``max_bytes``.
    """
    return Explorer(func, name, values, default, dpi=dpi, fmt=fmt, max_bytes=max_bytes)
