"""What a model expects of an image, and how to get there and back.

A model's input passes two stages, kept apart on purpose:

1. *pixels*: decode, resize / center-crop to the model's size and convert the channel count.
   Result: ``(C, H, W)`` float32 in ``[0, 1]``. This is the space where people look at images,
   where perturbations act and where an adversarial budget ε is measured.
2. *normalize*: ``(pixels - mean) / std``, per channel. Result: what ``model.forward`` takes.

``denormalize`` inverts stage 2, so a page can show "what the model sees".
The steps equal torchvision ``transforms.v2``'s ``Resize`` / ``CenterCrop`` / ``Grayscale`` / ``RGB``
bit for bit but do not import torchvision (``geometry``); they work on a PIL image or on a
``(B, C, H, W)`` tensor batch alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image

from playground.modalities.image import geometry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Input specification of an image model.

    Attributes:
        image_size: side of the square input, in pixels (H = W = image_size).
        channels: 1 (grayscale) or 3 (RGB).
        mean: per-channel mean subtracted after scaling to ``[0, 1]``; length ``channels``.
        std: per-channel standard deviation divided by; length ``channels``.
        resize: if set, the shorter side is first resized to this many pixels and the center
            ``image_size`` square is cropped (the ImageNet "resize 256, crop 224" recipe);
            if ``None`` the image is resized straight to ``image_size x image_size``.
    """

    image_size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: int | None = None

    kind = "image"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.image_size < 1:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need {self.channels} values each, got {len(self.mean)} and {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if self.resize is not None and self.resize < self.image_size:
            raise ValueError(f"resize ({self.resize}) must be at least image_size ({self.image_size})")

    # -- stage 1: pixels -------------------------------------------------------------------
    def _geometry(self, images: torch.Tensor) -> torch.Tensor:
        """Resize (and center-crop) ``(..., C, H, W)`` images to ``(..., C, image_size, image_size)``."""
        if self.resize is None:
            return geometry.resize(images, self.image_size, self.image_size)
        height, width = geometry.shorter_side_size(images.shape[-2], images.shape[-1], self.resize)
        return geometry.center_crop(geometry.resize(images, height, width), self.image_size)

    def pixels_from_pil(self, image: Image.Image) -> torch.Tensor:
        """Resize, crop and convert a decoded image.

        Args:
            image: a PIL image in mode ``"L"`` or ``"RGB"`` (see ``playground.modalities.image.decode``).

        Returns:
            ``(C, H, W)`` float32 in ``[0, 1]``.
        """
        pixels = self._geometry(geometry.to_channels(geometry.pil_to_tensor(image), self.channels))  # uint8
        return pixels.to(torch.float32).mul_(1.0 / 255)  # as v2.ToDtype(torch.float32, scale=True)

    def pixels_from_batch(self, images: torch.Tensor) -> torch.Tensor:
        """The same as :meth:`pixels_from_pil` for a tensor batch.

        Args:
            images: ``(B, C', H', W')`` uint8 in ``[0, 255]`` or float in ``[0, 1]``, C' in {1, 3}.

        Returns:
            ``(B, C, H, W)`` float32 in ``[0, 1]``.

        Raises:
            ValueError: if ``images`` is not 4-D with 1 or 3 channels.
        """
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected a (B, 1|3, H, W) batch, got shape {tuple(images.shape)}")
        x = images.to(torch.float32) / 255.0 if images.dtype == torch.uint8 else images.to(torch.float32)
        x = self._geometry(geometry.to_channels(x, self.channels))
        return x.clamp(0.0, 1.0)

    # -- stage 2: normalize ----------------------------------------------------------------
    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (-1, 1, 1)  # broadcast over (.., C, H, W)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return mean, std

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(pixels - mean) / std``; ``(..., C, H, W)`` in, same shape out."""
        mean, std = self._stats(pixels)
        return (pixels - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize`, clamped to ``[0, 1]``; ``(..., C, H, W)`` in and out."""
        mean, std = self._stats(x)
        return (x * std + mean).clamp(0.0, 1.0)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> normalized ``(C, H, W)`` float32 model input."""
        return self.normalize(self.pixels_from_pil(image))

    def model_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, C', H', W')`` uint8 images (a dataset part) -> normalized ``(B, C, H, W)`` float32."""
        return self.normalize(self.pixels_from_batch(inputs))

    def example_input(self) -> tuple[int, ...]:
        """The shape ``(1, C, S, S)`` of one model input (the layer table runs zeros of it)."""
        return (1, self.channels, self.image_size, self.image_size)

    def model_sizes(self) -> dict[str, Any]:
        """The builder's size arguments: ``{"in_channels": C, "image_size": S}``."""
        return {"in_channels": self.channels, "image_size": self.image_size}

    # -- (de)serialisation for card.json ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def files(self) -> dict[str, bytes]:
        """Extra files saved beside ``card.json``: none for images."""
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes] | None = None) -> Preprocessing:
        """Rebuild from :meth:`to_dict` output (``files`` is accepted for symmetry and unused).

        Raises:
            ValueError: if a field is missing or has the wrong type.
        """
        try:
            return cls(
                image_size=int(data["image_size"]),
                channels=int(data["channels"]),
                mean=tuple(float(v) for v in data["mean"]),
                std=tuple(float(v) for v in data["std"]),
                resize=None if data.get("resize") is None else int(data["resize"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"invalid preprocessing entry in card.json: {exc}") from exc


def simple_preprocessing(image_size: int, channels: int) -> Preprocessing:
    """Mean 0.5 / std 0.5 per channel: maps ``[0, 1]`` pixels to ``[-1, 1]``; for models trained here."""
    return Preprocessing(image_size, channels, (0.5,) * channels, (0.5,) * channels)
