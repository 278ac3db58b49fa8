"""What an audio model sees: a fixed-length clip at one sample rate, turned into a log-mel
spectrogram (the default), MFCCs or the raw waveform, standardized with training statistics.

Every model input is ``(B, 1, F, T)`` float32: one channel, F rows (mel bands, MFCC coefficients,
or 1 for the waveform) and T columns (frames, or samples for the waveform), so the same explain
hooks, figures and perturbations serve every audio model. The transforms are torchaudio's
(``MelSpectrogram``, ``AmplitudeToDB``, ``MFCC``); all settings are stored in ``card.json`` and
rebuilt with the checkpoint.

Sources: log-mel features and MFCCs as in Davis & Mermelstein 1980; the settings for 8 kHz speech
(32 ms windows, 10 ms hop, 40 mel bands) follow the Speech Commands baselines (Warden 2018,
https://arxiv.org/abs/1804.03209).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, get_args

import torch
import torchaudio

from playground.modalities.audio.augment import augment_waveforms, spec_augment
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.resample import resample

Features = Literal["log_mel", "mfcc", "waveform"]
FEATURES: tuple[str, ...] = get_args(Features)
AMIN = 1e-10  # power floor before the log: silence is -100 dB, never -inf or NaN
QUIET_PEAK = 1e-4  # -80 dBFS: clips quieter than this are not peak-normalized (silence stays silent)


@dataclass(frozen=True)
class AudioPreprocessing:
    """Input specification of an audio model.

    Attributes:
        sample_rate: Hz the model works at; other clips are resampled to it.
        clip_samples: samples of one model input (``sample_rate * seconds``); longer clips are
            centre-cropped (predictions over a long clip slide a window instead), shorter ones
            zero-padded on both sides.
        features: ``"log_mel"`` (power mel spectrogram in dB), ``"mfcc"`` or ``"waveform"``.
        n_fft: STFT window and FFT size in samples.
        hop_length: STFT hop in samples.
        n_mels: mel bands (also the filter bank under the MFCCs).
        n_mfcc: MFCC coefficients (``features == "mfcc"``).
        f_min: lowest mel band edge, Hz.
        f_max: highest mel band edge, Hz (``None``: ``sample_rate / 2``).
        peak_normalize: scale each clip so its peak is full scale (clips quieter than -80 dBFS,
            silence included, are left alone): recording levels differ by 20 dB between speakers.
        top_db: log-mel only: floor each clip's dB at its loudest cell minus this (``None``: the
            -100 dB floor only), so digital silence and a quiet room look alike.
        mean: mean of the training features (one number: the features stay comparable across bands).
        std: their standard deviation (> 0).

    Raises:
        ValueError: on construction, for a value out of range.
    """

    sample_rate: int = 8000
    clip_samples: int = 8000
    features: Features = "log_mel"
    n_fft: int = 256
    hop_length: int = 80
    n_mels: int = 40
    n_mfcc: int = 20
    f_min: float = 20.0
    f_max: float | None = None
    peak_normalize: bool = True
    top_db: float | None = 80.0
    mean: float = 0.0
    std: float = 1.0

    kind = "audio"

    def __post_init__(self) -> None:
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}, got {self.features!r}")
        if self.sample_rate < 1000 or self.clip_samples < self.n_fft or self.hop_length < 1:
            raise ValueError(
                f"need sample_rate >= 1000 Hz, clip_samples >= n_fft and hop_length >= 1; got "
                f"{self.sample_rate}, {self.clip_samples}, {self.n_fft}, {self.hop_length}"
            )
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc must be in [1, n_mels={self.n_mels}], got {self.n_mfcc}")
        top = self.f_max if self.f_max is not None else self.sample_rate / 2
        if not 0 <= self.f_min < top <= self.sample_rate / 2:
            raise ValueError(f"need 0 <= f_min < f_max <= {self.sample_rate / 2} Hz, got {self.f_min}, {top}")
        if self.top_db is not None and not self.top_db > 0:
            raise ValueError(f"top_db must be positive or None, got {self.top_db}")
        if not self.std > 0:
            raise ValueError(f"std must be positive, got {self.std}")

    # -- geometry -------------------------------------------------------------------------------
    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    @property
    def bins(self) -> int:
        """F: rows of the model input (mel bands, coefficients, or 1 for the waveform)."""
        return {"log_mel": self.n_mels, "mfcc": self.n_mfcc, "waveform": 1}[self.features]

    @property
    def frames(self) -> int:
        """T: columns of the model input (STFT frames with centred windows, or samples)."""
        return self.clip_samples if self.features == "waveform" else 1 + self.clip_samples // self.hop_length

    def frame_times_s(self) -> torch.Tensor:
        """``(T,)`` float64 seconds at the centre of each column."""
        step = 1 if self.features == "waveform" else self.hop_length
        return torch.arange(self.frames, dtype=torch.float64) * step / self.sample_rate

    def mel_frequencies_hz(self) -> torch.Tensor:
        """``(n_mels,)`` float64 centre frequencies of the mel bands, Hz (HTK mel scale, as torchaudio)."""
        top = self.f_max if self.f_max is not None else self.sample_rate / 2
        low, high = (2595.0 * math.log10(1.0 + f / 700.0) for f in (self.f_min, top))
        points = torch.linspace(low, high, self.n_mels + 2, dtype=torch.float64)[1:-1]  # band centres, mel
        return 700.0 * (10 ** (points / 2595.0) - 1.0)

    # -- raw clips -> model input ----------------------------------------------------------------
    def fit_clips(self, clips: AudioClips) -> torch.Tensor:
        """Clips at the model's rate and length: ``(N, clip_samples)`` float32.

        Each clip (its own length, padding ignored) is resampled if its rate differs, then
        centre-cropped or zero-padded on both sides to ``clip_samples``, then peak-normalized
        when ``peak_normalize``.
        """
        waveforms, lengths = clips.waveforms, clips.lengths
        if clips.sample_rate != self.sample_rate:
            waveforms = resample(waveforms, clips.sample_rate, self.sample_rate)  # (N, L') float32
            lengths = (lengths * self.sample_rate + clips.sample_rate - 1) // clips.sample_rate
            lengths = lengths.clamp(1, waveforms.shape[1])
        n, width = len(lengths), self.clip_samples
        # Source start (crop) and target offset (pad) of every clip, then one gather.
        src_start = ((lengths - width).clamp(min=0) // 2).unsqueeze(1)  # (N, 1)
        dst_offset = ((width - lengths).clamp(min=0) // 2).unsqueeze(1)  # (N, 1)
        pos = torch.arange(width).unsqueeze(0) - dst_offset + src_start  # (N, width) source index
        valid = (pos >= src_start) & (pos < torch.minimum(lengths.unsqueeze(1), src_start + width)) & (pos >= 0)
        padded = torch.nn.functional.pad(waveforms, (0, max(0, width - waveforms.shape[1])))
        gathered = padded.gather(1, pos.clamp(0, padded.shape[1] - 1))
        fixed = torch.where(valid, gathered, torch.zeros((), dtype=torch.float32)).reshape(n, width)
        if self.peak_normalize:
            peak = fixed.abs().amax(dim=1, keepdim=True)  # (N, 1)
            fixed = torch.where(peak > QUIET_PEAK, fixed / peak.clamp(min=QUIET_PEAK), fixed)
        return fixed

    def raw_features(self, fixed: torch.Tensor) -> torch.Tensor:
        """Unstandardized features of fixed-length clips.

        Args:
            fixed: ``(B, clip_samples)`` float32 waveforms at ``sample_rate``.

        Returns:
            ``(B, 1, F, T)`` float32: dB for ``"log_mel"``, coefficients for ``"mfcc"``,
            amplitudes for ``"waveform"``. Finite for silent clips.
        """
        if self.features == "waveform":
            return fixed.unsqueeze(1).unsqueeze(1)  # (B, 1, 1, L)
        # (B, 1, L) in, (B, 1, F, T) out: with the channel dimension torchaudio's dB conversion
        # (MFCC's top_db) works per clip, not over the whole batch.
        return _transform(self, str(fixed.device))(fixed.unsqueeze(1))

    def standardize(self, features: torch.Tensor) -> torch.Tensor:
        """``(features - mean) / std``, float32, same shape."""
        return (features - self.mean) / self.std

    def model_input(self, inputs: AudioClips) -> torch.Tensor:
        """Raw clips (a dataset part, a decoded upload) -> ``(N, 1, F, T)`` standardized float32."""
        return self.encode(self.fit_clips(inputs))

    # -- training with augmentation (``playground.training.inputs.PreparedInputs``) ----------------
    def prepare(self, inputs: AudioClips) -> torch.Tensor:
        """Clips at the model's rate and length, kept for per-batch augmentation: ``(N, clip_samples)``."""
        return self.fit_clips(inputs)

    def encode(self, prepared: torch.Tensor) -> torch.Tensor:
        """Prepared clips ``(B, clip_samples)`` -> model input ``(B, 1, F, T)`` without augmentation."""
        return self.standardize(self.raw_features(prepared))

    def augmented_input(self, prepared: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Prepared clips ``(B, clip_samples)`` -> augmented model input ``(B, 1, F, T)``: waveform
        shift, gain and noise, then SpecAugment masks (:mod:`playground.modalities.audio.augment`)."""
        features = self.raw_features(augment_waveforms(prepared, generator))
        return spec_augment(self.standardize(features), generator)

    def example_input(self) -> tuple[int, ...]:
        """The shape ``(1, 1, F, T)`` of one model input."""
        return (1, 1, self.bins, self.frames)

    def model_sizes(self) -> dict[str, Any]:
        """The builder's size arguments: ``{"input_bins": F, "input_frames": T}``."""
        return {"input_bins": self.bins, "input_frames": self.frames}

    # -- fitting and checkpoints -------------------------------------------------------------------
    def fitted(self, clips: AudioClips, max_clips: int = 2000) -> AudioPreprocessing:
        """A copy whose mean and std are those of the features of (at most ``max_clips`` of) ``clips``."""
        take = clips.take(torch.arange(min(len(clips), max_clips)))
        feats = replace(self, mean=0.0, std=1.0).model_input(take).to(torch.float64)
        return replace(self, mean=float(feats.mean()), std=max(float(feats.std()), 1e-6))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def files(self) -> dict[str, bytes]:
        """No extra files."""
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes] | None = None) -> AudioPreprocessing:
        """Inverse of :meth:`to_dict` (``files`` is accepted for symmetry and unused).

        Raises:
            ValueError: a missing, unknown or invalid field.
        """
        fields = {k: v for k, v in data.items() if k != "kind"}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ValueError(f"invalid audio preprocessing entry in card.json ({exc})") from exc


@functools.lru_cache(maxsize=16)
def _transform(pre: AudioPreprocessing, device: str) -> torch.nn.Module:
    """The torchaudio transform for ``pre``'s features (built once per settings and device)."""
    melkwargs = {
        "n_fft": pre.n_fft,
        "hop_length": pre.hop_length,
        "n_mels": pre.n_mels,
        "f_min": pre.f_min,
        "f_max": pre.f_max,
    }
    module: torch.nn.Module
    if pre.features == "mfcc":
        module = torchaudio.transforms.MFCC(sample_rate=pre.sample_rate, n_mfcc=pre.n_mfcc, melkwargs=melkwargs)
    else:
        # The input is (B, 1, L), so the spectrogram is (B, 1, F, T) and AmplitudeToDB's top_db
        # floor is taken per clip (on (B, F, T) it would be taken over the whole batch).
        module = torch.nn.Sequential(
            torchaudio.transforms.MelSpectrogram(sample_rate=pre.sample_rate, **melkwargs),
            torchaudio.transforms.AmplitudeToDB(stype="power", top_db=pre.top_db),
        )
    return module.to(device).eval()
