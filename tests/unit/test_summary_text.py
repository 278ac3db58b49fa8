"""The model summary for text and numeric-sequence models: example inputs, T in the shapes, RNN FLOPs."""

from __future__ import annotations

import pytest
import torch

from playground.inspection.summary import count_flops, layer_table, summarize
from playground.models.lenet import LeNet5
from playground.models.recurrent import RecurrentClassifier

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_text_model_rows_show_the_time_axis_and_flops_follow_the_gate_formula(cell: str) -> None:
    vocab, emb, hidden, classes, steps = 50, 8, 16, 3, 11
    model = RecurrentClassifier(cell, classes, vocab_size=vocab, embedding_dim=emb, hidden_size=hidden).train()
    ids = torch.randint(1, vocab, (1, steps))  # (1, T) token ids, no padding
    summary = summarize(model, ids)
    rows = {r.type: r for r in summary.rows}
    assert rows["Embedding"].output_shape == (1, steps, emb)
    assert rows[cell.upper()].output_shape == (1, steps, hidden)  # packed -> padded
    assert rows["Linear"].output_shape == (1, classes)
    assert summary.input_shape == (1, steps)
    assert sum(r.num_params for r in summary.rows) == summary.total_params == sum(p.numel() for p in model.parameters())
    # every step: GATES matmuls of (in + H) x H multiply-adds; the head H x K once (embedding look-ups count 0)
    expected = steps * 2 * GATES[cell] * (emb * hidden + hidden * hidden) + 2 * hidden * classes
    assert summary.flops == expected
    assert model.training  # restored


def test_flops_grow_with_the_length_and_padding_is_not_counted() -> None:
    model = RecurrentClassifier("lstm", 2, vocab_size=20, embedding_dim=4, hidden_size=6)
    short, long = (
        count_flops(model, torch.ones(1, 5, dtype=torch.int64)),
        count_flops(model, torch.ones(1, 10, dtype=torch.int64)),
    )
    head = 2 * 6 * 2
    assert long - head == 2 * (short - head)
    padded = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0, 0, 0]])  # 5 tokens, then [PAD]: packed sequences skip it
    assert count_flops(model, padded) == short


def test_bidirectional_numeric_sequence_model_from_a_shape() -> None:
    steps, features, hidden = 7, 3, 5
    model = RecurrentClassifier("gru", 4, input_size=features, hidden_size=hidden, bidirectional=True)
    rows = {r.type: r for r in layer_table(model, (1, steps, features))}
    assert rows["GRU"].output_shape == (1, steps, 2 * hidden)  # (1, T, D*H)
    assert rows["Linear"].output_shape == (1, 4)
    expected = 2 * steps * 2 * 3 * (features * hidden + hidden * hidden) + 2 * (2 * hidden) * 4
    assert count_flops(model, (1, steps, features)) == expected


def test_image_shapes_still_work_and_are_recorded() -> None:
    summary = summarize(LeNet5(), (1, 1, 28, 28))
    assert summary.input_shape == (1, 1, 28, 28)
    assert summary.total_params == 61706


@pytest.mark.parametrize(
    "example",
    [torch.ones(2, 5, dtype=torch.int64), torch.ones(5, dtype=torch.int64), torch.ones(1, 0, dtype=torch.int64)],
)
def test_an_example_must_be_a_batch_of_one(example: torch.Tensor) -> None:
    model = RecurrentClassifier("rnn", 2, vocab_size=10)
    with pytest.raises(ValueError, match="batch of 1"):
        summarize(model, example)
