"""What a numeric-sequence model expects: ``(T, F)`` values, standardized per feature.

The article's Keras example takes inputs of shape ``(100, 64)``: 100 time steps of 64 features.
``SequencePreprocessing`` records that shape and the per-feature mean and standard deviation of
the training split, and standardizes inputs with them (``(x - mean) / std``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class SequencePreprocessing:
    """Input specification of a numeric-sequence model.

    Attributes:
        length: T, time steps the model was trained on (other lengths run too; shown in the UI).
        features: F, values per time step.
        mean: F per-feature means of the training split.
        std: F per-feature standard deviations (> 0).
        feature_names: F names for axis labels.
    """

    length: int
    features: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    feature_names: tuple[str, ...] = ()

    kind = "sequence"

    def __post_init__(self) -> None:
        if self.length < 1 or self.features < 1:
            raise ValueError(f"length and features must be positive, got {self.length} and {self.features}")
        if len(self.mean) != self.features or len(self.std) != self.features:
            raise ValueError(f"mean and std need {self.features} values each, got {len(self.mean)} and {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError("std must be positive")
        if self.feature_names and len(self.feature_names) != self.features:
            raise ValueError(f"expected {self.features} feature names, got {len(self.feature_names)}")

    @classmethod
    def fit(cls, values: torch.Tensor, feature_names: list[str] | None = None) -> SequencePreprocessing:
        """Per-feature statistics of training values.

        Args:
            values: ``(N, T, F)`` float32.
            feature_names: F names, or ``None``.

        Raises:
            ValueError: if ``values`` is not ``(N, T, F)`` with N, T >= 1.
        """
        if values.ndim != 3 or values.shape[0] < 1 or values.shape[1] < 1:
            raise ValueError(f"expected values of shape (N, T, F), got {tuple(values.shape)}")
        flat = values.reshape(-1, values.shape[-1]).to(torch.float64)  # (N*T, F)
        std = flat.std(dim=0, unbiased=False).clamp(min=1e-6)
        return cls(
            length=int(values.shape[1]),
            features=int(values.shape[2]),
            mean=tuple(flat.mean(dim=0).tolist()),
            std=tuple(std.tolist()),
            feature_names=tuple(feature_names or ()),
        )

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., T, F)`` values -> standardized float32 of the same shape.

        Raises:
            ValueError: if the last dimension is not F.
        """
        if values.shape[-1] != self.features:
            raise ValueError(f"expected {self.features} features per step, got shape {tuple(values.shape)}")
        mean = torch.tensor(self.mean, dtype=torch.float32, device=values.device)
        std = torch.tensor(self.std, dtype=torch.float32, device=values.device)
        return (values.to(torch.float32) - mean) / std

    def model_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` raw values (a dataset part) -> standardized float32, same shape."""
        return self.normalize(inputs)

    def example_input(self) -> tuple[int, ...]:
        """The shape ``(1, T, F)`` of one model input (the layer table runs zeros of it)."""
        return (1, self.length, self.features)

    def model_sizes(self) -> dict[str, Any]:
        """The builder's size arguments: ``{"vocab_size": None, "input_size": F}``."""
        return {"vocab_size": None, "input_size": self.features}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "length": self.length,
            "features": self.features,
            "mean": list(self.mean),
            "std": list(self.std),
            "feature_names": list(self.feature_names),
        }

    def files(self) -> dict[str, bytes]:
        """No extra files."""
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes] | None = None) -> SequencePreprocessing:
        """Inverse of :meth:`to_dict` (``files`` is accepted for symmetry and unused).

        Raises:
            ValueError: if a field is missing or has the wrong type.
        """
        try:
            return cls(
                length=int(data["length"]),
                features=int(data["features"]),
                mean=tuple(float(v) for v in data["mean"]),
                std=tuple(float(v) for v in data["std"]),
                feature_names=tuple(str(v) for v in data.get("feature_names", [])),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"invalid sequence preprocessing entry in card.json ({exc})") from exc
