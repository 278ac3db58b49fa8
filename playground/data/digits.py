"""scikit-learn's handwritten digits: 1,797 tiny 8×8 grey images of 0-9, shipped with scikit-learn.

The pixels are counts in [0, 16] (each is the number of "on" pixels in a 4×4 block of a 32×32
bitmap); they are scaled to [0, 255] uint8 like every other image entry.

Source: E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine Learning
Repository, 1998, https://doi.org/10.24432/C50P49 (CC BY 4.0), via
``sklearn.datasets.load_digits``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from playground.data.base import ImageDataset, register_dataset
from playground.data.idx import reject_unknown_options

NAME = "digits"
SOURCE = "https://doi.org/10.24432/C50P49 (sklearn.datasets.load_digits)"


@functools.lru_cache(maxsize=1)
def _load() -> tuple[torch.Tensor, torch.Tensor]:
    # here, not at the top: scikit-learn takes ~1 s to import and most pages never need it
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8) in [0, 16] -> [0, 255]
    return torch.from_numpy(x).unsqueeze(1), torch.as_tensor(bunch.target, dtype=torch.int64)  # (1797, 1, 8, 8)


@register_dataset(
    NAME,
    modality="image",
    num_classes=10,
    description="1,797 handwritten digits 0-9 at 8×8 pixels, shipped with scikit-learn (UCI, CC BY 4.0).",
    source=SOURCE,
    offline=lambda: True,
    channels=1,
    image_size=8,
)
def digits(root: Path | None = None, **unknown: object) -> ImageDataset:
    """Load scikit-learn's 8×8 digits (``root`` is unused: the data ships with scikit-learn).

    Returns:
        ``images (1797, 1, 8, 8)`` uint8 in [0, 255], ``targets (1797,)`` int64 in [0, 9];
        classes ``"0"``..``"9"``.

    Raises:
        ValueError: on any option (this loader takes none).
    """
    reject_unknown_options(NAME, unknown, ())
    images, targets = _load()
    return ImageDataset(
        name=NAME,
        images=images.clone(),
        targets=targets.clone(),
        classes=[str(d) for d in range(10)],
        source=SOURCE,
        info={"copy": "scikit-learn load_digits", "licence": "CC BY 4.0", "pixel_scale": "[0, 16] * 255 / 16"},
    )
