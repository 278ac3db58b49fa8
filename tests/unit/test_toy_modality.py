"""A modality is new files plus one registration: a toy one, defined entirely in this module.

Fixed-length float vectors ``(F,)`` with a two-layer MLP go through the public paths (dataset →
train → checkpoint save / load → predict → an explain method → the CLI's ``predict --json``)
without any library file knowing about them. ``docs/architecture.md`` gives this recipe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

from playground.bundle import load_bundle
from playground.cli.main import main
from playground.core.modality import MODALITIES, ExplainHooks, ModalitySpec, register_modality
from playground.data import DATASETS, load_dataset, split_dataset
from playground.data.base import check_targets, register_dataset
from playground.explain import explain
from playground.inspection.predict import predict_inputs
from playground.models import MODELS, register_model
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split

FEATURES = 6
CLASSES = ["left", "middle", "right"]


# -- the raw data --------------------------------------------------------------------------------
@dataclass
class VectorDataset:
    """``values`` ``(N, F)`` float32 vectors with ``(N,)`` int64 targets."""

    name: str
    values: torch.Tensor
    targets: torch.Tensor
    classes: list[str]
    source: str = "generated in tests/unit/test_toy_modality.py"
    info: dict[str, Any] = field(default_factory=dict)

    modality: ClassVar[str] = "vector"

    def __post_init__(self) -> None:
        check_targets(self.name, self.targets, len(self.values), self.classes)

    def __len__(self) -> int:
        return len(self.values)

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        return self.values[indices]  # (n, F)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.targets, minlength=len(self.classes)).tolist()


def toy_vectors(root: Path | None = None, n: int = 600, seed: int = 0) -> VectorDataset:
    """Three Gaussian blobs, far apart on the first feature, in raw units around 100 (so standardizing matters)."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % len(CLASSES)
    values = 100 + torch.randn(n, FEATURES, generator=generator) * 3  # (N, F)
    values[:, 0] += (targets.float() - 1) * 20
    return VectorDataset("toy_vectors", values.float(), targets.long(), list(CLASSES))


# -- the preprocessing ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VectorPreprocessing:
    """Per-feature standardization fitted on the training vectors."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    kind = "vector"

    def model_input(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != 2 or inputs.shape[1] != len(self.mean):
            raise ValueError(f"expected (B, {len(self.mean)}) vectors, got shape {tuple(inputs.shape)}")
        return (inputs.float() - torch.tensor(self.mean)) / torch.tensor(self.std)

    def model_sizes(self) -> dict[str, Any]:
        return {"input_size": len(self.mean)}

    def example_input(self) -> tuple[int, ...]:
        return (1, len(self.mean))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": list(self.mean), "std": list(self.std)}

    def files(self) -> dict[str, bytes]:
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes] | None = None) -> VectorPreprocessing:
        return cls(tuple(data["mean"]), tuple(data["std"]))


def fit_vectors(values: torch.Tensor, dataset: Any, options: Any) -> VectorPreprocessing:
    return VectorPreprocessing(tuple(values.mean(0).tolist()), tuple(values.std(0).clamp(min=1e-6).tolist()))


def read_vectors(data: bytes, filename: str) -> torch.Tensor:
    """One comma-separated line of F numbers per vector."""
    rows = [[float(x) for x in line.split(",")] for line in data.decode().splitlines() if line.strip()]
    return torch.tensor(rows, dtype=torch.float32)  # (B, F)


# -- the model -----------------------------------------------------------------------------------
def toy_mlp(num_classes: int, input_size: int, weights: str | None = None, hidden: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(input_size, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


@pytest.fixture
def vector_modality() -> Iterator[None]:
    """Register the modality, the dataset and the model; remove them afterwards."""
    register_modality(
        ModalitySpec(
            name="vector",
            description="fixed-length float vectors (F,)",
            input_kind="values",
            preprocessing=VectorPreprocessing,
            fit_preprocessing=fit_vectors,
            read_inputs=read_vectors,
            explain=ExplainHooks(input_shape="(F,)"),
        )
    )
    register_dataset(
        "toy_vectors",
        modality="vector",
        num_classes=len(CLASSES),
        description="three Gaussian blobs in 6 dimensions",
        source="tests",
        offline=lambda: True,
    )(toy_vectors)
    register_model(
        "toy_mlp",
        family="mlp",
        modality="vector",
        source="a two-layer perceptron",
        description="Linear → ReLU → Linear",
        defaults={"hidden": 32},
    )(toy_mlp)
    try:
        yield
    finally:
        MODALITIES.remove("vector")
        DATASETS.remove("toy_vectors")
        MODELS.remove("toy_mlp")


def test_a_toy_modality_runs_through_every_public_path(
    vector_modality: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dataset -> split -> a bundle sized by the fitted preprocessing -> train
    data = load_dataset("toy_vectors")
    split = split_dataset(data, val_fraction=0.2, seed=0)
    bundle = bundle_for_split("toy_mlp", split)
    assert bundle.card.modality == "vector" and bundle.card.input_size == FEATURES
    result = train(bundle, split, TrainConfig(epochs=15, lr=1e-2, batch_size=32, seed=0))
    assert result.metrics["val_accuracy"] >= 0.95

    # checkpoint save / load: the same logits
    folder = bundle.save(tmp_path / "toy")
    loaded = load_bundle(folder)
    assert isinstance(loaded.preprocessing, VectorPreprocessing)
    val_raw, val_targets = split.part("val")
    with torch.no_grad():
        before = bundle.model(bundle.preprocessing.model_input(val_raw))
        after = loaded.model(loaded.preprocessing.model_input(val_raw))
    torch.testing.assert_close(after, before)

    # predict: the generic path agrees with the logits and with the labels
    predictions = predict_inputs(loaded, val_raw, top_k=2)
    assert [p.top_k[0].index for p in predictions] == after.argmax(1).tolist()
    accuracy = sum(p.top_k[0].index == int(t) for p, t in zip(predictions, val_targets, strict=True)) / len(val_targets)
    assert accuracy >= 0.95

    # explain: Integrated Gradients on a (F,) input satisfies completeness, and feature 0 (the
    # only one that separates the classes) carries the largest share for a "right" vector (the
    # "zero" baseline, the standardized mean, is a "middle" one)
    i = int((val_targets == CLASSES.index("right")).nonzero()[0])
    x = loaded.preprocessing.model_input(val_raw[i : i + 1])[0]  # (F,)
    explanation = explain(loaded, x, "integrated_gradients")
    assert explanation.attributions.shape == (FEATURES,)
    assert explanation.input_kind == "values" and explanation.details["baseline"] == "zero"
    assert explanation.relative_delta is not None and explanation.relative_delta < 0.05
    assert int(explanation.attributions.abs().argmax()) == 0

    # the CLI reads the file through the modality's read_inputs and prints the documented JSON
    line = ",".join(f"{v:.6f}" for v in val_raw[0].tolist())
    (tmp_path / "x.csv").write_text(line + "\n")
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "x.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["top_k"][0] == {
        "label": predictions[0].top_k[0].label,
        "index": predictions[0].top_k[0].index,
        "probability": pytest.approx(predictions[0].top_k[0].probability, abs=1e-6),
    }


def test_the_registration_is_gone_afterwards() -> None:
    assert "vector" not in MODALITIES and "toy_mlp" not in MODELS and "toy_vectors" not in DATASETS
