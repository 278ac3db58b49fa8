"""The figures' one theme: the same font and margins everywhere, and one scale factor for presentation mode."""

from __future__ import annotations

import ast
from pathlib import Path

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
    big = theme.for_projector(
        theme.apply_theme(build(), title="t", height=300), scale=2.0, height_scale=1.0, min_font=0
    )
    assert big.layout.font.size == 2 * theme.FONT_SIZE and big.layout.annotations[0].font.size == 22
    assert big.data[0].line.width == 4 and big.data[0].marker.size == 18
    assert big.layout.height == 300 and big.layout.title.text == "t"


def test_image_margins_override_the_chart_margins() -> None:
    fig = theme.apply_theme(go.Figure(), margin=theme.IMAGE_MARGIN)
    assert (fig.layout.margin.l, fig.layout.margin.r, fig.layout.margin.t, fig.layout.margin.b) == (0, 0, 40, 0)


def test_export_config_and_colour_helpers() -> None:
    assert theme.PLOTLY_CONFIG["toImageButtonOptions"] == {"format": "png", "scale": 3}
    svg = theme.export_config("head_view", "svg")
    assert svg["toImageButtonOptions"] == {"format": "svg", "scale": 3, "filename": "head_view"}
    assert svg["displaylogo"] is False and theme.PLOTLY_CONFIG["toImageButtonOptions"]["format"] == "png"
    assert theme.rgb(theme.BLUE) == (76, 120, 168) and theme.rgba(theme.BLUE, 0.35) == "rgba(76,120,168,0.35)"
    assert display_token("a <b>\n", 12) == "a␣&lt;b&gt;↵"


def _chart_calls() -> tuple[list[str], list[str]]:
    """The app's pages and ui: calls of ``ui.charts.plotly_chart`` and of any ``<x>.plotly_chart``
    (Streamlit's own, which only ui/charts.py may call: there the theme's config is passed)."""
    root = Path(__file__).resolve().parents[2]
    files = [root / "app.py", *sorted((root / "pages").glob("*.py")), *sorted((root / "ui").glob("*.py"))]
    ours, direct = [], []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            if isinstance(node.func, ast.Name) and node.func.id == "plotly_chart":
                ours.append(where)
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "plotly_chart":
                direct.append(where)
    return ours, direct


def test_every_chart_in_the_app_is_drawn_through_the_theme() -> None:
    ours, direct = _chart_calls()
    assert len(ours) > 50  # the walk found the app's charts (58 when written)
    assert [d.split(":")[0] for d in direct] == [
        "ui/charts.py"
    ]  # the one place that passes export_config(...) to Streamlit


def test_for_projector_scales_a_copy_and_no_font_is_under_the_minimum() -> None:
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], line={"width": 2}, marker={"size": 9}, textfont={"size": 8}))
    fig.add_annotation(text="caption", font={"size": theme.SMALL_FONT_SIZE})
    fig.update_xaxes(tickfont={"size": 10})
    theme.apply_theme(fig, title="t", height=300)
    big = theme.for_projector(fig)
    assert big.layout.font.size == theme.FONT_SIZE * theme.PROJECTOR_SCALE  # 22.5: ticks and legends follow it
    assert big.layout.annotations[0].font.size == theme.PROJECTOR_MIN_FONT  # 11 * 1.5 = 16.5 -> 18
    assert big.layout.xaxis.tickfont.size == theme.PROJECTOR_MIN_FONT and big.data[0].textfont.size == 18
    assert big.data[0].line.width == 3 and big.data[0].marker.size == 13.5
    assert big.layout.height == 300 * theme.PROJECTOR_HEIGHT
    # the figure given is left as it was (figures are kept between reruns)
    assert fig.layout.annotations[0].font.size == theme.SMALL_FONT_SIZE and fig.data[0].line.width == 2
    assert fig.layout.height == 300
    noted = go.Figure()
    noted.add_annotation(text="q·k<sub>j</sub>", font={"size": 13})
    theme.apply_theme(noted, title="maps<br><sub>downsampled 2×</sub>")
    big = theme.for_projector(noted)
    # plotly draws <sub> at 70 %: the title and the annotation grow until that part is 18 px too
    assert big.layout.title.font.size * 0.7 >= 18 and big.layout.annotations[0].font.size * 0.7 >= 18
    # a heatmap's colour bar gets the large font; a bar chart gets no colour bar it did not have
    heat = theme.for_projector(go.Figure(go.Heatmap(z=[[0, 1], [2, 3]])))
    assert heat.data[0].colorbar.tickfont.size == theme.FONT_SIZE * theme.PROJECTOR_SCALE
    bars = theme.for_projector(go.Figure(go.Bar(y=[1, 2], marker={"color": [1, 2], "colorscale": "Blues"})))
    assert "colorbar" not in bars.data[0].marker.to_plotly_json()
