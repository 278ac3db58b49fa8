"""The article's ``softmax(q K^T / sqrt(d_k))`` for one query, recomputed and checked against the model.

Vaswani et al. 2017, "Attention Is All You Need", section 3.2.1, https://arxiv.org/abs/1706.03762.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from playground.figures.attention.common import check_tokens, token_label, token_ticks
from playground.figures.helpers import display_token
from playground.figures.theme import BLUE, GREEN, LABEL_FONT_SIZE, ORANGE, RED, apply_theme
from playground.inspection.attention.formula import AttentionFormula


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
    check_tokens(tokens, t, "tokens")
    x = np.arange(t)
    labels = [token_label(tokens, i) for i in range(t)]
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
            marker_color=np.where(scores >= 0, RED, BLUE),
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
            marker_color=GREEN,
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
            marker={"symbol": "line-ew-open", "size": 14, "line": {"width": 3, "color": ORANGE}, "color": ORANGE},
            hovertemplate="%{customdata}: %{y:.4f}<extra>model</extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_xaxes(**token_ticks(x, tokens), tickangle=-60 if t > 12 else 0, row=2, col=1)
    fig.update_yaxes(title="score", row=1, col=1)
    fig.update_yaxes(title="probability", rangemode="tozero", row=2, col=1)
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, bargap=0.15)
    fig.update_annotations(font_size=LABEL_FONT_SIZE)
    return apply_theme(fig, title=formula_title(formula, tokens), height=560)


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
    check_tokens(tokens, len(arrays["scores"]), "tokens")
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
