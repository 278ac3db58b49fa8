"""Ensembles of checkpoints as a model of their own.

The article answers robustness with "data augmentation and ensembles"; an ensemble here averages
the softmax probabilities of its members, each fed through its own normalization, so it can be
swept, attacked and compared like any other bundle.

Source: Lakshminarayanan et al. 2017, "Simple and Scalable Predictive Uncertainty Estimation using
Deep Ensembles", https://arxiv.org/abs/1612.01474 (averaging member probabilities).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from playground.bundle import Bundle, ModelCard
from playground.core.device import model_device
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.modalities.image.preprocessing import Preprocessing


class EnsembleModel(nn.Module):
    """Averages the class probabilities of several pixel-space models.

    Args:
        members: two or more :class:`~playground.modalities.image.pixel_space.PixelSpaceModel` with the same classes,
            on the same device.

    Input ``(B, C, H, W)`` float32 in ``[0, 1]`` raw pixels; output ``(B, K)``
    ``log(mean_m softmax(logits_m))``, so ``softmax(output)`` is the mean probability and the
    output can stand in for logits everywhere (argmax, cross-entropy, attacks).

    Raises:
        ValueError: if fewer than two members are given.
    """

    def __init__(self, members: list[PixelSpaceModel]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([m(pixels).float().log_softmax(dim=-1) for m in self.members])  # (M, B, K)
        # log of the mean probability, computed stably in log space
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))  # (B, K)


def make_ensemble(bundles: list[Bundle], title: str = "") -> Bundle:
    """Wrap several bundles as one bundle whose model averages their probabilities.

    The ensemble works on raw pixels: its preprocessing has the members' geometry (size, channels,
    resize) and an identity normalization (mean 0, std 1), and each member normalizes inside, with
    its own statistics. Any page that takes a bundle (predict, sweep, attack) takes an ensemble.

    The ensemble is built in memory only: its card's architecture is ``"ensemble"``, which is not
    a registry entry, so it cannot be saved and loaded back as one checkpoint (``load_bundle``
    would refuse it); save the members instead.

    Args:
        bundles: two or more bundles with the same labels, input geometry and device. They are
            shared, not copied.
        title: display name; default ``"ensemble of N: a + b + ..."``.

    Returns:
        A :class:`~playground.bundle.Bundle` with an :class:`EnsembleModel` in ``eval()`` mode.

    Raises:
        ValueError: fewer than two bundles, differing labels, input geometry or devices.
    """
    if len(bundles) < 2:
        raise ValueError(f"an ensemble needs at least 2 models, got {len(bundles)}")
    first = bundles[0]
    geometry = (
        first.image_preprocessing.image_size,
        first.image_preprocessing.channels,
        first.image_preprocessing.resize,
    )
    device = model_device(first.model)
    for i, b in enumerate(bundles[1:], start=1):
        if b.labels != first.labels:
            raise ValueError(
                f"ensemble members must share their labels: model 0 ({first.title}) has {first.labels[:5]}..., "
                f"model {i} ({b.title}) has {b.labels[:5]}..."
            )
        other = (b.image_preprocessing.image_size, b.image_preprocessing.channels, b.image_preprocessing.resize)
        if other != geometry:
            raise ValueError(
                f"ensemble members must take the same input (size, channels, resize): model 0 takes {geometry}, "
                f"model {i} ({b.title}) takes {other}"
            )
        if model_device(b.model) != device:
            raise ValueError(f"ensemble members must be on one device: {device} and {model_device(b.model)}")
    size, channels, resize = geometry
    preprocessing = Preprocessing(size, channels, (0.0,) * channels, (1.0,) * channels, resize=resize)
    model = EnsembleModel([PixelSpaceModel.from_bundle(b) for b in bundles]).eval()
    datasets = {b.card.dataset for b in bundles}
    card = ModelCard(
        architecture="ensemble",
        num_classes=len(first.labels),
        in_channels=channels,
        image_size=size,
        hparams={"members": [b.title for b in bundles]},
        source="Lakshminarayanan et al. 2017, Deep Ensembles, https://arxiv.org/abs/1612.01474",
        dataset=datasets.pop() if len(datasets) == 1 else None,
        title=title or f"ensemble of {len(bundles)}: " + " + ".join(b.title for b in bundles),
    )
    return Bundle(model, preprocessing, list(first.labels), card)
