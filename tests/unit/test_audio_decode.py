"""Audio decoding: every format and depth soundfile writes, channels, rates, broken files, limits.

Every file is made here with soundfile (libsndfile 1.2.2); nothing comes from the network.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
import torch

from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import (
    MAX_RATE_HZ,
    MIN_RATE_HZ,
    READABLE_FORMATS,
    AudioDecodeError,
    DecodedAudio,
    decode_audio,
    decode_clips,
    sliding_windows,
    wav_bytes,
)
from playground.modalities.audio.resample import resample

FORMAT_WORDS = ("WAV", "FLAC", "OGG/Vorbis", "Opus", "MP3")


def tone(rate: int, seconds: float = 1.0, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """``(rate * seconds,)`` float32 sine."""
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode(x: np.ndarray, rate: int, fmt: str = "WAV", subtype: str | None = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, x, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def peak_hz(x: torch.Tensor | np.ndarray, rate: int) -> float:
    """Frequency (Hz) of the largest bin of the Hann-windowed spectrum."""
    signal = np.asarray(x, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.argmax(spectrum)) * rate / len(signal)


def assert_readable_formats_named(message: str) -> None:
    for fmt in READABLE_FORMATS:
        assert fmt in message
    for word in FORMAT_WORDS:
        assert word in message


def assert_sane(decoded: DecodedAudio) -> None:
    w = decoded.waveform
    assert w.ndim == 1 and w.dtype == torch.float32 and w.is_contiguous() and w.numel() >= 1
    assert torch.isfinite(w).all()
    assert float(w.abs().max()) <= 1.0


# -- formats -----------------------------------------------------------------------------------

LOSSLESS = [
    ("WAV", "PCM_U8", 1 / 64),
    ("WAV", "PCM_16", 1e-4),
    ("WAV", "PCM_24", 1e-6),
    ("WAV", "PCM_32", 1e-6),
    ("WAV", "FLOAT", 0.0),
    ("WAV", "DOUBLE", 0.0),
    ("WAV", "ULAW", 0.02),  # 8-bit companding: steps of up to ~1/64 near 0.5
    ("WAV", "ALAW", 0.02),
    ("FLAC", "PCM_16", 1e-4),
    ("FLAC", "PCM_24", 1e-6),
]


@pytest.mark.parametrize(("fmt", "subtype", "tolerance"), LOSSLESS)
def test_lossless_round_trip(fmt: str, subtype: str, tolerance: float) -> None:
    x = tone(8000)
    decoded = decode_audio(encode(x, 8000, fmt, subtype))
    assert_sane(decoded)
    assert (decoded.format, decoded.subtype) == (fmt, subtype)
    assert (decoded.sample_rate, decoded.original_rate, decoded.channels) == (8000, 8000, 1)
    assert decoded.waveform.shape == (8000,)
    assert decoded.duration_s == pytest.approx(1.0)
    assert float(np.abs(decoded.waveform.numpy() - x).max()) <= tolerance
    assert np.corrcoef(decoded.waveform.numpy(), x)[0, 1] > 0.999
    assert decoded.notes == () and not decoded.truncated and decoded.clipping_fraction == 0.0


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate", "expected_subtype"),
    [
        ("OGG", "VORBIS", 16000, "VORBIS"),
        ("OGG", "OPUS", 48000, "OPUS"),
        ("MP3", None, 8000, "MPEG_LAYER_III"),
        ("MP3", None, 44100, "MPEG_LAYER_III"),
    ],
)
def test_lossy_round_trip_keeps_the_pitch(fmt: str, subtype: str | None, rate: int, expected_subtype: str) -> None:
    x = tone(rate)
    decoded = decode_audio(encode(x, rate, fmt, subtype))
    assert_sane(decoded)
    assert (decoded.format, decoded.subtype, decoded.sample_rate) == (fmt, expected_subtype, rate)
    assert abs(len(decoded.waveform) - len(x)) <= 0.05 * len(x)
    assert peak_hz(decoded.waveform, rate) == pytest.approx(440, abs=5)
    middle = decoded.waveform[len(x) // 4 : len(x) // 2]
    assert 0.35 < float(middle.abs().max()) < 0.7  # the 0.5 amplitude survives the codec


def test_mp3_bytes_decode_whatever_the_name_says() -> None:
    data = encode(tone(8000), 8000, "MP3", None)
    clips = decode_clips(data, "recording")  # no extension
    assert isinstance(clips, AudioClips)
    assert clips.waveforms.shape[0] == 1 and clips.sample_rate == 8000
    assert peak_hz(clips.clip(0), 8000) == pytest.approx(440, abs=5)
    assert decode_audio(data, name="clip.wav").format == "MP3"  # the extension is not trusted


# -- channels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights",
    [(1.0,), (1.0, 0.5), (1.0, -1.0, 0.5, 0.25, 0.0, 0.75)],
    ids=["mono", "stereo", "5.1"],
)
def test_channels_are_averaged(weights: tuple[float, ...]) -> None:
    x = tone(8000)
    frames = np.stack([w * x for w in weights], axis=1).astype(np.float32)  # (L, C)
    decoded = decode_audio(encode(frames, 8000, "WAV", "FLOAT"))
    assert decoded.channels == len(weights)
    expected = float(np.mean(weights)) * x  # 1.0, 0.75, 0.25 times the tone
    np.testing.assert_allclose(decoded.waveform.numpy(), expected, atol=1e-6)
    mixed = [n for n in decoded.notes if "mixed" in n]
    assert mixed == ([f"mixed {len(weights)} channels down to mono"] if len(weights) > 1 else [])


def test_channels_that_cancel_give_near_silence_and_say_why() -> None:
    x = tone(8000)
    decoded = decode_audio(encode(np.stack([x, -x], axis=1), 8000, "WAV", "PCM_16"))
    assert float(decoded.waveform.abs().max()) < 1e-4  # at most one 16-bit step apart
    assert any("cancel" in n for n in decoded.notes)


# -- rates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resampling_to_16k_keeps_440_hz(rate: int) -> None:
    decoded = decode_audio(encode(tone(rate), rate), target_rate=16000)
    assert_sane(decoded)
    assert decoded.sample_rate == 16000 and decoded.original_rate == rate
    assert decoded.waveform.shape == (16000,)
    assert decoded.duration_s == pytest.approx(1.0)
    assert peak_hz(decoded.waveform, 16000) == pytest.approx(440, abs=5)
    middle = decoded.waveform[4000:12000]
    assert float(middle.abs().max()) == pytest.approx(0.5, abs=0.01)
    resampled_notes = [n for n in decoded.notes if n.startswith("resampled")]
    assert resampled_notes == ([] if rate == 16000 else [f"resampled from {rate} Hz to 16000 Hz"])


def test_resample_odd_rate_pair_avoids_a_huge_kernel() -> None:
    # 11127 and 16000 share no factor: torchaudio's kernel would hold 178 M taps; the FFT path runs.
    x = torch.from_numpy(tone(11127))
    y = resample(x, 11127, 16000)
    assert y.shape == (16000,) and y.dtype == torch.float32
    assert peak_hz(y, 16000) == pytest.approx(440, abs=5)
    assert float(y[4000:12000].abs().max()) == pytest.approx(0.5, abs=0.01)


def test_resample_fft_and_sinc_paths_agree() -> None:
    from playground.modalities.audio.resample import _fft_resample, _resampler

    x = torch.from_numpy(tone(44100, freq=440) + tone(44100, freq=3000, amplitude=0.2))
    sinc = _resampler(44100, 16000, "cpu")(x)
    fft = _fft_resample(x, 44100, 16000)
    assert sinc.shape == fft.shape == (16000,)
    assert float((sinc - fft)[1000:-1000].abs().max()) < 1e-3


def test_resample_batches_and_identity() -> None:
    x = torch.randn(2, 3, 4410)
    y = resample(x, 44100, 8000)
    assert y.shape == (2, 3, 800) and y.dtype == torch.float32
    torch.testing.assert_close(y[1, 2], resample(x[1, 2], 44100, 8000))
    assert resample(x, 8000, 8000) is x


@pytest.mark.parametrize(("orig", "new"), [(500, 16000), (16000, 500), (16000, MAX_RATE_HZ + 1)])
def test_resample_refuses_rates_outside_the_limits(orig: int, new: int) -> None:
    with pytest.raises(AudioDecodeError, match="Hz"):
        resample(torch.zeros(100), orig, new)


def test_a_500_hz_file_is_refused() -> None:
    with pytest.raises(AudioDecodeError, match=f"500 Hz.*{MIN_RATE_HZ} Hz"):
        decode_audio(encode(tone(500, freq=50), 500))
    with pytest.raises(AudioDecodeError, match="500 Hz"):
        decode_audio(encode(tone(8000), 8000), target_rate=500)


# -- content -----------------------------------------------------------------------------------


def test_a_20_ms_click_decodes() -> None:
    click = np.zeros(320, dtype=np.float32)  # 20 ms at 16 kHz
    click[160] = 0.8
    decoded = decode_audio(encode(click, 16000))
    assert decoded.waveform.shape == (320,) and decoded.duration_s == pytest.approx(0.02)
    assert int(decoded.waveform.abs().argmax()) == 160
    assert float(decoded.waveform[160]) == pytest.approx(0.8, abs=1e-4)
    down = decode_audio(encode(click, 16000), target_rate=8000)
    assert down.waveform.shape == (160,) and torch.isfinite(down.waveform).all()


def test_silence_is_silent_and_finite() -> None:
    data = encode(np.zeros(3 * 8000, dtype=np.float32), 8000)
    for target in (None, 16000):
        decoded = decode_audio(data, target_rate=target)
        assert decoded.is_silent and decoded.peak == 0.0
        assert torch.isfinite(decoded.waveform).all()
        assert decoded.clipping_fraction == 0.0 and decoded.duration_s == pytest.approx(3.0)
        assert "silent: every sample is zero" in decoded.notes
    assert not decode_audio(encode(tone(8000), 8000)).is_silent


def test_full_scale_square_wave_is_reported_as_clipped() -> None:
    square = np.sign(tone(8000)).astype(np.float32)  # ±1, one zero at t = 0
    decoded = decode_audio(encode(square, 8000))
    assert decoded.clipping_fraction == pytest.approx(7999 / 8000)
    assert "clipped: 100.0 % of samples at full scale" in decoded.notes
    assert decode_audio(encode(0.9 * square, 8000)).clipping_fraction == 0.0


def test_nan_inf_and_overrange_float_samples_are_cleaned() -> None:
    x = tone(8000)
    x[10], x[20], x[30] = np.nan, np.inf, 2.0
    decoded = decode_audio(encode(x, 8000, "WAV", "FLOAT"))
    assert_sane(decoded)
    assert float(decoded.waveform[10]) == 0.0 and float(decoded.waveform[20]) == 0.0
    assert float(decoded.waveform[30]) == 1.0
    assert any("NaN" in n for n in decoded.notes) and any("beyond full scale" in n for n in decoded.notes)


# -- broken files ------------------------------------------------------------------------------


def test_wav_cut_in_the_middle_of_the_data_keeps_what_is_there() -> None:
    x = tone(8000)
    data = encode(x, 8000)
    decoded = decode_audio(data[: 44 + 2 * 3000 + 1])  # 3000 frames and half a sample
    assert decoded.truncated
    assert decoded.waveform.shape == (3000,)
    np.testing.assert_allclose(decoded.waveform.numpy(), x[:3000], atol=1e-4)
    assert any(n.startswith("truncated") for n in decoded.notes)
    assert not decode_audio(data).truncated


def test_truncated_flac_and_mp3_decode_partly() -> None:
    flac = encode(np.tile(tone(8000), 5), 8000, "FLAC", "PCM_16")
    decoded = decode_audio(flac[: len(flac) // 2])
    assert decoded.truncated and 1.0 < decoded.duration_s < 2.6
    mp3 = encode(tone(8000), 8000, "MP3", None)
    decoded = decode_audio(mp3[: len(mp3) // 2])
    assert decoded.truncated and 0.1 < decoded.duration_s < 0.9


def test_truncated_ogg_reads_as_empty_and_is_refused() -> None:
    ogg = encode(np.tile(tone(8000), 5), 8000, "OGG", "VORBIS")
    with pytest.raises(AudioDecodeError, match="no audio"):
        decode_audio(ogg[: len(ogg) // 2])


def test_truncated_header_is_refused() -> None:
    data = encode(tone(8000), 8000)
    with pytest.raises(AudioDecodeError, match="WAV but is damaged or truncated"):
        decode_audio(data[:30], name="cut.wav")
    with pytest.raises(AudioDecodeError, match="no audio"):
        decode_audio(data[:44])  # a complete header and no samples


def test_corrupt_header_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(AudioDecodeError) as info:
        decode_audio(b"RIFF" + rng.bytes(2000), name="noise.wav")
    assert "noise.wav" in str(info.value)
    assert_readable_formats_named(str(info.value))
    with pytest.raises(AudioDecodeError, match="damaged"):
        decode_audio(b"RIFF" + struct.pack("<I", 2008) + b"WAVE" + rng.bytes(2000))


def test_zero_frames_are_refused() -> None:
    with pytest.raises(AudioDecodeError, match=r"no audio \(0 samples\)"):
        decode_audio(encode(np.zeros(0, dtype=np.float32), 8000))


def test_text_file_named_wav_is_refused_with_the_readable_formats() -> None:
    with pytest.raises(AudioDecodeError) as info:
        decode_audio(b"this is not a sound, just some notes\n" * 20, name="notes.wav")
    message = str(info.value)
    assert "notes.wav" in message and "text" in message
    assert_readable_formats_named(message)


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(AudioDecodeError, match="empty"):
        decode_audio(b"")
    from playground.modalities.audio import decode

    with pytest.raises(AudioDecodeError, match="201 MiB; audio files up to 200 MiB"):  # before any parsing
        decode_audio(bytes(decode.MAX_AUDIO_BYTES + 2**20), name="huge.wav")
    with pytest.raises(ValueError, match="empty"):  # AudioDecodeError is a ValueError
        decode_clips(b"", "x.wav")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00\x00\x00\x20ftypM4A " + bytes(1000), ("M4A", "AAC")),
        (b"\x1a\x45\xdf\xa3" + bytes(1000), ("WebM",)),
    ],
    ids=["m4a", "webm"],
)
def test_aac_m4a_and_webm_are_named(data: bytes, words: tuple[str, ...]) -> None:
    with pytest.raises(AudioDecodeError) as info:
        decode_audio(data, name="memo")
    message = str(info.value)
    for word in (*words, "AAC", "M4A", "WebM"):
        assert word in message
    assert_readable_formats_named(message)


def test_wrong_input_types() -> None:
    with pytest.raises(TypeError, match="bytes"):
        decode_audio("RIFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_duration_s"):
        decode_audio(encode(tone(8000), 8000), max_duration_s=0)


# -- limits ------------------------------------------------------------------------------------


def test_a_long_clip_is_refused_from_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(tone(8000, seconds=2.0), 8000)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("samples were decoded")

    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    with pytest.raises(AudioDecodeError, match=r"2\.0 s long; the limit is 1\.5 s"):
        decode_audio(data, max_duration_s=1.5, name="long.wav")
    monkeypatch.undo()
    assert decode_audio(data, max_duration_s=2.0).duration_s == pytest.approx(2.0)


# -- output helpers ----------------------------------------------------------------------------


def test_wav_bytes_round_trip_keeps_a_quiet_signal_quiet() -> None:
    quiet = torch.from_numpy(tone(16000, amplitude=0.01))
    data = wav_bytes(quiet, 16000)
    info = sf.info(io.BytesIO(data))
    assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, 16000)
    decoded = decode_audio(data)
    assert decoded.peak == pytest.approx(0.01, abs=1e-4)  # not normalised to full scale
    np.testing.assert_allclose(decoded.waveform.numpy(), quiet.numpy(), atol=1e-4)
    assert any(n.startswith("very quiet") for n in decode_audio(wav_bytes(quiet * 0.05, 16000)).notes)


def test_wav_bytes_clips_and_cleans() -> None:
    x = torch.tensor([0.0, 1.5, -3.0, float("nan"), 0.25], requires_grad=True)
    decoded = decode_audio(wav_bytes(x, 8000))
    np.testing.assert_allclose(decoded.waveform.numpy(), [0.0, 1.0, -1.0, 0.0, 0.25], atol=1e-4)
    with pytest.raises(ValueError, match=r"\(L,\)"):
        wav_bytes(torch.zeros(2, 10), 8000)
    with pytest.raises(AudioDecodeError):
        wav_bytes(torch.zeros(10), 100)


@pytest.mark.parametrize(
    ("length", "window", "hop", "expected_starts"),
    [
        (10, 4, 3, [0, 3, 6]),  # 6 + 4 = 10: exact cover
        (11, 4, 3, [0, 3, 6, 9]),  # the last window holds samples 9, 10 and two zeros
        (3, 4, 2, [0]),  # shorter than a window: one padded window
        (8, 4, 4, [0, 4]),
    ],
)
def test_sliding_windows_cover_the_clip(length: int, window: int, hop: int, expected_starts: list[int]) -> None:
    x = torch.arange(1, length + 1, dtype=torch.float32)
    windows, starts = sliding_windows(x, window, hop)
    assert windows.shape == (len(expected_starts), window) and windows.dtype == torch.float32
    assert starts.dtype == torch.int64 and starts.tolist() == expected_starts
    covered = torch.zeros(length, dtype=torch.bool)
    for row, start in zip(windows, starts.tolist(), strict=True):
        end = min(start + window, length)
        torch.testing.assert_close(row[: end - start], x[start:end])
        assert (row[end - start :] == 0).all()  # padding only past the end
        covered[start:end] = True
    assert covered.all()


def test_sliding_windows_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sliding_windows(torch.zeros(0), 4, 2)
    with pytest.raises(ValueError):
        sliding_windows(torch.zeros(10), 4, 5)  # a gap between windows
    with pytest.raises(ValueError):
        sliding_windows(torch.zeros(2, 10), 4, 2)


def test_decode_clips_gives_a_batch_of_one_at_the_file_rate() -> None:
    clips = decode_clips(encode(tone(22050, seconds=0.5), 22050), "a.wav")
    assert clips.waveforms.shape == (1, 11025) and clips.lengths.tolist() == [11025]
    assert clips.sample_rate == 22050
