"""Plotly figures: pure functions, data in, figure out (no Streamlit, no state).

In the manner of BertViz's ``head_view``: a view is a function that returns its rendering.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import sample_colorscale, unlabel_rgb
from plotly.subplots import make_subplots

from playground.figures.helpers import epoch_axes, plain_label, png_data_uri
from playground.figures.theme import (
    BLUE,
    COUNTS,
    GREEN,
    IMAGE_MARGIN,
    LINE_WIDTH,
    MARKER_SIZE,
    ORANGE,
    PALETTE,
    RED,
    SMALL_FONT_SIZE,
    apply_theme,
    rgba,
)
from playground.inspection.predict import TopK

CAPTION_PX = 16  # pixels above each image of an image grid for its caption


def to_display(pixels: torch.Tensor) -> np.ndarray:
    """Channels-first pixels to the channels-last array ``st.image`` and :func:`image_grid` take.

    Args:
        pixels: ``(C, H, W)`` or ``(N, C, H, W)``, float in ``[0, 1]`` or uint8 in ``[0, 255]``, C in {1, 3}.

    Returns:
        ``(H, W)`` / ``(N, H, W)`` for one channel, ``(H, W, 3)`` / ``(N, H, W, 3)`` for RGB; float32 in ``[0, 1]``.

    Raises:
        ValueError: for other shapes.
    """
    if pixels.ndim not in (3, 4) or pixels.shape[-3] not in (1, 3):
        raise ValueError(f"expected (C, H, W) or (N, C, H, W) pixels with 1 or 3 channels, got {tuple(pixels.shape)}")
    x = pixels.detach().cpu()
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = x.clamp(0.0, 1.0).movedim(-3, -1)  # (..., H, W, C)
    return (x[..., 0] if x.shape[-1] == 1 else x).numpy()


def topk_bar(top_k: Sequence[TopK], title: str | None = None) -> go.Figure:
    """Horizontal bars of the top-k probabilities, most probable on top."""
    labels = [plain_label(t.label) for t in top_k][::-1]
    probs = [t.probability for t in top_k][::-1]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=labels,
            orientation="h",
            text=[f"{p:.1%}" for p in probs],
            textposition="outside",
            textangle=0,
            cliponaxis=False,
            marker_color=BLUE,
        )
    )
    fig.update_xaxes(range=[0, 1.12], tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1], title="probability")
    fig.update_yaxes(type="category")  # labels such as "7" are names, not numbers
    return apply_theme(fig, title=title, height=max(220, 48 * len(labels) + 80))


def training_curves(
    history: Sequence[dict[str, Any]],
    batch_losses: Sequence[tuple[int, float]] = (),
    steps_per_epoch: int | None = None,
) -> go.Figure:
    """Loss and accuracy, train and validation, per epoch; batch losses as a faint line.

    Args:
        history: per-epoch dicts with ``epoch``, ``train_loss``, ``val_loss``, ``train_accuracy``,
            ``val_accuracy``.
        batch_losses: ``(global_step, loss)`` pairs, shown at fractional epochs
            ``step / steps_per_epoch`` (so the live curve moves before the first epoch ends).
        steps_per_epoch: batches per epoch; batch losses are hidden without it.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    if batch_losses and steps_per_epoch:
        steps, losses = zip(*batch_losses, strict=True)
        fig.add_trace(
            # SVG, not WebGL (Scattergl): at most five points a second, and a browser without a GPU
            # draws WebGL in software; redrawn every second by the live view, that took the CPU
            # the training run needed (measured by bench/bench_app.py)
            go.Scatter(
                x=[s / steps_per_epoch for s in steps],
                y=list(losses),
                mode="lines",
                name="batch loss",
                # the live curve before the first epoch ends: readable on a projector, lighter than the epochs' lines
                line={"color": rgba(BLUE, 0.6), "width": LINE_WIDTH},
            ),
            row=1,
            col=1,
        )
    epochs = [h["epoch"] for h in history]
    styles = {"train": (BLUE, "solid"), "val": (ORANGE, "dash")}
    for part, (color, dash) in styles.items():
        for col, metric in ((1, "loss"), (2, "accuracy")):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[h[f"{part}_{metric}"] for h in history],
                    mode="lines+markers",
                    name=f"{part} {metric}",
                    line={"color": color, "dash": dash},
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(rangemode="tozero")
    epoch_axes(fig, max(epochs, default=0))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    return apply_theme(fig, height=380)


