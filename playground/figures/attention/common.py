"""Checks and token axes shared by the attention figures.

Tokens repeat ("the" twice), so every token axis is numeric (positions) with the tokens as tick
labels, escaped by :func:`~playground.figures.helpers.display_token`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from playground.figures.helpers import display_token

ArrayLike = torch.Tensor | np.ndarray
MAX_TICKS = 64  # token labels on an axis at most (every k-th beyond)
#: Cells up to which a heatmap's hover names both tokens (one string per cell); beyond, positions only.
HOVER_TOKEN_CELLS = 128 * 128


def float32_array(values: ArrayLike | Sequence[float], ndim: int, what: str) -> np.ndarray:
    """A float32 numpy copy of ``values`` with ``ndim`` dimensions (plotly sends float32 as binary)."""
    if isinstance(values, torch.Tensor):
        array = values.detach().to("cpu", torch.float32).numpy()
    else:
        array = np.asarray(values, dtype=np.float32)
    if array.ndim != ndim:
        raise ValueError(f"expected {what}, got shape {tuple(array.shape)}")
    return np.ascontiguousarray(array, dtype=np.float32)


def check_tokens(tokens: Sequence[str], count: int, what: str) -> None:
    """Raise ``ValueError`` unless there are ``count`` tokens, one per position."""
    if len(tokens) != count:
        raise ValueError(f"expected {count} {what}, one per position, got {len(tokens)}")


def check_window(window: tuple[int, int] | None, count: int, default: int | None = None) -> tuple[int, int]:
    """``(start, stop)`` checked against ``count`` positions; ``None``: all, or the first ``default``."""
    if window is None:
        return 0, count if default is None else min(count, default)
    start, stop = int(window[0]), int(window[1])
    if not 0 <= start < stop <= count:
        raise ValueError(f"window must satisfy 0 <= start < stop <= {count}, got ({start}, {stop})")
    return start, stop


def token_ticks(positions: np.ndarray, tokens: Sequence[str]) -> dict[str, Any]:
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


def token_label(tokens: Sequence[str], i: int) -> str:
    """``"cat #2"``: the token (escaped, cut to 24 characters) and its position, for hovers and titles."""
    return f"{display_token(tokens[i], 24)} #{i}"
