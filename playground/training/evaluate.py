"""Evaluating a classifier on a labelled image set: accuracy, loss, confusion matrix, mistakes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from playground.modalities.image.preprocessing import Preprocessing
from playground.training.ood import energy_score


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A classifier's results on ``N`` labelled examples with ``K`` classes.

    Attributes:
        accuracy: share of correct top-1 predictions, in ``[0, 1]``.
        loss: mean cross-entropy (natural log), >= 0.
        confusion: ``(K, K)`` int64 counts; rows are true classes, columns predicted classes
            (``sklearn.metrics.confusion_matrix`` with ``labels=range(K)``).
        per_class_accuracy: ``(K,)`` float64 recall per class (correct / examples of that class);
            NaN for classes with no example.
        predictions: ``(N,)`` int64 predicted class indices.
        probs: ``(N, K)`` float32 softmax probabilities.
        targets: ``(N,)`` int64 true class indices.
        misclassified: ``(M,)`` int64 indices into the ``N`` examples that were predicted wrongly,
            most confident mistake first (sorted by the probability given to the wrong class).
        energy: ``(N,)`` float32 energy scores ``-logsumexp(logits)`` (:mod:`playground.training.ood`).
    """

    accuracy: float
    loss: float
    confusion: np.ndarray
    per_class_accuracy: np.ndarray
    predictions: np.ndarray
    probs: np.ndarray
    targets: np.ndarray
    misclassified: np.ndarray
    energy: np.ndarray

    @property
    def num_examples(self) -> int:
        """``N``."""
        return int(self.targets.shape[0])


def evaluate(
    model: nn.Module,
    preprocessing: Preprocessing,
    images_uint8: torch.Tensor,
    targets: torch.Tensor,
    *,
    device: torch.device | str,
    batch_size: int = 256,
) -> Evaluation:
    """Run ``model`` over labelled images without gradients and summarize the results.

    Images go through ``preprocessing`` (resize, channel conversion, normalize) batch by batch,
    so any dataset size fits in memory. The model runs in ``eval()`` mode on ``device``; its
    original device and train/eval mode are restored afterwards.

    Args:
        model: maps normalized ``(B, C, H, W)`` float32 to ``(B, K)`` logits.
        preprocessing: the model's input specification.
        images_uint8: ``(N, C', H', W')`` uint8 in ``[0, 255]`` (C' in {1, 3}), any size.
        targets: ``(N,)`` integer class indices in ``[0, K)``.
        device: where to run the model.
        batch_size: images per forward pass, >= 1.

    Returns:
        An :class:`Evaluation`.

    Raises:
        ValueError: empty input, mismatched lengths, non-uint8 images, bad ``batch_size``, or
            targets outside ``[0, K)``.
    """
    if images_uint8.dtype != torch.uint8 or images_uint8.ndim != 4:
        raise ValueError(
            f"expected (N, C, H, W) uint8 images, got shape {tuple(images_uint8.shape)} {images_uint8.dtype}"
        )
    _check_targets(targets, len(images_uint8))
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)

    def batches() -> Iterable[torch.Tensor]:
        for start in range(0, len(images_uint8), batch_size):
            pixels = preprocessing.pixels_from_batch(images_uint8[start : start + batch_size].to(device))
            yield preprocessing.normalize(pixels)

    return evaluate_batches(model, batches(), targets, device=device)


def evaluate_batches(
    model: nn.Module,
    inputs: Iterable[torch.Tensor],
    targets: torch.Tensor,
    *,
    device: torch.device | str,
    autocast_dtype: torch.dtype | None = None,
) -> Evaluation:
    """:func:`evaluate` for inputs that are already normalized (used by the training loop).

    Args:
        model: maps ``(B, C, H, W)`` float32 to ``(B, K)`` logits.
        inputs: normalized ``(B, C, H, W)`` float batches, in the order of ``targets``.
        targets: ``(N,)`` integer class indices; ``N`` is the total size of the batches.
        device: where to run the model.
        autocast_dtype: run the forward pass under CUDA autocast with this dtype (mixed precision).

    Raises:
        ValueError: as :func:`evaluate`, or if the batches do not add up to ``N`` examples.
    """
    _check_targets(targets, len(targets))
    device = torch.device(device)
    first_param = next(model.parameters(), None)
    home = first_param.device if first_param is not None else device
    was_training = model.training
    model.to(device).eval()
    chunks: list[torch.Tensor] = []
    try:
        with torch.inference_mode():
            autocast = (
                torch.autocast(device.type, dtype=autocast_dtype)
                if autocast_dtype is not None
                else contextlib.nullcontext()
            )
            with autocast:
                for x in inputs:
                    chunks.append(model(x.to(device, non_blocking=True)).float())
            logits = torch.cat(chunks).cpu()  # (N, K)
    finally:
        model.to(home).train(was_training)
    if logits.ndim != 2 or logits.shape[0] != len(targets):
        raise ValueError(f"expected ({len(targets)}, K) logits, got {tuple(logits.shape)}")
    return summarize_logits(logits, targets)


