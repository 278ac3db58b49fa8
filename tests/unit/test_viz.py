"""Figures carry the numbers they are given."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from playground.figures.viz import colour_levels, confusion_matrix_figure, image_grid, topk_bar, training_curves
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


def test_image_grid_is_one_mosaic_with_each_image_in_its_cell() -> None:
    images = np.random.default_rng(0).random((5, 4, 6)).astype(np.float32)
    fig = image_grid(images, [f"ch {i}" for i in range(5)], cols=3)
    assert len(fig.data) == 1  # one heatmap, not a subplot per image
    mosaic = np.asarray(fig.data[0].z)
    assert np.isnan(mosaic).any()  # transparent gaps between the images
    captions = fig.layout.annotations
    assert [a.text for a in captions] == [f"ch {i}" for i in range(5)]
    for i, caption in enumerate(captions):
        # each caption sits above its image: the image's top-left pixel is just below and left of it
        top, left = round(caption.y + 0.5), round(caption.x - (6 - 1) / 2)
        assert np.array_equal(mosaic[top : top + 4, left : left + 6], images[i])
    assert (fig.data[0].zmin, fig.data[0].zmax) == (float(images.min()), float(images.max()))  # one shared scale
    rgb = image_grid(np.ones((3, 2, 2, 3)), cols=2)
    assert len(rgb.data) == 1 and rgb.data[0].source.startswith("data:image/png;base64,")
    with pytest.raises(ValueError, match="expected"):
        image_grid(np.zeros((0, 4, 4)))
    with pytest.raises(ValueError, match="expected 2 titles"):
        image_grid(np.zeros((2, 4, 4)), ["only one"])


def png_levels(trace) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """The indices ``(H, W)`` of an indexed-PNG image trace and the RGBA pixels ``(H, W, 4)`` a browser shows."""
    image = Image.open(io.BytesIO(base64.b64decode(trace.source.split(",", 1)[1])))
    assert image.mode == "P"
    return np.asarray(image), np.asarray(image.convert("RGBA"))


def test_image_grid_per_image_scale_and_colour_bar() -> None:
    """Each map coloured by its own range: a weak map spans the whole scale; one indexed PNG, index 0 the gaps."""
    rng = np.random.default_rng(1)
    images = np.stack([rng.random((4, 4)), 0.01 * rng.random((4, 4)), rng.standard_normal((4, 4))]).astype(np.float32)
    fig = image_grid(images, ["a", "b", "c"], cols=3, per_image=True, colorbar="activation")
    z, rgba = png_levels(fig.data[0])
    assert np.array_equal(rgba, colour_levels("gray")[z])  # each level drawn in its colour
    assert (rgba[..., 3][z == 0] == 0).all() and (rgba[..., 3][z > 0] == 255).all()  # level 0: the transparent gaps
    bar = fig.data[1]  # an empty trace that carries the colour bar
    assert bar.x == (None,) and bar.marker.showscale and bar.marker.colorbar.title.text == "activation"
    assert (bar.marker.cmin, bar.marker.cmax) == (1, 255)
    assert list(bar.marker.colorbar.ticktext) == ["its min", "its max"] and list(bar.marker.colorbar.tickvals) == [
        1,
        255,
    ]
    for i, caption in enumerate(fig.layout.annotations):
        top, left = round(caption.y + 0.5), round(caption.x - 1.5)
        cell = z[top : top + 4, left : left + 4].astype(float)
        assert cell.min() == 1 and cell.max() == 255  # its own min..max, the weak map included
        expected = 1 + 254 * (images[i] - images[i].min()) / np.ptp(images[i])
        assert np.abs(cell - expected).max() <= 0.5  # rounded to the nearest level
    assert (z == 0).sum() == z.size - 3 * 16  # everything else is a gap
    assert len(image_grid(images, per_image=True).data) == 1  # no colour bar asked: no second trace
    # signed values (weights), each on its own symmetric range: 0 is the middle level of every cell
    signed = images[2:] - images[2:].mean()
    z, _ = png_levels(image_grid(signed, per_image=True, symmetric=True, colorbar="weight").data[0])
    m = np.abs(signed[0]).max()
    z = z.astype(float)
    assert np.abs(z - (128 + 127 * signed[0] / m)).max() <= 0.5 and {z.min(), z.max()} & {1, 255}
    # one shared symmetric scale: [-max|x|, max|x|], the values themselves; no colour bar unless asked
    shared = image_grid(images[2:], symmetric=True)
    peak = float(np.abs(images[2]).max())
    assert (shared.data[0].zmin, shared.data[0].zmax) == (-peak, peak) and not shared.data[0].showscale
    assert np.allclose(np.asarray(shared.data[0].z, dtype=float), images[2])


def test_colour_levels_span_the_colour_scale() -> None:
    table = colour_levels([[0.0, "rgb(0, 0, 255)"], [1.0, "rgb(255, 0, 0)"]])
    assert table.shape == (256, 4) and table.dtype == np.uint8
    assert (
        list(table[0]) == [0, 0, 0, 0] and list(table[1]) == [0, 0, 255, 255] and list(table[255]) == [255, 0, 0, 255]
    )
    assert abs(int(table[128, 0]) - 128) <= 1  # the middle level, half way


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


def test_class_names_from_users_are_plain_text_in_every_figure() -> None:
    """A class folder or CSV label with markup is drawn as typed, never as plotly's bold / link / line break."""
    from playground.figures.viz import class_balance_figure, per_class_bar

    hostile = ["<b>cats</b>", '<a href="https://evil.example">dogs</a>']
    escaped = ["&lt;b&gt;cats&lt;/b&gt;", '&lt;a href="https://evil.example"&gt;dogs&lt;/a&gt;']
    assert list(class_balance_figure({"train": [3, 4]}, hostile).data[0].x) == escaped
    assert list(per_class_bar(np.array([0.5, 0.7]), hostile, "accuracy").data[0].x) == escaped
    confusion = confusion_matrix_figure(np.eye(2, dtype=int), hostile)
    assert list(confusion.data[0].x) == escaped and list(confusion.data[0].y) == escaped
    bars = topk_bar([TopK(hostile[0], 0, 0.9), TopK(hostile[1], 1, 0.1)])
    assert sorted(bars.data[0].y) == sorted(escaped)
    grid = image_grid(np.zeros((2, 4, 4)), [f"{hostile[0]} → {hostile[1]}", "ok"])
    assert [a.text for a in grid.layout.annotations] == [f"{escaped[0]} → {escaped[1]}", "ok"]


def test_epoch_axes_tick_whole_epochs_on_short_runs() -> None:
    from playground.figures.training import runs_comparison_figure

    def record(e: int) -> dict:  # type: ignore[type-arg]
        return {"epoch": e, "train_loss": 1.0, "val_loss": 1.0, "train_accuracy": 0.5, "val_accuracy": 0.5}

    short = training_curves([record(e) for e in (1, 2, 3)])
    assert short.layout.xaxis.dtick == 1 and short.layout.xaxis.title.text == "epoch"  # no tick at 1.5
    assert training_curves([record(e) for e in range(1, 31)]).layout.xaxis.dtick is None  # plotly's own spacing
    runs = runs_comparison_figure({"a": [record(e) for e in (1, 2, 3)]})
    assert runs.layout.xaxis.dtick == 1 and runs.layout.xaxis2.dtick == 1
