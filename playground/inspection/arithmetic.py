"""One output value of a convolution and of a max-pool, recomputed by hand from the model's numbers.

The tutorial article's section 3.1 describes a convolution as a kernel sliding over the input,
each output value the sum of the products under the kernel plus a bias, and max-pooling as the
largest value of each window. Given a layer's real input and output on the model's own pass
(:func:`playground.inspection.features.capture_input_output`), one output position is recomputed
from the window and the kernel and the two numbers are compared: the same check the RNN-states
and Attention pages make for their formulas.

Conventions follow ``torch.nn.Conv2d`` / ``torch.nn.MaxPool2d`` (cross-correlation, zero
padding, stride, dilation, groups): https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from playground.models.recurrent import RecurrentClassifier

#: |recomputed - model| allowed, relative to the largest |product| (float32 sums in another order).
TOLERANCE = 1e-4


def _check_position(output: torch.Tensor, channel: int, row: int, col: int) -> None:
    c, h, w = output.shape
    if not (0 <= channel < c and 0 <= row < h and 0 <= col < w):
        raise ValueError(f"position (channel {channel}, row {row}, col {col}) is outside the output {c}×{h}×{w}")


@dataclass(frozen=True)
class ConvStep:
    """One output value of a conv layer, recomputed.

    Attributes:
        window: ``(C_in / groups, kH, kW)`` the input values under the kernel (0 where it overlaps
            the zero padding), in the layer's input units (normalized pixels for a first layer).
        kernel: ``(C_in / groups, kH, kW)`` the filter's weights.
        products: ``window * kernel``, same shape.
        bias: the filter's bias (0.0 when the layer has none).
        value: ``products.sum() + bias``, recomputed here.
        model_value: the layer's own output at this position.
        top_left: ``(row, col)`` of the window's top-left input element, in unpadded coordinates
            (negative where the window starts in the padding).
        in_channels: the input channels the window covers (``groups`` > 1: a slice of them).
    """

    window: torch.Tensor
    kernel: torch.Tensor
    products: torch.Tensor
    bias: float
    value: float
    model_value: float
    top_left: tuple[int, int]
    in_channels: range

    @property
    def abs_diff(self) -> float:
        return abs(self.value - self.model_value)

    @property
    def matches(self) -> bool:
        """Whether the recomputed value equals the model's within :data:`TOLERANCE` (relative)."""
        scale = max(1.0, float(self.products.abs().max()) if self.products.numel() else 1.0)
        return self.abs_diff <= TOLERANCE * scale


def conv_step(
    conv: nn.Conv2d, layer_input: torch.Tensor, layer_output: torch.Tensor, channel: int, row: int, col: int
) -> ConvStep:
    """Recompute ``layer_output[channel, row, col]`` from the window of ``layer_input`` and the kernel.

    ``y[c, i, j] = b[c] + sum_k sum_{u,v} W[c, k, u, v] * x[k, i*s + u*d - p, j*s + v*d - p]``
    (s stride, d dilation, p padding; k over the input channels of the filter's group).

    Args:
        conv: the layer (zero padding only: ``padding_mode="zeros"``).
        layer_input: ``(C_in, H, W)`` float32, what the layer received.
        layer_output: ``(C_out, H_out, W_out)`` float32, what it gave.
        channel, row, col: the output position.

    Returns:
        The :class:`ConvStep`.

    Raises:
        ValueError: the position is outside the output, the shapes do not fit the layer, or a
            padding mode other than zeros.
    """
    if conv.padding_mode != "zeros":
        raise ValueError(f"only zero padding is recomputed here, the layer uses {conv.padding_mode!r}")
    if layer_input.dim() != 3 or layer_input.shape[0] != conv.in_channels:
        raise ValueError(f"expected the layer input as ({conv.in_channels}, H, W), got {tuple(layer_input.shape)}")
    _check_position(layer_output, channel, row, col)
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    if isinstance(conv.padding, str):  # "same" / "valid": PyTorch pads (total // 2) before
        pad_h = (dh * (kh - 1)) // 2 if conv.padding == "same" else 0
        pad_w = (dw * (kw - 1)) // 2 if conv.padding == "same" else 0
    else:
        pad_h, pad_w = int(conv.padding[0]), int(conv.padding[1])
    per_group = conv.in_channels // conv.groups
    group = channel // (conv.out_channels // conv.groups)
    channels = range(group * per_group, (group + 1) * per_group)
    padded = F.pad(layer_input[channels.start : channels.stop], (pad_w, pad_w + kw * dw, pad_h, pad_h + kh * dh))
    top, left = row * sh, col * sw  # in padded coordinates
    window = padded[:, top : top + dh * (kh - 1) + 1 : dh, left : left + dw * (kw - 1) + 1 : dw]  # (C_g, kH, kW)
    kernel = conv.weight.detach().float().cpu()[channel]  # (C_in / groups, kH, kW)
    products = window * kernel
    bias = float(conv.bias.detach()[channel]) if conv.bias is not None else 0.0
    value = float(products.sum(dtype=torch.float64)) + bias
    return ConvStep(
        window=window,
        kernel=kernel,
        products=products,
        bias=bias,
        value=value,
        model_value=float(layer_output[channel, row, col]),
        top_left=(top - pad_h, left - pad_w),
        in_channels=channels,
    )


