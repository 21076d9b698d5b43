"""d2lmini.explore: the static HTML view, and the live ipywidgets view driven like a front end."""

import contextlib
import html
import io
import json
import os
import re
import textwrap
from pathlib import Path
from queue import Empty

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import d2lmini as d2l  # noqa: E402
from d2lmini import explore  # noqa: E402
from d2lmini.widgets import Explorer, Frame, figure_to_png, png_size  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IPYWIDGETS7 = ROOT / ".venv-ipywidgets7"


def curve(k):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, k])
    return fig, f"slope {k}"


def test_static_view_has_one_frame_per_value_and_shows_the_default():
    ex = explore(curve, "slope", [1, 2, 3], default=2)
    page = ex.static_html()
    frames = re.findall(r'<div class="d2lmini-frame" data-frame="(\d)"( hidden)?>', page)
    assert [(i, bool(h)) for i, h in frames] == [("0", True), ("1", False), ("2", True)]
    assert page.count("data:image/png;base64,") == 3
    assert '<input type="range" min="0" max="2" step="1" value="1"' in page
    assert "slope = <output>2</output>" in page and 'aria-valuetext="slope = 2"' in page
    assert "slope 3" in page
    assert "http" not in page  # no CDN, no network


def test_text_only_and_figure_only_results():
    assert "<img" not in explore(lambda t: f"T={t}", "T", [0.5, 1.0]).static_html()
    assert "<pre" not in explore(lambda t: curve(t)[0], "T", [0.5]).static_html()
    assert explore(lambda t: "x", "T", [0.25, 1.0]).labels == ["0.25", "1"]


def test_static_html_escapes_text():
    page = explore(lambda v: "<script>alert(1)</script>", "v", [1]).static_html()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def test_ids_do_not_depend_on_png_bytes():
    # PNG bytes differ between machines' font renderers; nothing else in the HTML may.
    ex = explore(lambda v: "x", "v", [1, 2])
    a = ex._build_static([Frame(b"one", "t1"), Frame(b"one", "t2")])
    b = ex._build_static([Frame(b"two!", "t1"), Frame(b"two!", "t2")])
    strip = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
    assert a != b and strip.sub("", a) == strip.sub("", b)


# The static view as the f-string implementation wrote it before the markup moved into
# d2lmini/templates/explore.html: the template must reproduce it byte for byte.
GOLDEN_TEXT_ONLY = (
    '<div class="d2lmini-explore" id="d2lmini-explore-f56adac49622"><label style="display:flex;'
    'gap:0.75em;align-items:center"><span>T = <output>1</output></span>'
    '<input type="range" min="0" max="2" step="1" value="1" aria-label="T" aria-valuetext="T = 1" style="flex:1;'
    'max-width:24em"></label><div class="d2lmini-frame" data-frame="0" hidden>'
    '<pre class="d2lmini-text">cold</pre></div><div class="d2lmini-frame" data-frame="1">'
    '<pre class="d2lmini-text">&lt;b&gt; &amp; \'warm\'\n "x"</pre></div>'
    '<div class="d2lmini-frame" data-frame="2" hidden><pre class="d2lmini-text">hot</pre></div>'
    '<script>(function () {var root = document.getElementById("d2lmini-explore-f56adac49622");'
    "var input = root.querySelector('input'), output = root.querySelector('output');"
    'var frames = root.querySelectorAll(\'.d2lmini-frame\');var labels = ["0.5", "1", "2"], name = "T";'
    'function show() { var i = Number(input.value);'
    ' frames.forEach(function (f, j) { f.hidden = (j !== i); }); output.textContent = labels[i];'
    " input.setAttribute('aria-valuetext', name + ' = ' + labels[i]);"
    " }input.addEventListener('input', show); input.addEventListener('change', show); show();})();"
    '</script></div>')
GOLDEN_PNG_AND_ESCAPES = (
    '<div class="d2lmini-explore" id="d2lmini-explore-10baa06b7f98"><label style="display:flex;'
    'gap:0.75em;align-items:center"><span>k &lt;&amp;&gt; &quot;q&quot; = <output>1</output></span>'
    '<input type="range" min="0" max="1" step="1" value="0" aria-label="k &lt;&amp;&gt; &quot;q&quot;'
    '" aria-valuetext="k &lt;&amp;&gt; &quot;q&quot; = 1" style="flex:1;max-width:24em"></label>'
    '<div class="d2lmini-frame" data-frame="0"><img src="data:image/png;base64,iVBORw0K" alt="k &lt;'
    '&amp;&gt; &quot;q&quot; = 1"></div><div class="d2lmini-frame" data-frame="1" hidden>'
    '<img src="data:image/png;base64,YWI=" alt="k &lt;&amp;&gt; &quot;q&quot; = 2">'
    '<pre class="d2lmini-text">t {x} }} {{</pre></div><script>'
    '(function () {var root = document.getElementById("d2lmini-explore-10baa06b7f98");'
    "var input = root.querySelector('input'), output = root.querySelector('output');"
    'var frames = root.querySelectorAll(\'.d2lmini-frame\');var labels = ["1", "2"], name = "k <&>'
    ' \\"q\\"";function show() { var i = Number(input.value);'
    ' frames.forEach(function (f, j) { f.hidden = (j !== i); }); output.textContent = labels[i];'
    " input.setAttribute('aria-valuetext', name + ' = ' + labels[i]);"
    " }input.addEventListener('input', show); input.addEventListener('change', show); show();})();"
    '</script></div>')


