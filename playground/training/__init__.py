"""Training: the loop, evaluation and augmentation (the background job lives in :mod:`playground.runner`).

Typical use::

    from playground.bundle import create_bundle
    from playground.data import load_dataset, split_dataset
    from playground.training import TrainConfig, train

    data = load_dataset("mnist")
    config = TrainConfig(epochs=8, lr=1e-3)
    split = split_dataset(data, config.val_fraction, config.seed)
    bundle = create_bundle("lenet5", num_classes=len(data.classes), labels=data.classes, weights=None)
    result = train(bundle, split, config)  # trains bundle.model in place
    print(result.metrics["val_accuracy"])

Nothing here imports ``playground.models`` or ``playground.data`` at import time (``freeze_backbone``
is imported when it is used).
"""

from playground.training.augment import augment_batch, crop_padding, rotate_batch
from playground.training.config import TrainConfig
from playground.training.evaluate import Evaluation, evaluate, evaluate_batches, summarize_logits
from playground.training.loop import (
    BatchProgress,
    EpochRecord,
    TrainingError,
    TrainResult,
    make_optimizer,
    make_scheduler,
    steps_per_epoch,
    train,
)

__all__ = [
    "BatchProgress",
    "EpochRecord",
    "Evaluation",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "augment_batch",
    "crop_padding",
    "evaluate",
    "evaluate_batches",
    "make_optimizer",
    "make_scheduler",
    "rotate_batch",
    "steps_per_epoch",
    "summarize_logits",
    "train",
]
