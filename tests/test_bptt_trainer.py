"""The bptt page's trainer: its Python twin against autograd, and the page's script against the twin (in node).

The browser test (tests/test_browser_trainer.py) checks the script in the built page against PyTorch too; the
node test here is the fast version of that check, for the script file itself.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import d2lmini as d2l
from d2lmini.bptt import LM_PARAMS, lm_loss_and_gradients
from d2lmini.bptt_trainer import VOCAB, BPTTTrainer, bptt_trainer, encode, init_params, mulberry32

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "d2lmini" / "templates" / "bptt_trainer.js"
TEXT = "the time traveller smiled round at us then still smiling faintly"
TRUNCATIONS = [None, 1, 2, 3, 5, 7, 100]


def random_params(V, H, seed):
    gen = torch.Generator().manual_seed(seed)
    shapes = {"W_xh": (V, H), "W_hh": (H, H), "b_h": (H,), "W_hq": (H, V), "b_q": (V,)}
    scales = {"W_xh": 0.8, "W_hh": 1.5 / H ** 0.5, "b_h": 0.2, "W_hq": 1.0 / H ** 0.5, "b_q": 0.2}
    return {n: torch.randn(shapes[n], generator=gen, dtype=torch.float64) * scales[n] for n in LM_PARAMS}


def autograd_loss_and_gradients(params, tokens, truncation):
    """The oracle: the model written with autograd, the state detached at the start of every block of k steps."""
    leaf = {n: p.clone().requires_grad_() for n, p in params.items()}
    H = leaf["W_hh"].shape[0]
    state, states = torch.zeros(H, dtype=torch.float64), []
    for t in range(1, len(tokens)):
        if truncation is not None and (t - 1) % truncation == 0:
            state = state.detach()  # the state entering a block is a constant
        state = torch.tanh(leaf["W_xh"][tokens[t - 1]] + state @ leaf["W_hh"] + leaf["b_h"])
        states.append(state)
    logits = torch.stack(states) @ leaf["W_hq"] + leaf["b_q"]  # (T, V)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(tokens[1:]))
    return loss.item(), dict(zip(LM_PARAMS, torch.autograd.grad(loss, [leaf[n] for n in LM_PARAMS])))


def rel_err(a, b):
    """||a - b|| / ||b||; 0 when both are exactly zero (dL/dW_hh is zero for a single step from h_0 = 0)."""
    diff = (torch.as_tensor(a, dtype=torch.float64) - b).norm()
    return 0.0 if diff == 0 else float(diff / b.norm())


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("seed, V, H, T", [(0, 27, 16, 40), (1, 5, 3, 12), (2, 11, 8, 2)])
def test_twin_equals_autograd(truncation, seed, V, H, T):
    params = random_params(V, H, seed)
    tokens = torch.randint(0, V, (T,), generator=torch.Generator().manual_seed(seed + 10)).tolist()
    loss, grads = autograd_loss_and_gradients(params, tokens, truncation)
    out = lm_loss_and_gradients(params, tokens, truncation)
    assert abs(out.loss - loss) <= 1e-12 * loss
    for name in LM_PARAMS:
        assert out.grads[name].shape == grads[name].shape
        assert rel_err(out.grads[name], grads[name]) <= 1e-12, name
    assert out.state_grad_norms.shape == (T - 1,)


def test_state_gradients_are_cut_at_block_starts():
    params = random_params(27, 16, 3)
    tokens = encode(TEXT)
    # With k = 1 each state gets only the gradient through its own output: the same as the partial derivative.
    one = lm_loss_and_gradients(params, tokens, 1).state_grad_norms
    full = lm_loss_and_gradients(params, tokens, None).state_grad_norms
    assert torch.equal(one[-1:], full[-1:])  # the last state has nothing after it
    assert not torch.allclose(one[:-1], full[:-1])
    # A truncation at least as long as the sequence is full BPTT.
    long = lm_loss_and_gradients(params, tokens, len(tokens))
    assert torch.equal(long.state_grad_norms, full)


def test_twin_checks_its_arguments():
    params = random_params(5, 3, 0)
    with pytest.raises(ValueError, match="at least 2"):
        lm_loss_and_gradients(params, [1], None)
    with pytest.raises(IndexError, match="outside the vocabulary"):
        lm_loss_and_gradients(params, [1, 5], None)
    with pytest.raises(ValueError, match="truncation"):
        lm_loss_and_gradients(params, [1, 2], 0)
    with pytest.raises(ValueError, match="W_hh must have shape"):
        lm_loss_and_gradients({**params, "W_hh": torch.zeros(3, 4)}, [1, 2], None)
    with pytest.raises(ValueError, match="lacks"):
        lm_loss_and_gradients({"W_xh": params["W_xh"]}, [1, 2], None)
    with pytest.raises(ValueError, match="num_hiddens"):
        BPTTTrainer(TEXT, num_hiddens=2)
    with pytest.raises(ValueError, match="from 2 to"):
        BPTTTrainer("!")
    with pytest.raises(ValueError, match="menu"):
        bptt_trainer(TEXT, truncation=4)


def test_mulberry32_is_a_seeded_stream_in_0_1():
    first, again, other = mulberry32(0), mulberry32(0), mulberry32(1)
    draws = [first() for _ in range(1000)]
    assert draws == [again() for _ in range(1000)] and draws[:5] != [other() for _ in range(5)]
    assert all(0 <= u < 1 for u in draws) and all(u * 2**32 == int(u * 2**32) for u in draws)
    assert 0.45 < sum(draws) / 1000 < 0.55
    with pytest.raises(ValueError, match="seed"):
        mulberry32(2**32)


def test_trainer_learns_and_clips():
    trainer = BPTTTrainer(TEXT, num_hiddens=16, lr=1.0, clip=0.5, seed=1)
    trainer.train(60)
    assert trainer.losses[-1] < 0.7 * trainer.losses[0]
    assert any(trainer.clipped) and all(n > 0.5 for n, c in zip(trainer.grad_norms, trainer.clipped) if c)
    assert trainer.sample(20)[0] == TEXT[0] and len(trainer.sample(20)) == 21
    assert set(trainer.sample(50)) <= set(VOCAB)


def test_view_is_self_contained_and_deterministic():
    view = d2l.bptt_trainer(TEXT, num_hiddens=8, truncation=5)
    page = view.html()
    assert page == d2l.bptt_trainer(TEXT, num_hiddens=8, truncation=5).html()
    assert "data-d2lmini-trainer" in page and 'value="5" selected' in page
    for role in ["text", "hidden", "truncation", "lr", "clip", "seed", "train", "reset", "loss"]:
        assert f'data-role="{role}"' in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert len(page.encode()) < 40_000


# The page's script, run by node --------------------------------------------------------------------------------

NODE_RUNNER = r"""
const vm = require("vm"), fs = require("fs");
const job = JSON.parse(fs.readFileSync(0, "utf8"));
const context = {};
vm.createContext(context);
vm.runInContext(fs.readFileSync(job.script, "utf8"), context);
const api = context.d2lmini.bptt;
const out = {grads: job.cases.map(c => api.lossAndGradients(c.params, c.tokens, c.truncation))};
const params = api.initParams(job.train.V, job.train.H, job.train.seed), losses = [];
for (let i = 0; i < job.train.steps; i++) {
  losses.push(api.sgdStep(params, job.train.tokens, job.train.truncation, job.train.lr, job.train.clip).loss);
}
out.losses = losses;
out.sample = api.sample(params, job.train.tokens[0], 40, job.train.seed);
out.init = api.initParams(job.train.V, job.train.H, job.train.seed);
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_script_agrees_with_twin_in_node():
    cases = []
    for k in [None, 1, 3, 5]:
        params = random_params(27, 12, 5)
        tokens = encode(TEXT)
        cases.append({"params": {n: p.tolist() for n, p in params.items()}, "tokens": tokens, "truncation": k})
    train = {"V": len(VOCAB), "H": 12, "seed": 7, "tokens": encode(TEXT), "truncation": 3, "lr": 2.0, "clip": 0.5,
             "steps": 20}
    job = {"script": str(SCRIPT), "cases": cases, "train": train}
    done = subprocess.run(["node", "-e", NODE_RUNNER], input=json.dumps(job), capture_output=True, text=True,
                          timeout=60, check=True)
    out = json.loads(done.stdout)
    for case, js in zip(cases, out["grads"]):
        params = {n: torch.tensor(v, dtype=torch.float64) for n, v in case["params"].items()}
        loss, grads = autograd_loss_and_gradients(params, case["tokens"], case["truncation"])
        assert abs(js["loss"] - loss) <= 1e-12 * loss
        for name in LM_PARAMS:
            assert rel_err(js["grads"][name], grads[name]) <= 1e-12, (case["truncation"], name)
    initial = init_params(12, 7)
    assert all(torch.equal(torch.tensor(out["init"][n], dtype=torch.float64), initial[n]) for n in LM_PARAMS)
    twin = BPTTTrainer(TEXT, num_hiddens=12, truncation=3, lr=2.0, clip=0.5, seed=7)
    twin.train(20)
    assert max(abs(a - b) / b for a, b in zip(out["losses"], twin.losses)) <= 1e-10
    assert "".join(VOCAB[v] for v in out["sample"]) == twin.sample(40)[1:]
