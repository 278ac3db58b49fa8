"""Train / validation split with a fixed seed, stratified by class (scikit-learn)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from playground.data.base import AnyDataset, ImageDataset


@dataclass(frozen=True)
class Split:
    """Index-based train / validation views of one dataset (image, text or sequence).

    Attributes:
        dataset: the full dataset.
        train_indices: ``(N_train,)`` int64 indices into ``dataset``.
        val_indices: ``(N_val,)`` int64 indices into ``dataset``.
    """

    dataset: AnyDataset
    train_indices: torch.Tensor
    val_indices: torch.Tensor

    def train_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images (N_train, C, H, W) uint8, targets (N_train,) int64)``; image datasets only."""
        return _images(self.dataset)[self.train_indices], self.dataset.targets[self.train_indices]

    def val_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images (N_val, C, H, W) uint8, targets (N_val,) int64)``; image datasets only."""
        return _images(self.dataset)[self.val_indices], self.dataset.targets[self.val_indices]

    def part(self, which: str) -> tuple[Any, torch.Tensor]:
        """Raw inputs and targets of the ``"train"`` or ``"val"`` part, whatever the modality.

        Returns:
            ``(inputs, targets (N_part,) int64)`` where ``inputs`` is what the dataset's ``take``
            gives: ``(N_part, C, H, W)`` uint8 images, a list of N_part texts, ``(N_part, T, F)``
            float32 sequences, or a plug-in modality's raw inputs.

        Raises:
            ValueError: if ``which`` is neither ``"train"`` nor ``"val"``.
        """
        if which not in ("train", "val"):
            raise ValueError(f"expected 'train' or 'val', got {which!r}")
        idx = self.train_indices if which == "train" else self.val_indices
        return self.dataset.take(idx), self.dataset.targets[idx]

    def class_counts(self) -> dict[str, list[int]]:
        """Examples per class in each part: ``{"train": [...], "val": [...]}``."""
        k = len(self.dataset.classes)
        t = self.dataset.targets
        return {
            "train": torch.bincount(t[self.train_indices], minlength=k).tolist(),
            "val": torch.bincount(t[self.val_indices], minlength=k).tolist(),
        }


def _images(dataset: AnyDataset) -> torch.Tensor:
    if not isinstance(dataset, ImageDataset):
        raise TypeError(f"expected an image dataset, got {type(dataset).__name__} {dataset.name!r}")
    return dataset.images


def split_dataset(dataset: AnyDataset, val_fraction: float = 0.1, seed: int = 0) -> Split:
    """Split ``dataset`` into train and validation parts, stratified when every class has 2+ examples.

    A dataset with a ``val_indices`` attribute that is not ``None`` (its own test split, e.g. a
    held-out speaker) keeps that part for validation; ``val_fraction`` and ``seed`` are then unused.

    Args:
        dataset: the data to split.
        val_fraction: share of examples for validation, in ``(0, 1)``.
        seed: random seed; the same seed gives the same split.

    Raises:
        ValueError: if ``val_fraction`` is outside ``(0, 1)`` or leaves a part empty.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    n = len(dataset)
    fixed = getattr(dataset, "val_indices", None)
    if fixed is not None:  # the dataset's own validation part (a test split, a held-out speaker)
        val = torch.as_tensor(fixed, dtype=torch.int64).unique()  # (N_val,) sorted
        keep = torch.ones(n, dtype=torch.bool)
        keep[val] = False
        if len(val) < 1 or int(keep.sum()) < 1:
            raise ValueError(f"the dataset's own validation part leaves an empty part of {n} examples")
        return Split(dataset, keep.nonzero().flatten(), val)
    n_val = round(n * val_fraction)
    if n_val < 1 or n - n_val < 1:
        raise ValueError(f"a validation fraction of {val_fraction} leaves an empty part of {n} examples")
    targets = dataset.targets.numpy()
    counts = np.bincount(targets)
    present = counts[counts > 0]
    # scikit-learn can stratify only with 2+ per class and room for every class on both sides.
    stratify = targets if present.min() >= 2 and len(present) <= n_val <= n - len(present) else None
    # here, not at the top: scikit-learn takes ~1 s to import and most pages never need it
    from sklearn.model_selection import train_test_split

    train_idx, val_idx = train_test_split(np.arange(n), test_size=n_val, random_state=seed, stratify=stratify)
    return Split(dataset, torch.as_tensor(np.sort(train_idx)), torch.as_tensor(np.sort(val_idx)))