@dataclass(frozen=True)
class PoolStep:
    """One output value of a max-pool layer, recomputed.

    Attributes:
        window: ``(kH, kW)`` the input values in the window (``-inf`` where it overlaps padding).
        value: the largest of them, recomputed here.
        argmax: ``(u, v)`` of that value inside the window.
        model_value: the layer's own output at this position.
        top_left: ``(row, col)`` of the window's top-left element in the pool's input.
    """

    window: torch.Tensor
    value: float
    argmax: tuple[int, int]
    model_value: float
    top_left: tuple[int, int]

    @property
    def matches(self) -> bool:
        return self.value == self.model_value  # a max copies a value: no rounding


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def max_pool_step(
    pool: nn.MaxPool2d, pool_input: torch.Tensor, pool_output: torch.Tensor, channel: int, row: int, col: int
) -> PoolStep:
    """Recompute ``pool_output[channel, row, col]`` as the largest value of its window.

    Args:
        pool: the layer (``ceil_mode`` windows that run off the input are cut, as PyTorch does).
        pool_input: ``(C, H, W)`` float32, what the layer received.
        pool_output: ``(C, H_out, W_out)`` float32, what it gave.
        channel, row, col: the output position.

    Raises:
        ValueError: the position is outside the output.
    """
    _check_position(pool_output, channel, row, col)
    (kh, kw), (dh, dw), (ph, pw) = _pair(pool.kernel_size), _pair(pool.dilation), _pair(pool.padding)
    sh, sw = _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    padded = F.pad(pool_input[channel], (pw, pw + kw * dw, ph, ph + kh * dh), value=float("-inf"))
    top, left = row * sh, col * sw
    window = padded[top : top + dh * (kh - 1) + 1 : dh, left : left + dw * (kw - 1) + 1 : dw]  # (kH, kW)
    flat = int(window.argmax())
    return PoolStep(
        window=window,
        value=float(window.max()),
        argmax=(flat // window.shape[1], flat % window.shape[1]),
        model_value=float(pool_output[channel, row, col]),
        top_left=(top - ph, left - pw),
    )


@dataclass(frozen=True)
class OutputStep:
    """A recurrent classifier's output ``y = g(W_hy h + b_y)`` recomputed from its head's weights.

    Attributes:
        features: ``(D*H,)`` the ``h`` the head reads: the last hidden state (pooling ``"last"``), or
            the element-wise max or mean of ``h_t`` over the steps (``"max"`` / ``"mean"``).
        weight: ``(K, D*H)`` ``W_hy``, the head's weights.
        bias: ``(K,)`` ``b_y``.
        logits: ``(K,)`` ``W_hy h + b_y``, recomputed here (float64).
        model_logits: ``(K,)`` what the model returned.
        probs: ``(K,)`` ``g = softmax`` of the recomputed logits.
        pooling: how ``h`` was read from the steps.
    """

    features: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    logits: torch.Tensor
    model_logits: torch.Tensor
    probs: torch.Tensor
    pooling: str

    @property
    def max_abs_diff(self) -> float:
        return float((self.logits - self.model_logits.double()).abs().max())

    @property
    def matches(self) -> bool:
        return self.max_abs_diff <= TOLERANCE * max(1.0, float(self.model_logits.abs().max()))


@torch.no_grad()
def rnn_output_step(model: nn.Module, x: torch.Tensor) -> OutputStep:
    """Recompute a recurrent classifier's logits for one input from its pooled hidden state.

    Args:
        model: a ``playground.models.recurrent.RecurrentClassifier`` (rnn, lstm, gru, seed_lstm).
        x: one input without the batch: ``(T,)`` int64 token ids or ``(T, F)`` float32 values.

    Raises:
        ValueError: a model without that structure.
    """
    if not isinstance(model, RecurrentClassifier):
        raise ValueError(f"expected a recurrent classifier (rnn, lstm, gru, seed_lstm), got {type(model).__name__}")
    model.eval()
    outputs, h_n, lengths = model.encode(x.unsqueeze(0))  # (1, T, D*H), (L*D, 1, H), (1,)
    features = model.pool(outputs, h_n, lengths)[0].float().cpu()  # (D*H,)
    weight = model.head.weight.detach().float().cpu()  # (K, D*H)
    bias = model.head.bias.detach().float().cpu() if model.head.bias is not None else torch.zeros(weight.shape[0])
    logits = weight.double() @ features.double() + bias.double()  # (K,)
    return OutputStep(
        features=features,
        weight=weight,
        bias=bias,
        logits=logits,
        model_logits=model(x.unsqueeze(0))[0].float().cpu(),
        probs=logits.softmax(dim=0),
        pooling=str(getattr(model, "pooling", "last")),
    )
