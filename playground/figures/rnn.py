"""Figures of a recurrent model's states: pure functions, data in, figure (or escaped HTML) out.

The data come from :mod:`playground.inspection.rnn`. Tokens repeat (``(``, ``the``), so time runs on a
numeric axis (step 0..T-1) with the tokens as tick labels; every token is HTML-escaped before it
reaches a label, a hover or :func:`colored_tokens_html`. Long inputs stay responsive: at most
``max_steps`` steps are drawn (every k-th step beyond that) and the caller picks which units to show
(e.g. :func:`playground.inspection.rnn.units.strongest_units`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.figures.helpers import check_indices, display_token
from playground.figures.theme import (
    BLUE,
    COLORBAR_THICKNESS,
    DIVERGING,
    GREEN,
    GUIDE_GREY,
    LABEL_FONT_SIZE,
    LINE_WIDTH,
    MARKER_SIZE,
    PALETTE,
    PATH_GREY,
    RED,
    SEQUENTIAL,
    THIN_LINE_WIDTH,
    apply_theme,
    rgb,
)

MAX_STEPS = 300  # steps drawn at most; beyond that every k-th step
MAX_TICKS = 60  # token labels on an axis at most
#: Known value ranges: sigmoid gates in (0, 1), tanh values in (-1, 1); ``None``: unbounded
#: (LSTM cell state, ReLU RNN), drawn on a range symmetric around 0.
SERIES_RANGE: dict[str, tuple[float, float] | None] = {
    "input": (0.0, 1.0),
    "forget": (0.0, 1.0),
    "output": (0.0, 1.0),
    "reset": (0.0, 1.0),
    "update": (0.0, 1.0),
    "candidate": (-1.0, 1.0),
    "hidden_state": (-1.0, 1.0),
    "cell_state": None,
}
SERIES_TITLES = {
    "input": "input gate i",
    "forget": "forget gate f",
    "output": "output gate o",
    "reset": "reset gate r",
    "update": "update gate z",
    "candidate": "candidate g / n",
    "hidden_state": "hidden state h",
    "cell_state": "cell state c",
}


def drawn_steps(steps: int, max_steps: int = MAX_STEPS) -> np.ndarray:
    """The step indices drawn for ``steps`` steps: all of them, or every k-th so that at most ``max_steps`` remain.

    Raises:
        ValueError: ``steps < 1`` or ``max_steps < 1``.
    """
    if steps < 1 or max_steps < 1:
        raise ValueError(f"expected at least one step and max_steps >= 1, got {steps} and {max_steps}")
    stride = math.ceil(steps / max_steps)
    return np.arange(0, steps, stride)


def _token_axis(fig: go.Figure, tokens: Sequence[str], shown: np.ndarray, **axis: object) -> None:
    """Numeric step axis with (a subset of) the tokens as tick labels."""
    every = max(1, math.ceil(len(shown) / MAX_TICKS))
    ticks = shown[::every]
    fig.update_xaxes(
        tickmode="array",
        tickvals=ticks.tolist(),
        ticktext=[display_token(tokens[int(t)]) for t in ticks],
        tickangle=-60 if len(ticks) > 20 else 0,
        **axis,
    )


def _check_states(values: np.ndarray, tokens: Sequence[str]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"expected (T, H) states with T >= 1, got shape {arr.shape}")
    if len(tokens) != arr.shape[0]:
        raise ValueError(f"expected {arr.shape[0]} tokens, one per step, got {len(tokens)}")
    return arr


def _range(values: np.ndarray, value_range: tuple[float, float] | None) -> tuple[float, float]:
    if value_range is not None:
        return value_range
    bound = float(np.abs(values).max()) or 1.0
    return -bound, bound


def states_heatmap(
    values: np.ndarray,
    tokens: Sequence[str],
    units: Sequence[int] | None = None,
    *,
    value_range: tuple[float, float] | None = (-1.0, 1.0),
    title: str | None = None,
    max_steps: int = MAX_STEPS,
) -> go.Figure:
    """Units × time steps heatmap of hidden states (or a gate, or the cell state), tokens on the x axis.

    Args:
        values: ``(T, H)`` states.
        tokens: T tokens (escaped here).
        units: which units to draw, top to bottom (default: all). Keep it to ~128 for speed.
        value_range: colour range; ``(-1, 1)`` for tanh values (diverging scale, white at 0),
            ``(0, 1)`` for sigmoid gates (sequential scale), ``None`` for a range symmetric around 0
            that fits the data (cell states).
        title: figure title.
        max_steps: draw at most this many steps (every k-th beyond).

    Raises:
        ValueError: states that are not ``(T, H)``, tokens of another length, units out of range.
    """
    arr = _check_states(values, tokens)
    chosen = check_indices(units, arr.shape[1], "unit")
    shown = drawn_steps(arr.shape[0], max_steps)
    z = arr[np.ix_(shown, np.asarray(chosen, dtype=np.int64))].T  # (units, steps)
    lo, hi = _range(arr[:, chosen], value_range)
    sequential = lo >= 0.0
    hover_tokens = np.array([[display_token(tokens[int(t)], 40) for t in shown]] * len(chosen))  # (units, steps)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=shown,
            y=list(range(len(chosen))),
            customdata=hover_tokens,
            colorscale=SEQUENTIAL if sequential else DIVERGING,  # symmetric range: white at 0
            zmin=lo,
            zmax=hi,
            hovertemplate="step %{x} · %{customdata}<br>unit %{text}: %{z:.3f}<extra></extra>",
            text=np.array([[str(u)] * len(shown) for u in chosen]),
            colorbar={"thickness": COLORBAR_THICKNESS},
        )
    )
    every = max(1, math.ceil(len(chosen) / 40))
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(0, len(chosen), every)),
        ticktext=[f"u{chosen[i]}" for i in range(0, len(chosen), every)],
        autorange="reversed",
        title="unit",
    )
    stride = int(shown[1] - shown[0]) if len(shown) > 1 else 1
    _token_axis(fig, tokens, shown, title="token" if stride == 1 else f"token (every {stride}th step of {len(tokens)})")
    return apply_theme(fig, title=title, height=int(min(900, max(260, 12 * len(chosen) + 140))))


def gates_figure(
    series: dict[str, np.ndarray],
    tokens: Sequence[str],
    units: Sequence[int],
    *,
    max_steps: int = MAX_STEPS,
) -> go.Figure:
    """Small multiples: one panel per gate (and the cell and hidden state), one line per chosen unit.

    Args:
        series: name -> ``(T, H)``, e.g. :meth:`playground.inspection.rnn.states.LayerStates.series`
            (``input``, ``forget``, ``candidate``, ``output``, ``cell_state``, ``hidden_state``).
        tokens: T tokens.
        units: the units to draw (one colour each, the same in every panel); at least one.
        max_steps: draw at most this many steps.

    Raises:
        ValueError: no series, no units, or shapes that do not line up.
    """
    if not series:
        raise ValueError("expected at least one series (a gate or a state), got none")
    arrays = {name: _check_states(v, tokens) for name, v in series.items()}
    hidden = next(iter(arrays.values())).shape[1]
    chosen = check_indices(units, hidden, "unit")
    shown = drawn_steps(len(tokens), max_steps)
    names = list(arrays)
    fig = make_subplots(
        rows=len(names),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=min(0.06, 0.3 / len(names)),
        subplot_titles=[SERIES_TITLES.get(n, n) for n in names],
    )
    hover_tokens = [display_token(tokens[int(t)], 40) for t in shown]
    for row, name in enumerate(names, start=1):
        arr = arrays[name]
        for k, unit in enumerate(chosen):
            fig.add_trace(
                go.Scatter(
                    x=shown,
                    y=arr[shown, unit],
                    mode="lines",
                    name=f"unit {unit}",
                    legendgroup=str(unit),
                    showlegend=row == 1,
                    line={"color": PALETTE[k % len(PALETTE)], "width": LINE_WIDTH},
                    customdata=hover_tokens,
                    hovertemplate=f"unit {unit} · step %{{x}} · %{{customdata}}: %{{y:.3f}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        fixed = SERIES_RANGE.get(name)
        lo, hi = _range(arr[:, chosen], fixed)
        pad = 0.05 * (hi - lo)
        fig.update_yaxes(range=[lo - pad, hi + pad], row=row, col=1)
    _token_axis(fig, tokens, shown, row=len(names), col=1)
    fig.update_annotations(font_size=LABEL_FONT_SIZE)
    return apply_theme(fig, height=150 * len(names) + 120)


def units_figure(
    values: np.ndarray,
    tokens: Sequence[str],
    units: Sequence[int],
    *,
    title: str | None = None,
    max_steps: int = MAX_STEPS,
) -> go.Figure:
    """Chosen units over the tokens (the unit explorer): one line per unit.

    Args:
        values: ``(T, H)`` states.
        tokens: T tokens.
        units: units to draw; at least one.

    Raises:
        ValueError: as :func:`states_heatmap`.
    """
    arr = _check_states(values, tokens)
    chosen = check_indices(units, arr.shape[1], "unit")
    shown = drawn_steps(arr.shape[0], max_steps)
    hover_tokens = [display_token(tokens[int(t)], 40) for t in shown]
    fig = go.Figure()
    for k, unit in enumerate(chosen):
        fig.add_trace(
            go.Scatter(
                x=shown,
                y=arr[shown, unit],
                mode="lines+markers" if len(shown) <= 80 else "lines",
                name=f"unit {unit}",
                line={"color": PALETTE[k % len(PALETTE)], "width": LINE_WIDTH},
                customdata=hover_tokens,
                hovertemplate=f"unit {unit} · step %{{x}} · %{{customdata}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": GUIDE_GREY, "width": THIN_LINE_WIDTH})
    _token_axis(fig, tokens, shown)
    fig.update_yaxes(title="value")
    return apply_theme(fig, title=title, height=360)


def trajectory_figure(
    points: np.ndarray,
    tokens: Sequence[str],
    explained_variance_ratio: Sequence[float] | None = None,
    *,
    title: str | None = None,
    label_limit: int = 60,
) -> go.Figure:
    """The hidden-state trajectory projected to 2-D (PCA), coloured by time step, tokens as labels.

    Args:
        points: ``(T, 2)`` coordinates (:class:`playground.inspection.rnn.projection.Trajectory`).
        tokens: T tokens; written beside the points when T <= ``label_limit`` (always in the hover).
        explained_variance_ratio: share of variance of each component, for the axis titles.

    Raises:
        ValueError: points that are not ``(T, 2)`` or tokens of another length.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 1:
        raise ValueError(f"expected (T, 2) points, got shape {pts.shape}")
    if len(tokens) != pts.shape[0]:
        raise ValueError(f"expected {pts.shape[0]} tokens, got {len(tokens)}")
    steps = np.arange(pts.shape[0])
    labels = [display_token(t, 40) for t in tokens]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=pts[:, 0],
            y=pts[:, 1],
            mode="lines",
            line={"color": PATH_GREY, "width": THIN_LINE_WIDTH},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=pts[:, 0],
            y=pts[:, 1],
            mode="markers+text" if len(tokens) <= label_limit else "markers",
            text=[display_token(t) for t in tokens] if len(tokens) <= label_limit else None,
            textposition="top center",
            customdata=np.stack([steps, np.array(labels, dtype=object)], axis=-1),
            marker={
                "color": steps,
                "colorscale": SEQUENTIAL,
                "size": MARKER_SIZE,
                "line": {
                    "color": GUIDE_GREY,
                    "width": 1,
                },  # Viridis' first steps are near-black: visible on a dark theme
                "colorbar": {"title": "step", "thickness": COLORBAR_THICKNESS},
            },
            hovertemplate="step %{customdata[0]} · %{customdata[1]}<extra></extra>",
        )
    )
    ratio: list[float | None] = (
        [float(r) for r in explained_variance_ratio] if explained_variance_ratio is not None else [None, None]
    )
    for axis, r, name in ((fig.update_xaxes, ratio[0], "PC 1"), (fig.update_yaxes, ratio[1], "PC 2")):
        axis(title=f"{name} ({r:.0%} of variance)" if r is not None else name)
    fig.update_layout(showlegend=False)
    return apply_theme(fig, title=title, height=460)


