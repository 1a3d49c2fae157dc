"""The from-scratch cells against torch.nn: same weights -> same outputs, states and gradients."""

import pytest
import torch
from torch import nn

from textkit.errors import UsageError
from textkit.lm.rnn import ScratchRNN, make_recurrent_layer

TORCH_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _pair(mode, layers, input_size=5, hidden=7):
    torch.manual_seed(0)
    reference = TORCH_LAYERS[mode](input_size, hidden, layers).double()
    scratch = ScratchRNN(mode, input_size, hidden, layers).double()
    scratch.load_state_dict(reference.state_dict())  # same names and shapes: strict load works
    return reference, scratch


def _initial_state(mode, layers, batch, hidden):
    h = torch.randn(layers, batch, hidden, dtype=torch.float64)
    return (h, torch.randn_like(h)) if mode == "lstm" else h


def _flat(state):
    return torch.cat([s.reshape(-1) for s in state]) if isinstance(state, tuple) else state.reshape(-1)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_scratch_layer_matches_torch(mode, layers):
    reference, scratch = _pair(mode, layers)
    x = torch.randn(6, 3, 5, dtype=torch.float64)
    state = _initial_state(mode, layers, 3, 7)
    out_ref, state_ref = reference(x.clone().requires_grad_(), state)
    x_s = x.clone().requires_grad_()
    out_s, state_s = scratch(x_s, state)
    torch.testing.assert_close(out_s, out_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(_flat(state_s), _flat(state_ref), atol=1e-5, rtol=1e-5)

    # gradients of the same scalar through outputs and final state, for weights and inputs
    weights = torch.randn_like(out_ref)
    x_r = x.clone().requires_grad_()
    out_ref, state_ref = reference(x_r, state)
    ((out_ref * weights).sum() + _flat(state_ref).sum()).backward()
    ((out_s * weights).sum() + _flat(state_s).sum()).backward()
    torch.testing.assert_close(x_s.grad, x_r.grad, atol=1e-5, rtol=1e-5)
    for name, p in reference.named_parameters():
        torch.testing.assert_close(dict(scratch.named_parameters())[name].grad, p.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
def test_default_state_is_zero_and_float32_close(mode):
    torch.manual_seed(1)
    reference = TORCH_LAYERS[mode](4, 6, 2)
    scratch = ScratchRNN(mode, 4, 6, 2)
    scratch.load_state_dict(reference.state_dict())
    x = torch.randn(5, 2, 4)
    out_ref, _ = reference(x)
    out_s, _ = scratch(x)
    torch.testing.assert_close(out_s, out_ref, atol=1e-5, rtol=1e-4)


def test_dropout_between_layers_only_in_training():
    scratch = ScratchRNN("gru", 4, 6, 2, dropout=0.5)
    x = torch.randn(5, 2, 4)
    scratch.eval()
    a, _ = scratch(x)
    b, _ = scratch(x)
    torch.testing.assert_close(a, b)
    scratch.train()
    torch.manual_seed(0)
    c, _ = scratch(x)
    assert not torch.allclose(a, c)


def test_factory_and_bad_mode():
    assert isinstance(make_recurrent_layer("lstm", "torch", 3, 4, 1, 0.2), nn.LSTM)
    assert isinstance(make_recurrent_layer("gru", "scratch", 3, 4, 2, 0.2), ScratchRNN)
    with pytest.raises(UsageError):
        make_recurrent_layer("transformer", "torch", 3, 4, 1, 0.0)
    with pytest.raises(UsageError):
        make_recurrent_layer("lstm", "cuda", 3, 4, 1, 0.0)


def test_lstm_recurrence_backward_matches_numerical_gradients():
    """The written-out BPTT of the scratch LSTM: every input, the initial state and w_hh."""
    from textkit.lm.rnn import LSTMRecurrence

    torch.manual_seed(3)
    steps, batch, size = 4, 2, 3
    inputs = (
        torch.randn(steps, batch, 4 * size, dtype=torch.float64, requires_grad=True),
        torch.randn(batch, size, dtype=torch.float64, requires_grad=True),
        torch.randn(batch, size, dtype=torch.float64, requires_grad=True),
        torch.randn(4 * size, size, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(LSTMRecurrence.apply, inputs)