def _static(name, values, default, frames):
    ex = Explorer(lambda v: "unused", name, values, default)
    ex._instance = 0  # the id hashes the instance number; pin it
    return ex._build_static(frames)


def test_static_html_is_byte_for_byte_what_the_f_string_wrote():
    frames = [Frame(None, "cold"), Frame(None, "<b> & 'warm'\n \"x\""), Frame(None, "hot")]
    assert _static("T", [0.5, 1.0, 2.0], 1.0, frames) == GOLDEN_TEXT_ONLY
    frames = [Frame(b"\x89PNG\r\n", None), Frame(b"ab", "t {x} }} {{")]
    assert _static('k <&> "q"', [1, 2], None, frames) == GOLDEN_PNG_AND_ESCAPES


def test_size_limit_and_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="over the limit"):
        explore(curve, "k", list(range(5)), max_bytes=2_000).static_html()
    with pytest.raises(ValueError, match="not one of the values"):
        explore(curve, "k", [1, 2], default=5)
    with pytest.raises(ValueError, match="at least one value"):
        explore(curve, "k", [])
    with pytest.raises(TypeError, match="Figure, a str"):
        explore(lambda k: 42, "k", [1]).static_html()


def _tiny_language_model():
    d2l.set_seed(0)
    vocab = d2l.Vocab(list("the cat sat on a mat"))
    return d2l.RNNLMScratch(d2l.RNNScratch(len(vocab), 8, sigma=1.0), len(vocab)), vocab


def test_temperature_explorer_samples_each_value_with_a_fresh_seeded_generator():
    model, vocab = _tiny_language_model()
    ex = d2l.temperature_explorer(model, "the ", vocab, [0, 0.5, 1.0, 2.0], num_preds=150, width=30, default=1.0)
    assert ex.name == "temperature" and ex.labels == ["0", "0.5", "1", "2"] and ex.default_index == 2

    def expected(temperature, seed=1234):
        generator = torch.Generator().manual_seed(seed)
        return model.predict("the ", 150, vocab, temperature=temperature, generator=generator)

    texts = {t: ex.render(t).text for t in [0, 1.0, 2.0]}
    assert texts[1.0] == textwrap.fill(expected(1.0), 30) and texts[1.0] != texts[2.0]
    assert texts[0] == textwrap.fill(model.predict("the ", 150, vocab), 30)  # temperature 0 is greedy
    assert ex.render(1.0).text == texts[1.0]  # the same value shows the same text, whatever came before
    lines = texts[2.0].splitlines()
    assert len(lines) > 1 and max(len(line) for line in lines) <= 30
    other_seed = d2l.temperature_explorer(model, "the ", vocab, [1.0], num_preds=150, seed=7)
    assert other_seed.render(1.0).text == textwrap.fill(expected(1.0, seed=7), 72) != textwrap.fill(expected(1.0), 72)
    page = ex.static_html()
    assert page.count('<pre class="d2lmini-text">') == 4 and html.escape(texts[2.0], quote=False) in page


@pytest.mark.parametrize("kwargs, message", [
    ({"temperatures": [0.5, -1.0]}, "temperature"), ({"temperatures": [float("nan")]}, "temperature"),
    ({"num_preds": 0}, "num_preds"), ({"width": 2.5}, "width"), ({"seed": -1}, "seed"),
    ({"default": 3.0}, "not one of the values"),
])
def test_temperature_explorer_rejects_bad_arguments(kwargs, message):
    model, vocab = _tiny_language_model()
    args = {"temperatures": [0.5, 1.0]} | kwargs
    with pytest.raises(ValueError, match=message):
        d2l.temperature_explorer(model, "the ", vocab, **args)


def test_mimebundle_carries_both_views():
    bundle = explore(curve, "k", [1, 2])._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"}
    assert bundle["application/vnd.jupyter.widget-view+json"]["version_major"] == 2


def test_live_widget_recomputes_when_the_slider_moves():
    ex = explore(curve, "k", [1, 2, 3])
    ex.widget  # noqa: B018 - build the live view
    calls = ex.calls
    ex.set_value(3)
    assert ex.calls == calls + 1
    assert ex.text.value == "<pre>slope 3</pre>" and bytes(ex.image.value)[:4] == b"\x89PNG"


