"""Robustness measurements: severity sweeps over images and corruption errors (mCE).

A sweep runs a model over a fixed dataset sample under each (perturbation, severity) pair and
records accuracy, mean true-class confidence and flip rate; :func:`corruption_errors` turns two
sweeps (a model and a baseline) into the corruption-error table of ImageNet-C. The audio sweep is
:mod:`playground.robustness.audio_sweep` (same result type, same scoring loop); explanation drift
(:func:`explanation_drift`, :func:`attribution_map`) is in :mod:`playground.robustness.drift` and
importable from here as well.

Source: Hendrycks & Dietterich 2019, "Benchmarking Neural Network Robustness to Common Corruptions
and Perturbations", https://arxiv.org/abs/1903.12261.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from playground.core.device import model_device
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.robustness.drift import EXPLAIN_METHODS as EXPLAIN_METHODS
from playground.robustness.drift import ExplainMethod as ExplainMethod
from playground.robustness.drift import attribution_map as attribution_map
from playground.robustness.drift import explanation_drift as explanation_drift

if TYPE_CHECKING:
    from playground.bundle import Bundle


def sample_indices(n: int, k: int, seed: int = 0) -> torch.Tensor:
    """A fixed random sample of ``k`` distinct indices out of ``range(n)``, in increasing order.

    Args:
        n: size of the dataset, >= 1.
        k: sample size, >= 1; all ``n`` indices when ``k >= n``.
        seed: the same ``(n, k, seed)`` always gives the same sample.

    Returns:
        ``(min(k, n),)`` int64, sorted.

    Raises:
        ValueError: if ``n < 1`` or ``k < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if k >= n:
        return torch.arange(n)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)[:k].sort().values


@dataclass(frozen=True)
class SweepPoint:
    """One (perturbation, severity) measurement over the sample.

    Attributes:
        perturbation: registry name.
        severity: in ``[0, 5]``.
        accuracy: share of images classified as their label, in ``[0, 1]``.
        mean_true_confidence: mean softmax probability of the true class, in ``[0, 1]``.
        flip_rate: share of images whose prediction differs from the clean prediction, in ``[0, 1]``.
        n: number of images.
    """

    perturbation: str
    severity: float
    accuracy: float
    mean_true_confidence: float
    flip_rate: float
    n: int


