"""Start the app in a subprocess and drive it with headless Chromium (Playwright, sync API).

Shared by the browser test (``tests/e2e/test_browser.py``) and ``scripts/screenshots.py``.

Playwright's own browser download does not work on these machines, so the harness launches
Debian's ``chromium`` as ``executable_path``; without it, :func:`launch_browser` raises
:class:`BrowserMissingError` (the test turns that into a failure, never a skip).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, FloatRect, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
#: Every URL the test browser asked for (conftest's browser records them; a test checks each is the app's).
REQUESTS: list[str] = []
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where Streamlit draws things (data-testid values of the 1.67 frontend).
MAIN = '[data-testid="stMain"]'
STATUS_RUNNING = '[data-testid="stStatusWidget"]'
EXCEPTION = '[data-testid="stException"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'


class BrowserMissingError(RuntimeError):
    """Debian's ``chromium`` is not on PATH."""


@dataclass(frozen=True)
class App:
    """A running ``streamlit run app.py``: its base URL, its runs folder, its log file and its process id."""

    url: str
    runs_dir: Path
    log: Path
    pid: int

    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of the server's combined stdout/stderr."""
        return self.log.read_text(errors="replace")[-n_chars:]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def start_app(
    runs_dir: Path,
    log_dir: Path,
    *,
    port: int | None = None,
    timeout_s: float = 90.0,
    extra_args: Sequence[str] = (),
    script: str = "app.py",
    env: Mapping[str, str] | None = None,
    launcher: Sequence[str] = ("-m", "streamlit"),
) -> Iterator[App]:
    """Run the app headless on a free port until the block ends.

    Args:
        runs_dir: where training runs are saved (``PLAYGROUND_RUNS``), e.g. a temporary folder.
        log_dir: the server's output goes to ``log_dir / "streamlit.log"``.
        port: the port; a free one by default.
        timeout_s: seconds to wait for ``/_stcore/health`` to answer ``ok``.
        extra_args: more ``streamlit run`` options, e.g. ``["--client.toolbarMode", "viewer"]``.
        script: the app file (relative to the repository, or absolute), e.g. a benchmark's baseline page.
        env: more environment variables for the server.
        launcher: what Python runs before ``run <script>``: Streamlit's CLI, or a benchmark's wrapper
            of it (``bench/timed_server.py``).

    Raises:
        RuntimeError: if the server exits or is not healthy in time (the message has its log).
    """
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "streamlit.log"
    server_env = {**os.environ, "PLAYGROUND_RUNS": str(runs_dir), "PYTHONUNBUFFERED": "1", **(env or {})}
    cmd = [
        sys.executable,
        *launcher,
        "run",
        script,
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.showErrorDetails",
        "full",  # config.toml hides tracebacks from users; a failing test shows them
        *extra_args,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env, stdout=out, stderr=subprocess.STDOUT)
        app = App(f"http://127.0.0.1:{port}", runs_dir, log, proc.pid)
        try:
            _wait_healthy(app, proc, timeout_s)
            yield app
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def _wait_healthy(app: App, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode}:\n{app.log_tail()}")
        try:
            with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"streamlit was not healthy after {timeout_s:.0f} s:\n{app.log_tail()}")


def chromium_path() -> str:
    """Where Debian's ``chromium`` is.

    Raises:
        BrowserMissingError: if it is not on PATH.
    """
    executable = shutil.which("chromium")
    if executable is None:
        raise BrowserMissingError(
            "Debian's chromium is not installed (no 'chromium' on PATH): the browser test needs it. "
            "Install it with 'apt-get install chromium chromium-driver' (.ci/run does)."
        )
    return executable


@contextlib.contextmanager
def launch_browser(user_data_dir: Path, viewport: tuple[int, int] = (1280, 900)) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile in ``user_data_dir``.

    Playwright refuses ``--user-data-dir`` in ``launch()``'s args, so this is a persistent
    context on that folder; each ``new_page()`` is a tab with its own Streamlit session.

    Args:
        user_data_dir: an empty folder for the profile.
        viewport: (width, height) in CSS pixels.

    Raises:
        BrowserMissingError: if ``chromium`` is not on PATH (``apt-get install chromium``).
    """
    executable = chromium_path()
    user_data_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        context.set_default_timeout(90_000)
        try:
            yield context
        finally:
            context.close()


def wait_idle(page: Page, timeout_s: float = 60.0, settle_s: float = 1.0) -> None:
    """Wait until the script run is over: no "Running…" status widget for ``settle_s`` seconds.

    Raises:
        TimeoutError: if the app is still running after ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if page.locator(STATUS_RUNNING).count() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle_s:
                return
        else:
            quiet_since = None
        page.wait_for_timeout(100)
    raise TimeoutError(f"the app was still running after {timeout_s:.0f} s on {page.url}")


