"""Looking inside a CNN: its conv layers, their filters (1-D ones as frequency responses), feature maps
and activation statistics.

Feature maps are recorded with forward hooks that are always removed afterwards (the hooks are
registered inside a ``try``/``finally``), so inspecting a model never changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from playground.core.device import model_device
from playground.core.hooks import this_thread_only

if TYPE_CHECKING:
    from playground.bundle import Bundle


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every ``nn.Conv2d`` (subclasses included) in forward-definition order, with its qualified name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def get_conv(model: nn.Module, name: str) -> nn.Conv2d:
    """The conv layer called ``name``.

    Raises:
        ValueError: if ``name`` is not a conv layer of ``model`` (the message lists a few that are).
    """
    layers = dict(conv_layers(model))
    if name not in layers:
        some = ", ".join(list(layers)[:8]) or "(the model has no conv layers)"
        raise ValueError(f"{name!r} is not a conv layer of this model; conv layers: {some}")
    return layers[name]


def filters_as_images(conv: nn.Conv2d, rgb: bool | None = None) -> np.ndarray:
    """A conv layer's weights scaled to ``[0, 1]`` for display.

    Each filter is min-max scaled on its own (a common display choice, e.g. CNN Explainer), so
    the picture shows the pattern, not the magnitude; compare magnitudes with ``filter_norms``.

    Args:
        conv: the layer; weight ``(C_out, C_in / groups, kH, kW)``.
        rgb: show each filter as one RGB image (only when it has 3 input channels); default: True
            exactly when it has 3 input channels.

    Returns:
        ``(C_out, kH, kW, 3)`` float32 when ``rgb``, else ``(C_out, C_in / groups, kH, kW)`` float32,
        all in ``[0, 1]``.

    Raises:
        ValueError: if ``rgb`` is asked for a layer without 3 input channels.
    """
    w = conv.weight.detach().float().cpu()  # (C_out, C_in, kH, kW)
    if rgb is None:
        rgb = w.shape[1] == 3
    if rgb and w.shape[1] != 3:
        raise ValueError(f"RGB display needs 3 input channels, the layer has {w.shape[1]}")
    flat = w.reshape(w.shape[0], -1)  # (C_out, C_in * kH * kW)
    lo = flat.min(dim=1).values.view(-1, 1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1, 1)
    scaled = (w - lo) / (hi - lo).clamp_min(1e-12)
    if rgb:
        return scaled.permute(0, 2, 3, 1).numpy()  # (C_out, kH, kW, 3)
    return scaled.numpy()


def filter_weights(conv: nn.Conv2d) -> np.ndarray:
    """A conv layer's weights as they are: ``(C_out, C_in / groups, kH, kW)`` float32 on the CPU."""
    return conv.weight.detach().float().cpu().numpy()


def filter_norms(conv: nn.Conv2d) -> np.ndarray:
    """L2 norm of each filter: ``(C_out,)`` float32."""
    w = conv.weight.detach().float().cpu()
    return w.reshape(w.shape[0], -1).norm(dim=1).numpy()


