"""A background job: run a function in a worker thread, report progress, allow cancel.

Long work (training, robustness sweeps) runs in a :class:`BackgroundJob` kept in a page's session
state. The worker never calls Streamlit; a page polls ``status``/``progress`` from a fragment and
reads ``result`` or ``error`` at the end. An exception in the worker is kept (status ``"failed"``)
and logged: it is never lost. Training runs in worker processes instead (:mod:`playground.runner.run_job`).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
JobStatus = Literal["pending", "running", "done", "stopped", "failed"]
#: ``work(on_progress, stop_event) -> result``; ``on_progress(done, total, message)`` may be called any
#: time (the library's convention for long work: pass both on to the library function).
Work = Callable[[Callable[[int, int, str], None], threading.Event], T]

log = logging.getLogger(__name__)


class BackgroundJob(Generic[T]):
    """Runs ``work`` once in a daemon thread and exposes lock-guarded snapshots.

    Args:
        work: ``work(on_progress, stop_event)``, the function to run; it should report through
            ``on_progress(done, total, message)`` and check ``stop_event`` between steps, returning
            early (its return value is kept) when it is set.
        name: a label for the UI, logs and the thread.
    """

    def __init__(self, work: Work[T], name: str = "job") -> None:
        self.name = name
        self._work = work
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: JobStatus = "pending"
        self._done = 0
        self._total = 0
        self._message = ""
        self._result: T | None = None
        self._error: BaseException | None = None
        self._traceback = ""
        self._started_at: float | None = None
        self._finished_at: float | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> BackgroundJob[T]:
        """Start the worker thread; returns ``self``.

        Raises:
            RuntimeError: if the job was already started (a job runs once; make a new one).
        """
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"job already started: {self.name} has already been started; create a new one")
            self._status = "running"
            self._started_at = time.time()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the worker to stop at its next check."""
        self._stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker, at most ``timeout`` seconds; True once it has finished."""
        thread = self._thread
        if thread is None:
            return False
        thread.join(timeout)
        return not thread.is_alive()

    def is_alive(self) -> bool:
        """Whether the worker thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- the worker ------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, message: str = "") -> None:
        with self._lock:
            self._done, self._total, self._message = done, total, message

    def _final_status(self, result: T) -> JobStatus:
        """``"stopped"`` when a stop was asked for, else ``"done"``; subclasses may read ``result``."""
        return "stopped" if self._stop_event.is_set() else "done"

    def _run(self) -> None:
        try:
            result = self._work(self._on_progress, self._stop_event)
        except Exception as exc:  # kept for the page to show, and logged: never lost
            log.exception("%s failed", self.name)
            with self._lock:
                self._error = exc
                self._traceback = traceback.format_exc()
                self._status = "failed"
                self._finished_at = time.time()
            return
        with self._lock:
            self._result = result
            self._status = self._final_status(result)
            self._finished_at = time.time()

    # -- snapshots (safe to read from any thread) -------------------------------------------
    @property
    def status(self) -> JobStatus:
        """``"pending"``, ``"running"``, ``"done"``, ``"stopped"`` or ``"failed"``."""
        with self._lock:
            return self._status

    @property
    def progress(self) -> tuple[int, int, str]:
        """``(done, total, message)`` as last reported."""
        with self._lock:
            return self._done, self._total, self._message

    @property
    def result(self) -> T | None:
        """What ``work`` returned, once the job is ``"done"`` or ``"stopped"``."""
        with self._lock:
            return self._result

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the job, or None."""
        with self._lock:
            return self._error

    @property
    def error_message(self) -> str:
        """The error in one line (``"ValueError: ..."``), or ``""``."""
        err = self.error
        return "" if err is None else f"{type(err).__name__}: {err}"

    @property
    def traceback(self) -> str:
        """The failed job's formatted traceback ("" when there is none), for a details panel."""
        with self._lock:
            return self._traceback

    @property
    def started_at(self) -> float | None:
        """When :meth:`start` was called (``time.time()``), or None."""
        with self._lock:
            return self._started_at

    @property
    def finished_at(self) -> float | None:
        """When the worker finished (``time.time()``), or None while pending / running."""
        with self._lock:
            return self._finished_at

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop_event.is_set()

    @property
    def elapsed_s(self) -> float:
        """Seconds since start (until the end, once finished)."""
        with self._lock:
            if self._started_at is None:
                return 0.0
            end = self._finished_at if self._finished_at is not None else time.time()
            return end - self._started_at

    def eta_s(self) -> float | None:
        """Estimated seconds left from the progress so far, or None before the first report."""
        with self._lock:  # the fields, not ``progress``: a subclass may report richer progress
            done, total = self._done, self._total
        if done <= 0 or total <= 0:
            return None
        return self.elapsed_s * (total - done) / done

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.status}, {self._done}/{self._total})"


def run_now(work: Work[T]) -> T:
    """Run ``work`` in the calling thread (for the CLI and tests); progress is ignored."""

    def ignore(_done: int, _total: int, _message: str = "") -> None:
        return None

    return work(ignore, threading.Event())


__all__ = ["BackgroundJob", "JobStatus", "Work", "run_now"]
