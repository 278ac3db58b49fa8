"""Class predictions for images: probabilities, top-k and what the model sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image

if TYPE_CHECKING:
    from playground.bundle import Bundle


@dataclass(frozen=True)
class TopK:
    """One ranked class: ``label``, its ``index`` in the logits and its softmax ``probability``."""

    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image.

    Attributes:
        probs: ``(K,)`` float32 softmax probabilities, summing to 1.
        logits: ``(K,)`` float32 raw scores.
        top_k: the ``k`` most probable classes, most probable first.
        pixels: ``(C, H, W)`` float32 in ``[0, 1]``: the input after resizing/cropping, before
            normalization ("what the model sees").
    """

    probs: torch.Tensor
    logits: torch.Tensor
    top_k: list[TopK]
    pixels: torch.Tensor


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameter-free model)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@torch.no_grad()
def predict_pixels(bundle: Bundle, pixels: torch.Tensor, top_k: int = 5) -> list[Prediction]:
    """Classify images that are already model-sized pixels (e.g. after a perturbation).

    Args:
        bundle: the model to ask.
        pixels: ``(B, C, H, W)`` float32 in ``[0, 1]`` at the model's input size, before normalization.
        top_k: how many classes to rank, clipped to the number of classes.

    Returns:
        One :class:`Prediction` per image, in order.

    Raises:
        ValueError: if ``pixels`` is empty or not 4-D, or ``top_k < 1``.
    """
    if pixels.ndim != 4 or pixels.shape[0] == 0:
        raise ValueError(f"expected a non-empty (B, C, H, W) batch, got shape {tuple(pixels.shape)}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    model = bundle.model.eval()
    logits = model(bundle.preprocessing.normalize(pixels).to(model_device(model))).float().cpu()  # (B, K)
    probs = logits.softmax(dim=-1)
    k = min(top_k, probs.shape[-1])
    values, indices = probs.topk(k, dim=-1)
    out = []
    for i in range(pixels.shape[0]):
        ranked = [TopK(bundle.labels[int(j)], int(j), float(p)) for p, j in zip(values[i], indices[i], strict=True)]
        out.append(Prediction(probs[i], logits[i], ranked, pixels[i].detach().cpu()))
    return out


def predict_images(bundle: Bundle, images: list[Image.Image], top_k: int = 5) -> list[Prediction]:
    """Classify decoded images with the bundle's own preprocessing.

    Args:
        bundle: the model to ask.
        images: PIL images in mode ``"L"`` or ``"RGB"`` (see :func:`playground.imageio.decode_image`).
        top_k: how many classes to rank, clipped to the number of classes.

    Returns:
        One :class:`Prediction` per image, in order.

    Raises:
        ValueError: if ``images`` is empty or ``top_k < 1``.
    """
    if not images:
        raise ValueError("expected at least one image, got none")
    pixels = torch.stack([bundle.preprocessing.pixels_from_pil(im) for im in images])  # (B, C, H, W)
    return predict_pixels(bundle, pixels, top_k)


def predict_image(bundle: Bundle, image: Image.Image, top_k: int = 5) -> Prediction:
    """:func:`predict_images` for one image."""
    return predict_images(bundle, [image], top_k)[0]
