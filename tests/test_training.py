"""Perplexity, clipping, seeds and the Trainer."""

import math

import pytest
import torch
from torch import nn

import d2lmini as d2l


class Uniform(nn.Module):
    """Outputs equal logits for every token: knows nothing."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, X):
        return torch.zeros(*X.shape, self.vocab_size) + 0 * self.dummy


def test_uniform_model_has_perplexity_equal_to_vocabulary_size():
    batches = [(torch.zeros(4, 5, dtype=torch.long), torch.randint(28, (4, 5))),
               (torch.zeros(1, 3, dtype=torch.long), torch.randint(28, (1, 3)))]
    assert d2l.perplexity(Uniform(28), batches) == pytest.approx(28)


def test_perplexity_weights_tokens_not_batches():
    # A model that puts probability p_i on the right token, batch by batch of very different sizes.
    class Known(nn.Module):
        def forward(self, X):
            p = X.float()[..., None]  # the input carries the probability of the target (token 0)
            return torch.log(torch.cat([p, (1 - p).expand(*p.shape[:-1], 1)], -1))

    big = (torch.full((10, 10), 0.5), torch.zeros(10, 10, dtype=torch.long))
    small = (torch.full((1, 1), 0.01), torch.zeros(1, 1, dtype=torch.long))
    nll = (100 * -math.log(0.5) + 1 * -math.log(0.01)) / 101
    assert d2l.perplexity(Known(), [big, small], device="cpu") == pytest.approx(math.exp(nll))
    mean_of_batch_perplexities = (2 + 100) / 2  # what the reference chapter reports
    assert d2l.perplexity(Known(), [big, small], device="cpu") != pytest.approx(mean_of_batch_perplexities)


def test_perplexity_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no tokens"):
        d2l.perplexity(Uniform(3), [])


class Tiny:
    """A data set of one fixed batch: the string 'abcabc...' where each letter predicts the next."""

    def __init__(self):
        seq = torch.arange(30) % 3
        self.X, self.Y = seq[:-1].reshape(1, -1), seq[1:].reshape(1, -1)

    def train_dataloader(self):
        return iter([(self.X, self.Y)])

    def val_dataloader(self):
        return iter([(self.X, self.Y)])


def test_trainer_learns_and_records_history():
    d2l.set_seed(0)
    model = d2l.RNNLMScratch(d2l.RNNScratch(3, 8, sigma=0.5), 3, lr=0.05, optimizer="adam")
    trainer = d2l.Trainer(max_epochs=60, gradient_clip_val=1.0, device="cpu", plot=False).fit(model, Tiny())
    h = trainer.history
    assert h["epoch"] == list(range(1, 61)) and len(h["val_ppl"]) == len(h["train_ppl"]) == 60
    assert h["val_ppl"][-1] < 1.2 < h["val_ppl"][0]  # it learned the cycle
    assert len(trainer.grad_norms) == 60 and trainer.train_time > 0


class Recording(d2l.RNNLMScratch):
    """Records the learning rate of every update."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def loss(self, logits, Y):
        self.seen.append(self.opt.param_groups[0]["lr"])
        return super().loss(logits, Y)

    def configure_optimizers(self):
        self.opt = super().configure_optimizers()
        return self.opt


def test_lr_schedule_counts_epochs_from_one_like_the_history():
    asked = []

    def schedule(epoch):
        asked.append(epoch)
        return 1 / epoch

    model = Recording(d2l.RNNScratch(3, 4), 3, lr=0.5)
    trainer = d2l.Trainer(4, device="cpu", plot=False, lr_schedule=schedule).fit(model, Tiny())
    assert asked == trainer.history["epoch"] == [1, 2, 3, 4]
    assert model.seen == pytest.approx([0.5, 0.25, 0.5 / 3, 0.125])  # epoch 1 trains at f(1)


def test_lr_schedule_switches_where_the_docstring_says():
    model = Recording(d2l.RNNScratch(3, 4), 3, lr=0.5)
    d2l.Trainer(5, device="cpu", plot=False, lr_schedule=lambda e: 1.0 if e <= 3 else 0.1).fit(model, Tiny())
    assert model.seen == pytest.approx([0.5, 0.5, 0.5, 0.05, 0.05])  # divided by ten from epoch 4 on


