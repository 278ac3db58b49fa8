"""The training skeleton both trainers share: epochs × batches, progress, stop, last good weights.

:func:`run_epochs` runs the part every training run has in common; the task-specific parts come in
as an :class:`EpochTask` (how a batch's loss is computed, how an epoch is evaluated and what its
record holds). :func:`on_device` wraps a run: it moves the model to the device (with a CPU thread
setting), restores the last good weights if anything fails, turns a GPU out-of-memory error into a
:class:`TrainingError`, and always leaves the model on the CPU in eval mode.

Used by :func:`playground.training.loop.train` (classification) and
:func:`playground.training.seq2seq.train_seq2seq` (string tasks).

Loss reads: on CPU every batch's loss is read at once (free) and checked before it can reach the
weights. On a GPU, reading a loss forces the host to wait for the device, so losses are queued and
read together about every 0.2 s: the NaN check and the batch reports then run for those batches in
order, with the exact step numbers.

Mixed precision: Micikevicius et al. 2017, https://arxiv.org/abs/1710.03740.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import torch
from torch import nn

from playground.core.device import is_out_of_memory
from playground.core.progress import ProgressCallback

__all__ = ["ProgressCallback"]  # re-exported: the training modules take it from here

SYNC_INTERVAL_S = 0.2  # on accelerators: read queued losses at least this often
SYNC_MAX_PENDING = 64  # ... or when this many are queued


R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class TrainingError(ValueError):
    """Training cannot go on (the loss became NaN / infinite, the GPU ran out of memory).

    The message says what happened and what to try. When it is raised, the bundle's model holds
    the last good weights: those at the end of the last completed epoch, or the starting ones.
    """


@dataclass(frozen=True)
class BatchProgress:
    """Progress after one training batch, for progress bars and live loss curves.

    Attributes:
        epoch: current epoch, 1-based.
        step: global optimizer step, 1-based (``(epoch - 1) * steps_per_epoch + batch``).
        steps_per_epoch: batches per epoch.
        total_steps: ``epochs * steps_per_epoch``.
        loss: this batch's mean loss.
        samples_per_s: training throughput so far (validation time excluded), examples per second.
        eta_s: estimated seconds left, validation included.
        elapsed_s: seconds since the run started (wall clock).
    """

    epoch: int
    step: int
    steps_per_epoch: int
    total_steps: int
    loss: float
    samples_per_s: float
    eta_s: float
    elapsed_s: float

    @property
    def fraction(self) -> float:
        """Share of the run done, in ``[0, 1]``."""
        return self.step / self.total_steps

    @property
    def message(self) -> str:
        """One line for a progress bar, e.g. ``"epoch 2 · step 7/30 · loss 0.4321 · 950 samples/s · ETA 12 s"``."""
        return (
            f"epoch {self.epoch} · step {self.step}/{self.total_steps} · loss {self.loss:.4f} · "
            f"{self.samples_per_s:,.0f} samples/s · ETA {self.eta_s:,.0f} s"
        )


@dataclass
class EpochStats:
    """What the skeleton measured over one epoch's training batches (for the task's epoch record).

    Attributes:
        epoch: 1-based epoch number.
        started: ``time.perf_counter()`` at the start of the epoch.
        batches: training batches run.
        examples: training examples in those batches.
        loss_sum: sum of batch loss × batch size (``loss_sum / examples`` is the per-example mean).
        batch_loss_sum: sum of the batch losses (``/ batches`` is the per-batch mean).
        train_seconds: wall-clock time of the training batches (validation excluded).
        stopped: whether a stop request cut the epoch short.
    """

    epoch: int
    started: float
    batches: int = 0
    examples: int = 0
    loss_sum: float = 0.0
    batch_loss_sum: float = 0.0
    train_seconds: float = 0.0
    stopped: bool = False


class StopRequest(Protocol):
    """What the loop asks of a stop request: a ``threading.Event``, or a data-parallel run's
    ``training.distributed.AgreedStop`` (every rank answers alike)."""

    def is_set(self) -> bool: ...


class EpochTask(Protocol[R_co]):
    """The per-task parts of a training run, called by :func:`run_epochs` in this order per epoch."""

    def start_epoch(self, epoch: int) -> None:
        """Set the model's training mode and draw the epoch's example order."""

    def batch_loss(self, batch: int) -> tuple[torch.Tensor, int]:
        """Forward batch ``batch`` (0-based) of the epoch: its scalar mean loss and its size.

        Called under autocast when mixed precision is on. Raises ``ValueError`` for bad outputs.
        """
        ...

    def end_epoch(self, stats: EpochStats) -> R_co | None:
        """Evaluate after the epoch and return its record, or None to record nothing and stop."""
        ...

    def after_epoch(self) -> None:
        """After a recorded epoch (e.g. step a per-epoch learning-rate schedule)."""


#: How much faster a validation batch runs than a training batch of the same size: a forward pass
#: without the backward pass and the optimizer step, about a third of the work (the usual 1:2
#: forward:backward FLOP ratio, Kaplan et al. 2020, https://arxiv.org/abs/2001.08361, section 2.1).
EVAL_SPEEDUP = 3.0


@dataclass
class LoopSettings:
    """How :func:`run_epochs` trains (the task-independent choices).

    Attributes:
        epochs: passes over the training data.
        steps_per_epoch: batches per epoch.
        device: where the model is.
        autocast_dtype: mixed-precision dtype (``torch.bfloat16`` / ``torch.float16``) or None.
        scaler: gradient scaler for float16, else None.
        clip_grad_norm: clip the gradients' global norm to this before each step, or None.
        step_scheduler: a learning-rate schedule stepped after every optimizer step, or None.
        val_fraction_of_train: validation examples per training example (e.g. 0.11 for a 10 %
            validation part): until the first validation has run, the ETA counts a validation pass as
            that share of an epoch's training time divided by :data:`EVAL_SPEEDUP`, so the ETA does
            not jump up when the first epoch ends.
    """

    epochs: int
    steps_per_epoch: int
    device: torch.device
    autocast_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None
    clip_grad_norm: float | None = None
    step_scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    val_fraction_of_train: float = 0.0


@dataclass
class LoopOutcome(Generic[R]):
    """What :func:`run_epochs` did.

    Attributes:
        history: one record per recorded epoch (what :meth:`EpochTask.end_epoch` returned).
        stopped: True if a stop request ended the run early.
        train_seconds: time spent in training batches (validation excluded).
        samples_seen: training examples over the whole run.
        started: ``time.perf_counter()`` at the start of the run.
    """

    history: list[R] = field(default_factory=list)
    stopped: bool = False
    train_seconds: float = 0.0
    samples_seen: int = 0
    started: float = field(default_factory=time.perf_counter)


class LastGood:
    """A CPU copy of a model's weights and buffers, to go back to after a failure."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.state = snapshot(model)

    def keep(self) -> None:
        """Take the model's current weights as the last good ones."""
        self.state = snapshot(self.model)

    def restore(self) -> None:
        """Load the last good weights back into the model."""
        self.model.load_state_dict(self.state)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights and buffers."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@contextlib.contextmanager
