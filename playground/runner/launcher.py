"""Starting, queueing and stopping worker processes (the server never trains in its own process).

At most :func:`max_running` runs of one runs folder work at once (default: one per GPU, one on a
CPU machine; ``$PLAYGROUND_MAX_RUNS`` overrides); the rest wait as ``queued`` and start, oldest
first, when a slot frees: :func:`schedule` is called after each start, by every worker when it
ends, and by the pages when they look. A lock file keeps two schedulers from starting the same run.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playground.runner import standby
from playground.runner.folder import LOG_FILE, RunFolder, list_runs, now, queue_order
from playground.runner.spec import RunSpec

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = ".queue.lock"
_children: dict[int, subprocess.Popen[bytes]] = {}  # workers this process started (reaped in schedule)


def max_running() -> int:
    """How many runs may work at once: ``$PLAYGROUND_MAX_RUNS``, else one per GPU, else 1."""
    env = os.environ.get("PLAYGROUND_MAX_RUNS", "")
    if env.strip().isdigit() and int(env) >= 1:
        return int(env)
    import torch

    return max(1, torch.cuda.device_count())


@contextmanager
def _queue_lock(runs_dir: Path) -> Iterator[None]:
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / LOCK_FILE, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def start_run(
    spec: RunSpec, runs_dir: Path, *, files: dict[str, bytes] | None = None, limit: int | None = None
) -> RunFolder:
    """Write a new run folder for ``spec`` and start its worker, or queue it when every slot is busy.

    Args:
        spec: the run.
        runs_dir: the runs folder (``playground.bundle.default_runs_dir()`` for the app and the CLI).
        files: uploaded files the run trains on (see :meth:`RunFolder.create`).
        limit: runs at once (default :func:`max_running`).

    Returns:
        The run's folder; its status is ``running`` or ``queued``.
    """
    run = RunFolder.create(Path(runs_dir), spec, files)
    schedule(Path(runs_dir), limit=limit)
    return run


def schedule(runs_dir: Path, *, limit: int | None = None) -> list[RunFolder]:
    """Start queued runs, oldest first, while fewer than ``limit`` are running; returns those started."""
    for pid, proc in list(_children.items()):  # reap finished children, so none stays a zombie
        if proc.poll() is not None:
            del _children[pid]
    limit = max_running() if limit is None else limit
    runs_dir = Path(runs_dir)
    started: list[RunFolder] = []
    with _queue_lock(runs_dir):
        runs = list_runs(runs_dir)
        states = {r.path: r.status() for r in runs}
        running = sum(1 for s in states.values() if s.get("status") == "running")
        queued = queue_order(runs, states)
        for run in queued[: max(0, limit - running)]:
            _launch(run)
            started.append(run)
    return started


def _launch(run: RunFolder) -> None:
    """Start ``run``'s worker in its own process group: a standby's (see :mod:`.standby`), else a new one."""
    spec = _readable_spec(run)
    pid = None
    if spec is not None and spec.world_size == 1 and standby.enabled():
        pid = standby.claim(run.path.parent, run.path, spec.code_version)
    if pid is None:
        with open(run.path / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                worker_command(run),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=PROJECT_ROOT,
                env=_worker_env(),
                start_new_session=True,  # its own process group: a stop reaches it and its children
            )
        _children[proc.pid] = proc
        pid = proc.pid
    status = run.raw_status().get("status")
    if status == "queued":  # unless the worker has already written its own
        run.write_status("running", pid=pid, pgid=pid, started=now())
    else:
        run.write_status(status or "running", pgid=pid)


def _readable_spec(run: RunFolder) -> RunSpec | None:
    try:
        return run.spec()
    except ValueError:
        return None  # the worker records an unreadable spec as the run's failure


def prepare_standby(runs_dir: Path) -> None:
    """Make sure a standby waits for ``runs_dir``'s next run, unless ``$PLAYGROUND_STANDBY`` is ``0``.

    The Train page calls this when it opens, and a standby's run when it ends; not when a run
    starts, where the standby's seconds of imports would slow that run's first epoch.
    """
    if not standby.enabled():
        return
    with _queue_lock(Path(runs_dir)):  # two pages opening at once start one standby
        if not standby.waiting(runs_dir):
            proc = standby.spawn(Path(runs_dir), _worker_env(), PROJECT_ROOT)
            _children[proc.pid] = proc


def _worker_env() -> dict[str, str]:
    """This process's environment with the project on ``PYTHONPATH`` (the worker imports ``playground``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def worker_command(run: RunFolder) -> list[str]:
    """The command that runs ``run``: the worker module, under torchrun for more than one process.

    Raises:
        ValueError: an unreadable ``spec.json``.
    """
    spec = run.spec()
    worker = ["-m", "playground.runner.worker", str(run.path.resolve())]
    if spec.world_size == 1:
        return [sys.executable, *worker]
    torchrun = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={spec.nproc_per_node}"]
    if spec.nnodes == 1:
        torchrun.append("--standalone")  # a local rendezvous on a free port
    else:
        # A static rendezvous at node 0 (--master-addr/--master-port with --node-rank): unlike c10d's
        # dynamic one, it keeps node_rank's order, so node 0 holds the global rank 0 that writes the run.
        host, _, port = str(spec.rdzv_endpoint).rpartition(":")
        torchrun += [
            f"--nnodes={spec.nnodes}",
            f"--node-rank={spec.node_rank}",
            f"--master-addr={host}",
            f"--master-port={port}",
        ]
    return [*torchrun, *worker]


def stop_run(run: RunFolder) -> str:
    """Stop a run: a queued one is ``cancelled``; a running one gets SIGTERM (it saves and stops).

    Returns:
        What was done: ``"cancelled"``, ``"signalled"`` or ``"finished already"``.
    """
    with _queue_lock(run.path.parent):
        state = run.status()
        if state.get("status") == "queued":
            run.write_status("cancelled", finished=now())
            return "cancelled"
        pid = state.get("pgid", state.get("pid"))  # the process group: torchrun and every rank
        if state.get("status") != "running" or not isinstance(pid, int):
            return "finished already"
        run.write_status("running", stop_requested=now())
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return "finished already"
        return "signalled"
