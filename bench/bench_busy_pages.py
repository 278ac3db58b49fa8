"""Page renders in the browser while two users' runs train in worker processes, against an idle server.

    .venv/bin/python bench/bench_busy_pages.py [--rounds 3] [--json]

Starts the app (``streamlit run app.py``, headless, as ``tests/e2e`` does) and headless Chromium.
Each page is opened ``--rounds`` times in a tab, first with nothing training, then while two runs
train at once (``lenet5`` on ``mnist``, one CPU thread each, ``PLAYGROUND_MAX_RUNS=2``: what two
users sharing a 2-core server get). A render is the time from the navigation to the end of the
script run: the page's title shown and Streamlit's "Running…" status gone. Chromium shares the
2 cores with the server here (in a classroom each browser has its own machine), so the server's
share is measured too: the same pages' script runs in Streamlit's ``AppTest`` in this process. The
issue's target: every render under 2 s while the two runs train.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from harness import MAIN, STATUS_RUNNING, launch_browser, page_url, start_app  # noqa: E402

from playground.runner.folder import RunFolder  # noqa: E402
from playground.runner.launcher import start_run, stop_run  # noqa: E402
from playground.runner.spec import RunSpec  # noqa: E402

PAGES = ("home", "predict", "features", "runs", "train")
QUIET_S = 0.5  # "Running…" absent this long: the script run is over


def render_s(tab, url: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds from the navigation to the title shown and the script run over."""
    t0 = time.perf_counter()
    tab.goto(url, wait_until="domcontentloaded")
    tab.locator(f"{MAIN} h1").first.wait_for(timeout=120_000)
    quiet_since = None
    while True:
        if tab.locator(STATUS_RUNNING).count() == 0:
            quiet_since = quiet_since or time.perf_counter()
            if time.perf_counter() - quiet_since >= QUIET_S:
                return quiet_since - t0
        else:
            quiet_since = None
        tab.wait_for_timeout(50)


def measure(tab, app, rounds: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    return {name: [render_s(tab, page_url(app, name, default=name == "home")) for _ in range(rounds)] for name in PAGES}


def measure_server(rounds: int) -> dict[str, list[float]]:
    """Seconds of each page's script run on the server (Streamlit's AppTest, a rerun of an open page)."""
    from streamlit.testing.v1 import AppTest

    times: dict[str, list[float]] = {}
    for name in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        at.switch_page(f"pages/{name}.py").run()
        times[name] = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            at.run()
            times[name].append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].value}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.update({"PLAYGROUND_MAX_RUNS": "2", "PLAYGROUND_STANDBY": "0"})
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(tmp) / "runs"
        os.environ["PLAYGROUND_RUNS"] = str(runs_dir)  # the AppTest pages read the server's runs
        with (
            start_app(runs_dir, Path(tmp) / "log") as app,
            launch_browser(Path(tmp) / "profile", (1440, 900)) as browser,
        ):
            tab = browser.new_page()
            measure(tab, app, 1)  # warm-up: each page's first run imports its modules
            idle = measure(tab, app, args.rounds)
            idle_server = measure_server(args.rounds)
            spec = RunSpec.resolve("lenet5", "mnist", epochs=200, threads=1)
            runs: list[RunFolder] = [start_run(spec, runs_dir, limit=2) for _ in range(2)]
            try:
                while not all(r.epochs() for r in runs):  # both past their start-up and first epoch
                    time.sleep(0.2)
                busy = measure(tab, app, args.rounds)
                busy_server = measure_server(args.rounds)
                training = [r.status().get("status") for r in runs]
            finally:
                for run in runs:
                    stop_run(run)
    summary = {
        "idle_s": idle,
        "two_runs_training_s": busy,
        "server_idle_s": idle_server,
        "server_two_runs_training_s": busy_server,
        "statuses_while_measured": training,
        "slowest_busy_s": max(max(v) for v in busy.values()),
        "slowest_busy_server_s": max(max(v) for v in busy_server.values()),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"page renders, median of {args.rounds} (max) in seconds; the runs were {training}")
    print(f"{'':10s} {'browser (server + Chromium)':>29s}   {'server (script run)':>27s}")
    print(f"{'page':10s} {'idle':>12s} {'two training':>16s}   {'idle':>12s} {'two training':>14s}")

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):6.2f} ({max(values):.2f})"

    for name in PAGES:
        print(
            f"{name:10s} {cell(idle[name]):>12s} {cell(busy[name]):>16s}   "
            f"{cell(idle_server[name]):>12s} {cell(busy_server[name]):>14s}"
        )
    print(f"slowest while two runs train: browser {summary['slowest_busy_s']:.2f} s, ", end="")
    print(f"server {summary['slowest_busy_server_s']:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
