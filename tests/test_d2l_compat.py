"""Calls written for d2l 1.x either work here or fail with a message that says what to write instead."""

import hashlib

import pytest
import torch
from torch import nn

import d2lmini as d2l
from d2lmini import data

CONTENT = b"The Time Traveller (for so it will be convenient to speak of him)\n"
SHA1 = hashlib.sha1(CONTENT).hexdigest()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A file:// URL serving CONTENT, an empty cache and no offline folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    path = tmp_path / "served" / "book.txt"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path.as_uri()


# download(url, folder='../data', sha1_hash=None) in d2l; download(url, sha1, filename) here.

def test_download_d2l_keywords_work_and_use_the_folder(served, tmp_path):
    folder = tmp_path / "data"
    path = d2l.download(served, folder=str(folder), sha1_hash=SHA1)
    assert path == folder / "book.txt" and path.read_bytes() == CONTENT
    assert not (tmp_path / "cache").exists()  # the folder replaces the cache, as in d2l
    assert d2l.download(served, sha1_hash=SHA1).read_bytes() == CONTENT


def test_download_d2l_positional_order_explains_itself(served, tmp_path):
    with pytest.raises(ValueError, match=r"download\(url, folder, sha1_hash\)") as err:
        d2l.download(served, str(tmp_path / "data"), SHA1)
    assert "'" + str(tmp_path / "data") + "'" in str(err.value)
    assert "third argument looks like one" in str(err.value)
    assert not (tmp_path / "data").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("bad", ["abc", "g" * 40, SHA1[:-1], 123])
def test_download_rejects_anything_but_40_hex_digits(served, bad):
    with pytest.raises(ValueError, match="40 hexadecimal digits"):
        d2l.download(served, bad)


def test_download_accepts_an_upper_case_sha1(served):
    assert d2l.download(served, SHA1.upper()).read_bytes() == CONTENT


def test_download_needs_a_sha1_once(served):
    with pytest.raises(TypeError, match="needs the file's SHA-1"):
        d2l.download(served)
    with pytest.raises(TypeError, match="twice"):
        d2l.download(served, SHA1, sha1_hash=SHA1)


def test_download_of_a_data_hub_name_points_to_read_time_machine():
    with pytest.raises(ValueError, match="read_time_machine"):
        d2l.download("time_machine")


# tokenize(lines, token='word') in d2l's older chapters; tokenize(text, token='char') here.

def test_tokenize_list_of_lines_matches_d2l():
    lines = ["the time machine", "", "by h g  wells"]
    assert d2l.tokenize(lines, "word") == [line.split() for line in lines]
    assert d2l.tokenize(lines, token="char") == [list(line) for line in lines]
    assert d2l.tokenize(tuple(lines), "word") == [line.split() for line in lines]


def test_tokenize_list_without_token_refuses_to_guess():
    with pytest.raises(ValueError, match=r"tokenize\(lines, 'word'\)"):
        d2l.tokenize(["the time machine"])


def test_tokenize_string_keeps_its_default_and_rejects_other_types():
    assert d2l.tokenize("ab c") == ["a", "b", " ", "c"]
    with pytest.raises(TypeError, match="list of strings"):
        d2l.tokenize(["a", 1], "word")
    with pytest.raises(ValueError, match="'char' or 'word'"):
        d2l.tokenize(["a"], "byte")


# Trainer(max_epochs, num_gpus=0, gradient_clip_val=0) in d2l.

def test_trainer_accepts_num_gpus():
    assert d2l.Trainer(max_epochs=1, num_gpus=0, plot=False).device == torch.device("cpu")
    expected = torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    trainer = d2l.Trainer(max_epochs=3, num_gpus=1, gradient_clip_val=1.0, plot=False)
    assert trainer.device == expected and trainer.gradient_clip_val == 1.0 and trainer.max_epochs == 3


@pytest.mark.parametrize("args", [(10, 1), (10, 0, 1.0)])
def test_trainer_positional_arguments_after_max_epochs_are_refused(args):
    with pytest.raises(TypeError, match=r"max_epochs=10, num_gpus=1, gradient_clip_val=1.0"):
        d2l.Trainer(*args)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_gpus": -1}, "num_gpus"),
    ({"num_gpus": 1.0}, "num_gpus"),
    ({"num_gpus": 0, "device": "cpu"}, "not both"),
])
def test_trainer_bad_num_gpus(kwargs, match):
    with pytest.raises(ValueError, match=match):
        d2l.Trainer(1, **kwargs)


def test_trainer_keywords_used_by_the_pages_still_work():
    schedule = lambda e: 1.0 if e <= 2 else 0.1  # noqa: E731
    trainer = d2l.Trainer(max_epochs=3, gradient_clip_val=0.5, plot=False, lr_schedule=schedule)
    assert (trainer.max_epochs, trainer.gradient_clip_val, trainer.lr_schedule) == (3, 0.5, schedule)


# clip_gradients(grad_clip_val, model) in d2l; clip_gradients(params) here.

def model_with_gradient(norm_parts=(3.0, 4.0)):
    """A model whose gradient is known: weight grad (3, 4) (norm 5), and a frozen parameter with a huge grad."""
    model = nn.Linear(2, 1, bias=False)
    model.weight.grad = torch.tensor([list(norm_parts)])  # (1, 2)
    model.frozen = nn.Parameter(torch.zeros(1), requires_grad=False)
    model.frozen.grad = torch.tensor([100.0])  # not trainable: d2l leaves it out of the norm
    return model


def test_clip_gradients_d2l_form():
    model = model_with_gradient()
    trainer = d2l.Trainer(1, device="cpu", plot=False)  # gradient_clip_val 0: the d2l argument decides
    assert trainer.clip_gradients(1.0, model) == pytest.approx(5.0)
    assert model.weight.grad.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert model.frozen.grad.item() == 100.0


def test_clip_gradients_d2l_form_leaves_small_gradients():
    model = model_with_gradient()
    assert d2l.Trainer(1, plot=False).clip_gradients(10, model) == pytest.approx(5.0)
    assert model.weight.grad.tolist() == [[3.0, 4.0]]


def test_clip_gradients_our_form_takes_a_list_or_a_model():
    trainer = d2l.Trainer(1, gradient_clip_val=2.5, device="cpu", plot=False)
    model = model_with_gradient()
    assert trainer.clip_gradients(model) == pytest.approx(5.0)
    assert model.weight.grad.norm().item() == pytest.approx(2.5, rel=1e-5)
    model = model_with_gradient()
    assert trainer.clip_gradients([model.weight]) == pytest.approx(5.0)
    assert model.weight.grad.norm().item() == pytest.approx(2.5, rel=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda t, m: t.clip_gradients(1.0), TypeError, "without the model"),
    (lambda t, m: t.clip_gradients(list(m.parameters()), m), TypeError, r"not \(params, model\)"),
    (lambda t, m: t.clip_gradients(0, m), ValueError, "positive"),
    (lambda t, m: t.clip_gradients(-1.0, m), ValueError, "positive"),
])
def test_clip_gradients_wrong_calls(call, error, match):
    with pytest.raises(error, match=match):
        call(d2l.Trainer(1, plot=False), model_with_gradient())
