"""Figures of the Train page that are not in :mod:`playground.figures.viz`: one numeric sequence."""

from __future__ import annotations

import plotly.graph_objects as go

from playground.data.base import SequenceDataset

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
