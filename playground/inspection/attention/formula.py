"""The article's ``Attention(Q, K, V) = softmax(QK^T / sqrt(d_k)) V`` with a model's real numbers.

For one layer, head and query token, :func:`attention_formula` recomputes the row of attention
probabilities from the layer's input and its query / key weights, step by step: the query vector
``q_i``, the keys ``k_j``, the scaled dot products ``q_i . k_j / sqrt(d_k)``, and their softmax; and
compares it with the row the model itself produced. Vaswani et al. 2017, section 3.2.1,
https://arxiv.org/abs/1706.03762. Computed in float64 so the comparison measures the model, not
rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from playground.models.attention import AttentionOutput, QueryKey

FORMULA_TOLERANCE = 1e-5  # max |recomputed - model| accepted as "the same" (float32 model)


@dataclass(frozen=True)
class AttentionFormula:
    """One attention row, recomputed.

    Attributes:
        layer: the layer (0-based).
        head: the head (0-based).
        query_index: i, the query token's position.
        query: ``(d_k,)`` float64, ``q_i`` for this head.
        keys: ``(T, d_k)`` float64, ``k_j`` for every key position.
        scores: ``(T,)`` float64, ``q_i . k_j / sqrt(d_k)``; ``-inf`` at masked keys.
        probs: ``(T,)`` float64, ``softmax(scores)``: the recomputed row.
        model_probs: ``(T,)`` float64, the row the model returned.
        scale: ``sqrt(d_k)``.
    """

    layer: int
    head: int
    query_index: int
    query: torch.Tensor
    keys: torch.Tensor
    scores: torch.Tensor
    probs: torch.Tensor
    model_probs: torch.Tensor
    scale: float

    @property
    def max_abs_diff(self) -> float:
        """``max_j |probs_j - model_probs_j|``."""
        return float((self.probs - self.model_probs).abs().max())

    @property
    def matches(self) -> bool:
        """Whether the recomputation equals the model's row within :data:`FORMULA_TOLERANCE`."""
        return self.max_abs_diff <= FORMULA_TOLERANCE


def attention_formula(
    output: AttentionOutput,
    query_key: QueryKey,
    *,
    layer: int,
    head: int,
    query_index: int,
    batch_index: int = 0,
    causal: bool = False,
) -> AttentionFormula:
    """Recompute one row of a layer's self-attention from its input and weights.

    Args:
        output: a forward pass with attention (its ``attention_inputs`` and ``attentions``).
        query_key: that layer's projections (``model.query_key(layer)``).
        layer: which layer.
        head: which head.
        query_index: which query position i.
        batch_index: which example of the batch.
        causal: mask keys after ``query_index`` (decoder self-attention).

    Returns:
        :class:`AttentionFormula`.

    Raises:
        ValueError: the output holds no layer inputs, or an index is out of range.
    """
    if not output.attention_inputs:
        raise ValueError("this forward pass did not record the attention layers' inputs")
    layers = len(output.attentions)
    if not 0 <= layer < layers:
        raise ValueError(f"layer must be in [0, {layers - 1}], got {layer}")
    if not 0 <= head < query_key.num_heads:
        raise ValueError(f"head must be in [0, {query_key.num_heads - 1}], got {head}")
    x = output.attention_inputs[layer][batch_index].detach().to("cpu", torch.float64)  # (T, C_in)
    t = x.shape[0]
    if not 0 <= query_index < t:
        raise ValueError(f"query_index must be in [0, {t - 1}], got {query_index}")
    d_k = query_key.head_dim
    cols = slice(head * d_k, (head + 1) * d_k)
    w_q, b_q = query_key.w_q.to("cpu", torch.float64)[cols], query_key.b_q.to("cpu", torch.float64)[cols]
    w_k, b_k = query_key.w_k.to("cpu", torch.float64)[cols], query_key.b_k.to("cpu", torch.float64)[cols]
    query = x[query_index] @ w_q.T + b_q  # (d_k,)
    keys = x @ w_k.T + b_k  # (T, d_k)
    scale = math.sqrt(d_k)
    scores = keys @ query / scale  # (T,)
    mask = torch.ones(t, dtype=torch.bool)
    if output.key_mask is not None:
        mask &= output.key_mask[batch_index].to("cpu")
    if causal:
        mask &= torch.arange(t) <= query_index
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=0)
    model_probs = output.attentions[layer][batch_index, head, query_index].detach().to("cpu", torch.float64)
    return AttentionFormula(layer, head, query_index, query, keys, scores, probs, model_probs, scale)
