"""Statistics of a dataset for a page's summary line: its size, shape, text lengths and clip durations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from playground.data.audio import AudioDataset
from playground.data.base import AnyDataset, ImageDataset, SequenceDataset, TextDataset


@dataclass(frozen=True)
class DatasetStats:
    """What a dataset holds, in numbers.

    Attributes:
        kind: ``"images"``, ``"texts"``, ``"sequences"`` or ``"clips"``.
        size: number of examples N.
        num_classes: number of classes K.
        channels: image channels C (images only, else 0).
        image_size: ``(H, W)`` in pixels (images only, else ``(0, 0)``).
        median_words: median whitespace-separated words per text (texts only, else 0).
        median_chars: median characters per text (texts only, else 0).
        longest_chars: characters of the longest text (texts only, else 0).
        length: time steps T per sequence (sequences only, else 0).
        num_features: features F per time step (sequences only, else 0).
        sample_rate: Hz (audio only, else 0).
        median_seconds: median clip duration in seconds (audio only, else 0).
        longest_seconds: the longest clip in seconds (audio only, else 0).
    """

    kind: str
    size: int
    num_classes: int
    channels: int = 0
    image_size: tuple[int, int] = (0, 0)
    median_words: int = 0
    median_chars: int = 0
    longest_chars: int = 0
    length: int = 0
    num_features: int = 0
    sample_rate: int = 0
    median_seconds: float = 0.0
    longest_seconds: float = 0.0

    def summary(self) -> str:
        """One line, e.g. ``"**5,000 images** · 1 channel(s) · 28×28 px · 10 classes"`` (Markdown)."""
        if self.kind == "images":
            return (
                f"**{self.size:,} images** · {self.channels} channel(s) · "
                f"{self.image_size[0]}×{self.image_size[1]} px · {self.num_classes} classes"
            )
        if self.kind == "texts":
            return (
                f"**{self.size:,} texts** · {self.num_classes} classes · median {self.median_words:,} "
                f"word{'' if self.median_words == 1 else 's'} ({self.median_chars:,} characters), "
                f"longest {self.longest_chars:,} characters"
            )
        if self.kind == "clips":
            return (
                f"**{self.size:,} clips** · {self.sample_rate:,} Hz · median {self.median_seconds:.2f} s, "
                f"longest {self.longest_seconds:.2f} s · {self.num_classes} classes"
            )
        return (
            f"**{self.size:,} sequences** of T = {self.length} steps × F = {self.num_features} "
            f"features · {self.num_classes} classes"
        )


def dataset_stats(dataset: AnyDataset) -> DatasetStats:
    """Size, classes and the shape facts of ``dataset``'s kind (median lengths for texts, ``int`` of ``np.median``).

    Raises:
        TypeError: if ``dataset`` is not an image, text or sequence dataset.
    """
    if not isinstance(dataset, ImageDataset | TextDataset | SequenceDataset | AudioDataset):
        raise TypeError(f"expected an image, text, sequence or audio dataset, got {type(dataset).__name__}")
    size, num_classes = len(dataset), len(dataset.classes)
    if isinstance(dataset, AudioDataset):
        seconds = dataset.clips.durations_s()
        return DatasetStats(
            "clips",
            size,
            num_classes,
            sample_rate=dataset.sample_rate,
            median_seconds=float(seconds.median()),
            longest_seconds=float(seconds.max()),
        )
    if isinstance(dataset, ImageDataset):
        return DatasetStats("images", size, num_classes, channels=dataset.channels, image_size=dataset.image_size)
    if isinstance(dataset, TextDataset):
        chars = np.array([len(t) for t in dataset.texts])
        words = np.array([len(t.split()) for t in dataset.texts])
        return DatasetStats(
            "texts",
            size,
            num_classes,
            median_words=int(np.median(words)),
            median_chars=int(np.median(chars)),
            longest_chars=int(chars.max()),
        )
    return DatasetStats("sequences", size, num_classes, length=dataset.length, num_features=dataset.num_features)


def example_indices(dataset: AnyDataset, k: int = 12, seed: int = 0) -> list[int]:
    """Up to ``k`` distinct example indices drawn with ``np.random.default_rng(seed)`` (the same every call)."""
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(len(dataset), size=min(k, len(dataset)), replace=False)]
