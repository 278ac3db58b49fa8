"""The out-of-distribution hint: energy scores against the model's own validation energies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.bundle import load_bundle
from playground.modalities.image.decode import load_sample
from playground.training.ood import check_input, energy_score, reference_metrics


def test_energy_is_minus_logsumexp_and_the_reference_is_its_percentiles() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.1, 0.1]])
    expected = -torch.log(torch.exp(logits).sum(dim=1))
    torch.testing.assert_close(energy_score(logits), expected)
    energies = np.arange(100, dtype=np.float32)  # 0 … 99
    reference = reference_metrics(energies)
    assert reference == pytest.approx({"val_energy_p95": 94.05, "val_energy_p99": 98.01})
    assert reference_metrics(np.array([np.nan])) == {} and reference_metrics(np.arange(99.0)) == {}
    assert check_input({}, torch.zeros(3)) is None  # no reference stored: no hint
    low = check_input(reference, torch.tensor([10.0, 0.0]))  # energy about -10: like the validation data
    assert low is not None and not low.unusual
    high = check_input(reference, torch.tensor([-96.0, -96.5]))  # energy about 95.5: above the 95th only
    assert high is not None and high.unusual and high.share_below == 0.95


def test_the_shipped_digit_model_flags_photos_and_not_digits() -> None:
    bundle = load_bundle("assets/checkpoints/lenet5-mnist")
    pre = bundle.image_preprocessing

    def check(name: str):  # type: ignore[no-untyped-def]
        x = pre.normalize(pre.pixels_from_pil(load_sample(name))).unsqueeze(0)
        with torch.no_grad():
            return check_input(bundle.card.metrics, bundle.model.eval()(x)[0])

    assert check("cat").unusual and check("coffee").unusual
    assert not check("digit_3").unusual and not check("digit_7").unusual
