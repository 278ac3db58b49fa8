"""The training loop: supervised classification with cross-entropy, on in-memory datasets.

One function, :func:`train`, trains a bundle's model in place and reports progress through
callbacks (``on_progress`` and ``on_batch`` per batch, ``on_epoch`` per epoch); a
``threading.Event`` stops it between batches. A background job
(:mod:`playground.runner.worker`) and the benchmark both drive this same function.

The epochs × batches skeleton (progress, stop, loss checks, mixed precision, last good weights) is
:mod:`playground.training.skeleton`; this module adds what classification needs (a batch's
cross-entropy and accuracy, validation, the epoch record, the card). The data pipeline (inputs
built once up front, no ``DataLoader``) is :mod:`playground.training.inputs`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from playground.core.device import cpu_threads, pick_device
from playground.training.config import TrainConfig
from playground.training.distributed import (
    AgreedStop,
    DistributedContext,
    all_sum,
    context_from_env,
    join,
    shard,
    sync_batchnorm,
)
from playground.training.evaluate import Evaluation, evaluate_batches
from playground.training.inputs import EncodedInputs, ImageInputs, PreparedInputs, model_inputs
from playground.training.ood import reference_metrics
from playground.training.skeleton import (
    BatchProgress,
    EpochStats,
    LoopOutcome,
    LoopSettings,
    ProgressCallback,
    StopRequest,
    TrainingError,
    on_device,
    progress_reporter,
    run_epochs,
)

if TYPE_CHECKING:
    from playground.bundle import Bundle
    from playground.data.split import Split

EVAL_BATCH_SIZE = 512

__all__ = [
    "EVAL_BATCH_SIZE",
    "BatchProgress",
    "EpochRecord",
    "TrainResult",
    "TrainingError",
    "make_optimizer",
    "make_scheduler",
    "steps_per_epoch",
    "train",
]


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
    on_progress: ProgressCallback | None = None,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    stop_event: threading.Event | None = None,
) -> TrainResult:
    """Train ``bundle.model`` in place on ``split`` with cross-entropy; validate after every epoch.

    The caller owns the bundle (build a fresh one per run; never pass a shared cached model). The
    bundle must already have one output per dataset class (``num_classes=len(classes)``).

    Each step: take a batch of a seeded random permutation of the training part, preprocess it
    (``bundle.preprocessing``: resize, channels), augment it if asked, normalize, forward,
    cross-entropy, backward, optimizer step. After each epoch: validate, step the learning-rate
    schedule, keep a copy of the weights as the last good state, and call ``on_epoch``.

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
        on_progress: ``on_progress(done, total, message)`` after each training batch, ``done`` and
            ``total`` counted in optimizer steps (batches) over the whole run, ``message`` one line
            (epoch, step, loss, throughput, ETA). On accelerators possibly a few batches late.
        on_batch: the same moments with the batch's :class:`BatchProgress` (loss, throughput, ETA),
            for live loss curves.
        on_epoch: called after each completed epoch with its :class:`EpochRecord`.
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
    _check_classes(bundle, split, config)
    device = pick_device(config.device)
    context = context_from_env()  # set when torchrun started this process as one of several
    if context is not None:
        device = join(context, device)
    model = bundle.model
    notes: list[str] = []
    autocast_dtype, scaler = _mixed_precision(config, device, notes)
    _freeze_if_asked(model, config)

    torch.manual_seed(config.seed)  # dropout and any other use of the global RNG
    generator = torch.Generator().manual_seed(config.seed)  # shuffling and augmentation
    oom = f"the GPU ran out of memory with batch size {config.batch_size}; try a smaller batch size"
    with on_device(model, device, threads=_cpu_threads_for(model, device), oom_message=oom) as last_good:
        # Preprocess up front (inside the session: a GPU out-of-memory error here is converted too).
        task = _ClassificationTask(bundle, split, config, device, generator, autocast_dtype, context)
        per_epoch = steps_per_epoch(task.n_train, config)
        settings = LoopSettings(
            config.epochs,
            per_epoch,
            device,
            autocast_dtype=autocast_dtype,
            scaler=scaler,
            val_fraction_of_train=len(task.val_targets) / max(1, task.n_train),
        )
        report = progress_reporter(on_batch, on_progress)
        stop: StopRequest | None = stop_event if context is None else AgreedStop(stop_event, device)
        outcome = run_epochs(
            task, model, task.optimizer, settings, last_good, on_batch=report, on_epoch=on_epoch, stop_event=stop
        )
        # After a stop, validate the weights the run stopped with, so the card has metrics.
        final = task.evaluation if task.evaluation is not None and not outcome.stopped else task.evaluate()

    metrics = _metrics(final, outcome, task.last_train)
    _write_card(bundle, split, config, outcome, metrics, device, notes)
    return TrainResult(bundle, outcome.history, outcome.stopped, metrics, final, device=str(device), notes=notes)