def on_device(
    model: nn.Module, device: torch.device, *, threads: contextlib.AbstractContextManager[object], oom_message: str
) -> Iterator[LastGood]:
    """Run a training session on ``device``; yields the :class:`LastGood` weights to keep up to date.

    Enters ``threads`` (a CPU thread setting) and moves the model to ``device``. On an error the
    model gets its last good weights back, and a GPU out-of-memory error becomes a
    :class:`TrainingError` with ``oom_message``. Always: the model ends on the CPU in eval mode.

    Raises:
        TrainingError: the GPU ran out of memory (and whatever the session raised).
    """
    last_good = LastGood(model)  # the initial weights, then each recorded epoch's end
    try:
        with threads:
            model.to(device)
            yield last_good
    except Exception as exc:
        last_good.restore()
        if is_out_of_memory(exc):
            raise TrainingError(oom_message) from exc
        raise
    finally:
        model.to("cpu").eval()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def run_epochs(
    task: EpochTask[R],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    settings: LoopSettings,
    last_good: LastGood,
    *,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[R], None] | None = None,
    stop_event: StopRequest | None = None,
) -> LoopOutcome[R]:
    """Train for ``settings.epochs`` epochs of ``settings.steps_per_epoch`` batches.

    Each epoch: ``task.start_epoch``, the batches (``stop_event`` is checked before every batch),
    ``task.end_epoch``. A recorded epoch is appended to the history, then ``task.after_epoch``,
    the weights are kept as the last good ones, and ``on_epoch`` is called. The run ends after the
    last epoch, when ``end_epoch`` returns None, or after an epoch a stop request cut short.

    Args:
        task: the per-task parts.
        model: the model being trained (on ``settings.device``).
        optimizer: steps the trainable parameters.
        settings: epochs, device, mixed precision, clipping, per-step schedule.
        last_good: updated after every recorded epoch.
        on_batch: called after each training batch (on accelerators, possibly a few batches late).
        on_epoch: called with each epoch's record.
        stop_event: set it (from any thread) to stop before the next batch.

    Raises:
        TrainingError: the loss became NaN or infinite.
    """
    outcome: LoopOutcome[R] = LoopOutcome()
    reporter = _Reporter(settings, optimizer, outcome, on_batch)
    for epoch in range(1, settings.epochs + 1):
        task.start_epoch(epoch)
        stats = _train_epoch(task, model, optimizer, settings, reporter, epoch, stop_event)
        outcome.train_seconds += stats.train_seconds
        outcome.stopped = stats.stopped
        eval_start = time.perf_counter()
        record = task.end_epoch(stats)
        if record is None:
            break
        reporter.val_seconds += time.perf_counter() - eval_start
        outcome.history.append(record)
        task.after_epoch()
        last_good.keep()
        if on_epoch is not None:
            on_epoch(record)
        if stats.stopped:
            break
    return outcome


