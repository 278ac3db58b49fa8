"""Class activation maps: Grad-CAM and Guided Grad-CAM.

Grad-CAM weighs the channels of a convolutional feature map ``A`` (``(1, k, h, w)``) by their
spatially averaged gradients, sums them and keeps the positive part:
``ReLU(Σ_k mean(∂y/∂A_k) · A_k)`` (``(1, 1, h, w)``), then upsamples bilinearly to the input
(``captum.attr.LayerAttribution.interpolate``). Captum's ``LayerGradCam`` needs one forward and one
backward pass and no gradients for the weights.

The layer: by default the last module, in execution order, whose output is a spatial feature map
(4-D with more than one cell) and that runs once per forward pass (``layer4`` of a ResNet, the
last pooling of LeNet). A module that runs several times would be ambiguous for the hook.

Sources: Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", https://arxiv.org/abs/1610.02391 (``captum.attr.LayerGradCam``,
``captum.attr.GuidedGradCam``).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam
from torch import nn

from playground.explain.base import ExplainParams, RawAttribution, Subject, register_method
from playground.explain.errors import MethodNotSupportedError
from playground.explain.gradient import guided_attribute

# The chosen layer per model and input shape: finding it costs one forward pass.
_LAYER_CACHE: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], str]] = weakref.WeakKeyDictionary()


def spatial_layers(model: nn.Module, run: Any) -> list[tuple[str, tuple[int, ...], int]]:
    """Modules whose output is a spatial map, in the order their forward passes finish.

    Args:
        model: the module tree to watch.
        run: runs one forward pass through ``model``.

    Returns:
        ``(name, output shape, calls)`` for every submodule with a 4-D output of more than one
        cell (``(B, k, h, w)``, ``h·w > 1``), in the order they last finished.
    """
    names = {id(m): n for n, m in model.named_modules() if n}
    order: dict[str, tuple[int, ...]] = {}
    calls: dict[str, int] = {}

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        name = names.get(id(module))
        if name is None or not isinstance(output, torch.Tensor):
            return
        calls[name] = calls.get(name, 0) + 1
        if output.ndim == 4 and output.shape[-1] * output.shape[-2] > 1:
            order.pop(name, None)  # keep the order of the last finish
            order[name] = tuple(output.shape)

    handles = [m.register_forward_hook(hook) for m in model.modules() if id(m) in names]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return [(name, shape, calls[name]) for name, shape in order.items()]


def cam_layer(subject: Subject, params: ExplainParams) -> tuple[str, nn.Module]:
    """The layer Grad-CAM reads: ``params.layer`` or the default (see the module docstring).

    Raises:
        MethodNotSupportedError: the model has no spatial feature map (e.g. an RNN or an MLP).
        ValueError: ``params.layer`` names no module, or one without a spatial output.
    """
    if subject.input_kind != "pixels":
        raise MethodNotSupportedError(
            f"Grad-CAM needs a convolutional feature map (B, C, h, w); a {subject.modality} model has none"
        )
    net = subject.net_for(subject.model)
    key = tuple(subject.inputs.shape)
    if params.layer is None:
        cached = _LAYER_CACHE.get(subject.view.model, {}).get(key)
        if cached is not None:
            try:
                return cached, subject.model.get_submodule(cached)
            except AttributeError:  # the model's structure changed since: look again
                pass
    candidates = spatial_layers(subject.model, lambda: net(subject.inputs))
    if params.layer is not None:
        for name, _shape, _calls in candidates:
            if name == params.layer:
                return name, subject.model.get_submodule(name)
        known = ", ".join(n for n, _, c in candidates if c == 1) or "none"
        raise ValueError(f"Grad-CAM: no layer {params.layer!r} with a spatial output; layers that have one: {known}")
    once = [name for name, _shape, calls in candidates if calls == 1]
    if not once:
        raise MethodNotSupportedError(
            "Grad-CAM needs a convolutional feature map (B, C, h, w) with more than one cell, "
            "and this model has none (or only modules that run several times per pass)"
        )
    name = once[-1]
    _LAYER_CACHE.setdefault(subject.view.model, {})[key] = name
    return name, subject.model.get_submodule(name)


@register_method(
    "grad_cam",
    title="Grad-CAM",
    family="cam",
    input_kinds=("pixels",),
    source="Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391 (captum.attr.LayerGradCam, ReLU, bilinear upsampling)",
    description="Where the last convolutional features that raise the target's score lie: a coarse map, upsampled.",
    uses=("layer",),
)
def grad_cam(subject: Subject, params: ExplainParams) -> RawAttribution:
    name, layer = cam_layer(subject, params)
    subject.progress.expect(1)
    cam = LayerGradCam(subject.forward, layer).attribute(
        subject.inputs, target=subject.target, relu_attributions=True
    )  # (1, 1, h, w)
    height, width = subject.inputs.shape[-2:]
    up = LayerAttribution.interpolate(cam, (height, width), interpolate_mode="bilinear")  # (1, 1, H, W)
    channels = subject.inputs.shape[1]
    # Split evenly over the channels: the input's shape, and the channel sum is the Grad-CAM map.
    attributions = up.expand(-1, channels, -1, -1) / channels  # (1, C, H, W)
    return RawAttribution(
        attributions.contiguous(), details={"layer": name, "map_size": (cam.shape[-2], cam.shape[-1])}
    )


@register_method(
    "guided_grad_cam",
    title="Guided Grad-CAM",
    family="cam",
    input_kinds=("pixels",),
    source="Selvaraju et al. 2017, https://arxiv.org/abs/1610.02391 (captum.attr.GuidedGradCam)",
    description="Guided backprop multiplied by the upsampled Grad-CAM map: fine detail where the class evidence is.",
    uses=("layer",),
)
def guided_grad_cam(subject: Subject, params: ExplainParams) -> RawAttribution:
    if subject.input_kind != "pixels":
        raise MethodNotSupportedError(
            f"Guided Grad-CAM needs a convolutional feature map; a {subject.modality} model has none"
        )
    names: dict[str, str] = {}

    def make(forward: nn.Module) -> GuidedGradCam:
        name, layer = cam_layer(subject, params)  # after the split: the layer runs once, it is not split
        names["layer"] = name
        return GuidedGradCam(forward, layer)

    subject.progress.expect(2)
    attributions = guided_attribute(subject, make, interpolate_mode="bilinear")
    return RawAttribution(attributions, details=names)
