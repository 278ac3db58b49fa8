"""Robust accuracy against the attack budget ε over a dataset sample: the curve robustness work is
read from (RobustBench, https://robustbench.github.io, reports accuracy at a fixed ε per threat model).

Each ε attacks every image of the sample with FGSM or PGD (:func:`playground.robustness.attacks.attack`)
and counts the images still classified right; ε = 0 is the clean accuracy, computed without an
attack so that it is exactly the clean accuracy.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from playground.bundle import Bundle
from playground.core.progress import ProgressCallback
from playground.robustness.attacks import AttackConfig, Method, Norm, attack


@dataclass(frozen=True)
class RobustPoint:
    """Accuracy at one budget.

    Attributes:
        epsilon_255: ε in 1/255 pixel units.
        accuracy: share of the sample classified right under the attack, in [0, 1].
        mean_true_confidence: mean probability of the true class under the attack.
        flip_rate: share of images whose prediction the attack changed (0 at ε = 0).
    """

    epsilon_255: float
    accuracy: float
    mean_true_confidence: float
    flip_rate: float


@dataclass(frozen=True)
class RobustCurve:
    """Robust accuracy of one model at several ε (``points`` in the order asked; ``stopped``: cut short)."""

    model: str
    method: str
    norm: str
    steps: int
    n: int
    points: list[RobustPoint]
    stopped: bool = False

    def rows(self) -> list[dict[str, float | str | int]]:
        """One dict per ε, for a table or CSV."""
        return [
            {
                "model": self.model,
                "method": self.method,
                "norm": self.norm,
                "epsilon_255": p.epsilon_255,
                "accuracy": p.accuracy,
                "mean_true_confidence": p.mean_true_confidence,
                "flip_rate": p.flip_rate,
                "n": self.n,
            }
            for p in self.points
        ]


def robust_accuracy(
    bundle: Bundle,
    pixels: torch.Tensor,
    targets: torch.Tensor,
    epsilons_255: Sequence[float],
    *,
    method: Method = "pgd",
    norm: Norm = "Linf",
    steps: int = 40,
    batch_size: int = 128,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> RobustCurve:
    """Accuracy of ``bundle`` on ``pixels`` under FGSM / PGD at each ε of ``epsilons_255``.

    Args:
        bundle: an image model.
        pixels: ``(N, C, H, W)`` float32 in ``[0, 1]`` at the model's input size.
        targets: ``(N,)`` int64 true labels.
        epsilons_255: budgets in 1/255 pixel units, each >= 0 (``0`` is the clean accuracy).
        method, norm, steps: the attack (:class:`~playground.robustness.attacks.AttackConfig`).
        batch_size: images per forward/backward pass.
        on_progress: called with ``(done, total, message)`` after each ε.
        stop_event: set it to stop after the current ε (the curve then holds the ε done).

    Returns:
        The :class:`RobustCurve`.

    Raises:
        ValueError: no ε, a negative one, no images, or what :func:`attack` refuses.
    """
    if not epsilons_255:
        raise ValueError("expected at least one epsilon")
    if pixels.shape[0] == 0:
        raise ValueError("expected at least one image")
    points: list[RobustPoint] = []
    stopped = False
    for i, eps in enumerate(epsilons_255):
        if stop_event is not None and stop_event.is_set():
            stopped = True
            break
        config = AttackConfig(method=method, epsilon_255=float(eps), norm=norm, steps=steps)  # checks eps >= 0
        if eps == 0:  # the clean accuracy itself (the attack's clean pass), not an attack of size 0
            result = attack(
                bundle, pixels, targets, AttackConfig(method="fgsm", epsilon_255=0.0), batch_size=batch_size
            )
            probs, predicted = result.clean_probs, result.clean_pred
        else:
            result = attack(bundle, pixels, targets, config, batch_size=batch_size)
            probs, predicted = result.adv_probs, result.adv_pred
        true_conf = probs.gather(1, targets.view(-1, 1)).squeeze(1)  # (N,)
        flipped = float((predicted != result.clean_pred).float().mean())
        accuracy = float((predicted == targets).float().mean())
        points.append(RobustPoint(float(eps), accuracy, float(true_conf.mean()), flipped))
        if on_progress is not None:
            on_progress(i + 1, len(epsilons_255), f"ε = {eps:g}/255: accuracy {points[-1].accuracy:.3f}")
    return RobustCurve(bundle.title, method, norm, steps, int(pixels.shape[0]), points, stopped)
