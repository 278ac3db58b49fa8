"""Fixtures for the Streamlit AppTest suite: a fresh app per test, runs saved to a temp folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 180  # the first run imports torch and loads EfficientNet-Lite0; later runs take ~1-4 s


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
