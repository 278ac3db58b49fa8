"""Units that track a signal, and units worth drawing.

Correlating each unit with a per-step signal (position, nesting depth) follows Karpathy, Johnson &
Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks", https://arxiv.org/abs/1506.02078.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def unit_correlations(
    values: np.ndarray | Sequence[np.ndarray], signal: np.ndarray | Sequence[np.ndarray]
) -> np.ndarray:
    """Pearson correlation of every unit with a per-step signal (e.g. nesting depth, position).

    Args:
        values: ``(T, H)`` states, or a list of ``(T_i, H)`` (steps of all inputs pooled).
        signal: ``(T,)``, or a list of ``(T_i,)`` aligned with ``values``.

    Returns:
        ``(H,)`` float64 r in ``[-1, 1]``; 0 for a unit (or a signal) that never changes.

    Raises:
        ValueError: lengths that do not line up, or fewer than 2 steps.
    """
    if isinstance(values, np.ndarray | torch.Tensor):
        x = np.asarray(values, dtype=np.float64)
        y = np.asarray(signal, dtype=np.float64)
    else:
        if len(values) != len(signal):
            raise ValueError(f"expected one signal per input, got {len(values)} inputs and {len(signal)} signals")
        x = np.concatenate([np.asarray(v, dtype=np.float64) for v in values])
        y = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in signal])
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected (T, H) states and a (T,) signal, got {x.shape} and {y.shape}")
    if x.shape[0] < 2:
        raise ValueError("a correlation needs at least 2 steps")
    xc, yc = x - x.mean(axis=0), y - y.mean()
    denom = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())  # (H,)
    r = np.divide(xc.T @ yc, denom, out=np.zeros(x.shape[1]), where=denom > 0)
    return np.clip(r, -1.0, 1.0)


def top_units(correlations: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` units with the largest ``|r|``: ``[(unit, r), ...]``, strongest first.

    Raises:
        ValueError: ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    r = np.asarray(correlations, dtype=np.float64)
    order = np.argsort(-np.abs(r), kind="stable")[:k]
    return [(int(u), float(r[u])) for u in order]


def strongest_units(values: np.ndarray | torch.Tensor, k: int) -> list[int]:
    """The ``k`` units that vary most over the steps (largest variance; ties by index), ascending by index.

    Used to keep large heatmaps responsive (e.g. 64 of 512 units).

    Raises:
        ValueError: ``k < 1`` or states that are not ``(T, H)``.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected (T, H) states, got shape {arr.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    order = np.argsort(-arr.var(axis=0), kind="stable")[:k]
    return sorted(int(u) for u in order)


def step_signals(tokens: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-step signals to correlate units with: position, and nesting depth where brackets occur.

    Returns:
        name -> ``(T,)`` float64: ``"position"`` (0, 1, ...), and ``"nesting depth"`` (``(`` +1,
        ``)`` -1, counted over the tokens' characters) when a token holds a bracket.
    """
    out = {"position": np.arange(len(tokens), dtype=np.float64)}
    if any("(" in t or ")" in t for t in tokens):
        depth, values = 0, []
        for t in tokens:
            depth += t.count("(") - t.count(")")
            values.append(depth)
        out["nesting depth"] = np.asarray(values, dtype=np.float64)
    return out
