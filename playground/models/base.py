"""The model registry: what an architecture entry declares, and how it is built.

Every entry is a *builder* function decorated with :func:`register_model`::

    @register_model("lenet5", family="cnn", modality="image", source="LeCun et al. 1998, ...",
                    in_channels=1, image_size=28, defaults={"width": 1.0})
    def lenet5(num_classes: int, in_channels: int, image_size: int, weights: str | None = None,
               **hparams) -> nn.Module: ...

The builder returns an ``nn.Module`` whose forward maps the normalized ``(B, C, H, W)`` float32
input to ``(B, num_classes)`` logits. ``weights`` names pretrained weights (``"imagenet"``) or is
``None`` for random init; a builder given weights it cannot load raises
:class:`WeightsUnavailableError` with a message a user can act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from torch import nn

from playground.core.modality import Modality
from playground.core.registry import Registry
from playground.modalities.image.preprocessing import Preprocessing, simple_preprocessing

if TYPE_CHECKING:
    from playground.modalities.text.preprocessing import TextPreprocessing

Family = Literal["cnn", "rnn", "transformer"]
Builder = Callable[..., nn.Module]
PreprocessingFactory = Callable[[int, int, "str | None"], Preprocessing]
TextPreprocessingFactory = Callable[[dict[str, Any]], "TextPreprocessing"]


class WeightsUnavailableError(ValueError):
    """Pretrained weights were asked for but cannot be had (offline, empty cache, bad file)."""


def _default_preprocessing(in_channels: int, image_size: int, weights: str | None) -> Preprocessing:
    return simple_preprocessing(image_size, in_channels)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry key, e.g. ``"lenet5"``.
        family: ``"cnn"``, ``"rnn"`` or ``"transformer"``.
        modality: what the input is (``"image"`` for every CNN here).
        builder: see the module docstring.
        source: paper or article section (with a link) the architecture comes from.
        description: one sentence for the UI.
        num_classes: default number of outputs.
        in_channels: default number of input channels (1 or 3).
        image_size: default input side in pixels (square inputs).
        min_image_size: smallest input side the architecture can take.
        defaults: default hyper-parameters passed to the builder as keyword arguments.
        weights: names of pretrained weights the builder can load, e.g. ``("imagenet",)``.
        default_weights: the weights used when none are named (``None``: random init).
        preprocessing: ``(in_channels, image_size, weights) -> Preprocessing``.
        labels: class names that come with ``default_weights`` (empty when there are none).
        choices: the allowed values of hyper-parameters that take one of a few (for the UI's menus).
        inputs: every modality the entry takes (empty: just ``modality``); the recurrent entries
            take ``("text", "sequence")``: token ids through an embedding, or numeric features.
        text_preprocessing: pretrained text models only: ``hparams -> TextPreprocessing`` with the
            model's own tokenizer, used instead of training one on the dataset
            (``playground.training.setup.bundle_for_split``); ``None`` for every other entry.
        train_defaults: ``TrainConfig`` fields this architecture needs whatever the dataset (they
            win over the dataset's ``train_defaults``), e.g. ``vit_tiny``'s longer schedule and
            augmentation: transformers see no image prior and need more data or more epochs.

    Builders of ``"text"`` / ``"sequence"`` entries take ``num_classes`` and keyword-only
    ``vocab_size`` (token ids in) or ``input_size`` (features per step in) instead of
    ``in_channels`` / ``image_size``.
    """

    name: str
    family: Family
    modality: Modality
    builder: Builder
    source: str
    description: str
    num_classes: int = 10
    in_channels: int = 3
    image_size: int = 32
    min_image_size: int = 8
    defaults: dict[str, Any] = field(default_factory=dict)
    weights: tuple[str, ...] = ()
    default_weights: str | None = None
    preprocessing: PreprocessingFactory = _default_preprocessing
    labels: Callable[[], list[str]] | None = None
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    inputs: tuple[Modality, ...] = ()
    text_preprocessing: TextPreprocessingFactory | None = None
    train_defaults: dict[str, Any] = field(default_factory=dict)

    def accepts(self, modality: str) -> bool:
        """Whether the entry can be built for data of ``modality`` (``"image"``, ``"text"``, ...)."""
        return modality in (self.inputs or (self.modality,))


MODELS: Registry[ModelSpec] = Registry("model")


def register_model(name: str, **spec: Any) -> Callable[[Builder], Builder]:
    """Decorator that registers a builder as :class:`ModelSpec` ``name`` and returns it unchanged.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def decorator(builder: Builder) -> Builder:
        MODELS.add(name, ModelSpec(name=name, builder=builder, **spec))
        return builder

    return decorator
