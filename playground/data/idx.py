"""IDX files (the MNIST family's format) and the options the MNIST / Fashion-MNIST / CIFAR-10 loaders share.

IDX layout (big-endian): two zero bytes, a type byte (0x08 = uint8, ...), a byte with the number
of dimensions ``d``, ``d`` uint32 sizes, then the data in C order.

Source: http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS FOR THE MNIST DATABASE").

Written by hand (30 lines of numpy) because torchvision's reader
(``torchvision.datasets.mnist.read_sn3_pascalvincent_tensor``) only opens uncompressed paths and
checks the header with ``assert``; the Debian ``dataset-fashion-mnist`` package ships ``.gz`` files.
Files that torchvision itself downloaded are read with torchvision.
"""

from __future__ import annotations

import gzip
import socket
import urllib.parse
from pathlib import Path
from typing import Any, Literal, cast, get_args

import numpy as np
import torch

from playground.data.base import DatasetUnavailableError

SplitName = Literal["train", "test", "all"]
SPLITS: tuple[str, ...] = get_args(SplitName)

# IDX type byte -> numpy dtype (big-endian for the multi-byte types).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file, plain or gzip-compressed (told apart by the gzip magic bytes).

    Args:
        path: an ``*-idx?-ubyte`` or ``*-idx?-ubyte.gz`` file.

    Returns:
        The array with the shape and dtype the header declares, e.g. ``(N, 28, 28)`` uint8 for
        images, ``(N,)`` uint8 for labels (native byte order).

    Raises:
        ValueError: if the header is not IDX or the data size disagrees with it.
        OSError: if the file cannot be read.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"expected an IDX file (header 00 00 <type> <ndim>), got {raw[:4].hex()!r} in {path}")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_end != expected:
        raise ValueError(f"expected {expected} data bytes for shape {shape} in {path}, got {len(raw) - header_end}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read matching IDX image and label files.

    Returns:
        ``(images (N, 1, H, W) uint8 in [0, 255], targets (N,) int64)``.

    Raises:
        ValueError: if the files are not IDX, not images + labels, or disagree on ``N``.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W) uint8 images in {images_path}, got {images.shape} {images.dtype}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"expected ({images.shape[0]},) labels in {labels_path}, got {labels.shape}")
    x = torch.from_numpy(images).unsqueeze(1)  # (N, 1, H, W)
    return x, torch.from_numpy(labels.astype(np.int64))


def check_split_options(
    dataset: str, split: object, max_samples: object, seed: object, download: object
) -> tuple[SplitName, int | None, int, bool]:
    """Validate the ``split`` / ``max_samples`` / ``seed`` / ``download`` options of a loader.

    Raises:
        ValueError: if ``split`` is not one of ``"train"``, ``"test"``, ``"all"``, or
            ``max_samples`` is not a positive int or None.
        TypeError: if ``seed`` is not an int or ``download`` not a bool.
    """
    if split not in SPLITS:
        raise ValueError(f"{dataset}: split must be one of {SPLITS}, got {split!r}")
    if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, int)):
        raise ValueError(f"{dataset}: max_samples must be a positive int or None, got {max_samples!r}")
    if isinstance(max_samples, int) and max_samples < 1:
        raise ValueError(f"{dataset}: max_samples must be a positive int or None, got {max_samples}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{dataset}: seed must be an int, got {type(seed).__name__}")
    if not isinstance(download, bool):
        raise TypeError(f"{dataset}: download must be a bool, got {type(download).__name__}")
    return cast(SplitName, split), max_samples, seed, download


def reject_unknown_options(dataset: str, unknown: dict[str, object], known: tuple[str, ...]) -> None:
    """Raise on options a loader does not take.

    Raises:
        ValueError: if ``unknown`` is not empty; the message lists the known options.
    """
    if unknown:
        raise ValueError(f"unknown option(s) for dataset {dataset!r}: {sorted(unknown)}; known options: {list(known)}")


