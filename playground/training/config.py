"""The training configuration: one frozen dataclass that every training run is described by.

It is stored in the bundle's card (``card.training``) after a run, so a checkpoint says how it was
trained.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from playground.core.device import DeviceChoice

Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["constant", "cosine", "step"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train a bundle (nanoGPT style: a plain dataclass with defaults that work).

    Attributes:
        epochs: passes over the training part, >= 1.
        batch_size: examples per optimizer step, >= 1.
        optimizer: ``"sgd"`` (with ``momentum``), ``"adam"`` (Kingma & Ba 2014,
            https://arxiv.org/abs/1412.6980) or ``"adamw"`` (decoupled weight decay, Loshchilov &
            Hutter 2017, https://arxiv.org/abs/1711.05101).
        lr: base learning rate, > 0.
        momentum: SGD momentum in ``[0, 1)``; ignored by Adam / AdamW.
        weight_decay: L2 penalty (SGD, Adam) or decoupled decay (AdamW), >= 0.
        schedule: learning rate per epoch: ``"constant"``; ``"cosine"`` (cosine annealing over
            ``epochs``, Loshchilov & Hutter 2016, https://arxiv.org/abs/1608.03983); ``"step"``
            (x0.1 after 50 % and again after 75 % of the epochs, rounded down).
        val_fraction: share of the dataset held out for validation, in ``(0, 1)``; used by the
            caller to make the split (``split_dataset(dataset, config.val_fraction, config.seed)``).
        augment_flip: random horizontal flips (per sample, probability 0.5).
        augment_crop: random crops of the image padded by ``max(1, round(size / 8))`` pixels
            (4 for 28-32 px inputs, the CIFAR recipe of He et al. 2015, https://arxiv.org/abs/1512.03385).
        augment_rotation: random rotations, uniform in ``[-augment_rotation, +augment_rotation]``
            degrees, per sample; 0 turns them off.
        augment_audio: audio models: a random time shift (up to 10 % of the clip), gain
            (+-6 dB), background noise (20-40 dB SNR) and SpecAugment masks (Park et al. 2019,
            https://arxiv.org/abs/1904.08779), per clip (``playground.modalities.audio.augment``).
        seed: seeds shuffling, augmentation and ``torch.manual_seed`` (dropout); the same seed and
            the same starting weights give the same run.
        device: ``"auto"`` (cuda > mps > cpu), ``"cuda"``, ``"mps"`` or ``"cpu"``.
        amp: mixed precision on CUDA (bf16 autocast where supported, else fp16 with a gradient
            scaler); ignored elsewhere (the run records why).
        freeze_backbone: train only the classification head
            (``playground.models.adapt.freeze_backbone``).
        max_batches_per_epoch: cap on batches per epoch, for quick demos and tests; ``None``: all.

    Raises:
        ValueError: on construction, for any value out of range (the message names the field,
            what it expected and what it got).
    """

    epochs: int = 5
    batch_size: int = 64
    optimizer: Optimizer = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: Schedule = "constant"
    val_fraction: float = 0.1
    augment_flip: bool = False
    augment_crop: bool = False
    augment_rotation: float = 0.0
    augment_audio: bool = False
    seed: int = 0
    device: DeviceChoice = "auto"
    amp: bool = False
    freeze_backbone: bool = False
    max_batches_per_epoch: int | None = None

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, minimum=1)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_choice("optimizer", self.optimizer, get_args(Optimizer))
        _check_choice("schedule", self.schedule, get_args(Schedule))
        _check_choice("device", self.device, get_args(DeviceChoice))
        if not _is_real(self.lr) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not _is_real(self.momentum) or not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not _is_real(self.weight_decay) or not self.weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not _is_real(self.val_fraction) or not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {self.val_fraction!r}")
        if not _is_real(self.augment_rotation) or not 0.0 <= self.augment_rotation <= 180.0:
            raise ValueError(f"augment_rotation must be between 0 and 180 degrees, got {self.augment_rotation!r}")
        _check_int("seed", self.seed, minimum=0)
        if self.max_batches_per_epoch is not None:
            _check_int("max_batches_per_epoch", self.max_batches_per_epoch, minimum=1)
        for name in ("augment_flip", "augment_crop", "augment_audio", "amp", "freeze_backbone"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def augments(self) -> bool:
        """Whether any data augmentation is on."""
        return self.augment_flip or self.augment_crop or self.augment_rotation > 0 or self.augment_audio

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict (for ``card.json``)."""
        return asdict(self)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
