"""A Keras-style model summary: one row per layer, parameter counts and FLOPs.

Rows come from forward hooks on one forward pass of a batch of one (written by hand rather than
with ``torchinfo``, to avoid a dependency for ~40 lines). The input is either a shape, for models
that take float tensors (a zero input of that shape: images ``(1, C, H, W)``, numeric sequences
``(1, T, F)``), or an example tensor, for models that need particular values: a text model takes
``(1, T)`` int64 token ids, and an all-zero row would be all padding (length 1 after packing).

FLOPs come from PyTorch's own ``torch.utils.flop_counter.FlopCounterMode``, which counts a
multiply-add as 2 FLOPs (a ``Linear(10, 5)`` on one sample is 100 FLOPs) and only counts matmul /
conv / attention-like ops (element-wise ops, pooling, normalization and embedding look-ups count 0).
Recurrent layers count their gate matmuls at every time step (an LSTM layer:
``T * 2 * 4 * (in * H + H * H)``); cuDNN is switched off while counting, because its fused RNN
kernel is one op the counter does not know.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from playground.core.hooks import this_thread_only

#: A model input for the summary: a full shape with a batch of 1 (a zero float32 input of that
#: shape is used), or an example tensor with a batch of 1 (e.g. ``(1, T)`` int64 token ids).
ModelInput = torch.Tensor | Sequence[int]


@dataclass(frozen=True)
class LayerRow:
    """One layer of a model.

    Attributes:
        name: qualified module name, e.g. ``"layer1.0.conv1"``.
        type: class name, e.g. ``"Conv2d"``.
        output_shape: shape of the module's (first) output tensor on its first call, batch dim
            included, e.g. ``(1, 16, 32, 32)``; ``None`` if the module did not run. A recurrent
            layer fed a packed sequence reports its padded output ``(1, T, D*H)``.
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
    """Totals and per-layer rows of a model for one input.

    Attributes:
        total_params: number of parameter elements (shared ones once).
        trainable_params: those with ``requires_grad``.
        flops: floating-point operations of one forward pass on a batch of 1 (2 per multiply-add).
        rows: see :func:`layer_table`.
        input_shape: the shape of the input the summary was made for, e.g. ``(1, 3, 224, 224)``
            or ``(1, T)`` for token ids.
    """

    total_params: int
    trainable_params: int
    flops: int
    rows: tuple[LayerRow, ...]
    input_shape: tuple[int, ...] = ()


def _example(model_input: ModelInput) -> torch.Tensor:
    """The input tensor of a batch of 1 (on the CPU for a shape; the caller moves it)."""
    if isinstance(model_input, torch.Tensor):
        if model_input.ndim < 2 or model_input.shape[0] != 1 or model_input.numel() == 0:
            raise ValueError(
                f"expected an example input with a batch of 1, e.g. (1, T) token ids, got shape {tuple(model_input.shape)}"
            )
        return model_input
    shape = tuple(model_input)
    if len(shape) < 2 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"expected an input shape of positive ints with a batch dim, e.g. (1, 3, 32, 32), got {shape}")
    if shape[0] != 1:
        raise ValueError(f"expected a batch of 1 (input_shape[0] == 1), got {shape[0]}")
    return torch.zeros(shape)


def _output_shape(output: Any) -> tuple[int, ...] | None:
    """Shape of the first tensor in ``output``; a packed sequence as its padded ``(B, T, ...)``."""
    if isinstance(output, PackedSequence):  # a NamedTuple: check before the tuple case
        batch, steps = int(output.batch_sizes[0]), len(output.batch_sizes)
        return (batch, steps, *output.data.shape[1:])  # (B, T, D*H)
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _output_shape(item)
            if found is not None:
                return found
    return None


def _run_once(model: nn.Module, x: torch.Tensor) -> None:
    """Forward ``x`` in eval mode without grad, on the model's device; restores the mode."""
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x.to(device))
    finally:
        model.train(was_training)


