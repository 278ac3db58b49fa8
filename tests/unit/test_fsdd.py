"""Tests for the Free Spoken Digit Dataset entry (playground.data.fsdd), its shipped FLAC copy, the download
code and the AudioDataset class (playground.data.audio)."""

from __future__ import annotations

import csv
import importlib.util
import io
import socket
import time
import urllib.request
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import torch

from playground.data import DATASETS, AudioDataset, DatasetUnavailableError, load_dataset, split_dataset
from playground.data import fsdd as fsdd_module
from playground.modalities.audio.clips import AudioClips
from playground.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
SHARED_WAVS = ROOT.parent / "shared" / "datasets" / "fsdd" / "recordings"
SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


@pytest.fixture(scope="module")
def full() -> AudioDataset:
    ds = load_dataset("fsdd")
    assert isinstance(ds, AudioDataset)
    return ds


def _wav_bytes(samples: np.ndarray, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _tone(n: int, seed: int) -> np.ndarray:
    """``(n,)`` int16 noise, different for each seed."""
    return np.random.default_rng(seed).integers(-20000, 20000, size=n, dtype=np.int16)


# Three tiny recordings: a test-split clip (index 0) and two training clips (index 7 and 5).
TINY = {"0_alice_0.wav": _tone(400, 1), "1_alice_7.wav": _tone(250, 2), "0_bob_5.wav": _tone(333, 3)}


def _zip(members: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tiny_archive(path: Path) -> Path:
    """A zip laid out like GitHub's archive: the recordings plus files that must not be extracted."""
    top = "free-spoken-digit-dataset-abc123/"
    members = {top + "recordings/" + name: _wav_bytes(samples) for name, samples in TINY.items()}
    members[top + "README.md"] = b"# FSDD"
    members[top + "utils/0_carl_1.wav"] = _wav_bytes(_tone(10, 4))  # a WAV outside recordings/
    members[top + "recordings/notes.txt"] = b"not a recording"
    return _zip(members, path)


# -- the registry entry -------------------------------------------------------------------------------


def test_entry_declares_audio_and_usable_defaults() -> None:
    spec = DATASETS.get("fsdd")
    assert (spec.modality, spec.num_classes) == ("audio", 10)
    assert spec.offline()  # the shipped copy is in assets/datasets/fsdd
    TrainConfig(**spec.train_defaults)  # every key is a TrainConfig field with a valid value
    for fact in ("3,000 clips", "0–9", "6 speakers", "8 kHz", "male", "generalises poorly", "CC BY-SA 4.0"):
        assert fact in spec.description, fact
    assert "github.com/Jakobovski/free-spoken-digit-dataset" in spec.source


def test_offline_is_false_without_the_shipped_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsdd_module, "ASSETS_DIR", tmp_path)
    assert not DATASETS.get("fsdd").offline()


# -- the shipped copy ---------------------------------------------------------------------------------


def test_loader_gives_3000_clips_of_10_digits_by_6_speakers(full: AudioDataset) -> None:
    assert full.name == "fsdd" and full.modality == "audio"
    assert len(full) == 3000 and full.sample_rate == 8000
    assert full.classes == [str(d) for d in range(10)]
    assert full.class_counts() == [300] * 10
    assert sorted(set(full.speakers)) == SPEAKERS
    assert [full.speakers.count(s) for s in SPEAKERS] == [500] * 6
    assert full.info["speakers"] == SPEAKERS and full.info["clips_per_speaker"] == dict.fromkeys(SPEAKERS, 500)
    assert "CC BY-SA 4.0" in full.info["licence"] and "Zohar Jackson" in full.info["attribution"]
    assert "male" in full.info["voices"]
    clips = full.clips
    assert clips.waveforms.dtype == torch.float32 and clips.waveforms.shape == (3000, int(clips.lengths.max()))
    assert float(clips.waveforms.abs().max()) <= 1.0
    inside = torch.arange(clips.waveforms.shape[1]) < clips.lengths[:, None]
    assert not bool(clips.waveforms[~inside].any()), "padding must be zeros"
    seconds = clips.durations_s()
    assert (
        0.1 < float(seconds.min()) < 0.2 and 0.35 < float(seconds.median()) < 0.5 and 2.0 < float(seconds.max()) < 2.5
    )
    assert full.info["duration_s"]["max"] == pytest.approx(float(seconds.max()), abs=1e-3)


def test_order_matches_the_shipped_index(full: AudioDataset) -> None:
    """Clips are in (speaker, digit, recording index) order: clip i is recording i % 50 of its speaker and digit."""
    with (fsdd_module.ASSETS_DIR / "index.csv").open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: (r["speaker"], int(r["digit"]), int(r["index"])))
    assert len(rows) == 3000
    assert [r["speaker"] for r in rows] == full.speakers
    assert [int(r["digit"]) for r in rows] == full.targets.tolist()
    assert [int(r["length"]) for r in rows] == full.clips.lengths.tolist()
    assert [int(r["index"]) for r in rows] == [i % 50 for i in range(3000)]


