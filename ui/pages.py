"""The page registry: the navigation in app.py and the AppTest suite walk the same list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ui.presentation import presenting


@dataclass(frozen=True)
class PageEntry:
    path: str
    title: str
    icon: str
    default: bool = False


PAGES: list[PageEntry] = [
    PageEntry("pages/home.py", "Home", ":material/home:", default=True),
    PageEntry("pages/learn.py", "Learn", ":material/school:"),
    PageEntry("pages/models.py", "Models", ":material/account_tree:"),
    PageEntry("pages/train.py", "Train", ":material/model_training:"),
    PageEntry("pages/runs.py", "Runs", ":material/format_list_bulleted:"),
    PageEntry("pages/predict.py", "Predict", ":material/image_search:"),
    PageEntry("pages/features.py", "Filters & feature maps", ":material/grid_view:"),
    PageEntry("pages/rnn_states.py", "RNN states", ":material/timeline:"),
    PageEntry("pages/attention.py", "Attention", ":material/hub:"),
    PageEntry("pages/explain.py", "Explain", ":material/psychology:"),
    PageEntry("pages/compare.py", "Compare", ":material/compare:"),
    PageEntry("pages/robustness.py", "Robustness", ":material/shield:"),
]


_ENTRY_KEY = "_ran_through_app"


FAVICON = Path(__file__).resolve().parents[1] / "assets" / "favicon.png"  # scripts/make_favicon.py draws it


def lesson_link(section: str) -> None:
    """A link to the Learn page, which walks the tutorial article the playground grew from: pages
    that quote "the article" say where it is explained (``section``, e.g. ``"3.3 self-attention"``)."""
    st.page_link("pages/learn.py", label=f"The article, {section}, on the Learn page", icon=":material/school:")


def set_page_config() -> None:
    """The app's title, wide layout and its own favicon (called first on every run).

    A local favicon, because a ``:material/…`` icon (ours or a page's) makes every browser fetch
    it from fonts.gstatic.com: the app makes no request to any other host.
    """
    sidebar = "collapsed" if presenting() else "auto"  # presentation mode starts without the sidebar
    st.set_page_config(
        page_title="Deep Learning Playground", page_icon=str(FAVICON), layout="wide", initial_sidebar_state=sidebar
    )


def navigation() -> StreamlitPage:
    """``st.navigation`` over :data:`PAGES` (called once per run by app.py)."""
    return st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=p.default) for p in PAGES])


def mark_app_entry() -> None:
    """app.py calls this on every run, before it runs the page (see :func:`ensure_app_entry`)."""
    st.session_state[_ENTRY_KEY] = True


def ensure_app_entry() -> None:
    """Every page calls this first: make sure the page runs inside app.py, not on its own.

    Streamlit 1.67 treats a ``pages/`` folder the legacy multipage way until some session has
    called ``st.navigation``: on a freshly started server, the first visitor who opens a page URL
    (``/predict``) gets the page file run alone — no page config, no shared sidebar, file names as
    the navigation. Here the page notices that app.py did not run first, calls ``st.navigation``
    (which turns the legacy mode off for the whole server) and reruns, this time through app.py.
    """
    if st.session_state.pop(_ENTRY_KEY, False):
        return
    set_page_config()  # before the navigation: else the browser takes the page's icon as the favicon
    navigation()
    st.rerun()
