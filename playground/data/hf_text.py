"""Online-only text datasets from the Hugging Face Hub: ``ag_news``, ``imdb``, ``sst2``.

They load through the Hugging Face ``datasets`` library (https://huggingface.co/docs/datasets) when
it is installed (``pip install datasets``) and the Hub is reachable; otherwise the loader raises
:class:`~playground.data.base.DatasetUnavailableError` saying so. All three are plain Parquet
repositories: no loading script runs (``trust_remote_code`` is never passed, so never True).

A copy saved with ``datasets.Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` loads offline
with ``path=`` (this is also how the loading code is tested without the network).

Entries (Hub id, text / label columns, classes in label order):

* ``ag_news``: ``fancyzhx/ag_news``, ``text`` / ``label``, World, Sports, Business, Sci/Tech;
  train 120,000, test 7,600 news titles + descriptions. Zhang, Zhao & LeCun 2015,
  "Character-level Convolutional Networks for Text Classification", https://arxiv.org/abs/1509.01626.
* ``imdb``: ``stanfordnlp/imdb``, ``text`` / ``label``, neg, pos; train 25,000, test 25,000 movie
  reviews (the ``unsupervised`` split has no labels). Maas et al. 2011, "Learning Word Vectors for
  Sentiment Analysis", https://aclanthology.org/P11-1015.
* ``sst2``: ``stanfordnlp/sst2``, ``sentence`` / ``label``, negative, positive; train 67,349
  (phrases and sentences), validation 872 (the test split's labels are hidden, -1). Socher et al.
  2013, "Recursive Deep Models for Semantic Compositionality Over a Sentiment Treebank",
  https://aclanthology.org/D13-1170.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from playground.data.base import DatasetUnavailableError, TextDataset, register_dataset
from playground.data.idx import reject_unknown_options, require_reachable, stratified_subsample
from playground.modalities.text.clean import EmptyTextError, clean_text

HUB_URL = "https://huggingface.co"
_OPTIONS = ("split", "max_samples", "seed", "path")
_INSTALL = "needs the internet and `pip install datasets` (the Hugging Face datasets library)"


@dataclass(frozen=True)
class HubTextDataset:
    """How one Hub dataset maps onto a :class:`TextDataset`.

    Attributes:
        name: registry name.
        repo_id: dataset id on the Hugging Face Hub.
        text_column: column holding the texts.
        label_column: column holding the int class labels.
        classes: class names in label order (used when the data carries no ``ClassLabel`` names).
        splits: labelled splits that may be asked for; the first is the default.
        default_max_samples: examples kept by default (stratified subset), ``None`` for all.
        description: one or two sentences for the UI.
        source: dataset page and paper.
        tokenizer_defaults: ``TokenizerOptions`` fields that suit the texts.
        train_defaults: ``TrainConfig`` fields that suit the data.
    """

    name: str
    repo_id: str
    text_column: str
    label_column: str
    classes: tuple[str, ...]
    splits: tuple[str, ...]
    default_max_samples: int | None
    description: str
    source: str
    tokenizer_defaults: dict[str, Any]
    train_defaults: dict[str, Any]


ENTRIES: dict[str, HubTextDataset] = {
    "ag_news": HubTextDataset(
        name="ag_news",
        repo_id="fancyzhx/ag_news",
        text_column="text",
        label_column="label",
        classes=("World", "Sports", "Business", "Sci/Tech"),
        splits=("train", "test"),
        default_max_samples=20_000,
        description=(
            "AG News: 127,600 news titles with descriptions in 4 topics (World, Sports, Business, Sci/Tech), "
            "Zhang et al. 2015; 20,000 of the training split by default. Online only: needs `pip install datasets`."
        ),
        source="https://huggingface.co/datasets/fancyzhx/ag_news (https://arxiv.org/abs/1509.01626)",
        tokenizer_defaults={"kind": "word", "vocab_size": 20000, "max_length": 64, "lowercase": True},
        train_defaults={"epochs": 4, "lr": 2e-3, "batch_size": 64},
    ),
    "imdb": HubTextDataset(
        name="imdb",
        repo_id="stanfordnlp/imdb",
        text_column="text",
        label_column="label",
        classes=("neg", "pos"),
        splits=("train", "test"),
        default_max_samples=10_000,
        description=(
            "IMDB: 50,000 movie reviews labelled negative or positive (Maas et al. 2011); 10,000 of the "
            "training split by default. Online only: needs `pip install datasets`."
        ),
        source="https://huggingface.co/datasets/stanfordnlp/imdb (https://aclanthology.org/P11-1015)",
        tokenizer_defaults={"kind": "word", "vocab_size": 20000, "max_length": 256, "lowercase": True},
        train_defaults={"epochs": 4, "lr": 2e-3, "batch_size": 32},
    ),
    "sst2": HubTextDataset(
        name="sst2",
        repo_id="stanfordnlp/sst2",
        text_column="sentence",
        label_column="label",
        classes=("negative", "positive"),
        splits=("train", "validation"),
        default_max_samples=None,
        description=(
            "SST-2: 68,221 movie-review sentences and phrases labelled negative or positive (Stanford "
            "Sentiment Treebank, Socher et al. 2013). Online only: needs `pip install datasets`."
        ),
        source="https://huggingface.co/datasets/stanfordnlp/sst2 (https://aclanthology.org/D13-1170)",
        tokenizer_defaults={"kind": "word", "vocab_size": 10000, "max_length": 64, "lowercase": True},
        train_defaults={"epochs": 4, "lr": 2e-3, "batch_size": 64},
    ),
}


def import_datasets(dataset: str) -> ModuleType:
    """Import the Hugging Face ``datasets`` library.

    Raises:
        DatasetUnavailableError: it is not installed (the message says what to install).
    """
    try:
        return importlib.import_module("datasets")
    except ImportError as err:
        raise DatasetUnavailableError(f"{dataset}: {_INSTALL}; it is not installed here ({err})") from err


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the download failed" (requests' errors are ``OSError`` subclasses)."""
    errors: list[type[BaseException]] = [OSError]
    try:
        import httpx  # huggingface_hub >= 1.0 downloads with httpx, whose errors are not OSErrors

        errors.append(httpx.HTTPError)
    except ImportError:
        pass
    return tuple(errors)


