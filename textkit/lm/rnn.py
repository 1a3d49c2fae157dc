"""Recurrent layers written out from their equations (the teaching path, ``impl="scratch"``).

Each layer keeps its parameters under the names and shapes that ``torch.nn.RNN/LSTM/GRU`` use
(``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, gates stacked in torch's
order), so a state dict moves between the two implementations unchanged and the tests can check
that both compute the same numbers. Inputs are sequence-first, ``(T, B, input_size)``, like torch.
The LSTM's backward pass through time is written out too (:class:`LSTMRecurrence`), so autograd
does not record a dozen nodes per step; the RNN and GRU steps are differentiated by autograd.

The equations (x: input at step t, h: previous hidden state, σ: logistic sigmoid, ⊙: elementwise):

* vanilla RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
* LSTM:         i = σ(W_ii x + b_ii + W_hi h + b_hi)          input gate
                f = σ(W_if x + b_if + W_hf h + b_hf)          forget gate
                g = tanh(W_ig x + b_ig + W_hg h + b_hg)       candidate cell
                o = σ(W_io x + b_io + W_ho h + b_ho)          output gate
                c' = f ⊙ c + i ⊙ g;   h' = o ⊙ tanh(c')
* GRU:          r = σ(W_ir x + b_ir + W_hr h + b_hr)          reset gate
                z = σ(W_iz x + b_iz + W_hz h + b_hz)          update gate
                n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) candidate state
                h' = (1 − z) ⊙ n + z ⊙ h

>>> layer = ScratchRNN("lstm", input_size=8, hidden_size=16, num_layers=2)
>>> out, (h, c) = layer(torch.zeros(5, 3, 8))
>>> out.shape, h.shape
(torch.Size([5, 3, 16]), torch.Size([2, 3, 16]))
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from textkit.errors import UsageError

# how many stacked weight blocks each cell has (the rows of weight_ih are gates * hidden_size)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def rnn_step(x_proj: Tensor, h: Tensor, w_hh: Tensor) -> Tensor:
    """One vanilla RNN step; ``x_proj`` is ``W_ih x + b_ih + b_hh``, computed for all steps at once."""
    return torch.tanh(torch.addmm(x_proj, h, w_hh.t()))


class LSTMRecurrence(torch.autograd.Function):
    """The LSTM recurrence over all steps of one layer, with its backward pass (backpropagation
    through time) written out from the equations above.

    ``apply(x_proj (T, B, 4H), h (B, H), c (B, H), w_hh (4H, H)) -> (outputs (T, B, H), h_T, c_T)``,
    where ``x_proj`` is ``W_ih x + b_ih + b_hh`` for every step. Autograd then records one node per
    layer instead of a dozen per step, and the gradient of ``w_hh`` is one matrix product over all
    steps rather than one per step.
    """

    @staticmethod
    def forward(ctx, x_proj: Tensor, h: Tensor, c: Tensor, w_hh: Tensor):
        steps, size = x_proj.shape[0], h.shape[-1]
        gates = torch.empty_like(x_proj)  # activated i, f, g, o of every step
        cells = x_proj.new_empty(steps + 1, *c.shape)  # c_0 .. c_T
        hiddens = x_proj.new_empty(steps + 1, *h.shape)  # h_0 .. h_T
        cells[0], hiddens[0] = c, h
        for t in range(steps):
            z = torch.addmm(x_proj[t], hiddens[t], w_hh.t())
            torch.sigmoid(z, out=gates[t])  # i, f, o (g's sigmoid is overwritten next)
            torch.tanh(z[:, 2 * size : 3 * size], out=gates[t, :, 2 * size : 3 * size])
            i, f, g, o = gates[t].chunk(4, dim=-1)
            torch.addcmul(f * cells[t], i, g, out=cells[t + 1])  # c' = f c + i g
            torch.mul(o, torch.tanh(cells[t + 1]), out=hiddens[t + 1])  # h' = o tanh(c')
        ctx.save_for_backward(gates, cells, hiddens, w_hh)
        return hiddens[1:].clone(), hiddens[-1].clone(), cells[-1].clone()

    @staticmethod
    def backward(ctx, d_outputs: Tensor, d_h: Tensor, d_c: Tensor):
        gates, cells, hiddens, w_hh = ctx.saved_tensors
        steps, size = gates.shape[0], hiddens.shape[-1]
        d_z = torch.empty_like(gates)  # gradients of the pre-activations z = x_proj + W_hh h
        dh, dc = d_h.clone(), d_c.clone()
        for t in reversed(range(steps)):
            dh += d_outputs[t]
            i, f, g, o = gates[t].chunk(4, dim=-1)
            d_i, d_f, d_g, d_o = d_z[t].chunk(4, dim=-1)
            tanh_c = torch.tanh(cells[t + 1])
            torch.mul(dh, tanh_c, out=d_o)  # dL/do
            dc.addcmul_(dh * o, 1 - tanh_c * tanh_c)  # dL/dc' through h' = o tanh(c')
            torch.mul(dc, g, out=d_i)
            torch.mul(dc, cells[t], out=d_f)
            d_z[t].mul_(gates[t] * (1 - gates[t]))  # through the sigmoids of i, f, o
            torch.mul(dc * i, 1 - g * g, out=d_g)  # through the tanh of g
            dh = d_z[t] @ w_hh  # to h of the step before
            dc = dc * f  # to c of the step before
        d_w_hh = d_z.view(-1, 4 * size).t() @ hiddens[:-1].reshape(-1, size)
        return d_z, dh, dc, d_w_hh


def gru_step(x_proj: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor) -> Tensor:
    """One GRU step: the reset gate scales the *projected* previous state (with its bias ``b_hn``),
    as in cuDNN and torch, so here ``x_proj`` is ``W_ih x + b_ih`` only."""
    x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
    h_r, h_z, h_n = torch.addmm(b_hh, h, w_hh.t()).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


class ScratchRNN(nn.Module):
    """A multi-layer RNN, LSTM or GRU built from the step functions above.

    ``forward(inputs, state=None) -> (outputs, state)`` with the shapes of ``torch.nn.RNN/LSTM/GRU``
    (sequence first): ``inputs (T, B, input_size)``, ``outputs (T, B, hidden_size)``, ``state``
    ``(num_layers, B, hidden_size)`` — a pair ``(h, c)`` for the LSTM. Dropout is applied to the
    outputs of every layer except the last, in training mode only, like torch.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if mode not in GATES:
            raise UsageError(f"unknown recurrent cell {mode!r}; choose one of {', '.join(GATES)}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.dropout = num_layers, dropout
        rows = GATES[mode] * hidden_size
        for k in range(num_layers):
            layer_input = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(rows, layer_input)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(rows, hidden_size)))
            self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(rows)))
            self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(rows)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: every weight uniform in ±1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_parameters(self, k: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return (
            getattr(self, f"weight_ih_l{k}"),
            getattr(self, f"weight_hh_l{k}"),
            getattr(self, f"bias_ih_l{k}"),
            getattr(self, f"bias_hh_l{k}"),
        )

    def initial_state(self, batch_size: int, like: Tensor):
        zeros = like.new_zeros(self.num_layers, batch_size, self.hidden_size)
        return (zeros, zeros.clone()) if self.mode == "lstm" else zeros

    def forward(self, inputs: Tensor, state=None):
        if state is None:
            state = self.initial_state(inputs.shape[1], inputs)
        layer_input, final_h, final_c = inputs, [], []
        for k in range(self.num_layers):
            if self.mode == "lstm":
                layer_state = (state[0][k], state[1][k])
            else:
                layer_state = state[k]
            outputs, layer_state = self._run_layer(k, layer_input, layer_state)
            if self.mode == "lstm":
                final_h.append(layer_state[0])
                final_c.append(layer_state[1])
            else:
                final_h.append(layer_state)
            if k < self.num_layers - 1 and self.dropout > 0:
                outputs = nn.functional.dropout(outputs, self.dropout, self.training)
            layer_input = outputs
        h = torch.stack(final_h)
        return layer_input, ((h, torch.stack(final_c)) if self.mode == "lstm" else h)

    def _run_layer(self, k: int, inputs: Tensor, state):
        w_ih, w_hh, b_ih, b_hh = self.layer_parameters(k)
        # The input projection does not depend on the recurrence: one matrix product for all steps.
        # RNN and LSTM add both biases to it once (the GRU needs b_hh inside its reset gate).
        steps, batch = inputs.shape[:2]
        bias = b_ih if self.mode == "gru" else b_ih + b_hh
        x_proj = torch.addmm(bias, inputs.reshape(steps * batch, -1), w_ih.t()).view(steps, batch, -1)
        if self.mode == "lstm":
            outputs, h, c = LSTMRecurrence.apply(x_proj, state[0], state[1], w_hh)
            return outputs, (h, c)
        outputs = []
        for t in range(steps):
            if self.mode == "gru":
                state = gru_step(x_proj[t], state, w_hh, b_hh)
            else:
                state = rnn_step(x_proj[t], state, w_hh)
            outputs.append(state)
        return torch.stack(outputs), state


def make_recurrent_layer(
    mode: str, impl: str, input_size: int, hidden_size: int, num_layers: int, dropout: float
) -> nn.Module:
    """The encoder for ``mode`` (rnn|lstm|gru): ``torch.nn``'s fused layer or :class:`ScratchRNN`.

    Both take and return sequence-first tensors and share the parameter names, so a model trained
    with one implementation loads into the other.
    """
    if impl == "scratch":
        return ScratchRNN(mode, input_size, hidden_size, num_layers, dropout)
    if impl != "torch":
        raise UsageError(f"unknown implementation {impl!r}; choose scratch or torch")
    if mode not in GATES:
        raise UsageError(f"unknown recurrent cell {mode!r}; choose one of {', '.join(GATES)}")
    layer_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[mode]
    extra = {"nonlinearity": "tanh"} if mode == "rnn" else {}
    # torch warns when dropout is set on a single layer (there is nothing between layers)
    return layer_class(input_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0, **extra)