@torch.no_grad()
def capture_activations(model: nn.Module, x: torch.Tensor, layer_names: list[str]) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` and record the outputs of the named modules.

    The forward pass stops as soon as every named module has given its output: the layers after the
    last one asked for are not run (a Filters layer switch on an early layer of EfficientNet-Lite0
    runs a few of its 16 blocks, not all). A module called more than once records its first call.

    Args:
        model: any module; it is put in eval mode.
        x: the normalized model input, e.g. ``(B, C, H, W)`` float32, on the model's device.
        layer_names: qualified module names (as in ``model.named_modules()``).

    Returns:
        ``{name: output}`` on the CPU, e.g. ``(B, C_l, H_l, W_l)`` for a conv layer.

    Raises:
        ValueError: if a name is not a module of ``model``.
    """
    return _capture(model, x, layer_names, lambda _inputs, output: output.detach().float().cpu())


@torch.no_grad()
def capture_input_output(model: nn.Module, x: torch.Tensor, layer_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model(x)`` up to the named module and record its first input and its output.

    Args:
        model: any module; it is put in eval mode.
        x: the model's input batch, e.g. ``(1, C, H, W)`` float32 normalized, on the model's device.
        layer_name: a qualified module name.

    Returns:
        ``(input, output)`` float32 on the CPU with the batch dimension, e.g. ``(1, C_in, H, W)`` and
        ``(1, C_out, H_out, W_out)`` for a conv layer.

    Raises:
        ValueError: no module of that name, or the forward pass never ran it.
    """
    recorded = _capture(
        model, x, [layer_name], lambda inputs, output: (inputs[0].detach().float().cpu(), output.detach().float().cpu())
    )
    if layer_name not in recorded:
        raise ValueError(f"the forward pass never ran {layer_name!r}")
    pair: tuple[torch.Tensor, torch.Tensor] = recorded[layer_name]
    return pair


def _capture(
    model: nn.Module, x: torch.Tensor, layer_names: list[str], pick: Callable[[tuple[Any, ...], Any], Any]
) -> dict[str, Any]:
    """``{name: pick(inputs, output)}`` of each named module's first call on ``model(x)``; the pass ends
    once every name has given its record (hooks act on this thread's pass only and are always removed).

    Raises:
        ValueError: if a name is not a module of ``model``.
    """
    modules = dict(model.named_modules())
    missing = [n for n in layer_names if n not in modules]
    if missing:
        raise ValueError(f"no module named {missing[0]!r} in this model")
    recorded: dict[str, Any] = {}
    handles = []

    def hook_for(name: str):  # a closure per layer, so each hook knows its name
        def hook(_module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            recorded.setdefault(name, pick(inputs, output))
            if len(recorded) == len(set(layer_names)):
                raise _AllCaptured  # nothing after this layer is needed

        return hook

    model.eval()
    try:
        for name in layer_names:
            # this thread's pass only: the model may be shared with other sessions running it now
            handles.append(modules[name].register_forward_hook(this_thread_only(hook_for(name))))
        model(x)
    except _AllCaptured:
        pass
    finally:
        for h in handles:
            h.remove()
    return recorded


class _AllCaptured(Exception):
    """Raised by :func:`capture_activations`' last hook to end the forward pass early."""


def image_feature_map(bundle: Bundle, pixels: torch.Tensor, layer_name: str) -> torch.Tensor:
    """The output of one layer for one image, as the model computes it.

    Args:
        bundle: an image model.
        pixels: ``(C, H, W)`` float32 in ``[0, 1]`` at the model's input size ("what the model
            sees"); normalized here with the bundle's preprocessing and moved to the model's device.
        layer_name: a qualified module name, e.g. ``"features.0"``.

    Returns:
        ``(C_l, H_l, W_l)`` float32 on the CPU for a conv layer (the layer's output without the batch).

    Raises:
        ValueError: not an image model, or no module of that name.
    """
    x = bundle.image_preprocessing.normalize(pixels).unsqueeze(0).to(model_device(bundle.model))  # (1, C, H, W)
    return capture_activations(bundle.model, x, [layer_name])[layer_name][0]


def input_feature_map(bundle: Bundle, model_input: torch.Tensor, layer_name: str) -> torch.Tensor:
    """The output of one layer for one input already in the model's form (audio: the standardized
    ``(1, F, T)`` features that ``predict_audio`` returns).

    Args:
        bundle: any model.
        model_input: one input without the batch dimension, e.g. ``(1, F, T)`` float32.
        layer_name: a qualified module name, e.g. ``"features.0"``.

    Returns:
        The layer's output without the batch, float32 on the CPU: ``(C_l, F_l, T_l)`` for a
        ``Conv2d`` over time x frequency, ``(C_l, T_l)`` for a ``Conv1d`` over the waveform.

    Raises:
        ValueError: no module of that name.
    """
    x = model_input.unsqueeze(0).to(model_device(bundle.model))  # (1, ...) a batch of one
    return capture_activations(bundle.model, x, [layer_name])[layer_name][0]


def conv1d_layers(model: nn.Module) -> list[tuple[str, nn.Conv1d]]:
    """Every ``nn.Conv1d`` in forward-definition order, with its qualified name (M5's filters)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv1d)]


def frequency_responses(conv: nn.Conv1d, sample_rate: int, n_fft: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """The magnitude response of each 1-D filter of a layer that reads the waveform: what band it passes.

    Args:
        conv: weight ``(C_out, C_in, K)``; input channel 0's kernel is used (the waveform has one).
        sample_rate: of the waveform the layer reads, Hz.
        n_fft: FFT size (kernels are zero-padded to it), >= K.

    Returns:
        ``(frequencies (n_fft // 2 + 1,) Hz, responses (C_out, n_fft // 2 + 1) dB relative to each
        filter's own peak, so 0 dB is its pass band)``, both float32.
    """
    kernels = conv.weight.detach().float().cpu()[:, 0, :]  # (C_out, K)
    n_fft = max(n_fft, kernels.shape[1])
    magnitude = torch.fft.rfft(kernels, n=n_fft).abs()  # (C_out, n_fft // 2 + 1)
    db = 20 * torch.log10(magnitude.clamp(min=1e-8) / magnitude.amax(dim=1, keepdim=True).clamp(min=1e-8))
    freqs = torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    return freqs.numpy().astype(np.float32), db.numpy().astype(np.float32)


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel statistics of one feature map ``(C, H, W)``; every array is ``(C,)`` float32.

    Attributes:
        mean: mean activation.
        std: standard deviation.
        max: maximum activation.
        active_fraction: share of positions with activation > 0 (after a ReLU: how often the unit fires).
    """

    mean: np.ndarray
    std: np.ndarray
    max: np.ndarray
    active_fraction: np.ndarray


def channel_stats(feature_map: torch.Tensor) -> ChannelStats:
    """Statistics per channel of one feature map.

    Args:
        feature_map: ``(C, H, W)`` float (or ``(C, T)`` of a 1-D conv).

    Raises:
        ValueError: if the map is not 2-D or 3-D.
    """
    if feature_map.ndim not in (2, 3):
        raise ValueError(f"expected a (C, H, W) or (C, T) feature map, got shape {tuple(feature_map.shape)}")
    flat = feature_map.reshape(feature_map.shape[0], -1).float()  # (C, H*W)
    return ChannelStats(
        mean=flat.mean(dim=1).numpy(),
        std=flat.std(dim=1, unbiased=False).numpy(),
        max=flat.max(dim=1).values.numpy(),
        active_fraction=(flat > 0).float().mean(dim=1).numpy(),
    )
