"""The in-memory audio classification dataset that audio loaders return (e.g. ``fsdd``).

Clips stay raw: :class:`~playground.modalities.audio.clips.AudioClips` at the recording's own sample
rate, amplitudes in [-1, 1], zero-padded to the longest with per-clip lengths. Resampling, cropping
or padding to a fixed duration and the spectrogram happen later, in the model's preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from playground.core.modality import Modality
from playground.data.base import check_targets
from playground.modalities.audio.clips import AudioClips


@dataclass
class AudioDataset:
    """An audio classification dataset held in memory.

    Attributes:
        name: registry name, e.g. ``"fsdd"``.
        clips: N mono clips: ``waveforms (N, L)`` float32 in [-1, 1], zero-padded to the longest
            clip (L samples), ``lengths (N,)`` int64 samples, one ``sample_rate`` in Hz.
        targets: ``(N,)`` int64 class indices in ``[0, len(classes))``.
        classes: class names, index-aligned with ``targets``.
        speakers: N speaker (or recording-group) names, index-aligned with ``targets``; empty
            when unknown.
        val_indices: ``(n_val,)`` int64, sorted, distinct indices in ``[0, N)``: the dataset's own
            fixed validation part (its official test split, a held-out speaker), which
            :func:`~playground.data.split.split_dataset` keeps instead of drawing a random
            stratified part; ``None`` lets the split draw one. It must leave at least one example
            on each side.
        source: where the data came from, shown in the UI.
        info: free-form extra facts (licence, speakers, durations, how the validation part was chosen).

    Raises:
        ValueError: on construction, for any field that breaks the above.
    """

    name: str
    clips: AudioClips
    targets: torch.Tensor
    classes: list[str]
    speakers: list[str] = field(default_factory=list)
    val_indices: torch.Tensor | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    modality: ClassVar[Modality] = "audio"

    def __post_init__(self) -> None:
        if not isinstance(self.clips, AudioClips):
            raise ValueError(f"clips must be AudioClips, got {type(self.clips).__name__}")
        n = len(self.clips)
        check_targets(self.name, self.targets, n, self.classes)
        if self.speakers and (len(self.speakers) != n or not all(isinstance(s, str) for s in self.speakers)):
            raise ValueError(f"speakers must be empty or {n} names (one per clip), got {len(self.speakers)}")
        if self.val_indices is not None:
            val = self.val_indices
            if val.ndim != 1 or val.dtype != torch.int64:
                raise ValueError(f"val_indices must be (n_val,) int64, got {tuple(val.shape)} {val.dtype}")
            if not 1 <= len(val) < n:
                raise ValueError(f"val_indices must hold between 1 and {n - 1} of the {n} clips, got {len(val)}")
            if int(val.min()) < 0 or int(val.max()) >= n:
                raise ValueError(f"val_indices must lie in [0, {n}), got [{int(val.min())}, {int(val.max())}]")
            if len(val) > 1 and not bool((val[1:] > val[:-1]).all()):
                raise ValueError("val_indices must be sorted and distinct")

    def __len__(self) -> int:
        return len(self.clips)

    def take(self, indices: torch.Tensor) -> AudioClips:
        """Raw inputs at ``indices`` (``(n,)`` int64): n clips, padded to the longest of them."""
        return self.clips.take(indices)

    @property
    def sample_rate(self) -> int:
        """Samples per second (Hz) of every clip."""
        return self.clips.sample_rate

    def class_counts(self) -> list[int]:
        """Number of examples per class, index-aligned with ``classes``."""
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()


def duration_facts(lengths: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """Clip durations for a dataset's ``info``: min, median, 95th percentile and max, in seconds (ms precision).

    Args:
        lengths: ``(N,)`` int64 samples per clip, N >= 1.
        sample_rate: Hz.
    """
    seconds = lengths.to(torch.float64) / sample_rate
    return {
        "min": round(float(seconds.min()), 3),
        "median": round(float(seconds.median()), 3),
        "p95": round(float(torch.quantile(seconds, 0.95)), 3),
        "max": round(float(seconds.max()), 3),
    }
