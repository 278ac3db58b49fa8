"""Figures of an audio explanation: the attributions as a time-frequency heatmap over the model's
spectrogram axes, with the attribution per moment (summed over frequency) under it on the same time
axis.

Signed maps use the one diverging scale centred at zero (red raises the target's score, blue lowers
it), scaled as on the image page (:func:`~playground.explain.display.normalize_attributions`: the
top 2 % of the absolute attribution clipped, so a few cells do not wash the rest out); the hover
shows the raw value.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from playground.explain.display import DISPLAY_MODES, DisplayMode, normalize_attributions
from playground.figures.theme import (
    COLORBAR_THICKNESS,
    DIVERGING,
    GUIDE_GREY,
    NEGATIVE,
    POSITIVE,
    UNSIGNED,
    apply_theme,
)
from playground.modalities.audio.preprocessing import AudioPreprocessing

MAX_BARS = 200  # bars of the time curve; longer curves (a waveform model's samples) are summed in buckets
CURVE_SHARE = 0.3  # of the combined figure's height


def _grid(attributions: torch.Tensor, preprocessing: AudioPreprocessing) -> np.ndarray:
    grid = attributions.detach().to("cpu", torch.float64).reshape(-1, attributions.shape[-1]).numpy()  # (F, T)
    if grid.shape != (preprocessing.bins, preprocessing.frames):
        raise ValueError(
            f"expected attributions of shape (1, {preprocessing.bins}, {preprocessing.frames}), "
            f"got {tuple(attributions.shape)}"
        )
    return grid


def binned_curve(
    curve: np.ndarray, times_s: np.ndarray, max_bars: int = MAX_BARS
) -> tuple[np.ndarray, np.ndarray, float]:
    """``curve`` summed in consecutive buckets so that at most ``max_bars`` remain.

    Returns:
        ``(sums (B,), bucket start times (B,), bucket width in seconds)``; the curve itself when it
        is short enough (width: the step between two times).
    """
    step = float(times_s[1] - times_s[0]) if len(times_s) > 1 else 1.0
    if len(curve) <= max_bars:
        return curve, times_s, step
    size = math.ceil(len(curve) / max_bars)
    starts = np.arange(0, len(curve), size)
    return np.add.reduceat(curve, starts), times_s[starts], size * step


def _curve_trace(curve: np.ndarray, times_s: np.ndarray) -> tuple[go.Bar, float]:
    values, times, width = binned_curve(curve, times_s)
    colours = [POSITIVE if v >= 0 else NEGATIVE for v in values]
    bar = go.Bar(
        x=times + (width / 2 if len(values) < len(curve) else 0.0),
        y=values,
        width=width,
        marker={"color": colours, "line": {"width": 0}},
        hovertemplate="t %{x:.3f} s<br>%{y:.4g}<extra></extra>",
        showlegend=False,
    )
    return bar, width


def _curve_title(width_s: float, summed: bool) -> str:
    return f"per {1000 * width_s:.3g} ms" if summed else "per frame"


def time_curve_figure(
    curve: torch.Tensor | np.ndarray, times_s: torch.Tensor | np.ndarray, title: str | None = None, height: int = 260
) -> go.Figure:
    """The attribution at each moment, summed over frequency: bars over time (red up, blue down).

    Args:
        curve: ``(T,)`` from :func:`~playground.explain.audio.time_curve`.
        times_s: ``(T,)`` seconds of each column (``preprocessing.frame_times_s()``).
        title: already escaped.

    Raises:
        ValueError: the two lengths differ or are 0.
    """
    values = np.asarray(curve.detach().cpu().double() if isinstance(curve, torch.Tensor) else curve, dtype=float)
    times = np.asarray(times_s.detach().cpu().double() if isinstance(times_s, torch.Tensor) else times_s, dtype=float)
    if values.ndim != 1 or values.shape != times.shape or len(values) == 0:
        raise ValueError(f"expected a (T,) curve and (T,) times, got {values.shape} and {times.shape}")
    bar, width = _curve_trace(values, times)
    fig = go.Figure(bar)
    fig.add_hline(y=0, line={"color": GUIDE_GREY, "width": 1})
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title=f"attribution {_curve_title(width, len(bar.y) < len(values))}")
    return apply_theme(fig, title=title, height=height)


def attribution_map_figure(
    attributions: torch.Tensor,
    preprocessing: AudioPreprocessing,
    mode: DisplayMode = "signed",
    title: str | None = None,
    height: int = 520,
) -> go.Figure:
    """The attributions over time (s, across) and frequency (mel band centres in Hz, up), with the
    attribution per moment (summed over frequency) in a panel under it on the same time axis.

    MFCC models get coefficients up; waveform models (one row of samples) get the curve alone.

    Args:
        attributions: ``(1, F, T)`` (or ``(F, T)``): one explanation of an audio model input.
        preprocessing: the model's, for the axes.
        mode: ``"signed"`` (diverging, centred at 0), ``"positive"`` or ``"absolute"`` (from 0).
        title: already escaped.
        height: in pixels, both panels.

    Raises:
        ValueError: a shape that does not match the preprocessing, or an unknown mode.
    """
    if mode not in DISPLAY_MODES:
        raise ValueError(f"mode must be one of {', '.join(DISPLAY_MODES)}, got {mode!r}")
    grid = _grid(attributions, preprocessing)
    times = preprocessing.frame_times_s().numpy()
    curve = grid.sum(axis=0)  # (T,)
    if preprocessing.features == "waveform":
        return time_curve_figure(curve, times, title=title, height=max(260, height // 2))
    if preprocessing.features == "log_mel":
        rows = [f"{hz:,.0f}" for hz in preprocessing.mel_frequencies_hz().tolist()]
        y_title = "mel band (Hz)"
    else:
        rows = [str(i) for i in range(grid.shape[0])]
        y_title = "MFCC coefficient"
    z = normalize_attributions(torch.from_numpy(grid), mode).numpy()
    scale: dict[str, object] = (
        {"colorscale": DIVERGING, "zmin": -1.0, "zmax": 1.0, "zmid": 0.0}
        if mode == "signed"
        else {"colorscale": UNSIGNED, "zmin": 0.0, "zmax": 1.0}
    )
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[1 - CURVE_SHARE, CURVE_SHARE], vertical_spacing=0.05
    )
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=times,
            y=rows,
            customdata=grid,
            colorbar={
                "title": "attribution<br>(scaled)",
                "thickness": COLORBAR_THICKNESS,
                "len": 1 - CURVE_SHARE,
                "y": 1.0,
                "yanchor": "top",
            },
            hovertemplate="t %{x:.2f} s · %{y}<br>%{customdata:.4g}<extra></extra>",
            **scale,
        ),
        row=1,
        col=1,
    )
    bar, width = _curve_trace(curve, times)
    fig.add_trace(bar, row=2, col=1)
    fig.add_hline(y=0, line={"color": GUIDE_GREY, "width": 1}, row=2, col=1)
    fig.update_yaxes(title=y_title, type="category", nticks=8, row=1, col=1)
    fig.update_yaxes(title=f"sum {_curve_title(width, False)}", row=2, col=1)
    fig.update_xaxes(title="time (s)", row=2, col=1)
    return apply_theme(fig, title=title, height=height)