@pytest.mark.parametrize("factor", [-0.1, float("nan"), float("inf"), "1", None])
def test_lr_schedule_returning_a_bad_factor_is_a_clear_error(factor):
    trainer = d2l.Trainer(2, device="cpu", plot=False, lr_schedule=lambda e: factor)
    with pytest.raises(ValueError, match=r"lr_schedule\(1\) must be a finite number >= 0"):
        trainer.fit(d2l.RNNLMScratch(d2l.RNNScratch(3, 4), 3), Tiny())


def test_each_fit_starts_a_fresh_history_and_keeps_the_weights():
    d2l.set_seed(0)
    model = d2l.RNNLMScratch(d2l.RNNScratch(3, 8, sigma=0.5), 3, lr=0.05, optimizer="adam")
    trainer = d2l.Trainer(max_epochs=20, gradient_clip_val=1.0, device="cpu", plot=False)
    first = dict(trainer.fit(model, Tiny()).history)
    second = trainer.fit(model, Tiny()).history
    assert first["epoch"] == second["epoch"] == list(range(1, 21))
    assert len(second["val_ppl"]) == len(second["train_ppl"]) == len(second["epoch_time"]) == 20
    assert len(trainer.grad_norms) == 20  # this call's updates only
    assert second["val_ppl"][0] < first["val_ppl"][0]  # the second call went on from the trained weights


def test_clipping_bounds_the_global_norm_and_reports_the_norm_before():
    params = [nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(4))]
    params[0].grad = torch.tensor([3.0, 0.0, 0.0])
    params[1].grad = torch.tensor([0.0, 4.0, 0.0, 0.0])  # global norm 5
    trainer = d2l.Trainer(1, gradient_clip_val=1.0, device="cpu")
    assert trainer.clip_gradients(params) == pytest.approx(5.0)
    clipped = torch.cat([p.grad for p in params])
    assert clipped.norm() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(clipped / clipped.norm(), torch.tensor([3.0, 0, 0, 0, 4, 0, 0]) / 5)


def test_no_clipping_leaves_gradients_alone():
    p = nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([30.0, 40.0])
    assert d2l.Trainer(1, device="cpu").clip_gradients([p]) == pytest.approx(50.0)
    assert torch.equal(p.grad, torch.tensor([30.0, 40.0]))


@pytest.mark.parametrize("kwargs, message", [
    ({"max_epochs": 0}, "max_epochs"), ({"max_epochs": 2.5}, "max_epochs"),
    ({"max_epochs": 1, "gradient_clip_val": -1}, "gradient_clip_val"),
    ({"max_epochs": 1, "gradient_clip_val": float("nan")}, "gradient_clip_val"),
    ({"max_epochs": 1, "num_threads": 0}, "num_threads"), ({"max_epochs": 1, "num_threads": 1.5}, "num_threads"),
])
def test_bad_trainer_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        d2l.Trainer(**kwargs)


def test_set_seed_makes_torch_reproducible_and_try_gpu_falls_back():
    d2l.set_seed(7)
    a = torch.rand(3)
    d2l.set_seed(7)
    assert torch.equal(a, torch.rand(3))
    assert d2l.try_gpu(99).type == "cpu"


