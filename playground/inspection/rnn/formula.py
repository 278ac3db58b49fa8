"""The article's update ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)`` with real numbers, term by term.

For one layer, direction, step and unit of a recurrent model: every term of each gate from the
model's own weights (float64), the resulting state, and PyTorch's value of the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from playground.inspection.rnn.check import pytorch_step_state
from playground.inspection.rnn.states import (
    GATE_NAMES,
    CellKind,
    Direction,
    RecurrentStates,
    _Weights,
    _weights,
    recurrent_model,
)

GATE_SYMBOLS = {"input": "i", "forget": "f", "candidate": "g", "output": "o", "reset": "r", "update": "z"}


@dataclass(frozen=True)
class GateTerms:
    """The terms of one gate (or of the Elman update) for one unit at one step.

    ``preactivation = input + bias_ih + recurrent + bias_hh`` (the article's
    ``W_xh x_t + W_hh h_{t-1} + b_h`` with ``b_h = bias_ih + bias_hh``), except for the GRU
    candidate, where the reset gate scales the recurrent part:
    ``input + bias_ih + reset * (recurrent + bias_hh)``.

    Attributes:
        name: ``"hidden"`` (Elman RNN) or a gate name (``"input"``, ``"forget"``, ...).
        symbol: ``"h"``, ``"i"``, ``"f"``, ``"g"``, ``"o"``, ``"r"``, ``"z"`` or ``"n"``.
        activation: ``"sigmoid"``, ``"tanh"`` or ``"relu"``.
        recurrent: ``(W_hh h_{t-1})[j]``.
        input: ``(W_xh x_t)[j]`` (PyTorch's ``W_ih``).
        bias_ih: ``b_ih[j]``.
        bias_hh: ``b_hh[j]``.
        reset: the GRU reset gate ``r[j]`` for the candidate, else ``None``.
        preactivation: the sum above.
        value: ``activation(preactivation)``.
    """

    name: str
    symbol: str
    activation: str
    recurrent: float
    input: float
    bias_ih: float
    bias_hh: float
    reset: float | None
    preactivation: float
    value: float

    @property
    def bias(self) -> float:
        """``b_h[j] = b_ih[j] + b_hh[j]``."""
        return self.bias_ih + self.bias_hh

    def equation(self, digits: int = 4) -> str:
        """One line with the numbers, e.g. ``h = tanh(0.1 + -0.2 + 0.05) = tanh(-0.05) = -0.05``."""

        def n(v: float) -> str:
            return f"{v:.{digits}f}"

        s = self.symbol
        if self.reset is None:
            inside = f"{n(self.recurrent)} + {n(self.input)} + {n(self.bias)}"
            # the article's names for the Elman update, PyTorch's per-gate names otherwise
            names = "W_hh·h_(t-1) + W_xh·x_t + b_h" if s == "h" else f"W_h{s}·h_(t-1) + W_i{s}·x_t + b_{s}"
        else:
            inside = (
                f"{n(self.input)} + {n(self.bias_ih)} + {n(self.reset)} × ({n(self.recurrent)} + {n(self.bias_hh)})"
            )
            names = "W_in·x_t + b_in + r ⊙ (W_hn·h_(t-1) + b_hn)"
        f = self.activation
        return f"{self.symbol}_t = {f}({names}) = {f}({inside}) = {f}({n(self.preactivation)}) = {n(self.value)}"


@dataclass(frozen=True)
class UpdateFormula:
    """The article's update ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)`` with real numbers.

    For one layer, direction, step ``t`` and unit ``j``; for an LSTM / GRU, the same terms per gate
    and the cell / hidden update. ``h_{t-1}`` means the previous step of the direction (step
    ``t + 1`` for the reverse direction; zeros before the first step).

    Attributes:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        layer, direction, step, unit: where.
        token: the token at ``step``.
        terms: one :class:`GateTerms` per gate (one ``"hidden"`` entry for an Elman RNN).
        previous_hidden: ``h_{t-1}[j]``.
        previous_cell: ``c_{t-1}[j]`` (LSTM), else ``None``.
        cell_state: ``c_t[j] = f c_{t-1} + i g`` (LSTM), else ``None``.
        hidden_state: ``h_t[j]`` from these numbers (RNN: ``f(sum)``; LSTM: ``o tanh(c_t)``;
            GRU: ``(1 - z) n + z h_{t-1}``).
        pytorch_hidden_state: ``h_t[j]`` as PyTorch computed it (:func:`pytorch_step_state`).
        pytorch_cell_state: ``c_t[j]`` as PyTorch computed it (LSTM), else ``None``.
    """

    cell: CellKind
    layer: int
    direction: Direction
    step: int
    unit: int
    token: str
    terms: tuple[GateTerms, ...]
    previous_hidden: float
    previous_cell: float | None
    cell_state: float | None
    hidden_state: float
    pytorch_hidden_state: float
    pytorch_cell_state: float | None

    @property
    def abs_diff(self) -> float:
        """``|h_t - PyTorch's h_t|`` (and the same for ``c_t``), the larger."""
        diff = abs(self.hidden_state - self.pytorch_hidden_state)
        if self.cell_state is not None and self.pytorch_cell_state is not None:
            diff = max(diff, abs(self.cell_state - self.pytorch_cell_state))
        return diff

    def term(self, name: str) -> GateTerms:
        """The terms of one gate by name (``"hidden"`` for an Elman RNN)."""
        for t in self.terms:
            if t.name == name:
                return t
        raise ValueError(f"no gate {name!r}; this {self.cell} has {[t.name for t in self.terms]}")

    def lines(self, digits: int = 4) -> list[str]:
        """The whole update as text lines with the numbers."""

        def n(v: float) -> str:
            return f"{v:.{digits}f}"

        out = [t.equation(digits) for t in self.terms]
        if self.cell == "lstm":
            i, f, g, o = (self.term(k).value for k in ("input", "forget", "candidate", "output"))
            assert self.cell_state is not None and self.previous_cell is not None  # set for every LSTM formula
            out.append(
                f"c_t = f ⊙ c_(t-1) + i ⊙ g = {n(f)} × {n(self.previous_cell)} + {n(i)} × {n(g)} = {n(self.cell_state)}"
            )
            out.append(f"h_t = o ⊙ tanh(c_t) = {n(o)} × tanh({n(self.cell_state)}) = {n(self.hidden_state)}")
        elif self.cell == "gru":
            z, nn_ = self.term("update").value, self.term("candidate").value
            out.append(
                f"h_t = (1 − z) ⊙ n + z ⊙ h_(t-1) = (1 − {n(z)}) × {n(nn_)} + {n(z)} × {n(self.previous_hidden)} "
                f"= {n(self.hidden_state)}"
            )
        return out


def _apply(activation: str, x: float) -> float:
    if activation == "sigmoid":
        return float(1.0 / (1.0 + np.exp(-x)))
    if activation == "relu":
        return max(0.0, x)
    return float(np.tanh(x))


def _gate_terms(
    w: _Weights, cell: CellKind, nonlinearity: str, h_prev: torch.Tensor, x_t: torch.Tensor, unit: int
) -> list[GateTerms]:
    """The terms of every gate (one ``"hidden"`` entry for an Elman RNN) of one unit, in PyTorch's order.

    Args:
        w: the layer and direction's float64 weights.
        h_prev: ``(H,)`` float64 ``h_{t-1}``.
        x_t: ``(I,)`` float64 the layer's input at this step.
    """
    hidden = h_prev.shape[0]
    terms = []
    reset_value: float | None = None
    for g, name in enumerate(GATE_NAMES[cell] or ("hidden",)):
        row = g * hidden + unit  # this gate's row of the stacked weights
        recurrent = float(w.w_hh[row] @ h_prev)
        inp = float(w.w_ih[row] @ x_t)
        b_ih, b_hh = float(w.b_ih[row]), float(w.b_hh[row])
        if cell == "gru" and name == "candidate":
            assert reset_value is not None  # the reset gate comes first in PyTorch's order
            pre = inp + b_ih + reset_value * (recurrent + b_hh)
            reset: float | None = reset_value
        else:
            pre = recurrent + inp + b_ih + b_hh
            reset = None
        activation = nonlinearity if cell == "rnn" else ("tanh" if name == "candidate" else "sigmoid")
        value = _apply(activation, pre)
        if name == "reset":
            reset_value = value
        symbol = "h" if name == "hidden" else ("n" if cell == "gru" and name == "candidate" else GATE_SYMBOLS[name])
        terms.append(GateTerms(name, symbol, activation, recurrent, inp, b_ih, b_hh, reset, pre, value))
    return terms


def _new_state(
    cell: CellKind, terms: Sequence[GateTerms], h_prev: float, c_prev: float
) -> tuple[float, float | None, float | None]:
    """``(h_t, c_t, c_{t-1})`` of one unit from its gates' values; the cell states are ``None`` but for an LSTM."""
    by_name = {t.name: t.value for t in terms}
    if cell == "rnn":
        return by_name["hidden"], None, None
    if cell == "lstm":
        cell_state = by_name["forget"] * c_prev + by_name["input"] * by_name["candidate"]
        return by_name["output"] * float(np.tanh(cell_state)), cell_state, c_prev
    return (1.0 - by_name["update"]) * by_name["candidate"] + by_name["update"] * h_prev, None, None


def update_formula(
    model: nn.Module, states: RecurrentStates, layer: int, direction: Direction, step: int, unit: int
) -> UpdateFormula:
    """Every term of the update of one unit at one step, from the model's weights, and PyTorch's value.

    The terms are computed in float64 from the float32 states of the previous step
    (``h_{t-1}``, ``c_{t-1}``) and this layer's input ``x_t``; they add up exactly to the
    pre-activations, and the resulting ``h_t`` agrees with PyTorch's to float32 precision.

    Raises:
        TypeError: not a recurrent classifier.
        ValueError: a layer, direction, step or unit out of range.
    """
    rnn = recurrent_model(model).rnn
    ls = states.get(layer, direction)
    if not 0 <= step < states.steps:
        raise ValueError(f"step must be in [0, {states.steps - 1}], got {step}")
    if not 0 <= unit < states.hidden_size:
        raise ValueError(f"unit must be in [0, {states.hidden_size - 1}], got {unit}")
    prev = step - 1 if direction == "forward" else step + 1
    has_prev = 0 <= prev < states.steps
    zeros = torch.zeros(states.hidden_size, dtype=torch.float64)
    h_prev = ls.hidden_state[prev].double() if has_prev else zeros  # (H,)
    c_prev = ls.cell_state[prev].double() if (has_prev and ls.cell_state is not None) else zeros
    x_t = ls.inputs[step].double()  # (I,)
    terms = _gate_terms(_weights(rnn, layer, direction), states.cell, states.nonlinearity, h_prev, x_t, unit)
    h_prev_j = float(h_prev[unit])
    hidden_state, cell_state, previous_cell = _new_state(states.cell, terms, h_prev_j, float(c_prev[unit]))
    h_torch, c_torch = pytorch_step_state(model, states, layer, direction, step)
    return UpdateFormula(
        cell=states.cell,
        layer=layer,
        direction=direction,
        step=step,
        unit=unit,
        token=states.tokens[step],
        terms=tuple(terms),
        previous_hidden=h_prev_j,
        previous_cell=previous_cell,
        cell_state=cell_state,
        hidden_state=hidden_state,
        pytorch_hidden_state=float(h_torch[unit]),
        pytorch_cell_state=float(c_torch[unit]) if c_torch is not None else None,
    )
