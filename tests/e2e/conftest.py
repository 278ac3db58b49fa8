"""Fixtures for the browser test: one app server and one headless Chromium per module."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import REQUESTS, App, BrowserMissingError, chromium_path, full_screenshot, launch_browser, start_app
from playwright.sync_api import BrowserContext, Page


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """``streamlit run app.py`` on a free port, saving runs to a temp folder."""
    work = tmp_path_factory.mktemp("e2e-app")
    with start_app(work / "runs", work) as app:
        yield app


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Debian's Chromium; a missing browser FAILS the test (CI installs it), never skips it."""
    missing = None
    try:
        chromium_path()
    except BrowserMissingError as exc:
        missing = str(exc)
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    with launch_browser(tmp_path_factory.mktemp("chromium-profile")) as context:
        context.on("request", lambda request: REQUESTS.append(request.url))
        yield context


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A new tab: its own Streamlit session, 1280×900."""
    tab = browser.new_page()
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture(scope="module")
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], Path]:
    """``shoot(page, name)``: a full-page screenshot ``name.png`` in a temp folder, copied into
    ``$SCREENSHOT_DIR`` when that is set. Returns the temp copy's path."""
    folders = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("SCREENSHOT_DIR"):
        folders.append(Path(os.environ["SCREENSHOT_DIR"]))

    def take(page: Page, name: str) -> Path:
        shot = full_screenshot(page, folders[0] / f"{name}.png")
        for folder in folders[1:]:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(shot, folder / shot.name)
        return shot

    return take
