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

The modules: :mod:`~playground.figures.attention.views` (model view, head view),
:mod:`~playground.figures.attention.maps` (heatmaps, per-head summaries, rollout, image overlay),
:mod:`~playground.figures.attention.formula` (the formula recomputed), and
:mod:`~playground.figures.attention.defaults` (the page's default set, as the bench measures it).
"""

from playground.figures.attention.common import HOVER_TOKEN_CELLS, MAX_TICKS, ArrayLike
from playground.figures.attention.defaults import default_figures, figure_bytes
from playground.figures.attention.formula import FORMULA_COLUMNS, formula_figure, formula_table, formula_title
from playground.figures.attention.maps import (
    attention_heatmap,
    cross_attention_figure,
    head_summary_figure,
    image_overlay,
    rollout_bars,
)
from playground.figures.attention.views import HEAD_VIEW_WINDOW, LINK_LEVELS, head_view, model_view, pooled

__all__ = [
    "FORMULA_COLUMNS",
    "HEAD_VIEW_WINDOW",
    "HOVER_TOKEN_CELLS",
    "LINK_LEVELS",
    "MAX_TICKS",
    "ArrayLike",
    "attention_heatmap",
    "cross_attention_figure",
    "default_figures",
    "figure_bytes",
    "formula_figure",
    "formula_table",
    "formula_title",
    "head_summary_figure",
    "head_view",
    "image_overlay",
    "model_view",
    "pooled",
    "rollout_bars",
]