def test_official_split_holds_out_the_index_0_to_4_recordings(full: AudioDataset) -> None:
    assert full.info["split"] == "official"
    val = full.val_indices
    assert val is not None and val.dtype == torch.int64
    assert val.tolist() == [i for i in range(3000) if i % 50 < 5]  # index 0..4 (see the order test above)
    assert torch.bincount(full.targets[val], minlength=10).tolist() == [30] * 10
    assert [sum(full.speakers[i] == s for i in val.tolist()) for s in SPEAKERS] == [50] * 6
    split = split_dataset(full, val_fraction=0.1, seed=3)  # the dataset's own part wins
    assert torch.equal(split.val_indices, val) and len(split.train_indices) == 2700
    assert split.class_counts() == {"train": [270] * 10, "val": [30] * 10}
    inputs, targets = split.part("val")
    assert isinstance(inputs, AudioClips) and len(inputs) == 300 and torch.equal(targets, full.targets[val])


@pytest.mark.parametrize("speaker", SPEAKERS)
def test_speaker_split_holds_out_exactly_one_speaker(speaker: str) -> None:
    ds = load_dataset("fsdd", split=f"speaker:{speaker}")
    assert isinstance(ds, AudioDataset) and ds.val_indices is not None
    val = ds.val_indices.tolist()
    assert len(val) == 500 and val == sorted(val)
    assert {ds.speakers[i] for i in val} == {speaker}
    train = sorted(set(range(3000)) - set(val))
    assert {ds.speakers[i] for i in train} == set(SPEAKERS) - {speaker}
    assert torch.bincount(ds.targets[ds.val_indices], minlength=10).tolist() == [50] * 10
    assert ds.info["n_val"] == 500 and speaker in ds.info["validation"]


def test_unknown_option_and_split_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown option.*'max_samples'.*known options: \['split', 'download'\]"):
        load_dataset("fsdd", max_samples=10)
    with pytest.raises(ValueError, match=r"split must be 'official' or 'speaker:<name>', got 'test'"):
        load_dataset("fsdd", split="test")
    with pytest.raises(
        ValueError, match=r"unknown split 'speaker:alice'; valid splits: \['official', 'speaker:george'"
    ):
        load_dataset("fsdd", split="speaker:alice")
    with pytest.raises(ValueError, match="valid splits"):
        load_dataset("fsdd", split="speaker:")
    with pytest.raises(TypeError, match="download must be a bool"):
        load_dataset("fsdd", download="yes")


