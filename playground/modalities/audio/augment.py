"""Training augmentation for audio, with a fresh random draw for every clip.

On the waveform (``(B, L)`` float32 at the model's rate): a circular-free time shift (the clip moves,
zeros come in), a gain in dB and white noise at a signal-to-noise ratio in dB. On the features
(``(B, 1, F, T)``): SpecAugment's frequency and time masks (Park et al. 2019,
https://arxiv.org/abs/1904.08779), drawn as torchaudio's ``FrequencyMasking`` / ``TimeMasking``
draw them but from the caller's generator (torchaudio's use the global RNG).
Every draw comes from the caller's ``torch.Generator``, so a seed gives the same run.
"""

from __future__ import annotations

import torch

MAX_SHIFT_FRACTION = 0.1  # of the clip length
GAIN_DB = 6.0  # uniform in [-6, +6] dB
SNR_DB_RANGE = (20.0, 40.0)  # uniform in this range, per clip
NOISE_PROBABILITY = 0.5


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def time_shift(waveforms: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each clip by a uniform whole number of samples in ``[-max_shift, max_shift]``, zero-filled.

    Args:
        waveforms: ``(B, L)`` float32.
        max_shift: samples, >= 0.
        generator: the random source.

    Returns:
        ``(B, L)`` float32; sample ``t`` of clip ``b`` is ``waveforms[b, t - shift_b]`` (0 outside).
    """
    b, length = waveforms.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 1), generator=generator, device=waveforms.device)
    source = torch.arange(length, device=waveforms.device).unsqueeze(0) - shifts  # (B, L) source index
    inside = (source >= 0) & (source < length)
    return torch.where(
        inside, waveforms.gather(1, source.clamp(0, length - 1)), torch.zeros((), device=waveforms.device)
    )


def add_noise(waveforms: torch.Tensor, snr_db: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """White Gaussian noise at ``snr_db`` (per clip, ``(B,)``) relative to each clip's mean power.

    A silent clip stays silent (its power is 0, so is the noise's).
    """
    power = waveforms.pow(2).mean(dim=1, keepdim=True)  # (B, 1)
    noise_power = power / 10 ** (snr_db.unsqueeze(1) / 10)
    noise = torch.randn(waveforms.shape, generator=generator, device=waveforms.device)
    return waveforms + noise * noise_power.sqrt()


def augment_waveforms(waveforms: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Time shift (up to 10 % of the clip), gain (+-6 dB) and, for half the clips, noise at 20-40 dB SNR.

    Args:
        waveforms: ``(B, L)`` float32 clips at the model's rate.
        generator: the random source (on the waveforms' device).

    Returns:
        ``(B, L)`` float32 (not clipped to [-1, 1]: the features take any amplitude).
    """
    b, length = waveforms.shape
    device = waveforms.device
    x = time_shift(waveforms, int(length * MAX_SHIFT_FRACTION), generator)
    gain_db = _uniform(b, -GAIN_DB, GAIN_DB, generator, device)
    x = x * 10 ** (gain_db.unsqueeze(1) / 20)
    snr_db = _uniform(b, *SNR_DB_RANGE, generator, device)
    noisy = torch.rand(b, generator=generator, device=device) < NOISE_PROBABILITY
    return torch.where(noisy.unsqueeze(1), add_noise(x, snr_db, generator), x)


def spec_augment(
    features: torch.Tensor, generator: torch.Generator, *, masks: int = 2, max_bins: int = 6, max_frames: int = 10
) -> torch.Tensor:
    """SpecAugment: ``masks`` frequency masks of up to ``max_bins`` rows and as many time masks of up
    to ``max_frames`` columns per clip, filled with 0 (the standardized mean).

    torchaudio's ``FrequencyMasking`` / ``TimeMasking`` draw from the global RNG; the same masks are
    drawn here from ``generator`` so that a seed reproduces a run (their algorithm: width uniform in
    ``[0, max)``, start uniform in ``[0, size - width)``).

    Args:
        features: ``(B, 1, F, T)`` float32; F = 1 (the waveform) gets no frequency masks.

    Returns:
        ``(B, 1, F, T)`` float32.
    """
    b, _, n_bins, n_frames = features.shape
    device = features.device
    keep = torch.ones(b, 1, n_bins, n_frames, dtype=torch.bool, device=device)
    for size, limit, axis in ((n_bins, max_bins, 2), (n_frames, max_frames, 3)):
        limit = min(limit, size // 4)
        if limit < 1:
            continue
        positions = torch.arange(size, device=device)
        for _ in range(masks):
            width = torch.randint(0, limit, (b,), generator=generator, device=device)
            start = (torch.rand(b, generator=generator, device=device) * (size - width)).long()
            band = (positions.unsqueeze(0) >= start.unsqueeze(1)) & (
                positions.unsqueeze(0) < (start + width).unsqueeze(1)
            )
            shape = [b, 1, 1, 1]
            shape[axis] = size
            keep &= ~band.reshape(shape)  # (B, size) -> broadcast over the other axis
    return features * keep
