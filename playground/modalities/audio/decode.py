"""Decode audio bytes from any source into one mono float32 waveform, or fail clearly.

Every page that takes sound (upload, microphone recording, shipped sample) goes through
:func:`decode_audio`, so the preprocessing only ever sees a ``(L,)`` float32 waveform in
``[-1, 1]`` at a known rate. Decoding is done by ``soundfile`` (libsndfile 1.2.2) from memory;
the format is detected from the bytes, never from the file name, so an MP3 called ``clip.wav``
or a recording with no extension decodes as what it is. ``torchaudio.load`` is not used: in
torchaudio 2.11 it needs FFmpeg through torchcodec.

What is handled, and how:

==============================  ===========================================================
source                          result
==============================  ===========================================================
WAV PCM 8/16/24/32-bit, float,  read as float32 full scale (integer PCM divided by 2^(bits-1),
double, µ-law, A-law; FLAC;     libsndfile's scaling); FLAC, Vorbis, Opus and MP3 decoded by
OGG/Vorbis; Opus; MP3           libsndfile (Opus always decodes at 48 kHz)
several channels                the mean of the channels (mono), noted; channels that cancel
                                out (left = -right) give silence, and a note says why
float samples beyond ±1         clipped to [-1, 1], noted
NaN / infinite float samples    replaced by 0, noted
a file cut short                what decodes is kept and ``truncated`` is set, noted (WAV:
                                the header's data size is larger than the file; MP3: fewer
                                frames than the header promised; FLAC: the decoder lost sync)
AAC / M4A / MP4, WebM /         refused by name (detected by magic bytes); the message lists
Matroska, WMA, AMR, ADTS AAC    :data:`READABLE_FORMATS`
text, empty, corrupt, 0 frames  refused with :class:`AudioDecodeError`
==============================  ===========================================================

Limits (all refuse with :class:`AudioDecodeError`, checked from the header before the samples
are decoded, and again while reading in case the header lies):

* :data:`MAX_DURATION_S` = 600 s per upload;
* :data:`MAX_AUDIO_BYTES` = 200 MiB of encoded bytes (ten minutes of 48 kHz stereo 24-bit WAV is 165 MiB);
* sample rates from :data:`MIN_RATE_HZ` = 1000 Hz to :data:`MAX_RATE_HZ` = 384000 Hz, for the
  file and for any resampling target.

Other helpers: :func:`wav_bytes` (16-bit WAV for ``st.audio``, not normalised), :func:`sliding_windows`
(fixed-length windows over a clip) and :func:`decode_clips` (one file as an :class:`AudioClips`).
Resampling to ``target_rate`` is :func:`playground.modalities.audio.resample.resample`;
:class:`AudioDecodeError` and the rate limits are defined in :mod:`playground.modalities.audio.rates`
(shared with the resampler) and importable from here as well.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.rates import MAX_RATE_HZ as MAX_RATE_HZ
from playground.modalities.audio.rates import MIN_RATE_HZ as MIN_RATE_HZ
from playground.modalities.audio.rates import AudioDecodeError as AudioDecodeError
from playground.modalities.audio.rates import check_rate
from playground.modalities.audio.resample import resample

READABLE_FORMATS: tuple[str, ...] = (
    "WAV (PCM 8/16/24/32-bit, float, µ-law, A-law)",
    "FLAC",
    "OGG/Vorbis",
    "Opus",
    "MP3",
)
MAX_DURATION_S = 600.0  # seconds per upload
MAX_AUDIO_BYTES = 200 * 1024**2  # encoded bytes per upload

CLIP_LEVEL = 0.999  # |x| at or above this counts as a clipped (full-scale) sample
CLIP_NOTE_FRACTION = 0.001  # clipping above 0.1 % of samples gets a note
QUIET_PEAK = 1e-3  # a non-silent clip whose peak is below -60 dBFS gets a note

_READ_BLOCK = 1 << 16  # frames decoded per soundfile.read call

# libsndfile's log line for a WAV whose header claims more data than the file holds.
_WAV_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# libsndfile messages that would mislead a user (they come from reading memory, not a path).
_MISLEADING_DETAILS = ("does not exist", "not a regular file")


@dataclass(frozen=True)
class DecodedAudio:
    """One decoded clip, mixed to mono, with what was done to it.

    Attributes:
        waveform: ``(L,)`` float32 mono amplitudes in ``[-1, 1]`` (full scale), contiguous, L >= 1.
        sample_rate: samples per second of ``waveform`` (Hz), after any resampling.
        original_rate: samples per second of the file (Hz).
        channels: channels in the file (before the mono mix).
        duration_s: seconds of audio decoded (frames read / ``original_rate``).
        format: libsndfile's major format name: ``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``, ...
        subtype: libsndfile's subtype name: ``"PCM_16"``, ``"FLOAT"``, ``"VORBIS"``, ``"OPUS"``,
            ``"MPEG_LAYER_III"``, ...
        clipping_fraction: fraction in ``[0, 1]`` of the file's samples (all channels, before the
            mono mix) with ``|x| >= 0.999`` (:data:`CLIP_LEVEL`).
        truncated: the file ended before its header said it would; ``waveform`` holds what decoded.
        notes: human sentences about what was found or done, e.g. ``"mixed 2 channels down to
            mono"``, ``"resampled from 44100 Hz to 16000 Hz"``, ``"clipped: 3.2 % of samples at
            full scale"``, ``"silent: every sample is zero"``; empty when there is nothing to say.
    """

    waveform: torch.Tensor
    sample_rate: int
    original_rate: int
    channels: int
    duration_s: float
    format: str
    subtype: str
    clipping_fraction: float
    truncated: bool = False
    notes: tuple[str, ...] = ()

    @property
    def is_silent(self) -> bool:
        """True when every sample of ``waveform`` is exactly zero."""
        return not bool(torch.any(self.waveform))

    @property
    def peak(self) -> float:
        """The largest ``|x|`` of ``waveform``, in ``[0, 1]`` (full scale)."""
        return float(self.waveform.abs().max())


# -- messages --------------------------------------------------------------------------------


def _display_name(name: str) -> str:
    """The file name as shown in messages: printable, at most 80 characters."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in str(name)).strip() or "upload"
    return clean if len(clean) <= 80 else clean[:79] + "…"