def _freeze_if_asked(model: nn.Module, config: TrainConfig) -> None:
    """Freeze the backbone when ``config.freeze_backbone``; refuse a model left without trainable parameters."""
    if config.freeze_backbone:
        from playground.models.adapt import freeze_backbone  # imported here: playground.models loads every entry

        freeze_backbone(model, freeze=True)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters")


def _check_classes(bundle: Bundle, split: Split, config: TrainConfig) -> None:
    """Refuse a config that is not a :class:`TrainConfig` and a model whose outputs are not the dataset's classes."""
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


class _ClassificationTask:
    """The classification parts of a run: cross-entropy and accuracy per batch, validation per epoch.

    Builds the model inputs of both parts (on ``device`` when they fit), the optimizer and the
    per-epoch learning-rate schedule.
    """

    def __init__(
        self,
        bundle: Bundle,
        split: Split,
        config: TrainConfig,
        device: torch.device,
        generator: torch.Generator,
        autocast_dtype: torch.dtype | None,
        context: DistributedContext | None = None,
    ) -> None:
        self.model, self.config, self.device = bundle.model, config, device
        self.context = context
        # Data-parallel: DDP averages the gradients over the ranks (validation runs the plain model).
        self.forward: nn.Module = self.model
        if context is not None:
            device_ids = [device.index] if device.type == "cuda" else None
            self.model = bundle.model = sync_batchnorm(self.model, device)
            self.forward = DistributedDataParallel(self.model, device_ids=device_ids)
        self.generator, self.autocast_dtype = generator, autocast_dtype
        self.num_classes = len(split.dataset.classes)
        train_raw, train_targets = split.part("train")
        val_raw, self.val_targets = split.part("val")
        self.n_train = len(train_targets)
        modality = split.dataset.modality
        self.train_inputs: ImageInputs | EncodedInputs | PreparedInputs = model_inputs(
            train_raw, modality, bundle, device, augment=config.augments
        )
        self.val_inputs: ImageInputs | EncodedInputs | PreparedInputs = model_inputs(
            val_raw, modality, bundle, device, augment=False
        )
        self.y_train = train_targets.to(self.train_inputs.device)
        self.optimizer = make_optimizer([p for p in self.model.parameters() if p.requires_grad], config)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.evaluation: Evaluation | None = None  # of the last recorded epoch
        self.last_train: tuple[float, float] | None = None  # (loss, accuracy) of the last epoch with a batch
        self.lr = config.lr
        self.perm = torch.empty(0, dtype=torch.int64)
        self.correct = torch.zeros((), dtype=torch.int64)

    def start_epoch(self, epoch: int) -> None:
        self.lr = float(self.optimizer.param_groups[0]["lr"])
        _train_mode(self.model, frozen_bn_eval=self.config.freeze_backbone)
        self.perm = torch.randperm(self.n_train, generator=self.generator).to(self.train_inputs.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=self.device)

    def batch_loss(self, batch: int) -> tuple[torch.Tensor, int]:
        size = self.config.batch_size
        idx = self.perm[batch * size : (batch + 1) * size]  # the global batch
        local = idx if self.context is None else shard(idx, self.context)  # this rank's part
        x = self.train_inputs.batch(local, generator=self.generator, config=self.config)
        y = self.y_train[local].to(self.device, non_blocking=True)
        logits = self.forward(x)  # (B_local, K)
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"expected (B, {self.num_classes}) logits from the model, got {tuple(logits.shape)}")
        self.correct += (logits.detach().argmax(dim=1) == y).sum()
        if self.context is None:
            return F.cross_entropy(logits, y), len(local)
        # DDP averages the ranks' gradients; summing here and dividing by B / N makes that average
        # the gradient of the GLOBAL batch's mean loss, even when B does not split evenly.
        share = len(idx) / self.context.world_size
        return F.cross_entropy(logits, y, reduction="sum") / share, len(local)

    def evaluate(self) -> Evaluation:
        """The current weights on the validation part."""
        return evaluate_batches(
            self.model,
            self.val_inputs.batches(EVAL_BATCH_SIZE),
            self.val_targets,
            device=self.device,
            autocast_dtype=self.autocast_dtype,
        )

    def end_epoch(self, stats: EpochStats) -> EpochRecord | None:
        if self.context is not None:  # the epoch's numbers over every rank
            stats.loss_sum, examples, correct = all_sum(
                [stats.loss_sum, stats.examples, int(self.correct)], self.device
            )
            stats.examples, self.correct = int(examples), torch.tensor(int(correct))
        if stats.examples:
            self.last_train = (stats.loss_sum / stats.examples, int(self.correct) / stats.examples)
        if stats.stopped or self.last_train is None:
            return None
        self.evaluation = self.evaluate()
        return EpochRecord(
            epoch=stats.epoch,
            train_loss=self.last_train[0],
            train_accuracy=self.last_train[1],
            val_loss=self.evaluation.loss,
            val_accuracy=self.evaluation.accuracy,
            lr=self.lr,
            seconds=time.perf_counter() - stats.started,
            samples_per_s=stats.examples / max(stats.train_seconds, 1e-9),
        )

    def after_epoch(self) -> None:
        self.scheduler.step()


