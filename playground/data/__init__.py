"""Datasets: the registry and every entry in it.

Importing this package registers every entry; ``DATASETS.names()`` lists them.
"""

from playground.data import (  # noqa: F401  (imported for their @register_dataset side effect)
    audio_folder,
    bbc_news,
    brackets,
    cifar10,
    digits,
    fashion_mnist,
    folder,
    fsdd,
    hf_text,
    mnist,
    parity,
    shapes,
    spoken_words,
    text_csv,
    tweet_sentiment,
    waves,
)
from playground.data.audio import AudioDataset
from playground.data.base import (
    DATASETS,
    AnyDataset,
    DatasetSpec,
    DatasetUnavailableError,
    ImageDataset,
    SequenceDataset,
    TextDataset,
    default_data_root,
    register_dataset,
)
from playground.data.split import Split, split_dataset

__all__ = [
    "DATASETS",
    "AnyDataset",
    "AudioDataset",
    "DatasetSpec",
    "DatasetUnavailableError",
    "ImageDataset",
    "SequenceDataset",
    "Split",
    "TextDataset",
    "default_data_root",
    "load_dataset",
    "register_dataset",
    "split_dataset",
]


def load_dataset(name: str, **options: object) -> AnyDataset:
    """Load registered dataset ``name``.

    Raises:
        ValueError: unknown name (lists the known ones) or bad options.
        DatasetUnavailableError: the data cannot be had here (e.g. offline).
    """
    return DATASETS.get(name).loader(**options)
