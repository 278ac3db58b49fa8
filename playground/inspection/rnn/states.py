"""Hidden states, cell states and gates of a recurrent model, recomputed step by step from its weights.

The article writes the Elman update as ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)``. PyTorch's
``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` return only the last layer's hidden states and every layer's
final state (and cuDNN fuses the steps on a GPU), so nothing in PyTorch hands back the gates or the
cell state at every step. This module reruns every step of every layer and direction from the
module's own parameters (``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``, ``bias_ih``, ``bias_hh``)
in float64 on the CPU, with PyTorch's gate order and formulas
(https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html):

* RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or ``relu``);
* LSTM: ``i, f, g, o`` = ``σ, σ, tanh, σ`` of ``W_i* x_t + b_i* + W_h* h_{t-1} + b_h*``;
  ``c_t = f ⊙ c_{t-1} + i ⊙ g``; ``h_t = o ⊙ tanh(c_t)``;
* GRU: ``r, z = σ(W_i* x_t + b_i* + W_h* h_{t-1} + b_h*)``;
  ``n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn))``; ``h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}``.

The reverse direction runs right to left over the real (unpadded) steps and a stacked layer takes
the concatenation of both directions. :func:`~playground.inspection.rnn.check.check_states` compares
the result with what PyTorch itself computed, so every view built on these states carries a visible check.

Float64 recomputation is written by hand on purpose: it is the point of the feature (show each term
of the formula), and it keeps the comparison with PyTorch's float32 kernels robust.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import nn

from playground.core.device import model_device
from playground.modalities.sequence.preprocessing import SequencePreprocessing
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import PAD_ID
from playground.models.recurrent import RecurrentClassifier

if TYPE_CHECKING:
    from playground.bundle import Bundle

CellKind = Literal["rnn", "lstm", "gru"]
Direction = Literal["forward", "reverse"]
StateKind = Literal["hidden", "cell"]

DIRECTIONS: tuple[Direction, Direction] = ("forward", "reverse")
#: Gate names per cell, in PyTorch's order of the rows of ``weight_ih`` / ``weight_hh``.
GATE_NAMES: dict[str, tuple[str, ...]] = {
    "rnn": (),
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
}
#: The symbol of each gate in the formulas (PyTorch's documentation uses the same letters).
#: Texts per batch in :func:`~playground.inspection.rnn.search.dataset_states` and
#: :func:`~playground.inspection.rnn.prefixes.prefix_probabilities`.
BATCH_SIZE = 64


# ---------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LayerStates:
    """Everything one layer computed in one direction, for one input.

    Attributes:
        layer: index of the stacked layer, from 0.
        direction: ``"forward"`` (left to right) or ``"reverse"`` (right to left; step ``t`` still
            means token ``t``).
        inputs: ``(T, I)`` float32, the ``x_t`` this layer reads (the embedding or standardized values
            for layer 0, both directions of the layer below for the others).
        hidden_state: ``(T, H)`` float32 ``h_t``; in ``(-1, 1)`` for tanh cells.
        cell_state: ``(T, H)`` float32 ``c_t`` for an LSTM (unbounded), else ``None``.
        gates: name -> ``(T, H)`` float32. LSTM: ``input``, ``forget``, ``output`` in ``(0, 1)`` and
            ``candidate`` (g) in ``(-1, 1)``; GRU: ``reset``, ``update`` in ``(0, 1)`` and ``candidate``
            (n) in ``(-1, 1)``; none for an Elman RNN.
    """

    layer: int
    direction: Direction
    inputs: torch.Tensor
    hidden_state: torch.Tensor
    cell_state: torch.Tensor | None
    gates: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """E.g. ``"layer 0 · forward"``."""
        return f"layer {self.layer} · {self.direction}"

    def series(self) -> dict[str, torch.Tensor]:
        """Every ``(T, H)`` quantity by name: gates, then ``cell_state`` (LSTM), then ``hidden_state``."""
        out = dict(self.gates)
        if self.cell_state is not None:
            out["cell_state"] = self.cell_state
        out["hidden_state"] = self.hidden_state
        return out


@dataclass(frozen=True)
class RecurrentStates:
    """The states of every layer and direction of a recurrent model for one input.

    Attributes:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        nonlinearity: the Elman RNN's ``"tanh"`` or ``"relu"``; ``"tanh"`` for LSTM and GRU.
        tokens: T labels of the steps: the tokens the model saw (text), or ``"t0"``, ``"t1"``, ...
        model_input: what the model takes, without the batch: ``(T,)`` int64 token ids or
            ``(T, F)`` float32 standardized values.
        layers: one :class:`LayerStates` per layer and direction, ordered as PyTorch orders
            ``h_n``: layer 0 forward, layer 0 reverse, layer 1 forward, ...
        num_layers: L.
        num_directions: D, 1 or 2.
        hidden_size: H.
        text: the cleaned text (text models), else ``None``.
        num_dropped: tokens cut off the end because the text was longer than the model takes.
    """

    cell: CellKind
    nonlinearity: str
    tokens: list[str]
    model_input: torch.Tensor
    layers: tuple[LayerStates, ...]
    num_layers: int
    num_directions: int
    hidden_size: int
    text: str | None = None
    num_dropped: int = 0

    @property
    def steps(self) -> int:
        """T, the number of time steps."""
        return len(self.tokens)

    @property
    def inputs(self) -> torch.Tensor:
        """``(T, I)`` float32: what the first recurrent layer reads (embedding or values)."""
        return self.layers[0].inputs

    def get(self, layer: int, direction: Direction = "forward") -> LayerStates:
        """The states of one layer and direction.

        Raises:
            ValueError: a layer or direction this model does not have.
        """
        for states in self.layers:
            if states.layer == layer and states.direction == direction:
                return states
        have = ", ".join(s.name for s in self.layers)
        raise ValueError(f"no {direction} states for layer {layer}; this model has {have}")

    @property
    def outputs(self) -> torch.Tensor:
        """``(T, D*H)`` float32: the last layer's hidden states, directions concatenated (the module's output)."""
        last = [s.hidden_state for s in self.layers if s.layer == self.num_layers - 1]
        return torch.cat(last, dim=-1)

    @property
    def final_hidden_state(self) -> torch.Tensor:
        """``(L*D, H)`` float32, like PyTorch's ``h_n``: step T-1 forward, step 0 reverse."""
        return torch.stack([_final(s, s.hidden_state) for s in self.layers])

    @property
    def final_cell_state(self) -> torch.Tensor | None:
        """``(L*D, H)`` float32, like an LSTM's ``c_n``; ``None`` for RNN and GRU."""
        if self.cell != "lstm":
            return None
        return torch.stack([_final(s, s.cell_state) for s in self.layers])  # type: ignore[arg-type]

    def to_dict(self, layers: Sequence[int] | None = None, decimals: int = 6) -> dict:
        """JSON-ready lists: tokens and, per layer and direction, hidden states, cell states and gates.

        Args:
            layers: which layers to include (default: all).
            decimals: rounding of the values.
        """

        def rows(x: torch.Tensor) -> list:
            return np.round(x.numpy().astype(np.float64), decimals).tolist()

        out = []
        for s in self.layers:
            if layers is not None and s.layer not in layers:
                continue
            out.append(
                {
                    "layer": s.layer,
                    "direction": s.direction,
                    "hidden_state": rows(s.hidden_state),
                    "cell_state": rows(s.cell_state) if s.cell_state is not None else None,
                    "gates": {name: rows(g) for name, g in s.gates.items()},
                }
            )
        return {
            "cell": self.cell,
            "tokens": list(self.tokens),
            "num_dropped_tokens": self.num_dropped,
            "num_layers": self.num_layers,
            "num_directions": self.num_directions,
            "hidden_size": self.hidden_size,
            "layers": out,
        }


