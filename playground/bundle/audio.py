"""Fine-tuning an audio model: a shipped audio checkpoint as the start of a run on new classes.

An image model's pretrained weights come with a fixed preprocessing (ImageNet's size and
normalisation); an audio model's come with the one it was trained with: sample rate, clip length,
log-mel or MFCC settings and the training clips' standardisation statistics. A model fine-tuned
from them must hear its new clips exactly as the pretrained one heard its own, so the run keeps the
checkpoint's preprocessing (the new clips are resampled to its rate) instead of fitting a new one.
"""

from __future__ import annotations

from typing import Any

from playground.bundle.core import Bundle, ModelCard, load_bundle
from playground.models import MODELS
from playground.models.audio import PRETRAINED_CHECKPOINTS


def pretrained_audio_bundle(
    architecture: str, weights: str, classes: list[str], *, hparams: dict[str, Any] | None = None
) -> Bundle:
    """``architecture`` with the shipped ``weights`` and a fresh head for ``classes``, ready to train.

    Args:
        architecture: an audio entry with pretrained weights (``audio_cnn``).
        weights: one of the entry's ``weights`` (``"fsdd"``: the shipped digit model).
        classes: the new classes (the head keeps the pretrained one when they are as many).
        hparams: the run's hyper-parameters; they must equal the checkpoint's (the layers must fit).

    Returns:
        A bundle with the checkpoint's preprocessing, its card's ``weights`` set.

    Raises:
        ValueError: no such weights, hyper-parameters other than the checkpoint's, no classes.
        WeightsUnavailableError: the shipped checkpoint is missing.
    """
    spec = MODELS.get(architecture)
    if weights not in spec.weights or (architecture, weights) not in PRETRAINED_CHECKPOINTS:
        known = ", ".join(spec.weights) or "none"
        raise ValueError(f"{architecture} has no pretrained weights {weights!r}; available: {known}")
    if not classes:
        raise ValueError("expected at least one class, got none")
    base = load_bundle(PRETRAINED_CHECKPOINTS[architecture, weights])
    other = {k: v for k, v in (hparams or {}).items() if base.card.hparams.get(k, v) != v}
    if other:
        raise ValueError(
            f"fine-tuning {architecture} from {weights!r} keeps its hyper-parameters {base.card.hparams}; "
            f"these differ: {other}"
        )
    sizes = base.preprocessing.model_sizes()
    model = spec.builder(num_classes=len(classes), weights=weights, **sizes, **base.card.hparams)
    card = ModelCard(
        architecture=architecture,
        num_classes=len(classes),
        modality=base.card.modality,
        weights=weights,
        hparams=dict(base.card.hparams),
        source=spec.source,
        **{name: value for name, value in sizes.items() if name in ModelCard.__dataclass_fields__},
    )
    return Bundle(model.eval(), base.preprocessing, list(classes), card)
