"""A standby worker: a process that has imported torch and the library already, waiting for a run.

A fresh worker spends ~3.3 s on 2 CPU cores importing torch (1.1 s), torchvision (1.0 s, most of
it ``torch._dynamo`` that ``torchvision.ops`` pulls in), scikit-learn (0.95 s: pandas, scipy.stats)
and the playground before its first batch (``bench/bench_runner.py``). The launcher keeps one
standby per runs folder, so that pressing Train starts at once; the run it takes still runs in its
own process (threads, SIGTERM and the process group exactly as a fresh worker's).

Hand-written because neither ``multiprocessing``'s forkserver nor a pool fits: a worker must outlive
the server (a restart keeps runs going), sit in its own process group (Stop reaches torchrun's
children too) and write its output to its run's log.

The hand-over, in ``<runs>/.standby/``; every step is one atomic create or rename, so two launchers
(two users, two server processes) never hand one standby two runs::

    <pid>.starting   written by the launcher that spawned the standby (it is importing)
    <pid>.ready      renamed from .starting by the standby once imported: {"code_version"}
    <pid>.claimed    renamed from .ready by the one launcher whose rename won ...
    <pid>.run        ... which then writes {"folder"}; the standby reads it, removes both, and runs it

A standby that waits :data:`IDLE_TIMEOUT_S` without a run, or gets SIGTERM, retires: it renames its
``.ready`` away first, so that it is never claimed while leaving. ``$PLAYGROUND_STANDBY=0`` turns
standbys off (the test suite does; each one holds ~0.8 GB resident, ~0.45 GB of it its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

STANDBY_DIR = ".standby"
LOG_NAME = "standby.log"
IDLE_TIMEOUT_S = 600.0  # a standby unused for 10 minutes exits
POLL_S = 0.02  # how often a standby looks for its run (a stat of one file)
CLAIM_TIMEOUT_S = 60.0  # a claimed standby whose run never comes exits this long after its idle timeout


def enabled() -> bool:
    """Whether launchers use standbys: unless ``$PLAYGROUND_STANDBY`` is ``0``."""
    return os.environ.get("PLAYGROUND_STANDBY", "1").strip() != "0"


def _dir(runs_dir: Path) -> Path:
    return Path(runs_dir) / STANDBY_DIR


def _pid_of(path: Path) -> int | None:
    stem = path.name.split(".", 1)[0]
    return int(stem) if stem.isdigit() else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from playground.runner.folder import write_json_atomic

    write_json_atomic(path, data)


def waiting(runs_dir: Path) -> list[int]:
    """PIDs of live standbys of ``runs_dir`` that are importing or ready; files of dead ones are removed."""
    from playground.core.processes import pid_alive

    found = []
    folder = _dir(runs_dir)
    if not folder.is_dir():
        return []
    for path in folder.iterdir():
        pid = _pid_of(path)
        if pid is None or path.suffix not in (".starting", ".ready", ".claimed", ".run"):
            continue
        if not pid_alive(pid):
            path.unlink(missing_ok=True)
        elif path.suffix in (".starting", ".ready"):
            found.append(pid)
    return sorted(found)


def spawn(runs_dir: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start a standby for ``runs_dir`` (``python -m playground.runner.worker --standby <runs_dir>``).

    Args:
        runs_dir: the runs folder whose runs it will take.
        env: the worker's environment (the launcher's, with the project on ``PYTHONPATH``).
        cwd: the worker's working directory (the project root).
    """
    folder = _dir(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOG_NAME, "ab") as log:  # its imports' errors, if any; a run's output goes to the run's log
        proc = subprocess.Popen(
            [sys.executable, "-m", "playground.runner.worker", "--standby", str(Path(runs_dir).resolve())],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, as every worker
        )
    (folder / f"{proc.pid}.starting").touch()
    return proc


def claim(runs_dir: Path, run_folder: Path, code_version: str) -> int | None:
    """Hand ``run_folder`` to a ready standby of ``runs_dir``; returns its PID, or ``None`` when none is ready.

    A standby that imported another checkout than the one that wrote the spec (``code_version``) is
    passed over: the run must run the code its spec names.
    """
    from playground.core.processes import pid_alive

    folder = _dir(runs_dir)
    for ready in sorted(folder.glob("*.ready")) if folder.is_dir() else []:
        pid = _pid_of(ready)
        if pid is None or not pid_alive(pid):
            ready.unlink(missing_ok=True)
            continue
        try:
            facts = json.loads(ready.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if facts.get("code_version") != code_version:
            continue
        try:
            os.rename(ready, folder / f"{pid}.claimed")  # only one launcher's rename finds the file
        except FileNotFoundError:
            continue
        _write_json(folder / f"{pid}.run", {"folder": str(Path(run_folder).resolve())})
        return pid
    return None


def wait_for_run(
    runs_dir: Path, stop_event: threading.Event, idle_timeout_s: float = IDLE_TIMEOUT_S, code_version: str = ""
) -> Path | None:
    """In the standby process, after its imports: say it is ready and wait for a run folder.

    Returns:
        The run folder to run, or ``None`` when the standby retires (idle timeout or SIGTERM, which
        sets ``stop_event``, before any launcher claimed it).
    """
    folder = _dir(runs_dir)
    pid = os.getpid()
    starting, ready = folder / f"{pid}.starting", folder / f"{pid}.ready"
    claimed, handed = folder / f"{pid}.claimed", folder / f"{pid}.run"
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(starting, {"code_version": code_version})  # replaces the launcher's empty marker
    os.replace(starting, ready)
    deadline = time.monotonic() + idle_timeout_s
    while not handed.exists():
        if (stop_event.is_set() or time.monotonic() > deadline) and _retire(ready):
            return None
        if not ready.exists() and not claimed.exists():  # the files were removed under it (runs folder gone)
            return None
        if time.monotonic() > deadline + CLAIM_TIMEOUT_S:  # claimed, but its launcher died before handing over
            return None
        time.sleep(POLL_S)
    try:
        run_folder = Path(json.loads(handed.read_text(encoding="utf-8"))["folder"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        run_folder = None
    handed.unlink(missing_ok=True)
    claimed.unlink(missing_ok=True)
    return run_folder


def _retire(ready: Path) -> bool:
    """Take this standby off the market; ``False`` when a launcher claimed it first (a run is coming)."""
    try:
        ready.unlink()
    except FileNotFoundError:
        return False
    return True
