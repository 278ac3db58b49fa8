"""Figures of transformer attention: pure functions, plain tensors and token lists in, plotly figure out.

The views follow jessevig/bertviz (Vig 2019, "A multiscale visualization of attention in the
transformer model", https://arxiv.org/abs/1906.05714): a *model view* of every layer and head as
small maps, a *head view* of one layer's links between tokens, plus full heatmaps, the per-head
summaries of Clark et al. 2019, attention rollout (Abnar & Zuidema 2020) and the formula
``softmax(q K^T / sqrt(d_k))`` recomputed (Vaswani et al. 2017, section 3.2.1).

Long inputs stay small and quick: BertViz sends every weight of every head as JSON (53 MB at 128
tokens, 870 MB at 512). Here the model view averages ``k × k`` token blocks down to at most
``max_side`` cells a side, the head view draws one window of tokens (64 by default) with one
trace per (head, opacity level) instead of one per link, and every matrix goes out as a float32
numpy array, which plotly 7 sends as compact base64 binary rather than JSON numbers.

Tokens repeat ("the" twice), so every token axis is numeric (positions) with the tokens as tick
labels; every token and every title built from one is HTML-escaped before it reaches plotly
(which renders a subset of HTML in labels).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from playground.figures.rnn import display_token
from playground.inspection.attention.formula import AttentionFormula
from playground.inspection.attention.summaries import HeadSummaries

ArrayLike = torch.Tensor | np.ndarray

_FONT = {"size": 15}  # readable on a projector, as playground.figures.viz
SEQUENTIAL = "Viridis"  # attention weights are in [0, 1]
OVERLAY_SCALE = "Inferno"
HEAD_COLOURS = qualitative.Dark24  # one colour per head (cycled beyond 24)
MAX_TICKS = 64  # token labels on an axis at most (every k-th beyond)
HEAD_VIEW_WINDOW = 64  # tokens the head view shows by default for long inputs
#: Cells up to which a heatmap's hover names both tokens (one string per cell); beyond, positions only.
HOVER_TOKEN_CELLS = 128 * 128
#: Weights at which the head view's links get stronger: one trace per (head, level).
LINK_LEVELS = (0.1, 0.3, 0.6)
_LINK_OPACITY = (0.25, 0.45, 0.7, 0.95)
_LINK_WIDTH = (1.0, 1.8, 2.8, 4.0)


def _array(values: ArrayLike | Sequence[float], ndim: int, what: str) -> np.ndarray:
    """A float32 numpy copy of ``values`` with ``ndim`` dimensions (plotly sends float32 as binary)."""
    if isinstance(values, torch.Tensor):
        array = values.detach().to("cpu", torch.float32).numpy()
    else:
        array = np.asarray(values, dtype=np.float32)
    if array.ndim != ndim:
        raise ValueError(f"expected {what}, got shape {tuple(array.shape)}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_tokens(tokens: Sequence[str], count: int, what: str) -> None:
    if len(tokens) != count:
        raise ValueError(f"expected {count} {what}, one per position, got {len(tokens)}")


def _indices(chosen: Sequence[int] | None, count: int, what: str) -> list[int]:
    out = list(range(count)) if chosen is None else [int(i) for i in chosen]
    if not out:
        raise ValueError(f"expected at least one {what}, got none")
    bad = [i for i in out if not 0 <= i < count]
    if bad:
        raise ValueError(f"{what}s must be in [0, {count - 1}], got {bad[:5]}")
    return out


def _window(window: tuple[int, int] | None, count: int, default: int | None = None) -> tuple[int, int]:
    """``(start, stop)`` checked against ``count`` positions; ``None``: all, or the first ``default``."""
    if window is None:
        return 0, count if default is None else min(count, default)
    start, stop = int(window[0]), int(window[1])
    if not 0 <= start < stop <= count:
        raise ValueError(f"window must satisfy 0 <= start < stop <= {count}, got ({start}, {stop})")
    return start, stop


def _layout(fig: go.Figure, title: str | None = None, height: int | None = None) -> go.Figure:
    fig.update_layout(title=title, font=_FONT, margin={"l": 60, "r": 20, "t": 60 if title else 20, "b": 50})
    if height is not None:
        fig.update_layout(height=height)
    return fig


def _ticks(positions: np.ndarray, tokens: Sequence[str]) -> dict[str, Any]:
    """Axis settings: numeric positions with every k-th token (escaped) as a label, at most MAX_TICKS."""
    every = max(1, math.ceil(len(positions) / MAX_TICKS))
    shown = positions[::every]
    return {
        "tickmode": "array",
        "tickvals": shown.tolist(),
        "ticktext": [display_token(tokens[int(p)]) for p in shown],
        "showgrid": False,
        "zeroline": False,
    }


def _token_label(tokens: Sequence[str], i: int) -> str:
    return f"{display_token(tokens[i], 24)} #{i}"


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
    probs = _array(attention_probs, 4, "attention of shape (L, H, T, T)")
    n_layers, n_heads, t, _ = probs.shape
    _check_tokens(tokens, t, "tokens")
    rows = _indices(layers, n_layers, "layer")
    cols = _indices(heads, n_heads, "head")
    if rows != list(range(n_layers)) or cols != list(range(n_heads)):
        probs = probs[np.ix_(rows, cols)]  # (L', H', T, T): a copy, so only when a subset is asked for
    maps, k = pooled(probs, max_side)  # (L', H', n, n)
    positions = np.arange(0, t, k)  # first token of each block
    top = float(np.quantile(maps, 0.99)) if zmax is None else float(zmax)
    top = top if top > 0 else 1.0
    gap_x, gap_y = 0.012, 0.045
    layout: dict[str, Any] = {}
    data: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    per = f" (blocks of {k})" if k > 1 else ""
    for r, layer in enumerate(rows):
        for c, head in enumerate(cols):
            n = r * len(cols) + c + 1
            sfx = "" if n == 1 else str(n)
            x0, y1 = c / len(cols), 1.0 - r / len(rows)
            axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": ""}
            layout[f"xaxis{sfx}"] = {
                **axis,
                "domain": [x0 + gap_x / 2, x0 + 1 / len(cols) - gap_x / 2],
                "anchor": f"y{sfx}",
            }
            layout[f"yaxis{sfx}"] = {
                **axis,
                "domain": [y1 - 1 / len(rows) + gap_y / 2, y1 - gap_y],
                "anchor": f"x{sfx}",
                "autorange": "reversed",  # query 0 at the top
            }
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
            notes.append(
                {
                    "text": f"L{layer} H{head}",
                    "x": x0 + 0.5 / len(cols),
                    "y": y1 - gap_y,
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 11},
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
            "colorbar": {"thickness": 12, "title": "weight"},
        },
        title=title,
        font=_FONT,
        height=int(max(260, 95 * len(rows) + 110)),
        margin={"l": 20, "r": 20, "t": 90 if k > 1 else 60, "b": 20},
    )
    return go.Figure(data=data, layout=layout)


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
    probs = _array(attention_probs, 3, "one layer's attention of shape (H, T, T)")
    n_heads, t, t_k = probs.shape
    if t != t_k:
        raise ValueError(f"expected self-attention (H, T, T), got shape {probs.shape}")
    _check_tokens(tokens, t, "tokens")
    chosen = _indices(heads, n_heads, "head")
    start, stop = _window(window, t, HEAD_VIEW_WINDOW)
    if not 0.0 < min_weight <= 1.0:
        raise ValueError(f"min_weight must be in (0, 1], got {min_weight}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    edges = np.array([min_weight, *[e for e in LINK_LEVELS if e > min_weight]], dtype=np.float32)
    offset = len(LINK_LEVELS) + 1 - len(edges)  # the thresholds above min_weight use the stronger styles
    data: list[dict[str, Any]] = []
    for head in chosen:
        colour = HEAD_COLOURS[head % len(HEAD_COLOURS)]
        q, k, w = _link_pairs(probs[head], start, stop, min_weight, top_k)
        level = np.searchsorted(edges, w, side="right") - 1  # 0 .. len(edges) - 1
        first = True
        for lv in reversed(range(len(edges))):  # strongest first: the legend entry shows its opaque line
            sel = level == lv
            if not sel.any():
                continue
            count = int(sel.sum())
            x = np.tile(np.array([0.0, 1.0, np.nan], dtype=np.float32), count)  # segments with NaN gaps
            y = np.empty(3 * count, dtype=np.float32)
            y[0::3], y[1::3], y[2::3] = q[sel] - start, k[sel] - start, np.nan
            style = lv + offset
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": y,
                    "name": f"head {head}",
                    "legendgroup": f"head {head}",
                    "showlegend": first,
                    "line": {"color": colour, "width": _LINK_WIDTH[style]},
                    "opacity": _LINK_OPACITY[style],
                    "hoverinfo": "skip",
                }
            )
            first = False
        if first:  # no link at or above min_weight: keep the head in the legend
            data.append(
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
    positions = range(start, stop)
    rel = np.arange(stop - start, dtype=np.float32)  # y of each shown token, 0 at the window's start
    shown = [display_token(tokens[i], 20) for i in positions]
    window_probs = probs[chosen][:, start:stop, start:stop]  # (H', W, W)
    best = window_probs.argmax(-1)  # (H', W): each head's strongest key in the window
    hover_q = []
    for row, i in enumerate(positions):
        lines = [
            f"H{h} → {_token_label(tokens, int(best[j, row]) + start)}: {window_probs[j, row, best[j, row]]:.2f}"
            for j, h in enumerate(chosen)
        ]
        hover_q.append(f"query {_token_label(tokens, i)}<br>" + "<br>".join(lines))
    received = window_probs.sum(axis=(0, 1)) / len(chosen)  # (W,): mean over heads of the weight each key gets
    hover_k = [
        f"key {_token_label(tokens, i)}<br>received {received[j]:.2f} (summed over the window's queries, mean of heads)"
        for j, i in enumerate(positions)
    ]
    for column, side, hover in ((0.0, "middle left", hover_q), (1.0, "middle right", hover_k)):
        data.append(
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
                "textfont": {"size": 13},
            }
        )
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
        "plot_bgcolor": "white",
    }
    fig = go.Figure(data=data, layout=layout)
    return _layout(fig, title, height=int(max(420, 28 * (stop - start) + 140)))


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
    z = _array(matrix, 2, "a matrix of shape (T_q, T_k)")
    t_q, t_k = z.shape
    keys = query_tokens if key_tokens is None else key_tokens
    _check_tokens(query_tokens, t_q, "query tokens")
    _check_tokens(keys, t_k, "key tokens")
    q0, q1 = _window(window, t_q)
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
        "colorbar": {"thickness": 12, "title": "weight"},
    }
    if z.size <= HOVER_TOKEN_CELLS:
        q_lab = np.array([_token_label(query_tokens, int(i)) for i in y], dtype=object)
        k_lab = np.array([_token_label(keys, int(j)) for j in x], dtype=object)
        trace["customdata"] = q_lab[:, None] + " → " + k_lab[None, :]  # (W_q, W_k) strings
        trace["hovertemplate"] = "%{customdata}: %{z:.3f}<extra></extra>"
    else:  # one string per cell would outweigh the matrix itself: positions only
        trace["hovertemplate"] = "query #%{y} → key #%{x}: %{z:.3f}<extra></extra>"
    fig = go.Figure(data=[trace])
    fig.update_xaxes(title=key_title, **_ticks(x, keys), tickangle=-60 if len(x) > 12 else 0)
    fig.update_yaxes(title=query_title, autorange="reversed", **_ticks(y, query_tokens))
    side = int(min(900, max(360, 14 * max(len(x), len(y)) + 160)))
    return _layout(fig, html.escape(title), height=side)


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
        z = _array(values, 2, "(L, H) summaries")
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
    fig.update_annotations(font_size=13)
    _layout(fig, None, height=int(max(300, 28 * n_layers + 180)))
    fig.update_layout(margin={"t": 70})  # room for the panel titles under the toolbar
    return fig


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
    values = _array(rollout_row, 1, "a rollout row of shape (T,)")
    _check_tokens(tokens, len(values), "tokens")
    x = np.arange(len(values))
    fig = go.Figure(
        go.Bar(
            x=x,
            y=values,
            customdata=[_token_label(tokens, i) for i in range(len(values))],
            marker_color="#4C78A8",
            hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="input token", **_ticks(x, tokens), tickangle=-60 if len(x) > 12 else 0)
    fig.update_yaxes(title="share of the output", rangemode="tozero")
    return _layout(fig, html.escape(title), height=360)


def _rgb(pixels: ArrayLike) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] (C = 1 or 3) -> ``(H, W, 3)`` uint8."""
    array = _array(pixels, 3, "pixels of shape (C, H, W)")
    if array.shape[0] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got shape {tuple(array.shape)}")
    array = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array  # (3, H, W)
    return (np.clip(array, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)  # (H, W, 3)


def image_overlay(
    pixels: ArrayLike, grid_map: ArrayLike, *, title: str = "", opacity: float = 0.5, zmax: float | None = None
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

    Returns:
        A figure: an ``Image`` trace ``(H, W, 3)`` and a ``Heatmap`` covering exactly
        ``[-0.5, W - 0.5] × [-0.5, H - 0.5]``.

    Raises:
        ValueError: pixels that are not ``(C, H, W)``, a map that is not 2-D, an opacity outside ``[0, 1]``.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    rgb = _rgb(pixels)
    z = _array(grid_map, 2, "a patch map of shape (rows, cols)")
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
            colorscale=OVERLAY_SCALE,
            zmin=0.0,
            zmax=top if top > 0 else 1.0,
            customdata=np.stack([r_idx, c_idx], axis=-1),
            hovertemplate="patch %{customdata[0]},%{customdata[1]}: %{z:.3f}<extra></extra>",
            colorbar={"thickness": 12},
        )
    )
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5])
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_layout(title=html.escape(title) if title else None, height=420, margin={"l": 0, "r": 0, "t": 40, "b": 0})
    return fig


