"""Recurrent networks and the character-level language models built on them.

Shapes: ``B`` batch, ``T`` time steps, ``V`` vocabulary, ``I`` inputs, ``H`` hidden units.
Language models take batch-major indices ``(B, T)``; RNN layers take
time-major features ``(T, B, I)``, like ``torch.nn.RNN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from d2lmini.checks import (
    check_choice,
    check_device,
    check_features,
    check_index_tensor,
    check_int,
    check_real,
    check_state,
    check_str,
    check_temperature,
    check_tokens,
    check_vocab,
)
from d2lmini.decoding import sample
from d2lmini.text import preprocess
from d2lmini.vocab import Vocab


@contextmanager
def eval_mode(model: object) -> Iterator[None]:
    """Run the ``with`` block with ``model`` in evaluation mode, then restore its mode, even after an error.

    Anything that is not an ``nn.Module`` (a plain function) is left alone.
    """
    if not isinstance(model, nn.Module):
        yield
        return
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class RNNScratch(nn.Module):
    """A vanilla RNN layer written out: ``H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)``.

    Args:
        num_inputs: features per time step (``I``).
        num_hiddens: hidden units (``H``).
        sigma: standard deviation of the Gaussian initial weights.

    Raises:
        ValueError: a size that is not a positive integer, or ``sigma`` not a finite number >= 0.
    """

    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01) -> None:
        super().__init__()
        self.num_inputs, self.num_hiddens = check_int("num_inputs", num_inputs), check_int("num_hiddens", num_hiddens)
        sigma = check_real("sigma", sigma, minimum=0)
        self.W_xh = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.W_hh = nn.Parameter(torch.randn(num_hiddens, num_hiddens) * sigma)
        self.b_h = nn.Parameter(torch.zeros(num_hiddens))

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the layer over ``inputs`` of shape ``(T, B, I)``.

        ``state`` is ``None`` (zeros) or a ``(B, H)`` tensor, such as the state
        returned by a previous call, for any batch size.

        Returns:
            ``(outputs, state)``: all hidden states ``(T, B, H)`` and the last one ``(B, H)``.

        Raises:
            TypeError, ValueError: ``inputs`` or ``state`` of the wrong kind, shape, dtype or device.
        """
        check_features("inputs", inputs, self.num_inputs, self.W_xh)
        batch_size = inputs.shape[1]
        if state is None:
            state = inputs.new_zeros(batch_size, self.num_hiddens)
        check_state("state", state, (batch_size, self.num_hiddens), inputs,
                    "(B, H) for RNNScratch; an nn.RNN state (1, B, H) becomes one with state[0]")
        # The input term does not depend on the state: compute it for all steps at once.
        input_terms = inputs @ self.W_xh + self.b_h  # (T, B, H)
        outputs = []
        # unbind(0) splits the steps in one autograd node. Indexing input_terms[t] would add one node per
        # step whose backward writes a full (T, B, H) gradient: O(T^2) work (the rnn-concise page measures it).
        for input_term in input_terms.unbind(0):  # (B, H) each
            state = torch.tanh(torch.addmm(input_term, state, self.W_hh))  # (B, H)
            outputs.append(state)
        return torch.stack(outputs), state


