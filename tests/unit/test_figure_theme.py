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
    big = theme.apply_theme(build(), title="t", height=300, scale=2.0)
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


def _plotly_chart_calls_without_theme_config() -> tuple[int, list[str]]:
    """Every ``<container>.plotly_chart(...)`` in the app's pages and ui, and those whose ``config=``
    is not the theme's (``PLOTLY_CONFIG`` or ``export_config(...)`` / the attention page's wrapper)."""
    root = Path(__file__).resolve().parents[2]
    files = [root / "app.py", *sorted((root / "pages").glob("*.py")), *sorted((root / "ui").glob("*.py"))]
    total, missing = 0, []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "plotly_chart":
                continue
            total += 1
            config = next((k.value for k in node.keywords if k.arg == "config"), None)
            themed = (isinstance(config, ast.Name) and config.id == "PLOTLY_CONFIG") or (
                isinstance(config, ast.Call)
                and isinstance(config.func, ast.Name)
                and config.func.id in {"export_config", "_plot_config"}
            )
            if not themed:
                missing.append(f"{path.relative_to(root)}:{node.lineno}")
    return total, missing


def test_every_chart_in_the_app_exports_through_the_theme_config() -> None:
    total, missing = _plotly_chart_calls_without_theme_config()
    assert total > 50  # the walk found the app's charts (74 when written)
    assert missing == []
