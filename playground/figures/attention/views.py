"""BertViz's two views: the model view (every layer × head as a small map) and the head view (links between tokens).

Vig 2019, "A multiscale visualization of attention in the transformer model",
https://arxiv.org/abs/1906.05714; the layout of both follows jessevig/bertviz.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from playground.figures.attention.common import (
    ArrayLike,
    check_tokens,
    check_window,
    float32_array,
    token_label,
)
from playground.figures.helpers import check_indices, display_token
from playground.figures.theme import (
    COLORBAR_THICKNESS,
    HEAD_COLOURS,
    LABEL_FONT_SIZE,
    SEQUENTIAL,
    SMALL_FONT_SIZE,
    apply_theme,
)

HEAD_VIEW_WINDOW = 64  # tokens the head view shows by default for long inputs
#: Weights at which the head view's links get stronger: one trace per (head, level).
LINK_LEVELS = (0.1, 0.3, 0.6)
_LINK_OPACITY = (0.25, 0.45, 0.7, 0.95)
_LINK_WIDTH = (1.0, 1.8, 2.8, 4.0)


def pooled(matrix: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """Average ``k × k`` blocks of the last two axes so that neither exceeds ``max_side``.

    ``k = ceil(max(T_q, T_k) / max_side)``; a last block that is shorter than ``k`` is averaged
    over the cells it has (no padding enters the mean).

    Args:
        matrix: ``(..., T_q, T_k)`` float.
        max_side: the most cells per side after pooling, >= 1.

    Returns:
        ``(pooled (..., ceil(T_q / k), ceil(T_k / k)) float32, k)``; ``k == 1`` returns ``matrix`` itself.

    Raises:
        ValueError: ``max_side < 1``.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    k = math.ceil(max(matrix.shape[-1], matrix.shape[-2]) / max_side)
    if k <= 1:
        return matrix, 1
    flat = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32)).reshape(
        -1, *matrix.shape[-2:]
    )  # (N, T_q, T_k)
    # ceil_mode keeps a short last block; without padding its mean is over its own cells only.
    out = torch.nn.functional.avg_pool2d(flat, kernel_size=k, stride=k, ceil_mode=True)  # (N, n_q, n_k)
    return out.numpy().reshape(*matrix.shape[:-2], *out.shape[-2:]), k


