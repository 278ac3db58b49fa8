"""Explanation drift: how much a perturbation moves what a model looks at.

:func:`explanation_drift` compares the attribution maps (saliency or Integrated Gradients, through
the Explain page's own methods) of an image and of its perturbed copy by Spearman rank
correlation; :func:`attribution_map` gives the map it compares, for display. Both work on
:class:`~playground.modalities.image.pixel_space.PixelSpaceModel` gradients, in raw pixel space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch

from playground.modalities.image.pixel_space import check_pixels

if TYPE_CHECKING:
    from playground.bundle import Bundle

ExplainMethod = Literal["saliency", "integrated_gradients"]
EXPLAIN_METHODS: tuple[str, ...] = ("saliency", "integrated_gradients")


def _attribution_map(bundle: Bundle, pixels: torch.Tensor, target: int, method: str) -> torch.Tensor:
    """``(1, C, H, W)`` pixels -> ``(H, W)`` map >= 0, through the Explain page's own methods.

    ``saliency``: |gradient|, max over channels (Simonyan et al. 2014); ``integrated_gradients``:
    black baseline, 50 steps, |attribution| summed over channels (Sundararajan et al. 2017).
    """
    from playground.explain import ExplainParams, explain

    result = explain(bundle, pixels[0], method, target=target, params=ExplainParams(n_steps=50, baseline="black"))
    attributions = result.attributions.abs()  # (C, H, W), in pixel space
    return attributions.amax(dim=0) if method == "saliency" else attributions.sum(dim=0)


def explanation_drift(
    bundle: Bundle,
    pixels: torch.Tensor,
    perturbed: torch.Tensor,
    target: int,
    *,
    method: ExplainMethod = "saliency",
) -> float:
    """Spearman rank correlation between the attribution maps of an input and of its perturbed copy.

    Both maps are computed on :class:`~playground.modalities.image.pixel_space.PixelSpaceModel` (gradients in raw pixel
    space) for the same ``target`` class and flattened to ``H·W`` values; 1 means the perturbation
    left the ranking of important pixels as it was.

    Args:
        bundle: the model.
        pixels: ``(1, C, H, W)`` float32 in ``[0, 1]``: the original input, at the model's size.
        perturbed: ``(1, C, H, W)`` float32 in ``[0, 1]``: the perturbed input.
        target: the class index explained in both.
        method: ``"saliency"`` (absolute gradient, max over channels) or ``"integrated_gradients"``
            (black baseline, ``n_steps=50``, absolute attribution summed over channels).

    Returns:
        Spearman's ρ in ``[-1, 1]`` (``scipy.stats.spearmanr``); exactly 1.0 when the two maps are
        identical.

    Raises:
        TypeError: if the inputs are not float tensors.
        ValueError: bad shapes or ranges, a target out of range, an unknown method, or a constant
            map (its rank correlation is undefined), e.g. a model whose gradient is zero there.
    """
    from scipy.stats import spearmanr

    check_pixels(pixels, bundle.image_preprocessing)
    check_pixels(perturbed, bundle.image_preprocessing)
    if pixels.shape[0] != 1 or perturbed.shape[0] != 1:
        raise ValueError(f"expected one image each, got batches of {pixels.shape[0]} and {perturbed.shape[0]}")
    if not 0 <= target < len(bundle.labels):
        raise ValueError(f"target must be a class index in [0, {len(bundle.labels)}), got {target}")
    if method not in EXPLAIN_METHODS:
        raise ValueError(f"unknown explanation method {method!r}; known: {', '.join(EXPLAIN_METHODS)}")
    a = _attribution_map(bundle, pixels.float(), target, method).flatten().cpu()  # (H·W,)
    b = _attribution_map(bundle, perturbed.float(), target, method).flatten().cpu()  # (H·W,)
    if torch.equal(a, b):
        return 1.0
    if bool((a == a[0]).all()) or bool((b == b[0]).all()):
        raise ValueError("an attribution map is constant, so its rank correlation is undefined")
    rho = spearmanr(a.double().numpy(), b.double().numpy()).statistic
    return float(rho)


def attribution_map(
    bundle: Bundle, pixels: torch.Tensor, target: int, *, method: ExplainMethod = "saliency"
) -> torch.Tensor:
    """The attribution map that :func:`explanation_drift` compares, for display.

    Args:
        bundle: the model.
        pixels: ``(1, C, H, W)`` float32 in ``[0, 1]`` at the model's input size.
        target: the class index explained.
        method: ``"saliency"`` (|gradient|, max over channels) or ``"integrated_gradients"``
            (|attribution| summed over channels).

    Returns:
        ``(H, W)`` float32, >= 0.

    Raises:
        ValueError: for an unknown method or pixels that are not one ``(1, C, H, W)`` image.
    """
    if pixels.ndim != 4 or pixels.shape[0] != 1:
        raise ValueError(f"expected one (1, C, H, W) image, got shape {tuple(pixels.shape)}")
    if method not in ("saliency", "integrated_gradients"):
        raise ValueError(f"unknown method {method!r}; expected 'saliency' or 'integrated_gradients'")
    return _attribution_map(bundle, pixels.float(), target, method).cpu()
