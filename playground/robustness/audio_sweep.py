"""Severity sweeps for audio models: accuracy under each audio perturbation at each severity.

The audio twin of :func:`playground.robustness.sweep.sweep`, with the same result type
(:class:`~playground.robustness.sweep.SweepResult` of :class:`~playground.robustness.sweep.SweepPoint`),
so :func:`~playground.robustness.sweep.corruption_errors` (mCE against a baseline model),
``SweepResult.to_rows`` and the figures (``playground.figures.viz.sweep_figure``) take it as they are.

Each batch of clips goes through ``bundle.preprocessing.fit_clips`` once (the model's rate and
length, peak-normalized), then, for every (perturbation, severity), through the perturbation
(:func:`~playground.robustness.perturbations.audio.perturb_audio`, on the waveform),
``bundle.preprocessing.encode`` (features, standardized) and the model.

An accuracy-vs-SNR curve is the ``white_noise`` (or ``pink_noise``) curve with each severity's
level on the axis: :func:`level_curve` gives the ``(level, point)`` pairs, e.g. SNR in dB.

Source: the sweep and the corruption error of Hendrycks & Dietterich 2019, "Benchmarking Neural
Network Robustness to Common Corruptions and Perturbations", https://arxiv.org/abs/1903.12261.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from playground.core.device import model_device
from playground.data import AudioDataset, split_dataset
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.robustness.sweep import (
    SweepPoint,
    SweepProgress,
    SweepResult,
    clean_scores,
    identity_severities,
    sample_indices,
    score_point,
)

if TYPE_CHECKING:
    from playground.bundle import Bundle

_Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (waveforms (b, clip_samples), y (b,), clean probs (b, K))


def audio_preprocessing(bundle: Bundle) -> AudioPreprocessing:
    """The bundle's :class:`AudioPreprocessing`.

    Raises:
        ValueError: if the bundle is not an audio model.
    """
    if not isinstance(bundle.preprocessing, AudioPreprocessing):
        raise ValueError(f"this needs an audio model, but {bundle.title} takes {bundle.modality} input")
    return bundle.preprocessing


def validation_clips(
    data: AudioDataset, n: int, seed: int = 0, *, val_fraction: float = 0.1, split_seed: int = 0
) -> tuple[AudioClips, torch.Tensor]:
    """``n`` clips of the validation split, drawn with ``seed``, and their labels.

    The split is the one ``train`` uses: the dataset's own validation part when it has one (FSDD's
    official test recordings, a held-out speaker), else ``val_fraction`` of it split with
    ``split_seed`` (:func:`~playground.data.split_dataset`).

    Returns:
        ``(clips, targets)``: ``min(n, n_val)`` clips and their ``(n,)`` int64 labels.

    Raises:
        ValueError: ``n`` below 1.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 clip, got {n}")
    val = torch.as_tensor(split_dataset(data, val_fraction, split_seed).val_indices, dtype=torch.int64)
    keep = val[sample_indices(len(val), min(n, len(val)), seed)]
    return data.clips.take(keep), data.targets[keep]


