"""The Explain page's figures: colour scales centred at zero, escaped tokens, one panel per method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.figures.explain import (
    deletion_insertion_figure,
    map_figure,
    methods_grid_figure,
    overlay_figure,
    token_bar_figure,
    tokens_html,
)


def test_signed_maps_are_centred_at_zero_and_unsigned_start_at_zero() -> None:
    heat = torch.linspace(-0.2, 1.0, 16).reshape(4, 4)  # not symmetric on purpose
    signed = map_figure(heat, "signed").data[0]
    assert signed.zmid == 0 and signed.zmin == -signed.zmax
    np.testing.assert_allclose(np.asarray(signed.z), heat.numpy())
    positive = map_figure(heat.clamp(min=0), "positive").data[0]
    assert positive.zmin == 0 and positive.zmid is None
    with pytest.raises(ValueError, match="mode"):
        map_figure(heat, "both")  # type: ignore[arg-type]


def test_overlay_puts_the_map_over_the_image_with_its_opacity() -> None:
    pixels = torch.rand(1, 5, 6)
    fig = overlay_figure(pixels, torch.zeros(5, 6), "signed", opacity=0.25)
    image, heat = fig.data
    assert image.type == "image" and np.asarray(image.z).shape == (5, 6, 3)
    assert heat.opacity == 0.25 and heat.zmid == 0
    assert np.asarray(image.z)[2, 3, 0] == round(float(pixels[0, 2, 3]) * 255)
    with pytest.raises(ValueError, match="differs"):
        overlay_figure(pixels, torch.zeros(4, 6))
    with pytest.raises(ValueError, match="opacity"):
        overlay_figure(pixels, torch.zeros(5, 6), opacity=2.0)


def test_grid_has_one_panel_per_method_and_shows_reasons() -> None:
    maps = {"A": torch.rand(3, 3), "B": "B needs a convolutional layer <here>", "C": torch.rand(3, 3)}
    fig = methods_grid_figure(maps, "signed", columns=2)
    assert len(fig.data) == 3
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:3] == ["A", "B", "C"]
    assert any("&lt;here&gt;" in t for t in titles[3:])  # the reason, escaped
    assert {t.xaxis for t in fig.data} == {"x", "x2", "x3"}  # three different panels
    with pytest.raises(ValueError, match="at least one"):
        methods_grid_figure({})


def test_tokens_are_escaped_and_coloured_by_sign() -> None:
    html = tokens_html(["<b>", "ok", "&"], torch.tensor([0.5, -1.0, 0.0]))
    assert "<b>" not in html and "&lt;b&gt;" in html and "&amp;" in html
    assert "rgba(214,96,77,0.500)" in html and "rgba(67,147,195,1.000)" in html
    with pytest.raises(ValueError, match="one score per token"):
        tokens_html(["a"], torch.zeros(2))


def test_token_bars_show_the_top_tokens_largest_on_top() -> None:
    values = torch.tensor([0.1, -3.0, 2.0, 0.5])
    bar = token_bar_figure(["a", "b", "c", "d"], values, top_k=2).data[0]
    assert list(bar.y) == ["c · 2", "b · 1"]  # plotly draws the last bar on top
    np.testing.assert_allclose(bar.x, [2.0, -3.0])


def test_deletion_insertion_curves_carry_their_auc() -> None:
    fig = deletion_insertion_figure([0, 0.5, 1], [0.9, 0.3, 0.1], [0.1, 0.6, 0.9], 0.4, 0.55)
    assert [len(t.x) for t in fig.data] == [3, 3]
    assert "0.400" in fig.data[0].name and "0.550" in fig.data[1].name
    with pytest.raises(ValueError, match="as long as"):
        deletion_insertion_figure([0, 1], [0.5], [0.5, 0.6], 0.0, 0.0)