def _final(states: LayerStates, x: torch.Tensor) -> torch.Tensor:
    return x[-1] if states.direction == "forward" else x[0]


# ---------------------------------------------------------------------------------- model access


def recurrent_model(model: nn.Module) -> RecurrentClassifier:
    """The model as a :class:`RecurrentClassifier`, or a clear error.

    Raises:
        TypeError: another kind of model (the message says what it is).
        ValueError: an LSTM with projections (``proj_size > 0``), which this module does not redo.
    """
    if not isinstance(model, RecurrentClassifier):
        raise TypeError(f"expected a recurrent model (rnn, lstm, gru), got {type(model).__name__}")
    if getattr(model.rnn, "proj_size", 0):
        raise ValueError("LSTMs with projections (proj_size > 0) are not supported")
    return model


def is_recurrent(bundle: Bundle) -> bool:
    """Whether ``bundle`` holds a recurrent text or numeric-sequence model this module can look into."""
    return isinstance(bundle.model, RecurrentClassifier) and bundle.modality in ("text", "sequence")


def _cell_of(rnn: nn.RNNBase) -> tuple[CellKind, str]:
    if isinstance(rnn, nn.LSTM):
        return "lstm", "tanh"
    if isinstance(rnn, nn.GRU):
        return "gru", "tanh"
    if isinstance(rnn, nn.RNN):
        return "rnn", str(rnn.nonlinearity)
    raise TypeError(f"expected nn.RNN, nn.LSTM or nn.GRU, got {type(rnn).__name__}")


