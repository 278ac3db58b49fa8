"""Severity sweeps, corruption errors, ensembles and explanation drift on the shipped LeNet-5 checkpoint."""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from playground.bundle import Bundle, load_bundle
from playground.data import load_dataset, split_dataset
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.modalities.image.preprocessing import Preprocessing
from playground.robustness.drift import explanation_drift
from playground.robustness.ensemble import EnsembleModel, make_ensemble
from playground.robustness.perturbations import perturb_images
from playground.robustness.sweep import (
    SweepPoint,
    SweepResult,
    corruption_errors,
    sample_indices,
    sweep,
)

CHECKPOINT = Path(__file__).resolve().parents[2] / "assets" / "checkpoints" / "lenet5-mnist"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return load_bundle(CHECKPOINT)


@pytest.fixture(scope="module")
def sample() -> tuple[torch.Tensor, torch.Tensor]:
    """200 validation digits of the checkpoint's own split: (images (200, 1, 28, 28) uint8, labels)."""
    images, targets = split_dataset(load_dataset("mnist"), 0.1, seed=0).val_tensors()
    idx = sample_indices(len(images), 200, seed=0)
    return images[idx], targets[idx]


@pytest.fixture(scope="module")
def noise_sweep(bundle: Bundle, sample: tuple[torch.Tensor, torch.Tensor]) -> SweepResult:
    images, targets = sample
    return sweep(bundle, images, targets, ["gaussian_noise", "impulse_noise"], [0, 1, 2, 3, 4, 5], batch_size=64)