def _metrics(
    final: Evaluation, outcome: LoopOutcome[EpochRecord], last_train: tuple[float, float] | None
) -> dict[str, float]:
    """The run's metrics (see :attr:`TrainResult.metrics`)."""
    metrics: dict[str, float] = {
        "val_accuracy": final.accuracy,
        "val_loss": final.loss,
        "epochs_completed": len(outcome.history),
        "seconds": time.perf_counter() - outcome.started,
    }
    metrics.update(reference_metrics(final.energy))  # for the out-of-distribution hint on Predict
    if last_train is not None:
        metrics["train_accuracy"] = last_train[1]
        metrics["train_loss"] = last_train[0]
        metrics["samples_per_s"] = outcome.samples_seen / max(outcome.train_seconds, 1e-9)
    return metrics


def _write_card(
    bundle: Bundle,
    split: Split,
    config: TrainConfig,
    outcome: LoopOutcome[EpochRecord],
    metrics: dict[str, float],
    device: torch.device,
    notes: list[str],
) -> None:
    """Record the run on ``bundle.card`` (dataset, config, sizes, metrics, history); labels become the classes."""
    dataset = split.dataset
    card = bundle.card
    card.dataset = dataset.name
    card.training = {
        **config.to_dict(),
        "train_size": len(split.train_indices),
        "val_size": len(split.val_indices),
        "device": str(device),
        "stopped": outcome.stopped,
        "notes": list(notes),
    }
    card.metrics = dict(metrics)
    card.history = [r.to_dict() for r in outcome.history]
    bundle.labels = list(dataset.classes)


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