def _formula_arrays(formula: AttentionFormula) -> dict[str, np.ndarray]:
    scores = formula.scores.detach().to("cpu", torch.float64).numpy()
    dots = (formula.keys @ formula.query).detach().to("cpu", torch.float64).numpy()  # (T,): q . k_j before scaling
    finite = np.isfinite(scores)
    shifted = np.where(finite, scores - (scores[finite].max() if finite.any() else 0.0), -np.inf)
    return {
        "dots": dots,
        "scores": scores,
        "exp": np.exp(shifted),  # e^(s_j - max s): the shift cancels in the softmax
        "probs": formula.probs.detach().to("cpu", torch.float64).numpy(),
        "model": formula.model_probs.detach().to("cpu", torch.float64).numpy(),
        "masked": ~finite,
    }


def formula_title(formula: AttentionFormula, tokens: Sequence[str]) -> str:
    """``"L0 H1 · query “cat” #2: max |diff| = 2.2e-08  ✓ matches"`` (escaped), or ``✗ differs``."""
    verdict = "✓ matches" if formula.matches else "✗ differs"
    return (
        f"L{formula.layer} H{formula.head} · query “{display_token(tokens[formula.query_index], 24)}” "
        f"#{formula.query_index}: max |diff| = {formula.max_abs_diff:.1e}  {verdict}"
    )


