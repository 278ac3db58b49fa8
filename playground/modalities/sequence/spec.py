"""The numeric-sequence modality's registry entry: ``(T, F)`` float32 values standardized per feature."""

from __future__ import annotations

from typing import Any

import torch

from playground.core.modality import ExplainHooks, ModalitySpec, register_modality
from playground.modalities.sequence.preprocessing import SequencePreprocessing


def fit_sequence_preprocessing(values: torch.Tensor, dataset: Any, options: Any = None) -> SequencePreprocessing:
    """Per-feature mean and std of the TRAINING part's ``(N, T, F)`` values (``options`` unused)."""
    return SequencePreprocessing.fit(values, list(getattr(dataset, "feature_names", []) or []))


SEQUENCE = register_modality(
    ModalitySpec(
        name="sequence",
        description="numeric sequences: (T, F) float32, T time steps of F features",
        input_kind="values",
        preprocessing=SequencePreprocessing,
        fit_preprocessing=fit_sequence_preprocessing,
        explain=ExplainHooks(input_shape="(T, F)"),
    )
)
