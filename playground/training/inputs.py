"""Model inputs for one part of a split, built once before training: images, token ids or sequences.

* The datasets here are already tensors in memory (``(N, C, H, W)`` uint8). A ``DataLoader`` over a
  ``Dataset`` would call ``__getitem__`` once per sample and collate; slicing the tensor with a
  batch of indices is one operation, and much faster, so there is no ``DataLoader``.
* Resizing and channel conversion to the model's input (``Preprocessing.pixels_from_batch``) is
  done ONCE for the whole dataset when the result fits in :data:`PRECOMPUTE_LIMIT_BYTES`; without
  augmentation the normalization is folded in too, so a step is "index, forward, backward". On a
  GPU that data is kept on the GPU when it fits. Larger inputs are preprocessed batch by batch.
* Augmentation (:mod:`playground.training.augment`) acts on ``[0, 1]`` pixels before normalization.
* Every other modality is encoded once, up front, by its preprocessing's ``model_input``: text to
  ``(N, T)`` int64 ids padded with 0 to the longest text (at most ``max_length``), numeric
  sequences standardized, a plug-in's inputs as it says. A preprocessing with ``prepare`` /
  ``augmented_input`` (audio) is instead prepared once and encoded per batch, augmented afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

from playground.core.modality import MODALITIES
from playground.modalities.image.preprocessing import Preprocessing
from playground.training.augment import augment_batch
from playground.training.config import TrainConfig

if TYPE_CHECKING:
    from playground.bundle import Bundle

PRECOMPUTE_LIMIT_BYTES = 2 * 1024**3  # preprocess the whole set up front when it fits in 2 GiB of float32
PREPROCESS_CHUNK = 1024  # images per chunk when preprocessing up front (bounds peak memory)


def model_inputs(
    raw: Any, modality: str, bundle: Bundle, device: torch.device, *, augment: bool
) -> ImageInputs | EncodedInputs | PreparedInputs:
    """Model inputs for one part of a split, of whatever modality ``bundle`` takes.

    Args:
        raw: the part's raw inputs, as the dataset's ``take`` gives them.
        modality: the dataset's modality (``dataset.modality``).
        bundle: the model; its ``card.modality`` must be ``modality``.
        device: where the inputs go.
        augment: images only: keep ``[0, 1]`` pixels and normalize each batch after augmentation.

    Raises:
        ValueError: if the data's modality is not the model's (e.g. texts for an image model).
    """
    if modality != bundle.modality:
        raise ValueError(
            f"{bundle.title} takes {bundle.modality} input and cannot train on {modality} data; pick a matching model"
        )
    preprocessing = bundle.preprocessing
    if MODALITIES.get(modality).input_kind == "pixels" and isinstance(preprocessing, Preprocessing):
        return ImageInputs(raw, preprocessing, device, normalize=not augment)
    if augment and isinstance(preprocessing, Augmentable):
        return PreparedInputs(preprocessing.prepare(raw), preprocessing, device)
    return EncodedInputs(preprocessing.model_input(raw), device)  # (N, ...) encoded once


@runtime_checkable
class Augmentable(Protocol):
    """A preprocessing that augments per batch (audio): ``prepare`` once, then each batch is
    ``augmented_input`` (training) or ``encode`` (evaluation) of the prepared rows."""

    def prepare(self, inputs: Any) -> torch.Tensor: ...
    def encode(self, prepared: torch.Tensor) -> torch.Tensor: ...
    def augmented_input(self, prepared: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


class PreparedInputs:
    """Inputs prepared once (audio: clips at the model's rate and length), encoded per batch so
    that every batch is augmented afresh (``config.augment_audio``)."""

    def __init__(self, prepared: torch.Tensor, preprocessing: Augmentable, device: torch.device):
        self.preprocessing = preprocessing
        self.target_device = device
        self.data = prepared.to(device)  # (N, ...) e.g. (N, L) float32 waveforms
        self.device = self.data.device
        self.n = len(prepared)

    def batch(self, idx: torch.Tensor, *, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
        """The model inputs at indices ``idx``, augmented when ``config.augment_audio``."""
        x = self.data[idx]
        if config.augment_audio:
            return self.preprocessing.augmented_input(x, generator)
        return self.preprocessing.encode(x)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """The model inputs in order, ``batch_size`` at a time (no augmentation)."""
        for start in range(0, self.n, batch_size):
            yield self.preprocessing.encode(self.data[start : start + batch_size])


class EncodedInputs:
    """Model inputs already encoded up front (token ids or standardized sequences), no augmentation."""

    def __init__(self, data: torch.Tensor, device: torch.device):
        self.target_device = device
        self.data = data.to(device)  # (N, T) int64 or (N, T, F) float32: small enough to keep whole
        self.device = self.data.device
        self.n = len(data)

    def batch(self, idx: torch.Tensor, *, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
        """The inputs at indices ``idx``, on the target device."""
        return self.data[idx]

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """The inputs in order, ``batch_size`` at a time."""
        for start in range(0, self.n, batch_size):
            yield self.data[start : start + batch_size]


class ImageInputs:
    """Model inputs for one part of the split: preprocessed up front when it fits, else per batch.

    ``normalize=True`` stores normalized inputs (no augmentation); ``False`` stores ``[0, 1]``
    pixels and normalizes each batch after augmentation.
    """

    def __init__(self, images: torch.Tensor, preprocessing: Preprocessing, device: torch.device, *, normalize: bool):
        self.preprocessing = preprocessing
        self.target_device = device
        self.n = len(images)
        size = preprocessing.image_size
        nbytes = self.n * preprocessing.channels * size * size * 4  # float32
        self.precomputed = nbytes <= PRECOMPUTE_LIMIT_BYTES
        self.normalized = normalize and self.precomputed  # whether self.data is normalized already
        if self.precomputed:
            chunks = []
            for start in range(0, self.n, PREPROCESS_CHUNK):
                pixels = preprocessing.pixels_from_batch(images[start : start + PREPROCESS_CHUNK])
                chunks.append(preprocessing.normalize(pixels) if normalize else pixels)
            data = torch.cat(chunks)  # (N, C, S, S) float32
            # Keep it on the accelerator when it fits comfortably (a quarter of the free memory).
            if device.type == "cuda" and nbytes > torch.cuda.mem_get_info(device)[0] // 4:
                self.data = data.pin_memory()
            else:
                self.data = data.to(device)
        else:
            self.data = images  # (N, C', H', W') uint8 on the CPU; preprocessed per batch
        self.device = self.data.device

    def batch(self, idx: torch.Tensor, *, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
        """Normalized ``(B, C, S, S)`` float32 inputs on the target device for indices ``idx``."""
        if self.precomputed:
            x = self.data[idx].to(self.target_device, non_blocking=True)
        else:
            x = self.preprocessing.pixels_from_batch(self.data[idx.cpu()].to(self.target_device, non_blocking=True))
        if self.normalized:
            return x
        if config.augments:
            x = augment_batch(
                x,
                flip=config.augment_flip,
                crop=config.augment_crop,
                rotation=config.augment_rotation,
                generator=generator,
            )
        return self.preprocessing.normalize(x)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Normalized ``(B, C, S, S)`` inputs in order, ``batch_size`` at a time (no augmentation)."""
        for start in range(0, self.n, batch_size):
            x = self.data[start : start + batch_size].to(self.target_device, non_blocking=True)
            if not self.precomputed:
                x = self.preprocessing.pixels_from_batch(x)
            yield x if self.normalized else self.preprocessing.normalize(x)
