"""Standby workers: a run handed to an imported process gives the same result, stops, and never goes twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_runner import finished, wait_for

from playground.core.processes import pid_alive
from playground.runner import standby
from playground.runner.folder import RunFolder
from playground.runner.launcher import prepare_standby, start_run, stop_run
from playground.runner.spec import RunSpec
from playground.runner.worker import run_worker


@pytest.fixture
def standbys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Standbys on, for a runs folder of this test; every standby it started is stopped at the end."""
    monkeypatch.setenv("PLAYGROUND_STANDBY", "1")
    runs = tmp_path / "runs"
    yield runs
    for path in (runs / standby.STANDBY_DIR).glob("*.*"):
        pid = int(path.name.split(".")[0]) if path.name.split(".")[0].isdigit() else None
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def ready(runs: Path) -> list[Path]:
    return sorted((runs / standby.STANDBY_DIR).glob("*.ready"))


def test_a_standby_takes_the_run_and_gives_the_fresh_workers_result(standbys: Path, tmp_path: Path) -> None:
    prepare_standby(standbys)
    prepare_standby(standbys)  # a second page opening: still one standby
    assert len(standby.waiting(standbys)) == 1
    wait_for(lambda: ready(standbys), timeout=120, what="the standby's imports")
    (pid,) = standby.waiting(standbys)

    spec = RunSpec.resolve("lenet5", "digits", epochs=2)
    run = start_run(spec, standbys)
    assert run.status()["pid"] == pid  # no new interpreter: the standby took it
    wait_for(lambda: finished(run), timeout=120)
    assert run.status()["status"] == "done", run.log_tail()

    # the same spec in this process: the same numbers
    here = RunFolder.create(tmp_path / "here", spec)
    assert run_worker(here.path) == "done"
    assert run.status()["metrics"]["val_accuracy"] == pytest.approx(here.status()["metrics"]["val_accuracy"], abs=1e-9)

    # the worker started the next standby when its run ended
    wait_for(lambda: ready(standbys), timeout=120, what="the next standby")
    assert standby.waiting(standbys) != [pid]


def test_stop_reaches_a_run_in_a_standby_and_a_retired_standby_is_never_claimed(standbys: Path) -> None:
    prepare_standby(standbys)
    wait_for(lambda: ready(standbys), timeout=120, what="the standby's imports")
    (pid,) = standby.waiting(standbys)
    run = start_run(RunSpec.resolve("lenet5", "digits", epochs=500), standbys)
    wait_for(lambda: len(run.epochs()) >= 2, timeout=120, what="two epochs")
    assert run.status()["pid"] == pid
    log = str((run.path / "log.txt").resolve())
    assert os.readlink(f"/proc/{pid}/fd/1") == os.readlink(f"/proc/{pid}/fd/2") == log  # output to the run's log
    assert stop_run(run) == "signalled"
    wait_for(lambda: finished(run), timeout=120)
    assert run.status()["status"] == "stopped" and run.checkpoint() is not None

    wait_for(lambda: ready(standbys), timeout=120, what="the next standby")
    (pid,) = standby.waiting(standbys)
    os.kill(pid, signal.SIGTERM)  # retire: it takes itself off the market and exits
    wait_for(lambda: not pid_alive(pid), timeout=30, what="the standby to exit")
    assert standby.claim(standbys, standbys / "any", "any version") is None


def test_two_launchers_never_hand_one_standby_two_runs(tmp_path: Path) -> None:
    """The hand-over on its own, in threads: one claim wins, the standby gets exactly that folder."""
    runs = tmp_path / "runs"
    folder = runs / standby.STANDBY_DIR
    folder.mkdir(parents=True)
    stop = threading.Event()
    taken: list[Path | None] = []
    waiter = threading.Thread(target=lambda: taken.append(standby.wait_for_run(runs, stop, 30, code_version="v1")))
    waiter.start()
    wait_for(lambda: (folder / f"{os.getpid()}.ready").exists(), timeout=10)
    assert standby.claim(runs, runs / "a", "v2") is None  # another checkout's spec: not this standby
    winners: list[int | None] = []
    claimers = [
        threading.Thread(target=lambda n=n: winners.append(standby.claim(runs, runs / f"run{n}", "v1")))
        for n in range(8)
    ]
    for t in claimers:
        t.start()
    for t in claimers:
        t.join()
    waiter.join(timeout=10)
    assert [w for w in winners if w is not None] == [os.getpid()]
    assert taken and taken[0] is not None and taken[0].parent == runs.resolve()
    assert list(folder.iterdir()) == []  # the hand-over cleaned up after itself


def test_an_idle_standby_retires(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    t0 = time.monotonic()
    assert standby.wait_for_run(runs, threading.Event(), idle_timeout_s=0.2) is None
    assert time.monotonic() - t0 < 5
    assert standby.claim(runs, runs / "a", "") is None


def test_a_run_started_without_a_standby_leaves_none_behind(standbys: Path) -> None:
    """Runs the app did not hand to a standby (the CLI's data-parallel runs, a cold start) start none."""
    run = start_run(RunSpec.resolve("lenet5", "digits", epochs=1), standbys)
    wait_for(lambda: finished(run), timeout=120)
    assert run.status()["status"] == "done"
    time.sleep(0.5)
    assert standby.waiting(standbys) == []
