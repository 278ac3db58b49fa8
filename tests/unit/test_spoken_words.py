"""Tests for the synthetic spoken-words dataset (playground.data.spoken_words, assets/datasets/spoken_words)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from playground.data import DATASETS, AudioDataset, DatasetUnavailableError, load_dataset, split_dataset
from playground.data import fsdd as fsdd_module
from playground.data import spoken_words as sw
from playground.training.config import TrainConfig

N_VOICES, PER_VOICE_AND_DIGIT = 20, 3


@pytest.fixture(scope="module")
def full() -> AudioDataset:
    ds = load_dataset("spoken_words")
    assert isinstance(ds, AudioDataset)
    return ds


def test_entry_declares_audio_synthetic_and_usable_defaults() -> None:
    spec = DATASETS.get("spoken_words")
    assert (spec.modality, spec.num_classes) == ("audio", 10)
    assert spec.offline()  # shipped in assets/datasets/spoken_words
    TrainConfig(**spec.train_defaults)
    for fact in ("Synthetic", "eSpeak NG", "20 voices", "8 kHz", "fsdd", "CC0 1.0"):
        assert fact in spec.description, fact
    assert "eSpeak NG" in spec.source


def test_counts_classes_and_rate(full: AudioDataset) -> None:
    assert len(full) == N_VOICES * 10 * PER_VOICE_AND_DIGIT == 600
    assert full.classes == fsdd_module.CLASSES == [str(d) for d in range(10)]
    assert full.class_counts() == [N_VOICES * PER_VOICE_AND_DIGIT] * 10
    assert full.sample_rate == fsdd_module.SAMPLE_RATE == 8000
    assert full.info["synthetic"] is True
    assert len(full.info["voices"]) == N_VOICES == len(set(full.speakers))
    assert set(full.info["clips_per_voice"].values()) == {10 * PER_VOICE_AND_DIGIT}
    assert full.val_indices is None and full.info["split"] == "random"
    assert "CC0" in full.info["licence"] and "GPL" in full.info["licence"]


def test_clips_are_finite_audible_and_padded(full: AudioDataset) -> None:
    clips = full.clips
    assert clips.waveforms.dtype == torch.float32 and bool(torch.isfinite(clips.waveforms).all())
    assert float(clips.waveforms.abs().max()) <= 1.0
    seconds = clips.durations_s()
    assert float(seconds.min()) > 0.15 and float(seconds.max()) < 1.0
    peaks = torch.stack([clips.clip(i).abs().max() for i in range(len(full))])
    assert float(peaks.min()) > 0.05  # no silent clip
    beyond = torch.arange(clips.waveforms.shape[1]) >= clips.lengths[:, None]
    assert not bool(clips.waveforms[beyond].any())  # zero padding after each clip


def test_clips_equal_the_shipped_flac(full: AudioDataset) -> None:
    data, rate = sf.read(str(sw.ASSETS_DIR / sw.AUDIO_FILE), dtype="int16")
    with (sw.ASSETS_DIR / sw.INDEX_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rate == 8000 and len(rows) == len(full)
    for i in (0, 299, 599):
        start, length = int(rows[i]["start"]), int(rows[i]["length"])
        expected = torch.from_numpy(data[start : start + length].astype(np.float32) / 32768.0)
        assert torch.equal(full.clips.clip(i), expected)
        assert full.speakers[i] == rows[i]["voice"] and int(full.targets[i]) == int(rows[i]["digit"])
        assert rows[i]["word"] == sw.WORDS[int(rows[i]["digit"])]


def test_random_split_is_stratified(full: AudioDataset) -> None:
    split = split_dataset(full, val_fraction=0.2, seed=0)
    assert len(split.val_indices) == 120
    counts = torch.bincount(full.targets[split.val_indices], minlength=10)
    assert counts.tolist() == [12] * 10


def test_voice_split_holds_out_exactly_one_voice(full: AudioDataset) -> None:
    voice = "en-us+f3"
    ds = load_dataset("spoken_words", split=f"voice:{voice}")
    assert ds.val_indices is not None and len(ds.val_indices) == 10 * PER_VOICE_AND_DIGIT
    assert {ds.speakers[i] for i in ds.val_indices.tolist()} == {voice}
    assert ds.info["n_val"] == 30 and voice in ds.info["validation"]
    split = split_dataset(ds, val_fraction=0.1, seed=0)
    assert torch.equal(split.val_indices, ds.val_indices)
    assert voice not in {ds.speakers[i] for i in split.train_indices.tolist()}


@pytest.mark.parametrize("options", [{"split": "official"}, {"split": "voice:nobody"}, {"split": 3}])
def test_unknown_split_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"valid splits: .*voice:en-us\+f3"):
        load_dataset("spoken_words", **options)


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown option.*'download'"):
        load_dataset("spoken_words", download=True)


def test_loads_return_fresh_tensors(full: AudioDataset) -> None:
    first = load_dataset("spoken_words")
    first.clips.waveforms.zero_()
    first.targets.zero_()
    again = load_dataset("spoken_words")
    assert bool(again.clips.waveforms.any()) and int(again.targets.max()) == 9


def test_root_reads_another_copy_and_missing_files_are_reported(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sw.ASSETS_DIR, copy)
    assert sw.available(copy)
    assert len(load_dataset("spoken_words", root=copy)) == 600
    (copy / sw.AUDIO_FILE).unlink()
    assert not sw.available(copy)
    with pytest.raises(DatasetUnavailableError, match="make_audio_samples"):
        load_dataset("spoken_words", root=copy)


def test_an_index_that_disagrees_with_the_audio_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    sf.write(str(folder / sw.AUDIO_FILE), np.zeros(100, dtype=np.int16), 8000, format="FLAC", subtype="PCM_16")
    (folder / sw.INDEX_FILE).write_text("voice,digit,word,rate,pitch,start,length\nv,1,one,170,50,50,80\n")
    with pytest.raises(DatasetUnavailableError, match="outside"):
        load_dataset("spoken_words", root=folder)
    (folder / sw.INDEX_FILE).write_text("voice,digit,word,rate,pitch,start,length\nv,1,two,170,50,0,80\n")
    with pytest.raises(DatasetUnavailableError, match="does not match"):
        load_dataset("spoken_words", root=folder)
