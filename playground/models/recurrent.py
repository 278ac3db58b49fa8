"""Recurrent classifiers: Elman RNN, LSTM and GRU over token ids or numeric sequences.

The article's update ``h_t = f(W_hh h_{t-1} + W_xh x_t + b_h)`` and read-out
``y_t = g(W_hy h_t + b_y)``, on top of PyTorch's own ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
(so cuDNN runs them on a GPU). ``playground.inspection.rnn.states`` recomputes every step from these
modules' weights to show the hidden states and gates.

Inputs, one forward for both kinds:

* text: ``(B, T)`` int64 token ids, right-padded with ``pad_id`` (0); lengths are the number of
  non-pad ids, and padded steps are skipped with packed sequences (lengths on the CPU, as
  ``pack_padded_sequence`` wants them).
* numeric sequences: ``(B, T, F)`` float32 (standardized), all of length T.

Sources: Elman 1990, "Finding structure in time" (https://doi.org/10.1207/s15516709cog1402_1);
Hochreiter & Schmidhuber 1997, "Long short-term memory"
(https://doi.org/10.1162/neco.1997.9.8.1735); Cho et al. 2014 (GRU,
https://arxiv.org/abs/1406.1078); the article's Keras example for ``seed_lstm``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from playground.modalities.text.tokenizer import PAD_ID
from playground.models.base import register_model

Cell = Literal["rnn", "lstm", "gru"]
Pooling = Literal["last", "mean", "max"]

_CELLS: dict[str, Callable[..., nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentClassifier(nn.Module):
    """[Embedding] -> RNN / LSTM / GRU (stacked, optionally bidirectional) -> pooling -> dropout -> Linear.

    Exactly one of ``vocab_size`` (text: an embedding in front) and ``input_size`` (numeric
    sequences: the features go straight in) is given.

    Args:
        cell: ``"rnn"`` (Elman, tanh), ``"lstm"`` or ``"gru"``.
        num_classes: outputs K.
        vocab_size: tokens in the vocabulary (text), or ``None``.
        input_size: features F per time step (numeric sequences), or ``None``.
        embedding_dim: size of the token embedding (text only).
        hidden_size: H, units per layer and direction.
        num_layers: stacked recurrent layers.
        bidirectional: also run each layer right to left and concatenate (D = 2).
        dropout: dropout between stacked layers and before the head, in ``[0, 1)``.
        pooling: how the ``(B, T, D*H)`` outputs become one ``(B, D*H)`` vector: ``"last"``
            (the last layer's final hidden state of each direction: step ``len-1`` left to right,
            step 0 right to left), ``"mean"`` or ``"max"`` over the real (non-pad) steps.

    Raises:
        ValueError: both or neither of ``vocab_size`` / ``input_size``, or a size out of range.
    """

    def __init__(
        self,
        cell: Cell,
        num_classes: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pooling: Pooling = "last",
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if pooling not in ("last", "mean", "max"):
            raise ValueError(f"pooling must be 'last', 'mean' or 'max', got {pooling!r}")
        if (vocab_size is None) == (input_size is None):
            raise ValueError("give exactly one of vocab_size (text) and input_size (numeric sequences)")
        for name, value in (("hidden_size", hidden_size), ("num_layers", num_layers), ("embedding_dim", embedding_dim)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.cell = cell
        self.pooling = pooling
        self.embedding: nn.Embedding | None = None
        if vocab_size is not None:
            if vocab_size < 2:
                raise ValueError(f"vocab_size must be at least 2 ([PAD] and one token), got {vocab_size}")
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
            rnn_input = embedding_dim
        else:
            assert input_size is not None  # narrowed by the check above
            if input_size < 1:
                raise ValueError(f"input_size must be at least 1, got {input_size}")
            rnn_input = input_size
        self.rnn = _CELLS[cell](
            rnn_input,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,  # nn.RNNBase applies it between layers only
        )
        directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(directions * hidden_size, num_classes)

    @property
    def num_directions(self) -> int:
        """D: 2 when bidirectional, else 1."""
        return 2 if self.rnn.bidirectional else 1

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the recurrent layers see, and each sequence's length.

        Args:
            x: ``(B, T)`` int64 token ids (right-padded with 0) or ``(B, T, F)`` float32 values.

        Returns:
            ``(inputs (B, T, E or F) float32, lengths (B,) int64 on the CPU)``; lengths >= 1.

        Raises:
            ValueError: ids for a model without an embedding, or values for one with it.
        """
        if x.dtype in (torch.int64, torch.int32):
            if self.embedding is None:
                raise ValueError("this model takes numeric sequences (B, T, F) float32, got token ids")
            if x.ndim != 2:
                raise ValueError(f"expected token ids of shape (B, T), got {tuple(x.shape)}")
            lengths = (x != PAD_ID).sum(dim=1).clamp(min=1).cpu()  # (B,)
            return self.embedding(x), lengths  # (B, T, E)
        if self.embedding is not None:
            raise ValueError(f"this model takes token ids (B, T) int64, got {x.dtype}")
        if x.ndim != 3 or x.shape[-1] != self.rnn.input_size:
            raise ValueError(f"expected values of shape (B, T, {self.rnn.input_size}), got {tuple(x.shape)}")
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
        return x, lengths

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the recurrent layers.

        Returns:
            ``(outputs (B, T, D*H), h_n (num_layers*D, B, H), lengths (B,))``: the last layer's
            hidden state at every step (zeros at padded steps) and each layer's final state.
        """
        inputs, lengths = self.embed(x)
        steps = inputs.shape[1]
        packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
        packed_out, state = self.rnn(packed)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM returns (h_n, c_n)
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=steps)  # (B, T, D*H)
        return outputs, h_n, lengths

    def pool(self, outputs: torch.Tensor, h_n: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, T, D*H)`` outputs -> ``(B, D*H)`` features, as ``self.pooling`` says."""
        if self.pooling == "last":
            d = self.num_directions
            return torch.cat([h_n[-d + i] for i in range(d)], dim=-1)  # (B, D*H), last layer's directions
        mask = torch.arange(outputs.shape[1], device=outputs.device)[None, :] < lengths.to(outputs.device)[:, None]
        mask = mask.unsqueeze(-1)  # (B, T, 1)
        if self.pooling == "mean":
            return (outputs * mask).sum(dim=1) / mask.sum(dim=1)
        return outputs.masked_fill(~mask, float("-inf")).amax(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` int64 ids or ``(B, T, F)`` float32 values -> ``(B, num_classes)`` logits."""
        outputs, h_n, lengths = self.encode(x)
        return self.head(self.dropout(self.pool(outputs, h_n, lengths)))


_HPARAM_CHOICES: dict[str, tuple[Any, ...]] = {
    "pooling": ("last", "mean", "max"),
    "bidirectional": (False, True),
}


def _register(name: str, cell: Cell, *, source: str, description: str, defaults: dict[str, Any]) -> None:
    def builder(
        num_classes: int,
        *,
        vocab_size: int | None = None,
        input_size: int | None = None,
        weights: str | None = None,
        **hparams: Any,
    ) -> nn.Module:
        return RecurrentClassifier(cell, num_classes, vocab_size=vocab_size, input_size=input_size, **hparams)

    register_model(
        name,
        family="rnn",
        modality="text",
        inputs=("text", "sequence"),
        source=source,
        description=description,
        num_classes=2,
        defaults=defaults,
        choices=_HPARAM_CHOICES,
    )(builder)


_COMMON = {"embedding_dim": 64, "hidden_size": 64, "num_layers": 1, "bidirectional": False, "dropout": 0.0}

_register(
    "rnn",
    "rnn",
    source="Elman 1990, https://doi.org/10.1207/s15516709cog1402_1; the article's h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)",
    description="Elman RNN (tanh): the article's update formula, one hidden state per step.",
    defaults={**_COMMON, "pooling": "max"},
)
_register(
    "lstm",
    "lstm",
    source="Hochreiter & Schmidhuber 1997, https://doi.org/10.1162/neco.1997.9.8.1735",
    description="LSTM: input, forget and output gates around a cell state.",
    defaults={**_COMMON, "pooling": "max"},
)
_register(
    "gru",
    "gru",
    source="Cho et al. 2014, https://arxiv.org/abs/1406.1078",
    description="GRU: reset and update gates, no separate cell state.",
    defaults={**_COMMON, "pooling": "max"},
)
_register(
    "seed_lstm",
    "lstm",
    source="The article's Keras example: LSTM(128, return_sequences=True) -> LSTM(128) -> Dense(10, softmax)",
    description="The article's two stacked LSTM(128) layers, the second's last state into a linear head.",
    defaults={
        "embedding_dim": 64,
        "hidden_size": 128,
        "num_layers": 2,
        "bidirectional": False,
        "dropout": 0.0,
        "pooling": "last",
    },
)
