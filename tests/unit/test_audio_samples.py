"""Tests for the shipped audio samples (playground.modalities.audio.samples, assets/samples/audio)."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch

from playground.data.fsdd import CLASSES
from playground.modalities.audio.decode import decode_audio
from playground.modalities.audio.samples import (
    AUDIO_SAMPLES_DIR,
    LICENSES_PATH,
    AudioSample,
    get_audio_sample,
    list_audio_samples,
    load_audio_sample,
)

SAMPLES = list_audio_samples()
NAMES = [s.name for s in SAMPLES]

# file extension -> soundfile's (format, subtype)
FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".ogg": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
}


def test_catalogue_covers_both_kinds_and_every_format() -> None:
    assert len(set(NAMES)) == len(NAMES)
    fsdd = list_audio_samples("fsdd")
    synthetic = list_audio_samples("synthetic")
    assert len(fsdd) >= 4 and len(synthetic) >= 2
    assert [s.name for s in fsdd + synthetic] == NAMES
    assert {s.path.suffix for s in fsdd} == set(FORMATS)  # one FSDD clip per upload format
    assert len({s.label for s in fsdd}) == len(fsdd)  # different digits
    assert any(len(s.sequence) > 1 for s in synthetic)  # a clip of several digits for the timeline


def test_unknown_kind_and_name_are_refused() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        list_audio_samples("speech")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="known samples: seven_jackson"):
        get_audio_sample("nope")


@pytest.mark.parametrize("sample", SAMPLES, ids=NAMES)
def test_sample_fields_are_consistent(sample: AudioSample) -> None:
    assert sample.path.parent == AUDIO_SAMPLES_DIR and sample.path.stem == sample.name
    assert sample.path.is_file(), f"{sample.path} is missing; run scripts/make_audio_samples.py"
    assert sample.title and sample.author and sample.licence and sample.source
    assert sample.sequence and all(label in CLASSES for label in sample.sequence)
    assert sample.label == (sample.sequence[0] if len(sample.sequence) == 1 else None)
    if sample.kind == "fsdd":
        assert sample.licence == "CC BY-SA 4.0"
        assert "free-spoken-digit-dataset" in sample.source
        recording = sample.source.split("recordings/")[1].split(",")[0]  # "{digit}_{speaker}_{index}.wav"
        digit, speaker, index = recording.removesuffix(".wav").split("_")
        assert digit == sample.label and speaker in sample.name
        assert int(index) <= 4, "FSDD samples must come from the official test split (index 0-4)"
    else:
        assert "eSpeak NG" in sample.author and "GPL" in sample.licence
        assert "voice" in sample.source and "rate" in sample.source and "pitch" in sample.source


@pytest.mark.parametrize("sample", SAMPLES, ids=NAMES)
def test_sample_format_is_what_its_name_says(sample: AudioSample) -> None:
    info = sf.info(str(sample.path))
    assert (info.format, info.subtype) == FORMATS[sample.path.suffix]
    assert info.channels == 1


@pytest.mark.parametrize("sample", SAMPLES, ids=NAMES)
def test_sample_decodes_to_finite_non_silent_audio(sample: AudioSample) -> None:
    decoded = decode_audio(sample.path.read_bytes(), name=sample.path.name)
    assert decoded.sample_rate == decoded.original_rate == sample.sample_rate
    assert bool(torch.isfinite(decoded.waveform).all())
    assert not decoded.is_silent and decoded.peak > 0.01
    assert not decoded.truncated and decoded.clipping_fraction == 0.0
    if len(sample.sequence) > 1:
        assert 4.0 <= decoded.duration_s <= 6.5  # the long clip for predictions over time
    else:
        assert 0.2 <= decoded.duration_s <= 1.5
    assert torch.equal(load_audio_sample(sample.name).waveform, decoded.waveform)


def test_load_audio_sample_resamples_on_request() -> None:
    decoded = load_audio_sample("seven_espeak_f3", target_rate=8000)
    assert decoded.sample_rate == 8000 and decoded.original_rate == 22050


def test_licence_file_names_every_sample() -> None:
    text = LICENSES_PATH.read_text(encoding="utf-8")
    assert "## Audio samples" in text
    for sample in SAMPLES:
        assert f"`audio/{sample.path.name}`" in text, f"{sample.path.name} is not in {LICENSES_PATH.name}"
    assert "CC BY-SA 4.0" in text and "eSpeak NG" in text and "GPL" in text
    assert "cat.jpg" in text  # the image samples' part is kept


def test_no_stray_files_in_the_audio_folder() -> None:
    assert {p.name for p in AUDIO_SAMPLES_DIR.iterdir()} == {s.path.name for s in SAMPLES}
