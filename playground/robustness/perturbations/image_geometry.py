"""Geometric image corruptions: rotation, translation, scale and occlusion, each with a severity 0–5.

The same contract as :mod:`playground.robustness.perturbations.image` (``(B, C, H, W)`` float pixels
in ``[0, 1]``, a level, a CPU generator; an exact copy at the identity level). Translation and
occlusion are fractions of the image side, so one severity looks alike at 28 px and 224 px.
Importing this module imports :mod:`~playground.robustness.perturbations.image` first, so these
register after the noise, blur, colour and compression entries.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from playground.robustness.perturbations.base import register_perturbation
from playground.robustness.perturbations.image import _check_pixels, _uniform

OCCLUSION_FILL = 0.5  # mid-grey: visible on black (MNIST) and on bright backgrounds alike


@register_perturbation(
    "rotation",
    modality="image",
    unit="rotation angle in degrees (direction random per image)",
    levels=(0.0, 8.0, 15.0, 25.0, 35.0, 45.0),
    description="Rotates each image about its centre, clockwise or anticlockwise; corners fill with black.",
)
def rotation(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each image by ``±level`` degrees (sign drawn per image), bilinear, black fill.

    Uses torchvision ``rotate``; images that turn the same way are rotated in one call.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: angle in degrees, in ``[0, 180]``; 0 is the identity.
        generator: draws the direction of each image.

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or an angle outside ``[0, 180]``.
    """
    _check_pixels(pixels)
    if not 0.0 <= level <= 180.0:
        raise ValueError(f"expected an angle in [0, 180] degrees, got {level}")
    if level == 0:
        return pixels.clone()
    anticlockwise = (_uniform(generator, pixels.shape[0]) < 0.5).to(pixels.device)  # (B,)
    out = torch.empty_like(pixels)
    for mask, angle in ((anticlockwise, level), (~anticlockwise, -level)):
        if mask.any():
            out[mask] = TF.rotate(pixels[mask], angle, interpolation=InterpolationMode.BILINEAR)
    return out.clamp(0.0, 1.0)


@register_perturbation(
    "translation",
    modality="image",
    unit="shift as a fraction of the image side (direction random per image)",
    levels=(0.0, 0.025, 0.05, 0.075, 0.1, 0.14),
    description="Shifts each image in a random direction; the uncovered border fills with black.",
)
def translation(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by ``level · (W cos φ, H sin φ)`` pixels, φ uniform per image.

    Bilinear, so sub-pixel shifts blend; the uncovered border is black. torchvision's ``affine``
    takes one shift per call, so a direction per image would need one call per image (6× slower
    on batches of 100 MNIST digits, measured); instead the per-image sampling grid is built here and sampled
    with ``grid_sample``, the same bilinear resampling ``affine`` does (the tests check they agree).

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: shift as a fraction of the side, in ``[0, 1]``; 0 is the identity.
        generator: draws the direction φ of each image.

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a fraction outside ``[0, 1]``.
    """
    _check_pixels(pixels)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"expected a fraction in [0, 1], got {level}")
    if level == 0:
        return pixels.clone()
    b = pixels.shape[0]
    phi = 2 * math.pi * _uniform(generator, b).to(torch.float64)  # (B,) directions
    # Output pixel p samples the input at p - shift; one pixel is 2 / side in grid_sample's [-1, 1] units.
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)  # (B, 2, 3) affine maps, output -> input
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = -2 * level * torch.cos(phi)  # -(level · W cos φ) · 2 / W
    theta[:, 1, 2] = -2 * level * torch.sin(phi)  # -(level · H sin φ) · 2 / H
    theta = theta.to(device=pixels.device, dtype=pixels.dtype)
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp(0.0, 1.0)


@register_perturbation(
    "scale",
    modality="image",
    unit="zoom factor (1 = original, 0.5 = half size)",
    levels=(1.0, 0.93, 0.86, 0.79, 0.72, 0.65),
    description="Shrinks the image about its centre (the object seen from further away); the border fills with black.",
)
def scale(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Zoom each image by ``level`` about its centre (torchvision ``affine``, bilinear, black fill).

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: zoom factor > 0 (< 1 shrinks, > 1 zooms in and crops); 1 is the identity.
        generator: unused (deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a factor <= 0.
    """
    _check_pixels(pixels)
    if level <= 0:
        raise ValueError(f"expected a zoom factor > 0, got {level}")
    if level == 1.0:
        return pixels.clone()
    out = TF.affine(
        pixels, angle=0.0, translate=[0.0, 0.0], scale=level, shear=[0.0, 0.0], interpolation=InterpolationMode.BILINEAR
    )
    return out.clamp(0.0, 1.0)


@register_perturbation(
    "occlusion",
    modality="image",
    unit="side of a grey square patch as a fraction of the image side (position random per image)",
    levels=(0.0, 0.15, 0.25, 0.35, 0.45, 0.55),
    description="Covers a random part of each image with a mid-grey square (a sticker, a finger on the lens).",
)
def occlusion(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Paint a mid-grey (0.5) square of side ``round(level · H) × round(level · W)`` at a random place.

    The top-left corner is uniform over the positions where the patch fits, drawn per image. With
    one seed the patches of different levels overlap (they share the uniform draws). Done with one
    broadcast mask rather than torchvision's ``erase``, which takes one position per call.
    Source: occlusion sensitivity, Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: patch side as a fraction of the image side, in ``[0, 1]``; 0 is the identity.
        generator: draws each patch's position.

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a fraction outside ``[0, 1]``.
    """
    _check_pixels(pixels)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"expected a fraction in [0, 1], got {level}")
    if level == 0:
        return pixels.clone()
    b, _, h, w = pixels.shape
    ph, pw = max(1, round(level * h)), max(1, round(level * w))
    u = _uniform(generator, b, 2)  # (B, 2) uniform draws for (top, left)
    top = (u[:, 0] * (h - ph + 1)).floor().long().clamp(max=h - ph).to(pixels.device)  # (B,)
    left = (u[:, 1] * (w - pw + 1)).floor().long().clamp(max=w - pw).to(pixels.device)  # (B,)
    rows = torch.arange(h, device=pixels.device).view(1, h)  # (1, H)
    cols = torch.arange(w, device=pixels.device).view(1, w)  # (1, W)
    in_rows = (rows >= top.view(b, 1)) & (rows < (top + ph).view(b, 1))  # (B, H)
    in_cols = (cols >= left.view(b, 1)) & (cols < (left + pw).view(b, 1))  # (B, W)
    mask = (in_rows.view(b, 1, h, 1) & in_cols.view(b, 1, 1, w)).expand_as(pixels)  # (B, C, H, W)
    return pixels.masked_fill(mask, OCCLUSION_FILL).clamp(0.0, 1.0)
