"""A training run in a background thread, for a web page that redraws while it trains.

The page keeps a :class:`TrainingJob` in its session state, starts it, and polls its lock-guarded
snapshots (status, history, latest progress, batch losses) from a timer; a Stop button calls
:meth:`TrainingJob.stop`. Threading, status, errors and cancel come from
:class:`~playground.runner.jobs.BackgroundJob`; this class adds what training reports.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from playground.runner.jobs import BackgroundJob, JobStatus
from playground.training.config import TrainConfig
from playground.training.loop import BatchProgress, EpochRecord, TrainResult, train

if TYPE_CHECKING:
    from playground.bundle import Bundle
    from playground.data.split import Split

MAX_BATCH_LOSSES = 5_000  # the live loss curve keeps the most recent batches only

__all__ = ["MAX_BATCH_LOSSES", "JobStatus", "TrainingJob"]


class TrainingJob(BackgroundJob[TrainResult]):
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
        super().__init__(self._train, name="training job")
        self.bundle = bundle
        self.split = split
        self.config = config
        self._history: list[EpochRecord] = []
        self._batch_progress: BatchProgress | None = None
        self._batch_losses: deque[tuple[int, float]] = deque(maxlen=MAX_BATCH_LOSSES)

    # -- the worker ------------------------------------------------------------------------
    def _train(self, on_progress: Callable[[int, int, str], None], stop_event: threading.Event) -> TrainResult:
        def on_batch(progress: BatchProgress) -> None:
            with self._lock:
                self._batch_progress = progress
                self._batch_losses.append((progress.step, progress.loss))

        def on_epoch(record: EpochRecord) -> None:
            with self._lock:
                self._history.append(record)

        result = train(
            self.bundle,
            self.split,
            self.config,
            on_progress=on_progress,
            on_batch=on_batch,
            on_epoch=on_epoch,
            stop_event=stop_event,
        )
        with self._lock:
            self._history = list(result.history)
        return result

    def _final_status(self, result: TrainResult) -> JobStatus:
        return "stopped" if result.stopped else "done"

    # -- snapshots (safe to read from any thread) -------------------------------------------
    @property
    def history(self) -> list[EpochRecord]:
        """A copy of the completed epochs' records, in order."""
        with self._lock:
            return list(self._history)

    @property
    def progress(self) -> BatchProgress | None:  # type: ignore[override]
        """The latest batch's progress, or None before the first batch."""
        with self._lock:
            return self._batch_progress

    @property
    def batch_losses(self) -> list[tuple[int, float]]:
        """``(step, loss)`` of the most recent batches (at most :data:`MAX_BATCH_LOSSES`)."""
        with self._lock:
            return list(self._batch_losses)

    @property
    def error_message(self) -> str:
        """The error in words for a user ("" when there is none).

        ``ValueError``\\ s (and :class:`~playground.training.loop.TrainingError`) carry messages
        written for users and are shown as they are; anything else is prefixed with its type.
        """
        exc = self.error
        if exc is None:
            return ""
        return str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
