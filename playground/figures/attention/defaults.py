"""The text Attention page's default figure set, and a figure's size as the browser receives it (for the bench)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from playground.figures.attention.common import ArrayLike, float32_array
from playground.figures.attention.maps import attention_heatmap, head_summary_figure, rollout_bars
from playground.figures.attention.views import head_view, model_view
from playground.figures.helpers import check_indices
from playground.inspection.attention.summaries import HeadSummaries


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
    probs = float32_array(attention_probs, 4, "attention of shape (L, H, T, T)")
    check_indices([layer], probs.shape[0], "layer")
    check_indices([head], probs.shape[1], "head")
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
