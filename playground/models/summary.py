"""A Keras-style model summary: one row per layer, parameter counts and FLOPs.

Rows come from forward hooks on one forward pass of a ``(1, ...)`` zero input (written by hand
rather than with ``torchinfo``, to avoid a dependency for ~40 lines). FLOPs come from PyTorch's
own ``torch.utils.flop_counter.FlopCounterMode``, which counts a multiply-add as 2 FLOPs
(a ``Linear(10, 5)`` on one sample is 100 FLOPs) and only counts matmul / conv / attention-like
ops (element-wise ops, pooling and normalization count 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class LayerRow:
    """One layer of a model.

    Attributes:
        name: qualified module name, e.g. ``"layer1.0.conv1"``.
        type: class name, e.g. ``"Conv2d"``.
        output_shape: shape of the module's (first) output tensor on its first call, batch dim
            included, e.g. ``(1, 16, 32, 32)``; ``None`` if the module did not run.
        num_params: parameters owned directly by this module (each shared parameter is counted once,
            at its first owner), so the rows sum to the model's total.
        trainable: whether any of those parameters has ``requires_grad``.
    """

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    num_params: int
    trainable: bool


@dataclass(frozen=True)
class ModelSummary:
    """Totals and per-layer rows of a model for one input shape.

    Attributes:
        total_params: number of parameter elements (shared ones once).
        trainable_params: those with ``requires_grad``.
        flops: floating-point operations of one forward pass on a batch of 1 (2 per multiply-add).
        rows: see :func:`layer_table`.
    """

    total_params: int
    trainable_params: int
    flops: int
    rows: tuple[LayerRow, ...]


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if len(shape) < 2 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"expected an input shape of positive ints with a batch dim, e.g. (1, 3, 32, 32), got {shape}")
    if shape[0] != 1:
        raise ValueError(f"expected a batch of 1 (input_shape[0] == 1), got {shape[0]}")
    return shape


def _first_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _run_once(model: nn.Module, input_shape: tuple[int, ...]) -> None:
    """Forward a zero batch in eval mode without grad, on the model's device; restores the mode."""
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        model.train(was_training)


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> list[LayerRow]:
    """One row per leaf module (and per non-leaf module that owns parameters directly).

    The model runs once in eval mode under ``torch.no_grad`` on a zero input of ``input_shape``,
    on the device its parameters are on; its train/eval mode is restored afterwards.

    Args:
        model: any ``nn.Module`` taking one float32 tensor.
        input_shape: full input shape with a batch of 1, e.g. ``(1, 3, 32, 32)``.

    Returns:
        Rows in registration order (``model.named_modules()``).

    Raises:
        ValueError: if ``input_shape`` is not a batch-of-1 shape of positive ints.
    """
    shape = _check_shape(input_shape)
    seen: set[int] = set()
    owners: list[tuple[str, nn.Module, int, bool]] = []
    for name, module in model.named_modules():
        own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for p in own)
        is_leaf = next(iter(module.children()), None) is None
        if is_leaf or own:
            owners.append(
                (name or type(model).__name__, module, sum(p.numel() for p in own), any(p.requires_grad for p in own))
            )
    shapes: dict[int, tuple[int, ...]] = {}

    def make_hook(key: int) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            tensor = _first_tensor(output)
            if key not in shapes and tensor is not None:  # first call wins for reused modules
                shapes[key] = tuple(tensor.shape)

        return hook

    handles = [module.register_forward_hook(make_hook(i)) for i, (_, module, _, _) in enumerate(owners)]
    try:
        _run_once(model, shape)
    finally:
        for handle in handles:
            handle.remove()
    return [
        LayerRow(name=name, type=type(module).__name__, output_shape=shapes.get(i), num_params=n, trainable=trainable)
        for i, (name, module, n, trainable) in enumerate(owners)
    ]


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on a zero batch of 1, by ``torch.utils.flop_counter.FlopCounterMode``.

    A multiply-add counts 2: ``Linear(in, out)`` costs ``2 * in * out`` per sample; a conv costs
    ``2 * C_in/groups * kh * kw * C_out * H_out * W_out``. Element-wise ops, pooling and
    normalization are not counted.

    Args:
        model: any ``nn.Module`` taking one float32 tensor.
        input_shape: full input shape with a batch of 1, e.g. ``(1, 3, 32, 32)``.

    Raises:
        ValueError: if ``input_shape`` is not a batch-of-1 shape of positive ints.
    """
    shape = _check_shape(input_shape)
    counter = FlopCounterMode(display=False)
    with counter:
        _run_once(model, shape)
    return int(counter.get_total_flops())


def summarize(model: nn.Module, input_shape: Sequence[int]) -> ModelSummary:
    """Parameter totals, FLOPs and the layer table of ``model`` for ``input_shape``.

    Raises:
        ValueError: if ``input_shape`` is not a batch-of-1 shape of positive ints.
    """
    params = {id(p): p for p in model.parameters()}.values()
    return ModelSummary(
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        flops=count_flops(model, input_shape),
        rows=tuple(layer_table(model, input_shape)),
    )