def stratified_subsample(targets: torch.Tensor, max_samples: int | None, seed: int) -> torch.Tensor:
    """Pick at most ``max_samples`` indices, keeping the class proportions (scikit-learn).

    Args:
        targets: ``(N,)`` int64 class indices.
        max_samples: how many to keep; ``None`` or ``>= N`` keeps all.
        seed: random seed; the same seed picks the same indices.

    Returns:
        ``(M,)`` int64 sorted indices, ``M = min(N, max_samples)``.
    """
    n = int(targets.shape[0])
    if max_samples is None or max_samples >= n:
        return torch.arange(n)
    y = targets.numpy()
    counts = np.bincount(y)
    present = counts[counts > 0]
    # train_test_split needs 2+ per class and room for every class on both sides.
    stratify = y if present.min() >= 2 and len(present) <= max_samples <= n - len(present) else None
    # here, not at the top: scikit-learn takes ~1 s to import and most pages never need it
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(n), train_size=max_samples, random_state=seed, stratify=stratify)
    return torch.as_tensor(np.sort(keep))


def require_reachable(url: str, dataset: str, timeout: float = 3.0) -> None:
    """Fail fast when ``url``'s host cannot be reached, before a download that has no timeout.

    torchvision's downloads call ``urllib.request.urlopen`` without a timeout, so on a machine
    without network they can hang; a 3 s TCP connect tells offline machines apart quickly.

    Raises:
        DatasetUnavailableError: if a TCP connection to the host does not open within ``timeout`` s.
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            pass
    except OSError as err:
        raise DatasetUnavailableError(
            f"{dataset}: cannot reach {parts.hostname} to download ({err}); this machine looks offline"
        ) from err


def torchvision_dataset(name: str) -> type[Any]:
    """The dataset class ``torchvision.datasets.<name>`` (e.g. ``"MNIST"``), imported when a loader
    needs it, not with the registry: ``import torchvision`` takes about 1 s on 2 cores (its ops pull
    in ``torch._dynamo``), and most pages never load a dataset.

    Raises:
        AttributeError: torchvision has no dataset of that name.
    """
    import torchvision.datasets

    dataset_cls: type[Any] = getattr(torchvision.datasets, name)
    return dataset_cls


def torchvision_files_present(dataset_cls: type, root: Path) -> bool:
    """Whether torchvision's uncompressed IDX files for ``dataset_cls`` lie under ``root``.

    Mirrors ``torchvision.datasets.MNIST._check_exists``: ``root/<ClassName>/raw/<file>`` for every
    resource, without the ``.gz``.

    Args:
        dataset_cls: ``torchvision.datasets.MNIST`` or a subclass (``FashionMNIST``).
        root: the folder torchvision was given as ``root``.
    """
    raw = Path(root) / dataset_cls.__name__ / "raw"
    names = [Path(url).name.removesuffix(".gz") for url, _ in dataset_cls.resources]  # type: ignore[attr-defined]
    return all((raw / name).is_file() for name in names)


def load_torchvision_idx(dataset_cls: type, root: Path, split: SplitName) -> tuple[torch.Tensor, torch.Tensor]:
    """Load torchvision-downloaded MNIST-family files (``download=False``).

    Args:
        dataset_cls: ``torchvision.datasets.MNIST`` or a subclass.
        root: the folder torchvision was given as ``root``.
        split: ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (both, train first).

    Returns:
        ``(images (N, 1, 28, 28) uint8 in [0, 255], targets (N,) int64)``.
    """
    parts = ["train", "test"] if split == "all" else [split]
    xs, ys = [], []
    for part in parts:
        ds = dataset_cls(str(root), train=part == "train", download=False)
        xs.append(ds.data.unsqueeze(1))  # (N, 1, 28, 28)
        ys.append(ds.targets.long())
    return torch.cat(xs), torch.cat(ys)


def check_int_option(dataset: str, name: str, value: object, low: int, high: int) -> int:
    """Check a loader's integer option (``bool`` is refused although it is an ``int``).

    Returns:
        ``value``, unchanged.

    Raises:
        TypeError: ``value`` is not an int.
        ValueError: ``value`` is outside ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{dataset}: {name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{dataset}: {name} must be in [{low}, {high}], got {value}")
    return value
