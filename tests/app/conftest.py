"""Fixtures for the Streamlit AppTest suite: a fresh app per test, runs saved to a temp folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 180  # the first run imports torch and loads EfficientNet-Lite0; later runs take ~1-4 s


@pytest.fixture(autouse=True)
def navigation_pages_not_mpa_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work around an AppTest bug (streamlit 1.67) for ``st.navigation`` apps with a ``pages/`` folder.

    ``AppTest.run()`` resets ``PagesManager.uses_pages_directory`` to None before every run, and a
    new ``PagesManager`` then sets it to True because ``pages/`` exists. From the second run on, the
    script runner takes the legacy "pages directory" path and executes the page file on its own,
    without ``app.py``: the shared sidebar vanishes and session-wide code in app.py is skipped. A
    real server sets the flag to False as soon as ``st.navigation`` runs and keeps it so; this
    fixture does the same for every ``PagesManager`` that AppTest creates.
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


@pytest.fixture
def app(runs_dir: Path) -> Callable[[str | None], AppTest]:
    """Make an :class:`AppTest` of ``app.py`` that has run once, optionally switched to a page file.

    Usage: ``at = app("pages/train.py")``.
    """

    def make(page: str | None = None) -> AppTest:
        at = AppTest.from_file(ROOT / "app.py", default_timeout=RUN_TIMEOUT_S).run()
        if page is not None:
            at.switch_page(page).run()
        return at

    return make
