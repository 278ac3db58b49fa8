"""Adversarial attacks in raw pixel space, on the shipped LeNet-5 MNIST checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from playground.bundle import Bundle, load_bundle
from playground.data import load_dataset, split_dataset
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.robustness.attacks import AttackConfig, attack, min_flip_severity
from playground.robustness.perturbations import PERTURBATIONS, PerturbationSpec, perturb_images
from playground.robustness.sweep import sample_indices

CHECKPOINT = Path(__file__).resolve().parents[2] / "assets" / "checkpoints" / "lenet5-mnist"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return load_bundle(CHECKPOINT)


@pytest.fixture(scope="module")
def val_sample(bundle: Bundle) -> tuple[torch.Tensor, torch.Tensor]:
    """200 validation digits of the checkpoint's own split, as (pixels (200, 1, 28, 28) in [0, 1], labels)."""
    images, targets = split_dataset(load_dataset("mnist"), 0.1, seed=0).val_tensors()
    idx = sample_indices(len(images), 200, seed=0)
    return bundle.preprocessing.pixels_from_batch(images[idx]), targets[idx]


def test_the_checkpoint_normalizes_inside_the_pixel_space_model(bundle: Bundle) -> None:
    # The shipped checkpoint's Normalize is not the identity, so pixel space != model input space.
    assert bundle.preprocessing.mean == (0.5,) and bundle.preprocessing.std == (0.5,)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        expected = bundle.model((x - 0.5) / 0.5)
        assert torch.allclose(PixelSpaceModel.from_bundle(bundle)(x), expected)


@pytest.mark.parametrize(
    "config",
    [
        AttackConfig("pgd", 8.0, steps=10),
        AttackConfig("pgd", 8.0, steps=10, random_start=True),
        AttackConfig("fgsm", 8.0),
        AttackConfig("pgd", 30.0, steps=10, targeted=True, target_class=0),
    ],
    ids=["pgd-linf", "pgd-linf-random-start", "fgsm", "pgd-targeted"],
)
def test_linf_attacks_stay_within_epsilon_in_pixel_space(
    bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor], config: AttackConfig
) -> None:
    x, y = val_sample[0][:32], val_sample[1][:32]
    result = attack(bundle, x, y, config)
    delta = (result.adversarial - x).abs().flatten(1).amax(dim=1)
    assert float(delta.max()) <= config.epsilon_255 / 255 + 1e-6
    assert torch.allclose(delta, result.linf)
    # The attack used its budget (a normalized-space attack would move pixels by ε·std instead).
    assert float(delta.max()) >= config.epsilon_255 / 255 - 1e-6
    assert float(result.adversarial.min()) >= 0.0 and float(result.adversarial.max()) <= 1.0
    assert result.adversarial.shape == x.shape and result.adv_probs.shape == (32, 10)
    assert torch.allclose(result.adv_probs.sum(dim=1), torch.ones(32), atol=1e-5)


def test_l2_pgd_stays_within_its_radius(bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = val_sample[0][:32], val_sample[1][:32]
    config = AttackConfig("pgd", 255.0, norm="L2", steps=10)  # radius 1.0 on the [0, 1] scale
    result = attack(bundle, x, y, config)
    norms = (result.adversarial - x).flatten(1).norm(dim=1)
    assert float(norms.max()) <= 1.0 + 1e-5
    assert float(norms.max()) > 0.5  # it moved
    assert torch.allclose(norms, result.l2, atol=1e-6)
    assert float(result.adversarial.min()) >= 0.0 and float(result.adversarial.max()) <= 1.0
    # An L2 ball of radius 1 allows far larger single-pixel changes than 1/255.
    assert float(result.linf.max()) > 10 / 255


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_random_start_is_seeded_and_stays_in_the_ball(
    bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor], norm: str
) -> None:
    x, y = val_sample[0][:16], val_sample[1][:16]
    eps_255 = 16.0 if norm == "Linf" else 255.0
    configs = [AttackConfig("pgd", eps_255, norm=norm, steps=1, random_start=True, seed=s) for s in (0, 0, 1)]  # type: ignore[arg-type]
    a, b, c = (attack(bundle, x, y, cfg).adversarial for cfg in configs)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    size = (a - x).flatten(1).abs().amax(dim=1) if norm == "Linf" else (a - x).flatten(1).norm(dim=1)
    assert float(size.max()) <= eps_255 / 255 + 1e-5