def test_loads_return_fresh_tensors(full: AudioDataset) -> None:
    first = load_dataset("fsdd", split="speaker:theo")
    assert isinstance(first, AudioDataset)
    first.clips.waveforms.zero_()
    first.targets.zero_()
    first.clips.lengths.fill_(1)
    again = load_dataset("fsdd", split="speaker:theo")
    assert isinstance(again, AudioDataset)
    assert torch.equal(again.clips.waveforms, full.clips.waveforms) and torch.equal(again.targets, full.targets)
    assert torch.equal(again.clips.lengths, full.clips.lengths)


@pytest.mark.skipif(not SHARED_WAVS.is_dir(), reason=f"the WAV copy {SHARED_WAVS} is not here")
def test_shipped_flac_equals_the_wavs_bit_exactly(full: AudioDataset) -> None:
    """Every one of the 3,000 clips, as loaded (int16 / 32768 is exact in float32), against its WAV."""
    with (fsdd_module.ASSETS_DIR / "index.csv").open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: (r["speaker"], int(r["digit"]), int(r["index"])))
    assert len(list(SHARED_WAVS.glob("*.wav"))) == len(rows) == 3000
    for i, row in enumerate(rows):
        wav, rate = sf.read(str(SHARED_WAVS / row["file"]), dtype="int16")
        loaded = full.clips.clip(i) * 32768.0
        assert rate == 8000
        assert torch.equal(loaded.to(torch.int16), torch.from_numpy(wav)), row["file"]
        assert torch.equal(loaded, loaded.round()), row["file"]


def test_missing_copy_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsdd_module, "ASSETS_DIR", tmp_path / "no_assets")
    with pytest.raises(DatasetUnavailableError, match=r"shipped copy .* is missing .* download=True"):
        load_dataset("fsdd", root=tmp_path / "empty")


# -- the pack script and the packed format --------------------------------------------------------------


def _pack_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pack_fsdd", ROOT / "scripts" / "pack_fsdd.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pack_script_round_trips_a_tiny_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recordings = tmp_path / "src" / "recordings"
    recordings.mkdir(parents=True)
    for name, samples in TINY.items():
        (recordings / name).write_bytes(_wav_bytes(samples))
    out = tmp_path / "packed"
    sizes = _pack_script().pack(tmp_path / "src", out)
    assert set(sizes) == {"alice.flac", "bob.flac", "index.csv"}
    monkeypatch.setattr(fsdd_module, "ASSETS_DIR", out)
    ds = load_dataset("fsdd", root=tmp_path / "unused")
    assert isinstance(ds, AudioDataset) and "shipped" in ds.info["copy"]
    assert ds.speakers == ["alice", "alice", "bob"] and ds.targets.tolist() == [0, 1, 0]
    for i, name in enumerate(["0_alice_0.wav", "1_alice_7.wav", "0_bob_5.wav"]):
        assert torch.equal((ds.clips.clip(i) * 32768).to(torch.int16), torch.from_numpy(TINY[name]))


def test_pack_verification_catches_a_changed_sample(tmp_path: Path) -> None:
    script = _pack_script()
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name, samples in TINY.items():
        (recordings / name).write_bytes(_wav_bytes(samples))
    script.pack(tmp_path, tmp_path / "packed")
    changed = TINY["1_alice_7.wav"].copy()
    changed[100] ^= 1
    (recordings / "1_alice_7.wav").write_bytes(_wav_bytes(changed))
    with pytest.raises(SystemExit, match=r"1_alice_7\.wav: the FLAC copy differs"):
        script.verify(recordings, tmp_path / "packed")


# -- download and extraction (no test touches the network) ----------------------------------------------


def test_download_extracts_the_recordings_of_a_local_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _tiny_archive(tmp_path / "fsdd.zip")
    root = tmp_path / "data"
    dest = fsdd_module.download_fsdd(root, url=archive.as_uri())
    assert dest == root / "recordings"
    assert sorted(p.name for p in dest.iterdir()) == sorted(TINY)  # not README.md, utils/, notes.txt
    for name, samples in TINY.items():
        data, rate = sf.read(str(dest / name), dtype="int16")
        assert rate == 8000 and np.array_equal(data, samples)
    assert sorted(p.name for p in root.iterdir()) == ["recordings"], "no temporary file or partial folder is left"

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the recordings are there: nothing to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert fsdd_module.download_fsdd(root, url=archive.as_uri()) == dest


