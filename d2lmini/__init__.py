"""d2lmini: the helper package of the d2lmini chapter on recurrent neural networks.

Each module holds one part of the chapter: ``data`` and ``vocab`` (text to
indices), ``sequence`` (autoregressive forecasting), ``ngram`` (counting
baselines), ``models`` (RNNs and language models), ``decoding`` (sampling),
``training`` (Trainer, perplexity), ``bptt`` (gradients through time), ``plotting``,
``diagrams`` (boxes and arrows, the unrolled RNN), ``widgets`` and ``playground`` (the model in the page).
"""

from d2lmini.bptt import (
    BPTTGrads,
    block_carry,
    bptt_backward,
    gradient_agreement,
    random_carry,
    recurrent_matrix,
    segment_lengths,
    state_jacobians,
    windowed_bptt,
)
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
from d2lmini.sequence import k_step_ahead, lag_features
from d2lmini.studies import load_study
from d2lmini.text import preprocess, tokenize
from d2lmini.training import Trainer, perplexity, set_seed, try_gpu
from d2lmini.vocab import Vocab
from d2lmini.widgets import explore, temperature_explorer

__version__ = "0.1.0"

__all__ = [
    "BPTTGrads", "block_carry", "bptt_backward", "gradient_agreement", "random_carry", "recurrent_matrix",
    "segment_lengths", "state_jacobians", "windowed_bptt",
    "TIME_MACHINE_SHA1", "TIME_MACHINE_URL", "DownloadError", "NGramLM", "count_ngrams", "RNN", "RNNLM", "RNNLMScratch",
    "RNNScratch", "TimeMachine", "Trainer", "Vocab", "copy_scratch_weights", "download", "explore", "export_model",
    "k_step_ahead", "lag_features", "partition_starts", "perplexity", "playground", "plot", "plot_training",
    "load_study", "preprocess", "read_time_machine", "sample", "set_seed", "temperature_explorer", "tokenize",
    "try_gpu", "use_png",
]
