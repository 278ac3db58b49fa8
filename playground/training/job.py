"""A training run in a background thread, for a web page that redraws while it trains.

The page keeps a :class:`TrainingJob` in its session state, starts it, and polls its lock-guarded
snapshots (status, history, latest progress, batch losses) from a timer; a Stop button calls
:meth:`TrainingJob.stop`. The worker thread only calls :func:`~playground.training.loop.train`
and records what it reports: it never touches the UI. An exception in the worker is kept (status
``"failed"``, :attr:`TrainingJob.error`) for the page to show, and logged; it is never lost.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Literal

from playground.training.config import TrainConfig
from playground.training.loop import BatchProgress, EpochRecord, TrainResult, train

if TYPE_CHECKING:
    from playground.bundle import Bundle
    from playground.data.split import Split

JobStatus = Literal["pending", "running", "done", "stopped", "failed"]
MAX_BATCH_LOSSES = 5_000  # the live loss curve keeps the most recent batches only

log = logging.getLogger(__name__)


class TrainingJob:
    """Runs ``train(bundle, split, config)`` in a daemon thread and exposes thread-safe snapshots.

    The bundle is trained in place: do not use its model elsewhere until the job has finished.

    Args:
        bundle: a bundle the caller owns (a fresh one per run), with ``len(classes)`` outputs.
        split: the train / validation split.
        config: the hyper-parameters.

    Raises:
        TypeError: if ``config`` is not a :class:`TrainConfig`.
    """

    def __init__(self, bundle: Bundle, split: Split, config: TrainConfig) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"expected a TrainConfig, got {type(config).__name__}")
        self.bundle = bundle
        self.split = split
        self.config = config
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: JobStatus = "pending"
        self._history: list[EpochRecord] = []
        self._progress: BatchProgress | None = None
        self._batch_losses: deque[tuple[int, float]] = deque(maxlen=MAX_BATCH_LOSSES)
        self._error: BaseException | None = None
        self._traceback = ""
        self._result: TrainResult | None = None
        self._started_at: float | None = None
        self._finished_at: float | None = None

    # -- control ---------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Start the worker thread; returns ``self``.

        Raises:
            RuntimeError: if the job was already started (a job runs once; make a new one).
        """
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this training job has already been started; create a new one")
            self._status = "running"
            self._started_at = time.time()
            self._thread = threading.Thread(target=self._run, name="playground-training", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop after the current batch (it keeps the weights it has)."""
        self._stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to finish, at most ``timeout`` seconds.

        Returns:
            True if the job is finished (or was never started), False if it is still running.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.is_alive()

    def is_alive(self) -> bool:
        """Whether the worker thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    # -- the worker ------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            result = train(
                self.bundle,
                self.split,
                self.config,
                on_batch=self._on_batch,
                on_epoch=self._on_epoch,
                stop_event=self._stop_event,
            )
        except Exception as exc:  # kept for the page to show, and logged: never lost
            log.exception("training job failed")
            with self._lock:
                self._error = exc
                self._traceback = traceback.format_exc()
                self._status = "failed"
                self._finished_at = time.time()
            return
        with self._lock:
            self._result = result
            self._history = list(result.history)
            self._status = "stopped" if result.stopped else "done"
            self._finished_at = time.time()

    def _on_batch(self, progress: BatchProgress) -> None:
        with self._lock:
            self._progress = progress
            self._batch_losses.append((progress.step, progress.loss))

    def _on_epoch(self, record: EpochRecord) -> None:
        with self._lock:
            self._history.append(record)

    # -- snapshots (safe to read from any thread) -------------------------------------------
    @property
    def status(self) -> JobStatus:
        """``"pending"``, ``"running"``, ``"done"``, ``"stopped"`` or ``"failed"``."""
        with self._lock:
            return self._status

    @property
    def history(self) -> list[EpochRecord]:
        """A copy of the completed epochs' records, in order."""
        with self._lock:
            return list(self._history)

    @property
    def progress(self) -> BatchProgress | None:
        """The latest batch's progress, or None before the first batch."""
        with self._lock:
            return self._progress

    @property
    def batch_losses(self) -> list[tuple[int, float]]:
        """``(step, loss)`` of the most recent batches (at most :data:`MAX_BATCH_LOSSES`)."""
        with self._lock:
            return list(self._batch_losses)

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the run, or None."""
        with self._lock:
            return self._error

    @property
    def error_message(self) -> str:
        """The error in words for a user ("" when there is none).

        ``ValueError``\\ s (and :class:`~playground.training.loop.TrainingError`) carry messages
        written for users and are shown as they are; anything else is prefixed with its type.
        """
        with self._lock:
            exc = self._error
        if exc is None:
            return ""
        return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"

    @property
    def traceback(self) -> str:
        """The failed run's formatted traceback ("" when there is none), for a details panel."""
        with self._lock:
            return self._traceback

    @property
    def result(self) -> TrainResult | None:
        """The result once the job is ``"done"`` or ``"stopped"``, else None."""
        with self._lock:
            return self._result

    @property
    def started_at(self) -> float | None:
        """When :meth:`start` was called (seconds since the epoch, ``time.time()``), or None."""
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