def test_pgd_at_the_madry_mnist_budget_breaks_the_checkpoint(
    bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor]
) -> None:
    x, y = val_sample
    strong = attack(bundle, x, y, AttackConfig("pgd", 0.3 * 255, steps=40))  # ε = 0.3 (Madry et al. 2018)
    assert strong.clean_accuracy >= 0.95
    assert strong.adv_accuracy < 0.10
    assert float(strong.linf.max()) <= 0.3 + 1e-6
    none = attack(bundle, x, y, AttackConfig("pgd", 0.0, steps=40))
    assert torch.equal(none.adv_pred, none.clean_pred)
    assert none.adv_accuracy == strong.clean_accuracy
    assert not bool(none.success.any())
    assert float(none.linf.max()) == 0.0


def test_targeted_pgd_reaches_its_target(bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = val_sample[0][:64], val_sample[1][:64]
    result = attack(bundle, x, y, AttackConfig("pgd", 0.3 * 255, steps=20, targeted=True, target_class=3))
    others = y != 3
    assert int(others.sum()) > 40
    assert float((result.adv_pred[others] == 3).float().mean()) >= 0.9
    assert torch.equal(result.success, result.adv_pred == 3)


def test_attack_without_labels_moves_away_from_the_clean_prediction(bundle: Bundle) -> None:
    x = torch.rand(8, 1, 28, 28)
    result = attack(bundle, x, None, AttackConfig("fgsm", 50.0), batch_size=3)  # 3 batches: 3 + 3 + 2
    assert torch.equal(result.targets, result.clean_pred)
    assert torch.equal(result.success, result.adv_pred != result.clean_pred)
    assert result.adversarial.shape == (8, 1, 28, 28)


def test_attack_leaves_the_model_as_it_was(bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor]) -> None:
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    bundle.model.train()
    try:
        attack(bundle, val_sample[0][:8], val_sample[1][:8], AttackConfig("pgd", 8.0, steps=3))
        assert bundle.model.training  # its mode is restored
    finally:
        bundle.model.eval()
    for name, p in bundle.model.named_parameters():
        assert p.requires_grad and p.grad is None, name
        assert torch.equal(p.detach(), before[name]), name


def test_attack_rejects_bad_input(bundle: Bundle) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        attack(bundle, torch.full((1, 1, 28, 28), 2.0), None, AttackConfig("fgsm", 8.0))
    with pytest.raises(ValueError, match="shape"):
        attack(bundle, torch.rand(1, 3, 28, 28), None, AttackConfig("fgsm", 8.0))
    with pytest.raises(TypeError):
        attack(bundle, torch.zeros(1, 1, 28, 28, dtype=torch.uint8), None, AttackConfig("fgsm", 8.0))
    with pytest.raises(ValueError, match="target_class"):
        attack(bundle, torch.rand(1, 1, 28, 28), None, AttackConfig("pgd", 8.0, targeted=True, target_class=10))
    with pytest.raises(ValueError, match="targets"):
        attack(bundle, torch.rand(2, 1, 28, 28), torch.tensor([0, 12]), AttackConfig("fgsm", 8.0))
    with pytest.raises(ValueError, match="L∞"):
        AttackConfig("fgsm", 8.0, norm="L2")
    with pytest.raises(ValueError, match="target_class"):
        AttackConfig("pgd", 8.0, targeted=True)
    with pytest.raises(ValueError, match="epsilon"):
        AttackConfig("pgd", -1.0)


