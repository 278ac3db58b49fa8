"""ImageNet-1k class names, offline.

torchvision ships the 1,000 ILSVRC-2012 class names inside its weights metadata
(``ResNet18_Weights.IMAGENET1K_V1.meta["categories"]``), so reading them downloads nothing. Every
ImageNet classifier here (torchvision's, EfficientNet-Lite0) uses this standard index order.

Source: Russakovsky et al. 2015, "ImageNet Large Scale Visual Recognition Challenge",
https://arxiv.org/abs/1409.0575; torchvision ``torchvision/models/_meta.py``.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

from playground.modalities.image.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

NUM_IMAGENET_CLASSES = 1000


@cache
def _categories() -> tuple[str, ...]:
    names = categories_from_source() or _categories_from_weights()
    if len(names) != NUM_IMAGENET_CLASSES:  # a torchvision change we would want to hear about
        raise ValueError(f"expected {NUM_IMAGENET_CLASSES} ImageNet categories, got {len(names)}")
    return names


def categories_from_source() -> tuple[str, ...] | None:
    """The list ``_IMAGENET_CATEGORIES`` read from torchvision's ``models/_meta.py`` as data, without
    importing torchvision (``None`` if the file or the list is not found).

    The same list the weights' ``meta["categories"]`` hold, but ``import torchvision`` takes about
    1 s on 2 cores (its ops pull in ``torch._dynamo``), and the app needs the names for its default
    model before its first page is drawn. ``ast.literal_eval`` evaluates literals only.
    """
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "_meta.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_IMAGENET_CATEGORIES" for t in node.targets):
            try:
                return tuple(str(c) for c in ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def _categories_from_weights() -> tuple[str, ...]:
    from torchvision.models import ResNet18_Weights

    return tuple(str(c) for c in ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def imagenet_categories() -> list[str]:
    """The 1,000 ImageNet-1k class names, index-aligned with an ImageNet classifier's logits.

    Returns:
        A new list of 1,000 strings (e.g. index 281 is ``"tabby"``); the underlying tuple is cached.
    """
    return list(_categories())


def imagenet_preprocessing(
    in_channels: int,
    image_size: int = 224,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    resize_size: int = 256,
    crop_size: int = 224,
) -> Preprocessing:
    """The ImageNet evaluation recipe: resize the shorter side, center-crop, normalize.

    The resize keeps the recipe's ratio (256 / 224 by default) at any ``image_size``. With
    ``in_channels == 1`` the RGB statistics are averaged into one gray channel, which matches a stem
    whose RGB kernels were summed (:func:`playground.models.adapt.replace_stem`).

    Args:
        in_channels: 1 or 3.
        image_size: crop side in pixels.
        mean: RGB mean on the ``[0, 1]`` pixel scale (3 values).
        std: RGB standard deviation on the ``[0, 1]`` pixel scale (3 values).
        resize_size: shorter side before the crop, at ``crop_size``.
        crop_size: the crop side the recipe was written for.

    Returns:
        A :class:`~playground.modalities.image.preprocessing.Preprocessing` with ``resize`` set.

    Raises:
        ValueError: if ``mean`` / ``std`` do not have 3 values or the sizes are invalid.
    """
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"expected RGB mean and std with 3 values each, got {len(mean)} and {len(std)}")
    if crop_size < 1 or resize_size < crop_size:
        raise ValueError(f"expected 1 <= crop_size <= resize_size, got crop {crop_size}, resize {resize_size}")
    if in_channels == 1:
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    resize = max(image_size, round(image_size * resize_size / crop_size))
    return Preprocessing(image_size, in_channels, tuple(mean), tuple(std), resize=resize)
