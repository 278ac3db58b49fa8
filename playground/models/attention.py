"""Multi-head attention written out, and the transformer block built on it (nanoGPT style).

The article's ``Attention(Q, K, V) = softmax(QK^T / sqrt(d_k)) V`` computed explicitly (no fused
SDPA kernel), so the attention probabilities are part of what every layer returns and the pages can
show the exact numbers the model used. Vaswani et al. 2017, "Attention is all you need",
https://arxiv.org/abs/1706.03762, section 3.2; the code follows karpathy/nanoGPT ``model.py``
with separate query / key / value projections so the formula view can read ``W_q`` and ``W_k``.

Every model here that has attention exposes the :class:`AttentionModel` protocol:
``forward_with_attention(x)`` returns an :class:`AttentionOutput` (logits plus one
``(B, nh, T, S)`` tensor per layer), and ``query_key(layer)`` returns that layer's query / key
projection so ``softmax(q K^T / sqrt(d_k))`` can be recomputed by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn


class NoAttentionError(ValueError):
    """The model has no attention to show (not a transformer), or its forward returned none."""


@dataclass(frozen=True)
class QueryKey:
    """One attention layer's query and key projections, as the formula view needs them.

    ``q = x W_q^T + b_q`` and ``k = x W_k^T + b_k`` for the layer's input ``x`` (the tensor
    :attr:`AttentionOutput.attention_inputs` holds); head ``h`` uses columns
    ``h*d_k : (h+1)*d_k`` of ``q`` and ``k``; the scores are scaled by ``1 / sqrt(d_k)``.

    Attributes:
        w_q: ``(C, C_in)`` float32 query weights.
        b_q: ``(C,)`` query bias (zeros when the layer has none).
        w_k: ``(C, C_in)`` key weights.
        b_k: ``(C,)`` key bias.
        num_heads: nh; ``d_k = C // nh``.
    """

    w_q: torch.Tensor
    b_q: torch.Tensor
    w_k: torch.Tensor
    b_k: torch.Tensor
    num_heads: int

    @property
    def head_dim(self) -> int:
        """d_k, the width of one head."""
        return self.w_q.shape[0] // self.num_heads


@dataclass
class AttentionOutput:
    """What a forward pass with attention returns.

    Attributes:
        logits: the model's usual output (``(B, K)`` for classifiers, ``(B, T_out, V)`` for seq2seq).
        attentions: one ``(B, nh, T, T)`` float32 tensor per layer (encoder self-attention), rows
            summing to 1 over the keys.
        attention_inputs: one ``(B, T, C_in)`` tensor per layer: what that layer's query / key
            projections took (after the layer norm where the block has one in front).
        key_mask: ``(B, T)`` bool, True at real (non-padding) positions; ``None`` when all are real.
        decoder_attentions: seq2seq only: decoder self-attention per layer, ``(B, nh, T_out, T_out)``
            with a zero upper triangle (causal).
        cross_attentions: seq2seq only: decoder-to-encoder attention per layer,
            ``(B, nh, T_out, T_src)``.
    """

    logits: torch.Tensor
    attentions: tuple[torch.Tensor, ...]
    attention_inputs: tuple[torch.Tensor, ...] = ()
    key_mask: torch.Tensor | None = None
    decoder_attentions: tuple[torch.Tensor, ...] = field(default_factory=tuple)
    cross_attentions: tuple[torch.Tensor, ...] = field(default_factory=tuple)


@runtime_checkable
class AttentionModel(Protocol):
    """A model whose attention probabilities can be read (every transformer entry here)."""

    def forward_with_attention(self, x: torch.Tensor) -> AttentionOutput: ...

    def query_key(self, layer: int) -> QueryKey: ...


class MultiHeadAttention(nn.Module):
    """Multi-head scaled dot-product attention that returns its probabilities.

    Self-attention when ``context`` is ``None``; cross-attention (queries from ``x``, keys and
    values from ``context``) otherwise.

    Args:
        d_model: C, the width of the queries (and of the output).
        num_heads: nh; must divide ``d_model``.
        dropout: dropout on the attention probabilities and the output, in ``[0, 1)``.
        causal: mask future keys (decoder self-attention): query ``i`` sees keys ``<= i``.

    Raises:
        ValueError: ``num_heads`` does not divide ``d_model``.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, causal: bool = False) -> None:
        super().__init__()
        if d_model < 1 or num_heads < 1 or d_model % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide d_model ({d_model})")
        self.num_heads = num_heads
        self.causal = causal
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend.

        Args:
            x: ``(B, T, C)`` queries' input.
            context: ``(B, S, C)`` keys' and values' input; ``None``: ``x`` (self-attention, S = T).
            key_mask: ``(B, S)`` bool, True at keys that may be attended (False at padding).

        Returns:
            ``(y (B, T, C), attention_probs (B, nh, T, S))``; each row of the probabilities sums
            to 1 (before dropout; the returned probabilities are the ones without dropout).
        """
        context = x if context is None else context
        b, t, c = x.shape
        s = context.shape[1]
        nh, hs = self.num_heads, c // self.num_heads
        q = self.query(x).view(b, t, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = self.key(context).view(b, s, nh, hs).transpose(1, 2)  # (B, nh, S, hs)
        v = self.value(context).view(b, s, nh, hs).transpose(1, 2)  # (B, nh, S, hs)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, S)
        if self.causal:
            future = torch.ones(t, s, dtype=torch.bool, device=x.device).triu(1)  # (T, S)
            scores = scores.masked_fill(future, float("-inf"))
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        probs = F.softmax(scores, dim=-1)  # (B, nh, T, S)
        y = self.attn_dropout(probs) @ v  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(b, t, c)  # (B, T, C): heads side by side again
        return self.resid_dropout(self.proj(y)), probs

    def query_key(self) -> QueryKey:
        """This layer's query / key projections (detached)."""
        return QueryKey(
            self.query.weight.detach(),
            self.query.bias.detach(),
            self.key.weight.detach(),
            self.key.bias.detach(),
            self.num_heads,
        )


