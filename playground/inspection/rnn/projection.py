"""A 2-D PCA projection of a hidden-state trajectory (scikit-learn's PCA)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Trajectory:
    """A 2-D PCA projection of a hidden-state trajectory.

    Attributes:
        points: ``(T, 2)`` float32 coordinates on the first two principal components.
        explained_variance_ratio: ``(2,)`` float32, the share of variance each component explains.
    """

    points: np.ndarray
    explained_variance_ratio: np.ndarray


def pca_trajectory(values: np.ndarray | torch.Tensor) -> Trajectory:
    """Project ``(T, H)`` states on their first two principal components (scikit-learn's PCA).

    With a single unit (H = 1) the second coordinate is 0.

    Raises:
        ValueError: fewer than 2 steps, or not 2-D.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"a trajectory needs (T, H) states with at least 2 steps, got shape {arr.shape}")
    components = min(2, arr.shape[0], arr.shape[1])
    if float(arr.var(axis=0).sum()) == 0.0:  # every step the same: nothing to project
        return Trajectory(np.zeros((arr.shape[0], 2), np.float32), np.zeros(2, np.float32))
    # here, not at the top: scikit-learn takes ~1 s to import and most pages never need it
    from sklearn.decomposition import PCA

    pca = PCA(n_components=components).fit(arr)
    points = np.zeros((arr.shape[0], 2), np.float32)
    points[:, :components] = pca.transform(arr)
    ratio = np.zeros(2, np.float32)
    ratio[:components] = pca.explained_variance_ratio_
    return Trajectory(points, ratio)
