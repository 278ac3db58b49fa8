"""Everything between "this model on this dataset" and a call to :func:`~playground.training.train`.

One place for the CLI and the Train page: the dataset's preferred training settings, a tokenizer
trained on the training part (text), per-feature statistics of the training part (numeric
sequences), and a bundle with one output per class.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

import torch

from playground.bundle import Bundle, create_bundle_for_dataset, create_bundle_from_preprocessing
from playground.bundle.hf import pretrained_text_bundle
from playground.core.modality import MODALITIES
from playground.data import DATASETS, ImageDataset, Split, TextDataset
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.models import MODELS
from playground.training.config import TrainConfig

T = TypeVar("T")


def _dataset_defaults(dataset_name: str, attribute: str) -> dict[str, Any]:
    return dict(getattr(DATASETS.get(dataset_name), attribute)) if dataset_name in DATASETS else {}


def _merged(cls: type[T], what: str, dataset_name: str, attribute: str, overrides: dict[str, Any]) -> T:
    """``cls`` built from the dataset's ``attribute`` defaults, then the non-``None`` ``overrides``."""
    given = {k: v for k, v in overrides.items() if v is not None}
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(given) - known
    if unknown:
        raise ValueError(f"unknown {what} settings {sorted(unknown)}; known: {sorted(known)}")
    return cls(**{**_dataset_defaults(dataset_name, attribute), **given})


def train_config_for(dataset_name: str, architecture: str | None = None, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from the dataset's ``train_defaults``, the architecture's, then ``overrides``.

    ``None`` values in ``overrides`` mean "not given" and keep the default.

    Raises:
        ValueError: an unknown field or a value out of range.
    """
    model_defaults = dict(MODELS.get(architecture).train_defaults) if architecture and architecture in MODELS else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    return _merged(TrainConfig, "training", dataset_name, "train_defaults", {**model_defaults, **given})


def tokenizer_options_for(dataset_name: str, **overrides: Any) -> TokenizerOptions:
    """:class:`TokenizerOptions` from the dataset's ``tokenizer_defaults`` and then ``overrides``.

    ``None`` values in ``overrides`` keep the default.

    Raises:
        ValueError: an unknown field or a value out of range.
    """
    return _merged(TokenizerOptions, "tokenizer", dataset_name, "tokenizer_defaults", overrides)


def model_hparams_for(dataset_name: str, architecture: str, **overrides: Any) -> dict[str, Any]:
    """The architecture's hyper-parameters with the dataset's ``model_defaults`` it has, then ``overrides``.

    Raises:
        ValueError: unknown architecture.
    """
    spec = MODELS.get(architecture)
    preferred = {k: v for k, v in _dataset_defaults(dataset_name, "model_defaults").items() if k in spec.defaults}
    return {**spec.defaults, **preferred, **overrides}


def bundle_for_split(
    architecture: str,
    split: Split,
    *,
    weights: str | None = None,
    hparams: dict[str, Any] | None = None,
    tokenizer: TokenizerOptions | None = None,
    seed: int | None = 0,
) -> Bundle:
    """A fresh bundle of ``architecture`` sized for ``split``'s dataset, ready to train.

    * images: the dataset's channels and size (or the pretrained weights' input, fine-tuning);
    * text: a tokenizer of ``tokenizer`` options (default: the dataset's ``tokenizer_defaults``)
      trained on the TRAINING part only, so validation words the model never saw stay unknown;
      a pretrained text transformer (an entry with ``text_preprocessing``: ``minilm``, ...) keeps
      its own tokenizer (only ``max_length`` of the options applies, capped at the model's) and
      its pretrained weights, with a new head;
    * numeric sequences: per-feature mean / std of the training part;
    * any other modality: its registered ``fit_preprocessing`` on the training part; an audio model
      with ``weights`` (fine-tuning a shipped checkpoint) keeps that checkpoint's preprocessing;
    * hyper-parameters not given in ``hparams`` come from the dataset's ``model_defaults`` (where
      the architecture has them), then the architecture's defaults;
    * the initial weights are drawn from ``seed`` (``None``: the process's random state), without
      touching the process's random state, so one command gives one result whatever ran before.

    Raises:
        ValueError: the architecture does not take the dataset's modality, or bad settings.
        WeightsUnavailableError: a pretrained text model whose weights cannot be had offline.
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return bundle_for_split(
                architecture, split, weights=weights, hparams=hparams, tokenizer=tokenizer, seed=None
            )
    dataset = split.dataset
    if architecture in MODELS:  # an unknown name is reported by the builder below
        hparams = model_hparams_for(dataset.name, architecture, **(hparams or {}))
    if isinstance(dataset, ImageDataset):
        return create_bundle_for_dataset(
            architecture, dataset.classes, dataset.channels, max(dataset.image_size), weights=weights, hparams=hparams
        )
    if isinstance(dataset, TextDataset) and architecture in MODELS and MODELS.get(architecture).text_preprocessing:
        # A pretrained text transformer keeps its own tokenizer (none is trained on the dataset) and
        # its pretrained weights; only the head is new (one output per class).
        if weights not in (None, MODELS.get(architecture).default_weights):
            raise ValueError(f"{architecture} has no weights {weights!r}; it always starts from its pretrained ones")
        options = tokenizer or tokenizer_options_for(dataset.name)
        return pretrained_text_bundle(
            architecture,
            num_classes=len(dataset.classes),
            labels=list(dataset.classes),
            hparams=hparams,
            max_length=options.max_length,
        )
    if weights is not None and dataset.modality == "audio":
        # Fine-tuning a shipped audio model: its preprocessing comes with its weights (see bundle.audio).
        from playground.bundle.audio import pretrained_audio_bundle

        return pretrained_audio_bundle(architecture, weights, list(dataset.classes), hparams=hparams)
    if weights is not None:
        raise ValueError(f"{architecture} has no pretrained weights for {dataset.name}; train it from scratch")
    fit = MODALITIES.get(dataset.modality).fit_preprocessing
    if fit is None:
        raise ValueError(f"{dataset.modality} models are not trained on a dataset split; see the modality's docs")
    # Text fits a tokenizer of these options; other modalities get the model's hyper-parameters
    # (audio: ``features`` picks log-mel, MFCC or the waveform).
    fit_options = tokenizer or (tokenizer_options_for(dataset.name) if isinstance(dataset, TextDataset) else hparams)
    preprocessing = fit(split.part("train")[0], dataset, fit_options)
    return create_bundle_from_preprocessing(architecture, preprocessing, dataset.classes, hparams=hparams)
