"""Trusting explanations: the pointing game, the randomisation sanity check, deletion / insertion, infidelity.

One small fully convolutional CNN is trained on the generated ``shapes`` set (which has object
masks) with the playground's own training loop, once for the module.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from playground.bundle import Bundle, ModelCard
from playground.data import load_dataset, split_dataset
from playground.data.base import ImageDataset
from playground.explain import ExplainParams, MethodNotSupportedError, ModelView, explain
from playground.explain.trust import (
    deletion_insertion,
    infidelity_score,
    randomization_check,
    randomize_model,
    rank_correlation,
    sensitivity_score,
)
from playground.modalities.image.preprocessing import simple_preprocessing
from playground.models import MODELS
from playground.training import TrainConfig, train

SIZE = 32
# Zhang et al. count a hit within 15 px of the object on ~224 px images; the same share of 32 px.
TOLERANCE_PX = round(15 / 224 * SIZE)


def small_fcn(width: int = 8, num_classes: int = 5) -> nn.Module:
    """Conv blocks at 32, 16 and 8 px, global average pooling, linear: an 8 × 8 last feature map."""

    def block(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    w = width
    return nn.Sequential(
        *block(3, w),
        *block(w, w),
        nn.MaxPool2d(2),  # (B, w, 16, 16)
        *block(w, 2 * w),
        *block(2 * w, 2 * w),
        nn.MaxPool2d(2),  # (B, 2w, 8, 8)
        *block(2 * w, 4 * w),
        *block(4 * w, 4 * w),  # (B, 4w, 8, 8): Grad-CAM's layer
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),  # (B, 4w)
        nn.Linear(4 * w, num_classes),
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread for these small models: on a busy 2-core machine, two threads made a
    training epoch 40x slower here (92 s against 2.4 s) and the pointing game 6x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shapes() -> tuple[Bundle, ImageDataset, torch.Tensor]:
    """``(trained bundle, dataset, validation indices)``; about 25 s on one CPU core."""
    torch.manual_seed(0)
    data = load_dataset("shapes", n=2000, image_size=SIZE, seed=0)
    assert isinstance(data, ImageDataset)
    split = split_dataset(data, 0.2, seed=0)
    card = ModelCard(architecture="small_fcn", num_classes=5, in_channels=3, image_size=SIZE)
    bundle = Bundle(small_fcn(), simple_preprocessing(SIZE, 3), list(data.classes), card)
    config = TrainConfig(epochs=10, batch_size=16, lr=2e-3, val_fraction=0.2, seed=0, device="cpu")
    result = train(bundle, split, config)
    assert result.metrics["val_accuracy"] >= 0.9, result.metrics
    return bundle, data, split.val_indices


def _pixels(bundle: Bundle, data: ImageDataset, index: int) -> torch.Tensor:
    return bundle.preprocessing.pixels_from_batch(data.images[index : index + 1])[0]  # (3, 32, 32) in [0, 1]


@pytest.mark.slow
def test_grad_cam_pointing_game_on_shapes(shapes: tuple[Bundle, ImageDataset, torch.Tensor]) -> None:
    """Zhang et al. 2016 (https://arxiv.org/abs/1608.00507): the map's maximum lies on the object."""
    bundle, data, val = shapes
    hits = 0
    for index in val.tolist():
        result = explain(bundle, _pixels(bundle, data, index), "grad_cam", target=int(data.targets[index]))
        heat = result.attributions.sum(dim=0)  # (H, W)
        row, col = divmod(int(heat.flatten().argmax()), SIZE)
        mask = data.masks[index].float()[None, None]  # (1, 1, H, W)
        near = F.max_pool2d(mask, 2 * TOLERANCE_PX + 1, stride=1, padding=TOLERANCE_PX)[0, 0] > 0
        hits += bool(near[row, col])
    assert result.details["layer"] == "19" and result.details["map_size"] == (8, 8)
    assert hits / len(val) >= 0.9, f"pointing game: {hits}/{len(val)}"


@pytest.mark.slow
def test_randomising_the_model_changes_grad_cam(shapes: tuple[Bundle, ImageDataset, torch.Tensor]) -> None:
    """Adebayo et al. 2018: a map that explains the model decorrelates when the weights are random."""
    bundle, data, val = shapes
    rhos = []
    for index in val[:5].tolist():
        original = explain(bundle, _pixels(bundle, data, index), "grad_cam", target=int(data.targets[index]))
        check = randomization_check(bundle, original, seed=1)
        assert check.randomized.target == original.target and check.layers[0] == "22"  # the head first
        if not math.isnan(check.rank_correlation):  # a constant (all-zero) random map: undefined
            rhos.append(check.rank_correlation)
    assert rhos and sum(rhos) / len(rhos) < 0.5, rhos
    # The trained model is untouched and the copy really differs.
    copy, layers = randomize_model(bundle.model, top_layers=1)
    assert layers == ("22",) and not torch.equal(copy[22].weight, bundle.model[22].weight)
    assert torch.equal(copy[0].weight, bundle.model[0].weight)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["grad_cam", "integrated_gradients"])
