"""Class probabilities after every prefix of an input: the prediction as the input unfolds."""

from __future__ import annotations

import torch
from torch import nn

from playground.core.device import model_device
from playground.inspection.rnn.states import BATCH_SIZE, recurrent_model
from playground.modalities.text.tokenizer import PAD_ID


@torch.no_grad()
def prefix_probabilities(model: nn.Module, model_input: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """Class probabilities after each prefix ``x[:1], x[:2], ..., x[:T]``: the prediction as the input unfolds.

    Exact: the model is run on every prefix as a whole input. Token ids go in padded batches
    (the model skips padding with packed sequences); numeric sequences, which have no padding,
    one prefix at a time.

    Args:
        model: a recurrent classifier.
        model_input: ``(T,)`` int64 token ids or ``(T, F)`` float32 standardized values
            (:attr:`~playground.inspection.rnn.states.RecurrentStates.model_input`).
        batch_size: prefixes per forward pass (token ids).

    Returns:
        ``(T, K)`` float32 softmax probabilities; row ``T - 1`` is the prediction for the whole input.

    Raises:
        TypeError: not a recurrent classifier.
        ValueError: an empty input or one of the wrong shape.
    """
    model = recurrent_model(model).eval()
    device = model_device(model)
    steps = int(model_input.shape[0]) if model_input.ndim >= 1 else 0
    if steps < 1 or model_input.ndim not in (1, 2):
        raise ValueError(f"expected (T,) token ids or (T, F) values with T >= 1, got shape {tuple(model_input.shape)}")
    rows = []
    if model_input.ndim == 1:
        ids = model_input.to(torch.int64)
        for start in range(0, steps, batch_size):
            lengths = torch.arange(start + 1, min(start + batch_size, steps) + 1)  # (B,)
            batch = torch.full((len(lengths), int(lengths[-1])), PAD_ID, dtype=torch.int64)  # (B, T')
            for row, k in enumerate(lengths.tolist()):
                batch[row, :k] = ids[:k]
            rows.append(model(batch.to(device)).float().softmax(dim=-1).cpu())  # (B, K)
    else:
        values = model_input.to(torch.float32)
        for k in range(1, steps + 1):
            rows.append(model(values[:k].unsqueeze(0).to(device)).float().softmax(dim=-1).cpu())  # (1, K)
    return torch.cat(rows)  # (T, K)
