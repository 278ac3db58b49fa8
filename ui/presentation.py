"""Presentation mode and the figure-download format: the display settings in the sidebar.

Presentation mode (the sidebar's toggle, or ``?present=1`` in a link) is for a projector: the
sidebar starts collapsed, the page's text is larger (Streamlit sizes its text in ``rem``, so one
root font size scales it all) and every chart is drawn through
``playground.figures.theme.for_projector`` (fonts ×1.5 and never under 18 px, thicker lines,
taller charts). Both settings travel in the page's link (``ui.links``).
"""

from __future__ import annotations

import streamlit as st

from ui.links import link

PRESENT_KEY = "present"
EXPORT_KEY = "export"
EXPORT_FORMATS = ("png", "svg")
#: The root font size in presentation mode (Streamlit's default is 16 px): body text 22 px,
#: captions and widget labels ~19 px.
PRESENT_ROOT_FONT_PX = 22


def presenting() -> bool:
    """Whether this session shows the app in presentation mode (a link's ``?present=1`` counts
    before the toggle is drawn: app.py needs it for the page config)."""
    if PRESENT_KEY in st.session_state:
        return bool(st.session_state[PRESENT_KEY])
    return st.query_params.get(PRESENT_KEY) == "1"


def export_format() -> str:
    """The format of every chart's toolbar download: ``"png"`` (at 3× its size) or ``"svg"``."""
    fmt = st.session_state.get(EXPORT_KEY, EXPORT_FORMATS[0])
    return fmt if fmt in EXPORT_FORMATS else EXPORT_FORMATS[0]


def display_settings() -> None:
    """The sidebar's display settings (app.py draws them on every page): presentation mode and the
    charts' download format; in presentation mode the page's larger text too."""
    st.toggle(
        "Presentation mode",
        key=link(PRESENT_KEY, kind=bool, default=False),
        help="For a projector: larger text and charts, no label under 18 px; the link keeps it (?present=1).",
    )
    key = link(EXPORT_KEY, choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0])
    st.session_state.setdefault(key, EXPORT_FORMATS[0])  # the default, unless the link gave one
    st.segmented_control(
        "Chart downloads",
        EXPORT_FORMATS,
        format_func=lambda f: {"png": "PNG (3×)", "svg": "SVG"}[f],
        key=key,
        help="What the camera button in each chart's toolbar saves.",
    )
    if presenting():
        # Streamlit's own text is sized in rem: one root size makes all of it larger.
        st.html(f"<style>html {{ font-size: {PRESENT_ROOT_FONT_PX}px; }}</style>")
