"""A generic background job: run a function in a worker thread, report progress, allow cancel.

Used for sweeps and other long work that is not training (training has its own richer
:class:`~playground.training.job.TrainingJob`). The worker never calls Streamlit; a page polls
``progress``/``status`` from a fragment and reads ``result`` or ``error`` at the end.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

T = TypeVar("T")
JobStatus = Literal["pending", "running", "done", "stopped", "failed"]
#: ``work(report, stop_event) -> result``; ``report(done, total, message)`` may be called any time.
Work = Callable[[Callable[[int, int, str], None], threading.Event], T]


class BackgroundJob(Generic[T]):
    """Runs ``work`` once in a daemon thread.

    Args:
        work: the function to run; it should check ``stop_event`` between steps and return early
            (its return value is kept) when it is set.
        name: a label for the UI.
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

    def start(self) -> BackgroundJob[T]:
        """Start the worker thread.

        Raises:
            RuntimeError: if the job was already started.
        """
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"{self.name} was already started")
            self._status = "running"
            self._started_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the worker to stop at its next check."""
        self._stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when it has finished."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _report(self, done: int, total: int, message: str = "") -> None:
        with self._lock:
            self._done, self._total, self._message = done, total, message

    def _run(self) -> None:
        try:
            result = self._work(self._report, self._stop_event)
        except BaseException as exc:  # kept for the page to show; the thread must not die silently
            with self._lock:
                self._error = exc
                self._traceback = traceback.format_exc()
                self._status = "failed"
                self._finished_at = time.monotonic()
            return
        with self._lock:
            self._result = result
            self._status = "stopped" if self._stop_event.is_set() else "done"
            self._finished_at = time.monotonic()

    @property
    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    @property
    def progress(self) -> tuple[int, int, str]:
        """``(done, total, message)`` as last reported."""
        with self._lock:
            return self._done, self._total, self._message

    @property
    def result(self) -> T | None:
        with self._lock:
            return self._result

    @property
    def error(self) -> BaseException | None:
        with self._lock:
            return self._error

    @property
    def error_message(self) -> str:
        """The error in one line (``"ValueError: ..."``), or ``""``."""
        err = self.error
        return "" if err is None else f"{type(err).__name__}: {err}"

    @property
    def elapsed_s(self) -> float:
        """Seconds since start (until the end, once finished)."""
        with self._lock:
            if self._started_at is None:
                return 0.0
            end = self._finished_at if self._finished_at is not None else time.monotonic()
            return end - self._started_at

    def eta_s(self) -> float | None:
        """Estimated seconds left from the progress so far, or None before the first report."""
        done, total, _ = self.progress
        if done <= 0 or total <= 0:
            return None
        return self.elapsed_s * (total - done) / done

    def __repr__(self) -> str:
        done, total, _ = self.progress
        return f"BackgroundJob({self.name!r}, {self.status}, {done}/{total})"


def run_now(work: Work[T]) -> T:
    """Run ``work`` in the calling thread (for the CLI and tests); progress is ignored."""

    def ignore(_done: int, _total: int, _message: str = "") -> None:
        return None

    return work(ignore, threading.Event())


__all__ = ["BackgroundJob", "JobStatus", "Work", "run_now"]
