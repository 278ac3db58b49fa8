"""Load test: N simulated users act out a lesson on one server at once, in headless Chromium.

    .venv/bin/python bench/bench_load.py [--users 8] [--minutes 10] [--pause 5] [--seed 0] [--json] [--out FILE]
                                         [--browser-nice 19] [--after-close 180] [--rounds 1] [--shots DIR] [--verbose]

Starts the app (``streamlit run app.py``, headless, a temporary runs folder, as ``tests/e2e`` does)
and Debian's Chromium (Playwright's async API): one browser, one context and one tab per user,
so each user is its own Streamlit session. Each user loops until the time is up, pausing
``--pause`` seconds (±50 % jitter, seeded per user; ``--pause 0`` is the stress run) between actions:

1. Predict by URL (a new session: kind ``page``), then its own sample photo (``prediction``);
2. the Top-k slider on Predict (``display``: it changes what is shown, not the input);
3. Filters & feature maps by the sidebar link (``page``), another conv layer (``display``);
4. Explain by the sidebar link: Grad-CAM (the page's default method for a CNN) on the current image
   (``explain``);
5. Robustness by the sidebar link (``page``), another corruption at severity 3 (``robustness``);
6. odd users only: Attention (``page``), MiniLM made the active model with "Use it"
   (``attention``, once per session) and the attention of a typed sentence (``attention``);
7. every 3rd cycle: Train (``page``), dataset digits and 2 epochs (``form``), Start training
   (``job``: until the page shows the run started or queued, not until it ends).

An action is timed from its click (or navigation) to the end of the script run it started: the
``script_finished`` message of a full run (not a fragment's, not one cut short by a rerun) that
began after the click, read from the app's websocket, with the page's title shown and Streamlit's
"Running…" status widget absent for 0.3 s (that settle time is not counted). Beside it, the time
*in the server*: from the moment the action's first rerun request reached the server to the end of
its last full run, read from the server's own log of its runs (``bench/timed_server.py`` wraps
Streamlit's CLI and writes one). The first includes the click's way through a busy Chromium and the
websocket messages' way back to Playwright; the second is the server's share alone. On a classroom
server the browsers are on the students' machines; here they share the two cores. A selector not found in
time, a run not over in time, an exception or an error box on the page is an error of that action;
the user then reloads its page and goes on. An untimed warm-up pass (one tab over the pages, MiniLM
loaded once) comes first. At the end each user checks its own session: the sidebar's active model
is the one it chose, the current image Explain offers is the one its Predict picked, and Predict
shows its own sample (or its own sentence, for MiniLM; Predict back on the default sample is noted
as no leak: its selectbox forgets its value when another page was shown). The server's RSS (the
streamlit process, and with its child processes: the training workers) is sampled every 2 s.
Approximate: the end of a run is when its ``script_finished`` reached Playwright (the browser may
still be drawing charts); the 3 photos are shared by the users (user i has photo (i + 1) mod 3).

Targets from the issue: 0 errors, p95 of a display action <= 2 s and of a prediction <= 3 s on
2 CPU cores, server RSS bounded, no cross-session leak. Chromium shares the 2 cores with the
server here, so the times are a worst case for the server. A benchmark: never run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from google.protobuf.message import DecodeError  # noqa: E402
from harness import (  # noqa: E402
    CHROMIUM_ARGS,
    ERROR_ALERT,
    EXCEPTION,
    MAIN,
    STATUS_RUNNING,
    App,
    chromium_path,
    page_url,
    start_app,
)
from playwright.async_api import Browser, Locator, Page, WebSocket, async_playwright  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

SETTLE_S = 0.3  # "Running…" absent this long after the run's end: nothing else started
RUN_TIMEOUT_S = 180.0  # a script run that takes longer is an error
NO_RUN_S = 30.0  # a click that starts no script run in this time is an error
FIND_TIMEOUT_MS = 30_000  # a selector not found in this time is an error
RSS_EVERY_S = 2.0
SLOPE_WINDOW_S = 300.0
# The shipped photo samples (title as the Predict page shows it); the default photo comes first.
PHOTOS = {
    "cat": "Chelsea the cat (a tabby)",
    "coffee": "A cup of coffee (courtesy of Pikolo Espresso Bar)",
    "astronaut": "Astronaut Eileen Collins",
}
DEFAULT_PHOTO = "cat"
DEFAULT_MODEL = "efficientnet_lite0"
MINILM = "minilm"
SIDEBAR = '[data-testid="stSidebarUserContent"]'
FULL_RUN_END = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


class ActionError(RuntimeError):
    """An action did not do what it should (the message says what)."""


class RunWatch:
    """When the page's full script runs start and finish, read from the app's websocket."""

    def __init__(self, page: Page) -> None:
        self.started = 0.0  # perf_counter of the last full run's new_session
        self.finished = 0.0  # ... and of the last full run's script_finished
        self.status: int | None = None
        self.sent: list[
            float
        ] = []  # perf_counter of each message the page sent (bench_app times from it), the last 100
        self.session = ""  # the Streamlit session this tab is (new_session's session_id)
        self.wall_span: tuple[float, float] | None = None  # set by wait_done: its click and run end, wall clock
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, ws: WebSocket) -> None:
        if "_stcore/stream" in ws.url:
            ws.on("framereceived", self._on_frame)
            ws.on("framesent", self._on_sent)

    def _on_sent(self, payload: str | bytes) -> None:
        self.sent = [*self.sent[-99:], time.perf_counter()]

    def _on_frame(self, payload: str | bytes) -> None:
        if isinstance(payload, str) or len(payload) > 65_536:  # deltas with images and charts: not lifecycle
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
        except DecodeError:
            return
        kind = msg.WhichOneof("type")
        if kind not in ("new_session", "script_finished") or msg.metadata.run.fragment_ids:
            return  # a fragment's run (the Train page's live view) is not the action's run
        if kind == "new_session":
            self.started = time.perf_counter()
            self.session = msg.new_session.initialize.session_id
        elif msg.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.finished, self.status = time.perf_counter(), msg.script_finished

    def over_since(self, t0: float) -> bool:
        """A full run started after ``t0`` and the last one ended (not cut short for a rerun)."""
        return self.started > t0 and self.finished >= self.started and self.status in FULL_RUN_END


async def wait_done(page: Page, watch: RunWatch, t0: float, timeout_s: float = RUN_TIMEOUT_S) -> float:
    """Seconds from ``t0`` to the end of the script run it started (see the module docstring)."""
    deadline = t0 + timeout_s
    quiet_since: float | None = None
    title = page.locator(f"{MAIN} h1, {EXCEPTION}")
    running = page.locator(STATUS_RUNNING)
    while True:
        now = time.perf_counter()
        if now > deadline:
            raise ActionError(f"the script run was not over after {timeout_s:.0f} s on {page.url}")
        if watch.started <= t0 and now > t0 + NO_RUN_S:
            raise ActionError(f"no script run started within {NO_RUN_S:.0f} s on {page.url}")
        if watch.over_since(t0) and await title.count() > 0 and await running.count() == 0:
            quiet_since = quiet_since or now
            if now - quiet_since >= SETTLE_S and watch.over_since(t0):
                # the click and the run's end in wall-clock time, for server_seconds()
                watch.wall_span = (time.time() - (time.perf_counter() - t0), time.time() - (now - watch.finished))
                return watch.finished - t0
        else:
            quiet_since = None
        await asyncio.sleep(0.05)


async def page_problems(page: Page) -> list[str]:
    """The texts of exceptions and error boxes on the page (the harness's check, async)."""
    found = [f"exception: {t}" for t in await page.locator(EXCEPTION).all_inner_texts()]
    found += [f"error: {t}" for t in await page.locator(ERROR_ALERT).all_inner_texts()]
    return found


def squash(text: str) -> str:
    """``text`` with its runs of white space made one space (as an accessible name is)."""
    return " ".join(text.split())


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; the value itself for one value."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) in value per minute; ``None`` with fewer than 3 points."""
    if len(points) < 3:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


# ---------------------------------------------------------------- server memory


def _vm_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0  # gone, or a zombie


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                kids = [int(c) for c in children.read_text().split()]
                found += kids
                todo += kids
    return found


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def browser_cpu_seconds() -> float:
    """CPU seconds used so far by every Chromium process on the machine (the browser and its tabs)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if b"chromium" in (entry / "cmdline").read_bytes().split(b"\0", 1)[0]:
                    total += cpu_seconds(int(entry.name))
    return total


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, summed over its cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values[:8]) - idle) / tick, sum(values[:8]) / tick


def rss_sample(pid: int, t: float) -> dict[str, float]:
    """The server's RSS, and with every descendant process (workers, their standby)."""
    children = _descendants(pid)
    main = _vm_rss_mb(pid)
    return {"t": round(t, 2), "server_mb": round(main, 1), "total_mb": round(main + sum(map(_vm_rss_mb, children)), 1)}


async def sample_rss(pid: int, t_start: float, samples: list[dict[str, float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_sample(pid, time.perf_counter() - t_start))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RSS_EVERY_S)


# ---------------------------------------------------------------- one user


class User:
    """One person in one tab: its own Streamlit session, its own sample and sentence."""

    def __init__(self, index: int, page: Page, app: App, args: argparse.Namespace, t_start: float) -> None:
        self.index = index
        self.page = page
        self.app = app
        self.pause = args.pause
        self.verbose = getattr(args, "verbose", False)
        self.shots: Path | None = getattr(args, "shots", None)
        self.rng = random.Random(args.seed * 1000 + index)
        self.t_start = t_start
        self.watch = RunWatch(page)
        names = list(PHOTOS)
        self.sample = names[(index + 1) % len(names)]  # user 0 coffee, 1 astronaut, 2 cat, ...
        self.records: list[dict[str, Any]] = []
        self.cycle = 0
        self.reset_state()

    def reset_state(self) -> None:
        """What a new session of this user shows: the default model and sample, no sentence."""
        self.model = DEFAULT_MODEL
        self.shown_sample = DEFAULT_PHOTO
        self.sentence: str | None = None

    # ---- plumbing

    async def act(self, kind: str, name: str, action: Callable[[], Awaitable[float | None]]) -> bool:
        """Run one timed action and record it; on an error reload the page. False if it failed."""
        t0 = time.perf_counter()
        cpu0 = (cpu_seconds(self.app.pid), browser_cpu_seconds())
        error = ""
        seconds: float | None = None
        self.watch.wall_span = None
        try:
            seconds = await action()
            if seconds is None:
                return True  # nothing to do (e.g. no display control): no record
            problems = await page_problems(self.page)
            if problems:
                error = " | ".join(problems)
        except Exception as exc:  # every failure is a finding of this action
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            seconds = time.perf_counter() - t0
        self.records.append(
            {
                "user": self.index,
                "cycle": self.cycle,
                "kind": kind,
                "name": name,
                "t": round(t0 - self.t_start, 2),
                "seconds": round(seconds, 3),
                # for server_seconds(): this tab's session and, for an action timed to the end of its
                # run (not "start training", timed to the page's message), the click and the run end
                "session": self.watch.session,
                "wall": None if self.watch.wall_span is None else [round(t, 3) for t in self.watch.wall_span],
                # CPU used meanwhile; with one user, the action's own cost (else others' work too)
                "server_cpu_s": round(cpu_seconds(self.app.pid) - cpu0[0], 3),
                "browser_cpu_s": round(browser_cpu_seconds() - cpu0[1], 3),
                "ok": not error,
                "error": error,
                "url": self.page.url,
            }
        )
        if self.verbose:
            r = self.records[-1]
            print(
                f"[{r['t']:7.1f}] user {r['user']} {r['name']}: {r['seconds']:.2f} s {r['error'][:200]}",
                file=sys.stderr,
            )
        if error:
            if self.shots is not None:  # what the user saw when it went wrong
                with contextlib.suppress(Exception):
                    shot = self.shots / f"user{self.index}-{round(t0 - self.t_start)}s.png"
                    await self.page.screenshot(path=str(shot))
            await self.recover()
        return not error

    async def recover(self) -> None:
        """Reload the page (a new session) and wait until it is drawn."""
        with contextlib.suppress(Exception):
            t0 = time.perf_counter()
            await self.page.reload(wait_until="domcontentloaded")
            await wait_done(self.page, self.watch, t0)
        self.reset_state()

    async def rest(self) -> None:
        if self.pause > 0:
            await asyncio.sleep(self.pause * self.rng.uniform(0.5, 1.5))

    async def goto(self, script: str) -> float:
        t0 = time.perf_counter()
        await self.page.goto(page_url(self.app, script), wait_until="domcontentloaded")
        seconds = await wait_done(self.page, self.watch, t0)
        self.reset_state()
        return seconds

    async def sidebar(self, title: str) -> float:
        link = self.page.locator('[data-testid="stSidebarNav"] a').filter(has_text=re.compile(re.escape(title) + "$"))
        await link.wait_for(timeout=FIND_TIMEOUT_MS)
        t0 = time.perf_counter()
        await link.click()
        seconds = await wait_done(self.page, self.watch, t0)
        heading = await self.page.locator(f"{MAIN} h1").first.inner_text()
        if heading.strip() != title:
            raise ActionError(f"the sidebar link {title!r} opened {heading.strip()!r}")
        return seconds

    def selectbox(self, label: str) -> Locator:
        return self.page.locator(f'{MAIN} [data-testid="stSelectbox"]').filter(has_text=label).first

    async def selected(self, label: str) -> str:
        """The option the selectbox labelled ``label`` shows (the value of its combobox input)."""
        box = self.selectbox(label)
        await box.wait_for(timeout=FIND_TIMEOUT_MS)
        return (await box.locator('input[role="combobox"]').input_value()).strip()

    async def choose(self, label: str, pick: Callable[[list[str], str], str | None]) -> float | None:
        """Open the selectbox labelled ``label`` and click the option ``pick(options, shown)`` names.

        Returns the seconds of the run the choice started, or ``None`` when ``pick`` names none
        or the one already shown (no run).
        """
        box = self.selectbox(label)
        shown = squash(await self.selected(label))
        options = self.page.get_by_role("option")
        for _ in range(4):  # a rerun that redraws the box in the same moment closes the list again
            await box.click()
            try:
                await options.first.wait_for(timeout=10_000)
            except Exception:  # the list closed: open it again
                await self.page.keyboard.press("Escape")
                continue
            texts = [squash(t) for t in await options.all_inner_texts()]
            wanted = pick(texts, shown)
            if wanted is None or wanted == shown:
                await self.page.keyboard.press("Escape")
                return None
            # Typed first, as a person scrolling a long list would search it: Streamlit's list is
            # virtualised and scrolls under a click aimed at an option far down (the click then
            # lands on no option and starts no run); filtered, it holds a few options and stays put.
            await self.page.keyboard.type(wanted)
            option = self.page.get_by_role("option", name=wanted, exact=True).first
            try:
                await option.wait_for(timeout=10_000)
            except Exception:
                await self.page.keyboard.press("Escape")
                continue
            t0 = time.perf_counter()
            await option.click()
            return await wait_done(self.page, self.watch, t0)
        raise ActionError(f"the options of {label!r} did not open in 4 tries on {self.page.url}")

    def other(self, texts: list[str], shown: str) -> str | None:
        """A random option that is not the one shown."""
        others = [t for t in texts if t and t != shown]
        return self.rng.choice(others) if others else None

    # ---- the actions

    async def pick_sample(self) -> float | None:
        title = PHOTOS[self.sample]
        seconds = await self.choose("Sample", lambda texts, shown: None if shown == title else title)
        heading = self.page.locator(f"{MAIN} h3").filter(has_text=f"{title}:")
        await heading.first.wait_for(timeout=FIND_TIMEOUT_MS)
        self.shown_sample = self.sample
        return seconds

    async def top_k(self) -> float | None:
        slider = self.page.locator(f'{MAIN} [data-testid="stSlider"]').filter(has_text="Top-k").get_by_role("slider")
        if await slider.count() == 0:
            return None  # no display-only control on this page
        value = int(await slider.first.get_attribute("aria-valuenow") or 0)
        high = int(await slider.first.get_attribute("aria-valuemax") or 0)
        await slider.first.focus()
        t0 = time.perf_counter()
        await self.page.keyboard.press("ArrowLeft" if value >= high else "ArrowRight")
        return await wait_done(self.page, self.watch, t0)

    async def explain(self) -> float:
        seconds = await self.sidebar("Explain")
        if await self.selected("Method") != "Grad-CAM":
            more = await self.choose("Method", lambda texts, _: "Grad-CAM" if "Grad-CAM" in texts else None)
            seconds += more or 0.0
        await self.page.locator(".st-key-x_overlay .js-plotly-plot").wait_for(timeout=FIND_TIMEOUT_MS)
        return seconds

    async def use_minilm(self) -> float | None:
        if MINILM in (await self.page.locator(SIDEBAR).inner_text()).lower():
            self.model = MINILM
            return None
        if "MiniLM" not in await self.selected("Pretrained text transformer"):
            await self.choose("Pretrained text transformer", lambda texts, _: next(t for t in texts if "MiniLM" in t))
        button = self.page.locator(MAIN).get_by_role("button", name="Use it")
        await button.wait_for(timeout=FIND_TIMEOUT_MS)
        t0 = time.perf_counter()
        await button.click()
        seconds = await wait_done(self.page, self.watch, t0)
        await (
            self.page.locator(SIDEBAR)
            .get_by_text(re.compile(MINILM, re.IGNORECASE))
            .first.wait_for(timeout=FIND_TIMEOUT_MS)
        )
        self.model = MINILM
        return seconds

    async def attention(self) -> float:
        sentence = f"User {self.index} writes sentence {self.cycle}: the cat sat on the mat."
        box = self.page.locator(MAIN).get_by_label("Text", exact=True)
        await box.wait_for(timeout=FIND_TIMEOUT_MS)
        await box.fill(sentence)
        t0 = time.perf_counter()
        await box.press("Control+Enter")
        seconds = await wait_done(self.page, self.watch, t0)
        await (
            self.page.locator(MAIN)
            .get_by_text(re.compile(r"\d+ tokens · 6 layers × 12 heads"))
            .first.wait_for(timeout=FIND_TIMEOUT_MS)
        )
        self.sentence = sentence
        return seconds

    async def epochs(self) -> float | None:
        box = self.page.locator(MAIN).get_by_label("Epochs", exact=True)
        await box.wait_for(timeout=FIND_TIMEOUT_MS)
        if await box.input_value() == "2":
            return None
        await box.fill("2")
        t0 = time.perf_counter()
        await box.press("Enter")
        return await wait_done(self.page, self.watch, t0)

    async def start_training(self) -> float:
        button = self.page.locator(MAIN).get_by_role("button", name="Start training")
        await button.wait_for(timeout=FIND_TIMEOUT_MS)
        t0 = time.perf_counter()
        await button.click()
        started = self.page.locator(MAIN).get_by_text(re.compile(r"^Run folder:|^queued \("))
        await started.first.wait_for(timeout=RUN_TIMEOUT_S * 1000)
        return time.perf_counter() - t0

    # ---- the person

    async def run(self, deadline: float) -> None:
        if self.pause > 0:
            await asyncio.sleep(self.rng.uniform(0, self.pause))  # people do not all click at once
        while True:
            steps: list[tuple[str, str, Callable[[], Awaitable[float | None]]]] = [
                ("page", "Predict by URL", lambda: self.goto("pages/predict.py")),
                ("prediction", "Predict: own sample", self.pick_sample),
                ("display", "Predict: Top-k", self.top_k),
                ("page", "Filters & feature maps", lambda: self.sidebar("Filters & feature maps")),
                ("display", "Filters: another layer", lambda: self.choose("Conv layer", self.other)),
                ("explain", "Explain: Grad-CAM", self.explain),
                ("page", "Robustness", lambda: self.sidebar("Robustness")),
                ("robustness", "Robustness: another corruption", lambda: self.choose("Perturbation", self.other)),
            ]
            if self.index % 2 == 1:
                steps += [
                    ("page", "Attention", lambda: self.sidebar("Attention")),
                    ("attention", "Attention: use MiniLM", self.use_minilm),
                    ("attention", "Attention: a typed sentence", self.attention),
                ]
            if self.cycle % 3 == 2:
                steps += [
                    ("page", "Train", lambda: self.sidebar("Train")),
                    (
                        "form",
                        "Train: dataset digits",
                        lambda: self.choose("Dataset", lambda t, s: None if s == "digits" else "digits"),
                    ),
                    ("form", "Train: 2 epochs", self.epochs),
                    ("job", "Train: start training", self.start_training),
                ]
            for kind, name, action in steps:
                if time.perf_counter() >= deadline:
                    return
                await self.act(kind, name, action)
                await self.rest()
            self.cycle += 1

    async def check(self) -> tuple[list[str], list[str]]:
        """Cross-session check of this session: (violations, notes that are no leak).

        The sidebar's active model must be the one this user chose; the current image that Explain
        offers must be the one this user's Predict picked; Predict (by the sidebar link, same
        session) must show this user's sample, or its sentence for MiniLM. Predict showing the
        default sample instead is noted, not counted: the page's selectbox forgets its value when
        another page was shown (Streamlit drops the state of widgets a run does not draw).
        """
        problems: list[str] = []
        notes: list[str] = []
        try:
            sidebar = (await self.page.locator(SIDEBAR).inner_text()).lower()
            if self.model not in sidebar:
                problems.append(f"user {self.index}: sidebar active model is not {self.model}: {sidebar[:200]!r}")
            title = PHOTOS[self.shown_sample]
            if self.model != MINILM:
                await self.sidebar("Explain")
                current = await self.selected("Input image")
                if title not in current and not (self.shown_sample == DEFAULT_PHOTO and "cat" in current):
                    problems.append(f"user {self.index}: Explain's input is {current!r}, not {title!r}")
            await self.sidebar("Predict")
            if self.model == MINILM:
                if self.sentence is not None:
                    box = self.page.locator(MAIN).get_by_label("Text", exact=True)
                    value = await box.input_value(timeout=FIND_TIMEOUT_MS)
                    if value != self.sentence:
                        problems.append(f"user {self.index}: Predict's text is {value!r}, not {self.sentence!r}")
            else:
                text = await self.page.locator(f"{MAIN} h3").first.inner_text(timeout=FIND_TIMEOUT_MS)
                if text.startswith(f"{PHOTOS[DEFAULT_PHOTO]}:") and self.shown_sample != DEFAULT_PHOTO:
                    notes.append(f"user {self.index}: Predict is back on the default sample, not {title!r}")
                elif not text.startswith(f"{title}:"):
                    problems.append(f"user {self.index}: Predict shows {text!r}, not {title!r}")
        except Exception as exc:  # a check that cannot be made is reported as such
            problems.append(f"user {self.index}: the check failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return problems, notes


# ---------------------------------------------------------------- the run


def niced_chromium(folder: Path, niceness: int) -> str:
    """A wrapper that starts Chromium at ``nice`` ``niceness``: every tab's process inherits it.

    With ``--browser-nice 19`` the server gets the CPU first and the tabs take what is left, as if
    each student's browser ran on their own machine (the classroom case); without it the tabs
    compete with the server on equal terms (a worst case for the server). Playwright starts Chromium
    in a session of its own, which Linux schedules as its own group (autogroups, man 7 sched): the
    group's weight is set too (``/proc/self/autogroup``), or the nice value would not count against
    the server's group. Before 2026-12-07 only the nice value was set (see bench/README.md).
    """
    wrapper = folder / "chromium-niced"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"echo {int(niceness)} > /proc/self/autogroup 2>/dev/null\n"
        f'exec nice -n {int(niceness)} "{chromium_path()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper)


async def warm_up(browser: Browser, app: App) -> float:
    """One untimed pass over the pages (first imports, the default model, MiniLM)."""
    t0 = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(FIND_TIMEOUT_MS)
    page = await context.new_page()
    args = argparse.Namespace(pause=0, seed=0)
    user = User(1, page, app, args, t0)
    for action in (
        lambda: user.goto("pages/predict.py"),
        lambda: user.sidebar("Filters & feature maps"),
        user.explain,
        lambda: user.sidebar("Robustness"),
        lambda: user.sidebar("Attention"),
        user.use_minilm,
        lambda: user.sidebar("Train"),
    ):
        await user.act("warm-up", "warm-up", action)
    for r in user.records:
        if not r["ok"]:
            print(f"warm-up error on {r['url']}: {r['error']}", file=sys.stderr)
    await context.close()
    return time.perf_counter() - t0


async def load_test(args: argparse.Namespace) -> dict[str, Any]:
    # ignore_cleanup_errors: a worker stopped below may still be writing its last save
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        runs_dir = Path(tmp) / "runs"
        run_log = Path(tmp) / "runs.jsonl"
        with start_app(
            runs_dir,
            Path(tmp) / "log",
            launcher=(str(ROOT / "bench" / "timed_server.py"),),
            env={"PLAYGROUND_RUN_LOG": str(run_log)},
        ) as app:
            async with async_playwright() as p:
                executable = niced_chromium(Path(tmp), args.browser_nice) if args.browser_nice else chromium_path()
                samples: list[dict[str, float]] = []
                users: list[User] = []
                violations: list[str] = []
                notes: list[str] = []
                after_close_mb: list[float] = []  # per round
                elapsed = 0.0
                stop = asyncio.Event()
                for round_index in range(args.rounds):  # one server: a second round shows what the first left
                    browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                    if round_index == 0:
                        warm_s = await warm_up(browser, app)
                        t_start = time.perf_counter()
                        sampler = asyncio.create_task(sample_rss(app.pid, t_start, samples, stop))
                        cpu_start = (cpu_seconds(app.pid), *machine_cpu_seconds())
                    t_round = time.perf_counter()
                    cohort = []
                    for i in range(args.users):
                        context = await browser.new_context(viewport={"width": 1280, "height": 900})
                        context.set_default_timeout(FIND_TIMEOUT_MS)
                        cohort.append(User(i, await context.new_page(), app, args, t_start))
                    deadline = t_round + args.minutes * 60
                    await asyncio.gather(*(u.run(deadline) for u in cohort))
                    elapsed += time.perf_counter() - t_round
                    users += cohort
                    for u in cohort:
                        found, noted = await u.check()
                        violations += found
                        notes += noted
                    if round_index == args.rounds - 1:
                        server_s, busy_s, total_s = (
                            b - a
                            for a, b in zip(cpu_start, (cpu_seconds(app.pid), *machine_cpu_seconds()), strict=True)
                        )
                        stop.set()
                        await sampler
                        samples.append(rss_sample(app.pid, time.perf_counter() - t_start))
                    await browser.close()
                    if args.after_close:  # every session ended (disconnectedSessionTTL) and the reclaimer's tick
                        await asyncio.sleep(args.after_close)
                        after_close_mb.append(round(_vm_rss_mb(app.pid), 1))
                cpu = {
                    "server_s": round(server_s, 1),
                    "machine_busy_s": round(busy_s, 1),
                    "machine_s": round(total_s, 1),
                }
            n_runs = sum(1 for r in runs_dir.iterdir() if r.is_dir() and not r.name.startswith("."))
            workers = _descendants(app.pid)
        for pid in workers:  # workers of the server this script started (queued runs, the standby)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 30  # a stopped worker saves its last epoch first
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < end:
            await asyncio.sleep(0.2)
        records = [r for u in users for r in u.records]
        collections = server_seconds(records, run_log)
    gc_stats = {
        "count": len(collections),
        "total_s": round(sum(collections), 2),
        "max_s": round(max(collections, default=0.0), 3),
    }
    summary = summarize(args, records, samples, violations, notes, elapsed, warm_s, n_runs)
    closed = {"seconds": args.after_close, "server_mb": after_close_mb} if after_close_mb else None
    return {**summary, "cpu": cpu, "gc": gc_stats, "rss_after_close": closed}


def server_seconds(records: list[dict[str, Any]], run_log: Path) -> list[float]:
    """Add ``server_s`` to each record: its first rerun request's arrival to its last full run's end.

    ``run_log`` is ``bench/timed_server.py``'s log. ``None`` where the log has no request and end
    of that session within the action's span (e.g. an action that started no run).

    Returns:
        The length in seconds of each full garbage collection the server did meanwhile.
    """
    events: dict[str, list[dict[str, Any]]] = {}
    collections: list[float] = []
    for line in run_log.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event["event"] == "gc":
                collections.append(event["seconds"])
            else:
                events.setdefault(event["session"], []).append(event)
    full_run_end = {int(status) for status in FULL_RUN_END}
    for r in records:
        if r["wall"] is None:
            r["server_s"] = None
            continue
        start, end = r["wall"][0], r["wall"][1] + 0.05  # the end as Playwright read it: a little after
        mine = events.get(r["session"], [])
        requests = [e["t"] for e in mine if e["event"] == "request" and not e["fragment"] and start <= e["t"] <= end]
        ends = [
            e["t"] for e in mine if e["event"] == "finished" and e["status"] in full_run_end and start <= e["t"] <= end
        ]
        r["server_s"] = round(ends[-1] - requests[0], 3) if requests and ends and ends[-1] > requests[0] else None
    return collections


def summarize(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    samples: list[dict[str, float]],
    violations: list[str],
    notes: list[str],
    elapsed: float,
    warm_s: float,
    n_runs: int,
) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {}
    for kind in dict.fromkeys(r["kind"] for r in records):
        ok = [r["seconds"] for r in records if r["kind"] == kind and r["ok"]]
        every = [r["seconds"] for r in records if r["kind"] == kind]
        server = [r["server_s"] for r in records if r["kind"] == kind and r["ok"] and r.get("server_s") is not None]
        kinds[kind] = {
            "count": len(every),
            "errors": len(every) - len(ok),
            "p50_s": round(percentile(ok, 0.5), 3) if ok else None,
            "p95_s": round(percentile(ok, 0.95), 3) if ok else None,
            "max_s": round(max(ok), 3) if ok else None,
            "server_p50_s": round(percentile(server, 0.5), 3) if server else None,
            "server_p95_s": round(percentile(server, 0.95), 3) if server else None,
        }
    names: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["name"] for r in records):
        ok = [r["seconds"] for r in records if r["name"] == name and r["ok"]]
        server = [r["server_s"] for r in records if r["name"] == name and r["ok"] and r.get("server_s") is not None]
        names[name] = {
            "count": sum(r["name"] == name for r in records),
            "errors": sum(r["name"] == name and not r["ok"] for r in records),
            "p50_s": round(percentile(ok, 0.5), 3) if ok else None,
            "p95_s": round(percentile(ok, 0.95), 3) if ok else None,
            "server_p95_s": round(percentile(server, 0.95), 3) if server else None,
            "server_cpu_s": round(statistics.median(r["server_cpu_s"] for r in records if r["name"] == name), 3),
            "browser_cpu_s": round(statistics.median(r["browser_cpu_s"] for r in records if r["name"] == name), 3),
        }
    last_t = samples[-1]["t"] if samples else 0.0
    window = [s for s in samples if s["t"] >= last_t - SLOPE_WINDOW_S]
    rss: dict[str, Any] = {}
    for key in ("server_mb", "total_mb"):
        values = [s[key] for s in samples]
        slope = slope_per_min([(s["t"], s[key]) for s in window])
        rss[key] = {
            "start": values[0] if values else None,
            "max": max(values) if values else None,
            "end": values[-1] if values else None,
            "slope_last_5min_mb_per_min": round(slope, 2) if slope is not None else None,
        }
    errors = [r for r in records if not r["ok"]]
    return {
        "users": args.users,
        "minutes": args.minutes,
        "rounds": args.rounds,
        "pause_s": args.pause,
        "seed": args.seed,
        "browser_nice": args.browser_nice,
        "cpus": os.cpu_count(),
        "warm_up_s": round(warm_s, 1),
        "elapsed_s": round(elapsed, 1),
        "actions": len(records),
        "errors": len(errors),
        "actions_per_min": round(60 * len(records) / elapsed, 1) if elapsed else None,
        "training_runs_started": n_runs,
        "kinds": kinds,
        "names": names,
        "rss": rss,
        "cross_session_violations": len(violations),
        "violations": violations,
        "check_notes": notes,
        "error_list": [{k: r[k] for k in ("user", "kind", "name", "t", "error")} for r in errors],
        "_records": records,
        "_samples": samples,
    }


def print_table(summary: dict[str, Any]) -> None:
    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    print(
        f"{summary['users']} users for {summary['minutes']:g} min"
        + (f" x {summary['rounds']} rounds" if summary["rounds"] > 1 else "")
        + f", pause {summary['pause_s']:g} s ±50 %, "
        f"{summary['cpus']} CPUs, Chromium at nice {summary['browser_nice']} (warm-up {summary['warm_up_s']:.0f} s, measured {summary['elapsed_s']:.0f} s)"
    )
    print(
        f"{'kind':12s} {'count':>6s} {'errors':>7s} {'p50 s':>7s} {'p95 s':>7s} {'max s':>7s}"
        f" | in the server {'p50 s':>6s} {'p95 s':>6s}"
    )
    for kind, row in summary["kinds"].items():
        print(
            f"{kind:12s} {row['count']:6d} {row['errors']:7d} {num(row['p50_s']):>7s} "
            f"{num(row['p95_s']):>7s} {num(row['max_s']):>7s} |               "
            f"{num(row['server_p50_s']):>6s} {num(row['server_p95_s']):>6s}"
        )
    print(
        f"total: {summary['actions']} actions, {summary['errors']} errors, "
        f"{summary['actions_per_min']} actions/min, {summary['training_runs_started']} training runs started"
    )
    for key, title in (("server_mb", "server RSS"), ("total_mb", "server + workers RSS")):
        r = summary["rss"][key]
        print(
            f"{title}: start {r['start']:.0f} MB, max {r['max']:.0f} MB, end {r['end']:.0f} MB, "
            f"slope over the last 5 min {num(r['slope_last_5min_mb_per_min'])} MB/min"
        )
    closed = summary.get("rss_after_close")
    if closed:  # what the sessions held, given back or not; a later round's shows whether it adds up
        print(
            f"server RSS {closed['seconds']:.0f} s after the tabs closed, by round: "
            + ", ".join(f"{mb:.0f} MB" for mb in closed["server_mb"])
        )
    cpu = summary.get("cpu")
    if cpu:  # how much of the machine the server had: the rest went to Chromium's tabs and the workers
        print(
            f"CPU over the measured time: machine busy {cpu['machine_busy_s']:.0f} of {cpu['machine_s']:.0f} core-s "
            f"({cpu['machine_busy_s'] / cpu['machine_s']:.0%}); the server process {cpu['server_s']:.0f} core-s "
            f"({cpu['server_s'] / max(cpu['machine_busy_s'], 1e-9):.0%} of the busy time)"
        )
    collections = summary.get("gc")
    if collections:  # every session waits while one runs
        print(
            f"full garbage collections in the server: {collections['count']}, "
            f"{collections['total_s']:.1f} s in all, the longest {collections['max_s']:.2f} s"
        )
    print(
        "by action: p50 / p95 s (p95 in the server); median CPU s meanwhile of the server / Chromium"
        + (" (one user: the action's own cost)" if summary["users"] == 1 else " (all users' work)")
    )
    for name, row in summary["names"].items():
        print(
            f"  {name:40s} {num(row['p50_s']):>6s} / {num(row['p95_s']):>6s} ({num(row['server_p95_s']):>5s})   "
            f"{row['server_cpu_s']:.2f} / {row['browser_cpu_s']:.2f}"
        )
    print(f"cross-session violations: {summary['cross_session_violations']}")
    for v in summary["violations"]:
        print(f"  {v}")
    for n in summary["check_notes"]:
        print(f"  (no leak) {n}")
    if summary["error_list"]:
        print("errors:")
        for e in summary["error_list"]:
            print(f"  user {e['user']} at {e['t']:.0f} s, {e['name']}: {e['error'][:300]}")
    print(
        "targets: 0 errors; p95 display <= 2 s, prediction <= 3 s; RSS bounded; no cross-session leak: "
        f"display p95 {num(summary['kinds'].get('display', {}).get('p95_s'))} s, "
        f"prediction p95 {num(summary['kinds'].get('prediction', {}).get('p95_s'))} s "
        f"(in the server: {num(summary['kinds'].get('display', {}).get('server_p95_s'))} s / "
        f"{num(summary['kinds'].get('prediction', {}).get('server_p95_s'))} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between actions, ±50 %% (0: stress)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--browser-nice", type=int, default=0, help="run Chromium at this nice value (19: the server comes first)"
    )
    parser.add_argument(
        "--after-close",
        type=float,
        default=0.0,
        help="then close the tabs and read the server's RSS this many seconds later (180: every session ended)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat the lesson this many times on one server (new tabs each time)"
    )
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    parser.add_argument("--verbose", action="store_true", help="print each action to stderr as it ends")
    parser.add_argument("--shots", type=Path, help="save a screenshot of each failed action in this folder")
    parser.add_argument("--out", type=Path, help="write the per-action records and RSS samples here (JSON)")
    args = parser.parse_args()
    if args.shots is not None:
        args.shots.mkdir(parents=True, exist_ok=True)
    summary = asyncio.run(load_test(args))
    records, samples = summary.pop("_records"), summary.pop("_samples")
    if args.out is not None:
        args.out.write_text(json.dumps({"summary": summary, "records": records, "rss": samples}, indent=1))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary)


if __name__ == "__main__":
    main()
