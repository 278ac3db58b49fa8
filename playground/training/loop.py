"""The training loop: supervised classification with cross-entropy, on in-memory datasets.

One function, :func:`train`, trains a bundle's model in place and reports progress through two
callbacks (per batch and per epoch); a ``threading.Event`` stops it between batches. A background
job (:mod:`playground.runner.training_job`) and the benchmark both drive this same function.

The data pipeline (inputs built once up front, no ``DataLoader``) is :mod:`playground.training.inputs`.
On CPU every batch's loss is read at once (free). On a GPU, reading a loss forces the host to
wait for the device, so losses are queued and read together about every 0.2 s: the NaN check and
the ``on_batch`` callbacks then run for those batches in order, with the exact step numbers.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from playground.core.device import cpu_threads, is_out_of_memory, pick_device
from playground.training.config import TrainConfig
from playground.training.evaluate import Evaluation, evaluate_batches
from playground.training.inputs import model_inputs

if TYPE_CHECKING:
    import threading

    from playground.bundle import Bundle
    from playground.data.split import Split

EVAL_BATCH_SIZE = 512
SYNC_INTERVAL_S = 0.2  # on accelerators: read queued losses at least this often
SYNC_MAX_PENDING = 64  # ... or when this many are queued


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
        loss: this batch's mean cross-entropy.
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


@dataclass(frozen=True)
class EpochRecord:
    """What one completed epoch did.

    Attributes:
        epoch: 1-based epoch number.
        train_loss: mean cross-entropy over the epoch's training batches (weights changing).
        train_accuracy: share of correct predictions on those batches, in ``[0, 1]``.
        val_loss: mean cross-entropy on the validation part after the epoch.
        val_accuracy: accuracy on the validation part after the epoch, in ``[0, 1]``.
        lr: learning rate used during the epoch.
        seconds: wall-clock time of the epoch, validation included.
        samples_per_s: training examples per second (validation excluded).
    """

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float
    samples_per_s: float

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict (for ``card.history``)."""
        return asdict(self)


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes:
        bundle: the trained bundle (the same object that was passed in).
        history: one record per completed epoch.
        stopped: True if a stop request ended the run early.
        metrics: ``val_accuracy``, ``val_loss`` (of the final weights), ``train_accuracy`` (last
            epoch with at least one batch; absent when no batch ran), ``samples_per_s`` (training
            throughput over the whole run; absent when no batch ran), ``epochs_completed``,
            ``seconds`` (wall clock of the whole run).
        evaluation: the final weights on the validation part.
        device: the device the run used, e.g. ``"cpu"``, ``"cuda"``.
        notes: remarks for the user (e.g. "mixed precision needs a CUDA GPU; trained in float32").
    """

    bundle: Bundle
    history: list[EpochRecord]
    stopped: bool
    metrics: dict[str, float]
    evaluation: Evaluation | None
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)


def make_optimizer(params: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``config`` over ``params`` (SGD with momentum, Adam or AdamW)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-epoch learning-rate schedule named by ``config`` (stepped once after each epoch).

    ``"step"`` multiplies the rate by 0.1 after ``int(0.5 * epochs)`` and again after
    ``int(0.75 * epochs)`` epochs (milestones below 1 are dropped): with 4 epochs the rates are
    lr, lr, lr/10, lr/100. ``"cosine"`` anneals from lr towards 0 over ``epochs`` epochs.
    """
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        milestones = [m for m in (int(0.5 * config.epochs), int(0.75 * config.epochs)) if m >= 1]
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def steps_per_epoch(num_train: int, config: TrainConfig) -> int:
    """Optimizer steps per epoch for ``num_train`` training examples.

    Every example is used once per epoch (the last batch may be smaller), except that a last batch
    of exactly one example is dropped: BatchNorm cannot train on a single example. The count is
    capped by ``config.max_batches_per_epoch``.
    """
    full, rest = divmod(num_train, config.batch_size)
    steps = full + (1 if rest > 1 or (rest == 1 and full == 0) else 0)
    if config.max_batches_per_epoch is not None:
        steps = min(steps, config.max_batches_per_epoch)
    return steps


