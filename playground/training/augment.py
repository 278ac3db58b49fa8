"""Data augmentation on a pixel batch, with a fresh random draw for every sample.

Augmentation acts on ``(B, C, H, W)`` float pixels in ``[0, 1]``, *before* normalization, so that
padding and rotation fill with black (0) whatever the model's mean and std are.

Why not ``v2.RandomHorizontalFlip()(batch)`` and friends: a torchvision ``transforms.v2`` transform
called on a batch tensor draws its random parameters ONCE for the whole batch (every image flipped,
or none; the same crop offset for all). Calling it per sample gives per-sample draws but costs a
Python loop per image (about 15 ms per 64-image batch for rotation here, more than a LeNet step).
So the random parameters are drawn per sample here, and the geometric work is vectorized:

* flip: torchvision's ``v2.functional.horizontal_flip`` on the whole batch, kept where a per-sample
  coin says so (``torch.where``);
* crop: torchvision's ``v2.functional.pad`` (zeros), then one batched gather of a random window
  per sample (the "pad 4, random 32x32 crop" recipe of He et al. 2015,
  https://arxiv.org/abs/1512.03385);
* rotation: one ``affine_grid`` + ``grid_sample`` call with a per-sample rotation matrix; this is
  what ``v2.functional.rotate`` does for a tensor (bilinear, about the image centre,
  counter-clockwise for positive angles, zero fill) — the unit tests check both agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def crop_padding(image_size: int) -> int:
    """Padding used by the random crop: ``max(1, round(image_size / 8))`` (4 for 28-32 px)."""
    return max(1, round(image_size / 8))


def augment_batch(
    pixels: torch.Tensor,
    *,
    flip: bool = False,
    crop: bool = False,
    rotation: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Randomly flip, crop and rotate each image of a batch independently.

    The order is flip, crop, rotation. Random numbers come from ``generator`` (a CPU
    ``torch.Generator``; ``None``: the global RNG), so a seeded generator gives the same output.

    Args:
        pixels: ``(B, C, H, W)`` float pixels in ``[0, 1]`` (before normalization), on any device.
        flip: flip each image left-right with probability 0.5.
        crop: pad by :func:`crop_padding` pixels of zeros and crop a random ``H x W`` window.
        rotation: rotate by an angle uniform in ``[-rotation, +rotation]`` degrees; 0: off.
        generator: CPU random generator for the per-sample draws.

    Returns:
        ``(B, C, H, W)``, same dtype and device, values in ``[0, 1]``. A new tensor; ``pixels`` is
        not modified.

    Raises:
        ValueError: if ``pixels`` is not a 4-D floating-point tensor or ``rotation`` is negative.
    """
    if pixels.ndim != 4 or not pixels.is_floating_point():
        raise ValueError(f"expected a (B, C, H, W) float batch, got shape {tuple(pixels.shape)} {pixels.dtype}")
    if not math.isfinite(rotation) or rotation < 0:
        raise ValueError(f"rotation must be a non-negative number of degrees, got {rotation}")
    x = pixels
    b, _, h, w = x.shape
    if flip:
        from torchvision.transforms.v2 import functional as TF  # imported when used: ~1 s (see idx.torchvision_dataset)

        coin = torch.rand(b, generator=generator) < 0.5  # (B,)
        x = torch.where(coin.to(x.device).view(b, 1, 1, 1), TF.horizontal_flip(x), x)
    if crop:
        x = _random_crop(x, crop_padding(min(h, w)), generator)
    if rotation > 0:
        angles = (torch.rand(b, generator=generator) * 2 - 1) * rotation  # (B,) degrees
        x = rotate_batch(x, angles.to(x.device))
    return x if x is not pixels else x.clone()


def _random_crop(x: torch.Tensor, pad: int, generator: torch.Generator | None) -> torch.Tensor:
    b, c, h, w = x.shape
    from torchvision.transforms.v2 import functional as TF  # imported when used

    padded = TF.pad(x, [pad], fill=0.0)  # (B, C, H + 2p, W + 2p)
    top = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)  # (B,)
    left = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)  # (B,)
    rows = top[:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = left[:, None] + torch.arange(w, device=x.device)  # (B, W)
    bi = torch.arange(b, device=x.device).view(b, 1, 1, 1)
    ci = torch.arange(c, device=x.device).view(1, c, 1, 1)
    # Advanced indexing broadcasts the four index tensors to (B, C, H, W): one gather per batch.
    return padded[bi, ci, rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


def rotate_batch(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre by its own angle (bilinear, zero fill).

    Matches ``torchvision.transforms.v2.functional.rotate(image, angle)`` (counter-clockwise for
    positive angles) per image, in one ``grid_sample`` call.

    Args:
        x: ``(B, C, H, W)`` float.
        angles: ``(B,)`` degrees, on ``x``'s device.

    Returns:
        ``(B, C, H, W)``, same dtype; pixels rotated in from outside the image are 0.
    """
    b = x.shape[0]
    rad = torch.deg2rad(angles.to(torch.float32))
    cos, sin, zero = torch.cos(rad), torch.sin(rad), torch.zeros_like(rad)
    # Sampling grid maps output coords to input coords: the inverse rotation in grid_sample's
    # y-down normalized space, which is [[cos, -sin], [sin, cos]].
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), [b, *x.shape[1:]], align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