@dataclass(frozen=True)
class _Weights:
    """One layer and direction's parameters as float64 CPU tensors (gate blocks stacked on rows)."""

    w_ih: torch.Tensor  # (G*H, I)
    w_hh: torch.Tensor  # (G*H, H)
    b_ih: torch.Tensor  # (G*H,)
    b_hh: torch.Tensor  # (G*H,)


def _weights(rnn: nn.RNNBase, layer: int, direction: Direction) -> _Weights:
    suffix = f"_l{layer}" + ("_reverse" if direction == "reverse" else "")

    def get(name: str) -> torch.Tensor:
        return getattr(rnn, name + suffix).detach().to("cpu", torch.float64)

    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    if rnn.bias:
        b_ih, b_hh = get("bias_ih"), get("bias_hh")
    else:
        b_ih = b_hh = torch.zeros(w_ih.shape[0], dtype=torch.float64)
    return _Weights(w_ih, w_hh, b_ih, b_hh)


# ---------------------------------------------------------------------------------- recomputation


def _activation(name: str) -> torch.nn.Module:
    return nn.ReLU() if name == "relu" else nn.Tanh()


def _run_direction(
    cell: CellKind,
    nonlinearity: str,
    w: _Weights,
    inputs: torch.Tensor,
    lengths: torch.Tensor,
    reverse: bool,
    with_gates: bool,
) -> dict[str, torch.Tensor]:
    """One layer, one direction, a batch of sequences, in float64.

    Args:
        inputs: ``(B, T, I)`` float64.
        lengths: ``(B,)`` int64 real steps per sequence; steps at and after the length are padding.
        reverse: run from each sequence's last real step down to step 0.

    Returns:
        ``"hidden_state"`` (and ``"cell_state"``, and the gates if ``with_gates``) -> ``(B, T, H)``
        float64, zero at padded steps.
    """
    batch, steps, _ = inputs.shape
    hidden = w.w_hh.shape[1]
    act = _activation(nonlinearity)
    x_proj = inputs @ w.w_ih.T + w.b_ih  # (B, T, G*H): W_ih x_t + b_ih for every step at once
    h = torch.zeros(batch, hidden, dtype=torch.float64)
    c = torch.zeros(batch, hidden, dtype=torch.float64)
    names = ["hidden_state"] + (["cell_state"] if cell == "lstm" else [])
    if with_gates:
        names += list(GATE_NAMES[cell])
    out = {name: torch.zeros(batch, steps, hidden, dtype=torch.float64) for name in names}
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        valid = (t < lengths).unsqueeze(-1)  # (B, 1)
        h_proj = h @ w.w_hh.T + w.b_hh  # (B, G*H): W_hh h_{t-1} + b_hh
        gx = x_proj[:, t]  # (B, G*H)
        gates: dict[str, torch.Tensor] = {}
        if cell == "rnn":
            h_new = act(gx + h_proj)
            c_new = c
        elif cell == "lstm":
            i, f, g, o = (gx + h_proj).chunk(4, dim=-1)  # each (B, H), PyTorch's order i, f, g, o
            gates = {"input": i.sigmoid(), "forget": f.sigmoid(), "candidate": g.tanh(), "output": o.sigmoid()}
            c_new = gates["forget"] * c + gates["input"] * gates["candidate"]
            h_new = gates["output"] * c_new.tanh()
        else:
            xr, xz, xn = gx.chunk(3, dim=-1)  # each (B, H), PyTorch's order r, z, n
            hr, hz, hn = h_proj.chunk(3, dim=-1)
            r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
            n = (xn + r * hn).tanh()  # the reset gate scales W_hn h + b_hn, as PyTorch (and cuDNN) do
            gates = {"reset": r, "update": z, "candidate": n}
            h_new = (1 - z) * n + z * h
            c_new = c
        zero = torch.zeros_like(h_new)
        if reverse:
            # beyond a sequence's length the state stays 0, so its last real step starts from zeros
            h, c = torch.where(valid, h_new, zero), torch.where(valid, c_new, zero)
        else:
            h, c = torch.where(valid, h_new, h), torch.where(valid, c_new, c)
        out["hidden_state"][:, t] = torch.where(valid, h_new, zero)
        if cell == "lstm":
            out["cell_state"][:, t] = torch.where(valid, c_new, zero)
        if with_gates:
            for name, value in gates.items():
                out[name][:, t] = torch.where(valid, value, zero)
    return out