def page_url(app: App, script: str, default: bool = False) -> str:
    """The URL of a page file: Streamlit derives it from the file name (``pages/train.py`` → ``/train``)."""
    return f"{app.url}/" if default else f"{app.url}/{Path(script).stem}"


def wait_page(page: Page, timeout_s: float = 90.0) -> None:
    """Wait for the page title (an ``h1`` in the main area) or an exception, then for the run to end."""
    page.locator(f"{MAIN} h1, {EXCEPTION}").first.wait_for(timeout=timeout_s * 1000)
    wait_idle(page, timeout_s)


def open_page(page: Page, url: str, timeout_s: float = 90.0) -> None:
    """Load ``url`` and :func:`wait_page`."""
    page.goto(url, wait_until="domcontentloaded")
    wait_page(page, timeout_s)


def choose_option(page: Page, label: str, option: str | re.Pattern[str], attempts: int = 6) -> None:
    """Pick ``option`` in the ``st.selectbox`` whose label contains ``label``.

    The dropdown opens on a click, but a rerun that redraws the widget in the same moment closes it
    again (seen on a loaded CI machine): so open it, wait a few seconds for the option, and if it
    is not there close the list and try again.

    Raises:
        TimeoutError: if the option never appeared in ``attempts`` tries.
    """
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    choice = page.get_by_role("option", name=option, exact=isinstance(option, str))
    for _ in range(attempts):
        wait_idle(page)
        box.click()
        try:
            choice.first.wait_for(timeout=10_000)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        choice.first.click()
        wait_idle(page)
        return
    raise TimeoutError(f"the option {option!r} of {label!r} did not appear in {attempts} tries on {page.url}")


def page_problems(page: Page) -> list[str]:
    """The texts of exceptions and error boxes (``st.exception`` / ``st.error``) on the page."""
    found = [f"exception: {t}" for t in page.locator(EXCEPTION).all_inner_texts()]
    found += [f"error: {t}" for t in page.locator(ERROR_ALERT).all_inner_texts()]
    return found


def wait_rendered(page: Page, timeout_s: float = 30.0) -> None:
    """Wait until every image has loaded and every Plotly chart has drawn."""
    page.wait_for_function(
        """() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)
            && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                .every(c => c.querySelector('.main-svg') !== null)""",
        timeout=timeout_s * 1000,
    )


def full_screenshot(page: Page, path: Path, *, crop: bool = False) -> Path:
    """Screenshot the whole main area (Streamlit scrolls inside it, not the window).

    The viewport is grown to the content's height for the shot, then restored; the mouse is moved
    off the charts first so no Plotly toolbar shows.

    Args:
        page: the page.
        path: the PNG to write (its folder is created).
        crop: cut the empty space below the last element (keeps a small margin).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size or {"width": 1280, "height": 900}
    page.mouse.move(viewport["width"] - 2, viewport["height"] - 2)  # off the sidebar and the charts
    height = page.evaluate(
        "sel => { const m = document.querySelector(sel); return m ? m.scrollHeight : document.body.scrollHeight; }",
        MAIN,
    )
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], int(height))})
    try:
        wait_rendered(page)
        page.wait_for_timeout(500)  # let charts re-layout to the new size
        clip: FloatRect | None = None
        if crop:
            bottom = page.evaluate(
                """sel => Math.max(...Array.from(document.querySelectorAll(sel + ' [data-testid="stElementContainer"]'))
                    .map(e => e.getBoundingClientRect().bottom))""",
                MAIN,
            )
            clip = FloatRect(x=0, y=0, width=viewport["width"], height=min(int(bottom) + 32, int(height)))
        page.screenshot(path=str(path), clip=clip)
    finally:
        page.set_viewport_size(viewport)
    return path
