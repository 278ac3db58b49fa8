"""Audio corruptions of timing and pitch: ``time_shift``, ``speed`` and ``pitch_shift``, severity 0–5.

Each clip draws its own direction (earlier or later, faster or slower, up or down) from the
generator, independently of the level, so with one seed a clip moves the same way at every severity.
The contract every audio entry keeps (shapes, generator, ``sample_rate``, identity level) is in
:mod:`playground.robustness.perturbations.audio`; these entries are registered after its noise
and level ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from playground.modalities.audio.resample import resample
from playground.robustness.perturbations.audio import _check
from playground.robustness.perturbations.base import register_perturbation

# -- helpers ---------------------------------------------------------------------------------


def _signs(generator: torch.Generator, n: int) -> torch.Tensor:
    """``(n,)`` float64 of ±1, one fair coin per clip (the direction of a shift, speed or pitch change)."""
    return torch.where(torch.rand(n, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0)


def _centre_fit(x: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad ``(B, L')`` about its centre to ``(B, length)`` (the centre stays in place)."""
    have = x.shape[1]
    if have >= length:
        start = (have - length) // 2
        return x[:, start : start + length]
    left = (length - have) // 2
    return F.pad(x, (left, length - have - left))


def _resample_by(x: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """Play ``(B, L)`` ``factor`` times faster (length ``≈ L / factor``, pitch × factor), band-limited.

    Resampling from ``round(sample_rate · factor)`` Hz to ``sample_rate`` Hz with the playground's
    :func:`~playground.modalities.audio.resample.resample` (torchaudio's sinc kernel, or an FFT for
    rate pairs whose kernel would be huge), as ``torchaudio.functional.speed`` and SoX's ``speed``.
    """
    source_rate = round(sample_rate * factor)
    if source_rate == sample_rate:
        return x.to(torch.float32)
    return resample(x.to(torch.float32), source_rate, sample_rate)


def _by_direction(
    waveforms: torch.Tensor, signs: torch.Tensor, fn: Callable[[torch.Tensor, float], torch.Tensor]
) -> torch.Tensor:
    """Apply ``fn(clips, sign)`` to the clips with sign +1 and those with -1, and reassemble ``(B, L)``."""
    out = torch.empty_like(waveforms)
    for sign in (1.0, -1.0):
        rows = (signs == sign).nonzero().flatten().to(waveforms.device)
        if len(rows):
            out[rows] = fn(waveforms[rows], sign).to(out)
    return out


# -- timing and pitch ------------------------------------------------------------------------


@register_perturbation(
    "time_shift",
    modality="audio",
    unit="shift in ms, earlier or later at random per clip (zeros come in)",
    levels=(0.0, 25.0, 50.0, 100.0, 200.0, 300.0),
    description="Moves the sound earlier or later in its window (a badly aligned or triggered recording).",
)
def time_shift(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Shift each clip by ``round(level · sample_rate / 1000)`` samples, later or earlier (a coin per clip).

    Not circular: samples shifted out of the window are lost and zeros come in (as the training
    augmentation :func:`playground.modalities.audio.augment.time_shift`).

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: shift in ms, >= 0; 0 is the identity.
        generator: source of each clip's direction.
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device; sample ``t`` of clip ``b`` is ``waveforms[b, t - s_b]``
        (0 outside), with ``s_b = ±round(level · sample_rate / 1000)``.

    Raises:
        ValueError: bad waveforms or a negative shift.
    """
    _check(waveforms, sample_rate)
    if not level >= 0:
        raise ValueError(f"expected a shift in ms >= 0, got {level}")
    signs = _signs(generator, waveforms.shape[0])
    samples = round(level * sample_rate / 1000)
    if samples == 0:
        return waveforms.clone()
    length = waveforms.shape[1]
    shifts = (signs * samples).long().unsqueeze(1).to(waveforms.device)  # (B, 1)
    source = torch.arange(length, device=waveforms.device).unsqueeze(0) - shifts  # (B, L)
    inside = (source >= 0) & (source < length)
    moved = waveforms.gather(1, source.clamp(0, length - 1))
    return torch.where(inside, moved, torch.zeros((), dtype=waveforms.dtype, device=waveforms.device))


@register_perturbation(
    "speed",
    modality="audio",
    unit="speed change in %, faster or slower at random per clip (pitch changes with it)",
    levels=(0.0, 5.0, 10.0, 15.0, 20.0, 30.0),
    description="Plays the clip faster or slower, like a tape at the wrong speed: tempo and pitch change together.",
)
def speed(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Speed each clip up or down (a coin per clip) by ``level`` %: factor ``1 ± level / 100``.

    Done by resampling, as ``torchaudio.functional.speed`` / ``torchaudio.transforms.Speed`` and
    Ko et al. 2015's speed perturbation ("Audio augmentation for speech recognition", Interspeech,
    https://www.isca-archive.org/interspeech_2015/ko15_interspeech.html). A faster clip comes out
    shorter and is zero-padded about its centre, a slower one longer and centre-cropped, so the
    sound stays centred in its window and the length is kept.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: speed change in %, in ``[0, 90]``; 0 is the identity.
        generator: source of each clip's direction.
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a change outside ``[0, 90]`` %.
    """
    _check(waveforms, sample_rate)
    if not 0.0 <= level <= 90.0:
        raise ValueError(f"expected a speed change in [0, 90] %, got {level}")
    signs = _signs(generator, waveforms.shape[0])
    if level == 0:
        return waveforms.clone()
    length = waveforms.shape[1]

    def change(clips: torch.Tensor, sign: float) -> torch.Tensor:
        return _centre_fit(_resample_by(clips, 1 + sign * level / 100, sample_rate), length)

    return _by_direction(waveforms, signs, change)


@register_perturbation(
    "pitch_shift",
    modality="audio",
    unit="pitch change in semitones, up or down at random per clip (duration kept)",
    levels=(0.0, 0.5, 1.0, 2.0, 3.0, 4.0),
    description="Raises or lowers the pitch while keeping the duration (a higher or deeper voice).",
)
def pitch_shift(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Shift each clip's pitch up or down (a coin per clip) by ``level`` semitones, keeping its length.

    The algorithm of ``torchaudio.functional.pitch_shift``: a phase-vocoder time stretch by
    ``2^(±level/12)`` (``torchaudio.functional.phase_vocoder`` on an STFT with ~64 ms windows and a
    quarter-window hop), then resampling back to the original duration. torchaudio's own function
    takes whole steps and builds a sinc kernel of millions of taps for fractional ones; here the
    resampling goes through the playground's :func:`~playground.modalities.audio.resample.resample`.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: semitones, in ``[0, 12]``; 0 is the identity.
        generator: source of each clip's direction.
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a shift outside ``[0, 12]`` semitones.
    """
    _check(waveforms, sample_rate)
    if not 0.0 <= level <= 12.0:
        raise ValueError(f"expected a pitch shift in [0, 12] semitones, got {level}")
    signs = _signs(generator, waveforms.shape[0])
    if level == 0:
        return waveforms.clone()
    length = waveforms.shape[1]
    n_fft = 2 ** round(math.log2(0.064 * sample_rate))  # 512 at 8 kHz, 1024 at 16 kHz
    hop = n_fft // 4

    def shift(clips: torch.Tensor, sign: float) -> torch.Tensor:
        factor = 2 ** (sign * level / 12)  # > 1 raises the pitch
        x = F.pad(clips.to(torch.float32), (0, max(0, n_fft - length)))  # the STFT needs one window
        window = torch.hann_window(n_fft, device=x.device)
        spec = torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="reflect", return_complex=True)
        phase_advance = torch.linspace(0, math.pi * hop, spec.shape[-2], device=x.device)[..., None]
        stretched = AF.phase_vocoder(spec, 1 / factor, phase_advance)  # factor times longer
        longer = torch.istft(stretched, n_fft, hop, window=window, length=round(x.shape[1] * factor))
        back = _resample_by(longer, factor, sample_rate)  # (b, ≈ L): both steps keep t = 0 in place
        return back[:, :length] if back.shape[1] >= length else F.pad(back, (0, length - back.shape[1]))

    return _by_direction(waveforms, signs, shift)