class RNN(nn.Module):
    """The same layer as ``RNNScratch``, computed by ``torch.nn.RNN``.

    Its state has shape ``(1, B, H)`` (one layer), as ``nn.RNN`` expects.

    Raises:
        ValueError: a size that is not a positive integer.
    """

    def __init__(self, num_inputs: int, num_hiddens: int) -> None:
        super().__init__()
        self.num_inputs, self.num_hiddens = check_int("num_inputs", num_inputs), check_int("num_hiddens", num_hiddens)
        self.rnn = nn.RNN(num_inputs, num_hiddens)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(outputs (T, B, H), state (1, B, H))`` for ``inputs (T, B, I)``.

        Raises:
            TypeError, ValueError: ``inputs`` or ``state`` of the wrong kind, shape, dtype or device.
        """
        check_features("inputs", inputs, self.num_inputs, self.rnn.weight_ih_l0)
        if state is not None:
            check_state("state", state, (1, inputs.shape[1], self.num_hiddens), inputs,
                        "(1, B, H) for nn.RNN; a (B, H) state from RNNScratch becomes one with state[None]")
        return self.rnn(inputs, state)


class RNNLMScratch(nn.Module):
    """A character-level language model: one-hot inputs, an RNN, a linear read-out.

    Args:
        rnn: an ``RNNScratch`` (or ``RNN``) whose ``num_inputs`` equals ``vocab_size``.
        vocab_size: ``V``.
        lr: learning rate used by ``configure_optimizers``.
        optimizer: ``'sgd'`` or ``'adam'``.

    Attributes:
        vocab: the ``Vocab`` the model was trained with; ``Trainer.fit`` sets it from ``data.vocab``
            (``None`` until then). ``predict`` and the playground refuse any other vocabulary.

    Raises:
        TypeError: ``rnn`` is not an RNN layer (``RNNScratch`` or ``RNN``).
        ValueError: ``vocab_size`` not a positive integer or not the layer's ``num_inputs``,
            ``lr`` not a finite number > 0, or an unknown ``optimizer``.
    """

    def __init__(self, rnn: nn.Module, vocab_size: int, lr: float = 1.0, optimizer: str = "sgd") -> None:
        super().__init__()
        if not isinstance(rnn, nn.Module) or not hasattr(rnn, "num_inputs") or not hasattr(rnn, "num_hiddens"):
            raise TypeError(f"rnn must be an RNN layer with num_inputs and num_hiddens, such as "
                            f"RNNScratch(vocab_size, 32) or RNN(vocab_size, 32), got a {type(rnn).__name__}")
        check_int("vocab_size", vocab_size)
        if rnn.num_inputs != vocab_size:
            raise ValueError(f"the RNN takes {rnn.num_inputs} inputs but vocab_size is {vocab_size}; "
                             "one-hot inputs need them equal")
        lr = check_real("lr", lr, minimum=0, exclusive_minimum=True, hint="e.g. lr=0.01 with optimizer='adam'")
        check_choice("optimizer", optimizer, ("sgd", "adam"))
        self.rnn, self.vocab_size, self.lr, self.optimizer = rnn, vocab_size, lr, optimizer
        self.vocab: Vocab | None = None
        self.init_output_layer()

    def init_output_layer(self) -> None:
        """Create the read-out weights ``W_hq (H, V)`` and ``b_q (V)``."""
        self.W_hq = nn.Parameter(torch.randn(self.rnn.num_hiddens, self.vocab_size) * 0.01)
        self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

    def one_hot(self, X: torch.Tensor) -> torch.Tensor:
        """Turn indices ``(B, T)`` into time-major one-hot vectors ``(T, B, V)`` of the model's dtype.

        Following the parameters' dtype lets the same model run in float64 (``model.double()``).

        Raises:
            TypeError: ``X`` is not an integer tensor.
            ValueError: ``X`` is not 2-D ``(B, T)`` or is empty.
            IndexError: an index is outside ``[0, V)``.
        """
        check_index_tensor("X", X, self.vocab_size)
        dtype = next(self.rnn.parameters()).dtype
        return F.one_hot(X.T.long(), self.vocab_size).to(dtype)

    def output_layer(self, hiddens: torch.Tensor) -> torch.Tensor:
        """Map hidden states ``(T, B, H)`` to batch-major logits ``(B, T, V)``."""
        return (hiddens @ self.W_hq + self.b_q).transpose(0, 1)

    def forward(self, X: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Return logits ``(B, T, V)`` for the indices ``X (B, T)``."""
        return self.logits_and_state(X, state)[0]

    def logits_and_state(self, X: torch.Tensor, state: torch.Tensor | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return logits ``(B, T, V)`` for ``X (B, T)`` and the RNN's last state.

        The state has the layer's shape (``(B, H)`` for ``RNNScratch``, ``(1, B, H)`` for ``RNN``); pass it back
        as ``state`` to continue each row where it stopped, as training on sequential minibatches does.
        """
        hiddens, state = self.rnn(self.one_hot(X), state)
        return self.output_layer(hiddens), state

    def loss(self, logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of logits ``(B, T, V)`` against targets ``(B, T)``.

        Raises:
            TypeError, ValueError, IndexError: ``Y`` is not an index tensor in ``[0, V)`` of the logits' ``(B, T)``.
        """
        check_index_tensor("Y", Y, self.vocab_size, ndim=None)
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (*Y.shape, self.vocab_size):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"logits must have shape (B, T, V) = {(*Y.shape, self.vocab_size)} to match Y, "
                             f"got {shape}; pass model(X) and the targets Y of the same batch")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y.reshape(-1))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Return the optimiser named by ``optimizer`` with learning rate ``lr``."""
        if self.optimizer == "adam":
            return torch.optim.Adam(self.parameters(), lr=self.lr)
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def next_token_probs(self, tokens, start: int = 1) -> np.ndarray:
        """Return ``P(token i | tokens before i)`` for every position ``i >= start``, as a ``(len - start, V)`` array.

        The model reads ``tokens`` as one continuous row from a zero state, so row ``j`` is the
        distribution of ``tokens[start + j]``; ``NGramLM.next_token_probs`` returns rows in the
        same order, which makes the two models' probabilities directly comparable and mixable.

        Raises:
            TypeError: ``tokens`` are not integer indices (a string, floats).
            IndexError: a token is outside ``[0, V)``.
            ValueError: ``start`` is not an integer in ``[1, len(tokens))``.
        """
        tokens = torch.from_numpy(check_tokens("tokens", tokens, self.vocab_size))
        if len(tokens) < 2:
            raise ValueError(f"tokens must hold at least 2 indices (a context and a next token), got {len(tokens)}")
        check_int("start", start, minimum=1, maximum=len(tokens) - 1)
        device = next(self.parameters()).device
        with eval_mode(self), torch.no_grad():
            logits = self(tokens[None, :-1].to(device))[0]  # (len - 1, V): row i predicts tokens[i + 1]
            probs = torch.softmax(logits.double(), dim=-1)[start - 1:]
        return probs.cpu().numpy()

    def predict(self, prefix: str, num_preds: int, vocab: Vocab, device: torch.device | str | None = None,
                temperature: float = 0.0, top_k: int | None = None,
                generator: torch.Generator | None = None) -> str:
        """Continue ``prefix`` by ``num_preds`` characters and return the whole text.

        The prefix is preprocessed like the corpus (lowercase, non-letters to
        spaces) and read to warm up the state; then each next character is
        chosen by ``sample`` (``temperature=0`` is greedy) and fed back in.

        Raises:
            TypeError: ``prefix`` is not a str, ``vocab`` not a ``Vocab``, ``generator`` not a ``torch.Generator``.
            ValueError: empty prefix, a prefix character outside ``vocab``, a vocabulary that is not the
                model's (another size, or other tokens than those it was trained with), ``num_preds``
                not an integer >= 0, a bad ``temperature``/``top_k``, or a ``device`` the model is not on.
        """
        check_str("prefix", prefix, hint="give the text to continue, e.g. 'the time traveller'")
        check_int("num_preds", num_preds, minimum=0)
        check_temperature(temperature)
        if top_k is not None:
            check_int("top_k", top_k, maximum=self.vocab_size)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got a {type(generator).__name__}; "
                            "e.g. generator=torch.Generator().manual_seed(0)")
        check_vocab(vocab, self.vocab_size, getattr(self, "vocab", None))
        model_device = next(self.parameters()).device
        wanted = None if device is None else check_device("device", device)
        if wanted is not None and (wanted.type, wanted.index or model_device.index) != (model_device.type,
                                                                                        model_device.index):
            raise ValueError(f"device={device!r} but the model is on {model_device}; move it first with "
                             "model.to(device), or leave device out")
        text = preprocess(prefix)
        if not text:
            raise ValueError("prefix is empty; give at least one character to start from")
        unknown = sorted({ch for ch in text if ch not in vocab})
        if unknown:
            raise ValueError(f"prefix {prefix!r} has characters outside the vocabulary after "
                             f"preprocessing: {unknown}; use only {vocab.idx_to_token}")
        generated, state = [], None
        with eval_mode(self), torch.no_grad():
            X = torch.tensor([vocab[list(text)]], device=model_device)  # (1, T): the whole prefix first
            for _ in range(num_preds):
                hiddens, state = self.rnn(self.one_hot(X), state)
                logits = self.output_layer(hiddens[-1:])[:, -1]  # (1, V)
                X = sample(logits, temperature, top_k, generator).reshape(1, 1)  # then one at a time
                generated.append(int(X))
        return text + "".join(vocab.to_tokens(generated))


class RNNLM(RNNLMScratch):
    """``RNNLMScratch`` with an ``nn.Linear`` read-out, meant for ``RNN`` (``nn.RNN``)."""

    def init_output_layer(self) -> None:
        """Create the read-out ``nn.Linear(H, V)``."""
        self.linear = nn.Linear(self.rnn.num_hiddens, self.vocab_size)

    def output_layer(self, hiddens: torch.Tensor) -> torch.Tensor:
        """Map hidden states ``(T, B, H)`` to batch-major logits ``(B, T, V)``."""
        return self.linear(hiddens).transpose(0, 1)


def copy_scratch_weights(scratch: RNNLMScratch, concise: RNNLM) -> None:
    """Give ``concise`` (``RNNLM`` over ``RNN``) exactly the function of ``scratch``.

    ``nn.RNN`` stores transposed weights and two biases; the second bias is set to zero.

    Raises:
        TypeError: the arguments are not ``(RNNLMScratch over RNNScratch, RNNLM over RNN)`` in that order.
        ValueError: the two models differ in vocabulary size or hidden units.
    """
    order = ("copy_scratch_weights(scratch, concise) takes the RNNLMScratch over RNNScratch first, "
             "the RNNLM over RNN second")
    if not (isinstance(scratch, RNNLMScratch) and not isinstance(scratch, RNNLM)
            and isinstance(scratch.rnn, RNNScratch)):
        raise TypeError(f"{order}; the first argument is a {_describe(scratch)}")
    if not (isinstance(concise, RNNLM) and isinstance(concise.rnn, RNN)):
        raise TypeError(f"{order}; the second argument is a {_describe(concise)}")
    if (scratch.vocab_size, scratch.rnn.num_hiddens) != (concise.vocab_size, concise.rnn.num_hiddens):
        raise ValueError(f"the models differ in size: scratch has V={scratch.vocab_size}, H={scratch.rnn.num_hiddens}, "
                         f"concise V={concise.vocab_size}, H={concise.rnn.num_hiddens}; build them with the same sizes")
    rnn = concise.rnn.rnn
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(scratch.rnn.W_xh.T)
        rnn.weight_hh_l0.copy_(scratch.rnn.W_hh.T)
        rnn.bias_ih_l0.copy_(scratch.rnn.b_h)
        rnn.bias_hh_l0.zero_()
        concise.linear.weight.copy_(scratch.W_hq.T)
        concise.linear.bias.copy_(scratch.b_q)


def _describe(model: object) -> str:
    """``'RNNLM over RNN'`` for a language model, the type's name for anything else."""
    layer = getattr(model, "rnn", None)
    return f"{type(model).__name__} over {type(layer).__name__}" if layer is not None else type(model).__name__

