"""Figures of the Train and Runs pages that are not in :mod:`playground.figures.viz`.

One numeric sequence (:func:`sequence_example_figure`) and several runs' curves side by side
(:func:`runs_comparison_figure`).
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from playground.data.base import SequenceDataset
from playground.figures.helpers import epoch_axes
from playground.figures.theme import LINE_WIDTH, PALETTE, apply_theme

MAX_SEQUENCE_FEATURES_SHOWN = 4


def sequence_example_figure(
    dataset: SequenceDataset, index: int, max_features: int = MAX_SEQUENCE_FEATURES_SHOWN
) -> go.Figure:
    """One example of a sequence dataset: its first ``max_features`` features over the time steps.

    Args:
        dataset: the dataset (``values`` is ``(N, T, F)`` float32).
        index: which example, in ``[0, N)``.
        max_features: at most this many features are drawn (one line each, named after the feature).

    Returns:
        A figure with ``min(max_features, F)`` line traces of T points; the title names the example's class.

    Raises:
        IndexError: if ``index`` is outside the dataset.
    """
    values = dataset.values[index]  # (T, F)
    shown = min(max_features, dataset.num_features)
    fig = go.Figure(
        [go.Scatter(y=values[:, f].tolist(), mode="lines", name=dataset.feature_names[f]) for f in range(shown)]
    )
    fig.update_layout(
        title=f"example {index}: {dataset.classes[int(dataset.targets[index])]} "
        f"(first {shown} of {dataset.num_features} features)",
        xaxis_title="time step",
        height=300,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return fig


def runs_comparison_figure(histories: dict[str, list[dict[str, Any]]]) -> go.Figure:
    """Several runs' curves over the epochs: validation accuracy and training loss, one colour a run.

    Args:
        histories: ``{run label: epoch records}``; a record has ``epoch`` and, for classification,
            ``val_accuracy`` and ``train_loss`` (seq2seq: ``val_sequence_accuracy``).

    Returns:
        Two panels (validation accuracy, training loss), one line per run in :data:`PALETTE` order.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("validation accuracy", "training loss"))
    for i, (label, records) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        epochs = [r["epoch"] for r in records]
        accuracy = [r.get("val_accuracy", r.get("val_sequence_accuracy")) for r in records]
        line = {"color": colour, "width": LINE_WIDTH}
        name = html.escape(label)
        fig.add_trace(
            go.Scatter(x=epochs, y=accuracy, mode="lines+markers", name=name, line=line, legendgroup=name), 1, 1
        )
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=[r.get("train_loss") for r in records],
                mode="lines+markers",
                name=name,
                line=line,
                legendgroup=name,
                showlegend=False,
            ),
            1,
            2,
        )
    epoch_axes(fig, max((r["epoch"] for records in histories.values() for r in records), default=0))
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=1)
    return apply_theme(fig, height=380)