def formula_figure(formula: AttentionFormula, tokens: Sequence[str]) -> go.Figure:
    """The article's ``softmax(q K^T / sqrt(d_k))`` for one query, bar by bar, checked against the model.

    Top: the scaled scores ``q_i · k_j / sqrt(d_k)`` per key ``j`` (masked keys have no bar).
    Bottom: their softmax as bars, with the model's own row as markers on top: the markers sit
    on the bar tops when the recomputation matches. The title gives ``max |diff|`` and ✓ / ✗
    (:attr:`~playground.inspection.attention.AttentionFormula.matches`).

    Args:
        formula: from :func:`~playground.inspection.attention.attention_formula` (or ``AttentionMaps.formula``).
        tokens: the T key tokens (escaped here).

    Raises:
        ValueError: tokens of another length than the formula's keys.
    """
    arrays = _formula_arrays(formula)
    t = len(arrays["scores"])
    _check_tokens(tokens, t, "tokens")
    x = np.arange(t)
    labels = [_token_label(tokens, i) for i in range(t)]
    scores = np.where(arrays["masked"], np.nan, arrays["scores"]).astype(np.float32)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=[
            f"scores q·k<sub>j</sub> / √d<sub>k</sub>  (√d<sub>k</sub> = {formula.scale:.3g})",
            "softmax: recomputed (bars) and the model's (markers)",
        ],
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=scores,
            customdata=labels,
            name="score",
            marker_color=np.where(scores >= 0, "#E45756", "#4C78A8"),
            hovertemplate="%{customdata}: %{y:.3f}<extra>score</extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=arrays["probs"].astype(np.float32),
            customdata=labels,
            name="softmax (recomputed)",
            marker_color="#54A24B",
            hovertemplate="%{customdata}: %{y:.4f}<extra>recomputed</extra>",
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=arrays["model"].astype(np.float32),
            mode="markers",
            customdata=labels,
            name="model's row",
            marker={"symbol": "line-ew-open", "size": 14, "line": {"width": 3, "color": "black"}, "color": "black"},
            hovertemplate="%{customdata}: %{y:.4f}<extra>model</extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(**_ticks(x, tokens), tickangle=-60 if t > 12 else 0, row=2, col=1)
    fig.update_yaxes(title="score", row=1, col=1)
    fig.update_yaxes(title="probability", rangemode="tozero", row=2, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, bargap=0.15)
    fig.update_annotations(font_size=13)
    return _layout(fig, formula_title(formula, tokens), height=560)


