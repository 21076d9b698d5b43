"""d2lmini: the helper package of the d2lmini chapter on recurrent neural networks.

Each module holds one part of the chapter:

* ``data``: downloading The Time Machine, ``TimeMachine`` (train/validation/test split, minibatches);
  ``text``: ``preprocess`` and ``tokenize``; ``vocab``: ``Vocab``.
* ``sequence``: autoregressive forecasting; ``ngram``: counting baselines (add-alpha, Kneser-Ney).
* ``models``: RNN layers and language models; ``decoding``: sampling with a temperature.
* ``training``: ``Trainer``, ``perplexity``; ``chapter``: ``Setup`` and ``CHAPTER``, the chapter's
  training setup; ``bptt``: gradients through time, written out; ``bptt_trainer``: a small RNN that the
  bptt page trains in the browser (``bptt_trainer``), and its Python twin (``BPTTTrainer``).
* ``plotting`` and ``diagrams`` (boxes, arrows, the unrolled RNN); ``widgets`` (``explore``,
  ``temperature_explorer``) and ``playground`` (the trained model running in the page), whose static
  views are filled from the HTML/JS templates in ``d2lmini/templates``.
* ``studies``: reads the committed results of the slow experiments; ``checks``: shared argument checks.
"""

from d2lmini.bptt import (
    BPTTGrads,
    block_carry,
    bptt_backward,
    gradient_agreement,
    lm_loss_and_gradients,
    random_carry,
    random_rnn,
    recurrent_matrix,
    segment_lengths,
    state_jacobians,
    windowed_bptt,
)
from d2lmini.bptt_trainer import BPTTTrainer, bptt_trainer
from d2lmini.chapter import CHAPTER, Setup, chapter_trainer, perplexity_band
from d2lmini.data import (
    TIME_MACHINE_SHA1,
    TIME_MACHINE_URL,
    DownloadError,
    TimeMachine,
    download,
    partition_starts,
    read_time_machine,
)
from d2lmini.decoding import sample
from d2lmini.models import RNN, RNNLM, RNNLMScratch, RNNScratch, copy_scratch_weights
from d2lmini.ngram import NGramLM, count_ngrams
from d2lmini.playground import export_model, playground
from d2lmini.plotting import plot, plot_training, use_png
from d2lmini.sequence import RNNForecaster, k_step_ahead, lag_features, noisy_sine, train_forecasters
from d2lmini.studies import load_study
from d2lmini.text import preprocess, tokenize
from d2lmini.training import Trainer, perplexity, set_seed, try_gpu
from d2lmini.vocab import Vocab
from d2lmini.widgets import explore, temperature_explorer

__version__ = "0.1.0"

__all__ = [
    "BPTTGrads", "block_carry", "bptt_backward", "gradient_agreement", "random_carry", "random_rnn",
    "recurrent_matrix", "segment_lengths", "state_jacobians", "windowed_bptt", "BPTTTrainer", "bptt_trainer",
    "lm_loss_and_gradients", "TIME_MACHINE_SHA1",
    "TIME_MACHINE_URL", "DownloadError", "NGramLM", "count_ngrams", "RNN", "RNNLM", "RNNLMScratch", "RNNScratch",
    "TimeMachine", "Trainer", "CHAPTER", "Setup", "chapter_trainer", "perplexity_band", "Vocab", "copy_scratch_weights",
    "download", "explore",
    "export_model", "RNNForecaster", "k_step_ahead", "lag_features", "noisy_sine", "partition_starts", "perplexity",
    "playground", "plot", "plot_training", "load_study", "preprocess", "read_time_machine", "sample", "set_seed",
    "temperature_explorer", "tokenize", "train_forecasters", "try_gpu", "use_png",
]
