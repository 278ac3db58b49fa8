"""``transformer_seq2seq``: a tiny encoder-decoder transformer, so cross-attention can be seen.

The architecture of Vaswani et al. 2017, "Attention is all you need"
(https://arxiv.org/abs/1706.03762, figure 1), shrunk: one token embedding shared by both halves
(``padding_idx`` 0) plus position encodings, N encoder blocks (self-attention with the padding
keys masked), N decoder blocks (causal self-attention, then cross-attention whose queries come
from the decoder and whose keys / values are the encoder's output), a final LayerNorm and a
linear head over the vocabulary. The blocks are :class:`~playground.models.attention.Block`
(pre-LN, nanoGPT style), so every attention probability the model uses can be read back.

Inputs are the ids of :class:`~playground.modalities.seq2seq.tasks.Seq2SeqPreprocessing`: ``src (B, S)``
right-padded with 0, ``tgt_in (B, T)`` starting with ``[BOS]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from playground.modalities.seq2seq.tasks import BOS_ID, EOS_ID, PAD_ID
from playground.models.attention import (
    AttentionOutput,
    Block,
    QueryKey,
    block_query_key,
    run_blocks,
    sinusoidal_positions,
)
from playground.models.base import register_model

PositionEncoding = Literal["sinusoidal", "learned"]


@dataclass(frozen=True)
class Seq2SeqGeneration:
    """What greedy decoding returns.

    Attributes:
        ids: ``(B, T')`` int64 generated ids, without ``[BOS]``; a row that finished has its
            ``[EOS]`` and ``[PAD]`` (0) after it.
        finished: ``(B,)`` bool, True where the row produced ``[EOS]`` within the step limit.
        cross_attentions: ``(B, L, nh, T', S)`` float32: in the final decoding pass, the
            cross-attention of every decoder layer; row ``t`` is what output ``t`` was read from
            (rows sum to 1 over the real source positions).
        decoder_attentions: ``(B, L, nh, T', T')`` float32 decoder self-attention of that pass,
            zero above the diagonal.
    """

    ids: torch.Tensor
    finished: torch.Tensor
    cross_attentions: torch.Tensor
    decoder_attentions: torch.Tensor

    @property
    def cross_attention(self) -> torch.Tensor:
        """Batch row 0's cross-attention, ``(L, nh, T', S)``."""
        return self.cross_attentions[0]

    @property
    def decoder_attention(self) -> torch.Tensor:
        """Batch row 0's decoder self-attention, ``(L, nh, T', T')``."""
        return self.decoder_attentions[0]


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder transformer whose self- and cross-attention probabilities can be read.

    Args:
        vocab_size: V, token ids in and logits out (the two halves share one embedding).
        d_model: C, the width of every token's vector.
        num_layers: N, blocks in the encoder and N in the decoder.
        num_heads: nh, heads per attention layer; must divide ``d_model``.
        dropout: in ``[0, 1)``.
        position_encoding: ``"sinusoidal"`` (fixed, Vaswani et al. section 3.5; position ``p - 1``
            is a linear function of position ``p``, which helps a head look one step back) or
            ``"learned"`` (one trained vector per position, separate for encoder and decoder).
        max_positions: the longest source and decoder input it takes.

    Raises:
        ValueError: sizes out of range, ``num_heads`` not dividing ``d_model``, or an unknown
            position encoding.
    """

    sinusoids: torch.Tensor  # (max_positions, C) buffer, when position_encoding == "sinusoidal"

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        dropout: float = 0.0,
        position_encoding: PositionEncoding = "sinusoidal",
        max_positions: int = 64,
    ) -> None:
        super().__init__()
        if vocab_size < 5:
            raise ValueError(f"vocab_size must be at least 5 (four special tokens and a character), got {vocab_size}")
        for name, value in (("d_model", d_model), ("num_layers", num_layers), ("max_positions", max_positions)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if position_encoding not in ("sinusoidal", "learned"):
            raise ValueError(f"position_encoding must be 'sinusoidal' or 'learned', got {position_encoding!r}")
        self.vocab_size = vocab_size
        self.max_positions = max_positions
        self.position_encoding = position_encoding
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD_ID)
        self.src_positions: nn.Parameter | None = None
        self.tgt_positions: nn.Parameter | None = None
        if position_encoding == "learned":
            self.src_positions = nn.Parameter(torch.randn(max_positions, d_model) * 0.02)
            self.tgt_positions = nn.Parameter(torch.randn(max_positions, d_model) * 0.02)
        else:
            self.register_buffer("sinusoids", sinusoidal_positions(max_positions, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList([Block(d_model, num_heads, dropout) for _ in range(num_layers)])
        self.ln_enc = nn.LayerNorm(d_model)  # pre-LN: the encoder's output is normalized once at the end
        self.decoder = nn.ModuleList(
            [Block(d_model, num_heads, dropout, causal=True, cross_attention=True) for _ in range(num_layers)]
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    @property
    def num_layers(self) -> int:
        """N, the blocks in each half."""
        return len(self.encoder)

    def _embed(self, ids: torch.Tensor, positions: nn.Parameter | None, what: str) -> torch.Tensor:
        """``(B, T)`` ids -> ``(B, T, C)`` token vectors plus positions."""
        if ids.dtype not in (torch.int64, torch.int32) or ids.ndim != 2:
            raise ValueError(f"expected {what} token ids of shape (B, T) int64, got {tuple(ids.shape)} {ids.dtype}")
        t = ids.shape[1]
        if t < 1:
            raise ValueError(f"expected at least one {what} position, got 0")
        if t > self.max_positions:
            raise ValueError(f"this model takes at most {self.max_positions} {what} positions, got {t}")
        if int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size:
            raise ValueError(
                f"{what} token ids must be in [0, {self.vocab_size}), got [{int(ids.min())}, {int(ids.max())}]"
            )
        table = positions if positions is not None else self.sinusoids
        return self.drop(self.embedding(ids) + table[:t])  # (B, T, C)

    def encode(
        self, src: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """Run the encoder.

        Args:
            src: ``(B, S)`` int64 source ids, right-padded with 0.

        Returns:
            ``(memory (B, S, C), src_mask (B, S) bool, attentions, attention_inputs)``, the last two
            one ``(B, nh, S, S)`` / ``(B, S, C)`` tensor per encoder layer. ``src_mask`` is True at
            real positions (an all-padding row counts as all real, so its softmax is defined).
        """
        src_mask = src != PAD_ID  # (B, S)
        src_mask = src_mask | ~src_mask.any(dim=1, keepdim=True)
        h = self._embed(src, self.src_positions, "source")
        h, attentions, inputs = run_blocks(self.encoder, h, src_mask)
        return self.ln_enc(h), src_mask, attentions, inputs

    def decode(
        self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Run the decoder over the encoder's output.

        Args:
            tgt_in: ``(B, T)`` int64 decoder input ids (``[BOS]`` first, right-padded with 0).
            memory: ``(B, S, C)`` from :meth:`encode`.
            src_mask: ``(B, S)`` bool from :meth:`encode`.

        Returns:
            ``(logits (B, T, V), self_attentions, cross_attentions)``, one ``(B, nh, T, T)`` and one
            ``(B, nh, T, S)`` tensor per decoder layer. Padding in ``tgt_in`` needs no mask: it is
            on the right, so the causal mask already hides it from every real position.
        """
        h = self._embed(tgt_in, self.tgt_positions, "target")
        self_attentions, cross_attentions = [], []
        for block in self.decoder:
            h, probs, cross, _ = block(h, memory=memory, memory_mask=src_mask)
            self_attentions.append(probs)
            cross_attentions.append(cross)
        return self.head(self.ln_f(h)), self_attentions, cross_attentions

    def forward_with_attention(self, src: torch.Tensor, tgt_in: torch.Tensor) -> AttentionOutput:
        """Logits and every attention probability of one teacher-forced pass.

        Args:
            src: ``(B, S)`` int64 source ids, right-padded with 0.
            tgt_in: ``(B, T)`` int64 decoder inputs, ``[BOS]`` first, right-padded with 0.

        Returns:
            :class:`~playground.models.attention.AttentionOutput` with ``logits (B, T, V)``,
            ``attentions`` = encoder self-attention per layer ``(B, nh, S, S)``,
            ``attention_inputs`` = each encoder block's ``ln_1`` output ``(B, S, C)``,
            ``key_mask`` = the source mask ``(B, S)``, ``decoder_attentions`` per layer
            ``(B, nh, T, T)`` (zero upper triangle) and ``cross_attentions`` per layer
            ``(B, nh, T, S)`` (zero at padded source positions).
        """
        memory, src_mask, attentions, inputs = self.encode(src)
        logits, self_attentions, cross_attentions = self.decode(tgt_in, memory, src_mask)
        return AttentionOutput(
            logits,
            attentions,
            inputs,
            src_mask,
            decoder_attentions=tuple(self_attentions),
            cross_attentions=tuple(cross_attentions),
        )

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """``src (B, S)`` and ``tgt_in (B, T)`` int64 ids -> ``(B, T, V)`` next-token logits."""
        memory, src_mask, _, _ = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)[0]

    def query_key(self, layer: int) -> QueryKey:
        """Encoder block ``layer``'s self-attention query / key projections (see :class:`QueryKey`)."""
        return block_query_key(self.encoder, layer)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_new_tokens: int) -> Seq2SeqGeneration:
        """Greedy decoding: start from ``[BOS]``, append the most likely token until ``[EOS]``.

        The encoder runs once; the decoder reruns over the whole prefix each step (no key/value
        cache: the sequences here are a few dozen tokens). Dropout is off for the call (the
        module's training mode is restored afterwards).

        Args:
            src: ``(B, S)`` int64 source ids, right-padded with 0.
            max_new_tokens: the most tokens per row (``[EOS]`` included), ``>= 1``; at most
                ``max_positions``.

        Returns:
            :class:`Seq2SeqGeneration`; ``T'`` is the number of steps taken (the longest row).

        Raises:
            ValueError: ``max_new_tokens`` out of range, or bad ``src`` (see :meth:`encode`).
        """
        if not 1 <= max_new_tokens <= self.max_positions:
            raise ValueError(f"max_new_tokens must be in [1, {self.max_positions}], got {max_new_tokens}")
        was_training = self.training
        self.eval()
        try:
            memory, src_mask, _, _ = self.encode(src)
            b = src.shape[0]
            tgt = torch.full((b, 1), BOS_ID, dtype=torch.int64, device=src.device)  # (B, 1)
            finished = torch.zeros(b, dtype=torch.bool, device=src.device)
            self_attentions: list[torch.Tensor] = []
            cross_attentions: list[torch.Tensor] = []
            for _ in range(max_new_tokens):
                logits, self_attentions, cross_attentions = self.decode(tgt, memory, src_mask)  # (B, t, V)
                next_id = logits[:, -1].argmax(dim=-1)  # (B,)
                next_id = torch.where(finished, torch.full_like(next_id, PAD_ID), next_id)
                tgt = torch.cat([tgt, next_id[:, None]], dim=1)  # (B, t + 1)
                finished = finished | (next_id == EOS_ID)
                if bool(finished.all()):
                    break
        finally:
            self.train(was_training)
        # The last pass read tgt[:, :T'] and produced output t from row t: its maps cover every output.
        return Seq2SeqGeneration(
            ids=tgt[:, 1:],
            finished=finished,
            cross_attentions=torch.stack(cross_attentions, dim=1),  # (B, L, nh, T', S)
            decoder_attentions=torch.stack(self_attentions, dim=1),  # (B, L, nh, T', T')
        )


