"""Figures carry the numbers they are given."""

import numpy as np
import pytest

from playground.figures.viz import confusion_matrix_figure, image_grid, topk_bar, training_curves
from playground.inspection.predict import TopK


def test_topk_bar_most_probable_on_top() -> None:
    fig = topk_bar([TopK("cat", 3, 0.7), TopK("dog", 1, 0.2)])
    bar = fig.data[0]
    assert list(bar.y) == ["dog", "cat"] and list(bar.x) == [0.2, 0.7]


def test_training_curves_traces() -> None:
    history = [
        {"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "train_accuracy": 0.5, "val_accuracy": 0.6},
        {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6, "train_accuracy": 0.8, "val_accuracy": 0.7},
    ]
    fig = training_curves(history, [(1, 2.0), (2, 1.5)], steps_per_epoch=2)
    names = {t.name: t for t in fig.data}
    assert list(names["val accuracy"].y) == [0.6, 0.7]
    assert list(names["batch loss"].x) == [0.5, 1.0]


def test_confusion_matrix_rows_normalised() -> None:
    fig = confusion_matrix_figure(np.array([[3, 1], [0, 4]]), ["a", "b"])
    z = np.array(fig.data[0].z)
    assert np.allclose(z, [[0.75, 0.25], [0, 1]])


def test_image_grid_shapes() -> None:
    fig = image_grid(np.random.rand(5, 4, 4), [str(i) for i in range(5)], cols=3)
    assert len(fig.data) == 5
    with pytest.raises(ValueError, match="expected"):
        image_grid(np.zeros((0, 4, 4)))


def test_to_display_layouts_and_scale() -> None:
    import torch

    from playground.figures.viz import to_display

    rgb = torch.zeros(3, 4, 5)
    rgb[0] = 1.0
    out = to_display(rgb)
    assert out.shape == (4, 5, 3) and out[..., 0].min() == 1.0 and out[..., 1].max() == 0.0
    gray = torch.full((2, 1, 4, 4), 255, dtype=torch.uint8)
    assert to_display(gray).shape == (2, 4, 4) and to_display(gray).max() == 1.0
    with pytest.raises(ValueError, match="1 or 3 channels"):
        to_display(torch.zeros(2, 4, 4))
