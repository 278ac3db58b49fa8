"""PyTorch's own values for a recurrent model, to check the recomputed states against.

:func:`check_states` compares :mod:`playground.inspection.rnn.states`' recomputation with what PyTorch
itself computed (the module's output, ``h_n`` and ``c_n``, and every layer's outputs from one-layer
copies of the module); :func:`pytorch_step_state` gives PyTorch's state of one layer at one step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from playground.inspection.rnn.states import Direction, RecurrentStates, _cell_of, recurrent_model

#: Largest |recomputed - PyTorch| accepted as a match, by device type. cuDNN may use TF32 tensor
#: cores for float32 RNNs on Ampere and later GPUs (``torch.backends.cudnn.allow_tf32``), so the
#: GPU tolerance is looser; on the CPU the float32 kernels agree with float64 to ~1e-6.
TOLERANCE = {"cpu": 1e-4, "cuda": 1e-2, "mps": 1e-3}


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
        model: the recurrent classifier the states came from, or its ``nn.RNN`` / ``nn.LSTM`` /
            ``nn.GRU`` itself (a model whose recurrent layer reads other layers' outputs, e.g. a CRNN).
        states: from :func:`~playground.inspection.rnn.states.compute_states` / :func:`~playground.inspection.rnn.states.recompute`.

    Returns:
        A :class:`StatesCheck`; its ``max_abs_diff`` is ~1e-7..1e-6 on the CPU.

    Raises:
        TypeError: not a recurrent classifier.
        ValueError: states of another shape than this model produces.
    """
    rnn = (model if isinstance(model, nn.RNNBase) else recurrent_model(model).rnn).eval()
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