class CountingThreads(d2l.RNNLMScratch):
    """Records torch's thread count at every forward pass; fails in the forward pass of update ``fail_at``."""

    def __init__(self, *args, fail_at=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads, self.fail_at = [], fail_at

    def forward(self, X, state=None):
        self.threads.append(torch.get_num_threads())
        if len(self.threads) == self.fail_at:
            raise RuntimeError("stop here")
        return super().forward(X, state)


@pytest.mark.parametrize("num_threads", [1, 3])
def test_fit_trains_on_num_threads_and_gives_the_previous_number_back(num_threads):
    before = torch.get_num_threads()
    other = 2 if before != 2 else 4  # a number different from both, so a missed restore shows
    torch.set_num_threads(other)
    try:
        model = CountingThreads(d2l.RNNScratch(3, 4), 3)
        d2l.Trainer(2, device="cpu", plot=False, num_threads=num_threads).fit(model, Tiny())
        assert set(model.threads) == {num_threads} and len(model.threads) == 4  # 2 updates, 2 validation passes
        assert torch.get_num_threads() == other
        failing = CountingThreads(d2l.RNNScratch(3, 4), 3, fail_at=2)
        with pytest.raises(RuntimeError, match="stop here"):
            d2l.Trainer(2, device="cpu", plot=False, num_threads=num_threads).fit(failing, Tiny())
        assert torch.get_num_threads() == other  # restored after the error too
        untouched = CountingThreads(d2l.RNNScratch(3, 4), 3)
        d2l.Trainer(1, device="cpu", plot=False).fit(untouched, Tiny())
        assert set(untouched.threads) == {other}  # None leaves torch's setting alone
    finally:
        torch.set_num_threads(before)


def test_chapter_trainer_is_the_rnn_pages_setup():
    trainer = d2l.chapter_trainer()
    assert trainer.max_epochs == 30 and trainer.gradient_clip_val == 1.0 and not trainer.plot
    assert trainer.num_threads == d2l.chapter.THREADS == 1
    assert [trainer.lr_schedule(e) for e in (1, 24, 25, 30)] == [1.0, 1.0, 0.1, 0.1]
    assert d2l.CHAPTER.lr_drop_epochs == 6
    assert d2l.chapter_trainer(max_epochs=3, lr_drop_fraction=1.0).lr_schedule(1) == 0.1
    assert [d2l.chapter_trainer(max_epochs=60).lr_schedule(e) for e in (48, 49)] == [1.0, 0.1]
    with pytest.raises(ValueError, match="lr_drop_fraction must be a finite number >= 0"):
        d2l.chapter_trainer(lr_drop_fraction=-0.1)
    with pytest.raises(ValueError, match="not fields of Setup"):
        d2l.chapter_trainer(lr_drop_epoch=31)


def test_setup_builds_the_chapter_model_and_checks_its_fields():
    assert isinstance(d2l.CHAPTER.model(28), d2l.RNNLMScratch) and d2l.CHAPTER.kind == "scratch"
    concise = d2l.CHAPTER.replace(kind="nn.RNN").model(28)
    assert isinstance(concise, d2l.RNNLM) and concise.rnn.num_hiddens == 128 and concise.lr == 0.01
    for bad in ({"kind": "lstm"}, {"num_hiddens": 0}, {"lr": 0}, {"partition": "shuffled"}, {"max_epochs": 2.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            d2l.CHAPTER.replace(**bad)


def test_sequential_training_carries_the_detached_state_across_batches():
    # Two batches of one row: with sequential partitioning the second continues the first, so the trainer
    # must pass the first batch's last state into the second. A model that records the states it is given
    # shows it; random partitioning must start every batch from zeros.
    class Recorder(d2l.RNNLMScratch):
        def logits_and_state(self, X, state=None):
            self.seen.append(None if state is None else (state.clone(), state.requires_grad))
            return super().logits_and_state(X, state)

    class TwoBatches:
        vocab = None

        def __init__(self, partition):
            self.partition = partition

        def train_dataloader(self):
            X = torch.tensor([[0, 1, 2, 3]])
            return iter([(X, X), (X, X)])

        def val_dataloader(self):
            X = torch.tensor([[0, 1, 2, 3]])
            return iter([(X, X)])

    for partition, carried in (("sequential", True), ("random", False)):
        torch.manual_seed(0)
        model = Recorder(d2l.RNNScratch(4, 3), 4, lr=0.1)
        model.seen = []
        d2l.Trainer(max_epochs=1, plot=False).fit(model, TwoBatches(partition))
        train_calls = model.seen[:2]
        assert train_calls[0] is None
        if carried:
            state, requires_grad = train_calls[1]
            assert state.shape == (1, 3) and state.abs().sum() > 0 and not requires_grad
        else:
            assert train_calls[1] is None