def _readable() -> str:
    return "the formats that work are " + ", ".join(READABLE_FORMATS)


def _unreadable_container(head: bytes) -> str | None:
    """Name a known container libsndfile cannot read, from its first bytes, or ``None``."""
    if head[4:8] == b"ftyp":
        return "an MP4 / M4A file (AAC audio, as iPhone voice memos and many recorders make)"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "a WebM / Matroska file (what browsers record with MediaRecorder)"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "a WMA / ASF file"
    if head[:5] == b"#!AMR":
        return "an AMR file"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:  # ADTS sync, layer bits 00
        return "a raw AAC (ADTS) file"
    return None


def _looks_like_text(head: bytes) -> bool:
    """The first bytes are printable UTF-8 text (a cut multi-byte character at the end is allowed)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return bool(text) and all(ch.isprintable() or ch in "\t\r\n\f" for ch in text)


def _family(head: bytes) -> str | None:
    """The readable format the first bytes announce (for "damaged WAV" messages), or ``None``."""
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return "MP3"
    return None


def _open_error(shown: str, data: bytes, exc: Exception) -> AudioDecodeError:
    """The error for bytes libsndfile could not open."""
    head = data[:512]
    container = _unreadable_container(head)
    if container is not None:
        return AudioDecodeError(
            f"{shown} is {container}; AAC / M4A / MP4 and WebM audio cannot be decoded here "
            f"(no FFmpeg). Convert it first; {_readable()}"
        )
    if _looks_like_text(head):
        return AudioDecodeError(f"{shown} looks like a text file, not audio; {_readable()}")
    family = _family(head)
    detail = str(getattr(exc, "error_string", "") or exc)
    if family is None:
        return AudioDecodeError(f"{shown} is not in an audio format that can be read; {_readable()}")
    said = "" if any(m in detail for m in _MISLEADING_DETAILS) else f" (libsndfile: {detail})"
    return AudioDecodeError(f"{shown} looks like {family} but is damaged or truncated{said}")


def _percent(fraction: float) -> str:
    """``0.0321`` -> ``"3.2 %"``; small fractions keep two significant digits."""
    value = 100.0 * fraction
    return f"{value:.1f} %" if value >= 1 else f"{value:.2g} %"


def _dbfs(peak: float) -> str:
    """A peak amplitude in decibels relative to full scale: ``0.01`` -> ``"-40 dBFS"``."""
    return "-inf dBFS" if peak <= 0 else f"{20 * math.log10(peak):.0f} dBFS"


def _position(sound: sf.SoundFile) -> int:
    """Frames read so far, or 0 if the file cannot even say that."""
    try:
        return int(sound.tell())
    except (sf.SoundFileError, RuntimeError, OSError, ValueError):
        return 0


# -- decoding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """What the file says about itself before any sample is decoded."""

    rate: int  # samples per second, checked to lie in [MIN_RATE_HZ, MAX_RATE_HZ]
    channels: int  # >= 1
    frames: int  # frames the header announces (it may lie)
    format: str  # libsndfile's major format name ("WAV", "FLAC", ...)
    subtype: str  # libsndfile's subtype name ("PCM_16", "VORBIS", ...)
    log: str  # libsndfile's log of the header (``extra_info``), where a short WAV shows up


@dataclass
class _Samples:
    """What reading the samples gave: the mono blocks and the counts the notes are made from."""

    blocks: list[np.ndarray] = field(default_factory=list)  # (n,) float32 mono, one per read
    frames: int = 0  # frames read
    clipped: int = 0  # samples (all channels) with |x| >= CLIP_LEVEL
    beyond: int = 0  # float samples beyond ±1, clipped to [-1, 1]
    nonfinite: int = 0  # NaN / infinite samples, replaced by 0
    channel_peak: float = 0.0  # largest |x| of any channel, after clipping to [-1, 1]
    read_error: Exception | None = None  # what stopped the decoder early (a cut FLAC loses sync)


def _check_size(data: bytes, shown: str) -> None:
    """Refuse empty data and data over :data:`MAX_AUDIO_BYTES` before any parsing."""
    if not data:
        raise AudioDecodeError(f"{shown} is empty; {_readable()}")
    if len(data) > MAX_AUDIO_BYTES:
        raise AudioDecodeError(
            f"{shown} is {len(data) / 2**20:.0f} MiB; audio files up to {MAX_AUDIO_BYTES // 2**20} MiB are accepted"
        )


def _open(data: bytes, shown: str) -> sf.SoundFile:
    """Open the bytes with libsndfile (the format from the bytes), or say what they are instead."""
    try:
        return sf.SoundFile(io.BytesIO(data))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        raise _open_error(shown, data, exc) from exc


def _read_header(sound: sf.SoundFile, shown: str, max_duration_s: float) -> _Header:
    """The header's facts, with its rate, channels and announced length checked."""
    header = _Header(
        rate=int(sound.samplerate),
        channels=int(sound.channels),
        frames=int(sound.frames),
        format=str(sound.format),
        subtype=str(sound.subtype),
        log=str(sound.extra_info),
    )
    rate = check_rate(header.rate, f"the sample rate of {shown}")
    if header.channels < 1:
        raise AudioDecodeError(f"{shown} has no audio channels")
    if header.frames / rate > max_duration_s:
        raise AudioDecodeError(
            f"{shown} is {header.frames / rate:.1f} s long; the limit is {max_duration_s:g} s per clip"
        )
    return header


