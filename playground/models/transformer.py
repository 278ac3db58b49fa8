"""``transformer_encoder``: a small transformer encoder that classifies text or numeric sequences.

Token embedding (or a linear projection of numeric features) + position encoding -> N pre-LN
blocks of :class:`~playground.models.attention.Block` -> LayerNorm -> mean over the real
positions -> dropout -> Linear. Written in the style of karpathy/nanoGPT ``model.py``, but
bidirectional (no causal mask; padding keys masked), as the encoder of Vaswani et al. 2017
(https://arxiv.org/abs/1706.03762) and BERT (Devlin et al. 2018, https://arxiv.org/abs/1810.04805).

Inputs, like the recurrent entries:

* text: ``(B, T)`` int64 token ids right-padded with ``PAD_ID`` (0); padding keys are masked out of
  every attention row and out of the mean;
* numeric sequences: ``(B, T, F)`` float32, all positions real.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import nn

from playground.modalities.text.tokenizer import PAD_ID
from playground.models.attention import (
    AttentionOutput,
    Block,
    QueryKey,
    block_query_key,
    run_blocks,
    sinusoidal_positions,
)
from playground.models.base import register_model

PositionEncoding = Literal["learned", "sinusoidal", "none"]


class TransformerClassifier(nn.Module):
    """Transformer encoder classifier whose attention probabilities can be read.

    Args:
        num_classes: outputs K.
        vocab_size: token ids in (text) or ``None``.
        input_size: features per step (numeric sequences) or ``None``; exactly one of the two.
        d_model: C, the width of every token's vector.
        num_layers: blocks.
        num_heads: heads per block; must divide ``d_model``.
        dropout: in ``[0, 1)``.
        position_encoding: ``"learned"`` (one trained vector per position, as GPT-2 and BERT),
            ``"sinusoidal"`` (fixed, Vaswani et al. section 3.5) or ``"none"`` (a bag of tokens:
            attention alone cannot tell order).
        max_positions: the longest input it takes (learned / sinusoidal tables have this many rows).

    Raises:
        ValueError: both or neither of ``vocab_size`` / ``input_size``, sizes out of range, an
            unknown position encoding.
    """

    sinusoids: torch.Tensor | None  # the fixed table (a buffer) when position_encoding is "sinusoidal"

    def __init__(
        self,
        num_classes: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        dropout: float = 0.1,
        position_encoding: PositionEncoding = "learned",
        max_positions: int = 512,
    ) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError("give exactly one of vocab_size (text) and input_size (numeric sequences)")
        for name, value in (("d_model", d_model), ("num_layers", num_layers), ("max_positions", max_positions)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if position_encoding not in ("learned", "sinusoidal", "none"):
            raise ValueError(f"position_encoding must be 'learned', 'sinusoidal' or 'none', got {position_encoding!r}")
        self.embedding: nn.Embedding | None = None
        self.input_proj: nn.Linear | None = None
        if vocab_size is not None:
            if vocab_size < 2:
                raise ValueError(f"vocab_size must be at least 2 ([PAD] and one token), got {vocab_size}")
            self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD_ID)
        else:
            assert input_size is not None  # narrowed by the check above
            if input_size < 1:
                raise ValueError(f"input_size must be at least 1, got {input_size}")
            self.input_proj = nn.Linear(input_size, d_model)
        self.position_encoding = position_encoding
        self.max_positions = max_positions
        self.positions: nn.Parameter | None = None
        if position_encoding == "learned":
            self.positions = nn.Parameter(torch.randn(max_positions, d_model) * 0.02)
        sinusoids = sinusoidal_positions(max_positions, d_model) if position_encoding == "sinusoidal" else None
        self.register_buffer("sinusoids", sinusoids, persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(d_model, num_heads, dropout) for _ in range(num_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token (or feature) vectors plus positions, and the mask of real positions.

        Args:
            x: ``(B, T)`` int64 ids (right-padded with 0) or ``(B, T, F)`` float32 values.

        Returns:
            ``(h (B, T, C), key_mask (B, T) bool or None)``; ``None`` for numeric sequences.

        Raises:
            ValueError: the wrong kind of input for this model, or ``T > max_positions``.
        """
        if x.dtype in (torch.int64, torch.int32):
            if self.embedding is None:
                raise ValueError("this model takes numeric sequences (B, T, F) float32, got token ids")
            if x.ndim != 2:
                raise ValueError(f"expected token ids of shape (B, T), got {tuple(x.shape)}")
            h, key_mask = self.embedding(x), x != PAD_ID  # (B, T, C), (B, T)
            key_mask = key_mask | ~key_mask.any(dim=1, keepdim=True)  # an all-pad row attends to all
        else:
            if self.input_proj is None:
                raise ValueError(f"this model takes token ids (B, T) int64, got {x.dtype}")
            if x.ndim != 3 or x.shape[-1] != self.input_proj.in_features:
                raise ValueError(
                    f"expected values of shape (B, T, {self.input_proj.in_features}), got {tuple(x.shape)}"
                )
            h, key_mask = self.input_proj(x), None  # (B, T, C)
        t = x.shape[1]
        if t > self.max_positions:
            raise ValueError(f"this model takes at most {self.max_positions} positions, got {t}")
        if self.positions is not None:
            h = h + self.positions[:t]
        elif self.sinusoids is not None:
            h = h + self.sinusoids[:t]
        return self.drop(h), key_mask

    def forward_with_attention(self, x: torch.Tensor) -> AttentionOutput:
        """Logits and every layer's attention probabilities.

        Args:
            x: ``(B, T)`` int64 token ids or ``(B, T, F)`` float32 values.

        Returns:
            :class:`AttentionOutput` with ``logits (B, K)``, ``attentions`` = one
            ``(B, nh, T, T)`` per layer (padding keys get probability 0), ``attention_inputs``
            = each block's ``ln_1`` output ``(B, T, C)``, and ``key_mask``.
        """
        h, key_mask = self.embed(x)
        h, attentions, inputs = run_blocks(self.blocks, h, key_mask)
        h = self.ln_f(h)  # (B, T, C)
        if key_mask is None:
            pooled = h.mean(dim=1)  # (B, C)
        else:
            weights = key_mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            pooled = (h * weights).sum(dim=1) / weights.sum(dim=1)  # (B, C): mean over real positions
        logits = self.head(self.drop(pooled))
        return AttentionOutput(logits, attentions, inputs, key_mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` int64 ids or ``(B, T, F)`` float32 values -> ``(B, num_classes)`` logits."""
        return self.forward_with_attention(x).logits

    def query_key(self, layer: int) -> QueryKey:
        """Block ``layer``'s query / key projections (see :class:`QueryKey`)."""
        return block_query_key(self.blocks, layer)


@register_model(
    "transformer_encoder",
    family="transformer",
    modality="text",
    inputs=("text", "sequence"),
    source="Vaswani et al. 2017, https://arxiv.org/abs/1706.03762 (encoder); code in the style of karpathy/nanoGPT",
    description="A small transformer encoder (pre-LN blocks, mean-pooled): every layer's attention is visible.",
    num_classes=2,
    defaults={
        "d_model": 64,
        "num_layers": 2,
        "num_heads": 4,
        "dropout": 0.1,
        "position_encoding": "learned",
        "max_positions": 512,
    },
    choices={"position_encoding": ("learned", "sinusoidal", "none"), "num_heads": (1, 2, 4, 8)},
)
def transformer_encoder(
    num_classes: int,
    *,
    vocab_size: int | None = None,
    input_size: int | None = None,
    weights: str | None = None,
    **hparams: Any,
) -> nn.Module:
    return TransformerClassifier(num_classes, vocab_size=vocab_size, input_size=input_size, **hparams)