def _train_epoch(
    task: EpochTask[object],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    settings: LoopSettings,
    reporter: _Reporter,
    epoch: int,
    stop_event: StopRequest | None,
) -> EpochStats:
    """One epoch's training batches; returns what they did."""
    device = settings.device
    on_cpu = device.type == "cpu"
    amp = torch.autocast(device.type, dtype=settings.autocast_dtype) if settings.autocast_dtype is not None else None
    stats = EpochStats(epoch=epoch, started=time.perf_counter())
    reporter.start_epoch(stats)
    for b in range(settings.steps_per_epoch):
        if stop_event is not None and stop_event.is_set():
            stats.stopped = True
            break
        step = (epoch - 1) * settings.steps_per_epoch + b + 1
        with amp if amp is not None else contextlib.nullcontext():
            loss, size = task.batch_loss(b)
        loss_value: torch.Tensor | float = loss.detach()
        if on_cpu:  # reading the loss is free here: check it before it can reach the weights
            loss_value = loss.item()
            check_finite(loss_value, epoch, step, lr=float(optimizer.param_groups[0]["lr"]))
        _optimizer_step(model, optimizer, loss, settings)
        stats.batches += 1
        stats.examples += size
        reporter.queue(step, size, loss_value)
    reporter.flush()
    synchronize(device)
    stats.train_seconds = time.perf_counter() - stats.started
    return stats


def _optimizer_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, settings: LoopSettings
) -> None:
    """Backward, optional gradient clipping, optimizer step (through the scaler for float16), per-step schedule."""
    optimizer.zero_grad(set_to_none=True)
    scaler = settings.scaler
    if scaler is not None:
        scaler.scale(loss).backward()
        if settings.clip_grad_norm is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if settings.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
        optimizer.step()
    if settings.step_scheduler is not None:
        settings.step_scheduler.step()