def test_loader_with_download_reads_the_downloaded_wavs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _tiny_archive(tmp_path / "fsdd.zip")
    monkeypatch.setattr(fsdd_module, "URL", archive.as_uri())
    root = tmp_path / "data"
    ds = load_dataset("fsdd", root=root, download=True)
    assert isinstance(ds, AudioDataset) and "WAV files in" in ds.info["copy"]
    assert len(ds) == 3 and ds.speakers == ["alice", "alice", "bob"] and ds.targets.tolist() == [0, 1, 0]
    assert ds.clips.lengths.tolist() == [400, 250, 333]
    assert ds.val_indices is not None and ds.val_indices.tolist() == [0]  # only 0_alice_0 has index 0..4
    assert torch.equal((ds.clips.clip(2) * 32768).to(torch.int16), torch.from_numpy(TINY["0_bob_5.wav"]))
    by_bob = load_dataset("fsdd", root=root, download=True, split="speaker:bob")
    assert isinstance(by_bob, AudioDataset) and by_bob.val_indices is not None
    assert by_bob.val_indices.tolist() == [2]
    # Without the shipped copy, the WAVs under root are read without download=True.
    monkeypatch.setattr(fsdd_module, "ASSETS_DIR", tmp_path / "no_assets")
    assert len(load_dataset("fsdd", root=root)) == 3


@pytest.mark.parametrize("bad_name", ["../evil.wav", "top/recordings/../../evil.wav", "/abs/recordings/0_x_1.wav"])
def test_extraction_refuses_unsafe_paths(bad_name: str, tmp_path: Path) -> None:
    members = {"top/recordings/0_alice_0.wav": _wav_bytes(TINY["0_alice_0.wav"]), bad_name: b"boom"}
    archive = _zip(members, tmp_path / "evil.zip")
    root = tmp_path / "data"
    with pytest.raises(ValueError, match="refusing the zip"):
        fsdd_module.download_fsdd(root, url=archive.as_uri())
    assert not (root / "recordings").exists() and not (tmp_path / "evil.wav").exists()
    assert [p.name for p in root.iterdir()] == [], "nothing extracted, no temporary file left"


def test_extraction_refuses_too_large_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _tiny_archive(tmp_path / "fsdd.zip")
    import playground.data.folder as folder_module  # the limits are the image folder's, shared

    monkeypatch.setattr(folder_module, "MAX_UNCOMPRESSED_BYTES", 100)
    with pytest.raises(ValueError, match=r"declares .* uncompressed"):
        fsdd_module.extract_recordings(archive, tmp_path / "out")
    monkeypatch.setattr(folder_module, "MAX_FILES", 2)
    with pytest.raises(ValueError, match="members; the limit is 2"):
        fsdd_module.extract_recordings(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_download_refuses_an_oversized_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _tiny_archive(tmp_path / "fsdd.zip")
    monkeypatch.setattr(fsdd_module, "MAX_DOWNLOAD_BYTES", 1000)
    with pytest.raises(DatasetUnavailableError, match="exceeds"):
        fsdd_module.download_fsdd(tmp_path / "data", url=archive.as_uri())
    assert not (tmp_path / "data" / "recordings").exists()


def test_download_refuses_archives_without_recordings_and_non_zips(tmp_path: Path) -> None:
    empty = _zip({"top/README.md": b"nothing here"}, tmp_path / "empty.zip")
    with pytest.raises(DatasetUnavailableError, match="no recordings"):
        fsdd_module.download_fsdd(tmp_path / "a", url=empty.as_uri())
    (tmp_path / "page.html").write_text("<html>not found</html>")
    with pytest.raises(ValueError, match="not a valid zip"):
        fsdd_module.download_fsdd(tmp_path / "b", url=(tmp_path / "page.html").as_uri())
    with pytest.raises(DatasetUnavailableError, match=r"download from .* failed"):
        fsdd_module.download_fsdd(tmp_path / "c", url=(tmp_path / "missing.zip").as_uri())
    with pytest.raises(ValueError, match=r"http\(s\):// or file:// URL"):
        fsdd_module.download_fsdd(tmp_path / "d", url="ftp://example.org/fsdd.zip")


def test_download_offline_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("Network is unreachable")

    def no_urlopen(*args: object, **kwargs: object) -> None:
        raise AssertionError("urlopen must not be reached offline")

    monkeypatch.setattr(socket, "create_connection", offline)
    monkeypatch.setattr(urllib.request, "urlopen", no_urlopen)
    monkeypatch.setattr(fsdd_module, "ASSETS_DIR", tmp_path / "no_assets")
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match="offline"):
        load_dataset("fsdd", root=tmp_path, download=True)
    assert time.perf_counter() - start < 2.0
    assert fsdd_module.URL.startswith("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/")


