"""The worker process: ``python -m playground.runner.worker <run folder>`` runs one spec.

It reads ``spec.json``, sets its CPU threads once (the process is the run's own, so the server's
threads are never touched), trains through :func:`~playground.runner.execute.execute`, and writes
what happens into the folder (:mod:`playground.runner.folder`): progress and epoch lines in
``metrics.jsonl``, a checkpoint after every epoch and at the end, the final status. SIGTERM asks
it to stop: it finishes the batch, saves the last good weights and writes ``stopped``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the library is imported after the SIGTERM handler is in place (see main)
    from playground.runner.folder import RunStatus

PROGRESS_INTERVAL_S = 0.2  # at most five progress lines a second in metrics.jsonl
# Training is batch work beside an interactive server: at a lower CPU priority (nice 10) a page's
# script run comes first when both want the cores, while the run still gets every cycle the pages
# leave. Nothing changes on an idle machine or on a GPU.
WORKER_NICENESS = 10


def run_worker(folder: Path, stop_event: threading.Event | None = None) -> RunStatus:
    """Run the spec in ``folder`` in this process and record everything there; returns the final status.

    The CPU threads are the caller's (:func:`main` sets the spec's for the worker process).

    Args:
        folder: a run folder made by :meth:`RunFolder.create`.
        stop_event: stops the run at its next batch (the process's SIGTERM handler sets it).

    Never raises for a failed run: the error goes to ``status.json`` (``failed``) and the log.
    """
    from playground.runner.execute import execute
    from playground.runner.folder import RunFolder, now
    from playground.training.distributed import context_from_env

    context = context_from_env()
    if context is not None and not context.is_main:  # another rank of a data-parallel run: rank 0 writes
        outcome = execute(RunFolder(Path(folder)).spec(), Path(folder), stop_event=stop_event)
        return "stopped" if outcome.stopped else "done"
    from playground.runner.overview import flat_settings
    from playground.runner.tensorboard import TensorBoardLog

    run = RunFolder(Path(folder))
    stop_event = stop_event or threading.Event()
    run.write_status("running", pid=os.getpid(), started=now())
    board = TensorBoardLog(run.path)
    last_report = [0.0]

    def due(done: int, total: int) -> bool:
        t = time.monotonic()
        if t - last_report[0] >= PROGRESS_INTERVAL_S or done >= total:
            last_report[0] = t
            return True
        return False

    def on_progress(done: int, total: int, message: str) -> None:  # seq2seq runs
        if due(done, total):
            run.append_metrics(
                {"type": "progress", "done": done, "total": total, "message": message, "time": time.time()}
            )

    def on_batch(progress: Any) -> None:  # classification runs: the batch's loss, speed and ETA too
        if due(progress.step, progress.total_steps):  # at most five points a second, as metrics.jsonl
            board.batch(progress.step, progress.loss)
            record = {"done": progress.step, "total": progress.total_steps, "message": f"epoch {progress.epoch}"}
            run.append_metrics({"type": "progress", **record, **asdict(progress), "time": time.time()})

    def on_epoch(record: dict[str, Any], bundle: Any) -> None:
        run.append_metrics({"type": "epoch", **record, "time": time.time()})
        board.epoch(record)
        if bundle is not None:
            bundle.save(run.checkpoint_dir)  # atomic: the last good epoch survives a crash
            run.remove_partial_saves()

    try:
        spec = run.spec()
        seq2seq = spec.kind == "seq2seq"
        outcome = execute(
            spec,
            run.path,
            on_progress=on_progress if seq2seq else None,
            on_batch=None if seq2seq else on_batch,
            on_epoch=on_epoch,
            stop_event=stop_event,
        )
        outcome.bundle.save(run.checkpoint_dir)
        run.remove_partial_saves()
    except Exception as exc:  # every failure is recorded, never lost
        traceback.print_exc()
        run.write_status("failed", error=f"{type(exc).__name__}: {exc}", finished=now())
        return "failed"
    status: RunStatus = "stopped" if outcome.stopped else "done"
    board.close(flat_settings(run), outcome.metrics)
    run.write_status(status, metrics=outcome.metrics, finished=now())
    return status


def lower_priority(niceness: int) -> None:
    """Run this process, and its session's scheduling group, at ``nice`` ``niceness`` (never higher).

    ``os.nice`` alone is not enough on Linux with autogroups on (``/proc/sys/kernel/sched_autogroup_enabled``,
    the default of most distributions): every session (a worker is one: ``start_new_session``) is its
    own scheduling group, groups share the CPU equally whatever their tasks' nice values, and the
    group's own weight is set through ``/proc/self/autogroup`` (man 7 sched, "The autogroup feature").
    Where that file does not exist (autogroups off, macOS) the nice value does the work.
    """
    os.nice(max(0, niceness - os.nice(0)))  # a standby started by a worker is already there
    with contextlib.suppress(OSError):  # no autogroups here, or a group that is already lower
        Path("/proc/self/autogroup").write_text(f"{niceness}\n", encoding="ascii")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the folder given, then start the next queued run of the same runs folder.

    ``--standby <runs folder>`` imports everything first and then waits for a launcher to hand it a
    run (:mod:`playground.runner.standby`); it exits without running anything when it retires.
    """
    args = sys.argv[1:] if argv is None else argv
    standby = len(args) == 2 and args[0] == "--standby"
    if len(args) != 1 and not standby:
        print("usage: python -m playground.runner.worker [--standby <runs folder> | <run folder>]", file=sys.stderr)
        return 2
    stop_event = threading.Event()
    # First of all, before the seconds that importing torch takes: a Stop pressed at once is a stop.
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    lower_priority(WORKER_NICENESS)  # below the server (under torchrun each rank lowers itself)
    import torch

    from playground.runner.folder import RunFolder

    if standby:
        taken = _wait_as_standby(Path(args[1]), stop_event)
        if taken is None:
            return 0
        folder = taken
    else:
        folder = Path(args[0])
    if RunFolder(folder).raw_status().get("stop_requested"):
        stop_event.set()
    with contextlib.suppress(ValueError):  # an unreadable spec is recorded by run_worker as the failure
        spec = RunFolder(folder).spec()  # threads are process-wide: this process is the run's own
        torch.set_num_threads(max(1, spec.threads // spec.nproc_per_node))
    from playground.training.distributed import context_from_env, leave

    try:
        status = run_worker(folder, stop_event)
    finally:
        leave()
    context = context_from_env()
    if context is None or context.is_main:
        from playground.runner.launcher import prepare_standby, schedule

        schedule(folder.parent)  # this run's slot is free now
        if standby:  # a run the app started (the CLI's runs never leave a standby behind)
            prepare_standby(folder.parent)  # the next one starts at once
    return 0 if status in ("done", "stopped") else 1


def _wait_as_standby(runs_dir: Path, stop_event: threading.Event) -> Path | None:
    """Import what a run needs, wait for a run folder, and send this process's output to its log."""
    for module in ("playground.data", "playground.runner.execute", "playground.training"):
        importlib.import_module(module)  # the seconds a run would wait for: torchvision, scikit-learn, the library
    from playground.runner.folder import LOG_FILE
    from playground.runner.spec import code_version
    from playground.runner.standby import wait_for_run

    folder = wait_for_run(runs_dir, stop_event, code_version=code_version())
    if folder is None:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)  # from here on, this process writes where a fresh worker of this run would
    os.dup2(log, 2)
    os.close(log)
    return folder


if __name__ == "__main__":
    raise SystemExit(main())
