"""The one theme of every figure: fonts, margins, colours, line widths, marker sizes and the export config.

Every builder in :mod:`playground.figures` draws with these constants and ends with
:func:`apply_theme`, which sets the layout's font and margins (and the title and height). The
classroom's presentation mode draws :func:`for_projector`'s copy of a figure: every font, line
width and marker size times one factor, and no text under 18 px.

The colours are the Tableau 10 / Vega palette (blue ``#4C78A8``, orange ``#F58518``, ...); the
colour scales are plotly's named ones (https://plotly.com/python/builtin-colorscales/).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

# -- fonts -------------------------------------------------------------------------------------

FONT_SIZE = 15  # the base font: readable on a projector
#: ``None``: the page's own family (Streamlit's theme sets it; plotly's default outside Streamlit).
FONT_FAMILY: str | None = None
LABEL_FONT_SIZE = 13  # panel titles of small multiples, token labels of the head view
SMALL_FONT_SIZE = 11  # captions of image grids, panel titles of the attention model view
NOTE_FONT_SIZE = 10  # notes written inside a panel (e.g. why a method could not run)

# -- margins (pixels) ----------------------------------------------------------------------------

#: Left, right and bottom margins of charts with axes; room for token tick labels (rotated at -60°).
MARGIN: dict[str, int] = {"l": 60, "r": 20, "b": 50}
TOP_MARGIN = 20  # without a title
TOP_MARGIN_TITLE = 60  # with a title (one line, or a line and a ``<sub>`` note)
#: Images and maps without axes: no side margins, room for a title.
IMAGE_MARGIN: dict[str, int] = {"l": 0, "r": 0, "t": 40, "b": 0}

# -- lines and markers ---------------------------------------------------------------------------

LINE_WIDTH = 2  # data lines
THIN_LINE_WIDTH = 1  # guides (zero lines, paths behind markers)
MARKER_SIZE = 9
COLORBAR_THICKNESS = 12

# -- colours ---------------------------------------------------------------------------------------

BLUE = "#4C78A8"
ORANGE = "#F58518"
GREEN = "#54A24B"
RED = "#E45756"
#: Categorical colours, cycled: one per class, unit, perturbation, ...
PALETTE = [BLUE, ORANGE, GREEN, RED, "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC"]
GUIDE_GREY = "#999"  # zero lines
PATH_GREY = "#BBB"  # a path joining markers
#: Positive and negative attributions (the ends of ``RdBu``): red pushes the target up, blue down.
POSITIVE = "#d6604d"
NEGATIVE = "#4393c3"
HEAD_COLOURS = qualitative.Dark24  # one colour per attention head (cycled beyond 24)

SEQUENTIAL = "Viridis"  # values in [0, 1] or from 0 up: gates, attention weights, steps
DIVERGING = "RdBu_r"  # blue < 0 < red, white at 0: tanh values, signed attributions
UNSIGNED = "Reds"  # magnitudes from 0: unsigned attributions
OVERLAY = "Inferno"  # a map drawn over a photo
COUNTS = "Blues"  # a confusion matrix

# -- scale and export ------------------------------------------------------------------------------

#: Every chart's config (``ui.charts.plotly_chart`` passes it; a test checks no page draws around it):
#: the toolbar's camera button saves the figure as a PNG at 3× its size on screen, sharp on a slide;
#: no plotly logo.
PLOTLY_CONFIG: dict[str, Any] = {"toImageButtonOptions": {"format": "png", "scale": 3}, "displaylogo": False}


#: Presentation mode (issue 14): fonts, line widths and markers times this, heights times
#: :data:`PROJECTOR_HEIGHT`, and no text smaller than :data:`PROJECTOR_MIN_FONT` pixels.
PROJECTOR_SCALE = 1.5
PROJECTOR_HEIGHT = 1.25
PROJECTOR_MIN_FONT = 18  # px: the smallest label that reads from the back of a classroom
#: Keys of a figure's JSON that hold a font (``{"size": ...}``) somewhere in layout or traces.
_FONT_KEYS = frozenset({"font", "tickfont", "textfont", "insidetextfont", "outsidetextfont", "titlefont"})


def export_config(filename: str, fmt: str = "png") -> dict[str, Any]:
    """:data:`PLOTLY_CONFIG` with the download's file name and format (``"png"`` or ``"svg"``) chosen."""
    return {
        **PLOTLY_CONFIG,
        "toImageButtonOptions": {**PLOTLY_CONFIG["toImageButtonOptions"], "format": fmt, "filename": filename},
    }


def rgb(colour: str) -> tuple[int, int, int]:
    """``"#4C78A8"`` -> ``(76, 120, 168)``.

    Raises:
        ValueError: not a ``#RRGGBB`` string.
    """
    if len(colour) != 7 or not colour.startswith("#"):
        raise ValueError(f"expected a #RRGGBB colour, got {colour!r}")
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def rgba(colour: str, alpha: float) -> str:
    """``rgba("#4C78A8", 0.35)`` -> ``"rgba(76,120,168,0.35)"``: a palette colour made translucent."""
    r, g, b = rgb(colour)
    return f"rgba({r},{g},{b},{alpha:g})"


def _scale_lines_and_markers(fig: go.Figure, factor: float) -> None:
    """Multiply the shapes' line widths and the traces' line widths and marker sizes (in place)."""
    for shape in fig.layout.shapes:
        if isinstance(shape.line.width, int | float):
            shape.line.width *= factor
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if line is not None and isinstance(line.width, int | float):
            line.width *= factor
        marker = getattr(trace, "marker", None)
        if marker is not None:  # a bar's or a pie's marker has no size; some have no outline
            if isinstance(getattr(marker, "size", None), int | float):
                marker.size *= factor
            outline = getattr(marker, "line", None)
            if outline is not None and isinstance(outline.width, int | float):
                outline.width *= factor


