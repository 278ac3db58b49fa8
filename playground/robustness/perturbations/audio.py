"""Audio corruptions: noise, level, timing, pitch, room, channel and codec, each with a severity 0–5.

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
each entry names its own source below. The levels are the playground's own, chosen for 1 s clips
of speech at 8–16 kHz.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from playground.modalities.audio.decode import resample
from playground.robustness.perturbations.base import PERTURBATIONS, register_perturbation

NOT_ADDED_SNR_DB = 100.0  # the identity level of the noise entries: no noise is added
TELEPHONE_LOW_HZ = 300.0
TELEPHONE_HIGH_HZ = 3400.0
TELEPHONE_OCTAVES = math.log2(TELEPHONE_HIGH_HZ / TELEPHONE_LOW_HZ)  # 3.50
BAND_CENTRE_HZ = math.sqrt(TELEPHONE_LOW_HZ * TELEPHONE_HIGH_HZ)  # 1010 Hz, the geometric centre
NOT_FILTERED_OCTAVES = 8.0  # the identity level of the band entry
# Butterworth sections: Q = 1 / (2 cos θ_k) of the pole pairs of a 4th- and an 8th-order filter.
BUTTERWORTH_Q_4 = (0.5411961, 1.3065630)
BUTTERWORTH_Q_8 = (0.5097956, 0.6013449, 0.8999762, 2.5629154)
NOT_ENCODED_KBPS_MP3 = 320.0  # identity level: the largest MP3 bitrate; the clip is not re-encoded
NOT_ENCODED_KBPS_OPUS = 256.0  # identity level: the largest Opus bitrate libsndfile sets
# MP3 sample rates and, per MPEG version, the bitrate range (kbps) libsndfile maps compression_level
# onto: MPEG-1 (32-48 kHz) 32-320, MPEG-2 (16-24 kHz) 8-160, MPEG-2.5 (8-12 kHz) 8-64.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_KBPS_RANGE = (6.0, 256.0)  # libsndfile: compression_level 0 -> 256 kbps, 1 -> 6 kbps
# LAME's encoder delay (576) plus the decoder's (529): samples in front of a decoded MP3 when the
# file is too small for LAME's Xing/Info header, which tells the decoder to trim them.
MP3_DELAY_SAMPLES = 1105
MAX_COMPRESSION = 0.99  # libsndfile refuses compression_level 1.0 for MP3


# -- helpers ---------------------------------------------------------------------------------


def _check(waveforms: torch.Tensor, sample_rate: int) -> None:
    """Raise unless ``waveforms`` is a ``(B, L)`` floating tensor with L >= 1 and the rate an int >= 1000 Hz."""
    if not isinstance(waveforms, torch.Tensor):
        raise TypeError(f"expected waveforms as a torch.Tensor, got {type(waveforms).__name__}")
    if waveforms.ndim != 2 or not waveforms.is_floating_point() or waveforms.shape[1] < 1:
        raise ValueError(f"expected (B, L) float waveforms with L >= 1, got {tuple(waveforms.shape)} {waveforms.dtype}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1000:
        raise ValueError(f"sample_rate must be an int number of Hz >= 1000, got {sample_rate!r}")


def _signs(generator: torch.Generator, n: int) -> torch.Tensor:
    """``(n,)`` float64 of ±1, one fair coin per clip (the direction of a shift, speed or pitch change)."""
    return torch.where(torch.rand(n, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0)


def _power(x: torch.Tensor) -> torch.Tensor:
    """``(B, 1)`` mean power of each clip, float64."""
    return x.to(torch.float64).pow(2).mean(dim=1, keepdim=True)


def _add_noise_at_snr(waveforms: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``waveforms + noise`` with each clip's noise scaled to exactly ``snr_db`` below its mean power."""
    signal_power = _power(waveforms)  # (B, 1)
    noise_power = _power(noise).clamp(min=1e-30)
    scale = torch.sqrt(signal_power / 10 ** (snr_db / 10) / noise_power)  # (B, 1); 0 for a silent clip
    return (waveforms.to(torch.float64) + noise.to(torch.float64) * scale).to(waveforms.dtype)


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
    :func:`~playground.modalities.audio.decode.resample` (torchaudio's sinc kernel, or an FFT for
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


def _biquad(x: torch.Tensor, sample_rate: int, cutoff_hz: float, q: float, kind: str) -> torch.Tensor:
    """One RBJ Audio EQ Cookbook low- or high-pass biquad over ``(B, L)`` float64 (no clamping).

    torchaudio's ``lowpass_biquad`` / ``highpass_biquad`` compute the same coefficients but filter
    with ``lfilter(clamp=True)``, which would clip every sample to ``[-1, 1]``.
    Source: R. Bristow-Johnson, Audio EQ Cookbook, https://www.w3.org/TR/audio-eq-cookbook/.
    """
    w0 = 2 * math.pi * cutoff_hz / sample_rate
    alpha = math.sin(w0) / (2 * q)
    cos = math.cos(w0)
    low = [(1 - cos) / 2, 1 - cos, (1 - cos) / 2]
    high = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    b = low if kind == "low" else high
    a = [1 + alpha, -2 * cos, 1 - alpha]
    a_t = torch.tensor(a, dtype=torch.float64, device=x.device)
    b_t = torch.tensor(b, dtype=torch.float64, device=x.device)
    return AF.lfilter(x, a_t, b_t, clamp=False)


def _codec_round_trip(
    waveforms: torch.Tensor, sample_rate: int, codec_rate: int, fmt: str, subtype: str, compression: float
) -> torch.Tensor:
    """Encode each clip with libsndfile (through ``soundfile``, in memory) and decode it again.

    The clips are resampled to ``codec_rate`` when it differs, scaled down by their peak when it is
    above full scale (and back up after decoding), and the decoded clips are trimmed of any encoder
    delay, resampled back to ``sample_rate`` and fitted to the original length.
    """
    length = waveforms.shape[1]
    x = waveforms.detach().to("cpu", torch.float32)
    if codec_rate != sample_rate:
        x = resample(x, sample_rate, codec_rate)  # (B, L')
    coded_length = x.shape[1]
    peaks = x.abs().amax(dim=1).clamp(min=1.0)  # (B,) 1 unless the clip exceeds full scale
    out = torch.zeros_like(x)
    for i in range(x.shape[0]):
        clip = (x[i] / peaks[i]).clamp(-1.0, 1.0).numpy()
        buffer = io.BytesIO()
        bitrate_mode = "CONSTANT" if fmt == "MP3" else None
        sf.write(
            buffer,
            clip,
            codec_rate,
            format=fmt,
            subtype=subtype,
            compression_level=compression,
            bitrate_mode=bitrate_mode,
        )
        buffer.seek(0)
        decoded, rate = sf.read(buffer, dtype="float32", always_2d=False)
        decoded = np.asarray(decoded, dtype=np.float32).reshape(-1)
        if rate != codec_rate:
            decoded = resample(torch.from_numpy(decoded), int(rate), codec_rate).numpy()
        if len(decoded) != coded_length and fmt == "MP3" and len(decoded) >= coded_length + MP3_DELAY_SAMPLES:
            decoded = decoded[MP3_DELAY_SAMPLES:]  # no Xing/Info header: the delay was not trimmed
        n = min(len(decoded), coded_length)
        out[i, :n] = torch.from_numpy(decoded[:n].copy()) * peaks[i]
    if codec_rate != sample_rate:
        out = resample(out, codec_rate, sample_rate)
    out = out[:, :length] if out.shape[1] >= length else F.pad(out, (0, length - out.shape[1]))
    return out.to(device=waveforms.device, dtype=waveforms.dtype)


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
    resampling goes through the playground's :func:`~playground.modalities.audio.decode.resample`.

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


# -- room and channel ------------------------------------------------------------------------


@register_perturbation(
    "reverb",
    modality="audio",
    unit="reverberation time RT60 in s of a synthetic room (0 = dry)",
    levels=(0.0, 0.1, 0.2, 0.4, 0.7, 1.0),
    description="Convolves the clip with a synthetic room's impulse response (a reverberant hall or bathroom).",
)
def reverb(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Convolve each clip with its own synthetic impulse response of reverberation time ``level`` s.

    The response is the direct sound (1 at t = 0) followed by Gaussian noise under an exponential
    envelope that falls by 60 dB in ``level`` seconds (``exp(-3 ln(10) · t / RT60)``), ``RT60``
    long; the tail's noise has variance ``1 / (0.025 · sample_rate)`` per sample, so its energy
    grows with RT60 (direct-to-reverberant ratio ``≈ 10·log10(0.345 / RT60)`` dB: +5 dB at 0.1 s,
    -5 dB at 1 s). The convolution is ``torchaudio.functional.fftconvolve``, cut to the clip's
    length (the tail beyond the window is lost), and each clip is scaled back to its own RMS.
    Source: the usual synthetic model of a diffuse reverberant tail, exponentially decaying Gaussian
    noise (reverberation augmentation as in Ko et al. 2017,
    https://www.danielpovey.com/files/2017_icassp_reverberation.pdf, which also uses measured rooms).

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: RT60 in seconds, in ``[0, 10]``; 0 is the identity.
        generator: source of each clip's impulse response.
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device; same RMS per clip.

    Raises:
        ValueError: bad waveforms or an RT60 outside ``[0, 10]`` s.
    """
    _check(waveforms, sample_rate)
    if not 0.0 <= level <= 10.0:
        raise ValueError(f"expected an RT60 in [0, 10] s, got {level}")
    if level == 0:
        return waveforms.clone()
    b, length = waveforms.shape
    taps = max(2, math.ceil(level * sample_rate))
    t = torch.arange(taps, dtype=torch.float64) / sample_rate
    envelope = torch.exp(-3 * math.log(10) * t / level)  # -60 dB at t = RT60
    # One generator per clip, seeded from ``generator``: a clip's noise at a shorter RT60 is a prefix
    # of its noise at a longer one, so the rooms of one seed differ only in their decay.
    seeds = torch.randint(0, 2**62, (b,), generator=generator).tolist()
    noise = torch.stack(
        [torch.randn(taps, generator=torch.Generator().manual_seed(s), dtype=torch.float64) for s in seeds]
    )  # (B, taps)
    response = noise * envelope / math.sqrt(0.025 * sample_rate)  # (B, taps)
    response[:, 0] = 1.0  # the direct sound
    x = waveforms.to(torch.float64)
    wet = AF.fftconvolve(x, response.to(x.device))[:, :length]  # (B, L)
    scale = torch.sqrt(_power(x) / _power(wet).clamp(min=1e-30))  # (B, 1); 0 for a silent clip
    return (wet * scale).to(waveforms.dtype)


@register_perturbation(
    "telephone_band",
    modality="audio",
    unit="pass band in octaves around 1 kHz (3.5 = the 300–3,400 Hz telephone band; 8 = not filtered)",
    levels=(NOT_FILTERED_OCTAVES, TELEPHONE_OCTAVES, 3.0, 2.5, 2.0, 1.5),
    description="Band-limits the clip like a telephone line (300–3,400 Hz at severity 1), narrower at higher severities.",
)
def telephone_band(
    waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int
) -> torch.Tensor:
    """Band-pass each clip to ``level`` octaves centred (geometrically) on 1,010 Hz.

    The band is ``[1010 · 2^(-level/2), 1010 · 2^(level/2)]`` Hz: severity 1 (3.5 octaves) is exactly
    the 300–3,400 Hz telephone band (ITU-T G.712), severity 5 (1.5 octaves) is 600–1,700 Hz, and
    fractional severities between 0 and 1 narrow a 63 Hz–16 kHz band down to it. The filters are a
    4th-order Butterworth high-pass and an 8th-order Butterworth low-pass, as cascades of RBJ
    biquads (``torchaudio.functional.lfilter``); the low-pass is left out when its edge is within
    10 % of the Nyquist frequency (the sampling already band-limits there).
    Sources: ITU-T G.712, https://www.itu.int/rec/T-REC-G.712; the biquads of the Audio EQ
    Cookbook, https://www.w3.org/TR/audio-eq-cookbook/.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: width of the pass band in octaves, in ``(0, 8]``; 8 is the identity.
        generator: unused (deterministic).
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a width outside ``(0, 8]`` octaves.
    """
    _check(waveforms, sample_rate)
    if not 0.0 < level <= NOT_FILTERED_OCTAVES:
        raise ValueError(f"expected a band of (0, {NOT_FILTERED_OCTAVES:g}] octaves, got {level}")
    if level == NOT_FILTERED_OCTAVES:
        return waveforms.clone()
    low = BAND_CENTRE_HZ * 2 ** (-level / 2)
    high = BAND_CENTRE_HZ * 2 ** (level / 2)
    x = waveforms.to(torch.float64)
    for q in BUTTERWORTH_Q_4:
        x = _biquad(x, sample_rate, low, q, "high")
    if high < 0.45 * sample_rate:
        for q in BUTTERWORTH_Q_8:
            x = _biquad(x, sample_rate, high, q, "low")
    return x.to(waveforms.dtype)


# -- codecs ----------------------------------------------------------------------------------


def _mp3_settings(sample_rate: int, kbps: float) -> tuple[int, float]:
    """The encoder's sample rate and libsndfile ``compression_level`` for a target bitrate.

    The rate is the lowest MP3 rate at or above ``sample_rate`` (48 kHz at most); below 32 kbps an
    MPEG-1 rate (32-48 kHz) is halved to its MPEG-2 one, as LAME itself does, since MPEG-1 has no
    bitrate under 32 kbps. libsndfile maps ``compression_level`` ``c`` linearly onto the version's
    bitrate range (``max - c · (max - min)``), and LAME takes the nearest standard bitrate.
    """
    codec_rate = next((r for r in MP3_RATES if r >= sample_rate), MP3_RATES[-1])
    if codec_rate >= 32000 and kbps < 32:
        codec_rate //= 2
    top, bottom = (320.0, 32.0) if codec_rate >= 32000 else (160.0, 8.0) if codec_rate >= 16000 else (64.0, 8.0)
    compression = min(max((top - kbps) / (top - bottom), 0.0), MAX_COMPRESSION)
    return codec_rate, compression


@register_perturbation(
    "mp3",
    modality="audio",
    unit="MP3 bitrate in kbit/s, constant (320 = not re-encoded; capped at the rate's maximum: 64 at 8 kHz)",
    levels=(NOT_ENCODED_KBPS_MP3, 48.0, 32.0, 24.0, 16.0, 8.0),
    description="Re-encodes the clip as a low-bitrate MP3 (LAME through libsndfile): smeared, watery high frequencies.",
)
def mp3(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Round-trip each clip through a constant-bitrate MP3 at about ``level`` kbit/s.

    Encoded and decoded in memory by libsndfile (LAME and mpg123) through ``soundfile.write(...,
    compression_level=c, bitrate_mode="CONSTANT")``; soundfile takes no bitrate, so the level is
    mapped onto ``compression_level`` by libsndfile's own linear formula (:func:`_mp3_settings`), and
    LAME rounds it to the nearest standard MP3 bitrate (8, 16, 24, 32, 40, 48, 56, 64 kbit/s at
    8-12 kHz; up to 160 at 16-24 kHz; 32-320 at 32-48 kHz). Clips at other rates are resampled to
    the nearest MP3 rate and back. A level of 320 or more is the identity (nothing is re-encoded),
    since even 320 kbit/s MP3 is lossy. The decoded clip is aligned with the original (LAME's
    1,105-sample delay is removed where the file has no header to say so) and fitted to its length.
    Source: ISO/IEC 11172-3 (MPEG-1 Layer III) and 13818-3; LAME, https://lame.sourceforge.io/.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: bitrate in kbit/s, in ``[8, 320]``; 320 is the identity.
        generator: unused (deterministic).
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a bitrate outside ``[8, 320]`` kbit/s.
    """
    _check(waveforms, sample_rate)
    if not 8.0 <= level <= NOT_ENCODED_KBPS_MP3:
        raise ValueError(f"expected an MP3 bitrate in [8, 320] kbit/s, got {level}")
    if level >= NOT_ENCODED_KBPS_MP3:
        return waveforms.clone()
    codec_rate, compression = _mp3_settings(sample_rate, level)
    return _codec_round_trip(waveforms, sample_rate, codec_rate, "MP3", "MPEG_LAYER_III", compression)


@register_perturbation(
    "opus",
    modality="audio",
    unit="Opus target bitrate in kbit/s, variable (256 = not re-encoded)",
    levels=(NOT_ENCODED_KBPS_OPUS, 24.0, 16.0, 12.0, 8.0, 6.0),
    description="Re-encodes the clip as low-bitrate Opus, the codec of voice calls (WhatsApp, Zoom, WebRTC).",
)
def opus(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Round-trip each clip through Ogg/Opus at a target of about ``level`` kbit/s.

    Encoded and decoded in memory by libsndfile (libopus) through ``soundfile.write(...,
    compression_level=c)``; libsndfile maps ``c`` linearly onto 256 (c = 0) .. 6 (c = 1) kbit/s, so
    ``c = (256 - level) / 250``. Opus is variable-bitrate: the measured rate follows the target
    for speech but is lower for simple sounds. Clips are resampled to the lowest Opus rate at or
    above ``sample_rate`` (8, 12, 16, 24 or 48 kHz) and back. A level of 256 is the identity
    (nothing is re-encoded). Source: RFC 6716, https://www.rfc-editor.org/rfc/rfc6716.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: target bitrate in kbit/s, in ``[6, 256]``; 256 is the identity.
        generator: unused (deterministic).
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a bitrate outside ``[6, 256]`` kbit/s.
    """
    _check(waveforms, sample_rate)
    low, high = OPUS_KBPS_RANGE
    if not low <= level <= high:
        raise ValueError(f"expected an Opus bitrate in [{low:g}, {high:g}] kbit/s, got {level}")
    if level >= NOT_ENCODED_KBPS_OPUS:
        return waveforms.clone()
    codec_rate = next((r for r in OPUS_RATES if r >= sample_rate), OPUS_RATES[-1])
    compression = (high - level) / (high - low)
    return _codec_round_trip(waveforms, sample_rate, codec_rate, "OGG", "OPUS", compression)


# -- dropouts --------------------------------------------------------------------------------


@register_perturbation(
    "time_masks",
    modality="audio",
    unit="ms of sound masked (silenced) per clip, in two masks",
    levels=(0.0, 50.0, 100.0, 150.0, 200.0, 300.0),
    description="Silences two short stretches of the sound (dropped packets), like SpecAugment's time masks.",
)
def time_masks(waveforms: torch.Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> torch.Tensor:
    """Set two stretches of ``level / 2`` ms each to zero, centred at random within each clip's sound.

    SpecAugment's time masks (Park et al. 2019, https://arxiv.org/abs/1904.08779) on the waveform:
    the masked samples become silence, as a dropped packet or a dropout would make them. Each
    mask's centre is uniform over the span from the clip's first to its last non-zero sample (the
    padding of a short clip is not wasted on), drawn independently of the level, so the masks of a
    lower level lie inside those of a higher one. Masks can overlap or run past the clip's ends,
    so up to ``level`` ms are masked.

    Args:
        waveforms: ``(B, L)`` float clips at ``sample_rate``.
        level: total masked time in ms, >= 0; 0 is the identity.
        generator: source of the mask positions.
        sample_rate: Hz.

    Returns:
        ``(B, L)``, same dtype and device.

    Raises:
        ValueError: bad waveforms or a negative length.
    """
    _check(waveforms, sample_rate)
    if not level >= 0:
        raise ValueError(f"expected a masked time in ms >= 0, got {level}")
    b, length = waveforms.shape
    where = torch.rand(b, 2, generator=generator, dtype=torch.float64)  # (B, 2) position within the sound
    half_width = level * sample_rate / 1000 / 4  # each mask is level / 2 ms wide
    if half_width * 2 < 1:
        return waveforms.clone()
    loud = waveforms.detach().cpu() != 0
    positions = torch.arange(length, dtype=torch.float64)
    first = torch.where(loud.any(dim=1), loud.float().argmax(dim=1), 0).to(torch.float64)  # (B,)
    last = torch.where(loud.any(dim=1), length - 1 - loud.flip(1).float().argmax(dim=1), length - 1)
    centres = first.unsqueeze(1) + where * (last.to(torch.float64) - first).unsqueeze(1)  # (B, 2)
    masked = ((positions.view(1, 1, -1) - centres.unsqueeze(2)).abs() < half_width).any(dim=1)  # (B, L)
    return waveforms.masked_fill(masked.to(waveforms.device), 0.0)


# -- applying an entry -------------------------------------------------------------------------


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
