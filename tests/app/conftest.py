"""Fixtures for the Streamlit AppTest suite: a fresh app per test, runs saved to a temp folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 180  # the first run imports torch and loads EfficientNet-Lite0; later runs take ~1-4 s


@pytest.fixture
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every AppTest run the way a warm server does: through app.py's ``st.navigation``.

    ``AppTest.run()`` (streamlit 1.67) resets ``PagesManager.uses_pages_directory`` before every
    run, and a new ``PagesManager`` sets it to True because a ``pages/`` folder exists. From the
    second run on, the script runner then takes the legacy "pages folder" path and runs the page
    file on its own, like a freshly started server does for its first visitor at a page URL; the
    pages' ``ensure_app_entry()`` detects that and reruns through app.py (that path has its own
    test, ``test_a_page_opened_first_runs_through_app``). A warm server keeps the flag False once
    ``st.navigation`` has run; this fixture does the same for every ``PagesManager`` AppTest makes.
    """
    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False  # what st.navigation sets in a real session

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``PLAYGROUND_RUNS`` → an empty temp folder, so saved runs never land in the repository."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("PLAYGROUND_RUNS", str(folder))
    monkeypatch.chdir(ROOT)  # the pages read assets/ relative to the working directory, like `streamlit run`
    return folder


def _make_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(ROOT / "app.py", default_timeout=RUN_TIMEOUT_S).run()
    if page is not None:
        at.switch_page(page).run()
    return at


@pytest.fixture
def app(runs_dir: Path, navigation_mode: None) -> Callable[..., AppTest]:
    """Make an :class:`AppTest` of ``app.py`` that has run once, optionally switched to a page file.

    Usage: ``at = app("pages/train.py")``.
    """
    return _make_app


@pytest.fixture
def cold_app(runs_dir: Path) -> Callable[..., AppTest]:
    """Like :func:`app`, but every run after the first starts in Streamlit's legacy pages-folder
    mode, as on a freshly started server (see :func:`navigation_mode`)."""
    return _make_app