def _hub_offline_mode() -> bool:
    """Whether the user asked the Hugging Face libraries to use their cache only."""
    return any(
        os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    )


def _open(entry: HubTextDataset, root: Path | None, split: str, path: str | Path | None) -> Any:
    """The ``datasets.Dataset`` of ``split``, from the local copy at ``path`` or from the Hub."""
    datasets = import_datasets(entry.name)
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise DatasetUnavailableError(
                f"{entry.name}: expected a folder written by datasets' save_to_disk, got {str(folder)!r}"
            )
        try:
            data = datasets.load_from_disk(str(folder))
        except FileNotFoundError as err:
            raise DatasetUnavailableError(
                f"{entry.name}: {str(folder)!r} holds no dataset saved with save_to_disk ({err})"
            ) from err
        if isinstance(data, datasets.DatasetDict):
            if split not in data:
                raise ValueError(f"{entry.name}: the copy at {str(folder)!r} has splits {list(data)}, not {split!r}")
            data = data[split]
        return data
    if not _hub_offline_mode():
        try:
            require_reachable(HUB_URL, entry.name)
        except DatasetUnavailableError as err:
            raise DatasetUnavailableError(f"{entry.name}: {_INSTALL}, and {err}") from err
    try:
        return datasets.load_dataset(
            entry.repo_id, split=split, cache_dir=str(Path(root) / "huggingface") if root is not None else None
        )
    except _network_errors() as err:
        raise DatasetUnavailableError(
            f"{entry.name}: could not get {entry.repo_id} from the Hugging Face Hub ({type(err).__name__}: {err}); "
            f"it {_INSTALL}"
        ) from err


def _check_options(entry: HubTextDataset, split: object, max_samples: object, seed: object) -> None:
    if split not in entry.splits:
        raise ValueError(f"{entry.name}: split must be one of {list(entry.splits)}, got {split!r}")
    if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, int)):
        raise TypeError(f"{entry.name}: max_samples must be an int or None, got {type(max_samples).__name__}")
    if isinstance(max_samples, int) and max_samples < len(entry.classes):
        raise ValueError(f"{entry.name}: max_samples must be at least {len(entry.classes)}, got {max_samples}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{entry.name}: seed must be an int, got {type(seed).__name__}")