def test_insertion_beats_deletion_for_a_real_explanation(
    shapes: tuple[Bundle, ImageDataset, torch.Tensor], method: str
) -> None:
    """Petsiuk et al. 2018: a faithful map drops the probability fast on deletion and raises it fast on insertion."""
    bundle, data, val = shapes
    deletions, insertions = [], []
    for index in val[:8].tolist():
        result = explain(bundle, _pixels(bundle, data, index), method, target=int(data.targets[index]))
        curves = deletion_insertion(bundle, result, n_steps=20)
        assert len(curves.fractions) == 21 and curves.fractions[0] == 0.0 and curves.fractions[-1] == 1.0
        assert 0.0 <= curves.deletion_auc <= 1.0 and 0.0 <= curves.insertion_auc <= 1.0
        assert curves.deletion[0] == pytest.approx(result.probability, abs=1e-5)  # nothing deleted yet
        assert curves.insertion[-1] == pytest.approx(result.probability, abs=1e-5)  # everything back
        deletions.append(curves.deletion_auc)
        insertions.append(curves.insertion_auc)
    assert sum(insertions) / len(insertions) > sum(deletions) / len(deletions) + 0.1, (insertions, deletions)


def test_curves_infidelity_and_sensitivity_on_text_and_sequences() -> None:
    torch.manual_seed(0)
    text = ModelView(MODELS.get("lstm").builder(2, vocab_size=30).eval(), "text")
    ids = torch.tensor([4, 9, 2, 17, 8, 25])
    result = explain(text, ids, "integrated_gradients")
    curves = deletion_insertion(text, result)
    assert len(curves.fractions) == 7  # one token per step
    assert curves.deletion[0] == pytest.approx(result.probability, abs=1e-5)
    assert curves.insertion[-1] == pytest.approx(result.probability, abs=1e-5)
    assert infidelity_score(text, result) >= 0.0
    with pytest.raises(MethodNotSupportedError, match="token ids"):
        sensitivity_score(text, result)

    seq = ModelView(MODELS.get("gru").builder(3, input_size=2).eval(), "sequence")
    values = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    saliency = explain(seq, values, "saliency")
    steady = sensitivity_score(seq, saliency, n_perturb_samples=3, radius=1e-4)
    shaken = sensitivity_score(seq, saliency, n_perturb_samples=3, radius=0.5)
    assert 0.0 <= steady < shaken


def test_infidelity_prefers_the_exact_explanation() -> None:
    """Under noise I, F(x) − F(x − I) = w·I for a linear model: its gradient w is the exact explanation."""
    torch.manual_seed(0)
    linear = nn.Linear(3 * 4 * 4, 2)
    with torch.no_grad():
        linear.weight.abs_()  # saliency is |gradient|: with w >= 0 it is w itself
    view = ModelView(nn.Sequential(nn.Flatten(), linear).eval(), "image")
    x = torch.rand(3, 4, 4)
    exact = explain(view, x, "saliency", target=1)
    shuffled = exact.attributions.flatten()[torch.randperm(48)].view(3, 4, 4)
    wrong = replace(exact, attributions=shuffled)
    good, bad = infidelity_score(view, exact, normalize=False), infidelity_score(view, wrong, normalize=False)
    assert good < 1e-9 < bad


def test_rank_correlation() -> None:
    a = torch.arange(12.0).view(3, 4)
    assert rank_correlation(a, a) == 1.0
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, a**3) == pytest.approx(1.0)  # ranks, not values
    assert math.isnan(rank_correlation(a, torch.zeros(3, 4)))
    with pytest.raises(ValueError, match="same shape"):
        rank_correlation(a, a.flatten())


def test_a_params_change_reaches_the_randomized_run() -> None:
    torch.manual_seed(0)
    view = ModelView(nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 2)), "image")
    original = explain(
        view, torch.rand(1, 4, 4), "integrated_gradients", params=ExplainParams(n_steps=7, delta_tolerance=None)
    )
    check = randomization_check(view, original)
    assert check.randomized.params.n_steps == 7 and check.randomized.details["n_steps"] == 7
    assert set(check.layers) == {"0", "3"}
