"""Feature groups for the perturbation methods: superpixels, tokens, chunks of time steps.

Feature ablation, LIME and Kernel SHAP switch whole groups of input values on and off. For images
the groups are superpixels: SLIC (Achanta et al. 2012, "SLIC Superpixels Compared to
State-of-the-Art Superpixel Methods", https://doi.org/10.1109/TPAMI.2012.120) through
``skimage.segmentation.slic`` (scikit-image is a requirement), or a square grid on request: the
grid gives the same groups for every image, which makes results easy to compare between images,
and it is the fallback where scikit-image is missing. Text uses one group per token; numeric
sequences use chunks of consecutive time steps.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import torch

from playground.explain.base import Segmentation
from playground.explain.errors import MethodNotSupportedError


def slic_available() -> bool:
    """Whether scikit-image (for SLIC superpixels) is installed."""
    return importlib.util.find_spec("skimage") is not None


def grid_segments(height: int, width: int, n_segments: int) -> torch.Tensor:
    """A grid of about ``n_segments`` near-square cells.

    Returns:
        ``(H, W)`` int64 labels ``0 .. rows*cols - 1``, row-major.
    """
    rows = max(1, min(height, round(math.sqrt(n_segments * height / width))))
    cols = max(1, min(width, round(n_segments / rows)))
    r = torch.arange(height) * rows // height  # (H,)
    c = torch.arange(width) * cols // width  # (W,)
    return r[:, None] * cols + c[None, :]  # (H, W)


def slic_segments(pixels: torch.Tensor, n_segments: int) -> torch.Tensor:
    """SLIC superpixels of ``(C, H, W)`` pixels in [0, 1] (compactness 10, scikit-image's default).

    Returns:
        ``(H, W)`` int64 labels ``0 .. S-1`` (consecutive).

    Raises:
        MethodNotSupportedError: if scikit-image is not installed.
    """
    if not slic_available():
        raise MethodNotSupportedError(
            "SLIC superpixels need scikit-image, which is not installed here; use segmentation='grid'"
        )
    from skimage.segmentation import slic

    image = pixels.detach().permute(1, 2, 0).cpu().double().numpy()  # (H, W, C)
    labels = slic(image, n_segments=n_segments, compactness=10.0, start_label=0, channel_axis=-1)
    _, consecutive = np.unique(labels, return_inverse=True)
    return torch.from_numpy(consecutive.reshape(labels.shape).astype(np.int64))


def image_segments(pixels: torch.Tensor, n_segments: int, method: Segmentation = "auto") -> tuple[torch.Tensor, str]:
    """Superpixels of one image.

    Args:
        pixels: ``(C, H, W)`` float32 in [0, 1].
        n_segments: about how many groups.
        method: ``"slic"``, ``"grid"`` or ``"auto"`` (SLIC if scikit-image is installed, else grid).

    Returns:
        ``(labels (H, W) int64, the method used)``.
    """
    if method == "slic" or (method == "auto" and slic_available()):
        return slic_segments(pixels, n_segments), "slic"
    return grid_segments(pixels.shape[-2], pixels.shape[-1], n_segments), "grid"


def step_segments(steps: int, n_segments: int) -> torch.Tensor:
    """``(T,)`` int64 labels of ``min(T, n_segments)`` chunks of consecutive steps."""
    chunks = max(1, min(steps, n_segments))
    return torch.arange(steps) * chunks // steps


def patch_segments(rows: int, columns: int, n_segments: int) -> torch.Tensor:
    """A grid of about ``n_segments`` patches over a ``(rows, columns)`` plane whose two axes are not
    the same unit (frequency bands x time frames of an audio input): about ``sqrt(n_segments)``
    divisions along each axis (fewer where an axis is shorter), not square cells.

    Returns:
        ``(rows, columns)`` int64 labels ``0 .. r*c - 1``, row-major (40 bands x 101 frames with
        ``n_segments=100``: 10 x 10 patches of 4 bands x ~10 frames).
    """
    down = max(1, min(rows, round(math.sqrt(n_segments))))
    across = max(1, min(columns, round(n_segments / down)))
    r = torch.arange(rows) * down // rows  # (rows,)
    c = torch.arange(columns) * across // columns  # (columns,)
    return r[:, None] * across + c[None, :]  # (rows, columns)