def _clean_accuracy(bundle: Bundle, images: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        pixels = bundle.preprocessing.pixels_from_batch(images)
        pred = bundle.model(bundle.preprocessing.normalize(pixels)).argmax(dim=-1)
    return float((pred == targets).float().mean())


def test_sample_indices_are_fixed_distinct_and_sorted() -> None:
    a = sample_indices(500, 200, seed=0)
    assert torch.equal(a, sample_indices(500, 200, seed=0))
    assert not torch.equal(a, sample_indices(500, 200, seed=1))
    assert len(a.unique()) == 200 and torch.equal(a, a.sort().values)
    assert int(a.min()) >= 0 and int(a.max()) < 500
    assert torch.equal(sample_indices(5, 10), torch.arange(5))
    with pytest.raises(ValueError):
        sample_indices(0, 3)


def test_sweep_at_severity_zero_is_the_clean_model(
    bundle: Bundle, sample: tuple[torch.Tensor, torch.Tensor], noise_sweep: SweepResult
) -> None:
    clean = _clean_accuracy(bundle, *sample)
    assert noise_sweep.clean_accuracy == pytest.approx(clean)
    for name in ("gaussian_noise", "impulse_noise"):
        zero = noise_sweep.curve(name)[0]
        assert zero.severity == 0.0 and zero.n == 200
        assert zero.accuracy == pytest.approx(clean)
        assert zero.flip_rate == 0.0
        assert zero.mean_true_confidence == pytest.approx(noise_sweep.clean_true_confidence)


def test_gaussian_noise_at_severity_5_lowers_accuracy(noise_sweep: SweepResult) -> None:
    curve = noise_sweep.curve("gaussian_noise")
    assert [p.severity for p in curve] == [0, 1, 2, 3, 4, 5]
    assert curve[-1].accuracy < curve[0].accuracy
    assert curve[-1].mean_true_confidence < curve[0].mean_true_confidence
    assert curve[-1].flip_rate > 0.0
    for p in curve:
        assert 0.0 <= p.accuracy <= 1.0 and 0.0 <= p.flip_rate <= 1.0 and 0.0 <= p.mean_true_confidence <= 1.0


def test_sweep_matches_a_direct_computation(bundle: Bundle, sample: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, targets = sample[0][:50], sample[1][:50]
    result = sweep(bundle, images, targets, ["gaussian_noise"], [3.0], seed=7, batch_size=64)
    pixels = bundle.preprocessing.pixels_from_batch(images)
    with torch.no_grad():
        net = PixelSpaceModel.from_bundle(bundle)
        clean = net(pixels).argmax(-1)
        probs = net(perturb_images("gaussian_noise", pixels, 3.0, seed=7)).softmax(-1)  # one batch: seed 7 + 0
    (point,) = result.points
    assert point.accuracy == pytest.approx(float((probs.argmax(-1) == targets).float().mean()))
    assert point.flip_rate == pytest.approx(float((probs.argmax(-1) != clean).float().mean()))
    assert point.mean_true_confidence == pytest.approx(float(probs.gather(1, targets[:, None]).mean()), abs=1e-6)


def test_to_rows_has_one_row_per_pair(noise_sweep: SweepResult) -> None:
    rows = noise_sweep.to_rows()
    assert len(rows) == 2 * 6
    assert {(r["perturbation"], r["severity"]) for r in rows} == {
        (p, float(s)) for p in ("gaussian_noise", "impulse_noise") for s in range(6)
    }
    assert set(rows[0]) == {"model", "perturbation", "severity", "accuracy", "mean_true_confidence", "flip_rate", "n"}
    assert not noise_sweep.stopped


def test_progress_reaches_total_and_stop_event_stops(bundle: Bundle, sample: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, targets = sample[0][:40], sample[1][:40]
    calls: list[tuple[int, int]] = []
    full = sweep(
        bundle,
        images,
        targets,
        ["gaussian_noise"],
        [0, 2, 4],
        batch_size=16,
        on_progress=lambda d, t, m: calls.append((d, t)),
    )
    total = 3 * (1 + 3)  # 3 batches x (clean pass + 3 severities)
    assert [d for d, _ in calls] == list(range(1, total + 1))
    assert all(t == total for _, t in calls)
    assert len(full.points) == 3 and not full.stopped

    stop = threading.Event()
    seen: list[int] = []

    def on_progress(done: int, total: int, message: str) -> None:
        seen.append(done)
        if done == 5:  # after the clean pass and 2 of the 3 batches at severity 0
            stop.set()

    stopped = sweep(
        bundle, images, targets, ["gaussian_noise"], [0, 2, 4], batch_size=16, on_progress=on_progress, stop_event=stop
    )
    assert stopped.stopped
    assert seen[-1] == 5 < total
    assert stopped.points == ()  # no (perturbation, severity) pair was finished
    assert stopped.clean_accuracy == pytest.approx(full.clean_accuracy)


def test_sweep_rejects_bad_input(bundle: Bundle, sample: tuple[torch.Tensor, torch.Tensor]) -> None:
    images, targets = sample[0][:4], sample[1][:4]
    with pytest.raises(ValueError, match="severity"):
        sweep(bundle, images, targets, ["gaussian_noise"], [6])
    with pytest.raises(ValueError, match="unknown perturbation"):
        sweep(bundle, images, targets, ["nope"], [1])
    with pytest.raises(ValueError, match="targets"):
        sweep(bundle, images, targets[:3], ["gaussian_noise"], [1])
    with pytest.raises(TypeError):
        sweep(bundle.model, images, targets, ["gaussian_noise"], [1])  # type: ignore[arg-type]


def test_model_as_its_own_baseline_has_ce_one(noise_sweep: SweepResult) -> None:
    table = corruption_errors(noise_sweep, noise_sweep)
    assert table.corruptions == ("gaussian_noise", "impulse_noise")
    assert table.severities == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert table.ce == pytest.approx((1.0, 1.0))
    assert table.mce == pytest.approx(1.0)
    assert table.relative_mce == pytest.approx(1.0)
    assert [r["corruption"] for r in table.to_rows()] == ["gaussian_noise", "impulse_noise", "mean"]


def test_corruption_errors_follow_hendrycks_formula() -> None:
    def result(errors: dict[str, list[float]], clean_error: float) -> SweepResult:
        points = tuple(
            SweepPoint(c, float(s), 1.0 - e, 0.5, 0.1, 100)
            for c, es in errors.items()
            for s, e in enumerate(es, start=1)
        )
        return SweepResult(points, 1.0 - clean_error, 0.9, 100, 0, False)

    model = result({"a": [0.1, 0.2, 0.3, 0.4, 0.5], "b": [0.1] * 5}, clean_error=0.05)
    base = result({"a": [0.2, 0.3, 0.4, 0.5, 0.6], "b": [0.2] * 5}, clean_error=0.1)
    table = corruption_errors(model, base)
    assert table.ce == pytest.approx((1.5 / 2.0, 0.5 / 1.0))
    assert table.mce == pytest.approx((0.75 + 0.5) / 2)
    assert table.relative_ce == pytest.approx(((1.5 - 0.25) / (2.0 - 0.5), (0.5 - 0.25) / (1.0 - 0.5)))
    with pytest.raises(ValueError, match="missing"):
        corruption_errors(result({"c": [0.1] * 5}, 0.0), base)
    with pytest.raises(ValueError, match="stopped"):
        corruption_errors(replace(model, stopped=True), base)
    flawless = result({"a": [0.0] * 5, "b": [0.0] * 5}, clean_error=0.0)
    assert math.isnan(corruption_errors(model, flawless).mce)


def test_ensemble_of_two_copies_equals_one(bundle: Bundle) -> None:
    twin = load_bundle(CHECKPOINT)
    ensemble = make_ensemble([bundle, twin])
    assert ensemble.card.architecture == "ensemble" and isinstance(ensemble.model, EnsembleModel)
    assert ensemble.labels == bundle.labels
    assert ensemble.preprocessing.mean == (0.0,) and ensemble.preprocessing.std == (1.0,)
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        single = PixelSpaceModel.from_bundle(bundle)(x).softmax(-1)
        both = PixelSpaceModel.from_bundle(ensemble)(x).softmax(-1)
    assert torch.allclose(both, single, atol=1e-6)


def test_ensemble_averages_member_probabilities(bundle: Bundle) -> None:
    other = load_bundle(CHECKPOINT)
    with torch.no_grad():
        for p in other.model.parameters():
            p.mul_(0.5)  # a genuinely different second member
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        expected = (
            PixelSpaceModel.from_bundle(bundle)(x).softmax(-1) + PixelSpaceModel.from_bundle(other)(x).softmax(-1)
        ) / 2
        got = make_ensemble([bundle, other]).model(x).softmax(-1)
    assert torch.allclose(got, expected, atol=1e-6)


def test_ensemble_refuses_mismatched_members(bundle: Bundle) -> None:
    relabelled = Bundle(bundle.model, bundle.preprocessing, [f"c{i}" for i in range(10)], bundle.card)
    with pytest.raises(ValueError, match="labels"):
        make_ensemble([bundle, relabelled])
    resized = Bundle(bundle.model, Preprocessing(32, 1, (0.5,), (0.5,)), bundle.labels, bundle.card)
    with pytest.raises(ValueError, match="same input"):
        make_ensemble([bundle, resized])
    with pytest.raises(ValueError, match="at least 2"):
        make_ensemble([bundle])


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients"])
def test_explanation_drift(bundle: Bundle, sample: tuple[torch.Tensor, torch.Tensor], method: str) -> None:
    pixels = bundle.preprocessing.pixels_from_batch(sample[0][:1])  # (1, 1, 28, 28)
    target = int(sample[1][0])
    assert explanation_drift(bundle, pixels, pixels, target, method=method) == pytest.approx(1.0, abs=1e-3)  # type: ignore[arg-type]
    drifts = [
        explanation_drift(bundle, pixels, perturb_images("gaussian_noise", pixels, s, seed=0), target, method=method)  # type: ignore[arg-type]
        for s in (0.5, 5.0)
    ]
    assert -1.0 <= drifts[1] < drifts[0] < 0.999  # more noise, less of the ranking kept


def test_explanation_drift_rejects_bad_input(bundle: Bundle) -> None:
    x = torch.rand(1, 1, 28, 28)
    with pytest.raises(ValueError, match="method"):
        explanation_drift(bundle, x, x, 0, method="lime")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        explanation_drift(bundle, x, x, 10)
