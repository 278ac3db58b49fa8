"""The perturbation registry: corruptions with a severity scale 0–5.

Every entry maps a severity in ``[0, 5]`` to a *level* of its own parameter with units
(σ of Gaussian noise on the ``[0, 1]`` pixel scale, blur radius in pixels, rotation in degrees, ...)
by linear interpolation between ``levels[0]`` (severity 0, the identity) and ``levels[5]``.
Fractional severities are allowed, so a search can find the smallest one that flips a prediction.

Image entries act on raw pixels, before the model's normalization::

    @register_perturbation("gaussian_noise", modality="image", unit="σ on [0, 1] pixels",
                           levels=(0.0, 0.04, 0.08, 0.12, 0.18, 0.26), description="...")
    def gaussian_noise(pixels: Tensor, level: float, generator: torch.Generator) -> Tensor: ...

``pixels`` is ``(B, C, H, W)`` float32 in ``[0, 1]``; the function returns the same shape and range.
Text entries take and return ``str`` and get a ``random.Random`` instead of a generator.

Audio entries act on waveforms at the model's rate and length (after ``AudioPreprocessing.fit_clips``,
before the features), and take the sample rate as a keyword argument::

    @register_perturbation("white_noise", modality="audio", unit="SNR in dB (100 = no noise)",
                           levels=(100.0, 40.0, 30.0, 20.0, 10.0, 0.0), description="...")
    def white_noise(waveforms: Tensor, level: float, generator: torch.Generator, *, sample_rate: int) -> Tensor: ...

``waveforms`` is ``(B, L)`` float (full scale ±1) at ``sample_rate`` Hz (an ``int``); the function
returns the same shape and dtype, not clipped. Apply one with ``perturb_audio`` (in ``audio.py``).

Source: the severity scale of Hendrycks & Dietterich 2019, "Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations", https://arxiv.org/abs/1903.12261 (ImageNet-C).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from playground.core.modality import Modality
from playground.core.registry import Registry

MAX_SEVERITY = 5.0


@dataclass(frozen=True)
class PerturbationSpec:
    """One registry entry.

    Attributes:
        name: registry key.
        modality: ``"image"``, ``"text"`` or ``"audio"``.
        fn: the perturbation (see the module docstring).
        unit: what a level means, with units, for the UI ("rotation in degrees").
        levels: 6 parameter values for severities 0..5; ``levels[0]`` is the identity.
        description: one sentence for the UI.
    """

    name: str
    modality: Modality
    fn: Callable[..., Any]
    unit: str
    levels: tuple[float, ...]
    description: str

    def level(self, severity: float) -> float:
        """The parameter value for ``severity`` in ``[0, 5]`` (linear between integer severities).

        Raises:
            ValueError: if ``severity`` is outside ``[0, 5]``.
        """
        if not 0.0 <= severity <= MAX_SEVERITY:
            raise ValueError(f"severity must be in [0, {MAX_SEVERITY:g}], got {severity}")
        low = int(min(severity, MAX_SEVERITY - 1))  # segment index 0..4
        frac = severity - low
        return float(self.levels[low] + frac * (self.levels[low + 1] - self.levels[low]))


PERTURBATIONS: Registry[PerturbationSpec] = Registry("perturbation")


def register_perturbation(
    name: str, *, modality: Modality, unit: str, levels: tuple[float, ...], description: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that registers a perturbation function as ``name``.

    Raises:
        ValueError: duplicate name, or ``levels`` not 6 values.
    """
    if len(levels) != int(MAX_SEVERITY) + 1:
        raise ValueError(f"{name}: expected {int(MAX_SEVERITY) + 1} levels (severities 0..5), got {len(levels)}")

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        PERTURBATIONS.add(name, PerturbationSpec(name, modality, fn, unit, tuple(levels), description))
        return fn

    return decorator


def perturb_images(name: str, pixels: torch.Tensor, severity: float, seed: int = 0) -> torch.Tensor:
    """Apply image perturbation ``name`` at ``severity``.

    Args:
        name: a registered image perturbation.
        pixels: ``(B, C, H, W)`` float32 in ``[0, 1]`` (raw pixels, before normalization).
        severity: in ``[0, 5]``; 0 returns ``pixels`` unchanged.
        seed: the same seed gives the same output.

    Returns:
        ``(B, C, H, W)`` float32 in ``[0, 1]``.

    Raises:
        ValueError: unknown name, a text perturbation, a bad severity or bad pixels.
    """
    spec = PERTURBATIONS.get(name)
    if spec.modality != "image":
        raise ValueError(f"{name} is a {spec.modality} perturbation, not an image one")
    if pixels.ndim != 4 or not pixels.is_floating_point():
        raise ValueError(f"expected (B, C, H, W) float pixels in [0, 1], got {tuple(pixels.shape)} {pixels.dtype}")
    level = spec.level(severity)
    if level == spec.levels[0]:
        return pixels.clone()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    out: torch.Tensor = spec.fn(pixels, level, generator)
    return out.clamp(0.0, 1.0)


def perturb_text(name: str, text: str, severity: float, seed: int = 0) -> str:
    """Apply text perturbation ``name`` at ``severity`` (0 returns ``text`` unchanged).

    Raises:
        ValueError: unknown name, an image perturbation, or a bad severity.
    """
    spec = PERTURBATIONS.get(name)
    if spec.modality != "text":
        raise ValueError(f"{name} is a {spec.modality} perturbation, not a text one")
    level = spec.level(severity)
    if level == spec.levels[0]:
        return text
    out: str = spec.fn(text, level, random.Random(seed))
    return out