@register_model(
    "transformer_seq2seq",
    family="transformer",
    modality="seq2seq",
    source="Vaswani et al. 2017, https://arxiv.org/abs/1706.03762 (encoder-decoder); code in the style of karpathy/nanoGPT",
    description="A tiny encoder-decoder transformer trained on string tasks (reverse, sort, copy, add): "
    "its cross-attention shows which source character each output reads.",
    num_classes=41,
    defaults={
        "d_model": 64,
        "num_layers": 2,
        "num_heads": 4,
        "dropout": 0.0,
        "position_encoding": "sinusoidal",
        "max_positions": 64,
    },
    choices={"position_encoding": ("sinusoidal", "learned"), "num_heads": (1, 2, 4, 8)},
)
def transformer_seq2seq(
    num_classes: int,
    *,
    vocab_size: int | None = None,
    input_size: int | None = None,
    weights: str | None = None,
    **hparams: Any,
) -> nn.Module:
    """Build :class:`Seq2SeqTransformer` with ``num_classes`` = V token ids.

    Args:
        num_classes: V, the vocabulary size (the logits are over the next token).
        vocab_size: V again, if given it must equal ``num_classes``.
        input_size: unused (numeric sequences do not apply); must be ``None``.
        weights: must be ``None``: there are no pretrained weights.
        **hparams: :class:`Seq2SeqTransformer` keyword arguments.

    Raises:
        ValueError: ``vocab_size`` differs from ``num_classes``, ``input_size`` or ``weights``
            given, or a bad hyper-parameter.
    """
    if vocab_size is not None and vocab_size != num_classes:
        raise ValueError(
            f"transformer_seq2seq predicts tokens: num_classes ({num_classes}) must equal vocab_size ({vocab_size})"
        )
    if input_size is not None:
        raise ValueError("transformer_seq2seq takes token ids, not numeric sequences (input_size must be None)")
    if weights is not None:
        raise ValueError(f"transformer_seq2seq has no pretrained weights; got {weights!r}")
    return Seq2SeqTransformer(num_classes, **hparams)
