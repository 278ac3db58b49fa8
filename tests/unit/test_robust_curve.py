"""Robust accuracy against ε over a dataset sample (the shipped LeNet-5 on MNIST digits)."""

from __future__ import annotations

import itertools
import threading

import pytest
import torch

from playground.bundle import load_bundle
from playground.data import load_dataset
from playground.robustness.robust_curve import robust_accuracy


@pytest.fixture(scope="module")
def lenet_sample():  # type: ignore[no-untyped-def]
    bundle = load_bundle("assets/checkpoints/lenet5-mnist")
    data = load_dataset("mnist")
    idx = torch.arange(len(data) - 64, len(data))  # 64 digits from the end of the set
    images = data.images[idx]  # (64, 1, 28, 28) uint8
    pixels = bundle.image_preprocessing.pixels_from_batch(images)  # (64, 1, 28, 28) in [0, 1]
    return bundle, pixels, data.targets[idx]


def test_pgd_robust_accuracy_falls_with_epsilon_and_starts_at_the_clean_accuracy(lenet_sample) -> None:  # type: ignore[no-untyped-def]
    bundle, pixels, targets = lenet_sample
    curve = robust_accuracy(bundle, pixels, targets, [0, 8, 32, 76], method="pgd", steps=20)
    accuracies = [p.accuracy for p in curve.points]
    with torch.no_grad():
        clean = (bundle.model.eval()(bundle.image_preprocessing.normalize(pixels)).argmax(-1) == targets).float().mean()
    assert accuracies[0] == float(clean)  # ε = 0 is the clean accuracy, exactly
    assert all(a >= b for a, b in itertools.pairwise(accuracies))  # non-increasing in ε
    assert accuracies[-1] <= 0.05  # ε = 76/255 ≈ 0.3, the MNIST budget of Madry et al.
    assert curve.n == 64 and [r["epsilon_255"] for r in curve.rows()] == [0.0, 8.0, 32.0, 76.0]


def test_a_stop_keeps_the_points_done_and_bad_requests_are_refused(lenet_sample) -> None:  # type: ignore[no-untyped-def]
    bundle, pixels, targets = lenet_sample
    stop = threading.Event()

    def after_first(done: int, total: int, message: str) -> None:
        stop.set()

    curve = robust_accuracy(
        bundle, pixels, targets, [0, 8, 16], method="fgsm", on_progress=after_first, stop_event=stop
    )
    assert curve.stopped and len(curve.points) == 1
    with pytest.raises(ValueError, match="at least one epsilon"):
        robust_accuracy(bundle, pixels, targets, [])
    with pytest.raises(ValueError, match="epsilon_255"):
        robust_accuracy(bundle, pixels, targets, [-1])
