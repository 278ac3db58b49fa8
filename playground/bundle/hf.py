"""Hugging Face text models as bundles: a registered pretrained entry, or any model id / local folder.

The models themselves live in :mod:`playground.models.hf`; this module wraps one with its tokenizer,
labels and a card that holds the model's config, so a saved checkpoint of it loads offline.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from playground.bundle.core import Bundle, ModelCard
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.models.base import MODELS
from playground.models.hf import (
    HF_TEXT,
    PRETRAINED,
    HFTextClassifier,
    _auto_config,
    _backbone,
    _preprocessing,
    config_to_dict,
    is_sequence_classifier,
    load_pretrained,
)


def _labels(
    model: HFTextClassifier, num_classes: int, labels: list[str] | None, fallback: list[str] | None
) -> list[str]:
    if labels is not None:
        if len(labels) != num_classes:
            raise ValueError(f"expected {num_classes} labels, got {len(labels)}")
        return [str(x) for x in labels]
    if model.head is None:
        id2label: dict[Any, Any] = dict(model.config.id2label or {})
        if len(id2label) == num_classes:
            return [str(id2label[i]) for i in range(num_classes)]
    if fallback and len(fallback) == num_classes:
        return list(fallback)
    return [str(i) for i in range(num_classes)]


def _bundle(
    architecture: str,
    model: HFTextClassifier,
    preprocessing: TextPreprocessing,
    labels: list[str],
    hparams: dict[str, Any],
    source: str,
    title: str,
) -> Bundle:
    card = ModelCard(
        architecture=architecture,
        num_classes=model.num_classes,
        modality="text",
        vocab_size=preprocessing.vocab_size,
        weights=PRETRAINED,
        hparams={**hparams, "config": config_to_dict(model.config)},  # rebuilt offline from this
        source=source,
        title=title,
    )
    return Bundle(model.eval(), preprocessing, labels, card)


def _cap(preprocessing: TextPreprocessing, max_length: int | None) -> TextPreprocessing:
    if max_length is None:
        return preprocessing
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    return replace(preprocessing, max_length=min(max_length, preprocessing.max_length))


def pretrained_text_bundle(
    name: str,
    *,
    num_classes: int | None = None,
    labels: list[str] | None = None,
    hparams: dict[str, Any] | None = None,
    max_length: int | None = None,
) -> Bundle:
    """A registered pretrained text model (``minilm``, ``bert-base-uncased``, ...) as a bundle.

    Args:
        name: an entry with ``text_preprocessing`` (see ``MODELS``).
        num_classes: K; default: the model's own head's classes, else the entry's (2).
        labels: K class names; default: the model's ``id2label`` (own head), else ``"0"``, ``"1"``, ...
        hparams: overrides of the entry's defaults (``pooling``, ``dropout``, ``model_id``).
        max_length: cap on tokens per text (default: the model's, at most 512).

    Returns:
        A bundle in eval mode; its card holds the model's config, so a saved checkpoint of it
        loads offline (``load_bundle``).

    Raises:
        WeightsUnavailableError: weights not cached and not downloadable (``minilm`` never: offline).
        ValueError: not a pretrained text entry, unknown hyper-parameters, bad sizes.
    """
    spec = MODELS.get(name)
    if spec.text_preprocessing is None:
        raise ValueError(f"{name} is not a pretrained text model; build it with create_bundle_from_preprocessing")
    merged = {**spec.defaults, **(hparams or {})}
    unknown = set(merged) - set(spec.defaults)
    if unknown:
        raise ValueError(f"unknown hyper-parameters for {name}: {sorted(unknown)}; known: {sorted(spec.defaults)}")
    preprocessing = _cap(spec.text_preprocessing(merged), max_length)
    fallback = spec.labels() if spec.labels is not None else None
    if num_classes is None:
        num_classes = len(labels) if labels is not None else len(fallback) if fallback else spec.num_classes
    model = spec.builder(num_classes=num_classes, vocab_size=preprocessing.vocab_size, weights=PRETRAINED, **merged)
    if not isinstance(model, HFTextClassifier):
        raise TypeError(f"{name}'s builder returned {type(model).__name__}, expected an HFTextClassifier")
    title = str(merged.get("model_id")) if name == HF_TEXT else ""  # "" : "minilm · pretrained", then "· dataset"
    return _bundle(
        name, model, preprocessing, _labels(model, num_classes, labels, fallback), merged, spec.source, title
    )


def hf_text_bundle(
    model_id_or_path: str,
    *,
    num_classes: int | None = None,
    labels: list[str] | None = None,
    max_length: int | None = None,
    pooling: str = "mean",
    dropout: float = 0.1,
) -> Bundle:
    """Any Hugging Face text model (a model id a user typed, or a local folder) as a bundle.

    A config whose ``architectures`` names a ``*ForSequenceClassification`` keeps its own head and
    class names (a new head of ``num_classes`` outputs when that differs); any other encoder gets
    ``pooling`` + dropout + a new linear head of ``num_classes`` (default 2).

    Args:
        model_id_or_path: e.g. ``"bert-base-uncased"``, ``"org/name"``, or a folder saved with
            ``save_pretrained`` (config.json, model.safetensors, tokenizer files).
        num_classes: K (see above).
        labels: K class names (default: ``id2label`` of the model's own head, else ``"0"``, ...).
        max_length: cap on tokens per text (default: ``min(model positions, tokenizer limit, 512)``).
        pooling: ``"mean"`` or ``"cls"`` for a new head.
        dropout: before a new head.

    Returns:
        A bundle (architecture ``"hf_text"``, its ``model_id`` and config in the card's hparams).

    Raises:
        WeightsUnavailableError: not a complete local folder; not cached and the Hub unreachable
            (fails within :data:`DOWNLOAD_TIMEOUT_S` seconds); or the download failed.
        ValueError: not a model id or folder, a tokenizer that does not pad with id 0, no fast
            tokenizer, or bad sizes.
    """
    spec = MODELS.get(HF_TEXT)
    source = (
        str(Path(model_id_or_path).expanduser().resolve())
        if Path(model_id_or_path).expanduser().is_dir()
        else model_id_or_path
    )
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")

    def load(s: str, local: bool) -> tuple[TextPreprocessing, HFTextClassifier]:
        preprocessing = _preprocessing(s, local, model_id_or_path)
        config = _auto_config(s, local)
        k = num_classes
        if k is None and labels is not None:
            k = len(labels)
        elif k is None:
            k = int(config.num_labels or 2) if is_sequence_classifier(config) else 2
        backbone = _backbone(config, s, local, k)
        own = is_sequence_classifier(backbone.config)
        return preprocessing, HFTextClassifier(backbone, None if own else k, pooling=pooling, dropout=dropout)

    preprocessing, model = load_pretrained(source, "the model files", load)
    preprocessing = _cap(preprocessing, max_length)
    if preprocessing.vocab_size > int(model.config.vocab_size):
        raise ValueError(
            f"the tokenizer has {preprocessing.vocab_size} ids but the model's embedding takes {model.config.vocab_size}"
        )
    k = model.num_classes
    hparams = {"model_id": source, "pooling": pooling, "dropout": float(dropout)}
    title = Path(source).name if Path(source).is_absolute() else source  # a folder's name, or the model id
    return _bundle(HF_TEXT, model, preprocessing, _labels(model, k, labels, None), hparams, spec.source, title)