def _recompute_batch(
    rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor, with_gates: bool, last_layer: int | None = None
) -> list[tuple[int, Direction, torch.Tensor, dict[str, torch.Tensor]]]:
    """Layers 0..``last_layer`` (default: all), every direction, for a batch.

    Returns:
        ``(layer, direction, layer inputs (B, T, I) float64, states)`` per layer and direction.
    """
    cell, nonlinearity = _cell_of(rnn)
    directions = DIRECTIONS[: 2 if rnn.bidirectional else 1]
    x = inputs.to("cpu", torch.float64)  # (B, T, I)
    out = []
    for layer in range(rnn.num_layers if last_layer is None else last_layer + 1):
        per_direction = []
        for direction in directions:
            w = _weights(rnn, layer, direction)
            states = _run_direction(cell, nonlinearity, w, x, lengths, direction == "reverse", with_gates)
            out.append((layer, direction, x, states))
            per_direction.append(states["hidden_state"])
        x = torch.cat(per_direction, dim=-1)  # (B, T, D*H): the next layer reads both directions
    return out


def recompute(
    rnn: nn.RNNBase,
    inputs: torch.Tensor,
    tokens: Sequence[str] | None = None,
    *,
    model_input: torch.Tensor | None = None,
    text: str | None = None,
    num_dropped: int = 0,
) -> RecurrentStates:
    """Recompute every step of every layer and direction of ``rnn`` for one sequence.

    Args:
        rnn: an ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` (any ``num_layers``, ``bidirectional``,
            ``bias``; ``batch_first`` does not matter here). Zero initial states, eval semantics
            (no dropout between layers).
        inputs: ``(T, I)`` float, what the first layer reads; ``T >= 1``.
        tokens: T step labels; default ``"t0"``, ``"t1"``, ...
        model_input: stored as :attr:`RecurrentStates.model_input` (default: ``inputs``).
        text: the cleaned text, if any.
        num_dropped: tokens dropped by truncation, if any.

    Returns:
        A :class:`RecurrentStates`, values float32 (computed in float64).

    Raises:
        TypeError: ``rnn`` is not one of the three modules.
        ValueError: ``inputs`` not ``(T, I)`` with ``I = rnn.input_size``, T >= 1; a projected LSTM;
            ``len(tokens) != T``.
    """
    cell, nonlinearity = _cell_of(rnn)
    if getattr(rnn, "proj_size", 0):
        raise ValueError("LSTMs with projections (proj_size > 0) are not supported")
    if inputs.ndim != 2 or inputs.shape[0] < 1 or inputs.shape[1] != rnn.input_size:
        raise ValueError(f"expected inputs of shape (T, {rnn.input_size}) with T >= 1, got {tuple(inputs.shape)}")
    steps = int(inputs.shape[0])
    labels = [f"t{t}" for t in range(steps)] if tokens is None else list(tokens)
    if len(labels) != steps:
        raise ValueError(f"expected {steps} tokens, one per step, got {len(labels)}")
    lengths = torch.tensor([steps])
    layers = []
    for layer, direction, x, states in _recompute_batch(rnn, inputs.detach().unsqueeze(0), lengths, True):
        f32 = {name: v[0].to(torch.float32) for name, v in states.items()}  # (T, H) each
        layers.append(
            LayerStates(
                layer=layer,
                direction=direction,
                inputs=x[0].to(torch.float32),
                hidden_state=f32.pop("hidden_state"),
                cell_state=f32.pop("cell_state", None),
                gates=f32,
            )
        )
    return RecurrentStates(
        cell=cell,
        nonlinearity=nonlinearity,
        tokens=labels,
        model_input=(inputs if model_input is None else model_input).detach().cpu(),
        layers=tuple(layers),
        num_layers=rnn.num_layers,
        num_directions=2 if rnn.bidirectional else 1,
        hidden_size=rnn.hidden_size,
        text=text,
        num_dropped=num_dropped,
    )


