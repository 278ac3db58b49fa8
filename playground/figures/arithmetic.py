"""Figures of one convolution and one max-pool output, number by number (the Learn page)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from playground.figures.theme import DIVERGING, LABEL_FONT_SIZE, ORANGE, SEQUENTIAL, apply_theme
from playground.inspection.arithmetic import ConvStep, PoolStep

#: Cells of a larger kernel are drawn without their numbers (they would not fit).
MAX_ANNOTATED = 7


def _cells(values: torch.Tensor, colorscale: str, symmetric: bool, show_scale: bool) -> go.Heatmap:
    """A (kH, kW) block as a heatmap with its numbers written in the cells (row 0 at the top)."""
    z = values.numpy().astype(np.float64)
    finite = z[np.isfinite(z)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    lo, hi = (-bound, bound) if symmetric else (float(finite.min(initial=0.0)), float(finite.max(initial=1.0)))
    annotated = max(z.shape) <= MAX_ANNOTATED
    return go.Heatmap(
        z=z,
        zmin=lo,
        zmax=hi if hi > lo else lo + 1.0,
        colorscale=colorscale,
        showscale=show_scale,
        texttemplate="%{z:.2f}" if annotated else None,
        textfont={"size": LABEL_FONT_SIZE},
        hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>",
        xgap=1,
        ygap=1,
    )


def conv_step_figure(step: ConvStep, in_channel: int = 0) -> go.Figure:
    """The input window, the kernel and their products for one input channel of a :class:`ConvStep`.

    Args:
        step: the recomputed output value.
        in_channel: which of the window's channels to draw (0 … ``len(step.in_channels) - 1``).

    Returns:
        Three heatmaps side by side; the title sums that channel's products.

    Raises:
        ValueError: ``in_channel`` out of range.
    """
    if not 0 <= in_channel < step.window.shape[0]:
        raise ValueError(f"in_channel must be in [0, {step.window.shape[0] - 1}], got {in_channel}")
    part = float(step.products[in_channel].sum())
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=["input window x", "kernel W", "products W · x"],
        horizontal_spacing=0.06,
    )
    fig.add_trace(_cells(step.window[in_channel], SEQUENTIAL, symmetric=False, show_scale=False), row=1, col=1)
    fig.add_trace(_cells(step.kernel[in_channel], DIVERGING, symmetric=True, show_scale=False), row=1, col=2)
    fig.add_trace(_cells(step.products[in_channel], DIVERGING, symmetric=True, show_scale=False), row=1, col=3)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    for col in (2, 3):
        fig.update_yaxes(scaleanchor=f"x{col}", row=1, col=col)
    channel = step.in_channels.start + in_channel
    title = f"input channel {channel}: the products sum to {part:.4f}"
    return apply_theme(fig, title=title, height=360)


def layer_input_figure(layer_input: torch.Tensor, top_left: tuple[int, int], size: tuple[int, int]) -> go.Figure:
    """One channel of a layer's input with the kernel's window outlined.

    Args:
        layer_input: ``(H, W)`` float32.
        top_left: the window's top-left ``(row, col)`` (negative inside the padding).
        size: the window's ``(height, width)`` in input elements (kernel size × dilation).
    """
    fig = go.Figure(
        go.Heatmap(
            z=layer_input.numpy(),
            colorscale="Greys_r",
            showscale=False,
            hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>",
        )
    )
    r, c = top_left
    fig.add_shape(
        type="rect",
        x0=c - 0.5,
        x1=c + size[1] - 0.5,
        y0=r - 0.5,
        y1=r + size[0] - 0.5,
        line={"color": ORANGE, "width": 3},
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title_text="row")
    fig.update_xaxes(title_text="column", constrain="domain")
    return apply_theme(fig, title="the layer's input, window outlined", height=360)


def pool_step_figure(step: PoolStep) -> go.Figure:
    """A max-pool window with its numbers; the largest, which the pool keeps, outlined."""
    fig = go.Figure(_cells(step.window, SEQUENTIAL, symmetric=False, show_scale=False))
    u, v = step.argmax
    fig.add_shape(type="rect", x0=v - 0.5, x1=v + 0.5, y0=u - 0.5, y1=u + 0.5, line={"color": ORANGE, "width": 4})
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False)
    fig.update_xaxes(showticklabels=False, constrain="domain")
    return apply_theme(fig, title=f"max of the window = {step.value:.4f}", height=300)