def test_live_view_shows_a_sharp_figure_at_its_natural_size():
    ex = explore(curve, "k", [1, 2, 3])
    ex.widget  # noqa: B018 - build the live view
    for value in [1, 3]:
        ex.set_value(value)
        static_width, static_height = png_size(ex.render(value).png)  # what the static view shows, at ex.dpi
        width, height = png_size(bytes(ex.image.value))
        # Rendered at twice the dpi ...
        assert abs(width - 2 * static_width) <= 2 and abs(height - 2 * static_height) <= 2
        # ... and laid out at half its pixels: the CSS size of the static figure, not the cell's width.
        assert ex.image.layout.width == f"{width / 2:g}px" and ex.image.layout.height == f"{height / 2:g}px"
        assert ex.image.layout.display is None
    assert 3 * 80 * 0.8 < width / 2 < 3 * 80 * 1.2  # a 3-inch figure at 80 dpi: about 240 CSS pixels


def test_live_view_hides_the_image_when_there_is_no_figure():
    ex = explore(lambda v: f"v = {v}", "v", [1, 2])
    ex.widget  # noqa: B018 - build the live view
    assert ex.image.layout.display == "none" and ex.text.value == "<pre>v = 1</pre>"


def test_png_size_reads_the_header_and_rejects_other_bytes():
    png = figure_to_png(curve(1)[0], dpi=50)
    assert png_size(png) == Image.open(io.BytesIO(png)).size
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(30))


# The live view in a real kernel, driven over the Jupyter messaging protocol as a front end
# (JupyterLab, Colab) drives it: with the pinned ipywidgets 8.x and with Colab's 7.7.1.

KERNEL_CODE = textwrap.dedent("""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import ipywidgets
    from d2lmini import explore

    def curve(k):
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.plot([0, k])
        return fig, f"slope {k}"

    ex = explore(curve, "k", [1, 2, 3])
    display(ex)
    print("ipywidgets", ipywidgets.__version__)
""")


def run_and_collect(kc, code=None, msg=None, timeout=60):
    """Send an execute request (or a raw message) and return the iopub messages until idle."""
    parent = kc.execute(code) if code is not None else msg["header"]["msg_id"]
    messages = []
    while True:
        try:
            m = kc.get_iopub_msg(timeout=timeout)
        except Empty:
            raise AssertionError(f"kernel went quiet; got {[x['msg_type'] for x in messages]}") from None
        if m["parent_header"].get("msg_id") != parent:
            continue
        messages.append(m)
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            return messages


@contextlib.contextmanager
def kernel(flavour, **env_overrides):
    """A running kernel client with the pinned ipywidgets, or with Colab's 7.7.1 first on the path."""
    from jupyter_client import KernelManager

    env = dict(os.environ, **env_overrides)
    if flavour == "colab-7.7.1":
        if not (IPYWIDGETS7 / "ipywidgets").is_dir():
            pytest.fail(f"{IPYWIDGETS7} is missing: `make setup` installs ipywidgets 7.7.1 there")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(IPYWIDGETS7), env.get("PYTHONPATH")]))
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@pytest.mark.kernel
@pytest.mark.parametrize("flavour", ["pinned", "colab-7.7.1"])
def test_live_widget_in_a_kernel(flavour):
    with kernel(flavour) as kc:
        messages = run_and_collect(kc, KERNEL_CODE)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert not errors, errors
        stdout = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
        expected = "7.7.1" if flavour == "colab-7.7.1" else "8."
        assert f"ipywidgets {expected}" in stdout

        opened = {m["content"]["data"]["state"]["_model_name"]: m["content"]["comm_id"]
                  for m in messages if m["msg_type"] == "comm_open"}
        shown = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
        assert len(shown) == 1
        assert shown[0]["application/vnd.jupyter.widget-view+json"]["model_id"] == opened["VBoxModel"]
        assert "d2lmini-explore" in shown[0]["text/html"]

        # The reader drags the slider to the third value: the front end sends the new index.
        msg = kc.session.msg("comm_msg", {"comm_id": opened["SelectionSliderModel"],
                                          "data": {"method": "update", "state": {"index": 2},
                                                   "buffer_paths": []}})
        kc.shell_channel.send(msg)
        updates = run_and_collect(kc, msg=msg)
        html_updates = [m["content"]["data"]["state"] for m in updates if m["msg_type"] == "comm_msg"
                        and m["content"]["comm_id"] == opened["HTMLModel"]]
        assert {"value": "<pre>slope 3</pre>"} in html_updates
        image_updates = [m for m in updates if m["msg_type"] == "comm_msg"
                         and m["content"]["comm_id"] == opened["ImageModel"]]
        assert image_updates and image_updates[-1]["buffers"][0][:4] == b"\x89PNG"
        # The new frame's natural size reaches the front end as the image's CSS layout.
        sizes = [m["content"]["data"]["state"] for m in updates if m["msg_type"] == "comm_msg"
                 and set(m["content"]["data"].get("state", {})) & {"width", "height"}]
        assert sizes and all(state[k].endswith("px") for state in sizes for k in {"width", "height"} & set(state))

        check = run_and_collect(kc, "import json; print(json.dumps([ex.slider.index, ex.calls]))")
        state = json.loads("".join(m["content"]["text"] for m in check if m["msg_type"] == "stream"))
        assert state == [2, 5]  # 1 for the live view, 3 for the static view, 1 for the move