def audio_sweep(
    bundle: Bundle,
    clips: AudioClips,
    targets: torch.Tensor,
    perturbations: list[str],
    severities: list[float],
    *,
    seed: int = 0,
    batch_size: int = 64,
    on_progress: Callable[[int, int, str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> SweepResult:
    """Accuracy, true-class confidence and flip rate of an audio model under each perturbation and severity.

    Batch ``i`` is perturbed with seed ``seed + i``, so a sweep is deterministic for a given
    ``(seed, batch_size)``. Severities whose level is the identity (severity 0) reuse the clean
    predictions. The model runs in ``eval()`` mode (its mode is restored afterwards).

    Memory: the fitted clips of the whole sample are held as float32 (``N · clip_samples · 4``
    bytes: 300 one-second clips at 8 kHz are 9.6 MB).

    Args:
        bundle: an audio model (its preprocessing an :class:`AudioPreprocessing`).
        clips: ``N`` clips at any rate and length (a dataset's ``take``, decoded files).
        targets: ``(N,)`` int64 true labels.
        perturbations: registered audio perturbation names
            (:func:`~playground.robustness.perturbations.audio_perturbations`).
        severities: each in ``[0, 5]``.
        seed: base seed of the perturbations.
        batch_size: clips per forward pass.
        on_progress: called as ``on_progress(done, total, message)`` after the clean pass of each
            batch and after each (perturbation, severity, batch); ``total = batches · (1 + P·S)``;
            ``message`` says which pass (``"clean"``, ``"white_noise at severity 2"``).
        stop_event: when set, the sweep stops before its next step and returns the finished points
            with ``stopped=True``.

    Returns:
        A :class:`~playground.robustness.sweep.SweepResult` (``n`` counts clips).

    Raises:
        TypeError: ``clips`` is not :class:`AudioClips` or ``targets`` not a tensor.
        ValueError: not an audio model, empty or mismatched inputs, targets outside the model's
            classes, an unknown / non-audio perturbation, a severity outside ``[0, 5]``, or
            ``batch_size < 1``.
    """
    pre = audio_preprocessing(bundle)
    identities = _identity_severities(clips, targets, perturbations, severities, batch_size)
    n = len(clips)
    progress = SweepProgress(
        math.ceil(n / batch_size) * (1 + len(perturbations) * len(severities)), on_progress, stop_event
    )
    model = bundle.model
    points: list[SweepPoint] = []
    was_training = model.training
    model.eval()
    batches: list[_Batch] = []
    try:
        with torch.no_grad():
            batches = _clean_pass(bundle, pre, clips, targets, batch_size, progress)
            for name in [] if progress.stopped else perturbations:
                for severity in severities:
                    point = _sweep_point(bundle, pre, batches, name, float(severity), identities, seed, progress)
                    if point is None:
                        break
                    points.append(point)
                if progress.stopped:
                    break
    finally:
        model.train(was_training)
    clean_accuracy, clean_true_confidence = clean_scores(batches)
    return SweepResult(
        points=tuple(points),
        clean_accuracy=clean_accuracy,
        clean_true_confidence=clean_true_confidence,
        n=n,
        seed=seed,
        stopped=progress.stopped,
        model=bundle.title,
    )


def level_curve(result: SweepResult, perturbation: str) -> list[tuple[float, SweepPoint]]:
    """``(level, point)`` for each severity of one perturbation, by increasing severity.

    The level is the entry's parameter at that severity (``PerturbationSpec.level``), in the units
    of its ``unit``: for ``white_noise`` / ``pink_noise`` the SNR in dB, so
    ``[(snr, p.accuracy) for snr, p in level_curve(result, "white_noise")]`` is the accuracy-vs-SNR
    curve. The identity (severity 0) is at the entry's ``levels[0]``: 100 dB for the noise entries,
    which stands for "no noise added".

    Raises:
        ValueError: if the sweep has no point for ``perturbation`` or it is not registered.
    """
    import playground.robustness.perturbations  # noqa: F401  (registers the built-in perturbations)
    from playground.robustness.perturbations.base import PERTURBATIONS

    spec = PERTURBATIONS.get(perturbation)
    return [(spec.level(p.severity), p) for p in result.curve(perturbation)]


def _identity_severities(
    clips: AudioClips, targets: torch.Tensor, perturbations: list[str], severities: list[float], batch_size: int
) -> set[tuple[str, float]]:
    """Check an audio sweep's request (:func:`~playground.robustness.sweep.identity_severities`)."""
    if not isinstance(clips, AudioClips):
        raise TypeError(f"expected AudioClips, got {type(clips).__name__}")
    if len(clips) == 0:
        raise ValueError("expected at least one clip, got none")
    return identity_severities(len(clips), targets, perturbations, severities, batch_size, "audio")


def _classify(bundle: Bundle, pre: AudioPreprocessing, waveforms: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities ``(b, K)`` float32 on the CPU for ``(b, clip_samples)`` waveforms."""
    device = model_device(bundle.model)
    return bundle.model(pre.encode(waveforms.to(device))).float().softmax(dim=-1).cpu()


def _clean_pass(
    bundle: Bundle,
    pre: AudioPreprocessing,
    clips: AudioClips,
    targets: torch.Tensor,
    batch_size: int,
    progress: SweepProgress,
) -> list[_Batch]:
    """Fitted clips once per batch, with their clean probabilities.

    Raises:
        ValueError: targets outside the model's classes.
    """
    batches: list[_Batch] = []
    for start in range(0, len(clips), batch_size):
        if progress.should_stop():
            break
        index = torch.arange(start, min(start + batch_size, len(clips)))
        waveforms = pre.fit_clips(clips.take(index))  # (b, clip_samples)
        y = targets[index].long()
        probs = _classify(bundle, pre, waveforms)  # (b, K)
        if int(y.min()) < 0 or int(y.max()) >= probs.shape[1]:
            raise ValueError(f"targets must be class indices in [0, {probs.shape[1]}), got {y.tolist()[:10]}")
        batches.append((waveforms, y, probs))
        progress.tick("clean")
    return batches


def _sweep_point(
    bundle: Bundle,
    pre: AudioPreprocessing,
    batches: list[_Batch],
    name: str,
    severity: float,
    identities: set[tuple[str, float]],
    seed: int,
    progress: SweepProgress,
) -> SweepPoint | None:
    """One (perturbation, severity) point over all batches of clips, or None when a stop cut it short."""
    from playground.robustness.perturbations.audio import perturb_audio

    def perturbed_probs(i: int, waveforms: torch.Tensor) -> torch.Tensor:
        perturbed = perturb_audio(name, waveforms, severity, seed + i, sample_rate=pre.sample_rate)
        return _classify(bundle, pre, perturbed)

    return score_point(batches, name, severity, identities, progress, perturbed_probs)
