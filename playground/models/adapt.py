"""Adapting a classifier to another task: new head, new input channels, frozen backbone.

These are the usual fine-tuning moves on a pretrained CNN (Yosinski et al. 2014, "How transferable
are features in deep neural networks?", https://arxiv.org/abs/1411.1792): keep the convolutional
backbone, put a fresh linear head on it for the new classes, and optionally train only the head.

They work on any module whose classifier is its last ``nn.Linear`` (in registration order) and whose
stem is its first ``nn.Conv2d``: torchvision's ResNet / MobileNet, the EfficientNet-Lite package and
every CNN entry written here.
"""

from __future__ import annotations

import copy
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def _named_modules_of(model: nn.Module, kind: type[M]) -> list[tuple[str, M]]:
    """Sub-modules of type ``kind`` in registration order, with their qualified names (root excluded)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, kind) and name]


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def classifier_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """Find the classifier head: the last ``nn.Linear`` registered in ``model``.

    Returns:
        ``(qualified_name, layer)``, e.g. ``("fc", Linear(512, 1000))`` for a ResNet.

    Raises:
        ValueError: if ``model`` has no ``nn.Linear``.
    """
    linears = _named_modules_of(model, nn.Linear)
    if not linears:
        raise ValueError(f"expected a model with an nn.Linear classifier head, got {type(model).__name__} with none")
    return linears[-1]


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Put a freshly initialised ``nn.Linear(in_features, num_classes)`` in place of the head.

    The new head keeps the old one's ``in_features``, bias setting, device and dtype; its weights are
    PyTorch's default init. ``model`` is changed in place and returned. When the head already has
    ``num_classes`` outputs it is left as it is.

    Raises:
        ValueError: if ``num_classes < 1`` or ``model`` has no ``nn.Linear``.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    name, old = classifier_head(model)
    if old.out_features == num_classes:
        return model
    new = nn.Linear(
        old.in_features, num_classes, bias=old.bias is not None, device=old.weight.device, dtype=old.weight.dtype
    )
    _set_submodule(model, name, new)
    return model


def replace_stem(model: nn.Module, in_channels: int, *, keep_weights: bool = True) -> nn.Module:
    """Make the first ``nn.Conv2d`` take ``in_channels`` input channels.

    The stem is deep-copied, so its class (e.g. a TensorFlow-style "same"-padding conv), stride and
    padding stay; only the weight's input dimension changes. With ``keep_weights`` the pretrained
    kernels are carried over so that the stem's response to a gray image is unchanged:

    - 3 -> 1: the RGB kernels are **summed** over input channels. A gray image seen as RGB has
      R = G = B, and ``conv(x, w_R) + conv(x, w_G) + conv(x, w_B) = conv(x, w_R + w_G + w_B)``; a mean
      would shrink every activation 3x. (timm's ``adapt_input_conv`` does the same.)
    - 1 -> 3: the gray kernel is repeated over R, G, B and scaled by 1/3, which again gives the same
      response when R = G = B.

    Without ``keep_weights`` (a randomly initialised model) the new stem gets PyTorch's default init.
    ``model`` is changed in place and returned; nothing changes when the stem already fits.

    Args:
        model: the network; its first registered ``nn.Conv2d`` is the stem.
        in_channels: 1 (grayscale) or 3 (RGB).
        keep_weights: derive the new kernels from the old ones (for pretrained weights).

    Raises:
        ValueError: if ``in_channels`` is not 1 or 3, there is no ``nn.Conv2d``, the stem is a
            grouped convolution, or ``keep_weights`` is asked for a conversion other than 1 <-> 3.
    """
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    convs = _named_modules_of(model, nn.Conv2d)
    if not convs:
        raise ValueError(f"expected a model with an nn.Conv2d stem, got {type(model).__name__} with none")
    name, old = convs[0]
    if old.in_channels == in_channels:
        return model
    if old.groups != 1:
        raise ValueError(f"expected an ungrouped stem convolution, got groups={old.groups} at {name!r}")
    new = copy.deepcopy(old)
    new.in_channels = in_channels
    out_c, _, kh, kw = old.weight.shape
    with torch.no_grad():
        if keep_weights:
            if old.in_channels == 3 and in_channels == 1:
                weight = old.weight.sum(dim=1, keepdim=True)  # (out, 1, kh, kw)
            elif old.in_channels == 1 and in_channels == 3:
                weight = old.weight.repeat(1, 3, 1, 1) / 3.0  # (out, 3, kh, kw)
            else:
                raise ValueError(f"can only carry stem weights over between 1 and 3 channels, got {old.in_channels}")
            new.weight = nn.Parameter(weight.clone())
        else:
            new.weight = nn.Parameter(old.weight.new_empty(out_c, in_channels, kh, kw))
            new.reset_parameters()  # kaiming-uniform with the new fan-in (and the bias, if any)
    _set_submodule(model, name, new)
    return model


def freeze_backbone(model: nn.Module, freeze: bool = True) -> int:
    """Train only the classifier head (``freeze=True``) or everything (``freeze=False``).

    Sets ``requires_grad`` on every parameter: ``False`` outside the head when freezing, ``True``
    everywhere when unfreezing. BatchNorm running statistics are not affected (that is ``model.eval()``).

    Returns:
        The number of trainable parameter elements left.

    Raises:
        ValueError: if ``model`` has no ``nn.Linear`` head.
    """
    _, head = classifier_head(model)
    head_params = {id(p) for p in head.parameters()}
    for p in model.parameters():
        p.requires_grad_(not freeze or id(p) in head_params)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
