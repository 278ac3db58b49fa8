"""The figures' one theme: the same font and margins everywhere, and one scale factor for presentation mode."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from playground.figures import theme
from playground.figures.helpers import display_token
from playground.figures.rnn import units_figure
from playground.figures.viz import topk_bar
from playground.inspection.predict import TopK


def test_every_builder_gets_the_theme_font_and_margins() -> None:
    fig = topk_bar([TopK(label="cat", index=0, probability=0.9)], title="top")
    assert fig.layout.font.size == theme.FONT_SIZE
    assert fig.layout.margin.l == theme.MARGIN["l"] and fig.layout.margin.t == theme.TOP_MARGIN_TITLE
    untitled = units_figure(np.zeros((3, 2)), ["a", "b", "c"], [0, 1])
    assert untitled.layout.margin.t == theme.TOP_MARGIN and untitled.layout.margin.b == theme.MARGIN["b"]


def test_scale_multiplies_fonts_lines_and_markers_and_one_changes_nothing() -> None:
    def build() -> go.Figure:
        fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], line={"width": 2}, marker={"size": 9}))
        fig.add_annotation(text="note", font={"size": 11})
        return fig

    as_built = theme.apply_theme(build(), title="t", height=300)
    assert as_built.data[0].line.width == 2 and as_built.data[0].marker.size == 9
    big = theme.apply_theme(build(), title="t", height=300, scale=2.0)
    assert big.layout.font.size == 2 * theme.FONT_SIZE and big.layout.annotations[0].font.size == 22
    assert big.data[0].line.width == 4 and big.data[0].marker.size == 18
    assert big.layout.height == 300 and big.layout.title.text == "t"


def test_image_margins_override_the_chart_margins() -> None:
    fig = theme.apply_theme(go.Figure(), margin=theme.IMAGE_MARGIN)
    assert (fig.layout.margin.l, fig.layout.margin.r, fig.layout.margin.t, fig.layout.margin.b) == (0, 0, 40, 0)


def test_export_config_and_colour_helpers() -> None:
    assert theme.PLOTLY_CONFIG["toImageButtonOptions"] == {"format": "png", "scale": 3}
    assert theme.rgb(theme.BLUE) == (76, 120, 168) and theme.rgba(theme.BLUE, 0.35) == "rgba(76,120,168,0.35)"
    assert display_token("a <b>\n", 12) == "a␣&lt;b&gt;↵"
