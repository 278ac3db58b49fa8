"""Resize, center-crop and channel conversion of image tensors, equal to torchvision ``transforms.v2``.

Written by hand, on purpose: every image prediction needs these three steps, and ``import
torchvision`` costs ~0.9 s of a 3.1 s ``python -m playground predict`` on 2 CPU cores (its ops
import ``torch._dynamo``; pytorch/vision#8436). Each function is the few lines of the torchvision
kernel it replaces, in the same order of operations, so the results are equal bit for bit:
``tests/unit/test_preprocessing.py`` compares them with torchvision's own on random images of
random sizes and dtypes. Training augmentation and the perturbations still use torchvision.

Sources: ``torchvision/transforms/v2/functional/_geometry.py`` (``resize_image``,
``_compute_resized_output_size``, ``center_crop_image``) and ``_color.py``
(``_rgb_to_grayscale_image``), torchvision 0.26.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """A decoded ``"L"`` or ``"RGB"`` PIL image as ``(C, H, W)`` uint8 in ``[0, 255]`` (C = 1 or 3).

    Raises:
        ValueError: for any other mode (decode with ``playground.modalities.image.decode`` first).
    """
    if image.mode not in ("L", "RGB"):
        raise ValueError(f"expected a PIL image in mode L or RGB, got {image.mode}")
    array = np.array(image, copy=True)  # (H, W) or (H, W, 3) uint8
    if array.ndim == 2:
        array = array[:, :, None]  # (H, W) -> (H, W, 1)
    return torch.from_numpy(array).permute(2, 0, 1)  # (H, W, C) -> (C, H, W)


def to_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert ``(..., C', H, W)`` images to ``channels`` (1 or 3) channels, keeping the dtype.

    RGB to grey is ITU-R 601-2 luma (0.2989 R + 0.587 G + 0.114 B), truncated for integer dtypes;
    grey to RGB repeats the channel. Equal to torchvision's ``v2.Grayscale`` / ``v2.RGB``.
    """
    if images.shape[-3] == channels:
        return images
    if channels == 3:  # (..., 1, H, W) -> (..., 3, H, W)
        repeats = [1] * images.ndim
        repeats[-3] = 3
        return images.repeat(repeats)
    r, g, b = images.unbind(dim=-3)
    luma = r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114)
    return luma.unsqueeze(dim=-3).to(images.dtype)  # (..., H, W) -> (..., 1, H, W)


def shorter_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """The ``(height, width)`` that brings the shorter side to ``size`` pixels, keeping the aspect ratio.

    The longer side is truncated, as torchvision's ``Resize(size: int)`` does.
    """
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    return (new_long, size) if width <= height else (size, new_long)


def resize(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize with antialiasing of ``(..., C, H, W)`` images to ``(..., C, height, width)``.

    uint8 on a CPU with AVX2 is resized natively (as torchvision does); other integer inputs go
    through float32 and are rounded back. Floats stay floats (no clamping).
    """
    *batch, channels, old_height, old_width = images.shape
    if (old_height, old_width) == (height, width):
        return images
    if images.numel() == 0:
        return images.new_empty((*batch, channels, height, width))
    x = images.reshape(-1, channels, old_height, old_width)  # (..., C, H, W) -> (N, C, H, W)
    native = x.dtype in (torch.float32, torch.float64) or (
        x.dtype == torch.uint8
        and x.device.type == "cpu"
        and torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
    )
    numel = x.numel()
    if x.shape[0] == 1 and x.is_contiguous(memory_format=torch.channels_last) and x.stride()[0] != numel:
        # One channels-last image (a PIL image as a tensor is one): give it the batch stride of a
        # channels-last batch, or interpolate() allocates a contiguous output and repacks it
        # (pytorch/pytorch#68430). torchvision's resize_image does the same, step for step.
        x = x.as_strided((1, channels, old_height, old_width), (numel, *x.stride()[1:]))
    dtype = x.dtype
    if not native:
        x = x.to(torch.float32)
    x = torch.nn.functional.interpolate(x, size=[height, width], mode="bilinear", align_corners=False, antialias=True)
    if not native:
        if not dtype.is_floating_point:
            x = x.round_()
        x = x.to(dtype)
    return x.reshape(*batch, channels, height, width)  # (N, C, h, w) -> (..., C, h, w)


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """The center ``size × size`` square of ``(..., C, H, W)`` images with ``H, W >= size``.

    Raises:
        ValueError: if the image is smaller than the crop (never the case after ``shorter_side_size``).
    """
    height, width = images.shape[-2:]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} from a {height}x{width} image")
    top = round((height - size) / 2.0)  # Python rounds halves to even, as torchvision does
    left = round((width - size) / 2.0)
    return images[..., top : top + size, left : left + size]
