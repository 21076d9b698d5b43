"""d2lmini.playground: the exported weights, the static view's markup, and the live ipywidgets view."""

import base64
import html
import json
import re
import textwrap

import numpy as np
import pytest
import torch
from test_widgets import kernel, run_and_collect
from torch import nn

import d2lmini as d2l
from d2lmini.playground import MAX_STATIC_BYTES, export_model, playground

VOCAB = d2l.Vocab(list("abcdefghijklmnopqrstuvwxyz "))  # ' ', '<unk>', 'a'..'z': as The Time Machine's
NAMES = ["W_xh", "W_hh", "b_h", "W_hq", "b_q"]


def random_model(kind="scratch", num_hiddens=32, seed=0):
    """A language model with seeded weights large enough for a distribution far from uniform."""
    torch.manual_seed(seed)
    V = len(VOCAB)
    if kind == "scratch":
        model = d2l.RNNLMScratch(d2l.RNNScratch(V, num_hiddens), V)
    else:
        model = d2l.RNNLM(d2l.RNN(V, num_hiddens), V)
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan_in = num_hiddens if ("hh" in name or name in ("W_hq", "linear.weight")) else 1
            p.copy_(torch.randn(p.shape) * (1.5 if "W_hq" in name or "linear" in name else 1.0) / fan_in ** 0.5)
    return model


def decode(entry):
    """A weight of the exported dict as a float32 numpy array of its shape."""
    data = np.frombuffer(base64.b64decode(entry["data"]), dtype="<f4")
    return data.reshape(entry["shape"])


def numpy_logits(exported, text):
    """The forward pass from the exported dict alone, in float64: logits (V,) after reading ``text``."""
    W = {name: decode(exported[name]).astype(np.float64) for name in NAMES}
    index = {token: i for i, token in enumerate(exported["vocab"])}
    h = np.zeros(exported["num_hiddens"])  # (H,)
    for ch in text:
        h = np.tanh(W["W_xh"][index[ch]] + h @ W["W_hh"] + W["b_h"])  # (H,)
    return h @ W["W_hq"] + W["b_q"]  # (V,)


def model_logits(model, text):
    X = torch.tensor([VOCAB[list(text)]])  # (1, T)
    with torch.no_grad():
        return model(X)[0, -1].double().numpy()  # (V,)


# Export --------------------------------------------------------------------------------------------------------

def test_export_of_the_scratch_model_round_trips():
    model = random_model("scratch")
    exported = json.loads(json.dumps(export_model(model, VOCAB)))  # survives JSON
    assert exported["vocab"] == VOCAB.idx_to_token and exported["num_hiddens"] == 32
    expected = {"W_xh": model.rnn.W_xh, "W_hh": model.rnn.W_hh, "b_h": model.rnn.b_h,
                "W_hq": model.W_hq, "b_q": model.b_q}
    for name, tensor in expected.items():
        assert exported[name]["shape"] == list(tensor.shape)
        np.testing.assert_array_equal(decode(exported[name]), tensor.detach().numpy())


