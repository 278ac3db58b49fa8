"""Every chart of the app is drawn here: the figure theme's export config, and the projector's
copy of the figure in presentation mode."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from playground.figures.theme import export_config, for_projector
from ui.presentation import export_format, presenting


def plotly_chart(fig: go.Figure, *, key: str, where: Any = None, filename: str | None = None) -> None:
    """Draw ``fig`` in ``where`` (a column or container; default the page).

    The toolbar's camera button saves it in the sidebar's format (PNG at 3× its size, or SVG) as
    ``filename`` (default ``key``). In presentation mode the chart is
    :func:`~playground.figures.theme.for_projector`'s copy; ``fig`` itself is not changed (it may
    be a figure kept between reruns).
    """
    shown = for_projector(fig) if presenting() else fig
    (where or st).plotly_chart(shown, key=key, config=export_config(filename or key, export_format()))
