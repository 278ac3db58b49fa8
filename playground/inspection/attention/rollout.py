"""Attention rollout (Abnar & Zuidema 2020, "Quantifying attention flow in transformers",
https://arxiv.org/abs/2005.00928, section 3).

Raw attention says where one layer looks; rollout follows it through the residual stream: each
layer's head-averaged attention ``A_l`` is mixed with the identity (the residual connection),
``Â_l = 0.5 A_l + 0.5 I``, its rows renormalised, and the layers multiplied from the input up:
``R = Â_L ... Â_2 Â_1``. Row ``i`` of ``R`` says how much each input token flowed into position
``i`` at the top. Written by hand: Captum has no rollout, and the method is these few lines
(jacobgil/vit-explain does the same with ``"mean"``, ``"max"`` or ``"min"`` head fusion).
"""

from __future__ import annotations

from typing import Literal

import torch

HeadFusion = Literal["mean", "max", "min"]


def rollout(
    attention_probs: torch.Tensor,
    *,
    head_fusion: HeadFusion = "mean",
    residual_weight: float = 0.5,
    start_layer: int = 0,
) -> torch.Tensor:
    """Attention rollout through the layers.

    Args:
        attention_probs: ``(L, H, T, T)`` float attention of one input, rows summing to 1.
        head_fusion: how heads become one map per layer: ``"mean"`` (the paper), ``"max"`` or ``"min"``.
        residual_weight: weight of the identity, ``Â = (1 - w) A + w I``; 0.5 in the paper.
        start_layer: first layer to include (earlier ones are skipped).

    Returns:
        ``(L - start_layer, T, T)`` float64: entry ``k`` is the rollout up to layer
        ``start_layer + k`` (the last entry is the full rollout ``R``); rows sum to 1.

    Raises:
        ValueError: a tensor of another shape, an unknown fusion, a weight outside ``[0, 1]`` or a
            start layer out of range.
    """
    if attention_probs.ndim != 4 or attention_probs.shape[-1] != attention_probs.shape[-2]:
        raise ValueError(f"expected attention of shape (L, H, T, T), got {tuple(attention_probs.shape)}")
    if head_fusion not in ("mean", "max", "min"):
        raise ValueError(f"head_fusion must be 'mean', 'max' or 'min', got {head_fusion!r}")
    if not 0.0 <= residual_weight <= 1.0:
        raise ValueError(f"residual_weight must be in [0, 1], got {residual_weight}")
    layers = attention_probs.shape[0]
    if not 0 <= start_layer < layers:
        raise ValueError(f"start_layer must be in [0, {layers - 1}], got {start_layer}")
    probs = attention_probs[start_layer:].detach().to("cpu", torch.float64)  # (L', H, T, T)
    if head_fusion == "mean":
        fused = probs.mean(dim=1)  # (L', T, T)
    elif head_fusion == "max":
        fused = probs.amax(dim=1)
    else:
        fused = probs.amin(dim=1)
    eye = torch.eye(fused.shape[-1], dtype=torch.float64)
    mixed = (1.0 - residual_weight) * fused + residual_weight * eye  # (L', T, T)
    mixed = mixed / mixed.sum(dim=-1, keepdim=True)
    out = torch.empty_like(mixed)
    current = eye
    for k in range(mixed.shape[0]):
        current = mixed[k] @ current  # (T, T): layer k on top of everything below it
        out[k] = current
    return out