def apply_theme(
    fig: go.Figure,
    *,
    title: str | None = None,
    height: int | None = None,
    margin: Mapping[str, int] | None = None,
) -> go.Figure:
    """Set the theme's font and margins on ``fig`` (in place) and return it.

    Args:
        fig: a figure as its builder drew it.
        title: the figure's title (already escaped); ``None`` keeps the figure's own.
        height: in pixels; ``None`` keeps the figure's own.
        margin: overrides of :data:`MARGIN` and the top margin (e.g. :data:`IMAGE_MARGIN`); the top
            margin is otherwise :data:`TOP_MARGIN_TITLE` when the figure has a title, else :data:`TOP_MARGIN`.

    Returns:
        ``fig``.
    """
    if title is not None:
        fig.update_layout(title=title)
    top = TOP_MARGIN_TITLE if fig.layout.title.text else TOP_MARGIN
    font: dict[str, Any] = {"size": FONT_SIZE}
    if FONT_FAMILY is not None:
        font["family"] = FONT_FAMILY
    fig.update_layout(font=font, margin={**MARGIN, "t": top, **(margin or {})})
    if height is not None:
        fig.update_layout(height=height)
    return fig


def _projector_fonts(node: Any, factor: float, min_font: float) -> None:
    """Walk a figure's JSON (dicts and lists) and scale every ``<font key>.size``, at least ``min_font``."""
    if isinstance(node, list):
        for item in node:
            _projector_fonts(item, factor, min_font)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _FONT_KEYS and isinstance(value, dict):
            size = value.get("size")
            if isinstance(size, int | float):
                value["size"] = max(size * factor, min_font)
            elif isinstance(size, list):  # a size per point
                value["size"] = [max(s * factor, min_font) for s in size]
        _projector_fonts(value, factor, min_font)


def for_projector(
    fig: go.Figure,
    *,
    scale: float = PROJECTOR_SCALE,
    height_scale: float = PROJECTOR_HEIGHT,
    min_font: float = PROJECTOR_MIN_FONT,
) -> go.Figure:
    """A copy of ``fig`` for a projector: every font ``scale`` times larger and at least ``min_font``
    px, line widths and marker sizes ``scale`` times, the height ``height_scale`` times.

    ``fig`` itself is left as it is (figures are kept between reruns). Fonts without an explicit
    size (axis ticks, legends, colour bars) follow the layout's font, which is set here; plotly
    derives a title's size from it too, so no text of the copy is drawn below ``min_font``.

    Args:
        fig: a figure as its builder drew it (after :func:`apply_theme`).
        scale: multiplies font sizes, line widths and marker sizes (1.5: 15 px text becomes 22.5 px).
        height_scale: multiplies ``layout.height`` where the figure sets one.
        min_font: the smallest font size in pixels.

    Returns:
        A new figure.
    """
    spec = fig.to_plotly_json()  # a deep copy: plain dicts and lists
    layout = spec.setdefault("layout", {})
    font = layout.setdefault("font", {})
    font["size"] = font.get("size") or FONT_SIZE
    _projector_fonts(spec, scale, min_font)
    if isinstance(layout.get("height"), int | float):
        layout["height"] = layout["height"] * height_scale
    big = go.Figure(spec)
    _scale_lines_and_markers(big, scale)
    _pin_inherited_fonts(big, layout["font"]["size"])
    _fit_subscripts(big, min_font)
    return big


#: Plotly draws ``<sub>`` and ``<sup>`` at 70 % of their text's size (plotly.js ``svg_text_utils``).
_SUB_SHARE = 0.7


def _fit_subscripts(fig: go.Figure, min_font: float) -> None:
    """Titles and annotations with ``<sub>``/``<sup>`` text: large enough that the 70 % part is ``min_font``."""
    least = math.ceil(min_font / _SUB_SHARE)  # whole pixels: 25.71 drew the 70 % part at 17.997 px
    holders = [fig.layout.title, *fig.layout.annotations]
    for holder in holders:
        text = holder.text or ""
        if ("<sub>" in text or "<sup>" in text) and (holder.font.size or 0) < least:
            holder.font.size = least


def _pin_inherited_fonts(fig: go.Figure, size: float) -> None:
    """Give the text that would follow the layout's font an explicit ``size``.

    Streamlit's chart theme sets axis ticks, legends and colour bars to its own small sizes
    (0.75 rem) unless the figure sets them, so every font that is still unset is set here.
    """

    def pin(font: Any) -> None:
        if font.size is None:
            font.size = size

    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        pin(axis.tickfont)
        pin(axis.title.font)
    pin(fig.layout.legend.font)
    pin(fig.layout.title.font)
    pin(fig.layout.coloraxis.colorbar.tickfont)
    pin(fig.layout.coloraxis.colorbar.title.font)
    for trace in fig.data:
        for holder in (trace, getattr(trace, "marker", None)):
            # Only a colour bar that is drawn: touching ``holder.colorbar`` of a bar's marker would
            # create one, and plotly would then draw a scale that means nothing.
            if holder is None or not _shows_scale(holder):
                continue
            pin(holder.colorbar.tickfont)
            pin(holder.colorbar.title.font)


def _shows_scale(holder: Any) -> bool:
    """Whether a trace (heatmap, contour: shown unless ``showscale=False``) or a marker (only with
    ``showscale=True``) draws a colour bar."""
    showscale = getattr(holder, "showscale", None)
    if showscale is not None:
        return bool(showscale)
    return getattr(holder, "type", None) in ("heatmap", "contour", "histogram2d", "histogram2dcontour")