def layer_table(model: nn.Module, input_shape: ModelInput) -> list[LayerRow]:
    """One row per leaf module (and per non-leaf module that owns parameters directly).

    The model runs once in eval mode under ``torch.no_grad``, on the device its parameters are
    on; its train/eval mode is restored afterwards.

    Args:
        model: any ``nn.Module`` taking one tensor.
        input_shape: a full input shape with a batch of 1, e.g. ``(1, 3, 32, 32)`` (a zero
            float32 input), or an example input tensor with a batch of 1, e.g. ``(1, T)`` int64
            token ids for a text model.

    Returns:
        Rows in registration order (``model.named_modules()``).

    Raises:
        ValueError: if ``input_shape`` is not a batch-of-1 shape of positive ints or tensor.
    """
    x = _example(input_shape)
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
            shape = _output_shape(output)
            if key not in shapes and shape is not None:  # first call wins for reused modules
                shapes[key] = shape

        return hook

    # this thread's pass only: the model may be shared with other sessions running it now
    handles = [
        module.register_forward_hook(this_thread_only(make_hook(i))) for i, (_, module, _, _) in enumerate(owners)
    ]
    try:
        _run_once(model, x)
    finally:
        for handle in handles:
            handle.remove()
    return [
        LayerRow(name=name, type=type(module).__name__, output_shape=shapes.get(i), num_params=n, trainable=trainable)
        for i, (name, module, n, trainable) in enumerate(owners)
    ]


def count_flops(model: nn.Module, input_shape: ModelInput) -> int:
    """FLOPs of one forward pass on a batch of 1, by ``torch.utils.flop_counter.FlopCounterMode``.

    A multiply-add counts 2: ``Linear(in, out)`` costs ``2 * in * out`` per sample; a conv costs
    ``2 * C_in/groups * kh * kw * C_out * H_out * W_out``; a recurrent layer its gate matmuls at
    each of the T steps. Element-wise ops, pooling, normalization and embedding look-ups are not
    counted.

    Args:
        model: any ``nn.Module`` taking one tensor.
        input_shape: a full input shape with a batch of 1, e.g. ``(1, 3, 32, 32)`` (a zero
            float32 input), or an example input tensor with a batch of 1 (``(1, T)`` token ids).

    Raises:
        ValueError: if ``input_shape`` is not a batch-of-1 shape of positive ints or tensor.
    """
    x = _example(input_shape)
    from torch.utils.flop_counter import FlopCounterMode  # imported when used: it loads triton (~0.05-0.13 s)

    counter = FlopCounterMode(display=False)
    with _without_cudnn_rnn(model), counter:
        _run_once(model, x)
    return int(counter.get_total_flops())


def _without_cudnn_rnn(model: nn.Module) -> contextlib.AbstractContextManager[Any]:
    """cuDNN off while a CUDA model with recurrent layers is counted; a no-op otherwise.

    cuDNN runs a whole RNN as one fused op that the counter does not count; PyTorch's own RNN code
    (used when cuDNN is off, and always on the CPU) runs the gate matmuls as addmm / mm. The other
    cuDNN settings are kept as they are.
    """
    param = next(iter(model.parameters()), None)
    on_cuda = param is not None and param.device.type == "cuda"
    if not on_cuda or not any(isinstance(m, nn.RNNBase) for m in model.modules()):
        return contextlib.nullcontext()
    cudnn = torch.backends.cudnn
    return cudnn.flags(
        enabled=False,
        benchmark=cudnn.benchmark,
        benchmark_limit=cudnn.benchmark_limit,
        deterministic=cudnn.deterministic,
        allow_tf32=cudnn.allow_tf32,
        fp32_precision=cudnn.fp32_precision,
    )


def summarize(model: nn.Module, input_shape: ModelInput) -> ModelSummary:
    """Parameter totals, FLOPs and the layer table of ``model`` for one input.

    Args:
        model: any ``nn.Module`` taking one tensor.
        input_shape: a full input shape with a batch of 1 (a zero float32 input: images
            ``(1, C, H, W)``, numeric sequences ``(1, T, F)``), or an example input tensor with a
            batch of 1 (text: ``(1, T)`` int64 token ids that are not all padding).

    Raises:
        ValueError: if ``input_shape`` is not a batch-of-1 shape of positive ints or tensor.
    """
    x = _example(input_shape)
    params = {id(p): p for p in model.parameters()}.values()
    return ModelSummary(
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        flops=count_flops(model, x),
        rows=tuple(layer_table(model, x)),
        input_shape=tuple(x.shape),
    )
