"""The user's own clips (``audio_folder``), recorded clips as a zip, and fine-tuning the shipped digit model."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from playground.bundle.audio import pretrained_audio_bundle
from playground.data import DATASETS, load_dataset, split_dataset
from playground.data.audio_folder import MAX_CLIP_S, clips_zip
from playground.models import MODELS
from playground.models.base import WeightsUnavailableError
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "assets/samples/audio"


def tone(hz: float, seconds: float = 0.5, rate: int = 22050) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def write(path: Path, samples: np.ndarray, rate: int, fmt: str = "WAV") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, samples, rate, format=fmt)


def test_class_folders_of_any_format_and_rate_become_one_dataset(tmp_path: Path) -> None:
    top = tmp_path / "my_words"  # one wrapper folder, as a zip of a folder gives
    write(top / "low" / "a.wav", tone(220), 22050)
    write(top / "low" / "deeper" / "b.flac", tone(200, rate=8000), 8000, "FLAC")
    write(top / "high" / "c.ogg", np.stack([tone(2000), tone(2000)], axis=1), 22050, "OGG")  # stereo
    write(top / "high" / "long.wav", tone(1800, seconds=MAX_CLIP_S + 2, rate=8000), 8000)
    (top / "high" / "notes.txt").write_text("not audio")  # another kind: not read
    (top / "high" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # does not decode: skipped
    (top / ".hidden").mkdir()
    write(top / ".hidden" / "x.wav", tone(500), 22050)
    (top / "empty").mkdir()

    data = load_dataset("audio_folder", path=top, sample_rate=16000)
    assert data.modality == "audio" and data.classes == ["high", "low"] and data.sample_rate == 16000
    assert data.targets.tolist() == [0, 0, 1, 1] and data.info["per_class"] == {"high": 2, "low": 2}
    assert data.info["skipped"] == ["high/broken.wav"] and data.info["cut"] == ["high/long.wav"]
    assert data.info["ignored_folders"] == ["empty"]
    assert data.clips.lengths.tolist() == [8000, 160000, 8000, 8000]  # 0.5 s each; the long one cut to 10 s
    high = data.clips.clip(0)
    spectrum = torch.fft.rfft(high).abs()
    assert abs(float(spectrum.argmax()) * 16000 / high.numel() - 2000) < 5  # resampled, still 2 kHz
    assert data.val_indices is None and len(split_dataset(data, 0.5, 0).val_indices) == 2  # stratified


def test_bad_layouts_give_clear_errors(tmp_path: Path) -> None:
    write(tmp_path / "one" / "only" / "a.wav", tone(300), 22050)
    with pytest.raises(ValueError, match="found 1 class folder"):
        load_dataset("audio_folder", path=tmp_path / "one")
    (tmp_path / "bad" / "b").mkdir(parents=True)
    write(tmp_path / "bad" / "a" / "a.wav", tone(300), 22050)
    (tmp_path / "bad" / "b" / "b.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match=r"no file in class folder\(s\) \['b'\] could be decoded"):
        load_dataset("audio_folder", path=tmp_path / "bad")
    with pytest.raises(ValueError, match="exactly one of path="):
        load_dataset("audio_folder")
    with pytest.raises(ValueError, match="sample_rate"):
        load_dataset("audio_folder", path=tmp_path / "bad", sample_rate=10)


def test_recorded_clips_round_trip_through_the_zip(tmp_path: Path) -> None:
    five, nine = (SAMPLES / "five_lucas.ogg").read_bytes(), (SAMPLES / "nine_yweweler.opus").read_bytes()
    data = clips_zip({"five": [five, five], "nine": [nine]})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["five/001.wav", "five/002.wav", "nine/001.wav"]
    loaded = load_dataset("audio_folder", root=tmp_path, zip_bytes=data, sample_rate=8000)
    assert loaded.classes == ["five", "nine"] and loaded.targets.tolist() == [0, 0, 1]
    for name, bad in (("../up", [five]), (".secret", [five]), ("", [five]), ("empty", [])):
        with pytest.raises(ValueError):
            clips_zip({name: bad})
    with pytest.raises(ValueError, match="class 'x', clip 1"):
        clips_zip({"x": [b"this is text, not audio"]})


def test_the_digit_model_fine_tunes_on_new_recordings_better_than_from_scratch(tmp_path: Path) -> None:
    """Three digits from FSDD's official test recordings (never seen in the shipped model's training),
    written as a user's folder at 16 kHz: the fine-tuned model (shipped weights, a new 3-class head,
    the shipped preprocessing) beats the same architecture trained from scratch with the same budget."""
    fsdd = load_dataset("fsdd")
    assert fsdd.val_indices is not None
    for digit, word in ((0, "zero"), (1, "one"), (7, "seven")):
        picked = [i for i in fsdd.val_indices.tolist() if int(fsdd.targets[i]) == digit]
        for i in picked:
            write(tmp_path / "mine" / word / f"{i}.wav", fsdd.clips.clip(i).numpy(), fsdd.sample_rate)
    data = load_dataset("audio_folder", path=tmp_path / "mine", sample_rate=16000)
    assert len(data) == 90
    split = split_dataset(data, 0.3, 0)
    config = TrainConfig(epochs=6, batch_size=16, lr=1e-3, seed=0, augment_audio=False)

    tuned = bundle_for_split("audio_cnn", split, weights="fsdd")
    assert tuned.preprocessing.sample_rate == 8000 and tuned.card.weights == "fsdd" and tuned.labels == data.classes
    scratch = bundle_for_split("audio_cnn", split)
    assert scratch.preprocessing.sample_rate == 16000  # fitted on the new clips
    tuned_acc = train(tuned, split, config).metrics["val_accuracy"]
    scratch_acc = train(scratch, split, config).metrics["val_accuracy"]
    assert tuned_acc >= 0.9 and tuned_acc > scratch_acc, (tuned_acc, scratch_acc)


def test_pretrained_audio_weights_refuse_what_does_not_fit() -> None:
    assert MODELS.get("audio_cnn").weights == ("fsdd",) and MODELS.get("audio_cnn").default_weights is None
    same = pretrained_audio_bundle("audio_cnn", "fsdd", [str(d) for d in range(10)])
    shipped = load_dataset("fsdd")
    x = same.preprocessing.encode(same.preprocessing.fit_clips(shipped.clips.take(torch.arange(8))))
    with torch.no_grad():  # ten classes: the shipped head is kept, so the digits are read at once
        assert (same.model(x).argmax(-1) == shipped.targets[:8]).float().mean() >= 0.75
    with pytest.raises(ValueError, match="keeps its hyper-parameters"):
        pretrained_audio_bundle("audio_cnn", "fsdd", ["a", "b"], hparams={"channels": 32})
    with pytest.raises(ValueError, match="no pretrained weights 'imagenet'"):
        pretrained_audio_bundle("audio_cnn", "imagenet", ["a", "b"])
    with pytest.raises(WeightsUnavailableError):
        MODELS.get("audio_cnn").builder(num_classes=2, weights="speech_commands")
    assert DATASETS.get("audio_folder").modality == "audio"
