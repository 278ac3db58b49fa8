"""CIFAR-10: 32×32 colour photos in 10 classes (airplane ... truck).

No offline copy installs from a package registry, so CIFAR-10 is available only when torchvision's
``cifar-10-batches-py`` folder is under ``root`` (put there by an earlier ``download=True`` run or by
hand). Every file is checked against torchvision's MD5 sums before it is unpickled, so only the
official batches are ever loaded. 50,000 train + 10,000 test images; ``split`` picks
``"train"`` (default), ``"test"`` or ``"all"``.

Source: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009,
https://www.cs.toronto.edu/~kriz/cifar.html.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from playground.data.base import DatasetUnavailableError, ImageDataset, default_data_root, register_dataset
from playground.data.idx import (
    SplitName,
    check_split_options,
    reject_unknown_options,
    require_reachable,
    stratified_subsample,
    torchvision_dataset,
)

NAME = "cifar10"
SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html"
_OPTIONS = ("split", "max_samples", "seed", "download")


def _cifar() -> type[Any]:
    return torchvision_dataset("CIFAR10")


def _files(root: Path) -> list[tuple[Path, str]]:
    """``(path, md5)`` of every batch file and the meta file torchvision expects under ``root``."""
    cifar = _cifar()
    folder = root / cifar.base_folder
    entries = [*cifar.train_list, *cifar.test_list, [cifar.meta["filename"], cifar.meta["md5"]]]
    return [(folder / name, md5) for name, md5 in entries]


def _present(root: Path) -> bool:
    return all(path.is_file() for path, _ in _files(root))


def _offline() -> bool:
    """True when the files are under the default root (existence only; the loader checks MD5)."""
    return _present(default_data_root() / NAME)


@functools.lru_cache(maxsize=2)
def _load(root: str, split: SplitName) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    from torchvision.datasets.utils import check_integrity  # see torchvision_dataset: imported when used

    corrupt = [path.name for path, md5 in _files(Path(root)) if not check_integrity(str(path), md5)]
    if corrupt:
        raise DatasetUnavailableError(
            f"{NAME}: files {corrupt} in {Path(root) / _cifar().base_folder} fail their MD5 check; delete the folder "
            "and download again"
        )
    parts = ["train", "test"] if split == "all" else [split]
    xs, ys = [], []
    classes: list[str] = []
    for part in parts:
        ds = _cifar()(root, train=part == "train", download=False)  # checks MD5 before unpickling
        xs.append(torch.from_numpy(ds.data).permute(0, 3, 1, 2))  # (N, 32, 32, 3) -> (N, 3, 32, 32)
        ys.append(torch.as_tensor(ds.targets, dtype=torch.int64))
        classes = list(ds.classes)
    return torch.cat(xs).contiguous(), torch.cat(ys), tuple(classes)


def _download(root: Path) -> None:
    require_reachable(_cifar().url, NAME)
    try:
        _cifar()(str(root), train=True, download=True)
    except (OSError, RuntimeError) as err:
        raise DatasetUnavailableError(f"{NAME}: the download to {root} failed: {err}") from err


@register_dataset(
    NAME,
    modality="image",
    num_classes=10,
    description=(
        "60,000 32×32 colour photos in 10 classes (50,000 train + 10,000 test). Needs a one-time "
        "170 MB download; no offline copy ships with the playground."
    ),
    source=SOURCE,
    offline=_offline,
    channels=3,
    image_size=32,
)
def cifar10(
    root: Path | None = None,
    *,
    split: str = "train",
    max_samples: int | None = None,
    seed: int = 0,
    download: bool = False,
    **unknown: object,
) -> ImageDataset:
    """Load CIFAR-10 from torchvision's files under ``root``.

    Args:
        root: folder holding ``cifar-10-batches-py``, and where a download goes;
            default ``default_data_root() / "cifar10"``.
        split: ``"train"`` (50,000, default), ``"test"`` (10,000) or ``"all"`` (60,000).
        max_samples: keep at most this many images, stratified by class with ``seed``; None keeps all.
        seed: seed for ``max_samples``.
        download: download the 170 MB archive when the files are missing (needs the network).

    Returns:
        ``images (N, 3, 32, 32)`` uint8 in [0, 255], ``targets (N,)`` int64 in [0, 9].

    Raises:
        ValueError: unknown or bad options.
        DatasetUnavailableError: the files are missing (and no download was asked), corrupted, or
            the download failed.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    split_, max_samples, seed, download = check_split_options(NAME, split, max_samples, seed, download)
    root = Path(root) if root is not None else default_data_root() / NAME
    if download and not _present(root):
        _download(root)
    if not _present(root):
        raise DatasetUnavailableError(
            f"CIFAR-10 needs a download (170 MB) and none was found in {root}; this machine may be offline. "
            "Copy torchvision's cifar-10-batches-py folder there (from a machine that is online), "
            "or pick an offline dataset (mnist, fashion_mnist, digits, shapes)."
        )
    images, targets, classes = _load(str(root), split_)
    keep = stratified_subsample(targets, max_samples, seed)  # (M,) sorted indices
    return ImageDataset(
        name=NAME,
        images=images[keep],  # indexing copies: the cached tensors stay untouched
        targets=targets[keep],
        classes=list(classes),
        source=SOURCE,
        info={"copy": f"torchvision files in {root / _cifar().base_folder}", "split": split_},
    )