def _read_samples(sound: sf.SoundFile, channels: int, limit_frames: int) -> _Samples:
    """Read blocks of :data:`_READ_BLOCK` frames until the end, a read error, or one frame past the limit.

    Each block is cleaned (NaN / inf -> 0, beyond ±1 clipped, both counted) and mixed to mono at
    once, so several channels never sit in memory together. The frames decoded before a read error
    are kept.
    """
    samples = _Samples()
    while samples.frames <= limit_frames and samples.read_error is None:
        want = min(_READ_BLOCK, limit_frames + 1 - samples.frames)  # one frame past the limit tells
        block = np.empty((want, channels), dtype=np.float32)  # (want, channels)
        try:
            block = sound.read(out=block)  # (n, channels), n <= want
        except (sf.SoundFileError, RuntimeError, OSError, ValueError) as exc:
            # soundfile drops the count on an error, but the frames decoded before it are in
            # the buffer and the file position says how many (a cut FLAC "loses sync" here).
            samples.read_error = exc
            block = block[: max(0, min(want, _position(sound) - samples.frames))]
        if len(block) == 0:
            break
        _add_block(samples, block, channels)
    return samples


def _add_block(samples: _Samples, block: np.ndarray, channels: int) -> None:
    """Clean one ``(n, channels)`` float32 block, count what was found, and append its mono mix."""
    bad = ~np.isfinite(block)
    if bad.any():
        samples.nonfinite += int(bad.sum())
        block = np.where(bad, np.float32(0.0), block)
    magnitude = np.abs(block)
    samples.clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
    over = magnitude > 1.0
    if over.any():
        samples.beyond += int(over.sum())
        block = np.clip(block, -1.0, 1.0)
    samples.channel_peak = max(samples.channel_peak, min(1.0, float(magnitude.max())))
    mono = block[:, 0].copy() if channels == 1 else block.mean(axis=1, dtype=np.float32)  # (n,)
    samples.blocks.append(mono)
    samples.frames += len(block)


