"""Audio corruptions of the path from the talker to the model: room, channel, codecs and dropouts.

``reverb`` (a synthetic room), ``telephone_band`` (a band-limited line), ``mp3`` and ``opus``
(lossy re-encoding through libsndfile, in memory) and ``time_masks`` (dropped packets), each with
a severity 0–5. The contract every audio entry keeps (shapes, generator, ``sample_rate``, identity
level) is in :mod:`playground.robustness.perturbations.audio`; these entries are registered last,
after the timing and pitch ones.
"""

from __future__ import annotations

import io
import math

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from playground.modalities.audio.resample import resample
from playground.robustness.perturbations.audio import _check, _power
from playground.robustness.perturbations.base import register_perturbation

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