@torch.no_grad()
def compute_states(
    model: nn.Module,
    x: torch.Tensor,
    tokens: Sequence[str] | None = None,
    *,
    text: str | None = None,
    num_dropped: int = 0,
) -> RecurrentStates:
    """States of a :class:`RecurrentClassifier` for one input, through its own embedding.

    Args:
        model: a recurrent classifier (put in ``eval()`` mode here, as prediction does).
        x: ``(T,)`` int64 token ids (padding ids are dropped from the end) or ``(T, F)`` float32
            standardized values.
        tokens: T step labels (default ``"t0"``, ...).
        text: the cleaned text, if any.
        num_dropped: tokens dropped by truncation.

    Raises:
        TypeError: not a recurrent classifier.
        ValueError: an input of the wrong kind or shape, or an empty one.
    """
    model = recurrent_model(model).eval()
    if x.ndim == 1:
        if x.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"a 1-D input must be int64 token ids, got {x.dtype}")
        ids = x.to(torch.int64).cpu()
        real = int((ids != PAD_ID).nonzero().max()) + 1 if bool((ids != PAD_ID).any()) else 0
        if real == 0:
            raise ValueError("expected at least one token id that is not padding, got none")
        ids = ids[:real]
        if tokens is not None and len(tokens) > real:
            tokens = list(tokens)[:real]
        batch = ids.unsqueeze(0)  # (1, T)
        model_input = ids
    elif x.ndim == 2:
        batch = x.to(torch.float32).unsqueeze(0)  # (1, T, F)
        model_input = x.to(torch.float32).cpu()
    else:
        raise ValueError(f"expected (T,) token ids or (T, F) values for one input, got shape {tuple(x.shape)}")
    if batch.shape[1] < 1:
        raise ValueError("expected at least one time step, got none")
    inputs, _ = model.embed(batch.to(model_device(model)))  # (1, T, E or F)
    return recompute(
        model.rnn, inputs[0].float().cpu(), tokens, model_input=model_input, text=text, num_dropped=num_dropped
    )


def states_for_text(bundle: Bundle, text: str) -> RecurrentStates:
    """Clean, tokenize and truncate ``text`` with the bundle's tokenizer, then :func:`compute_states`.

    Raises:
        ValueError: not a recurrent text model, or a text with no tokens (empty after cleaning).
        TypeError: ``text`` is not a string.
    """
    if not isinstance(bundle.preprocessing, TextPreprocessing):
        raise ValueError(f"this needs a text model, but {bundle.title} takes {bundle.modality} input")
    encoded = bundle.preprocessing.encode(text)
    return compute_states(bundle.model, encoded.ids, encoded.tokens, text=encoded.text, num_dropped=encoded.num_dropped)


def states_for_sequence(bundle: Bundle, values: torch.Tensor) -> RecurrentStates:
    """Standardize ``(T, F)`` raw values with the bundle's statistics, then :func:`compute_states`.

    Raises:
        ValueError: not a recurrent numeric-sequence model, or values that are not ``(T, F)``.
    """
    if not isinstance(bundle.preprocessing, SequencePreprocessing):
        raise ValueError(f"this needs a numeric-sequence model, but {bundle.title} takes {bundle.modality} input")
    if values.ndim != 2 or values.shape[0] < 1:
        raise ValueError(f"expected values of shape (T, F) with T >= 1, got {tuple(values.shape)}")
    return compute_states(bundle.model, bundle.preprocessing.normalize(values))