def test_default_step_sizes_follow_madry() -> None:
    assert AttackConfig("pgd", 76.5, steps=40).step_size(784) == pytest.approx(2.5 * 0.3 / 40)
    # L2: a sign step over 784 values has L2 length 2.5·ε/steps.
    step = AttackConfig("pgd", 255.0, norm="L2", steps=10).step_size(784)
    assert step * 784**0.5 == pytest.approx(2.5 * 1.0 / 10)
    assert AttackConfig("pgd", 8.0, step_size_255=2.0).step_size(784) == pytest.approx(2 / 255)


def _predict(bundle: Bundle, pixels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return PixelSpaceModel.from_bundle(bundle)(pixels).argmax(dim=-1)


@pytest.mark.parametrize("perturbation", ["impulse_noise", "contrast"])
def test_min_flip_severity_is_the_smallest_flipping_severity(
    bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor], perturbation: str
) -> None:
    # The first digit that the perturbation at severity 5 flips (alone: noise depends on the batch shape).
    x = next(
        (
            x
            for x in val_sample[0].split(1)  # (1, 1, 28, 28) each
            if _predict(bundle, perturb_images(perturbation, x, 5.0, seed=0)) != _predict(bundle, x)
        ),
        None,
    )
    assert x is not None, f"{perturbation} at severity 5 flips none of 200 digits"
    step = 0.1
    severity = min_flip_severity(bundle, x, perturbation, seed=0, step=step)
    assert severity is not None and 0.0 < severity <= 5.0
    label = int(_predict(bundle, x))
    assert int(_predict(bundle, perturb_images(perturbation, x, severity, seed=0))) != label
    # The severity one grid step below does not flip it (nor does any below: it is a linear search).
    assert int(_predict(bundle, perturb_images(perturbation, x, round(severity - step, 10), seed=0))) == label


def _fade(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    return pixels * (1.0 - level)


def _no_op(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    return pixels.clone()


def test_min_flip_severity_none_when_nothing_flips(
    bundle: Bundle, val_sample: tuple[torch.Tensor, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Entries made for this test only, removed again afterwards (so registry-wide tests never see them).
    levels = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    monkeypatch.setitem(
        PERTURBATIONS._entries, "_test_no_op", PerturbationSpec("_test_no_op", "image", _no_op, "-", levels, "-")
    )
    monkeypatch.setitem(
        PERTURBATIONS._entries, "_test_fade", PerturbationSpec("_test_fade", "image", _fade, "-", levels, "-")
    )
    x = val_sample[0][:1]
    assert min_flip_severity(bundle, x, "_test_no_op") is None
    # Fading to black flips any digit the model does not call what it calls a black image.
    black = int(_predict(bundle, torch.zeros(1, 1, 28, 28)))
    pixels = val_sample[0]
    other = pixels[int((_predict(bundle, pixels) != black).float().argmax())][None]
    severity = min_flip_severity(bundle, other, "_test_fade", step=0.05)
    assert severity is not None and 0.0 < severity <= 5.0
    # Bounded search: nothing up to a severity below the flip point flips it.
    if severity > 0.05:
        assert (
            min_flip_severity(bundle, other, "_test_fade", max_severity=round(severity - 0.05, 10), step=0.05) is None
        )


def test_min_flip_severity_rejects_bad_input(bundle: Bundle) -> None:
    x = torch.rand(1, 1, 28, 28)
    with pytest.raises(ValueError, match="one image"):
        min_flip_severity(bundle, torch.rand(2, 1, 28, 28), "gaussian_noise")
    with pytest.raises(ValueError, match="unknown perturbation"):
        min_flip_severity(bundle, x, "no_such_thing")
    with pytest.raises(ValueError, match="max_severity"):
        min_flip_severity(bundle, x, "gaussian_noise", max_severity=6.0)
