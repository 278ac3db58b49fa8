"""The image modality's registry entry: pixels in, normalized inside the explained function."""

from __future__ import annotations

import torch

from playground.core.modality import ExplainHooks, ModalitySpec, register_modality
from playground.modalities.image.decode import decode_image
from playground.modalities.image.geometry import pil_to_tensor
from playground.modalities.image.preprocessing import Preprocessing


def read_images(data: bytes, filename: str) -> torch.Tensor:
    """An image file as a batch of one: ``(1, C, H, W)`` uint8 (C = 1 or 3).

    Raises:
        ValueError: (``ImageDecodeError``) empty, corrupt, huge or non-image files.
    """
    return pil_to_tensor(decode_image(data, filename)).unsqueeze(0)  # (C, H, W) -> (1, C, H, W)


IMAGE = register_modality(
    ModalitySpec(
        name="image",
        description="images: (C, H, W) pixels, resized and normalized by the model's preprocessing",
        input_kind="pixels",
        preprocessing=Preprocessing,
        # Size and normalization belong to the architecture (and its pretrained weights), so
        # nothing is fitted on the data: training/setup.py builds image bundles from the model entry.
        fit_preprocessing=None,
        read_inputs=read_images,
        explain=ExplainHooks(input_shape="(C, H, W)"),
    )
)