def train(
    bundle: Bundle,
    split: Split,
    config: TrainConfig,
    *,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    stop_event: threading.Event | None = None,
) -> TrainResult:
    """Train ``bundle.model`` in place on ``split`` with cross-entropy; validate after every epoch.

    The caller owns the bundle (build a fresh one per run; never pass a shared cached model). The
    bundle must already have one output per dataset class (``num_classes=len(classes)``).

    Each step: take a batch of a seeded random permutation of the training part, preprocess it
    (``bundle.preprocessing``: resize, channels), augment it if asked, normalize, forward,
    cross-entropy, backward, optimizer step. After each epoch: validate, call ``on_epoch``, step
    the learning-rate schedule, and keep a copy of the weights as the last good state.

    Stopping: ``stop_event`` is checked before every batch. A set event ends the run keeping the
    current weights; the partial epoch is not added to ``history``, but the final weights are
    validated so the card gets metrics.

    Afterwards the model is in ``eval()`` mode **on the CPU** (portable: a page may run it on
    another device), and the card records the dataset, the config (+ sizes, device), the metrics
    and the history; ``bundle.labels`` become the dataset's class names. This happens also after a
    stop, but not after an error (then the card is left as it was).

    Reproducibility: ``torch.manual_seed(config.seed)`` (for dropout, in the process-wide RNG) and a
    private generator for shuffling and augmentation: the same seed and starting weights give the
    same run on the same device and thread count.

    Args:
        bundle: the model, its preprocessing, labels and card; changed in place.
        split: train / validation parts of a dataset of the bundle's modality (images, texts or
            numeric sequences).
        config: hyper-parameters; ``config.val_fraction`` is not used here (the split is given).
        on_batch: called after each training batch (on accelerators, possibly a few batches late).
        on_epoch: called after each completed epoch.
        stop_event: set it (from any thread) to stop after the current batch.

    Returns:
        A :class:`TrainResult`.

    Raises:
        TypeError: if ``config`` is not a :class:`TrainConfig`.
        ValueError: the model's outputs do not match the dataset's classes, the model has no
            trainable parameters, or the device is not available.
        TrainingError: the loss became NaN or infinite, or the GPU ran out of memory. The model
            then holds the last good weights (end of the last completed epoch, or the start).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"expected a TrainConfig, got {type(config).__name__}")
    dataset = split.dataset
    num_classes = len(dataset.classes)
    if bundle.card.num_classes != num_classes:
        raise ValueError(
            f"the model has {bundle.card.num_classes} outputs but the dataset has {num_classes} classes; "
            f"build the model with num_classes={num_classes}"
        )
    if int(dataset.targets.min()) < 0 or int(dataset.targets.max()) >= num_classes:
        raise ValueError(
            f"dataset targets must be in [0, {num_classes}), got [{int(dataset.targets.min())}, "
            f"{int(dataset.targets.max())}]"
        )
    device = pick_device(config.device)
    model = bundle.model
    notes: list[str] = []
    autocast_dtype, scaler = _mixed_precision(config, device, notes)

    if config.freeze_backbone:
        from playground.models.adapt import freeze_backbone  # imported here: playground.models loads every entry

        freeze_backbone(model, freeze=True)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters")

    torch.manual_seed(config.seed)  # dropout and any other use of the global RNG
    generator = torch.Generator().manual_seed(config.seed)  # shuffling and augmentation

    train_raw, train_targets = split.part("train")
    val_raw, val_targets = split.part("val")
    n_train, n_val = len(train_targets), len(val_targets)
    per_epoch = steps_per_epoch(n_train, config)
    total_steps = config.epochs * per_epoch
    batch_size = config.batch_size

    snapshot = _snapshot(model)  # last good weights: the initial ones, then each epoch's end
    history: list[EpochRecord] = []
    stopped = False
    last_train: tuple[float, float] | None = None  # (loss, accuracy) of the last epoch with a batch
    train_seconds = 0.0  # time spent in training batches (validation excluded)
    val_seconds = 0.0
    samples_seen = 0
    loss_sum = 0.0  # this epoch's sum of batch loss x batch size, over the losses read so far
    pending: list[tuple[int, int, torch.Tensor | float]] = []  # (step, batch size, loss), reported by flush()
    last_sync = start = time.perf_counter()

    def flush(epoch: int, epoch_start: float) -> None:
        """Read the queued losses (one device sync), check them and report each batch in order."""
        nonlocal loss_sum, last_sync
        if not pending:
            return
        tensors = [loss for _, _, loss in pending if isinstance(loss, torch.Tensor)]
        read = iter(torch.stack(tensors).tolist() if tensors else [])  # one device sync for all
        values = [loss if isinstance(loss, float) else next(read) for _, _, loss in pending]
        last_sync = time.perf_counter()
        run_train_s = max(train_seconds + (last_sync - epoch_start), 1e-9)
        later = sum(size for _, size, _ in pending)  # samples counted in samples_seen, not reported yet
        for (step, size, _), value in zip(pending, values, strict=True):
            _check_finite(value, epoch, step, lr=float(optimizer.param_groups[0]["lr"]))
            loss_sum += value * size
            later -= size
            if on_batch is not None:
                val_per_epoch = val_seconds / len(history) if history else 0.0
                on_batch(
                    BatchProgress(
                        epoch=epoch,
                        step=step,
                        steps_per_epoch=per_epoch,
                        total_steps=total_steps,
                        loss=value,
                        samples_per_s=(samples_seen - later) / run_train_s,
                        eta_s=(total_steps - step) * run_train_s / step
                        + (config.epochs - len(history)) * val_per_epoch,
                        elapsed_s=last_sync - start,
                    )
                )
        pending.clear()

    threads = _cpu_threads_for(model, device)
    try:
        model.to(device)
        # Preprocess up front (inside the try: a GPU out-of-memory error here is converted too).
        train_inputs = model_inputs(train_raw, bundle, device, augment=config.augments)
        val_inputs = model_inputs(val_raw, bundle, device, augment=False)
        y_train = train_targets.to(train_inputs.device)
        optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
        scheduler = make_scheduler(optimizer, config)
        amp = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else None
        on_cpu = device.type == "cpu"
        evaluation: Evaluation | None = None

        for epoch in range(1, config.epochs + 1):
            lr = float(optimizer.param_groups[0]["lr"])
            _train_mode(model, frozen_bn_eval=config.freeze_backbone)
            perm = torch.randperm(n_train, generator=generator).to(train_inputs.device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            loss_sum, seen = 0.0, 0
            epoch_start = time.perf_counter()
            for b in range(per_epoch):
                if stop_event is not None and stop_event.is_set():
                    stopped = True
                    break
                step = (epoch - 1) * per_epoch + b + 1
                idx = perm[b * batch_size : (b + 1) * batch_size]
                x = train_inputs.batch(idx, generator=generator, config=config)
                y = y_train[idx].to(device, non_blocking=True)
                with amp if amp is not None else contextlib.nullcontext():
                    logits = model(x)  # (B, K)
                    if logits.ndim != 2 or logits.shape[1] != num_classes:
                        raise ValueError(
                            f"expected (B, {num_classes}) logits from the model, got {tuple(logits.shape)}"
                        )
                    loss = F.cross_entropy(logits, y)
                loss_value: torch.Tensor | float = loss.detach()
                if on_cpu:  # reading the loss is free here: check it before it can reach the weights
                    loss_value = loss.item()
                    _check_finite(loss_value, epoch, step, lr=lr)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                correct += (logits.detach().argmax(dim=1) == y).sum()
                seen += len(idx)
                samples_seen += len(idx)
                pending.append((step, len(idx), loss_value))
                if on_cpu or time.perf_counter() - last_sync >= SYNC_INTERVAL_S or len(pending) >= SYNC_MAX_PENDING:
                    flush(epoch, epoch_start)
            flush(epoch, epoch_start)
            _synchronize(device)
            epoch_train_s = time.perf_counter() - epoch_start
            train_seconds += epoch_train_s
            if seen:
                last_train = (loss_sum / seen, int(correct) / seen)
            if stopped or last_train is None:
                break

            val_start = time.perf_counter()
            evaluation = evaluate_batches(
                model, val_inputs.batches(EVAL_BATCH_SIZE), val_targets, device=device, autocast_dtype=autocast_dtype
            )
            val_seconds += time.perf_counter() - val_start
            record = EpochRecord(
                epoch=epoch,
                train_loss=last_train[0],
                train_accuracy=last_train[1],
                val_loss=evaluation.loss,
                val_accuracy=evaluation.accuracy,
                lr=lr,
                seconds=time.perf_counter() - epoch_start,
                samples_per_s=seen / max(epoch_train_s, 1e-9),
            )
            history.append(record)
            scheduler.step()
            snapshot = _snapshot(model)
            if on_epoch is not None:
                on_epoch(record)

        # After a stop, validate the weights the run stopped with, so the card has metrics.
        final = (
            evaluation
            if evaluation is not None and not stopped
            else evaluate_batches(
                model, val_inputs.batches(EVAL_BATCH_SIZE), val_targets, device=device, autocast_dtype=autocast_dtype
            )
        )
    except Exception as exc:
        model.load_state_dict(snapshot)  # the last good weights
        if is_out_of_memory(exc):
            raise TrainingError(
                f"the GPU ran out of memory with batch size {batch_size}; try a smaller batch size"
            ) from exc
        raise
    finally:
        threads.close()
        model.to("cpu").eval()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    metrics: dict[str, float] = {
        "val_accuracy": final.accuracy,
        "val_loss": final.loss,
        "epochs_completed": len(history),
        "seconds": time.perf_counter() - start,
    }
    if last_train is not None:
        metrics["train_accuracy"] = last_train[1]
        metrics["train_loss"] = last_train[0]
        metrics["samples_per_s"] = samples_seen / max(train_seconds, 1e-9)
    card = bundle.card
    card.dataset = dataset.name
    card.training = {
        **config.to_dict(),
        "train_size": n_train,
        "val_size": n_val,
        "device": str(device),
        "stopped": stopped,
        "notes": list(notes),
    }
    card.metrics = dict(metrics)
    card.history = [r.to_dict() for r in history]
    bundle.labels = list(dataset.classes)
    return TrainResult(bundle, history, stopped, metrics, final, device=str(device), notes=notes)


def _cpu_threads_for(model: nn.Module, device: torch.device) -> contextlib.ExitStack:
    """Run recurrent models on ONE CPU thread (undone by closing the returned stack).

    A recurrent layer is a loop of T small matrix products; split over threads each one waits for
    the slowest thread. Measured on a 2-core machine (``lstm`` on ``bbc_news``, batch 64): 160-190
    samples/s with one thread against 19-56 with two while another process used the CPU, and no
    gain from the second thread on an idle machine. Process-wide, so restored when the run ends.
    """
    stack = contextlib.ExitStack()
    if any(isinstance(m, nn.RNNBase) for m in model.modules()):
        stack.enter_context(cpu_threads(1, device))
    return stack


def _train_mode(model: nn.Module, *, frozen_bn_eval: bool) -> None:
    """``model.train()``; with a frozen backbone its BatchNorm layers stay in eval mode.

    A frozen BatchNorm (no trainable parameters) would otherwise keep updating its running
    statistics from the new data, so the "frozen" features would drift.
    """
    model.train()
    if frozen_bn_eval:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                p.requires_grad for p in module.parameters()
            ):
                module.eval()


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights and buffers."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _mixed_precision(
    config: TrainConfig, device: torch.device, notes: list[str]
) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    """Autocast dtype and gradient scaler for ``config.amp`` (bf16 where supported, else fp16 + scaler).

    Mixed precision: Micikevicius et al. 2017, https://arxiv.org/abs/1710.03740.
    """
    if not config.amp:
        return None, None
    if device.type != "cuda":
        notes.append(f"mixed precision (amp) needs a CUDA GPU; trained in float32 on {device.type}")
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def _check_finite(value: float, epoch: int, step: int, *, lr: float) -> None:
    if not math.isfinite(value):
        kind = "NaN" if math.isnan(value) else "infinite"
        raise TrainingError(
            f"the loss became {kind} at epoch {epoch} step {step}; try a lower learning rate (now {lr:g})"
        )


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
