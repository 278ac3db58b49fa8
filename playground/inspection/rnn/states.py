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
the concatenation of both directions. :func:`check_states` compares the result with what PyTorch
itself computed (the module's output, ``h_n`` and ``c_n``, and every layer's outputs from
one-layer copies of the module), so every view built on these states carries a visible check.

Also here: the update formula with real numbers (:func:`update_formula`), "find similar" as in
LSTMVis (Strobelt et al. 2017, https://arxiv.org/abs/1606.07461; :func:`find_similar`), a PCA of the
hidden-state trajectory, class probabilities after every prefix, and units that track a signal
(Karpathy, Johnson & Fei-Fei 2015, https://arxiv.org/abs/1506.02078).

Float64 recomputation is written by hand on purpose: it is the point of the feature (show each term
of the formula), and it keeps the comparison with PyTorch's float32 kernels robust.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from sklearn.decomposition import PCA
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
GATE_SYMBOLS = {"input": "i", "forget": "f", "candidate": "g", "output": "o", "reset": "r", "update": "z"}
#: Largest |recomputed - PyTorch| accepted as a match, by device type. cuDNN may use TF32 tensor
#: cores for float32 RNNs on Ampere and later GPUs (``torch.backends.cudnn.allow_tf32``), so the
#: GPU tolerance is looser; on the CPU the float32 kernels agree with float64 to ~1e-6.
TOLERANCE = {"cpu": 1e-4, "cuda": 1e-2, "mps": 1e-3}
BATCH_SIZE = 64  # texts per batch in :func:`dataset_states` and :func:`prefix_probabilities`


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


# ---------------------------------------------------------------------------------- PyTorch's own values


def _one_layer(rnn: nn.RNNBase, layer: int) -> nn.RNNBase:
    """A one-layer copy of ``rnn``'s layer ``layer`` (both directions), on its device and dtype.

    Lets PyTorch itself compute an intermediate layer's outputs at every step, which a stacked
    module never returns.
    """
    cell, nonlinearity = _cell_of(rnn)
    directions = 2 if rnn.bidirectional else 1
    kwargs: dict = {
        "input_size": rnn.input_size if layer == 0 else directions * rnn.hidden_size,
        "hidden_size": rnn.hidden_size,
        "num_layers": 1,
        "bias": rnn.bias,
        "batch_first": True,
        "bidirectional": rnn.bidirectional,
    }
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    copy = type(rnn)(**kwargs)
    pattern = re.compile(rf"^((?:weight|bias)_(?:ih|hh))_l{layer}(_reverse)?$")
    state = {}
    for name, value in rnn.named_parameters():
        match = pattern.match(name)
        if match:
            state[f"{match.group(1)}_l0{match.group(2) or ''}"] = value.detach()
    copy.load_state_dict(state, strict=True)
    first = next(rnn.parameters())
    return copy.to(device=first.device, dtype=first.dtype).eval()


@torch.no_grad()
def _pytorch_layer_outputs(rnn: nn.RNNBase, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's ``(T, D*H)`` outputs as PyTorch computes them, layer by layer (float32, CPU)."""
    first = next(rnn.parameters())
    x = inputs.to(device=first.device, dtype=first.dtype).unsqueeze(0)  # (1, T, I)
    outputs = []
    for layer in range(rnn.num_layers):
        x, _ = _one_layer(rnn, layer)(x)  # (1, T, D*H)
        outputs.append(x[0].float().cpu())
    return outputs


@dataclass(frozen=True)
class StatesCheck:
    """How far the recomputed states are from what PyTorch computed.

    Attributes:
        max_abs_diff: the largest of the differences below.
        output_diff: max |recomputed - PyTorch| over the stacked module's output ``(T, D*H)``.
        final_state_diff: over ``h_n`` (and ``c_n`` for an LSTM) of the stacked module.
        layers_diff: over every layer's hidden states at every step, from one-layer copies of the
            module fed PyTorch's own outputs of the layer below.
        device: where PyTorch computed (``"cpu"``, ``"cuda"``, ...; cuDNN on CUDA).
        tolerance: the largest difference counted as a match on that device (:data:`TOLERANCE`).
    """

    max_abs_diff: float
    output_diff: float
    final_state_diff: float
    layers_diff: float
    device: str
    tolerance: float

    @property
    def ok(self) -> bool:
        """Whether ``max_abs_diff <= tolerance``."""
        return self.max_abs_diff <= self.tolerance


@torch.no_grad()
def check_states(model: nn.Module, states: RecurrentStates) -> StatesCheck:
    """Compare recomputed states with PyTorch's own forward pass on the model's device.

    Args:
        model: the recurrent classifier the states came from.
        states: from :func:`compute_states` / :func:`recompute`.

    Returns:
        A :class:`StatesCheck`; its ``max_abs_diff`` is ~1e-7..1e-6 on the CPU.

    Raises:
        TypeError: not a recurrent classifier.
        ValueError: states of another shape than this model produces.
    """
    rnn = recurrent_model(model).eval().rnn
    if states.num_layers != rnn.num_layers or states.hidden_size != rnn.hidden_size:
        raise ValueError(
            f"states of {states.num_layers} layers x {states.hidden_size} units do not come from this model "
            f"({rnn.num_layers} x {rnn.hidden_size})"
        )
    first = next(rnn.parameters())
    x = states.inputs.to(device=first.device, dtype=first.dtype).unsqueeze(0)  # (1, T, I)
    output, final = rnn(x)
    h_n, c_n = final if isinstance(final, tuple) else (final, None)
    output_diff = float((output[0].float().cpu() - states.outputs).abs().max())
    final_diff = float((h_n[:, 0].float().cpu() - states.final_hidden_state).abs().max())
    if c_n is not None and states.final_cell_state is not None:
        final_diff = max(final_diff, float((c_n[:, 0].float().cpu() - states.final_cell_state).abs().max()))
    layers_diff = 0.0
    for layer, reference in enumerate(_pytorch_layer_outputs(rnn, states.inputs)):
        ours = torch.cat([s.hidden_state for s in states.layers if s.layer == layer], dim=-1)  # (T, D*H)
        layers_diff = max(layers_diff, float((reference - ours).abs().max()))
    device = first.device.type
    return StatesCheck(
        max_abs_diff=max(output_diff, final_diff, layers_diff),
        output_diff=output_diff,
        final_state_diff=final_diff,
        layers_diff=layers_diff,
        device=device,
        tolerance=TOLERANCE.get(device, 1e-3),
    )


@torch.no_grad()
def pytorch_step_state(
    model: nn.Module, states: RecurrentStates, layer: int, direction: Direction, step: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``h_t`` (and ``c_t`` for an LSTM) of one layer and direction at one step, as PyTorch computes them.

    PyTorch only returns a layer's state at its last step, so the layer (a one-layer copy, fed
    PyTorch's own outputs of the layers below) is run on the prefix ``0..step`` (forward) or the
    suffix ``step..T-1`` (reverse), whose final state is the state at ``step``.

    Returns:
        ``(h (H,) float32, c (H,) float32 or None)`` on the CPU.

    Raises:
        ValueError: a layer, direction or step out of range.
    """
    rnn = recurrent_model(model).eval().rnn
    states.get(layer, direction)  # raises for a layer / direction the model lacks
    if not 0 <= step < states.steps:
        raise ValueError(f"step must be in [0, {states.steps - 1}], got {step}")
    x = states.inputs
    if layer > 0:
        x = _pytorch_layer_outputs(rnn, states.inputs)[layer - 1]  # (T, D*H)
    part = x[: step + 1] if direction == "forward" else x[step:]
    first = next(rnn.parameters())
    _, final = _one_layer(rnn, layer)(part.to(device=first.device, dtype=first.dtype).unsqueeze(0))
    h_n, c_n = final if isinstance(final, tuple) else (final, None)
    d = 0 if direction == "forward" else 1
    return h_n[d, 0].float().cpu(), (c_n[d, 0].float().cpu() if c_n is not None else None)


# ---------------------------------------------------------------------------------- the update formula


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
    w = _weights(rnn, layer, direction)
    hidden = states.hidden_size
    prev = step - 1 if direction == "forward" else step + 1
    has_prev = 0 <= prev < states.steps
    zeros = torch.zeros(hidden, dtype=torch.float64)
    h_prev = ls.hidden_state[prev].double() if has_prev else zeros  # (H,)
    c_prev = ls.cell_state[prev].double() if (has_prev and ls.cell_state is not None) else zeros
    x_t = ls.inputs[step].double()  # (I,)
    names = GATE_NAMES[states.cell] or ("hidden",)
    terms = []
    reset_value: float | None = None
    for g, name in enumerate(names):
        row = g * hidden + unit  # this gate's row of the stacked weights
        recurrent = float(w.w_hh[row] @ h_prev)
        inp = float(w.w_ih[row] @ x_t)
        b_ih, b_hh = float(w.b_ih[row]), float(w.b_hh[row])
        if states.cell == "gru" and name == "candidate":
            assert reset_value is not None  # the reset gate comes first in PyTorch's order
            pre = inp + b_ih + reset_value * (recurrent + b_hh)
            reset: float | None = reset_value
        else:
            pre = recurrent + inp + b_ih + b_hh
            reset = None
        activation = states.nonlinearity if states.cell == "rnn" else ("tanh" if name == "candidate" else "sigmoid")
        value = _apply(activation, pre)
        if name == "reset":
            reset_value = value
        symbol = (
            "h" if name == "hidden" else ("n" if states.cell == "gru" and name == "candidate" else GATE_SYMBOLS[name])
        )
        terms.append(GateTerms(name, symbol, activation, recurrent, inp, b_ih, b_hh, reset, pre, value))
    by_name = {t.name: t.value for t in terms}
    cell_state: float | None = None
    previous_cell: float | None = None
    h_prev_j = float(h_prev[unit])
    if states.cell == "rnn":
        hidden_state = by_name["hidden"]
    elif states.cell == "lstm":
        previous_cell = float(c_prev[unit])
        cell_state = by_name["forget"] * previous_cell + by_name["input"] * by_name["candidate"]
        hidden_state = by_name["output"] * float(np.tanh(cell_state))
    else:
        hidden_state = (1.0 - by_name["update"]) * by_name["candidate"] + by_name["update"] * h_prev_j
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


# ---------------------------------------------------------------------------------- many inputs at once


@dataclass(frozen=True)
class DatasetStates:
    """One layer and direction's states for many inputs (for :func:`find_similar`).

    Attributes:
        tokens: per input, its T_i step labels.
        values: per input, ``(T_i, H)`` float32: hidden or cell states.
        kind: ``"hidden"`` or ``"cell"``.
        layer, direction: which.
    """

    tokens: list[list[str]]
    values: list[np.ndarray]
    kind: StateKind
    layer: int
    direction: Direction


@torch.no_grad()
def dataset_states(
    bundle: Bundle,
    inputs: Sequence[str] | torch.Tensor,
    layer: int = 0,
    direction: Direction = "forward",
    kind: StateKind = "hidden",
    batch_size: int = BATCH_SIZE,
) -> DatasetStates:
    """Recompute one layer and direction's states for many texts or sequences, in batches.

    Args:
        bundle: a recurrent text or numeric-sequence model.
        inputs: texts (cleaned, as datasets hold them; truncated to the model's ``max_length``), or
            ``(N, T, F)`` raw values (standardized here).
        layer, direction: which states to keep.
        kind: ``"hidden"`` (``h_t``) or ``"cell"`` (``c_t``, LSTM only).
        batch_size: inputs per batch.

    Raises:
        ValueError: not a recurrent model, no inputs, a layer / direction / kind the model lacks,
            or inputs of the wrong kind for the model.
    """
    model = recurrent_model(bundle.model).eval()
    if kind not in ("hidden", "cell"):
        raise ValueError(f"kind must be 'hidden' or 'cell', got {kind!r}")
    if kind == "cell" and model.cell != "lstm":
        raise ValueError(f"only an LSTM has a cell state; this model is a {model.cell}")
    if not 0 <= layer < model.rnn.num_layers:
        raise ValueError(f"layer must be in [0, {model.rnn.num_layers - 1}], got {layer}")
    if direction == "reverse" and not model.rnn.bidirectional:
        raise ValueError("this model is not bidirectional: it has no reverse direction")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = len(inputs)
    if n == 0:
        raise ValueError("expected at least one input, got none")
    device = model_device(model)
    tokens: list[list[str]] = []
    values: list[np.ndarray] = []
    key = "hidden_state" if kind == "hidden" else "cell_state"
    for start in range(0, n, batch_size):
        if isinstance(bundle.preprocessing, TextPreprocessing):
            if isinstance(inputs, torch.Tensor):
                raise ValueError("a text model takes texts, got a tensor")
            ids, lengths = bundle.preprocessing.encode_batch(list(inputs[start : start + batch_size]))  # (B, T)
            embedded, _ = model.embed(ids.to(device))  # (B, T, E)
            tokens.extend(bundle.preprocessing.tokens_of(row[: int(k)]) for row, k in zip(ids, lengths, strict=True))
        elif isinstance(bundle.preprocessing, SequencePreprocessing):
            if not isinstance(inputs, torch.Tensor) or inputs.ndim != 3:
                raise ValueError("a numeric-sequence model takes an (N, T, F) tensor of values")
            chunk = bundle.preprocessing.normalize(inputs[start : start + batch_size])  # (B, T, F)
            embedded, lengths = model.embed(chunk.to(device))
            tokens.extend([f"t{t}" for t in range(chunk.shape[1])] for _ in range(chunk.shape[0]))
        else:
            raise ValueError(f"this needs a text or numeric-sequence model, got {bundle.modality}")
        for lay, dire, _, states in _recompute_batch(model.rnn, embedded.float().cpu(), lengths.cpu(), False, layer):
            if lay == layer and dire == direction:
                values.extend(
                    states[key][b, : int(k)].to(torch.float32).numpy() for b, k in enumerate(lengths.tolist())
                )
    return DatasetStates(tokens, values, kind, layer, direction)


# ---------------------------------------------------------------------------------- find similar (LSTMVis)


def select_units(values: np.ndarray | torch.Tensor, start: int, end: int, threshold: float) -> list[int]:
    """The units that are "on" (``>= threshold``) at every step of ``[start, end)``: LSTMVis's selection.

    Args:
        values: ``(T, H)`` hidden (or cell) states.
        start, end: the span, ``0 <= start < end <= T``.
        threshold: the on-threshold ℓ (LSTMVis's default is 0.3 on tanh values).

    Returns:
        Unit indices, ascending.

    Raises:
        ValueError: a span out of range or empty.
    """
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"expected (T, H) states, got shape {arr.shape}")
    if not 0 <= start < end <= arr.shape[0]:
        raise ValueError(f"expected a span 0 <= start < end <= {arr.shape[0]}, got [{start}, {end})")
    return np.flatnonzero((arr[start:end] >= threshold).all(axis=0)).tolist()


@dataclass(frozen=True)
class SpanMatch:
    """A span of another input where the selected units are on (one row of LSTMVis's match view).

    Attributes:
        index: which input (position in the list searched).
        start, end: the span ``[start, end)`` in its steps.
        matched: selected units on over the whole span, ``|S ∩ C|``.
        extra: other units on over the whole span, ``|C \\ S|``.
        score: Jaccard index ``|S ∩ C| / |S ∪ C|`` in ``[0, 1]``.
        tokens: the span's tokens.
        before, after: up to ``context`` tokens around it.
    """

    index: int
    start: int
    end: int
    matched: int
    extra: int
    score: float
    tokens: list[str]
    before: list[str]
    after: list[str]

    @property
    def length(self) -> int:
        """``end - start``."""
        return self.end - self.start


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[start, end)`` where ``mask`` (1-D bool) is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def find_similar(
    values: Sequence[np.ndarray],
    units: Sequence[int],
    threshold: float,
    tokens: Sequence[Sequence[str]] | None = None,
    *,
    min_length: int = 2,
    top_k: int = 20,
    context: int = 5,
) -> list[SpanMatch]:
    """Spans where the selected units are on together, ranked as LSTMVis ranks them.

    Following LSTMVis (Strobelt et al. 2017, https://arxiv.org/abs/1606.07461, section 5; and its
    ``query_similar_activations``): for ``k = |S|`` down to 1, every maximal run of at least
    ``min_length`` steps where at least ``k`` of the selected units S are on (``>= threshold``) is a
    candidate; for each candidate, C is the set of ALL units on at every step of it. Candidates are
    ranked by the most selected units matched ``|S ∩ C|``, then the fewest units in ``|S ∪ C|``
    (fewest extra units), then the longest span.

    Args:
        values: per input, ``(T_i, H)`` states (e.g. :attr:`DatasetStates.values`).
        units: the selected units S (e.g. from :func:`select_units`); at least one.
        threshold: the on-threshold ℓ.
        tokens: per input, its T_i tokens (for the snippets); default ``"t0"``, ...
        min_length: shortest span, >= 1.
        top_k: how many matches to return, >= 1.
        context: tokens shown before and after each span.

    Returns:
        At most ``top_k`` :class:`SpanMatch`, best first.

    Raises:
        ValueError: no units, a unit out of range, ``min_length`` or ``top_k`` < 1.
    """
    selected = sorted({int(u) for u in units})
    if not selected:
        raise ValueError("select at least one unit to search for")
    if min_length < 1 or top_k < 1:
        raise ValueError(f"min_length and top_k must be at least 1, got {min_length} and {top_k}")
    if tokens is not None and len(tokens) != len(values):
        raise ValueError(f"expected tokens for each of the {len(values)} inputs, got {len(tokens)}")
    found: dict[tuple[int, int, int], tuple[int, int]] = {}
    for index, arr in enumerate(values):
        arr = np.asarray(arr)
        if arr.ndim != 2 or (selected and selected[-1] >= arr.shape[1]):
            raise ValueError(f"input {index}: expected (T, H) states with H > {selected[-1]}, got {arr.shape}")
        on: np.ndarray = np.asarray(arr >= threshold)  # (T, H) bool
        count = on[:, selected].sum(axis=1)  # (T,) selected units on at each step
        for k in range(len(selected), 0, -1):
            for start, end in _runs(count >= k):
                if end - start < min_length or (index, start, end) in found:
                    continue
                all_on: np.ndarray = np.asarray(on[start:end].all(axis=0))  # (H,) the set C
                inter = int(all_on[selected].sum())
                union = int(all_on.sum()) + len(selected) - inter
                found[(index, start, end)] = (inter, union)
    ranked = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[1][1], -(kv[0][2] - kv[0][1]), kv[0]))
    out = []
    for (index, start, end), (inter, union) in ranked[:top_k]:
        toks = list(tokens[index]) if tokens is not None else [f"t{t}" for t in range(len(values[index]))]
        out.append(
            SpanMatch(
                index=index,
                start=start,
                end=end,
                matched=inter,
                extra=union - len(selected),
                score=inter / union if union else 0.0,
                tokens=toks[start:end],
                before=toks[max(0, start - context) : start],
                after=toks[end : end + context],
            )
        )
    return out


# ---------------------------------------------------------------------------------- projections, prefixes, signals


@dataclass(frozen=True)
class Trajectory:
    """A 2-D PCA projection of a hidden-state trajectory.

    Attributes:
        points: ``(T, 2)`` float32 coordinates on the first two principal components.
        explained_variance_ratio: ``(2,)`` float32, the share of variance each component explains.
    """

    points: np.ndarray
    explained_variance_ratio: np.ndarray


def pca_trajectory(values: np.ndarray | torch.Tensor) -> Trajectory:
    """Project ``(T, H)`` states on their first two principal components (scikit-learn's PCA).

    With a single unit (H = 1) the second coordinate is 0.

    Raises:
        ValueError: fewer than 2 steps, or not 2-D.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"a trajectory needs (T, H) states with at least 2 steps, got shape {arr.shape}")
    components = min(2, arr.shape[0], arr.shape[1])
    if float(arr.var(axis=0).sum()) == 0.0:  # every step the same: nothing to project
        return Trajectory(np.zeros((arr.shape[0], 2), np.float32), np.zeros(2, np.float32))
    pca = PCA(n_components=components).fit(arr)
    points = np.zeros((arr.shape[0], 2), np.float32)
    points[:, :components] = pca.transform(arr)
    ratio = np.zeros(2, np.float32)
    ratio[:components] = pca.explained_variance_ratio_
    return Trajectory(points, ratio)


@torch.no_grad()
def prefix_probabilities(model: nn.Module, model_input: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Class probabilities after each prefix ``x[:1], x[:2], ..., x[:T]``: the prediction as the input unfolds.

    Exact: the model is run on every prefix as a whole input. Token ids go in padded batches
    (the model skips padding with packed sequences); numeric sequences, which have no padding,
    one prefix at a time.

    Args:
        model: a recurrent classifier.
        model_input: ``(T,)`` int64 token ids or ``(T, F)`` float32 standardized values
            (:attr:`RecurrentStates.model_input`).
        batch_size: prefixes per forward pass (token ids).

    Returns:
        ``(T, K)`` float32 softmax probabilities; row ``T - 1`` is the prediction for the whole input.

    Raises:
        TypeError: not a recurrent classifier.
        ValueError: an empty input or one of the wrong shape.
    """
    model = recurrent_model(model).eval()
    device = model_device(model)
    steps = int(model_input.shape[0]) if model_input.ndim >= 1 else 0
    if steps < 1 or model_input.ndim not in (1, 2):
        raise ValueError(f"expected (T,) token ids or (T, F) values with T >= 1, got shape {tuple(model_input.shape)}")
    rows = []
    if model_input.ndim == 1:
        ids = model_input.to(torch.int64)
        for start in range(0, steps, batch_size):
            lengths = torch.arange(start + 1, min(start + batch_size, steps) + 1)  # (B,)
            batch = torch.full((len(lengths), int(lengths[-1])), PAD_ID, dtype=torch.int64)  # (B, T')
            for row, k in enumerate(lengths.tolist()):
                batch[row, :k] = ids[:k]
            rows.append(model(batch.to(device)).float().softmax(dim=-1).cpu())  # (B, K)
    else:
        values = model_input.to(torch.float32)
        for k in range(1, steps + 1):
            rows.append(model(values[:k].unsqueeze(0).to(device)).float().softmax(dim=-1).cpu())  # (1, K)
    return torch.cat(rows)  # (T, K)


def unit_correlations(
    values: np.ndarray | Sequence[np.ndarray], signal: np.ndarray | Sequence[np.ndarray]
) -> np.ndarray:
    """Pearson correlation of every unit with a per-step signal (e.g. nesting depth, position).

    Args:
        values: ``(T, H)`` states, or a list of ``(T_i, H)`` (steps of all inputs pooled).
        signal: ``(T,)``, or a list of ``(T_i,)`` aligned with ``values``.

    Returns:
        ``(H,)`` float64 r in ``[-1, 1]``; 0 for a unit (or a signal) that never changes.

    Raises:
        ValueError: lengths that do not line up, or fewer than 2 steps.
    """
    if isinstance(values, np.ndarray | torch.Tensor):
        x = np.asarray(values, dtype=np.float64)
        y = np.asarray(signal, dtype=np.float64)
    else:
        if len(values) != len(signal):
            raise ValueError(f"expected one signal per input, got {len(values)} inputs and {len(signal)} signals")
        x = np.concatenate([np.asarray(v, dtype=np.float64) for v in values])
        y = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in signal])
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected (T, H) states and a (T,) signal, got {x.shape} and {y.shape}")
    if x.shape[0] < 2:
        raise ValueError("a correlation needs at least 2 steps")
    xc, yc = x - x.mean(axis=0), y - y.mean()
    denom = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())  # (H,)
    r = np.divide(xc.T @ yc, denom, out=np.zeros(x.shape[1]), where=denom > 0)
    return np.clip(r, -1.0, 1.0)


def top_units(correlations: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` units with the largest ``|r|``: ``[(unit, r), ...]``, strongest first.

    Raises:
        ValueError: ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    r = np.asarray(correlations, dtype=np.float64)
    order = np.argsort(-np.abs(r), kind="stable")[:k]
    return [(int(u), float(r[u])) for u in order]


def strongest_units(values: np.ndarray | torch.Tensor, k: int) -> list[int]:
    """The ``k`` units that vary most over the steps (largest variance; ties by index), ascending by index.

    Used to keep large heatmaps responsive (e.g. 64 of 512 units).

    Raises:
        ValueError: ``k < 1`` or states that are not ``(T, H)``.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected (T, H) states, got shape {arr.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    order = np.argsort(-arr.var(axis=0), kind="stable")[:k]
    return sorted(int(u) for u in order)


def step_signals(tokens: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-step signals to correlate units with: position, and nesting depth where brackets occur.

    Returns:
        name -> ``(T,)`` float64: ``"position"`` (0, 1, ...), and ``"nesting depth"`` (``(`` +1,
        ``)`` -1, counted over the tokens' characters) when a token holds a bracket.
    """
    out = {"position": np.arange(len(tokens), dtype=np.float64)}
    if any("(" in t or ")" in t for t in tokens):
        depth, values = 0, []
        for t in tokens:
            depth += t.count("(") - t.count(")")
            values.append(depth)
        out["nesting depth"] = np.asarray(values, dtype=np.float64)
    return out
