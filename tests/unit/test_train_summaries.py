"""The Train page's library parts: dataset statistics, the sequence example figure, the mistakes table."""

import numpy as np
import pytest
import torch

from playground.data.base import ImageDataset, SequenceDataset, TextDataset
from playground.data.stats import dataset_stats, example_indices
from playground.figures.training import sequence_example_figure
from playground.training.evaluate import mistakes, summarize_logits


def test_image_stats_and_summary() -> None:
    images = torch.zeros((5, 3, 12, 20), dtype=torch.uint8)
    data = ImageDataset("tiny", images, torch.tensor([0, 1, 2, 0, 1]), ["a", "b", "c"])
    stats = dataset_stats(data)
    assert (stats.kind, stats.size, stats.num_classes, stats.channels, stats.image_size) == (
        "images",
        5,
        3,
        3,
        (12, 20),
    )
    assert stats.summary() == "**5 images** · 3 channel(s) · 12×20 px · 3 classes"


def test_text_stats_count_words_and_characters() -> None:
    texts = ["one two three", "hello", "a b", "long text of many words here"]  # words 3, 1, 2, 6; chars 13, 5, 3, 28
    data = TextDataset("t", texts, torch.tensor([0, 1, 0, 1]), ["x", "y"])
    stats = dataset_stats(data)
    assert (stats.kind, stats.size, stats.num_classes) == ("texts", 4, 2)
    assert (stats.median_words, stats.median_chars, stats.longest_chars) == (2, 9, 28)  # int(2.5) = 2, int(9.0)
    assert stats.summary() == "**4 texts** · 2 classes · median 2 words (9 characters), longest 28 characters"
    one_word = dataset_stats(TextDataset("t", ["hi", "yo", "ok there"], torch.tensor([0, 0, 1]), ["x", "y"]))
    assert one_word.median_words == 1 and "median 1 word (2 characters)" in one_word.summary()


def test_sequence_stats_and_figure() -> None:
    values = torch.arange(3 * 7 * 6, dtype=torch.float32).reshape(3, 7, 6)  # N=3, T=7, F=6
    data = SequenceDataset("s", values, torch.tensor([1, 0, 1]), ["low", "high"], [f"f{i}" for i in range(6)])
    stats = dataset_stats(data)
    assert (stats.kind, stats.size, stats.length, stats.num_features) == ("sequences", 3, 7, 6)
    assert stats.summary() == "**3 sequences** of T = 7 steps × F = 6 features · 2 classes"
    fig = sequence_example_figure(data, 2)
    assert [t.name for t in fig.data] == ["f0", "f1", "f2", "f3"]  # the first 4 of 6 features
    assert list(fig.data[1].y) == values[2, :, 1].tolist()
    assert fig.layout.title.text == "example 2: high (first 4 of 6 features)"
    assert len(sequence_example_figure(data, 0, max_features=10).data) == 6


def test_example_indices_are_distinct_fixed_and_capped() -> None:
    data = TextDataset("t", [f"text {i}" for i in range(30)], torch.zeros(30, dtype=torch.int64), ["x"])
    idx = example_indices(data, 12, seed=0)
    assert idx == np.random.default_rng(0).choice(30, size=12, replace=False).tolist()
    assert len(set(idx)) == 12 and idx == example_indices(data, 12, seed=0)
    assert sorted(example_indices(data, 50)) == list(range(30))


def test_stats_refuse_other_objects() -> None:
    with pytest.raises(TypeError, match="expected an image, text, sequence or audio dataset, got list"):
        dataset_stats([1, 2])  # type: ignore[arg-type]


def test_mistakes_are_the_most_confident_first_with_dataset_indices() -> None:
    # 5 validation examples, 3 classes; rows 1, 3 and 4 are wrong with confidences 0.9 > 0.8 > 0.6 (roughly).
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.05, 0.9, 0.05], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    evaluation = summarize_logits(probs.log(), torch.tensor([0, 0, 2, 1, 1]))
    val_indices = torch.tensor([40, 41, 42, 43, 44])
    found = mistakes(evaluation, val_indices, ["cat", "dog", "fox"])
    assert [(m.position, m.index, m.true, m.predicted) for m in found] == [
        (1, 41, "cat", "dog"),
        (3, 43, "dog", "fox"),
        (4, 44, "dog", "cat"),
    ]
    assert [m.confidence for m in found] == pytest.approx([0.9, 0.8, 0.6])
    assert [m.index for m in mistakes(evaluation, val_indices, ["cat", "dog", "fox"], limit=2)] == [41, 43]
