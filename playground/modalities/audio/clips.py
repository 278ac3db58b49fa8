"""A batch of raw audio clips: what an audio dataset's ``take`` returns and what decoding gives.

Clips of different lengths travel as one zero-padded tensor with their lengths, so a batch is one
tensor operation (slicing, resampling, the spectrogram) instead of a Python loop over clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AudioClips:
    """N mono clips at one sample rate.

    Attributes:
        waveforms: ``(N, L)`` float32 amplitudes in ``[-1, 1]`` (full scale), each clip left-aligned
            and zero-padded to the longest, L >= 1.
        lengths: ``(N,)`` int64 samples of each clip, 1 <= lengths[i] <= L.
        sample_rate: samples per second (Hz), the same for every clip.

    Raises:
        ValueError: on a shape, dtype, length or rate that breaks the above.
    """

    waveforms: torch.Tensor
    lengths: torch.Tensor
    sample_rate: int

    def __post_init__(self) -> None:
        if self.waveforms.ndim != 2 or self.waveforms.dtype != torch.float32 or self.waveforms.shape[1] < 1:
            raise ValueError(
                f"waveforms must be (N, L) float32 with L >= 1, got {tuple(self.waveforms.shape)} {self.waveforms.dtype}"
            )
        if self.lengths.shape != (self.waveforms.shape[0],) or self.lengths.dtype != torch.int64:
            raise ValueError(
                f"lengths must be ({self.waveforms.shape[0]},) int64, got {tuple(self.lengths.shape)} {self.lengths.dtype}"
            )
        if len(self.lengths) and (int(self.lengths.min()) < 1 or int(self.lengths.max()) > self.waveforms.shape[1]):
            raise ValueError(f"every length must be in [1, {self.waveforms.shape[1]}]")
        if not isinstance(self.sample_rate, int) or self.sample_rate < 1:
            raise ValueError(f"sample_rate must be a positive int (Hz), got {self.sample_rate!r}")

    @classmethod
    def from_list(cls, clips: Sequence[torch.Tensor], sample_rate: int) -> AudioClips:
        """Pad 1-D clips (each ``(L_i,)``, L_i >= 1) into one batch.

        Raises:
            ValueError: no clips, a clip that is not 1-D, or an empty clip.
        """
        if not clips:
            raise ValueError("no clips")
        if any(c.ndim != 1 or c.numel() == 0 for c in clips):
            raise ValueError("every clip must be a non-empty 1-D waveform")
        lengths = torch.tensor([c.numel() for c in clips], dtype=torch.int64)
        waveforms = torch.zeros(len(clips), int(lengths.max()), dtype=torch.float32)  # (N, L)
        for i, clip in enumerate(clips):
            waveforms[i, : clip.numel()] = clip.to(torch.float32)
        return cls(waveforms, lengths, sample_rate)

    def __len__(self) -> int:
        return int(self.waveforms.shape[0])

    def take(self, indices: torch.Tensor) -> AudioClips:
        """The clips at ``indices`` (``(n,)`` int64), padded to the longest of them."""
        lengths = self.lengths[indices]
        width = int(lengths.max()) if len(lengths) else 1
        return AudioClips(self.waveforms[indices, :width].contiguous(), lengths, self.sample_rate)

    def clip(self, i: int) -> torch.Tensor:
        """Clip ``i`` without its padding: ``(lengths[i],)`` float32."""
        return self.waveforms[i, : int(self.lengths[i])]

    def durations_s(self) -> torch.Tensor:
        """``(N,)`` float64 seconds of each clip."""
        return self.lengths.to(torch.float64) / self.sample_rate
