"""The chapter's training setup, written down once.

The RNN pages, the benchmark and the studies all train the same character-level language model the same
way. ``Setup`` holds that way (layer, sizes, optimiser, schedule, clipping, minibatching) and builds the
data, the model and the ``Trainer`` from it; ``CHAPTER`` is the setup the pages use. A study that varies
one factor writes ``CHAPTER.replace(num_hiddens=256)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from d2lmini.checks import check_choice, check_int, check_real
from d2lmini.data import PARTITIONS, TimeMachine
from d2lmini.models import RNN, RNNLM, RNNLMScratch, RNNScratch
from d2lmini.training import Trainer, set_seed

KINDS = ("scratch", "nn.RNN")

# CPU threads while training (Trainer's num_threads). At H = 128 and B = 32 the matrix products are too small to
# split: a second thread makes an epoch slower and burns a second core (bench/run.py prints both speeds), so the
# chapter trains on one, as the studies always did. This also removes the thread count from what a reader's
# result depends on. A GPU ignores it.
THREADS = 1


@dataclass(frozen=True)
class Setup:
    """One way to train the chapter's language model.

    Attributes:
        kind: ``"scratch"`` (``RNNLMScratch`` over ``RNNScratch``) or ``"nn.RNN"`` (``RNNLM`` over ``RNN``).
        num_hiddens: hidden units ``H``.
        batch_size, num_steps: rows per minibatch and characters per row.
        lr: Adam's learning rate.
        gradient_clip_val: global-norm clipping threshold (0: no clipping).
        max_epochs: passes over the training text.
        lr_drop_fraction: the last ``lr_drop_fraction`` of the epochs train at ``lr / 10`` (0: no drop).
        partition: ``"random"`` or ``"sequential"`` minibatches (the latter carries the state across batches).

    Raises:
        ValueError: a field has the wrong type or range.
    """

    kind: str = "scratch"
    num_hiddens: int = 128
    batch_size: int = 32
    num_steps: int = 64
    lr: float = 0.01
    gradient_clip_val: float = 1.0
    max_epochs: int = 30
    lr_drop_fraction: float = 0.2
    partition: str = "random"

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("partition", self.partition, PARTITIONS)
        for name in ("num_hiddens", "batch_size", "num_steps", "max_epochs"):
            check_int(name, getattr(self, name))
        check_real("lr", self.lr, minimum=0, exclusive_minimum=True)
        check_real("gradient_clip_val", self.gradient_clip_val, minimum=0, hint="0 turns clipping off")
        check_real("lr_drop_fraction", self.lr_drop_fraction, minimum=0, maximum=1)

    @property
    def lr_drop_epochs(self) -> int:
        """How many final epochs train at ``lr / 10``: ``lr_drop_fraction`` of ``max_epochs``, rounded half up."""
        return math.floor(self.max_epochs * self.lr_drop_fraction + 0.5)

    def replace(self, **changes: object) -> Setup:
        """Return a copy with ``changes`` applied (checked like the original)."""
        return dataclasses.replace(self, **changes)

    def data(self, **kwargs: object) -> TimeMachine:
        """Return The Time Machine batched as this setup says (``kwargs`` go to ``TimeMachine``)."""
        return TimeMachine(self.batch_size, self.num_steps, partition=self.partition, **kwargs)

    def model(self, vocab_size: int) -> RNNLMScratch:
        """Return a fresh, untrained model of ``kind`` (weights drawn from torch's global generator)."""
        if self.kind == "scratch":
            return RNNLMScratch(RNNScratch(vocab_size, self.num_hiddens), vocab_size, lr=self.lr, optimizer="adam")
        return RNNLM(RNN(vocab_size, self.num_hiddens), vocab_size, lr=self.lr, optimizer="adam")

    def trainer(self, plot: bool = False) -> Trainer:
        """Return the ``Trainer``: ``max_epochs`` epochs, clipping, the tenfold drop for the last epochs, one thread."""
        last_full = self.max_epochs - self.lr_drop_epochs
        return Trainer(self.max_epochs, gradient_clip_val=self.gradient_clip_val, plot=plot,
                       lr_schedule=lambda epoch: 1.0 if epoch <= last_full else 0.1, num_threads=THREADS)

    def train(self, data: TimeMachine | None = None, seed: int = 0, plot: bool = False
              ) -> tuple[RNNLMScratch, Trainer]:
        """Seed every generator with ``seed``, build a model and train it on ``data``; return both.

        ``data`` defaults to ``self.data()``; pass one to reuse it (its batch size and steps are then its own).
        """
        check_int("seed", seed, minimum=0)
        data = self.data() if data is None else data
        set_seed(seed)
        model = self.model(len(data.vocab))
        return model, self.trainer(plot).fit(model, data)


# The setup of rnn-scratch and rnn-concise (chosen on rnn-scratch, measured in studies/seeds.json).
CHAPTER = Setup()


def chapter_trainer(plot: bool = False, **changes: object) -> Trainer:
    """Return the ``Trainer`` of ``CHAPTER`` (with ``changes`` to its fields, e.g. ``max_epochs=10``).

    Raises:
        ValueError: a change names no field of ``Setup`` or has a bad value.
    """
    fields = {f.name for f in dataclasses.fields(Setup)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(f"chapter_trainer got {unknown}, which are not fields of Setup; use some of {sorted(fields)}")
    return CHAPTER.replace(**changes).trainer(plot)


# Half-width of a perplexity band: six seed standard deviations, at least BAND_MIN, at most BAND_MAX. Six sd
# leave room for other CPUs and thread counts (float32 training differs in the last bits between them);
# BAND_MAX keeps the band narrow enough that a run without the learning-rate drop falls outside it.
BAND_SDS, BAND_MIN, BAND_MAX = 6.0, 0.03, 0.125


def perplexity_band(kind: str = "scratch", part: str = "val") -> tuple[float, float]:
    """Return ``(low, high)``: where a run of ``CHAPTER`` (with layer ``kind``) lands on ``part``, from the seeds study.

    The band is the mean over seeds plus or minus ``BAND_SDS`` standard deviations, clamped to
    ``[BAND_MIN, BAND_MAX]`` on each side, so it is at most ``2 * BAND_MAX`` wide. Pages assert their
    training result against it.

    Raises:
        ValueError: ``kind`` or ``part`` is not one of the study's.
    """
    from d2lmini.studies import load_study  # studies reads files only; import it where it is needed

    check_choice("kind", kind, KINDS)
    check_choice("part", part, ("val", "test"))
    stats = load_study("seeds")["results"]["summary"][kind][f"{part}_ppl"]
    half = min(max(BAND_SDS * stats["sd"], BAND_MIN), BAND_MAX)
    return stats["mean"] - half, stats["mean"] + half
