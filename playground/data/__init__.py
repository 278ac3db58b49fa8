"""Datasets: the registry and every entry in it.

Importing this package registers every entry; ``DATASETS.names()`` lists them.
"""

from playground.data import (  # noqa: F401  (imported for their @register_dataset side effect)
    cifar10,
    digits,
    fashion_mnist,
    folder,
    mnist,
    shapes,
)
from playground.data.base import (
    DATASETS,
    DatasetSpec,
    DatasetUnavailableError,
    ImageDataset,
    default_data_root,
    register_dataset,
)
from playground.data.split import Split, split_dataset

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "DatasetUnavailableError",
    "ImageDataset",
    "Split",
    "default_data_root",
    "load_dataset",
    "register_dataset",
    "split_dataset",
]


def load_dataset(name: str, **options: object) -> ImageDataset:
    """Load registered dataset ``name``.

    Raises:
        ValueError: unknown name (lists the known ones) or bad options.
        DatasetUnavailableError: the data cannot be had here (e.g. offline).
    """
    return DATASETS.get(name).loader(**options)