class _Reporter:
    """Reads queued batch losses (one device sync), checks them, adds them up and reports each batch."""

    def __init__(
        self,
        settings: LoopSettings,
        optimizer: torch.optim.Optimizer,
        outcome: LoopOutcome[R],
        on_batch: Callable[[BatchProgress], None] | None,
    ) -> None:
        self.settings = settings
        self.optimizer = optimizer
        self.outcome = outcome
        self.on_batch = on_batch
        self.on_cpu = settings.device.type == "cpu"
        self.total_steps = settings.epochs * settings.steps_per_epoch
        self.pending: list[tuple[int, int, torch.Tensor | float]] = []  # (step, batch size, loss)
        self.val_seconds = 0.0
        self.last_sync = outcome.started
        self.stats = EpochStats(epoch=0, started=outcome.started)

    def start_epoch(self, stats: EpochStats) -> None:
        """Add the following batches' losses to ``stats``."""
        self.stats = stats

    def queue(self, step: int, size: int, loss: torch.Tensor | float) -> None:
        """Queue one batch's loss; read the queue now on CPU, or when it is old or long enough."""
        self.outcome.samples_seen += size
        self.pending.append((step, size, loss))
        if (
            self.on_cpu
            or time.perf_counter() - self.last_sync >= SYNC_INTERVAL_S
            or len(self.pending) >= SYNC_MAX_PENDING
        ):
            self.flush()

    def flush(self) -> None:
        """Read the queued losses (one device sync), check them and report each batch in order."""
        pending, stats = self.pending, self.stats
        if not pending:
            return
        tensors = [loss for _, _, loss in pending if isinstance(loss, torch.Tensor)]
        read = iter(torch.stack(tensors).tolist() if tensors else [])  # one device sync for all
        values = [loss if isinstance(loss, float) else next(read) for _, _, loss in pending]
        self.last_sync = time.perf_counter()
        run_train_s = max(self.outcome.train_seconds + (self.last_sync - stats.started), 1e-9)
        later = sum(size for _, size, _ in pending)  # samples counted in samples_seen, not reported yet
        for (step, size, _), value in zip(pending, values, strict=True):
            check_finite(value, stats.epoch, step, lr=float(self.optimizer.param_groups[0]["lr"]))
            stats.loss_sum += value * size
            stats.batch_loss_sum += value
            later -= size
            if self.on_batch is not None:
                self.on_batch(
                    self._progress(step, value, (self.outcome.samples_seen - later) / run_train_s, run_train_s)
                )
        pending.clear()

    def _progress(self, step: int, loss: float, samples_per_s: float, run_train_s: float) -> BatchProgress:
        done_epochs = len(self.outcome.history)
        if done_epochs:
            val_per_epoch = self.val_seconds / done_epochs
        else:  # no validation measured yet: a forward-only pass over the validation part, estimated
            epoch_train_s = run_train_s / step * self.settings.steps_per_epoch
            val_per_epoch = epoch_train_s * self.settings.val_fraction_of_train / EVAL_SPEEDUP
        return BatchProgress(
            epoch=self.stats.epoch,
            step=step,
            steps_per_epoch=self.settings.steps_per_epoch,
            total_steps=self.total_steps,
            loss=loss,
            samples_per_s=samples_per_s,
            eta_s=(self.total_steps - step) * run_train_s / step + (self.settings.epochs - done_epochs) * val_per_epoch,
            elapsed_s=self.last_sync - self.outcome.started,
        )


def progress_reporter(
    on_batch: Callable[[BatchProgress], None] | None, on_progress: ProgressCallback | None
) -> Callable[[BatchProgress], None] | None:
    """One per-batch callback that calls ``on_batch(progress)`` and ``on_progress(step, total_steps, message)``."""
    if on_progress is None:
        return on_batch
    report_progress = on_progress

    def report(progress: BatchProgress) -> None:
        if on_batch is not None:
            on_batch(progress)
        report_progress(progress.step, progress.total_steps, progress.message)

    return report


def check_finite(value: float, epoch: int, step: int, *, lr: float) -> None:
    """Raise :class:`TrainingError` if a loss is NaN or infinite (the message names the step and rate)."""
    if not math.isfinite(value):
        kind = "NaN" if math.isnan(value) else "infinite"
        raise TrainingError(
            f"the loss became {kind} at epoch {epoch} step {step}; try a lower learning rate (now {lr:g})"
        )


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (for timing); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
