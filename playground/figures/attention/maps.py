"""Attention as maps: a matrix as a heatmap (self- and cross-attention), per-head summaries, rollout, a ViT's patch map."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.figures.attention.common import (
    HOVER_TOKEN_CELLS,
    ArrayLike,
    check_tokens,
    check_window,
    float32_array,
    token_label,
    token_ticks,
)
from playground.figures.helpers import rgb_image
from playground.figures.theme import (
    BLUE,
    COLORBAR_THICKNESS,
    IMAGE_MARGIN,
    LABEL_FONT_SIZE,
    OVERLAY,
    SEQUENTIAL,
    apply_theme,
)
from playground.inspection.attention.summaries import HeadSummaries


def _heatmap(
    matrix: ArrayLike,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None,
    *,
    title: str,
    window: tuple[int, int] | None,
    zmax: float | None,
    query_title: str,
    key_title: str,
) -> go.Figure:
    z = float32_array(matrix, 2, "a matrix of shape (T_q, T_k)")
    t_q, t_k = z.shape
    keys = query_tokens if key_tokens is None else key_tokens
    check_tokens(query_tokens, t_q, "query tokens")
    check_tokens(keys, t_k, "key tokens")
    q0, q1 = check_window(window, t_q)
    k0, k1 = (q0, q1) if key_tokens is None and window is not None else (0, t_k)
    if key_tokens is None and window is not None and q1 > t_k:
        raise ValueError(f"window must satisfy stop <= {t_k}, got ({q0}, {q1})")
    z = np.ascontiguousarray(z[q0:q1, k0:k1])  # (W_q, W_k)
    y = np.arange(q0, q1)
    x = np.arange(k0, k1)
    top = float(z.max()) if zmax is None else float(zmax)
    trace: dict[str, Any] = {
        "type": "heatmap",
        "z": z,
        "x": x,
        "y": y,
        "colorscale": SEQUENTIAL,
        "zmin": 0.0,
        "zmax": top if top > 0 else 1.0,
        "colorbar": {"thickness": COLORBAR_THICKNESS, "title": "weight"},
    }
    if z.size <= HOVER_TOKEN_CELLS:
        q_lab = np.array([token_label(query_tokens, int(i)) for i in y], dtype=object)
        k_lab = np.array([token_label(keys, int(j)) for j in x], dtype=object)
        trace["customdata"] = q_lab[:, None] + " → " + k_lab[None, :]  # (W_q, W_k) strings
        trace["hovertemplate"] = "%{customdata}: %{z:.3f}<extra></extra>"
    else:  # one string per cell would outweigh the matrix itself: positions only
        trace["hovertemplate"] = "query #%{y} → key #%{x}: %{z:.3f}<extra></extra>"
    fig = go.Figure(data=[trace])
    fig.update_xaxes(title=key_title, **token_ticks(x, keys), tickangle=-60 if len(x) > 12 else 0)
    fig.update_yaxes(title=query_title, autorange="reversed", **token_ticks(y, query_tokens))
    side = int(min(900, max(360, 14 * max(len(x), len(y)) + 160)))
    return apply_theme(fig, title=html.escape(title), height=side)


def attention_heatmap(
    matrix: ArrayLike,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    *,
    title: str = "",
    window: tuple[int, int] | None = None,
    zmax: float | None = None,
) -> go.Figure:
    """One attention matrix as a heatmap, queries down, keys across, tokens on both axes.

    Axes are numeric positions with the tokens (escaped) as tick labels, every k-th one beyond
    :data:`MAX_TICKS` (all cells are drawn). The hover shows ``"query → key: p"`` with tokens up to
    :data:`HOVER_TOKEN_CELLS` cells, positions beyond (a string per cell would be megabytes).

    Args:
        matrix: ``(T_q, T_k)`` float (``(T, T)`` for self-attention): one head, a mean, a rollout.
        query_tokens: the T_q query tokens.
        key_tokens: the T_k key tokens; default the query tokens (self-attention).
        title: plain text (escaped here).
        window: ``(start, stop)``: show only those queries (and, for self-attention, those keys).
        zmax: top of the colour scale (bottom 0); default the largest value shown.

    Raises:
        ValueError: a matrix that is not 2-D, token lists that do not fit, a window out of range.
    """
    return _heatmap(
        matrix, query_tokens, key_tokens, title=title, window=window, zmax=zmax, query_title="query", key_title="key"
    )


def cross_attention_figure(
    cross: ArrayLike, output_tokens: Sequence[str], source_tokens: Sequence[str], *, title: str = ""
) -> go.Figure:
    """Seq2seq cross-attention: decoder steps (rows) × encoder tokens (columns).

    Args:
        cross: ``(T_out, S)`` float in ``[0, 1]``: one layer's and head's (or their mean)
            decoder-to-encoder attention, rows summing to 1.
        output_tokens: the T_out tokens the decoder produced (row ``t`` attends while emitting it).
        source_tokens: the S encoder tokens.
        title: plain text (escaped here).

    Raises:
        ValueError: shapes and token lists that do not fit.
    """
    return _heatmap(
        cross,
        output_tokens,
        source_tokens,
        title=title,
        window=None,
        zmax=None,
        query_title="decoder step (output token)",
        key_title="encoder token (source)",
    )


def head_summary_figure(summaries: HeadSummaries, *, distance_unit: str = "tokens") -> go.Figure:
    """Three layer × head maps side by side: entropy, mean attention distance, share on special tokens.

    Args:
        summaries: from :func:`~playground.inspection.attention.head_summaries` (each field ``(L, H)``).
        distance_unit: what the distances count (``"tokens"``, or ``"pixels"`` for a patch grid).

    Returns:
        A figure with three ``Heatmap`` traces (layers down, heads across), each with its colour bar:
        entropy on ``[0, log T]``, distance on ``[0, max]``, special share on ``[0, 1]``.
    """
    fields = [
        (
            summaries.entropy,
            f"entropy (nats; uniform = log T = {summaries.max_entropy:.2f})",
            summaries.max_entropy,
            "nats",
        ),
        (summaries.mean_distance, f"mean distance ({html.escape(distance_unit)})", None, html.escape(distance_unit)),
        (summaries.special_share, "share on special tokens", 1.0, ""),
    ]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[f[1] for f in fields], horizontal_spacing=0.1)
    n_layers, n_heads = summaries.entropy.shape
    for c, (values, _name, top, unit) in enumerate(fields, start=1):
        z = float32_array(values, 2, "(L, H) summaries")
        domain = fig.layout[f"xaxis{'' if c == 1 else c}"].domain
        high = float(z.max()) if top is None else float(top)
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=np.arange(n_heads),
                y=np.arange(n_layers),
                colorscale=SEQUENTIAL,
                zmin=0.0,
                zmax=high if high > 0 else 1.0,
                colorbar={"thickness": 10, "x": domain[1] + 0.005, "len": 0.9},
                hovertemplate=f"L%{{y}} H%{{x}}: %{{z:.3f}} {unit}<extra></extra>",
            ),
            row=1,
            col=c,
        )
    every_h = max(1, math.ceil(n_heads / 16))
    fig.update_xaxes(title="head", tickmode="array", tickvals=list(range(0, n_heads, every_h)))
    fig.update_yaxes(tickmode="array", tickvals=list(range(n_layers)), autorange="reversed")
    fig.update_yaxes(title="layer", row=1, col=1)
    fig.update_annotations(font_size=LABEL_FONT_SIZE)
    # a top margin with room for the panel titles under the toolbar
    return apply_theme(fig, height=int(max(300, 28 * n_layers + 180)), margin={"t": 70})


def rollout_bars(
    rollout_row: ArrayLike, tokens: Sequence[str], *, title: str = "Attention rollout: input tokens → output"
) -> go.Figure:
    """How much each input token flows into the output, as bars (one row of a rollout).

    Args:
        rollout_row: ``(T,)`` float, non-negative, summing to 1: a row of
            :func:`~playground.inspection.attention.rollout`'s last matrix (the ``[CLS]`` row for models that
            classify from it, the mean of the rows for mean-pooled ones).
        tokens: the T tokens (escaped here).
        title: plain text (escaped here).

    Raises:
        ValueError: a row that is not 1-D or tokens of another length.
    """
    values = float32_array(rollout_row, 1, "a rollout row of shape (T,)")
    check_tokens(tokens, len(values), "tokens")
    x = np.arange(len(values))
    fig = go.Figure(
        go.Bar(
            x=x,
            y=values,
            customdata=[token_label(tokens, i) for i in range(len(values))],
            marker_color=BLUE,
            hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="input token", **token_ticks(x, tokens), tickangle=-60 if len(x) > 12 else 0)
    fig.update_yaxes(title="share of the output", rangemode="tozero")
    return apply_theme(fig, title=html.escape(title), height=360)


def image_overlay(
    pixels: ArrayLike,
    grid_map: ArrayLike,
    *,
    title: str = "",
    opacity: float = 0.5,
    zmax: float | None = None,
    row_zero_at_bottom: bool = False,
) -> go.Figure:
    """A ViT's patch map (the class token's attention or rollout) over the image.

    The ``(rows, cols)`` map is drawn as a translucent heatmap whose cells each span one patch of
    the image (``dx = W / cols``, ``dy = H / rows`` pixels): the nearest-neighbour upsampling done by
    the plot's coordinates, so the page receives ``rows × cols`` numbers, not ``H × W``.

    Args:
        pixels: ``(C, H, W)`` float in ``[0, 1]``, C = 1 or 3 (what the model saw).
        grid_map: ``(rows, cols)`` float, e.g. :func:`~playground.inspection.attention.class_token_map`.
        title: plain text (escaped here).
        opacity: of the map, in ``[0, 1]``.
        zmax: top of the colour scale (bottom 0); default the map's maximum.
        row_zero_at_bottom: draw row 0 at the bottom (a spectrogram's lowest band), not at the top
            (an image's first row); the image and the map turn together.

    Returns:
        A figure: an ``Image`` trace ``(H, W, 3)`` and a ``Heatmap`` covering exactly
        ``[-0.5, W - 0.5] × [-0.5, H - 0.5]``.

    Raises:
        ValueError: pixels that are not ``(C, H, W)``, a map that is not 2-D, an opacity outside ``[0, 1]``.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    rgb = rgb_image(pixels)
    z = float32_array(grid_map, 2, "a patch map of shape (rows, cols)")
    height, width = rgb.shape[:2]
    rows, cols = z.shape
    dx, dy = width / cols, height / rows
    top = float(z.max()) if zmax is None else float(zmax)
    r_idx, c_idx = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=z,
            x0=-0.5 + dx / 2,  # cell centres: one patch per cell, edges on the image's edges
            dx=dx,
            y0=-0.5 + dy / 2,
            dy=dy,
            opacity=opacity,
            colorscale=OVERLAY,
            zmin=0.0,
            zmax=top if top > 0 else 1.0,
            customdata=np.stack([r_idx, c_idx], axis=-1),
            hovertemplate="patch %{customdata[0]},%{customdata[1]}: %{z:.3f}<extra></extra>",
            colorbar={"thickness": COLORBAR_THICKNESS},
        )
    )
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5])
    bottom, top_edge = -0.5, height - 0.5
    y_range = [bottom, top_edge] if row_zero_at_bottom else [top_edge, bottom]  # an image: row 0 on top
    fig.update_yaxes(visible=False, range=y_range, scaleanchor="x")
    return apply_theme(fig, title=html.escape(title) if title else None, height=420, margin=IMAGE_MARGIN)