def test_a_wav_that_is_not_8khz_mono_is_reported(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "3_dora_9.wav").write_bytes(_wav_bytes(_tone(100, 5), rate=16000))
    with pytest.raises(
        DatasetUnavailableError, match=r"3_dora_9.wav must be non-empty 8000 Hz mono audio, got 16000 Hz"
    ):
        fsdd_module._load_wavs(recordings)


# -- AudioDataset --------------------------------------------------------------------------------------


def _clips(lengths: list[int]) -> AudioClips:
    return AudioClips.from_list([torch.linspace(-0.5, 0.5, n) for n in lengths], sample_rate=8000)


def test_audio_dataset_take_and_counts() -> None:
    ds = AudioDataset(
        "toy", _clips([3, 8, 5, 2]), torch.tensor([0, 1, 1, 0]), ["a", "b"], speakers=["x", "y", "x", "y"]
    )
    assert len(ds) == 4 and ds.sample_rate == 8000 and ds.class_counts() == [2, 2] and ds.val_indices is None
    part = ds.take(torch.tensor([0, 2]))
    assert isinstance(part, AudioClips) and part.waveforms.shape == (2, 5) and part.lengths.tolist() == [3, 5]
    assert torch.equal(part.clip(1), ds.clips.clip(2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"targets": torch.tensor([0, 1, 2, 0])}, r"targets must be in \[0, 2\)"),
        ({"targets": torch.tensor([0, 1, 1])}, r"targets must be \(4,\) int64"),
        ({"speakers": ["x", "y"]}, "speakers must be empty or 4 names"),
        ({"val_indices": torch.tensor([2, 1])}, "sorted and distinct"),
        ({"val_indices": torch.tensor([1, 1])}, "sorted and distinct"),
        ({"val_indices": torch.tensor([0, 4])}, r"must lie in \[0, 4\)"),
        ({"val_indices": torch.tensor([0, 1, 2, 3])}, "between 1 and 3 of the 4 clips"),
        ({"val_indices": torch.tensor([], dtype=torch.int64)}, "between 1 and 3 of the 4 clips"),
        ({"val_indices": torch.tensor([1.0])}, r"\(n_val,\) int64"),
        ({"clips": torch.zeros(4, 8)}, "clips must be AudioClips"),
    ],
)
def test_audio_dataset_refuses_bad_fields(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "name": "toy",
        "clips": _clips([3, 8, 5, 2]),
        "targets": torch.tensor([0, 1, 1, 0]),
        "classes": ["a", "b"],
    }
    with pytest.raises(ValueError, match=message):
        AudioDataset(**{**fields, **kwargs})  # type: ignore[arg-type]
