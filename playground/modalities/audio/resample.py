"""Band-limited resampling of waveforms between any two supported sample rates.

:func:`resample` is the one resampler of the playground: decoding to a model's rate, the audio
preprocessing, explanations, predictions over time and the speed / pitch / codec perturbations
all go through it. It uses torchaudio's windowed-sinc kernel, built once per rate pair and device
and cached; rate pairs whose kernel would be huge (rates that share no common factor) go through
an FFT resampler instead. Rates outside [1000, 384000] Hz are refused with
:class:`~playground.modalities.audio.rates.AudioDecodeError`.
"""

from __future__ import annotations

import functools
import math

import torch
import torchaudio

from playground.modalities.audio.rates import check_rate

# torchaudio's sinc kernel has (new / g) × (orig / g + 2·width) taps (g = gcd of the rates): tiny
# for 44100 -> 16000, but 700 M taps (2.8 GB) for 44101 -> 16000. Above this many taps the
# resampling goes through the FFT instead.
_MAX_KERNEL_TAPS = 1 << 22
_LOWPASS_WIDTH = 6  # torchaudio's defaults, used to predict the kernel size
_ROLLOFF = 0.99


def _kernel_taps(orig_rate: int, new_rate: int) -> int:
    """Taps of torchaudio's sinc kernel for this pair (as ``_get_sinc_resample_kernel`` builds it)."""
    g = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // g, new_rate // g
    width = math.ceil(_LOWPASS_WIDTH * orig / (min(orig, new) * _ROLLOFF))
    return new * (orig + 2 * width)


@functools.lru_cache(maxsize=32)
def _resampler(orig_rate: int, new_rate: int, device: str) -> torchaudio.transforms.Resample:
    """torchaudio's windowed-sinc resampler for one rate pair, its kernel built once per device."""
    return torchaudio.transforms.Resample(
        orig_rate, new_rate, lowpass_filter_width=_LOWPASS_WIDTH, rolloff=_ROLLOFF
    ).to(device)


def _fft_resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling in the frequency domain (any ratio, O(L log L) memory).

    The spectrum is cut (or zero-padded) at the lower Nyquist frequency: an ideal low-pass, with
    the circular edge effects of the FFT at the two ends of the clip.
    """
    length = waveform.shape[-1]
    out_length = math.ceil(new_rate * length / orig_rate)
    spectrum = torch.fft.rfft(waveform, n=length)  # (..., length // 2 + 1)
    bins = min(spectrum.shape[-1], out_length // 2 + 1)
    kept = torch.zeros(*spectrum.shape[:-1], out_length // 2 + 1, dtype=spectrum.dtype, device=spectrum.device)
    kept[..., :bins] = spectrum[..., :bins]
    return torch.fft.irfft(kept, n=out_length) * (out_length / length)  # (..., out_length)


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample along the last axis from ``orig_rate`` to ``new_rate`` (band-limited).

    Uses ``torchaudio.transforms.Resample`` (windowed sinc, Hann window, 6 zero crossings, roll-off
    0.99), built once per (orig, new, device) and cached. Rate pairs whose kernel would exceed
    ~4 M taps (e.g. 11127 Hz -> 16000 Hz, whose rates share no common factor) go through an FFT
    resampler instead, so no rate pair builds a huge kernel. Gradients flow through both.

    Args:
        waveform: ``(..., L)`` floating amplitudes (computed in float32), on any device.
        orig_rate: samples per second of ``waveform`` (Hz).
        new_rate: samples per second wanted (Hz).

    Returns:
        ``(..., ceil(L * new_rate / orig_rate))`` float32 on the input's device; ``waveform`` itself
        when the rates are equal. Not clipped: sinc resampling can overshoot ±1 slightly near
        full-scale edges.

    Raises:
        AudioDecodeError: a rate that is not an int in [1000, 384000] Hz.
        TypeError: ``waveform`` is not a floating tensor.
        ValueError: ``waveform`` has no axis.
    """
    orig_rate = check_rate(orig_rate, "the original sample rate")
    new_rate = check_rate(new_rate, "the target sample rate")
    if not isinstance(waveform, torch.Tensor) or not waveform.is_floating_point():
        raise TypeError(f"expected a floating waveform tensor, got {getattr(waveform, 'dtype', type(waveform))}")
    if waveform.ndim == 0:
        raise ValueError("expected a waveform of shape (..., L), got a scalar")
    if orig_rate == new_rate:
        return waveform
    x = waveform.to(torch.float32).contiguous()
    if x.shape[-1] == 0:
        return x
    if _kernel_taps(orig_rate, new_rate) > _MAX_KERNEL_TAPS:
        return _fft_resample(x, orig_rate, new_rate)
    return _resampler(orig_rate, new_rate, str(x.device))(x)