def confusion_matrix_figure(confusion: np.ndarray, labels: Sequence[str], normalize: bool = True) -> go.Figure:
    """Heatmap of a ``(K, K)`` confusion matrix (rows: true class, columns: predicted).

    Args:
        confusion: counts, int.
        labels: ``K`` class names (plain text, escaped here).
        normalize: colour by row share (recall) and print counts.
    """
    labels = [plain_label(label) for label in labels]
    counts = np.asarray(confusion)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    z = share if normalize else counts
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(labels),
            y=list(labels),
            text=counts,
            texttemplate="%{text}" if len(labels) <= 20 else None,
            colorscale=COUNTS,
            colorbar={"title": {"text": "share of<br>true class" if normalize else "count"}},
            hovertemplate="true %{y}<br>predicted %{x}<br>count %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title="true class", type="category")
    fig.update_xaxes(title="predicted class", type="category")
    return apply_theme(fig, title="confusion matrix (validation)", height=max(360, 28 * len(labels) + 140))


def per_class_bar(values: np.ndarray, labels: Sequence[str], title: str, as_percent: bool = True) -> go.Figure:
    """One bar per class (accuracy, counts, ...); ``labels`` are plain text (escaped here)."""
    fig = go.Figure(go.Bar(x=[plain_label(label) for label in labels], y=list(values), marker_color=GREEN))
    fig.update_xaxes(type="category")
    if as_percent:
        fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return apply_theme(fig, title=title, height=320)


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    cols: int = 8,
    colorscale: str = "gray",
    zmin: float | None = None,
    zmax: float | None = None,
    cell_px: int = 110,
    per_image: bool = False,
    symmetric: bool = False,
    colorbar: str | None = None,
) -> go.Figure:
    """A grid of small images, drawn as one mosaic: a single heatmap (or image) trace.

    One trace, not a subplot per image: a browser lays out and paints 96 subplots in seconds
    (the Filters page's 64 filters and 32 feature maps took 2–4 s in Chromium), one mosaic in a
    fraction of that. The images are separated by transparent gaps; each caption sits above its
    image. Single-channel images on one scale show their value on hover.

    Args:
        images: ``(N, H, W)`` single-channel (drawn with ``colorscale``) or ``(N, H, W, 3)`` RGB in ``[0, 1]``.
        titles: ``N`` captions, plain text (escaped here: they hold class names).
        cols: images per row.
        zmin, zmax: one colour range for all single-channel images (default: the grid's own min/max).
        cell_px: height of one row (image and caption) in pixels.
        per_image: colour each single-channel image by its own range (its min to its max), so a weak
            map shows its pattern instead of a flat colour; the colour bar then reads "min"/"max".
        symmetric: ranges centred on 0 (``[-max|x|, max|x|]``): signed values such as weights, with a
            diverging ``colorscale`` whose middle colour is 0.
        colorbar: title of a colour bar beside the grid (None: no bar).

    Returns:
        A figure whose first trace is the mosaic (a heatmap, or an image for RGB and ``per_image``
        grids), with a second, empty trace carrying the colour bar of a ``per_image`` grid that has
        one; ``layout.annotations`` holds the ``N`` captions in order.

    Raises:
        ValueError: for an empty array, the wrong number of dimensions, or ``titles`` of another length.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0 or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"expected (N, H, W) or (N, H, W, 3) images, got shape {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"expected {len(images)} titles, got {len(titles)}")
    n, h, w = images.shape[:3]
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    gap = max(1, round(0.06 * max(h, w)))  # data pixels between images
    # a band above each row for its captions, ~CAPTION_PX of the row's cell_px pixels
    caption = math.ceil((h + gap) * CAPTION_PX / max(cell_px - CAPTION_PX, 1)) if titles is not None else 0
    step_x, step_y = w + gap, h + gap + caption
    height, width = rows * step_y - gap, cols * step_x - gap

    def place(mosaic: np.ndarray, i: int, image: np.ndarray) -> None:
        r, c = divmod(i, cols)
        top, left = r * step_y + caption, c * step_x
        mosaic[top : top + h, left : left + w] = image

    if images.ndim == 4:
        mosaic = np.zeros((height, width, 4), np.uint8)  # RGBA, transparent gaps
        for i in range(n):
            place(mosaic, i, np.concatenate([np.clip(images[i], 0, 1) * 255, np.full((h, w, 1), 255)], axis=-1))
        traces = [go.Image(source=png_data_uri(mosaic), hoverinfo="skip")]
    else:
        traces = _grid_traces(images, (height, width), place, colorscale, (zmin, zmax), per_image, symmetric, colorbar)
    captions = [
        {
            "x": (i % cols) * step_x + (w - 1) / 2,
            "y": (i // cols) * step_y + caption - 0.5,  # the top edge of the image; the caption sits above it
            "text": plain_label(title),
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"size": SMALL_FONT_SIZE},
        }
        for i, title in enumerate(titles or [])
    ]
    fig = go.Figure(traces, layout={"annotations": captions})  # one layout validation, not one per caption
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    # square pixels: the y scale is tied to the x scale (a heatmap otherwise stretches)
    fig.update_yaxes(visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain")
    return apply_theme(fig, height=rows * cell_px + 8, margin={**IMAGE_MARGIN, "t": 8})


def _range(x: np.ndarray, symmetric: bool) -> tuple[float, float]:
    """The finite min and max of ``x`` (``[-m, m]`` with ``m = max|x|`` when ``symmetric``); (0, 1) if none."""
    finite = x[np.isfinite(x)]
    if not finite.size:
        return 0.0, 1.0
    if symmetric:
        m = float(np.abs(finite).max())
        return -m, m
    return float(finite.min()), float(finite.max())


def _grid_traces(
    images: np.ndarray,
    shape: tuple[int, int],
    place: Callable[[np.ndarray, int, np.ndarray], None],
    colorscale: str,
    zrange: tuple[float | None, float | None],
    per_image: bool,
    symmetric: bool,
    colorbar: str | None,
) -> list[go.BaseTraceType]:
    """The traces of :func:`image_grid` for ``(N, H, W)`` images laid out by ``place`` in a mosaic of
    ``shape`` ``(height, width)``: on one range, a heatmap of the values with NaN gaps (the hover
    shows each); each on its own range, one indexed PNG (a level of a scaled map means nothing on
    its own, so there is nothing to hover) and an empty trace that carries the colour bar."""
    bar: dict[str, Any] = {"title": {"text": colorbar, "side": "right"}, "thickness": 14}
    if not per_image:
        lo, hi = _range(images, symmetric)
        lo = zrange[0] if zrange[0] is not None else lo
        hi = zrange[1] if zrange[1] is not None else hi
        values = np.full(shape, np.nan, np.float32)  # NaN gaps
        for i, image in enumerate(images):
            place(values, i, image)
        heatmap = go.Heatmap(
            z=values,
            colorscale=colorscale,
            zmin=lo,
            zmax=hi,
            showscale=colorbar is not None,
            colorbar=bar,
            hoverongaps=False,
            hovertemplate="%{z:.3g}<extra></extra>",
        )
        return [heatmap]
    # Level 0 is a gap, 1..255 the image's own min..max: a byte is all a colour needs. The levels go
    # to the browser as one PNG, not as a heatmap's z: 32 maps of 112×112 are ~0.2 MB to decode and
    # one image to paint, where a heatmap's 400k cells took most of a Filters redraw.
    levels = np.zeros(shape, np.uint8)
    for i, image in enumerate(images):
        lo, hi = _range(image, symmetric)
        place(levels, i, 1 + np.rint(254 * np.clip((image - lo) / max(hi - lo, 1e-12), 0, 1)))  # (H, W) in 1..255
    traces: list[go.BaseTraceType] = [
        go.Image(source=png_data_uri(levels, colour_levels(colorscale)), hoverinfo="skip")
    ]
    if colorbar is not None:
        ticks = ["−max |x|", "0", "+max |x|"] if symmetric else ["its min", "its max"]
        bar.update(tickvals=np.linspace(1, 255, len(ticks)).tolist(), ticktext=ticks)
        marker = {"color": [1], "colorscale": colorscale, "cmin": 1, "cmax": 255, "showscale": True, "colorbar": bar}
        # no point drawn: the trace is there for its colour bar
        traces.append(go.Scatter(x=[None], y=[None], mode="markers", marker=marker, hoverinfo="skip", showlegend=False))
    return traces


def colour_levels(colorscale: str | Sequence[Any]) -> np.ndarray:
    """The RGBA colour of each level of a per-image grid: ``(256, 4)`` uint8; level 0 transparent,
    levels 1..255 the ``colorscale`` (a plotly name or ``[[position, colour], ...]``) from its start to its end."""
    colours = sample_colorscale(colorscale, np.linspace(0, 1, 255).tolist())  # "rgb(r, g, b)" strings
    table = np.zeros((256, 4), np.uint8)
    table[1:, :3] = np.rint([unlabel_rgb(colour) for colour in colours])
    table[1:, 3] = 255
    return table


def channel_stats_figure(mean: np.ndarray, maximum: np.ndarray, active_fraction: np.ndarray) -> go.Figure:
    """Per-channel mean and max activation (bars) and how often each channel fires (line)."""
    channels = np.arange(len(mean))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=channels, y=maximum, name="max", marker_color=rgba(BLUE, 0.45)))
    fig.add_trace(go.Bar(x=channels, y=mean, name="mean", marker_color=BLUE))
    fig.add_trace(
        go.Scatter(x=channels, y=active_fraction, name="share > 0", mode="lines", line={"color": RED}),
        secondary_y=True,
    )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="channel")
    fig.update_yaxes(title="activation", secondary_y=False)
    fig.update_yaxes(title="share of positions > 0", range=[0, 1], tickformat=".0%", secondary_y=True)
    return apply_theme(fig, title="per-channel activation statistics", height=340)


def class_balance_figure(counts: dict[str, Sequence[int]], labels: Sequence[str]) -> go.Figure:
    """Grouped bars of examples per class for each part (``{"train": [...], "val": [...]}``); labels escaped here."""
    fig = go.Figure()
    for part, values in counts.items():
        fig.add_trace(go.Bar(x=[plain_label(label) for label in labels], y=list(values), name=part))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(title="examples")
    return apply_theme(fig, title="class balance", height=300)


_METRIC_TITLES = {
    "accuracy": "accuracy",
    "mean_true_confidence": "mean true-class confidence",
    "flip_rate": "flip rate (prediction changed)",
}


def sweep_figure(rows: Sequence[dict[str, Any]], metric: str = "accuracy") -> go.Figure:
    """A metric against severity: one colour per perturbation, one dash style per model.

    Args:
        rows: dicts with ``model`` (optional), ``perturbation``, ``severity`` and ``metric``.
        metric: ``"accuracy"``, ``"mean_true_confidence"`` or ``"flip_rate"``.

    Raises:
        ValueError: for an unknown metric.
    """
    if metric not in _METRIC_TITLES:
        raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(_METRIC_TITLES)}")
    dashes = ["solid", "dash", "dot", "dashdot", "longdash"]
    perturbations = list(dict.fromkeys(r["perturbation"] for r in rows))
    models = list(dict.fromkeys(r.get("model", "") for r in rows))
    fig = go.Figure()
    for p_i, name in enumerate(perturbations):
        for m_i, model in enumerate(models):
            pts = sorted(
                (r for r in rows if r["perturbation"] == name and r.get("model", "") == model),
                key=lambda r: r["severity"],
            )
            if not pts:
                continue
            label = f"{name} · {model}" if len(models) > 1 else name
            fig.add_trace(
                go.Scatter(
                    x=[r["severity"] for r in pts],
                    y=[r[metric] for r in pts],
                    mode="lines+markers",
                    name=label,
                    line={"color": PALETTE[p_i % len(PALETTE)], "dash": dashes[m_i % len(dashes)]},
                )
            )
    fig.update_xaxes(title="severity", dtick=1)
    fig.update_yaxes(title=_METRIC_TITLES[metric], range=[0, 1.02], tickformat=".0%")
    return apply_theme(fig, title=f"{_METRIC_TITLES[metric]} against severity", height=380)


def robust_accuracy_figure(
    rows: Sequence[dict[str, Any]], x: str = "epsilon_255", x_title: str = "ε (1/255 of the pixel range)"
) -> go.Figure:
    """Accuracy against the attack budget ε, one line per model.

    Args:
        rows: dicts with ``model``, ``accuracy`` and the budget under the key ``x``
            (``playground.robustness.robust_curve.RobustCurve.rows``: ``epsilon_255``; an audio
            model's ``epsilon`` on the amplitude scale).
        x, x_title: the budget's key and its axis title.
    """
    fig = go.Figure()
    for i, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        pts = sorted((r for r in rows if r["model"] == model), key=lambda r: r[x])
        fig.add_trace(
            go.Scatter(
                x=[r[x] for r in pts],
                y=[r["accuracy"] for r in pts],
                mode="lines+markers",
                name=plain_label(model),
                line={"color": PALETTE[i % len(PALETTE)], "width": LINE_WIDTH},
                marker={"size": MARKER_SIZE},
            )
        )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="accuracy under attack", range=[0, 1.02], tickformat=".0%")
    return apply_theme(fig, title="Robust accuracy against the attack budget", height=380)
