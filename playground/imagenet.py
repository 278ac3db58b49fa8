"""ImageNet-1k class names, offline.

torchvision ships the 1,000 ILSVRC-2012 class names inside its weights metadata
(``ResNet18_Weights.IMAGENET1K_V1.meta["categories"]``), so reading them downloads nothing. Every
ImageNet classifier here (torchvision's, EfficientNet-Lite0) uses this standard index order.

Source: Russakovsky et al. 2015, "ImageNet Large Scale Visual Recognition Challenge",
https://arxiv.org/abs/1409.0575; torchvision ``torchvision/models/_meta.py``.
"""

from __future__ import annotations

from functools import cache

NUM_IMAGENET_CLASSES = 1000


@cache
def _categories() -> tuple[str, ...]:
    from torchvision.models import ResNet18_Weights

    names = tuple(str(c) for c in ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    if len(names) != NUM_IMAGENET_CLASSES:  # a torchvision change we would want to hear about
        raise ValueError(f"expected {NUM_IMAGENET_CLASSES} ImageNet categories, got {len(names)}")
    return names


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet-1k class names, index-aligned with an ImageNet classifier's logits.

    Returns:
        A new list of 1,000 strings (e.g. index 281 is ``"tabby"``); the underlying tuple is cached.
    """
    return list(_categories())
