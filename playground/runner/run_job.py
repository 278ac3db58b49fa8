"""A training run in a worker process, seen through the interface a page polls.

:class:`RunJob` offers what a page polls — ``status``, ``progress``, ``history``, ``batch_losses``,
``result``, ``stop``, ``join`` — and reads every answer from the run's folder (:mod:`playground.runner.folder`), so a
page can be reloaded, or another page opened, and find the run as it is.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playground.runner.folder import RunFolder
from playground.runner.jobs import JobStatus
from playground.runner.launcher import start_run, stop_run
from playground.runner.spec import RunSpec
from playground.training.loop import BatchProgress, EpochRecord, TrainResult

if TYPE_CHECKING:
    from playground.data.split import Split

#: A run folder's status as a job status (a cancelled run was stopped before it started).
_JOB_STATUS: dict[str, JobStatus] = {
    "queued": "pending",
    "running": "running",
    "done": "done",
    "stopped": "stopped",
    "cancelled": "stopped",
    "failed": "failed",
}
_EPOCH_FIELDS = {f.name for f in fields(EpochRecord)}
_BATCH_FIELDS = {f.name for f in fields(BatchProgress)}


class RunJob:
    """One classification run in a worker process.

    Args:
        run: its folder.
        split: the split it trains on (the page's own), for the validation report at the end.
    """

    def __init__(self, run: RunFolder, split: Split) -> None:
        self.run = run
        self.split = split
        self.name = run.name
        self._result: TrainResult | None = None

    @classmethod
    def start(cls, spec: RunSpec, runs_dir: Path, split: Split, files: dict[str, bytes] | None = None) -> RunJob:
        """Write the run's folder and start (or queue) its worker; see :func:`~playground.runner.launcher.start_run`."""
        return cls(start_run(spec, runs_dir, files=files), split)

    # -- what the page polls -----------------------------------------------------------------
    @property
    def status(self) -> JobStatus:
        return _JOB_STATUS.get(str(self.run.status().get("status")), "failed")

    @property
    def queue_position(self) -> int | None:
        """1 for the next run to start, ... (``None`` unless queued)."""
        return self.run.queue_position()

    @property
    def progress(self) -> BatchProgress | None:
        """The last batch's report, or ``None`` before the first one."""
        for record in reversed(self.run.metrics()):
            if record.get("type") == "progress" and set(record) >= _BATCH_FIELDS:
                return BatchProgress(**{k: record[k] for k in _BATCH_FIELDS})
        return None

    @property
    def history(self) -> list[EpochRecord]:
        return [EpochRecord(**{k: r[k] for k in _EPOCH_FIELDS}) for r in self.run.epochs() if set(r) >= _EPOCH_FIELDS]

    @property
    def batch_losses(self) -> list[tuple[int, float]]:
        """``(step, loss)`` of the reported batches (at most five a second are written)."""
        return [
            (int(r["step"]), float(r["loss"]))
            for r in self.run.metrics()
            if r.get("type") == "progress" and "step" in r
        ]

    @property
    def error_message(self) -> str:
        state = self.run.status()
        message = str(state.get("error") or "")
        tail = state.get("log_tail") or (self.run.log_tail(5) if state.get("status") == "failed" else "")
        return f"{message}\n{tail}".strip()

    @property
    def result(self) -> TrainResult | None:
        """The trained model and its validation report once the run has ended with a checkpoint."""
        if self._result is None and self.status in ("done", "stopped", "failed"):
            self._result = self._load_result()
        return self._result

    def _load_result(self) -> TrainResult | None:
        from playground.bundle import load_bundle
        from playground.training.evaluate import evaluate_batches
        from playground.training.inputs import model_inputs

        checkpoint = self.run.checkpoint()
        if checkpoint is None:
            return None
        bundle = load_bundle(checkpoint)
        raw, targets = self.split.part("val")
        device = next(bundle.model.parameters()).device
        inputs = model_inputs(raw, self.split.dataset.modality, bundle, device, augment=False)
        evaluation = evaluate_batches(bundle.model, inputs.batches(256), targets, device=device)
        state = self.run.status()
        training: dict[str, Any] = bundle.card.training
        return TrainResult(
            bundle=bundle,
            history=self.history,
            stopped=state.get("status") != "done",
            metrics=dict(state.get("metrics") or bundle.card.metrics),
            evaluation=evaluation,
            device=str(training.get("device", "cpu")),
            notes=list(training.get("notes", [])),
        )

    # -- control -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the worker to stop at its next batch (a queued run is cancelled)."""
        stop_run(self.run)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended; returns whether it has (``False`` after ``timeout`` seconds)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.status in ("pending", "running"):
            if end is not None and time.monotonic() > end:
                return False
            time.sleep(0.1)
        return True