#: The keys of :func:`formula_table`'s rows, in order.
FORMULA_COLUMNS = ("position", "token", "q·k", "q·k / √d_k", "exp(s − max s)", "softmax", "model")


def formula_table(formula: AttentionFormula, tokens: Sequence[str]) -> list[dict[str, Any]]:
    """The formula's steps for one query as table rows, one per key (for ``st.dataframe``).

    Columns (:data:`FORMULA_COLUMNS`): ``position`` j, ``token`` (raw text: a dataframe does not
    render HTML), ``q·k`` the dot product ``q_i · k_j``, ``q·k / √d_k`` the score ``s_j``
    (``-inf`` at masked keys), ``exp(s − max s)`` (shifted as every softmax implementation does;
    the shift cancels), ``softmax`` = that over the column's sum, ``model`` the model's own weight.

    Raises:
        ValueError: tokens of another length than the formula's keys.
    """
    arrays = _formula_arrays(formula)
    _check_tokens(tokens, len(arrays["scores"]), "tokens")
    return [
        dict(
            zip(
                FORMULA_COLUMNS,
                (
                    j,
                    str(tokens[j]),
                    float(arrays["dots"][j]),
                    float(arrays["scores"][j]),
                    float(arrays["exp"][j]),
                    float(arrays["probs"][j]),
                    float(arrays["model"][j]),
                ),
                strict=True,
            )
        )
        for j in range(len(tokens))
    ]