def summarize_logits(logits: torch.Tensor, targets: torch.Tensor) -> Evaluation:
    """Build an :class:`Evaluation` from ``(N, K)`` float logits and ``(N,)`` integer targets.

    Raises:
        ValueError: mismatched shapes or targets outside ``[0, K)``.
    """
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"expected (N, K) logits with N >= 1, got {tuple(logits.shape)}")
    n, k = logits.shape
    _check_targets(targets, n)
    y = targets.detach().to("cpu", torch.int64)
    if int(y.max()) >= k:
        raise ValueError(f"targets must be in [0, {k}) for a model with {k} outputs, got a target {int(y.max())}")
    logits = logits.detach().to("cpu", torch.float32)
    loss = float(F.cross_entropy(logits, y))
    probs = torch.softmax(logits, dim=1).numpy()  # (N, K)
    predictions = probs.argmax(axis=1).astype(np.int64)  # (N,)
    targets_np = y.numpy()
    # here, not at the top: scikit-learn takes ~1 s to import and most pages never need it
    from sklearn.metrics import confusion_matrix

    confusion = confusion_matrix(targets_np, predictions, labels=np.arange(k)).astype(np.int64)  # (K, K)
    support = confusion.sum(axis=1)  # (K,) examples per true class
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(support > 0, np.diag(confusion) / support, np.nan)
    wrong = np.flatnonzero(predictions != targets_np)
    wrong_confidence = probs[wrong, predictions[wrong]]
    misclassified = wrong[np.argsort(-wrong_confidence, kind="stable")].astype(np.int64)
    return Evaluation(
        accuracy=float(np.mean(predictions == targets_np)),
        loss=loss,
        confusion=confusion,
        per_class_accuracy=per_class.astype(np.float64),
        predictions=predictions,
        probs=probs.astype(np.float32),
        targets=targets_np,
        misclassified=misclassified,
        energy=energy_score(logits).numpy(),
    )


def _check_targets(targets: torch.Tensor, n: int) -> None:
    if not isinstance(targets, torch.Tensor) or targets.ndim != 1 or targets.dtype.is_floating_point:
        shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(f"expected (N,) integer targets, got {shape}")
    if len(targets) != n:
        raise ValueError(f"expected {n} targets (one per image), got {len(targets)}")
    if n == 0:
        raise ValueError("nothing to evaluate: got 0 examples")
    if int(targets.min()) < 0:
        raise ValueError(f"targets must be >= 0, got {int(targets.min())}")


@dataclass(frozen=True)
class Mistake:
    """One misclassified validation example.

    Attributes:
        position: its row in the evaluation (index into the validation part).
        index: its index in the dataset.
        true: the true class name.
        predicted: the predicted class name.
        confidence: the probability given to the predicted class, in ``[0, 1]``.
    """

    position: int
    index: int
    true: str
    predicted: str
    confidence: float


def mistakes(evaluation: Evaluation, val_indices: torch.Tensor, labels: list[str], limit: int = 16) -> list[Mistake]:
    """The most confident mistakes of an evaluation of a split's validation part, first ``limit`` of them.

    Args:
        evaluation: the model on the validation part (rows in the order of ``val_indices``).
        val_indices: ``(N,)`` int64 dataset indices of the validation part.
        labels: the K class names.
        limit: at most this many.

    Returns:
        Up to ``limit`` :class:`Mistake` s, most confident first (the order of ``evaluation.misclassified``).
    """
    return [
        Mistake(
            position=int(i),
            index=int(val_indices[i]),
            true=labels[int(evaluation.targets[i])],
            predicted=labels[int(evaluation.predictions[i])],
            confidence=float(evaluation.probs[i].max()),
        )
        for i in evaluation.misclassified[:limit]
    ]
