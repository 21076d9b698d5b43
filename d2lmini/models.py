"""Recurrent networks and the character-level language models built on them.

Shapes: ``B`` batch, ``T`` time steps, ``V`` vocabulary, ``I`` inputs, ``H`` hidden units.
Language models take batch-major indices ``(B, T)``; RNN layers take
time-major features ``(T, B, I)``, like ``torch.nn.RNN``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from d2lmini.checks import check_int, check_temperature
from d2lmini.decoding import sample
from d2lmini.text import preprocess
from d2lmini.vocab import Vocab


class RNNScratch(nn.Module):
    """A vanilla RNN layer written out: ``H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)``.

    Args:
        num_inputs: features per time step (``I``).
        num_hiddens: hidden units (``H``).
        sigma: standard deviation of the Gaussian initial weights.
    """

    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01) -> None:
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
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
        """
        batch_size = inputs.shape[1]
        if state is None:
            state = inputs.new_zeros(batch_size, self.num_hiddens)
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
    """

    def __init__(self, num_inputs: int, num_hiddens: int) -> None:
        super().__init__()
        self.num_inputs, self.num_hiddens = num_inputs, num_hiddens
        self.rnn = nn.RNN(num_inputs, num_hiddens)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(outputs (T, B, H), state (1, B, H))`` for ``inputs (T, B, I)``."""
        return self.rnn(inputs, state)


class RNNLMScratch(nn.Module):
    """A character-level language model: one-hot inputs, an RNN, a linear read-out.

    Args:
        rnn: an ``RNNScratch`` (or ``RNN``) whose ``num_inputs`` equals ``vocab_size``.
        vocab_size: ``V``.
        lr: learning rate used by ``configure_optimizers``.
        optimizer: ``'sgd'`` or ``'adam'``.
    """

    def __init__(self, rnn: nn.Module, vocab_size: int, lr: float = 1.0, optimizer: str = "sgd") -> None:
        super().__init__()
        if rnn.num_inputs != vocab_size:
            raise ValueError(f"the RNN takes {rnn.num_inputs} inputs but vocab_size is {vocab_size}; "
                             "one-hot inputs need them equal")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        self.rnn, self.vocab_size, self.lr, self.optimizer = rnn, vocab_size, lr, optimizer
        self.init_output_layer()

    def init_output_layer(self) -> None:
        """Create the read-out weights ``W_hq (H, V)`` and ``b_q (V)``."""
        self.W_hq = nn.Parameter(torch.randn(self.rnn.num_hiddens, self.vocab_size) * 0.01)
        self.b_q = nn.Parameter(torch.zeros(self.vocab_size))

    def one_hot(self, X: torch.Tensor) -> torch.Tensor:
        """Turn indices ``(B, T)`` into time-major one-hot vectors ``(T, B, V)`` of the model's dtype.

        Following the parameters' dtype lets the same model run in float64 (``model.double()``).
        """
        dtype = next(self.rnn.parameters()).dtype
        return F.one_hot(X.T, self.vocab_size).to(dtype)

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
        """Mean cross-entropy of logits ``(B, T, V)`` against targets ``(B, T)``."""
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
            ValueError: ``start`` is not in ``[1, len(tokens))``.
        """
        tokens = torch.as_tensor(tokens, dtype=torch.long).flatten()
        if not 1 <= start < len(tokens):
            raise ValueError(f"need 1 <= start < len(tokens) = {len(tokens)}, got start={start}")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        with torch.no_grad():
            logits = self(tokens[None, :-1].to(device))[0]  # (len - 1, V): row i predicts tokens[i + 1]
            probs = torch.softmax(logits.double(), dim=-1)[start - 1:]
        self.train(was_training)
        return probs.cpu().numpy()

    def predict(self, prefix: str, num_preds: int, vocab: Vocab, device: torch.device | str | None = None,
                temperature: float = 0.0, top_k: int | None = None,
                generator: torch.Generator | None = None) -> str:
        """Continue ``prefix`` by ``num_preds`` characters and return the whole text.

        The prefix is preprocessed like the corpus (lowercase, non-letters to
        spaces) and read to warm up the state; then each next character is
        chosen by ``sample`` (``temperature=0`` is greedy) and fed back in.

        Raises:
            ValueError: empty prefix, a prefix character outside ``vocab``,
                negative ``num_preds``, or a bad ``temperature``/``top_k``.
        """
        check_int("num_preds", num_preds, minimum=0)
        check_temperature(temperature)
        text = preprocess(prefix)
        if not text:
            raise ValueError("prefix is empty; give at least one character to start from")
        unknown = sorted({ch for ch in text if ch not in vocab})
        if unknown:
            raise ValueError(f"prefix {prefix!r} has characters outside the vocabulary after "
                             f"preprocessing: {unknown}; use only {vocab.idx_to_token}")
        if device is None:
            device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        generated, state = [], None
        with torch.no_grad():
            X = torch.tensor([vocab[list(text)]], device=device)  # (1, T): the whole prefix first
            for _ in range(num_preds):
                hiddens, state = self.rnn(self.one_hot(X), state)
                logits = self.output_layer(hiddens[-1:])[:, -1]  # (1, V)
                X = sample(logits, temperature, top_k, generator).reshape(1, 1)  # then one at a time
                generated.append(int(X))
        self.train(was_training)
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
    """
    rnn = concise.rnn.rnn
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(scratch.rnn.W_xh.T)
        rnn.weight_hh_l0.copy_(scratch.rnn.W_hh.T)
        rnn.bias_ih_l0.copy_(scratch.rnn.b_h)
        rnn.bias_hh_l0.zero_()
        concise.linear.weight.copy_(scratch.W_hq.T)
        concise.linear.bias.copy_(scratch.b_q)