def figure_bytes(fig: go.Figure) -> int:
    """Size of the figure as the browser receives it: ``len(fig.to_json())`` (what ``st.plotly_chart`` sends)."""
    return len(fig.to_json())


def default_figures(
    attention_probs: ArrayLike,
    tokens: Sequence[str],
    summaries: HeadSummaries,
    rollout_row: ArrayLike,
    *,
    layer: int = 0,
    head: int = 0,
    max_side: int = 32,
    window: tuple[int, int] | None = None,
) -> dict[str, go.Figure]:
    """The text Attention page's default figure set for one input (what the bench sizes and times).

    Only draws: the summaries and the rollout are computed by the caller (once per input, cached),
    e.g. ``head_summaries(maps.attention_probs, maps.special)`` and ``rollout(maps.attention_probs)[-1][0]``.

    Args:
        attention_probs: ``(L, H, T, T)`` float, rows summing to 1.
        tokens: the T tokens.
        summaries: :func:`~playground.inspection.attention.head_summaries` of the same attention.
        rollout_row: ``(T,)`` a row of the full rollout (see :func:`rollout_bars`).
        layer: the layer of the head view, the head heatmap and the mean heatmap.
        head: the head of the head heatmap.
        max_side: the model view's most cells per side.
        window: the head view's window (default: the first :data:`HEAD_VIEW_WINDOW` tokens).

    Returns:
        ``{"model_view", "head_view", "head_heatmap", "mean_heatmap", "head_summaries", "rollout"}``.

    Raises:
        ValueError: as the single figures.
    """
    probs = _array(attention_probs, 4, "attention of shape (L, H, T, T)")
    _indices([layer], probs.shape[0], "layer")
    _indices([head], probs.shape[1], "head")
    return {
        "model_view": model_view(probs, tokens, max_side=max_side),
        "head_view": head_view(probs[layer], tokens, window=window),
        "head_heatmap": attention_heatmap(probs[layer, head], tokens, title=f"Layer {layer} · head {head}"),
        "mean_heatmap": attention_heatmap(
            probs[layer].mean(axis=0), tokens, title=f"Layer {layer} · mean of the heads"
        ),
        "head_summaries": head_summary_figure(summaries),
        "rollout": rollout_bars(rollout_row, tokens),
    }
