"""Plotly figures of attributions: pure functions, data in, figure out (no Streamlit).

The maps come from :func:`~playground.explain.display_map` / :func:`~playground.explain.token_scores`
(already scaled to [-1, 1] for ``"signed"`` or [0, 1] otherwise); signed maps use a diverging
colour scale centred at zero (red pushes the target up, blue pushes it down), the others a
sequential one starting at zero.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from playground.explain.display import DISPLAY_MODES, DisplayMode
from playground.figures.helpers import rgb_image
from playground.figures.theme import (
    DIVERGING,
    IMAGE_MARGIN,
    NEGATIVE,
    NOTE_FONT_SIZE,
    POSITIVE,
    UNSIGNED,
    apply_theme,
    rgb,
)

SIGNED_SCALE = DIVERGING  # blue < 0 < red, white at 0
UNSIGNED_SCALE = UNSIGNED
GRID_COLUMNS = 4
MAX_BAR_TOKENS = 15


def _check_mode(mode: str) -> None:
    if mode not in DISPLAY_MODES:
        raise ValueError(f"mode must be one of {', '.join(DISPLAY_MODES)}, got {mode!r}")


def _as_array(values: torch.Tensor | np.ndarray, ndim: int, what: str) -> np.ndarray:
    array = values.detach().float().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, float)
    if array.ndim != ndim:
        raise ValueError(f"expected {what} with {ndim} dimensions, got shape {tuple(array.shape)}")
    return array


def _scale(mode: DisplayMode) -> dict[str, object]:
    """Colour-scale settings: signed maps are centred at 0 on a symmetric range [-1, 1]."""
    if mode == "signed":
        return {"colorscale": SIGNED_SCALE, "zmin": -1.0, "zmax": 1.0, "zmid": 0.0}
    return {"colorscale": UNSIGNED_SCALE, "zmin": 0.0, "zmax": 1.0}


def _image_axes(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return apply_theme(fig, title=title, height=height, margin={**IMAGE_MARGIN, "t": 30})


def overlay_figure(
    pixels: torch.Tensor | np.ndarray,
    heat: torch.Tensor | np.ndarray,
    mode: DisplayMode = "signed",
    opacity: float = 0.6,
    title: str = "",
    height: int = 380,
) -> go.Figure:
    """The attribution map as a translucent heatmap over the image.

    Args:
        pixels: ``(C, H, W)`` float in [0, 1], C = 1 or 3.
        heat: ``(H, W)`` from :func:`~playground.explain.display_map` (in [-1, 1] or [0, 1]).
        mode: the display mode the map was made with (picks the colour scale).
        opacity: of the heatmap, in [0, 1].
        title: figure title.
        height: in pixels.

    Raises:
        ValueError: for mismatched shapes, a bad mode or opacity.
    """
    _check_mode(mode)
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    image = rgb_image(pixels)
    z = _as_array(heat, 2, "a map (H, W)")
    if z.shape != image.shape[:2]:
        raise ValueError(f"the map's shape {z.shape} differs from the image's {image.shape[:2]}")
    fig = go.Figure(go.Image(z=image, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(z=z, opacity=opacity, showscale=True, hovertemplate="x %{x}, y %{y}: %{z:.2f}", **_scale(mode))
    )
    return _image_axes(fig, title, height)


def map_figure(
    heat: torch.Tensor | np.ndarray, mode: DisplayMode = "signed", title: str = "", height: int = 380
) -> go.Figure:
    """The attribution map alone, ``(H, W)`` (see :func:`overlay_figure`)."""
    _check_mode(mode)
    z = _as_array(heat, 2, "a map (H, W)")
    fig = go.Figure(go.Heatmap(z=z, hovertemplate="x %{x}, y %{y}: %{z:.2f}", **_scale(mode)))
    return _image_axes(fig, title, height)


def methods_grid_figure(
    maps: Mapping[str, torch.Tensor | np.ndarray | str],
    mode: DisplayMode = "signed",
    columns: int = GRID_COLUMNS,
    panel_height: int = 220,
) -> go.Figure:
    """One panel per method: its ``(H, W)`` map, or the reason it could not run (a string).

    Args:
        maps: ``{panel title: (H, W) map or reason}``, in panel order; at least one.
        mode: display mode of the maps (one shared colour scale).
        columns: panels per row, >= 1.
        panel_height: pixels per row.

    Raises:
        ValueError: for no maps, a bad mode or column count, or a map that is not 2-D.
    """
    _check_mode(mode)
    if not maps:
        raise ValueError("expected at least one method to show, got none")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    cols = min(columns, len(maps))
    rows = math.ceil(len(maps) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(maps), horizontal_spacing=0.02, vertical_spacing=0.08)
    for i, (name, value) in enumerate(maps.items()):
        row, col = i // cols + 1, i % cols + 1
        if isinstance(value, str):  # not supported: an empty panel with the reason
            fig.add_trace(
                go.Heatmap(z=[[0.0]], showscale=False, hoverinfo="skip", colorscale=[[0, "white"], [1, "white"]]),
                row,
                col,
            )
            short = value if len(value) <= 90 else value[:87] + "…"
            wrapped = "<br>".join(html.escape(short[j : j + 30]) for j in range(0, len(short), 30))
            fig.add_annotation(text=wrapped, x=0, y=0, showarrow=False, font={"size": NOTE_FONT_SIZE}, row=row, col=col)
            continue
        z = _as_array(value, 2, f"the map of {name} (H, W)")
        fig.add_trace(go.Heatmap(z=z, showscale=i == 0, hovertemplate="%{z:.2f}", name=name, **_scale(mode)), row, col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    return apply_theme(fig, height=panel_height * rows + 40, margin=IMAGE_MARGIN)


def token_bar_figure(
    tokens: Sequence[str], attributions: torch.Tensor | np.ndarray, top_k: int = MAX_BAR_TOKENS, title: str = ""
) -> go.Figure:
    """Horizontal bars of the ``top_k`` tokens with the largest ``|attribution|`` (largest on top).

    Args:
        tokens: ``T`` token strings.
        attributions: ``(T,)`` one value per token (raw or scaled).
        top_k: bars shown, >= 1.
        title: figure title.

    Raises:
        ValueError: when the lengths differ or ``top_k < 1``.
    """
    values = _as_array(attributions, 1, "token attributions (T,)")
    if len(tokens) != len(values):
        raise ValueError(f"expected one attribution per token, got {len(tokens)} tokens and {len(values)} values")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    order = np.argsort(-np.abs(values), kind="stable")[:top_k][::-1]  # smallest of the top first: largest on top
    labels = [f"{tokens[i]} · {i}" for i in order]  # the position keeps repeated tokens apart
    colors = [POSITIVE if values[i] >= 0 else NEGATIVE for i in order]
    fig = go.Figure(
        go.Bar(
            x=values[order],
            y=labels,
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="attribution")
    return apply_theme(fig, title=title, height=max(200, 24 * len(order) + 80), margin=IMAGE_MARGIN)


def tokens_html(tokens: Sequence[str], scores: torch.Tensor | np.ndarray) -> str:
    """Tokens as HTML spans coloured by score: red > 0, blue < 0, strength ``|score|``; every token escaped.

    Args:
        tokens: ``T`` token strings (user text: escaped with :func:`html.escape`).
        scores: ``(T,)`` in [-1, 1] (from :func:`~playground.explain.token_scores`).

    Raises:
        ValueError: when the lengths differ.
    """
    values = _as_array(scores, 1, "token scores (T,)")
    if len(tokens) != len(values):
        raise ValueError(f"expected one score per token, got {len(tokens)} tokens and {len(values)} scores")
    spans = []
    for token, score in zip(tokens, values, strict=True):
        s = float(np.clip(score, -1, 1))
        r, g, b = rgb(POSITIVE if s >= 0 else NEGATIVE)
        spans.append(
            f'<span title="{s:+.3f}" style="background: rgba({r},{g},{b},{abs(s):.3f}); padding: 1px 3px; '
            f'margin: 1px; border-radius: 3px; display: inline-block">{html.escape(token)}</span>'
        )
    return '<div style="line-height: 2">' + " ".join(spans) + "</div>"


def deletion_insertion_figure(
    fractions: Sequence[float],
    deletion: Sequence[float],
    insertion: Sequence[float],
    deletion_auc: float,
    insertion_auc: float,
    title: str = "",
) -> go.Figure:
    """Deletion and insertion curves (Petsiuk et al. 2018, https://arxiv.org/abs/1806.07421) with their AUC.

    Args:
        fractions: ``S + 1`` shares changed, 0 to 1.
        deletion, insertion: the target's probability at each share, in [0, 1].
        deletion_auc, insertion_auc: areas under the curves (lower / higher is better).
        title: figure title.

    Raises:
        ValueError: when the lengths differ.
    """
    if not len(fractions) == len(deletion) == len(insertion):
        raise ValueError(
            f"expected curves as long as fractions, got {len(fractions)}, {len(deletion)} and {len(insertion)}"
        )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=list(fractions), y=list(deletion), name=f"deletion (AUC {deletion_auc:.3f}, lower is better)")
    )
    fig.add_trace(
        go.Scatter(x=list(fractions), y=list(insertion), name=f"insertion (AUC {insertion_auc:.3f}, higher is better)")
    )
    fig.update_layout(
        xaxis_title="share of the input changed, most important first",
        yaxis_title="probability of the target",
        yaxis_range=[0, 1.02],
        legend={"orientation": "h", "y": -0.3},
    )
    return apply_theme(fig, title=title, height=320, margin=IMAGE_MARGIN)
