"""Package hygiene: the wheel and sdist build, pass `twine check`, ship the templates, and the wheel
installed into a clean venv (its loose bounds resolved within the pins of requirements*.txt) imports d2lmini
and trains a step. The wheel and the venv are conftest's ``clean_venv``, shared with tests/test_pages_alone.py.

Slow (a new venv with torch): marked `package` and run by `make package`, not by `make unit`.
"""

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import TORCH

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "d2lmini"

pytestmark = pytest.mark.package

# Runs in the clean venv, outside the repository: imports the installed wheel, trains one step on
# made-up data (no download) and prints where d2lmini and its templates came from.
SMOKE = """
import importlib.resources, sys, torch
import d2lmini as d2l

class Tiny:
    def __init__(self):
        seq = torch.arange(64) % 4
        self.X, self.Y = seq[:-1].reshape(1, -1), seq[1:].reshape(1, -1)  # (1, 63) each
    def train_dataloader(self):
        return iter([(self.X, self.Y)])
    def val_dataloader(self):
        return iter([(self.X, self.Y)])

d2l.set_seed(0)
model = d2l.RNNLM(d2l.RNN(4, 8), 4, lr=0.01, optimizer="adam")
trainer = d2l.Trainer(max_epochs=2, gradient_clip_val=1.0, device="cpu", plot=False).fit(model, Tiny())
ppl = trainer.history["val_ppl"]
assert len(ppl) == 2 and all(0 < p < float("inf") for p in ppl), ppl
print("module", d2l.__file__)
print("templates", sorted(f.name for f in importlib.resources.files("d2lmini").joinpath("templates").iterdir()))
print("torch", torch.__version__)
"""


def run(*cmd, cwd=ROOT, env=None):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def shipped_files():
    """Every source file the package must ship, relative to the repository: modules, templates, study results."""
    files = sorted(PACKAGE.glob("*.py")) + sorted(p for p in (PACKAGE / "templates").glob("*")
                                                   if p.is_file() and not p.name.startswith("."))
    files += sorted((PACKAGE / "study_results").glob("*.json"))
    return [p.relative_to(ROOT).as_posix() for p in files]


@pytest.fixture(scope="module")
def dist(clean_venv):
    """The sdist and the wheel built from it, with the pinned setuptools (no download of a build backend)."""
    return clean_venv["wheel"], clean_venv["sdist"]


def test_twine_accepts_wheel_and_sdist(dist):
    output = run(sys.executable, "-m", "twine", "check", "--strict", *dist)
    assert output.count("PASSED") == 2


def test_wheel_and_sdist_ship_modules_and_templates(dist):
    wheel, sdist = dist
    expected = shipped_files()
    assert any(name.startswith("d2lmini/templates/") for name in expected), "no templates found to check"
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = set(zf.namelist())
    with tarfile.open(sdist) as tf:
        in_sdist = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    assert [f for f in expected if f not in in_wheel] == []
    assert [f for f in expected if f not in in_sdist] == []
    assert not any(name.startswith(("tests/", "book/", "bench/")) for name in in_wheel)


def test_wheel_in_clean_venv_imports_and_trains(clean_venv, tmp_path):
    # The venv holds torch, then the wheel, every version pinned (requirements*.txt as constraints): the wheel's
    # loose bounds must accept the pins, and nothing newer comes from the network in the middle of `make test`.
    venv, python = clean_venv["base"] / "venv", clean_venv["python"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    output = run(python, "-c", SMOKE, cwd=tmp_path, env=env)
    lines = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert Path(lines["module"]).is_relative_to(venv), lines["module"]  # the wheel, not the source tree
    templates = sorted(Path(f).name for f in shipped_files() if f.startswith("d2lmini/templates/"))
    assert lines["templates"] == repr(templates)
    assert lines["torch"].startswith(TORCH.split("==")[1])  # installing the wheel did not replace torch