def load_hub_text(
    entry: HubTextDataset,
    root: Path | None = None,
    *,
    split: str | None = None,
    max_samples: int | None = None,
    seed: int = 0,
    path: str | Path | None = None,
) -> TextDataset:
    """Load ``entry`` from the Hub (or a local ``save_to_disk`` copy) as a :class:`TextDataset`.

    Args:
        entry: which dataset (one of :data:`ENTRIES`).
        root: cache folder for downloads (``root / "huggingface"``); ``None``: the ``datasets`` default
            (``~/.cache/huggingface/datasets``).
        split: one of ``entry.splits``; ``None``: the first (``"train"``).
        max_samples: keep a stratified random subset of this many examples; ``None``: all (the
            registered loaders default to ``entry.default_max_samples``).
        seed: random seed of the subset.
        path: a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``; read
            instead of the Hub.

    Returns:
        ``texts`` (N cleaned texts), ``targets (N,)`` int64; ``classes`` from the data's
        ``ClassLabel`` names (else ``entry.classes``). ``info`` counts dropped empty texts.

    Raises:
        DatasetUnavailableError: ``datasets`` missing, the Hub unreachable or the download failed, or
            ``path`` holds no saved dataset.
        ValueError: bad options, missing columns (the message lists the columns there are), labels
            out of range or hidden (-1).
        TypeError: options of the wrong type.
    """
    split = entry.splits[0] if split is None else split
    _check_options(entry, split, max_samples, seed)
    data = _open(entry, root, split, path)

    columns = list(data.column_names)
    missing = [c for c in (entry.text_column, entry.label_column) if c not in columns]
    if missing:
        raise ValueError(f"{entry.name}: the data lacks the column(s) {missing}; its columns are {columns}")
    names = getattr(data.features[entry.label_column], "names", None)
    classes = [str(n) for n in names] if names else list(entry.classes)
    targets = torch.as_tensor([int(v) for v in data[entry.label_column]], dtype=torch.int64)  # (N,)
    if len(targets) == 0:
        raise ValueError(f"{entry.name}: split {split!r} is empty")
    if int(targets.min()) < 0:
        raise ValueError(f"{entry.name}: split {split!r} has no labels (-1: hidden); use one of {list(entry.splits)}")
    if int(targets.max()) >= len(classes):
        raise ValueError(f"{entry.name}: labels must be in [0, {len(classes)}), got up to {int(targets.max())}")

    keep = stratified_subsample(targets, max_samples, int(seed)).tolist()  # sorted indices
    raw_texts = data.select(keep)[entry.text_column] if len(keep) < len(targets) else data[entry.text_column]
    texts: list[str] = []
    kept: list[int] = []
    n_empty = 0
    for i, text in zip(keep, raw_texts, strict=True):
        try:
            texts.append(clean_text(str(text)))
        except EmptyTextError:
            n_empty += 1
            continue
        kept.append(i)
    return TextDataset(
        name=entry.name,
        texts=texts,
        targets=targets[kept].clone(),
        classes=classes,
        source=entry.source,
        info={
            "copy": str(path) if path is not None else f"Hugging Face Hub {entry.repo_id}",
            "split": split,
            "n_split": len(targets),
            "max_samples": max_samples,
            "seed": seed,
            "n_empty_dropped": n_empty,
        },
    )


def _make_loader(entry: HubTextDataset) -> Any:
    def loader(
        root: Path | None = None,
        *,
        split: str | None = None,
        max_samples: int | None = entry.default_max_samples,
        seed: int = 0,
        path: str | Path | None = None,
        **unknown: object,
    ) -> TextDataset:
        reject_unknown_options(entry.name, unknown, _OPTIONS)
        return load_hub_text(entry, root, split=split, max_samples=max_samples, seed=seed, path=path)

    loader.__name__ = entry.name
    loader.__doc__ = f"Load {entry.name} ({entry.repo_id}); see :func:`load_hub_text` for the options."
    return loader


for _entry in ENTRIES.values():
    register_dataset(
        _entry.name,
        modality="text",
        num_classes=len(_entry.classes),
        description=_entry.description,
        source=_entry.source,
        offline=lambda: False,
        train_defaults=_entry.train_defaults,
        tokenizer_defaults=_entry.tokenizer_defaults,
    )(_make_loader(_entry))