def test_export_of_nn_rnn_transposes_and_sums_the_two_biases():
    model = random_model("concise")
    rnn = model.rnn.rnn
    assert rnn.bias_hh_l0.abs().sum() > 0  # both biases are non-zero, so a forgotten one shows
    exported = export_model(model, VOCAB)
    assert exported["W_xh"]["shape"] == [28, 32] and exported["W_hq"]["shape"] == [32, 28]
    np.testing.assert_array_equal(decode(exported["W_xh"]), rnn.weight_ih_l0.detach().numpy().T)
    np.testing.assert_array_equal(decode(exported["W_hh"]), rnn.weight_hh_l0.detach().numpy().T)
    np.testing.assert_array_equal(decode(exported["b_h"]), (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy())
    np.testing.assert_array_equal(decode(exported["W_hq"]), model.linear.weight.detach().numpy().T)
    np.testing.assert_array_equal(decode(exported["b_q"]), model.linear.bias.detach().numpy())


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_the_exported_forward_pass_gives_the_models_logits(kind):
    model = random_model(kind)
    exported = export_model(model, VOCAB)
    for text in ["t", "the time traveller ", "zzz qq", " a"]:
        expected = model_logits(model, text)
        assert expected.std() > 0.5  # far from uniform: a wrong weight would show
        np.testing.assert_allclose(numpy_logits(exported, text), expected, atol=2e-5)


def test_copied_weights_export_the_same_function():
    scratch = random_model("scratch")
    concise = random_model("concise", seed=1)
    d2l.copy_scratch_weights(scratch, concise)
    a, b = export_model(scratch, VOCAB), export_model(concise, VOCAB)
    for name in NAMES:
        np.testing.assert_allclose(decode(a[name]), decode(b[name]), rtol=0, atol=0)


def test_models_it_cannot_run_are_clear_errors():
    with pytest.raises(TypeError, match="RNNLMScratch or RNNLM"):
        export_model(nn.Linear(3, 3), VOCAB)
    gru = random_model("concise")
    gru.rnn = nn.GRU(28, 32)
    with pytest.raises(TypeError, match="RNNScratch or RNN layers, got a GRU"):
        export_model(gru, VOCAB)
    deep = random_model("concise")
    deep.rnn.rnn = nn.RNN(28, 32, num_layers=2)
    with pytest.raises(ValueError, match="one-layer.*num_layers=2"):
        export_model(deep, VOCAB)
    with pytest.raises(ValueError, match="vocab has 5 tokens but the model predicts 28"):
        export_model(random_model(), d2l.Vocab(list("abcd")))
    words = d2l.Vocab("the time traveller had a time machine and it was a good machine but".split())
    assert len(words) == 12
    word_model = d2l.RNNLMScratch(d2l.RNNScratch(12, 4), 12)
    with pytest.raises(ValueError, match="reads characters.*'and'"):
        export_model(word_model, words)
    with pytest.raises(TypeError, match="d2lmini Vocab"):
        export_model(random_model(), VOCAB.idx_to_token)


@pytest.mark.parametrize("setting, message", [
    ({"temperature": 2.5}, "between 0 and 2"), ({"temperature": -0.1}, ">= 0"),
    ({"temperature": float("nan")}, "finite"), ({"length": -1}, "length must be an integer >= 0"),
    ({"length": 5000}, "at most 1000"), ({"seed": True}, "seed must be"), ({"seed": 2**32}, "at most 2"),
    ({"prefix": "x" * 501}, "at most 500"),
])
def test_bad_settings_are_clear_errors(setting, message):
    with pytest.raises(ValueError, match=message):
        playground(random_model(), VOCAB, **setting)


# The static view ------------------------------------------------------------------------------------------------

def test_static_view_has_the_controls_and_the_weights():
    model = random_model("scratch", num_hiddens=128)  # the book's size
    pg = playground(model, VOCAB, prefix="It's <b>", temperature=0.8, length=50, seed=7)
    page = pg.static_html()
    assert len(page.encode()) < MAX_STATIC_BYTES == 200_000
    for role in ["prefix", "temperature", "length", "seed", "probs", "continuation", "resample", "message"]:
        assert f'data-role="{role}"' in page
    assert 'type="range"' in page and 'min="0" max="2.0" step="0.05" value="0.80"' in page
    assert 'value="It&#x27;s &lt;b&gt;"' in page  # the prefix is escaped, never markup
    script = re.search(r"<script type=\"application/json\" data-d2lmini-model>(.*?)</script>", page, re.S)
    assert json.loads(script.group(1)) == export_model(model, VOCAB)
    assert "<" not in script.group(1)  # '<unk>' is escaped, so nothing can close the element early
    assert "http" not in page  # no CDN, no network
    # Every control has a label pointing at it.
    ids = re.findall(r' id="([^"]+)"', page)
    for control in re.findall(r'<input [^>]*id="([^"]+)"', page):
        assert f'<label for="{control}"' in page
    assert len(ids) == len(set(ids))


def test_two_playgrounds_on_one_page_have_different_ids():
    model = random_model()
    first, second = playground(model, VOCAB).static_html(), playground(model, VOCAB).static_html()
    ids = re.findall(r' id="([^"]+)"', first) + re.findall(r' id="([^"]+)"', second)
    assert len(ids) == len(set(ids)) >= 6


def test_ids_do_not_depend_on_the_weights():
    a = playground(random_model(seed=0), VOCAB)
    b = playground(random_model(seed=1), VOCAB)
    b._instance = a._instance
    id_a = re.search(r'id="(d2lmini-playground-\w+)"', a.static_html()).group(1)
    assert id_a == re.search(r'id="(d2lmini-playground-\w+)"', b.static_html()).group(1)
    assert a.static_html() != b.static_html()


def test_a_model_too_large_to_embed_is_a_clear_error():
    with pytest.raises(ValueError, match="over the limit of 200,000"):
        playground(random_model(num_hiddens=256), VOCAB).static_html()


def test_mimebundle_carries_both_views():
    bundle = playground(random_model(), VOCAB)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"}
    assert "data-d2lmini-model" in bundle["text/html"]
    assert bundle["text/plain"] == "playground(RNNLMScratch: 28 tokens, 32 hidden units)"


# The live view ---------------------------------------------------------------------------------------------------

def shown(output):
    """(chars, probabilities, continuation, message) read from the live view's HTML."""
    rows = re.findall(r'<tr data-char="([^"]*)" data-prob="([^"]+)">', output)
    cont = re.search(r'<p data-role="continuation"[^>]*>(.*?)</p>', output, re.S)
    message = re.search(r'<p data-role="message">(.*?)</p>', output, re.S)
    text = re.sub("</?mark>", "", cont.group(1)) if cont else None
    return ([html.unescape(c) for c, _ in rows], [float(p) for _, p in rows],
            html.unescape(text) if text is not None else None, html.unescape(message.group(1)) if message else None)


def expected_top(model, text, temperature):
    logits = torch.tensor(model_logits(model, text))
    probs = torch.softmax(logits / temperature, dim=0).numpy() if temperature else None
    if probs is None:
        probs = np.eye(len(logits))[int(logits.argmax())]
    order = sorted(range(len(probs)), key=lambda v: (-probs[v], v))[:10]
    return [VOCAB.idx_to_token[v] for v in order], [probs[v] for v in order]


def test_live_view_follows_its_controls():
    model = random_model()
    pg = playground(model, VOCAB, prefix="the time", temperature=0.75, length=40, seed=3)
    pg.widget  # noqa: B018 - build the live view
    chars, probs, text, _ = shown(pg.output.value)
    want_chars, want_probs = expected_top(model, "the time", 0.75)
    assert chars == want_chars and np.allclose(probs, want_probs, atol=1e-9)
    assert len(text) == len("the time") + 40 and text.startswith("the time")

    pg.prefix_box.value = "Wells, 1895!"
    chars2, probs2, _, message = shown(pg.output.value)
    want_chars, want_probs = expected_top(model, "wells ", 0.75)
    assert (chars2, probs2) != (chars, probs)
    assert chars2 == want_chars and np.allclose(probs2, want_probs, atol=1e-9)
    assert "Ignored" in message and all(c in message for c in ",189!")

    pg.temperature_slider.value = 0.0
    chars0, probs0, greedy, _ = shown(pg.output.value)
    assert greedy == model.predict("Wells, 1895!", 40, VOCAB, temperature=0)
    assert probs0[0] == 1.0 and sum(probs0) == 1.0

    pg.temperature_slider.value = 1.5
    pg.seed_box.value = 11
    first = shown(pg.output.value)[2]
    assert first == pg.continuation("Wells, 1895!", 1.5, 40, 11)
    pg.resample()
    assert pg.seed == 12 and shown(pg.output.value)[2] != first
    pg.seed_box.value = 11
    assert shown(pg.output.value)[2] == first  # the same seed, the same text

    pg.prefix_box.value = ""
    chars_e, _, text_e, message = shown(pg.output.value)
    assert chars_e == [] and text_e is None and "prefix is empty" in message


# The live view in a real kernel, driven over the messaging protocol as JupyterLab or Colab drives it.

KERNEL_CODE = textwrap.dedent("""
    import torch, ipywidgets
    import d2lmini as d2l
    torch.manual_seed(0)
    vocab = d2l.Vocab(list("abcdefghijklmnopqrstuvwxyz "))
    model = d2l.RNNLMScratch(d2l.RNNScratch(28, 16), 28)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape))
    pg = d2l.playground(model, vocab, prefix="the", length=20)
    display(pg)
    print("ipywidgets", ipywidgets.__version__)
""")


@pytest.mark.kernel
@pytest.mark.parametrize("flavour", ["pinned", "colab-7.7.1"])
def test_live_view_in_a_kernel(flavour):
    with kernel(flavour, OMP_NUM_THREADS="1") as kc:
        messages = run_and_collect(kc, KERNEL_CODE, timeout=120)
        assert not [m["content"] for m in messages if m["msg_type"] == "error"]
        stdout = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
        assert f"ipywidgets {'7.7.1' if flavour == 'colab-7.7.1' else '8.'}" in stdout
        opened = {}
        for m in messages:
            if m["msg_type"] == "comm_open":
                state = m["content"]["data"]["state"]
                opened[state.get("description") or state["_model_name"]] = m["content"]["comm_id"]
        shown_data = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
        assert len(shown_data) == 1 and "data-d2lmini-model" in shown_data[0]["text/html"]
        assert shown_data[0]["application/vnd.jupyter.widget-view+json"]["model_id"] == opened["VBoxModel"]

        def send(comm, data):
            msg = kc.session.msg("comm_msg", {"comm_id": opened[comm], "data": data})
            kc.shell_channel.send(msg)
            updates = run_and_collect(kc, msg=msg)
            return [m["content"]["data"]["state"]["value"] for m in updates if m["msg_type"] == "comm_msg"
                    and m["content"]["comm_id"] == opened["HTMLModel"] and "value" in m["content"]["data"]["state"]]

        # The reader types a prefix, then moves the temperature to 0, then presses resample.
        typed = send("prefix", {"method": "update", "state": {"value": "a b"}, "buffer_paths": []})
        assert typed and 'data-role="probs"' in typed[-1] and "a b" in typed[-1]
        greedy = send("temperature", {"method": "update", "state": {"value": 0.0}, "buffer_paths": []})
        assert greedy and 'data-prob="1.0"' in greedy[-1]
        resampled = send("resample", {"method": "custom", "content": {"event": "click"}})
        assert resampled and "seed 1</p>" in resampled[-1]

        check = run_and_collect(kc, "import json; print(json.dumps([pg.prefix, pg.temperature, pg.seed, "
                                    "pg.model.predict('a b', 20, vocab, temperature=0)]))")
        state = json.loads("".join(m["content"]["text"] for m in check if m["msg_type"] == "stream"))
        assert state[:3] == ["a b", 0.0, 1]
        assert re.sub("</?mark>", "", re.search(r'data-role="continuation"[^>]*>(.*?)</p>', greedy[-1]).group(1)) \
            == state[3]