def model_view(
    attention_probs: ArrayLike,
    tokens: Sequence[str],
    *,
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
    max_side: int = 32,
    zmax: float | None = None,
) -> go.Figure:
    """Every layer × head as a small heatmap in one grid (BertViz's model view, as maps).

    Rows are layers, columns heads, each panel titled ``"L{l} H{h}"`` with queries down and keys
    across. Inputs longer than ``max_side`` tokens are averaged over ``k × k`` token blocks
    (:func:`pooled`), and the title says so and by how much. The grid is laid out by hand:
    ``make_subplots`` plus one ``add_trace`` per panel took ~0.6 s for 6 × 12 panels here,
    the same layout as one ``go.Figure(data, layout)`` call ~0.15 s.

    Args:
        attention_probs: ``(L, H, T, T)`` float in ``[0, 1]``, rows summing to 1.
        tokens: the T tokens (only counted and named in the title here: panels have no tick labels).
        layers: the layers to show, top to bottom (default: all).
        heads: the heads to show, left to right (default: all).
        max_side: the most cells per panel side; beyond, blocks are averaged.
        zmax: top of the shared colour scale; default the 99th percentile of the shown values
            (a few sink cells, e.g. on ``[SEP]``, would otherwise wash every panel out).

    Returns:
        A figure with one ``Heatmap`` per (layer, head), in row-major order, sharing one colour axis.

    Raises:
        ValueError: a tensor that is not ``(L, H, T, T)``, tokens of another length, an index out of range.
    """
    probs = float32_array(attention_probs, 4, "attention of shape (L, H, T, T)")
    n_layers, n_heads, t, _ = probs.shape
    check_tokens(tokens, t, "tokens")
    rows = check_indices(layers, n_layers, "layer")
    cols = check_indices(heads, n_heads, "head")
    if rows != list(range(n_layers)) or cols != list(range(n_heads)):
        probs = probs[np.ix_(rows, cols)]  # (L', H', T, T): a copy, so only when a subset is asked for
    maps, k = pooled(probs, max_side)  # (L', H', n, n)
    positions = np.arange(0, t, k)  # first token of each block
    top = float(np.quantile(maps, 0.99)) if zmax is None else float(zmax)
    top = top if top > 0 else 1.0
    layout: dict[str, Any] = {}
    data: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    per = f" (blocks of {k})" if k > 1 else ""
    for r, layer in enumerate(rows):
        for c, head in enumerate(cols):
            n = r * len(cols) + c + 1
            sfx = "" if n == 1 else str(n)
            x_axis, y_axis, note = _panel_frame(r, c, len(rows), len(cols), f"L{layer} H{head}")
            layout[f"xaxis{sfx}"] = {**x_axis, "anchor": f"y{sfx}", "constrain": "domain"}
            # square cells: a query row is as tall as a key column is wide (they were stretched)
            layout[f"yaxis{sfx}"] = {**y_axis, "anchor": f"x{sfx}", "scaleanchor": f"x{sfx}", "constrain": "domain"}
            notes.append(note)
            data.append(
                {
                    "type": "heatmap",
                    "z": maps[r, c],
                    "x": positions,
                    "y": positions,
                    "xaxis": f"x{sfx}",
                    "yaxis": f"y{sfx}",
                    "coloraxis": "coloraxis",
                    "name": f"L{layer} H{head}",
                    "hovertemplate": f"L{layer} H{head}{per}<br>query %{{y}} → key %{{x}}: %{{z:.3f}}<extra></extra>",
                }
            )
    title = f"Attention of {len(rows)} layer(s) × {len(cols)} head(s), {t} tokens"
    if k > 1:
        title += f"<br><sub>downsampled {k}×: each cell is the mean of a {k}×{k} block of tokens ({t} → {maps.shape[-1]} per side)</sub>"
    layout.update(
        annotations=notes,
        coloraxis={
            "colorscale": SEQUENTIAL,
            "cmin": 0.0,
            "cmax": top,
            "colorbar": {"thickness": COLORBAR_THICKNESS, "title": "weight"},
        },
        title=title,
    )
    # Rows about as tall as the panels are wide on a ~1,100 px page (4 heads: 240 px; 12 heads: 90 px).
    row_px = min(240, max(80, 1_000 // len(cols)))
    return apply_theme(
        go.Figure(data=data, layout=layout),
        height=int(max(260, row_px * len(rows) + 110)),
        margin={"l": 20, "r": 20, "t": 90 if k > 1 else 60, "b": 20},
    )


#: Gaps between the model view's panels, as fractions of the figure's width and height.
_PANEL_GAP_X, _PANEL_GAP_Y = 0.012, 0.045


def _panel_frame(
    r: int, c: int, n_rows: int, n_cols: int, name: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The x axis, y axis and title annotation of the model view's panel in row ``r``, column ``c``."""
    x0, y1 = c / n_cols, 1.0 - r / n_rows
    axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": ""}
    x_axis = {**axis, "domain": [x0 + _PANEL_GAP_X / 2, x0 + 1 / n_cols - _PANEL_GAP_X / 2]}
    y_axis = {
        **axis,
        "domain": [y1 - 1 / n_rows + _PANEL_GAP_Y / 2, y1 - _PANEL_GAP_Y],
        "autorange": "reversed",  # query 0 at the top
    }
    note = {
        "text": name,
        "x": x0 + 0.5 / n_cols,
        "y": y1 - _PANEL_GAP_Y,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": SMALL_FONT_SIZE},
    }
    return x_axis, y_axis, note


def _link_pairs(
    probs: np.ndarray, start: int, stop: int, min_weight: float, top_k: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query, key and weight of every drawn link of one head inside ``[start, stop)``."""
    sub = probs[start:stop, start:stop]  # (W, W): queries and keys inside the window
    keep = sub >= min_weight
    if top_k is not None and top_k < sub.shape[1]:
        kth = -np.partition(-sub, top_k - 1, axis=1)[:, top_k - 1 : top_k]  # (W, 1): the k-th largest per query
        keep &= sub >= kth
    q, k = np.nonzero(keep)
    return q + start, k + start, sub[q, k]


def head_view(
    attention_probs: ArrayLike,
    tokens: Sequence[str],
    *,
    heads: Sequence[int] | None = None,
    window: tuple[int, int] | None = None,
    min_weight: float = 0.02,
    top_k: int | None = None,
    title: str | None = None,
) -> go.Figure:
    """BertViz's head view: queries in a left column, keys in a right one, a line per strong link.

    One colour per head (its legend entry toggles all its lines); a link's opacity and width grow
    with its weight. A trace cannot vary opacity along its line, so the weights are binned at
    :data:`LINK_LEVELS` into four levels and each (head, level) is one ``Scatter`` whose segments
    are separated by NaN gaps: ~50 traces for 12 heads instead of one per link (thousands).
    Hovering a query token lists each head's strongest key.

    Args:
        attention_probs: ``(H, T, T)`` float in ``[0, 1]``: one layer's heads.
        tokens: the T tokens (escaped here).
        heads: the heads to draw (default: all).
        window: ``(start, stop)``: only tokens ``start..stop-1`` and the links among them are shown;
            default all tokens, or the first :data:`HEAD_VIEW_WINDOW` for longer inputs.
        min_weight: links below this weight are not drawn.
        top_k: if given, only each (head, query)'s ``top_k`` strongest keys (all keys tied with
            the ``top_k``-th weight are kept).
        title: plain text (escaped here); default names the window and the threshold.

    Returns:
        A figure: per head one line trace per non-empty level, strongest first (``legendgroup``
        ``"head h"``; the first one carries the legend entry), then the two token columns as text
        traces (queries at x = 0, keys at x = 1, y = position - start).

    Raises:
        ValueError: a tensor that is not ``(H, T, T)``, tokens of another length, a head or window
            out of range, ``min_weight`` outside ``(0, 1]`` or ``top_k < 1``.
    """
    probs = float32_array(attention_probs, 3, "one layer's attention of shape (H, T, T)")
    n_heads, t, t_k = probs.shape
    if t != t_k:
        raise ValueError(f"expected self-attention (H, T, T), got shape {probs.shape}")
    check_tokens(tokens, t, "tokens")
    chosen = check_indices(heads, n_heads, "head")
    start, stop = check_window(window, t, HEAD_VIEW_WINDOW)
    if not 0.0 < min_weight <= 1.0:
        raise ValueError(f"min_weight must be in (0, 1], got {min_weight}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    edges = np.array([min_weight, *[e for e in LINK_LEVELS if e > min_weight]], dtype=np.float32)
    data: list[dict[str, Any]] = []
    for head in chosen:
        q, k, w = _link_pairs(probs[head], start, stop, min_weight, top_k)
        data.extend(_head_links(head, q - start, k - start, w, edges))
    data.extend(_token_columns(probs, chosen, tokens, start, stop))
    if title is None:
        title = f"Head view: tokens {start}–{stop - 1} of {t}, links ≥ {min_weight:g}"
        if top_k is not None:
            title += f", top {top_k} per query"
    else:
        title = html.escape(title)
    layout = {
        "xaxis": {"visible": False, "range": [-0.55, 1.55], "fixedrange": True},
        "yaxis": {"visible": False, "autorange": "reversed"},
        "legend": {"title": {"text": "head (click to toggle)"}},
        "hovermode": "closest",
    }
    fig = go.Figure(data=data, layout=layout)
    return apply_theme(fig, title=title, height=int(max(420, 28 * (stop - start) + 140)))


def _head_links(head: int, q: np.ndarray, k: np.ndarray, w: np.ndarray, edges: np.ndarray) -> list[dict[str, Any]]:
    """One head's line traces: one per non-empty weight level, strongest first (an empty one if none).

    Args:
        head: the head's index (its colour and legend group).
        q, k: ``(N,)`` rows of the links' query and key in the window (position - start).
        w: ``(N,)`` the links' weights.
        edges: the lower edge of each level, ascending: ``min_weight``, then the :data:`LINK_LEVELS` above it.
    """
    colour = HEAD_COLOURS[head % len(HEAD_COLOURS)]
    offset = len(LINK_LEVELS) + 1 - len(edges)  # the thresholds above min_weight use the stronger styles
    level = np.searchsorted(edges, w, side="right") - 1  # 0 .. len(edges) - 1
    traces: list[dict[str, Any]] = []
    for lv in reversed(range(len(edges))):  # strongest first: the legend entry shows its opaque line
        sel = level == lv
        if not sel.any():
            continue
        count = int(sel.sum())
        x = np.tile(np.array([0.0, 1.0, np.nan], dtype=np.float32), count)  # segments with NaN gaps
        y = np.empty(3 * count, dtype=np.float32)
        y[0::3], y[1::3], y[2::3] = q[sel], k[sel], np.nan
        style = lv + offset
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": x,
                "y": y,
                "name": f"head {head}",
                "legendgroup": f"head {head}",
                "showlegend": not traces,
                "line": {"color": colour, "width": _LINK_WIDTH[style]},
                "opacity": _LINK_OPACITY[style],
                "hoverinfo": "skip",
            }
        )
    if not traces:  # no link at or above min_weight: keep the head in the legend
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": [],
                "y": [],
                "name": f"head {head} (no links)",
                "legendgroup": f"head {head}",
                "line": {"color": colour},
            }
        )
    return traces


def _token_columns(
    probs: np.ndarray, chosen: list[int], tokens: Sequence[str], start: int, stop: int
) -> list[dict[str, Any]]:
    """The head view's two text traces: queries at x = 0 (hover: each head's strongest key), keys at x = 1."""
    positions = range(start, stop)
    rel = np.arange(stop - start, dtype=np.float32)  # y of each shown token, 0 at the window's start
    shown = [display_token(tokens[i], 20) for i in positions]
    window_probs = probs[chosen][:, start:stop, start:stop]  # (H', W, W)
    best = window_probs.argmax(-1)  # (H', W): each head's strongest key in the window
    hover_q = []
    for row, i in enumerate(positions):
        lines = [
            f"H{h} → {token_label(tokens, int(best[j, row]) + start)}: {window_probs[j, row, best[j, row]]:.2f}"
            for j, h in enumerate(chosen)
        ]
        hover_q.append(f"query {token_label(tokens, i)}<br>" + "<br>".join(lines))
    received = window_probs.sum(axis=(0, 1)) / len(chosen)  # (W,): mean over heads of the weight each key gets
    hover_k = [
        f"key {token_label(tokens, i)}<br>received {received[j]:.2f} (summed over the window's queries, mean of heads)"
        for j, i in enumerate(positions)
    ]
    return [
        {
            "type": "scatter",
            "mode": "text",
            "x": np.full(len(rel), column, dtype=np.float32),
            "y": rel,
            "text": shown,
            "textposition": side,
            "hovertext": hover,
            "hoverinfo": "text",
            "showlegend": False,
            "textfont": {"size": LABEL_FONT_SIZE},
        }
        for column, side, hover in ((0.0, "middle left", hover_q), (1.0, "middle right", hover_k))
    ]
