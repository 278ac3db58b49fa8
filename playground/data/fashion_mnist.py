"""Fashion-MNIST: 28×28 grey photos of 10 kinds of clothing, a drop-in harder MNIST.

Which copy is used, in order:

1. torchvision's files under ``root`` (``root/FashionMNIST/raw/*-ubyte``).
2. With ``download=True`` and a network: torchvision downloads them to ``root`` first, then 1.
3. The Debian package ``dataset-fashion-mnist`` (``apt install dataset-fashion-mnist``), whose
   gzip'd IDX files lie in :data:`DEBIAN_DIR`: the full set, offline.

Both full copies hold 60,000 train and 10,000 test images; ``split`` picks ``"train"`` (default),
``"test"`` or ``"all"``, and ``max_samples`` keeps a class-stratified subset for quicker training.

Source: H. Xiao, K. Rasul, R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms", 2017, https://arxiv.org/abs/1708.07747;
https://github.com/zalandoresearch/fashion-mnist (MIT licence).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from playground.data.base import DatasetUnavailableError, ImageDataset, default_data_root, register_dataset
from playground.data.idx import (
    SplitName,
    check_split_options,
    load_torchvision_idx,
    read_idx_pair,
    reject_unknown_options,
    require_reachable,
    stratified_subsample,
    torchvision_dataset,
    torchvision_files_present,
)

NAME = "fashion_mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOURCE = "https://github.com/zalandoresearch/fashion-mnist (offline: Debian package dataset-fashion-mnist)"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_PREFIX = {"train": "train", "test": "t10k"}
_OPTIONS = ("split", "max_samples", "seed", "download")


def _debian_files(directory: Path | None = None) -> dict[str, tuple[Path, Path]] | None:
    """``{"train": (images, labels), "test": (images, labels)}`` in ``directory``, or None if any is missing.

    ``directory`` defaults to :data:`DEBIAN_DIR`, read at call time.
    """
    directory = DEBIAN_DIR if directory is None else directory
    found: dict[str, tuple[Path, Path]] = {}
    for part, prefix in _PREFIX.items():
        pair = []
        for kind in ("images-idx3", "labels-idx1"):
            candidates = [directory / f"{prefix}-{kind}-ubyte.gz", directory / f"{prefix}-{kind}-ubyte"]
            path = next((c for c in candidates if c.is_file()), None)
            if path is None:
                return None
            pair.append(path)
        found[part] = (pair[0], pair[1])
    return found


def _offline() -> bool:
    root = default_data_root() / NAME
    return torchvision_files_present(torchvision_dataset("FashionMNIST"), root) or _debian_files() is not None


@functools.lru_cache(maxsize=4)
def _torchvision_copy(root: str, split: SplitName) -> tuple[torch.Tensor, torch.Tensor]:
    return load_torchvision_idx(torchvision_dataset("FashionMNIST"), Path(root), split)


@functools.lru_cache(maxsize=4)
def _debian_copy(directory: str, split: SplitName) -> tuple[torch.Tensor, torch.Tensor]:
    files = _debian_files(Path(directory))
    if files is None:
        raise DatasetUnavailableError(f"{NAME}: the IDX files in {directory} are incomplete")
    parts = ["train", "test"] if split == "all" else [split]
    pairs = [read_idx_pair(*files[part]) for part in parts]
    return torch.cat([x for x, _ in pairs]), torch.cat([y for _, y in pairs])


def _download(root: Path) -> None:
    require_reachable(torchvision_dataset("FashionMNIST").mirrors[0], NAME)
    try:
        torchvision_dataset("FashionMNIST")(str(root), train=True, download=True)
    except (OSError, RuntimeError) as err:  # torchvision raises RuntimeError when every mirror failed
        raise DatasetUnavailableError(f"{NAME}: the download to {root} failed: {err}") from err


@register_dataset(
    NAME,
    modality="image",
    num_classes=10,
    description=(
        "Zalando's 70,000 28×28 grey clothing photos in 10 classes (60,000 train + 10,000 test), "
        "from torchvision's files or the Debian package dataset-fashion-mnist. MIT licence."
    ),
    source=SOURCE,
    offline=_offline,
    channels=1,
    image_size=28,
)
def fashion_mnist(
    root: Path | None = None,
    *,
    split: str = "train",
    max_samples: int | None = None,
    seed: int = 0,
    download: bool = False,
    **unknown: object,
) -> ImageDataset:
    """Load Fashion-MNIST.

    Args:
        root: folder with torchvision's ``FashionMNIST/raw`` files, and where a download goes;
            default ``default_data_root() / "fashion_mnist"``.
        split: ``"train"`` (60,000, default), ``"test"`` (10,000) or ``"all"`` (70,000).
        max_samples: keep at most this many images, stratified by class with ``seed``; None keeps all.
        seed: seed for ``max_samples``.
        download: download torchvision's files when they are missing (needs the network).

    Returns:
        ``images (N, 1, 28, 28)`` uint8 in [0, 255], ``targets (N,)`` int64 in [0, 9];
        ``info["copy"]`` names the copy used.

    Raises:
        ValueError: unknown or bad options.
        DatasetUnavailableError: no copy on disk (and no download asked), or the download failed.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    split_, max_samples, seed, download = check_split_options(NAME, split, max_samples, seed, download)
    root = Path(root) if root is not None else default_data_root() / NAME
    if download and not torchvision_files_present(torchvision_dataset("FashionMNIST"), root):
        _download(root)
    if torchvision_files_present(torchvision_dataset("FashionMNIST"), root):
        images, targets = _torchvision_copy(str(root), split_)
        copy = f"torchvision files in {root / 'FashionMNIST' / 'raw'}"
    elif _debian_files() is not None:
        images, targets = _debian_copy(str(DEBIAN_DIR), split_)
        copy = f"Debian package dataset-fashion-mnist ({DEBIAN_DIR})"
    else:
        raise DatasetUnavailableError(
            f"{NAME}: no copy found in {root} or {DEBIAN_DIR}; install the Debian package "
            "dataset-fashion-mnist (apt install dataset-fashion-mnist) or go online and load it with download=True"
        )
    keep = stratified_subsample(targets, max_samples, seed)  # (M,) sorted indices
    return ImageDataset(
        name=NAME,
        images=images[keep],  # indexing copies: the cached tensors stay untouched
        targets=targets[keep],
        classes=list(CLASSES),
        source=SOURCE,
        info={"copy": copy, "split": split_, "licence": "MIT"},
    )
