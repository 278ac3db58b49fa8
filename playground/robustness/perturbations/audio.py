"""Audio corruptions: the contract every entry keeps, the noise and level entries, and :func:`perturb_audio`.

The twelve audio entries live in three modules, registered in this order (the order users see):

* here: noise and level (``white_noise``, ``pink_noise``, ``gain``, ``clipping``);
* :mod:`~playground.robustness.perturbations.audio_timing`: timing and pitch (``time_shift``,
  ``speed``, ``pitch_shift``);
* :mod:`~playground.robustness.perturbations.audio_transmission`: what the path from the talker to
  the model does: room, channel, codecs and dropouts (``reverb``, ``telephone_band``, ``mp3``,
  ``opus``, ``time_masks``).

Importing the package :mod:`playground.robustness.perturbations` registers all of them (importing
any of its modules runs the package first).

Every function takes ``waveforms`` ``(B, L)`` float (mono clips at the model's rate, full scale ±1,
after ``AudioPreprocessing.fit_clips``: centred, cropped or padded to the model's length and
peak-normalized), a ``level`` in the units of its entry, a CPU ``torch.Generator`` (the only
source of randomness: the same seed gives the same output) and the keyword argument
``sample_rate`` (int, Hz, the rate of ``waveforms``), and returns a new tensor of the same shape,
dtype and device. At its identity level (``levels[0]``) each function returns an exact copy.

Outputs are not clipped to ``[-1, 1]`` (noise can overshoot a full-scale clip a little; the
features take any amplitude); hard clipping is an entry of its own. Where a perturbation has a
direction (time shift, speed, pitch), each clip draws its own (earlier or later, faster or slower,
up or down) from the generator, and the draw does not depend on the level: with one seed a clip
moves the same way at every severity, so the effect grows with the severity.

Signal-to-noise ratios are measured over the whole fixed-length clip (its zero padding included,
as in the training augmentation :func:`playground.modalities.audio.augment.add_noise`); the noise
is scaled to the exact power, so the measured SNR is the requested one. A silent clip stays silent.

Sources: noise, reverb, band limitation, codecs and time masks are the corruptions of audio
robustness benchmarks such as Speech Robust Bench (Shah et al. 2024, https://arxiv.org/abs/2403.07937)
and the augmentations of Ko et al. 2017, "A study on data augmentation of reverberant speech for
robust speech recognition" (ICASSP, https://www.danielpovey.com/files/2017_icassp_reverberation.pdf);
each entry names its own source. The levels are the playground's own, chosen for 1 s clips
of speech at 8–16 kHz.
"""

from __future__ import annotations

import math

import torch

from playground.robustness.perturbations.base import PERTURBATIONS, register_perturbation

NOT_ADDED_SNR_DB = 100.0  # the identity level of the noise entries: no noise is added


# -- helpers shared by the audio entries -----------------------------------------------------