@dataclass(frozen=True)
class SweepResult:
    """The outcome of :func:`sweep`.

    Attributes:
        points: one :class:`SweepPoint` per completed (perturbation, severity) pair, in the order
            of the request (perturbation-major). A stopped sweep holds only the pairs it finished.
        clean_accuracy: accuracy on the unperturbed sample (over the images reached when the sweep
            stopped during its clean pass; NaN if it stopped before the first batch).
        clean_true_confidence: mean true-class probability on the unperturbed sample (likewise).
        n: number of images.
        seed: the perturbations' seed.
        stopped: True when ``stop_event`` ended the sweep early.
        model: the model's title, for legends.
    """

    points: tuple[SweepPoint, ...]
    clean_accuracy: float
    clean_true_confidence: float
    n: int
    seed: int
    stopped: bool
    model: str = ""

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per point (model, perturbation, severity, accuracy, ...), for a table or CSV."""
        return [
            {
                "model": self.model,
                "perturbation": p.perturbation,
                "severity": p.severity,
                "accuracy": p.accuracy,
                "mean_true_confidence": p.mean_true_confidence,
                "flip_rate": p.flip_rate,
                "n": p.n,
            }
            for p in self.points
        ]

    def perturbations(self) -> list[str]:
        """Perturbation names present, in order."""
        return list(dict.fromkeys(p.perturbation for p in self.points))

    def curve(self, perturbation: str) -> list[SweepPoint]:
        """The points of one perturbation, by increasing severity.

        Raises:
            ValueError: if the sweep has no point for ``perturbation``.
        """
        points = sorted((p for p in self.points if p.perturbation == perturbation), key=lambda p: p.severity)
        if not points:
            raise ValueError(f"no points for perturbation {perturbation!r}; the sweep has {self.perturbations()}")
        return points


def _as_pixel_model(model: Bundle | PixelSpaceModel) -> tuple[PixelSpaceModel, str]:
    if isinstance(model, PixelSpaceModel):
        return model, type(model.model).__name__
    from playground.bundle import Bundle

    if isinstance(model, Bundle):
        return PixelSpaceModel.from_bundle(model), model.title
    raise TypeError(f"expected a Bundle or a PixelSpaceModel, got {type(model).__name__}")


def sweep(
    bundle_or_model: Bundle | PixelSpaceModel,
    images: torch.Tensor,
    targets: torch.Tensor,
    perturbations: list[str],
    severities: list[float],
    *,
    seed: int = 0,
    batch_size: int = 256,
    on_progress: Callable[[int, int, str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> SweepResult:
    """Accuracy, true-class confidence and flip rate under each perturbation at each severity.

    The images become model-sized pixels once (``preprocessing.pixels_from_batch``); then for each
    perturbation, each severity and each batch the pixels are perturbed (raw ``[0, 1]`` space),
    normalized and classified. Batch ``i`` uses seed ``seed + i``, so a sweep is deterministic for
    a given ``(seed, batch_size)``. A perturbation at severity 0 is the identity, so its point
    reuses the clean predictions.

    Memory: the pixels of the whole sample are held as float32 (``N·C·H·W·4`` bytes, e.g. 500
    images at 3×224×224 ≈ 300 MB).

    Args:
        bundle_or_model: a :class:`~playground.bundle.Bundle` (an ensemble too), or a
            :class:`~playground.modalities.image.pixel_space.PixelSpaceModel`.
        images: ``(N, C, H, W)`` uint8 in ``[0, 255]`` (or float in ``[0, 1]``), any size and
            1 or 3 channels; resized to the model's input.
        targets: ``(N,)`` int64 true labels.
        perturbations: registered image perturbation names.
        severities: each in ``[0, 5]``.
        seed: base seed of the perturbations.
        batch_size: images per forward pass.
        on_progress: called as ``on_progress(done, total, message)`` after the clean pass of each
            batch and after each (perturbation, severity, batch); ``done`` and ``total`` count
            batches over the whole sweep, ``total = batches · (1 + P·S)``; ``message`` says which
            pass (``"clean"``, ``"gaussian_noise at severity 2"``).
        stop_event: when set, the sweep stops before its next step and returns the finished points
            with ``stopped=True``.

    Returns:
        A :class:`SweepResult`.

    Raises:
        TypeError: if ``bundle_or_model`` is neither a bundle nor a pixel-space model, or the
            images / targets are not tensors.
        ValueError: empty or mismatched inputs, targets outside the model's classes, an unknown /
            non-image perturbation, a severity outside ``[0, 5]``, or ``batch_size < 1``.
    """
    net, title = _as_pixel_model(bundle_or_model)
    identities = _identity_severities(images, targets, perturbations, severities, batch_size)
    n = int(images.shape[0])
    progress = SweepProgress(
        math.ceil(n / batch_size) * (1 + len(perturbations) * len(severities)), on_progress, stop_event
    )
    points: list[SweepPoint] = []
    was_training = net.model.training
    net.model.eval()
    try:
        with torch.no_grad():
            batches = _clean_pass(net, images, targets, batch_size, progress)
            for name in [] if progress.stopped else perturbations:
                for severity in severities:
                    point = _sweep_point(net, batches, name, float(severity), identities, seed, progress)
                    if point is None:
                        break
                    points.append(point)
                if progress.stopped:
                    break
    finally:
        net.model.train(was_training)
    clean_accuracy, clean_true_confidence = clean_scores(batches)
    return SweepResult(
        points=tuple(points),
        clean_accuracy=clean_accuracy,
        clean_true_confidence=clean_true_confidence,
        n=n,
        seed=seed,
        stopped=progress.stopped,
        model=title,
    )


_Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (pixels (b, C, S, S), y (b,), clean probs (b, K))


class SweepProgress:
    """Counts a sweep's steps, reports them, and reads the stop request."""

    def __init__(
        self, total: int, on_progress: Callable[[int, int, str], None] | None, stop_event: threading.Event | None
    ) -> None:
        self.total, self.on_progress, self.stop_event = total, on_progress, stop_event
        self.done = 0
        self.stopped = False

    def should_stop(self) -> bool:
        """Whether a stop was asked for (remembered in ``stopped``)."""
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = True
        return self.stopped

    def tick(self, message: str) -> None:
        """One more step done."""
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(self.done, self.total, message)