def _check_read(samples: _Samples, header: _Header, shown: str, max_duration_s: float, limit_frames: int) -> None:
    """Refuse a file that turned out longer than the limit (its header lied) or gave no frames."""
    if samples.frames > limit_frames:
        raise AudioDecodeError(
            f"{shown} is longer than {max_duration_s:g} s (its header said {header.frames / header.rate:.1f} s); "
            f"the limit is {max_duration_s:g} s per clip"
        )
    if samples.frames == 0:
        if samples.read_error is not None:
            raise AudioDecodeError(
                f"{shown} is a damaged or truncated {header.format} file; no audio could be decoded "
                f"({samples.read_error})"
            )
        hint = " (an OGG file that was cut short reads as empty)" if header.format == "OGG" else ""
        raise AudioDecodeError(f"{shown} holds no audio (0 samples){hint}")


def _truncation_note(samples: _Samples, header: _Header) -> str | None:
    """The note for a file cut short (a read error, a WAV shorter than its header, an MP3 missing
    frames), or ``None`` when the file is whole."""
    rate = header.rate
    decoded_s = samples.frames / rate
    shortfall = _WAV_SHORT_DATA.search(header.log)
    if samples.read_error is not None:
        return f"truncated or damaged: decoding stopped after {decoded_s:.2f} s ({samples.read_error})"
    if shortfall is not None and int(shortfall.group(2)) < int(shortfall.group(1)):
        declared, present = int(shortfall.group(1)), int(shortfall.group(2))
        return (
            f"truncated: the header announces {declared} bytes of samples, the file holds {present} "
            f"({decoded_s:.2f} s decoded)"
        )
    if samples.frames < header.frames - max(1152, header.frames // 100):  # MP3 frames hold 1152 samples
        return f"truncated: the header announces {header.frames / rate:.2f} s, only {decoded_s:.2f} s decoded"
    return None


def _sample_notes(samples: _Samples, channels: int) -> list[str]:
    """Notes on what the samples needed: NaN replaced, overshoot clipped, channels mixed, clipping."""
    n_samples = samples.frames * channels
    clipping_fraction = samples.clipped / n_samples
    notes: list[str] = []
    if samples.nonfinite:
        notes.append(f"replaced {samples.nonfinite} NaN or infinite samples with 0")
    if samples.beyond:
        notes.append(
            f"{_percent(samples.beyond / n_samples)} of samples were beyond full scale and were clipped to [-1, 1]"
        )
    if channels > 1:
        notes.append(f"mixed {channels} channels down to mono")
    if clipping_fraction > CLIP_NOTE_FRACTION:
        notes.append(f"clipped: {_percent(clipping_fraction)} of samples at full scale")
    return notes


def _level_note(peak: float, channel_peak: float, channels: int) -> str | None:
    """The note on a silent, cancelled-out or very quiet result (``peak``: the final mono peak)."""
    if channel_peak == 0.0:
        return "silent: every sample is zero"
    if channels > 1 and peak < 0.01 * channel_peak:
        return (
            f"the channels cancel out: the mono mix peaks at {_dbfs(peak)} "
            f"while the channels reach {_dbfs(channel_peak)}"
        )
    if peak < QUIET_PEAK:
        return f"very quiet: the peak is at {_dbfs(peak)}"
    return None


def decode_audio(
    data: bytes,
    *,
    target_rate: int | None = None,
    max_duration_s: float = MAX_DURATION_S,
    name: str = "upload",
) -> DecodedAudio:
    """Decode encoded audio bytes (WAV, FLAC, OGG/Vorbis, Opus, MP3) into one mono waveform.

    The format is detected from the bytes (no extension is trusted, no ``format=`` is passed).
    The length is checked from the header before any sample is decoded; samples are then read in
    blocks of 65536 frames, mixed to mono block by block (so several channels never sit in memory
    at once), and reading stops as soon as the limit is passed even if the header lied.

    Args:
        data: the encoded file.
        target_rate: resample to this rate (Hz) if given and different from the file's; ``None``
            keeps the file's rate.
        max_duration_s: refuse files longer than this many seconds (default 600).
        name: the file name, used in error messages only ("memo.m4a is an MP4 / M4A file ...").

    Returns:
        A :class:`DecodedAudio`: ``(L,)`` float32 mono in ``[-1, 1]`` at ``target_rate`` (or the
        file's rate), with the file's rate, channels, format, clipping fraction and notes. An
        all-zero file decodes (``is_silent``), with no NaN anywhere.

    Raises:
        TypeError: ``data`` is not bytes-like.
        ValueError: ``max_duration_s`` is not positive.
        AudioDecodeError: empty data, text, an unreadable container (AAC / M4A / WebM: the message
            names :data:`READABLE_FORMATS`), a corrupt or truncated header, no audio frames, a file
            longer than ``max_duration_s`` or larger than :data:`MAX_AUDIO_BYTES`, or a file or target
            rate outside [1000, 384000] Hz.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected audio data as bytes, got {type(data).__name__}")
    if not max_duration_s > 0:
        raise ValueError(f"max_duration_s must be positive, got {max_duration_s}")
    if target_rate is not None:
        target_rate = check_rate(target_rate, "the target sample rate")
    shown = _display_name(name)
    data = bytes(data)
    _check_size(data, shown)

    with _open(data, shown) as sound:
        header = _read_header(sound, shown, max_duration_s)
        limit_frames = math.floor(max_duration_s * header.rate)
        samples = _read_samples(sound, header.channels, limit_frames)
    _check_read(samples, header, shown, max_duration_s, limit_frames)

    truncation = _truncation_note(samples, header)
    notes = [truncation] if truncation is not None else []
    notes += _sample_notes(samples, header.channels)
    mono = np.concatenate(samples.blocks) if len(samples.blocks) > 1 else samples.blocks[0]
    waveform = torch.from_numpy(mono)  # (L,) float32
    sample_rate = header.rate
    if target_rate is not None and target_rate != header.rate:
        waveform = resample(waveform, header.rate, target_rate).clamp_(-1.0, 1.0)
        sample_rate = target_rate
        notes.append(f"resampled from {header.rate} Hz to {target_rate} Hz")
    waveform = waveform.contiguous()
    level = _level_note(float(waveform.abs().max()), samples.channel_peak, header.channels)
    if level is not None:
        notes.append(level)

    return DecodedAudio(
        waveform=waveform,
        sample_rate=sample_rate,
        original_rate=header.rate,
        channels=header.channels,
        duration_s=samples.frames / header.rate,
        format=header.format,
        subtype=header.subtype,
        clipping_fraction=samples.clipped / (samples.frames * header.channels),
        truncated=truncation is not None,
        notes=tuple(notes),
    )


def decode_clips(data: bytes, filename: str = "") -> AudioClips:
    """Decode one file as a batch of one clip at its own rate (the audio modality's ``read_inputs``).

    Args:
        data: the encoded file (any format :func:`decode_audio` reads; the name is not trusted).
        filename: used in error messages only.

    Returns:
        :class:`AudioClips` with ``waveforms`` ``(1, L)`` float32 in ``[-1, 1]``, ``lengths`` ``(1,)``
        and the file's ``sample_rate``.

    Raises:
        AudioDecodeError: (a ``ValueError``) for anything :func:`decode_audio` refuses.
        TypeError: ``data`` is not bytes-like.
    """
    decoded = decode_audio(data, name=filename or "upload")
    return AudioClips.from_list([decoded.waveform], decoded.sample_rate)


# -- output and windows ----------------------------------------------------------------------


def wav_bytes(waveform: torch.Tensor, sample_rate: int) -> bytes:
    """Encode a mono waveform as a 16-bit PCM WAV file, e.g. for ``st.audio``.

    The amplitudes are NOT normalised (``st.audio`` would normalise a numpy array): a quiet
    perturbation plays quietly. Values beyond ±1 are clipped and NaN becomes 0.

    Args:
        waveform: ``(L,)`` floating amplitudes, full scale ±1, on any device (detached here).
        sample_rate: samples per second (Hz), in [1000, 384000].

    Returns:
        The bytes of a RIFF/WAVE file, PCM_16, one channel.

    Raises:
        TypeError: ``waveform`` is not a floating tensor.
        ValueError: ``waveform`` is not 1-D.
        AudioDecodeError: ``sample_rate`` outside [1000, 384000] Hz.
    """
    sample_rate = check_rate(sample_rate, "the sample rate")
    if not isinstance(waveform, torch.Tensor) or not waveform.is_floating_point():
        raise TypeError(f"expected a floating waveform tensor, got {getattr(waveform, 'dtype', type(waveform))}")
    if waveform.ndim != 1:
        raise ValueError(f"expected a (L,) waveform, got shape {tuple(waveform.shape)}")
    x = torch.nan_to_num(waveform.detach().to("cpu", torch.float32), nan=0.0).clamp(-1.0, 1.0).numpy()
    buffer = io.BytesIO()
    sf.write(buffer, x, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def sliding_windows(waveform: torch.Tensor, window: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a clip into fixed-length windows that cover all of it.

    Window ``i`` holds samples ``[i * hop, i * hop + window)``; windows are added until the last one
    reaches the end of the clip, and it is zero-padded there. A clip no longer than ``window``
    gives one window, padded. The windows are copies, not views of ``waveform``.

    Args:
        waveform: ``(L,)`` amplitudes, L >= 1.
        window: samples per window, >= 1.
        hop: samples between window starts, 1 <= hop <= window (so no sample is skipped).

    Returns:
        ``windows`` ``(W, window)`` float32 with ``W = 1 + ceil(max(L - window, 0) / hop)``, and
        ``starts`` ``(W,)`` int64, the first sample of each window.

    Raises:
        ValueError: ``waveform`` is not 1-D or is empty, or ``window`` / ``hop`` out of range.
    """
    if waveform.ndim != 1 or waveform.numel() == 0:
        raise ValueError(f"expected a non-empty (L,) waveform, got shape {tuple(waveform.shape)}")
    if window < 1 or not 1 <= hop <= window:
        raise ValueError(f"expected window >= 1 and 1 <= hop <= window, got window={window}, hop={hop}")
    length = waveform.shape[0]
    count = 1 + math.ceil(max(length - window, 0) / hop)  # W
    padded = F.pad(waveform.to(torch.float32), (0, (count - 1) * hop + window - length))  # (L',)
    windows = padded.unfold(0, window, hop).contiguous()  # (W, window)
    starts = torch.arange(count, dtype=torch.int64) * hop  # (W,)
    return windows, starts