def _check(waveforms: torch.Tensor, sample_rate: int) -> None:
    """Raise unless ``waveforms`` is a ``(B, L)`` floating tensor with L >= 1 and the rate an int >= 1000 Hz."""
    if not isinstance(waveforms, torch.Tensor):
        raise TypeError(f"expected waveforms as a torch.Tensor, got {type(waveforms).__name__}")
    if waveforms.ndim != 2 or not waveforms.is_floating_point() or waveforms.shape[1] < 1:
        raise ValueError(f"expected (B, L) float waveforms with L >= 1, got {tuple(waveforms.shape)} {waveforms.dtype}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1000:
        raise ValueError(f"sample_rate must be an int number of Hz >= 1000, got {sample_rate!r}")


def _power(x: torch.Tensor) -> torch.Tensor:
    """``(B, 1)`` mean power of each clip, float64."""
    return x.to(torch.float64).pow(2).mean(dim=1, keepdim=True)


def _add_noise_at_snr(waveforms: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``waveforms + noise`` with each clip's noise scaled to exactly ``snr_db`` below its mean power."""
    signal_power = _power(waveforms)  # (B, 1)
    noise_power = _power(noise).clamp(min=1e-30)
    scale = torch.sqrt(signal_power / 10 ** (snr_db / 10) / noise_power)  # (B, 1); 0 for a silent clip
    return (waveforms.to(torch.float64) + noise.to(torch.float64) * scale).to(waveforms.dtype)


# -- noise -----------------------------------------------------------------------------------


@register_perturbation(
    "white_noise",
    modality="audio",
    unit="signal-to-noise ratio in dB of added white Gaussian noise (100 = no noise)",
    levels=(NOT_ADDED_SNR_DB, 40.0, 30.0, 20.0, 10.0, 0.0),
    description="Adds white Gaussian noise at a signal-to-noise ratio (hiss from a cheap microphone or a noisy line).",
)
def white_noise(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Add white Gaussian noise whose power is exactly ``level`` dB below each clip's mean power.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: SNR in dB; 100 (:data:`NOT_ADDED_SNR_DB`) and above is the identity.
        generator: source of the noise.
        sample_rate: Hz (unused: white noise is flat at every rate).

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a NaN level.
    """
    _check(waveforms, sample_rate)
    if math.isnan(level):
        raise ValueError("expected an SNR in dB, got NaN")
    if level >= NOT_ADDED_SNR_DB:
        return waveforms.clone()
    noise = torch.randn(waveforms.shape, generator=generator, dtype=torch.float64).to(waveforms.device)
    return _add_noise_at_snr(waveforms, noise, level)


@register_perturbation(
    "pink_noise",
    modality="audio",
    unit="signal-to-noise ratio in dB of added pink (1/f) noise (100 = no noise)",
    levels=(NOT_ADDED_SNR_DB, 40.0, 30.0, 20.0, 10.0, 0.0),
    description="Adds pink noise (equal power per octave, closer to natural background noise than hiss) at a signal-to-noise ratio.",
)
def pink_noise(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Add pink noise (power spectral density ∝ 1/f) at exactly ``level`` dB SNR per clip.

    White Gaussian noise is shaped in the frequency domain: each FFT bin's amplitude is divided by
    ``sqrt(f)`` and the DC bin is set to 0 (the usual method, e.g. the ``colorednoise`` package after
    Timmer & König 1995, "On generating power law noise", Astronomy & Astrophysics 300, 707).

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: SNR in dB; 100 and above is the identity.
        generator: source of the noise.
        sample_rate: Hz (the shape is relative, so any rate gives 1/f).

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a NaN level.
    """
    _check(waveforms, sample_rate)
    if math.isnan(level):
        raise ValueError("expected an SNR in dB, got NaN")
    if level >= NOT_ADDED_SNR_DB:
        return waveforms.clone()
    length = waveforms.shape[1]
    white = torch.randn(waveforms.shape, generator=generator, dtype=torch.float64)  # (B, L)
    spectrum = torch.fft.rfft(white, dim=1)  # (B, L // 2 + 1)
    bins = torch.arange(spectrum.shape[1], dtype=torch.float64)
    shaping = torch.where(bins > 0, bins.clamp(min=1).rsqrt(), torch.zeros((), dtype=torch.float64))
    pink = torch.fft.irfft(spectrum * shaping, n=length, dim=1)  # (B, L)
    if length < 2:  # a single sample has no frequency but DC: fall back to white noise
        pink = white
    return _add_noise_at_snr(waveforms, pink.to(waveforms.device), level)


# -- level -----------------------------------------------------------------------------------


@register_perturbation(
    "gain",
    modality="audio",
    unit="gain in dB (0 = unchanged; negative = quieter)",
    levels=(0.0, -6.0, -12.0, -20.0, -30.0, -40.0),
    description="Changes the loudness by a gain in dB (a distant talker or a low input level); no clipping.",
)
def gain(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Multiply every sample by ``10^(level / 20)`` (+6 dB doubles the amplitude, -20 dB divides it by 10).

    Not clipped: a positive gain can take a clip above full scale (use ``clipping`` for that).
    Applied after ``fit_clips`` (as every audio entry), the gain reaches the features: it measures
    how much the model depends on the level. A whole file at a lower level would be undone by a
    peak-normalizing preprocessing (``peak_normalize=True``, the default) before the model saw it.

    Args:
        waveforms: ``(B, L)`` float clips.
        level: gain in dB, any finite value; 0 is the identity.
        generator: unused (deterministic).
        sample_rate: Hz (unused).

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a gain that is not finite.
    """
    _check(waveforms, sample_rate)
    if not math.isfinite(level):
        raise ValueError(f"expected a finite gain in dB, got {level}")
    if level == 0:
        return waveforms.clone()
    return waveforms * 10 ** (level / 20)


@register_perturbation(
    "clipping",
    modality="audio",
    unit="clipping threshold as a fraction of each clip's peak (1 = not clipped)",
    levels=(1.0, 0.5, 0.3, 0.2, 0.1, 0.05),
    description="Hard clipping of an overdriven input: samples beyond a fraction of the peak are flattened.",
)
def clipping(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Clip each clip at ``±level · peak``, then apply a make-up gain of ``1 / level``.

    This is what an input stage driven ``1 / level`` times too hot does: the clip keeps its peak
    level, and everything that would have gone beyond it is flattened (a square-ish wave at low
    levels). Source: hard clipping, as the "clipping" corruption of audio robustness benchmarks
    (e.g. Speech Robust Bench, https://arxiv.org/abs/2403.07937).

    Args:
        waveforms: ``(B, L)`` float clips.
        level: threshold as a fraction of the peak, in ``(0, 1]``; 1 is the identity.
        generator: unused (deterministic).
        sample_rate: Hz (unused).

    Returns:
        ``(B, L)``, same dtype and device; each clip's peak is unchanged (a silent clip stays silent).

    Raises:
        ValueError: bad waveforms or a threshold outside ``(0, 1]``.
    """
    _check(waveforms, sample_rate)
    if not 0.0 < level <= 1.0:
        raise ValueError(f"expected a threshold in (0, 1], got {level}")
    if level == 1.0:
        return waveforms.clone()
    peak = waveforms.abs().amax(dim=1, keepdim=True)  # (B, 1)
    threshold = level * peak
    return torch.maximum(torch.minimum(waveforms, threshold), -threshold) / level


# -- applying an entry -----------------------------------------------------------------------


def perturb_audio(
    name: str, waveforms: torch.Tensor, severity: float, seed: int = 0, *, sample_rate: int
) -> torch.Tensor:
    """Apply audio perturbation ``name`` at ``severity``.

    Args:
        name: a registered audio perturbation.
        waveforms: ``(B, L)`` float clips at ``sample_rate`` (what ``AudioPreprocessing.fit_clips``
            returns: the model's rate and length).
        severity: in ``[0, 5]``; 0 returns ``waveforms`` unchanged (a copy).
        seed: the same seed gives the same output.
        sample_rate: Hz of ``waveforms``.

    Returns:
        ``(B, L)``, same dtype and device (not clipped to ``[-1, 1]``).

    Raises:
        ValueError: unknown name, an image or text perturbation, a bad severity, bad waveforms or rate.
    """
    spec = PERTURBATIONS.get(name)
    if spec.modality != "audio":
        raise ValueError(f"{name} is a {spec.modality} perturbation, not an audio one")
    _check(waveforms, sample_rate)
    level = spec.level(severity)
    if level == spec.levels[0]:
        return waveforms.clone()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    out: torch.Tensor = spec.fn(waveforms, level, generator, sample_rate=sample_rate)
    return out
