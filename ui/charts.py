"""Every chart of the app is drawn here: the figure theme's export config, the projector's copy of
the figure in presentation mode, and a record of the page's figures for the figure pack."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from playground.figures.pack import figure_pack, safe_name
from playground.figures.theme import export_config, for_projector
from ui.presentation import export_format, presenting

_DRAWN = "_figures_drawn"  # session-state key: {key: figure} of the page's last run, in drawing order


def start_page_figures() -> dict[str, go.Figure]:
    """A new record of the figures this run draws (app.py calls it first); returns it."""
    drawn: dict[str, go.Figure] = {}
    st.session_state[_DRAWN] = drawn
    return drawn


def plotly_chart(fig: go.Figure, *, key: str, where: Any = None, filename: str | None = None) -> None:
    """Draw ``fig`` in ``where`` (a column or container; default the page).

    The toolbar's camera button saves it in the sidebar's format (PNG at 3× its size, or SVG) as
    ``filename`` (default ``key``). In presentation mode the chart is
    :func:`~playground.figures.theme.for_projector`'s copy; ``fig`` itself is not changed (it may
    be a figure kept between reruns). The figure is recorded for the page's figure pack.
    """
    shown = for_projector(fig) if presenting() else fig
    st.session_state.setdefault(_DRAWN, {})[filename or key] = fig
    (where or st).plotly_chart(shown, key=key, config=export_config(filename or key, export_format()))


def figure_pack_button(drawn: dict[str, go.Figure], page: str, model: str) -> None:
    """A sidebar download of the page's figures (HTML, JSON and CSV each; ``playground.figures.pack``).

    Args:
        drawn: this run's record (:func:`start_page_figures`), filled while the page runs after
            the sidebar is drawn. The zip is built from it when clicked, on Streamlit's download
            thread (no session state there).
        page, model: their titles, for the file name and the README.
    """

    def build() -> bytes:
        return figure_pack(list(drawn.items()), page=page, model=model)

    st.download_button(
        "Figure pack (.zip)",
        data=build,
        file_name=f"{safe_name(page)}-{safe_name(model)}-figures.zip",
        mime="application/zip",
        icon=":material/download:",
        key="figure_pack",
        on_click="ignore",  # a download needs no rerun
        help="Every chart of this page as interactive HTML, plotly JSON and its numbers as CSV, for slides and notes.",
    )
