"""Attributions made ready for display: one value per pixel or token, scaled to [-1, 1] or [0, 1].

Pure functions, no plotting: the page draws what comes back (heatmaps over the image, coloured
tokens, bars). The scaling follows Captum's own visualisation (``captum.attr.visualization``):
sum over the channels, then divide by the value below which ``100 − outlier_percentile`` % of
the total absolute attribution lies, and clip, so that a few extreme pixels do not wash the
rest of the map out. It is re-implemented here because Captum's version is private and works on
NumPy ``(H, W, C)`` arrays.
"""

from __future__ import annotations

from typing import Literal

import torch

DisplayMode = Literal["signed", "positive", "absolute"]
DISPLAY_MODES: tuple[DisplayMode, ...] = ("signed", "positive", "absolute")
OUTLIER_PERCENTILE = 2.0  # Captum's default


def cumulative_threshold(values: torch.Tensor, percentile: float) -> float:
    """The smallest value ``v`` such that values ``<= v`` hold ``percentile`` % of ``sum(values)``.

    Args:
        values: non-negative numbers, any shape.
        percentile: in ``[0, 100]``.

    Returns:
        The threshold (0.0 when all values are 0).
    """
    flat = values.detach().double().flatten().sort().values
    cumulative = flat.cumsum(0)
    total = float(cumulative[-1]) if cumulative.numel() else 0.0
    if total <= 0:
        return 0.0
    index = int(torch.searchsorted(cumulative, torch.tensor(total * percentile / 100.0, dtype=torch.float64)))
    return float(flat[min(index, flat.numel() - 1)])


def normalize_attributions(
    values: torch.Tensor, mode: DisplayMode = "signed", outlier_percentile: float = OUTLIER_PERCENTILE
) -> torch.Tensor:
    """Scale attributions for a colour map.

    Args:
        values: any shape (e.g. ``(H, W)`` or ``(T,)``).
        mode: ``"signed"`` (in [-1, 1], 0 stays 0: for a colour scale centred at zero),
            ``"positive"`` (negative parts set to 0, in [0, 1]) or ``"absolute"`` (``|values|`` in [0, 1]).
        outlier_percentile: share (%) of the total absolute attribution allowed above 1 before clipping.

    Returns:
        float32, same shape; all zeros when ``values`` (or their positive part) are all zero.

    Raises:
        ValueError: for an unknown mode or a percentile outside [0, 100).
    """
    if mode not in DISPLAY_MODES:
        raise ValueError(f"mode must be one of {', '.join(DISPLAY_MODES)}, got {mode!r}")
    if not 0 <= outlier_percentile < 100:
        raise ValueError(f"outlier_percentile must be in [0, 100), got {outlier_percentile}")
    v = values.detach().float().cpu()
    if mode == "positive":
        v = v.clamp(min=0)
    elif mode == "absolute":
        v = v.abs()
    scale = cumulative_threshold(v.abs(), 100.0 - outlier_percentile)
    if scale <= 0:
        return torch.zeros_like(v)
    low = -1.0 if mode == "signed" else 0.0
    return (v / scale).clamp(low, 1.0)


def display_map(
    attributions: torch.Tensor, mode: DisplayMode = "signed", outlier_percentile: float = OUTLIER_PERCENTILE
) -> torch.Tensor:
    """One value per pixel, ready for a heatmap.

    Args:
        attributions: ``(C, H, W)`` (summed over the channels first) or ``(H, W)``.
        mode, outlier_percentile: as :func:`normalize_attributions`.

    Returns:
        ``(H, W)`` float32: in [-1, 1] for ``"signed"``, else in [0, 1].

    Raises:
        ValueError: if ``attributions`` is not 2-D or 3-D, or for a bad mode.
    """
    if attributions.ndim == 3:
        attributions = attributions.sum(dim=0)  # (C, H, W) -> (H, W)
    if attributions.ndim != 2:
        raise ValueError(f"expected (C, H, W) or (H, W) attributions, got shape {tuple(attributions.shape)}")
    return normalize_attributions(attributions, mode, outlier_percentile)


def token_scores(
    attributions: torch.Tensor, mode: DisplayMode = "signed", outlier_percentile: float = 0.0
) -> torch.Tensor:
    """One value per token, for colouring text and bar charts.

    Args:
        attributions: ``(T,)`` (one per token) or ``(T, F)`` (summed over F).
        mode: as :func:`normalize_attributions`.
        outlier_percentile: 0 by default: with few tokens, every one counts.

    Returns:
        ``(T,)`` float32 in [-1, 1] (signed) or [0, 1].

    Raises:
        ValueError: for another shape.
    """
    if attributions.ndim == 2:
        attributions = attributions.sum(dim=-1)  # (T, F) -> (T,)
    if attributions.ndim != 1:
        raise ValueError(f"expected (T,) or (T, F) attributions, got shape {tuple(attributions.shape)}")
    return normalize_attributions(attributions, mode, outlier_percentile)
