"""Find similar, as in LSTMVis: states of many inputs, the units "on" over a span, spans where they are on again.

Strobelt et al. 2017, "LSTMVis: A Tool for Visual Analysis of Hidden State Dynamics in Recurrent
Neural Networks", https://arxiv.org/abs/1606.07461.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from playground.core.device import model_device
from playground.inspection.rnn.states import BATCH_SIZE, Direction, StateKind, _recompute_batch, recurrent_model
from playground.modalities.sequence.preprocessing import SequencePreprocessing
from playground.modalities.text.preprocessing import TextPreprocessing

if TYPE_CHECKING:
    from playground.bundle import Bundle


@dataclass(frozen=True)
class DatasetStates:
    """One layer and direction's states for many inputs (for :func:`find_similar`).

    Attributes:
        tokens: per input, its T_i step labels.
        values: per input, ``(T_i, H)`` float32: hidden or cell states.
        kind: ``"hidden"`` or ``"cell"``.
        layer, direction: which.
    """

    tokens: list[list[str]]
    values: list[np.ndarray]
    kind: StateKind
    layer: int
    direction: Direction


@torch.no_grad()
def dataset_states(
    bundle: Bundle,
    inputs: Sequence[str] | torch.Tensor,
    layer: int = 0,
    direction: Direction = "forward",
    kind: StateKind = "hidden",
    batch_size: int = BATCH_SIZE,
) -> DatasetStates:
    """Recompute one layer and direction's states for many texts or sequences, in batches.

    Args:
        bundle: a recurrent text or numeric-sequence model.
        inputs: texts (cleaned, as datasets hold them; truncated to the model's ``max_length``), or
            ``(N, T, F)`` raw values (standardized here).
        layer, direction: which states to keep.
        kind: ``"hidden"`` (``h_t``) or ``"cell"`` (``c_t``, LSTM only).
        batch_size: inputs per batch.

    Raises:
        ValueError: not a recurrent model, no inputs, a layer / direction / kind the model lacks,
            or inputs of the wrong kind for the model.
    """
    model = recurrent_model(bundle.model).eval()
    if kind not in ("hidden", "cell"):
        raise ValueError(f"kind must be 'hidden' or 'cell', got {kind!r}")
    if kind == "cell" and model.cell != "lstm":
        raise ValueError(f"only an LSTM has a cell state; this model is a {model.cell}")
    if not 0 <= layer < model.rnn.num_layers:
        raise ValueError(f"layer must be in [0, {model.rnn.num_layers - 1}], got {layer}")
    if direction == "reverse" and not model.rnn.bidirectional:
        raise ValueError("this model is not bidirectional: it has no reverse direction")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = len(inputs)
    if n == 0:
        raise ValueError("expected at least one input, got none")
    device = model_device(model)
    tokens: list[list[str]] = []
    values: list[np.ndarray] = []
    key = "hidden_state" if kind == "hidden" else "cell_state"
    for start in range(0, n, batch_size):
        if isinstance(bundle.preprocessing, TextPreprocessing):
            if isinstance(inputs, torch.Tensor):
                raise ValueError("a text model takes texts, got a tensor")
            ids, lengths = bundle.preprocessing.encode_batch(list(inputs[start : start + batch_size]))  # (B, T)
            embedded, _ = model.embed(ids.to(device))  # (B, T, E)
            tokens.extend(bundle.preprocessing.tokens_of(row[: int(k)]) for row, k in zip(ids, lengths, strict=True))
        elif isinstance(bundle.preprocessing, SequencePreprocessing):
            if not isinstance(inputs, torch.Tensor) or inputs.ndim != 3:
                raise ValueError("a numeric-sequence model takes an (N, T, F) tensor of values")
            chunk = bundle.preprocessing.normalize(inputs[start : start + batch_size])  # (B, T, F)
            embedded, lengths = model.embed(chunk.to(device))
            tokens.extend([f"t{t}" for t in range(chunk.shape[1])] for _ in range(chunk.shape[0]))
        else:
            raise ValueError(f"this needs a text or numeric-sequence model, got {bundle.modality}")
        for lay, dire, _, states in _recompute_batch(model.rnn, embedded.float().cpu(), lengths.cpu(), False, layer):
            if lay == layer and dire == direction:
                values.extend(
                    states[key][b, : int(k)].to(torch.float32).numpy() for b, k in enumerate(lengths.tolist())
                )
    return DatasetStates(tokens, values, kind, layer, direction)


# ---------------------------------------------------------------------------------- find similar (LSTMVis)


def select_units(values: np.ndarray | torch.Tensor, start: int, end: int, threshold: float) -> list[int]:
    """The units that are "on" (``>= threshold``) at every step of ``[start, end)``: LSTMVis's selection.

    Args:
        values: ``(T, H)`` hidden (or cell) states.
        start, end: the span, ``0 <= start < end <= T``.
        threshold: the on-threshold ℓ (LSTMVis's default is 0.3 on tanh values).

    Returns:
        Unit indices, ascending.

    Raises:
        ValueError: a span out of range or empty.
    """
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise ValueError(f"expected (T, H) states, got shape {arr.shape}")
    if not 0 <= start < end <= arr.shape[0]:
        raise ValueError(f"expected a span 0 <= start < end <= {arr.shape[0]}, got [{start}, {end})")
    return np.flatnonzero((arr[start:end] >= threshold).all(axis=0)).tolist()


@dataclass(frozen=True)
class SpanMatch:
    """A span of another input where the selected units are on (one row of LSTMVis's match view).

    Attributes:
        index: which input (position in the list searched).
        start, end: the span ``[start, end)`` in its steps.
        matched: selected units on over the whole span, ``|S ∩ C|``.
        extra: other units on over the whole span, ``|C \\ S|``.
        score: Jaccard index ``|S ∩ C| / |S ∪ C|`` in ``[0, 1]``.
        tokens: the span's tokens.
        before, after: up to ``context`` tokens around it.
    """

    index: int
    start: int
    end: int
    matched: int
    extra: int
    score: float
    tokens: list[str]
    before: list[str]
    after: list[str]

    @property
    def length(self) -> int:
        """``end - start``."""
        return self.end - self.start


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[start, end)`` where ``mask`` (1-D bool) is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def find_similar(
    values: Sequence[np.ndarray],
    units: Sequence[int],
    threshold: float,
    tokens: Sequence[Sequence[str]] | None = None,
    *,
    min_length: int = 2,
    top_k: int = 20,
    context: int = 5,
) -> list[SpanMatch]:
    """Spans where the selected units are on together, ranked as LSTMVis ranks them.

    Following LSTMVis (Strobelt et al. 2017, https://arxiv.org/abs/1606.07461, section 5; and its
    ``query_similar_activations``): for ``k = |S|`` down to 1, every maximal run of at least
    ``min_length`` steps where at least ``k`` of the selected units S are on (``>= threshold``) is a
    candidate; for each candidate, C is the set of ALL units on at every step of it. Candidates are
    ranked by the most selected units matched ``|S ∩ C|``, then the fewest units in ``|S ∪ C|``
    (fewest extra units), then the longest span.

    Args:
        values: per input, ``(T_i, H)`` states (e.g. :attr:`DatasetStates.values`).
        units: the selected units S (e.g. from :func:`select_units`); at least one.
        threshold: the on-threshold ℓ.
        tokens: per input, its T_i tokens (for the snippets); default ``"t0"``, ...
        min_length: shortest span, >= 1.
        top_k: how many matches to return, >= 1.
        context: tokens shown before and after each span.

    Returns:
        At most ``top_k`` :class:`SpanMatch`, best first.

    Raises:
        ValueError: no units, a unit out of range, ``min_length`` or ``top_k`` < 1.
    """
    selected = sorted({int(u) for u in units})
    if not selected:
        raise ValueError("select at least one unit to search for")
    if min_length < 1 or top_k < 1:
        raise ValueError(f"min_length and top_k must be at least 1, got {min_length} and {top_k}")
    if tokens is not None and len(tokens) != len(values):
        raise ValueError(f"expected tokens for each of the {len(values)} inputs, got {len(tokens)}")
    found: dict[tuple[int, int, int], tuple[int, int]] = {}
    for index, arr in enumerate(values):
        arr = np.asarray(arr)
        if arr.ndim != 2 or (selected and selected[-1] >= arr.shape[1]):
            raise ValueError(f"input {index}: expected (T, H) states with H > {selected[-1]}, got {arr.shape}")
        on: np.ndarray = np.asarray(arr >= threshold)  # (T, H) bool
        count = on[:, selected].sum(axis=1)  # (T,) selected units on at each step
        for k in range(len(selected), 0, -1):
            for start, end in _runs(count >= k):
                if end - start < min_length or (index, start, end) in found:
                    continue
                all_on: np.ndarray = np.asarray(on[start:end].all(axis=0))  # (H,) the set C
                inter = int(all_on[selected].sum())
                union = int(all_on.sum()) + len(selected) - inter
                found[(index, start, end)] = (inter, union)
    ranked = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[1][1], -(kv[0][2] - kv[0][1]), kv[0]))
    out = []
    for (index, start, end), (inter, union) in ranked[:top_k]:
        toks = list(tokens[index]) if tokens is not None else [f"t{t}" for t in range(len(values[index]))]
        out.append(
            SpanMatch(
                index=index,
                start=start,
                end=end,
                matched=inter,
                extra=union - len(selected),
                score=inter / union if union else 0.0,
                tokens=toks[start:end],
                before=toks[max(0, start - context) : start],
                after=toks[end : end + context],
            )
        )
    return out