def _identity_severities(
    images: torch.Tensor, targets: torch.Tensor, perturbations: list[str], severities: list[float], batch_size: int
) -> set[tuple[str, float]]:
    """Check an image sweep's request; return the (perturbation, severity) pairs that leave the images as they are.

    Raises:
        TypeError: images / targets are not tensors.
        ValueError: empty or mismatched inputs, a non-image perturbation, a bad severity or batch size.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"expected images as a tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, C, H, W) batch of images, got {tuple(images.shape)}")
    return identity_severities(int(images.shape[0]), targets, perturbations, severities, batch_size, "image")


def identity_severities(
    n: int, targets: torch.Tensor, perturbations: list[str], severities: list[float], batch_size: int, modality: str
) -> set[tuple[str, float]]:
    """Check what every sweep asks for, whatever its inputs; return the (perturbation, severity) pairs
    that are the identity (severity 0, the registry's contract: their points reuse the clean predictions).

    Args:
        n: how many inputs (images, clips) the sweep has, already checked to be at least 1.
        targets: ``(n,)`` integer class indices.
        perturbations: registry names; each must be of ``modality``.
        severities: the severities to sweep.
        batch_size: inputs per forward pass.
        modality: the inputs' kind (``"image"``, ``"audio"``).

    Raises:
        TypeError: targets are not a tensor.
        ValueError: mismatched targets, no perturbation or severity, another modality's perturbation,
            a bad severity or batch size.
    """
    import playground.robustness.perturbations  # noqa: F401  (registers the built-in perturbations)
    from playground.robustness.perturbations.base import PERTURBATIONS

    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"expected targets as a tensor, got {type(targets).__name__}")
    if targets.shape != (n,) or targets.is_floating_point():
        raise ValueError(f"expected ({n},) integer targets, got {tuple(targets.shape)} {targets.dtype}")
    if not perturbations:
        raise ValueError("expected at least one perturbation, got none")
    if not severities:
        raise ValueError("expected at least one severity, got none")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    specs = {}
    for name in perturbations:
        spec = PERTURBATIONS.get(name)
        if spec.modality != modality:
            what = {"image": "images", "audio": "audio clips"}.get(modality, f"{modality} inputs")
            raise ValueError(f"{name} is a {spec.modality} perturbation; a sweep over {what} needs {modality} ones")
        specs[name] = spec
    return {
        (name, float(s)) for name, spec in specs.items() for s in severities if spec.level(float(s)) == spec.levels[0]
    }


def _classify(net: PixelSpaceModel, pixels: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities ``(b, K)`` float32 on the CPU for ``[0, 1]`` pixels."""
    return net(pixels.to(model_device(net.model))).float().softmax(dim=-1).cpu()


def _clean_pass(
    net: PixelSpaceModel, images: torch.Tensor, targets: torch.Tensor, batch_size: int, progress: SweepProgress
) -> list[_Batch]:
    """Pixels once per batch, with their clean probabilities (for severity 0 and flip rates).

    Raises:
        ValueError: targets outside the model's classes.
    """
    batches: list[_Batch] = []
    for start in range(0, int(images.shape[0]), batch_size):
        if progress.should_stop():
            break
        pixels = net.preprocessing.pixels_from_batch(images[start : start + batch_size])  # (b, C, S, S)
        y = targets[start : start + batch_size].long()  # (b,)
        probs = _classify(net, pixels)  # (b, K)
        if int(y.min()) < 0 or int(y.max()) >= probs.shape[1]:
            raise ValueError(f"targets must be class indices in [0, {probs.shape[1]}), got {y.tolist()[:10]}")
        batches.append((pixels, y, probs))
        progress.tick("clean")
    return batches


def clean_scores(batches: list[_Batch]) -> tuple[float, float]:
    """Accuracy and mean true-class probability of the clean pass (NaN when no batch ran)."""
    seen = sum(len(y) for _, y, _ in batches)  # n unless stopped during the clean pass
    if not seen:
        return math.nan, math.nan
    correct = confidence = 0.0
    for _, y, probs in batches:
        correct += float((probs.argmax(dim=-1) == y).sum())
        confidence += float(probs.gather(1, y[:, None]).sum())
    return correct / seen, confidence / seen


def _sweep_point(
    net: PixelSpaceModel,
    batches: list[_Batch],
    name: str,
    severity: float,
    identities: set[tuple[str, float]],
    seed: int,
    progress: SweepProgress,
) -> SweepPoint | None:
    """One (perturbation, severity) point over all image batches, or None when a stop cut it short."""
    from playground.robustness.perturbations.base import perturb_images

    return score_point(
        batches,
        name,
        severity,
        identities,
        progress,
        lambda i, pixels: _classify(net, perturb_images(name, pixels, severity, seed + i)),
    )


def score_point(
    batches: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    name: str,
    severity: float,
    identities: set[tuple[str, float]],
    progress: SweepProgress,
    perturbed_probs: Callable[[int, torch.Tensor], torch.Tensor],
) -> SweepPoint | None:
    """Accuracy, mean true-class confidence and flip rate of one (perturbation, severity) point.

    The one scoring loop of every modality's sweep (images here, audio in ``audio_sweep``).

    Args:
        batches: ``(inputs, targets (b,) int64, clean_probs (b, K))`` per batch.
        name, severity: the point.
        identities: points that leave inputs unchanged; their batches reuse ``clean_probs``.
        progress: ticked once per batch; a stop request ends the point early.
        perturbed_probs: ``(batch index, inputs) -> (b, K)`` probabilities on the perturbed inputs.

    Returns:
        The point, or ``None`` when a stop cut it short.
    """
    n = sum(len(y) for _, y, _ in batches)
    correct = conf = flips = 0.0
    for i, (inputs, y, clean_probs) in enumerate(batches):
        if progress.should_stop():
            return None
        probs = clean_probs if (name, severity) in identities else perturbed_probs(i, inputs)
        pred = probs.argmax(dim=-1)  # (b,)
        correct += float((pred == y).sum())
        flips += float((pred != clean_probs.argmax(dim=-1)).sum())
        conf += float(probs.gather(1, y[:, None]).sum())
        progress.tick(f"{name} at severity {severity:g}")
    return SweepPoint(name, severity, correct / n, conf / n, flips / n, n)


@dataclass(frozen=True)
class CorruptionErrors:
    """The corruption-error table of Hendrycks & Dietterich 2019, for one model against a baseline.

    With ``E_{s,c}`` the top-1 error (``1 - accuracy``) at severity ``s`` of corruption ``c``, and
    the sums over the positive severities ``s`` of the model's sweep (``1..5`` in ImageNet-C):

    * ``CE_c = Σ_s E_{s,c}(model) / Σ_s E_{s,c}(baseline)``; ``mCE`` is its mean over corruptions.
    * relative ``CE_c = Σ_s (E_{s,c}(model) - E_clean(model)) / Σ_s (E_{s,c}(baseline) - E_clean(baseline))``;
      ``relative_mCE`` is its mean. It measures the *drop* under corruption, not the error itself.

    Values below 1 mean more robust than the baseline. A ratio whose denominator is 0 (a baseline
    that makes no error, or loses nothing, under a corruption) is undefined and stored as NaN, and
    a mean over a NaN is NaN.

    Attributes:
        corruptions: corruption names, in the model sweep's order.
        ce: ``CE_c`` per corruption, index-aligned with ``corruptions``.
        relative_ce: relative ``CE_c`` per corruption.
        mce: mean of ``ce``.
        relative_mce: mean of ``relative_ce``.
        severities: the severities summed over.
        model: the model's title.
        baseline: the baseline's title.

    Source: https://arxiv.org/abs/1903.12261 (section 4, "Common corruption robustness").
    """

    corruptions: tuple[str, ...]
    ce: tuple[float, ...]
    relative_ce: tuple[float, ...]
    mce: float
    relative_mce: float
    severities: tuple[float, ...]
    model: str = ""
    baseline: str = ""

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per corruption (``corruption``, ``ce``, ``relative_ce``), then a ``"mean"`` row."""
        rows: list[dict[str, Any]] = [
            {"corruption": c, "ce": ce, "relative_ce": rce}
            for c, ce, rce in zip(self.corruptions, self.ce, self.relative_ce, strict=True)
        ]
        rows.append({"corruption": "mean", "ce": self.mce, "relative_ce": self.relative_mce})
        return rows


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else math.nan


def corruption_errors(result: SweepResult, baseline: SweepResult) -> CorruptionErrors:
    """Corruption errors (CE, mCE and their relative forms) of ``result`` normalized by ``baseline``.

    Both sweeps must cover the same corruptions at the same positive severities (usually 1..5,
    computed on the same sample); severity 0 is left out of the sums, as in ImageNet-C, and the
    clean errors come from each sweep's ``clean_accuracy``.

    Args:
        result: the model's sweep.
        baseline: the baseline model's sweep (Hendrycks & Dietterich use AlexNet; here any model).

    Returns:
        A :class:`CorruptionErrors` table.

    Raises:
        ValueError: if either sweep was stopped, or a corruption / positive severity of ``result``
            is missing from ``baseline``, or ``result`` has no positive severity.
    """
    for label, sweep_result in (("result", result), ("baseline", baseline)):
        if sweep_result.stopped:
            raise ValueError(f"the {label} sweep was stopped before it finished; run it to the end first")
    corruptions = result.perturbations()
    errors: dict[str, dict[float, float]] = {}
    base_errors: dict[str, dict[float, float]] = {}
    for p in result.points:
        if p.severity > 0:
            errors.setdefault(p.perturbation, {})[p.severity] = 1.0 - p.accuracy
    for p in baseline.points:
        if p.severity > 0:
            base_errors.setdefault(p.perturbation, {})[p.severity] = 1.0 - p.accuracy
    severities = sorted({s for per in errors.values() for s in per})
    if not severities:
        raise ValueError("expected severities above 0 in the sweep (CE sums over severities 1..5), got only 0")
    for c in corruptions:
        missing = [s for s in severities if s not in errors.get(c, {}) or s not in base_errors.get(c, {})]
        if missing:
            raise ValueError(f"{c}: both sweeps need severities {severities}; missing {missing}")
    clean, base_clean = 1.0 - result.clean_accuracy, 1.0 - baseline.clean_accuracy
    ce = tuple(
        _ratio(sum(errors[c][s] for s in severities), sum(base_errors[c][s] for s in severities)) for c in corruptions
    )
    relative = tuple(
        _ratio(
            sum(errors[c][s] - clean for s in severities),
            sum(base_errors[c][s] - base_clean for s in severities),
        )
        for c in corruptions
    )
    return CorruptionErrors(
        corruptions=tuple(corruptions),
        ce=ce,
        relative_ce=relative,
        mce=sum(ce) / len(ce),
        relative_mce=sum(relative) / len(relative),
        severities=tuple(severities),
        model=result.model,
        baseline=baseline.model,
    )


def compare_sweeps(
    models: list[tuple[str, Bundle]],
    images: torch.Tensor,
    targets: torch.Tensor,
    perturbations: list[str],
    severities: list[float],
    *,
    seed: int = 0,
    on_progress: Callable[[int, int, str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> list[tuple[str, SweepResult]]:
    """The same :func:`sweep` for several models, one after the other, on the same images.

    Args:
        models: ``(title, bundle)`` pairs; the first is the baseline of :func:`corruption_errors`.
        images: ``(N, C, H, W)`` uint8 raw images; targets: ``(N,)`` int64 labels.
        perturbations, severities, seed: as in :func:`sweep`.
        on_progress: ``on_progress(done, total, message)`` over all models together (``done`` and
            ``total`` in batches), the message naming the model.
        stop_event: cancels the current sweep; models after it are not run.

    Returns:
        ``(title, result)`` for each model that ran (the last one ``stopped`` when cancelled).

    Raises:
        ValueError: if ``models`` is empty or a model's class count differs from the labels'.
    """
    if not models:
        raise ValueError("expected at least one model to sweep, got none")
    results: list[tuple[str, SweepResult]] = []
    for i, (title, bundle) in enumerate(models):

        def progress(done: int, total: int, message: str, i: int = i, title: str = title) -> None:
            if on_progress is not None:
                on_progress(i * total + done, len(models) * total, f"{title}: {done}/{total} batches ({message})")

        result = sweep(
            bundle, images, targets, perturbations, severities, seed=seed, on_progress=progress, stop_event=stop_event
        )
        results.append((title, result))
        if result.stopped:
            break
    return results
