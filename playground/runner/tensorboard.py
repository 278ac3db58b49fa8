"""A run's scalars and settings as TensorBoard event files, so ``tensorboard --logdir runs`` shows every run.

Written by the worker (rank 0) next to ``metrics.jsonl``, through PyTorch's own
``torch.utils.tensorboard.SummaryWriter``: the batch loss (``batch/loss`` at the global step),
every number of an epoch record (``epoch/val_accuracy``, ...) at the epoch, and at the end the
run's settings with its final metrics (the HPARAMS tab). Without the ``tensorboard`` package the
log is skipped, never the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EPOCH_SCALARS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "samples_per_s")


class TensorBoardLog:
    """Event files in ``folder``; every method does nothing when TensorBoard is not installed."""

    def __init__(self, folder: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is a runtime requirement, but a log is no reason to fail a run
            self.writer = None
            return
        self.writer = SummaryWriter(log_dir=str(folder))

    def batch(self, step: int, loss: float) -> None:
        if self.writer is not None:
            self.writer.add_scalar("batch/loss", loss, step)

    def epoch(self, record: dict[str, Any]) -> None:
        """One epoch record (classification: :data:`EPOCH_SCALARS`; seq2seq: its own numbers)."""
        if self.writer is None:
            return
        for key, value in record.items():
            if key not in ("epoch", "time", "type") and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(f"epoch/{key}", value, int(record["epoch"]))
        self.writer.flush()

    def close(self, settings: dict[str, Any], metrics: dict[str, Any]) -> None:
        """The settings and final metrics for the HPARAMS tab, then close the files."""
        if self.writer is None:
            return
        hparams = {k: v if isinstance(v, int | float | str | bool) else str(v) for k, v in settings.items()}
        final = {f"final/{k}": float(v) for k, v in metrics.items() if isinstance(v, int | float)}
        self.writer.add_hparams(hparams, final, run_name=".")  # "." : in this run's folder, not a sub-folder
        self.writer.close()