class MLP(nn.Module):
    """The block's feed-forward part: Linear(C, 4C) -> GELU -> Linear(4C, C) -> dropout."""

    def __init__(self, d_model: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.gelu(self.fc(x))))


class Block(nn.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln(x))``, [``x + cross(ln(x), memory)``], ``x + mlp(ln(x))``.

    Pre-LN as in GPT-2 and nanoGPT (Xiong et al. 2020, https://arxiv.org/abs/2002.04745: trains
    without a learning-rate warm-up). A decoder block (``cross_attention=True``) adds attention to
    the encoder's output between the two.

    Args:
        d_model: C.
        num_heads: nh.
        dropout: in ``[0, 1)``.
        causal: decoder self-attention (no peeking at later positions).
        cross_attention: add a cross-attention sub-layer (decoder blocks).
    """

    def __init__(
        self, d_model: int, num_heads: int, dropout: float = 0.0, *, causal: bool = False, cross_attention: bool = False
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads, dropout, causal=causal)
        self.ln_cross = nn.LayerNorm(d_model) if cross_attention else None
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout) if cross_attention else None
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, dropout)

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """One block.

        Args:
            x: ``(B, T, C)``.
            key_mask: ``(B, T)`` bool, True at real positions of ``x``.
            memory: ``(B, S, C)`` encoder output (decoder blocks only).
            memory_mask: ``(B, S)`` bool, True at real encoder positions.

        Returns:
            ``(x (B, T, C), self_attention_probs (B, nh, T, T), cross_attention_probs (B, nh, T, S)
            or None, attention_input (B, T, C))``, the last being ``ln_1(x)``: what the
            self-attention's query / key projections saw.
        """
        attention_input = self.ln_1(x)
        y, probs = self.attn(attention_input, key_mask=key_mask)
        x = x + y
        cross = None
        if self.cross_attn is not None:
            if memory is None or self.ln_cross is None:
                raise ValueError("a decoder block needs the encoder's output (memory)")
            y, cross = self.cross_attn(self.ln_cross(x), context=memory, key_mask=memory_mask)
            x = x + y
        x = x + self.mlp(self.ln_2(x))
        return x, probs, cross, attention_input


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """The fixed sine / cosine position encodings of Vaswani et al. 2017, section 3.5.

    ``PE[pos, 2i] = sin(pos / 10000^(2i/C))``, ``PE[pos, 2i+1] = cos(...)``.

    Returns:
        ``(length, d_model)`` float32.
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))  # (C/2,)
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)[:, : d_model // 2]
    return pe


def run_blocks(
    blocks: nn.ModuleList, h: torch.Tensor, key_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Run encoder :class:`Block` s in order, keeping every layer's attention and attention input.

    Args:
        blocks: the blocks, applied first to last.
        h: ``(B, T, C)`` input of the first block.
        key_mask: ``(B, T)`` bool, True at real positions.

    Returns:
        ``(h (B, T, C) after the last block, attentions (one (B, nh, T, T) per block),
        attention_inputs (one (B, T, C) per block))``.
    """
    attentions, inputs = [], []
    for block in blocks:
        h, probs, _, attention_input = block(h, key_mask=key_mask)
        attentions.append(probs)
        inputs.append(attention_input)
    return h, tuple(attentions), tuple(inputs)


def block_query_key(blocks: nn.ModuleList, layer: int) -> QueryKey:
    """Block ``layer``'s self-attention query / key projections.

    Raises:
        IndexError: ``layer`` out of range.
    """
    block = blocks[layer]
    assert isinstance(block, Block)  # for the type checker: ModuleList items are Modules
    return block.attn.query_key()
