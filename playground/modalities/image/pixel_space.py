"""Raw-pixel view of an image model: normalization inside the model, inputs on the ``[0, 1]`` scale.

Attacks (:mod:`playground.robustness.attacks`) and pixel attributions (:mod:`playground.explain`)
both work on raw pixels (after resizing, before ``Normalize``), so a budget such as ``ε = 8/255``
or an attribution map means the same whatever ``mean``/``std`` the model was trained with.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from playground.modalities.image.preprocessing import Preprocessing


class ImageModelBundle(Protocol):
    """What :meth:`PixelSpaceModel.from_bundle` reads of a :class:`~playground.bundle.Bundle`."""

    model: nn.Module

    @property
    def image_preprocessing(self) -> Preprocessing: ...


class PixelSpaceModel(nn.Module):
    """A bundle's model with its normalization inside: raw ``[0, 1]`` pixels in, logits out.

    Gradients flow through the normalization, so an attack or an attribution computed on this
    module is expressed in raw pixel space.

    Args:
        model: maps normalized ``(B, C, H, W)`` float32 to ``(B, K)`` logits.
        preprocessing: the model's :class:`~playground.modalities.image.preprocessing.Preprocessing`; only its
            ``normalize`` runs here (resizing happens before, in ``pixels_from_batch``).

    Input ``(B, C, H, W)`` float32 in ``[0, 1]`` on the model's device; output ``(B, K)`` logits.
    """

    def __init__(self, model: nn.Module, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.model = model
        self.preprocessing = preprocessing

    @classmethod
    def from_bundle(cls, bundle: ImageModelBundle) -> PixelSpaceModel:
        """Wrap ``bundle.model`` with ``bundle.preprocessing`` (shares the module, copies nothing)."""
        return cls(bundle.model, bundle.image_preprocessing)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(self.preprocessing.normalize(pixels))
        return logits


def check_pixels(pixels: torch.Tensor, preprocessing: Preprocessing) -> None:
    """Check a raw pixel batch against a model's input specification.

    Args:
        pixels: expected ``(B, C, H, W)`` float in ``[0, 1]`` with ``C``, ``H = W`` those of
            ``preprocessing`` (use ``preprocessing.pixels_from_batch`` to get there).

    Raises:
        TypeError: if ``pixels`` is not a floating-point tensor.
        ValueError: on a wrong shape, an empty batch or values outside ``[0, 1]``.
    """
    if not isinstance(pixels, torch.Tensor) or not pixels.is_floating_point():
        raise TypeError(f"expected float pixels in [0, 1], got {type(pixels).__name__} {getattr(pixels, 'dtype', '')}")
    expected = (preprocessing.channels, preprocessing.image_size, preprocessing.image_size)
    if pixels.ndim != 4 or tuple(pixels.shape[1:]) != expected:
        raise ValueError(f"expected pixels of shape (B, {', '.join(map(str, expected))}), got {tuple(pixels.shape)}")
    if pixels.shape[0] == 0:
        raise ValueError("expected at least one image, got an empty batch")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"expected pixels in [0, 1] (before normalization), got values in [{low:.3g}, {high:.3g}]")