def prefix_figure(
    probs: np.ndarray, tokens: Sequence[str], labels: Sequence[str], *, title: str | None = None, max_classes: int = 10
) -> go.Figure:
    """Class probabilities after each prefix: one line per class (the ``max_classes`` most probable at the end).

    Args:
        probs: ``(T, K)`` probabilities (:func:`playground.inspection.rnn.prefixes.prefix_probabilities`).
        tokens: T tokens; step t is "after reading tokens 0..t".
        labels: K class names (escaped here).

    Raises:
        ValueError: shapes that do not line up.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != len(tokens) or p.shape[1] != len(labels):
        raise ValueError(f"expected ({len(tokens)}, {len(labels)}) probabilities, got shape {p.shape}")
    shown = drawn_steps(p.shape[0])
    keep = np.argsort(-p[-1], kind="stable")[:max_classes]
    hover_tokens = [display_token(tokens[int(t)], 40) for t in shown]
    fig = go.Figure()
    for k, c in enumerate(keep):
        name = html.escape(str(labels[int(c)]))
        fig.add_trace(
            go.Scatter(
                x=shown,
                y=p[shown, c],
                mode="lines+markers" if len(shown) <= 80 else "lines",
                name=name,
                line={"color": PALETTE[k % len(PALETTE)], "width": LINE_WIDTH},
                customdata=hover_tokens,
                hovertemplate=f"{name} after step %{{x}} (%{{customdata}}): %{{y:.1%}}<extra></extra>",
            )
        )
    _token_axis(fig, tokens, shown, title="after reading up to this token")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title="probability")
    return apply_theme(fig, title=title, height=360)


def _color(value: float, lo: float, hi: float) -> str:
    """A translucent colour (no colour at 0, so it reads on light and dark themes): blue (lo) – red (hi); or
    green growing from ``lo`` for ``lo >= 0``."""
    if lo >= 0.0:
        a = 0.0 if hi <= lo else min(1.0, max(0.0, (value - lo) / (hi - lo)))
        colour = GREEN
    else:
        bound = max(abs(lo), abs(hi)) or 1.0
        a = min(1.0, abs(value) / bound)
        colour = RED if value >= 0 else BLUE
    r, g, b = rgb(colour)
    return f"rgba({r}, {g}, {b}, {a:.3f})"


def colored_tokens_html(
    tokens: Sequence[str], values: Sequence[float] | np.ndarray, value_range: tuple[float, float] = (-1.0, 1.0)
) -> str:
    """Tokens as HTML spans whose background is a unit's value at that step (LSTMVis / Karpathy style).

    Every token is ``html.escape``-d; nothing the user typed reaches the page unescaped. Whitespace
    tokens show as ``␣`` / ``↵``.

    Args:
        tokens: T tokens.
        values: T values of one unit.
        value_range: ``(lo, hi)``; red for positive, blue for negative (no colour at 0), or none to
            green for a range that starts at 0 (gates).

    Returns:
        An HTML string (a ``<div>`` of ``<span>``), safe to render.

    Raises:
        ValueError: values of another length than the tokens.
    """
    vals = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(vals) != len(tokens):
        raise ValueError(f"expected {len(tokens)} values, one per token, got {len(vals)}")
    lo, hi = value_range
    spans = []
    for t, (token, v) in enumerate(zip(tokens, vals, strict=True)):
        shown = html.escape(token.replace("\n", "↵"), quote=True) if token.strip() else "␣" * max(1, len(token))
        spans.append(
            f'<span title="step {t}: {v:.3f}" style="background:{_color(float(v), lo, hi)};'
            f'padding:2px 1px;border-radius:3px;white-space:pre">{shown}</span>'
        )
    return (
        '<div style="font-family:monospace;font-size:1.05rem;line-height:2.1;word-break:break-word">'
        + "&#8203;".join(spans)  # zero-width space: lets long token runs wrap
        + "</div>"
    )
