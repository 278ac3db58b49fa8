"""Run a :class:`~playground.runner.spec.RunSpec` in this process: data, bundle, training, checkpoints.

The one path from a spec to a trained bundle, shared by the worker process
(:mod:`playground.runner.worker`) and ``python -m playground train``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playground.core.progress import ProgressCallback
from playground.runner.folder import DATA_DIR
from playground.runner.spec import RunSpec

if TYPE_CHECKING:
    from playground.bundle import Bundle
    from playground.data import Split
    from playground.training import BatchProgress


@dataclass(frozen=True)
class RunOutcome:
    """What a finished (or stopped) run leaves.

    Attributes:
        bundle: the trained model, its card filled in (dataset, training, metrics, history).
        metrics: the final metrics (``val_accuracy``, ...; seq2seq: ``val_sequence_accuracy``, ...).
        stopped: whether the stop event ended it early.
    """

    bundle: Bundle
    metrics: dict[str, float]
    stopped: bool


#: ``on_epoch(record, bundle)``: after every epoch, with the JSON-ready record and the bundle being
#: trained (the worker saves a checkpoint of it); called from the training thread.
EpochCallback = Callable[[dict[str, Any], "Bundle | None"], None]


def execute(
    spec: RunSpec,
    folder: Path | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: EpochCallback | None = None,
    stop_event: threading.Event | None = None,
) -> RunOutcome:
    """Load the data, build the bundle and train it as ``spec`` says.

    Args:
        spec: the run.
        folder: the run folder, where ``spec.dataset_files`` are (under ``data/``).
        on_progress: ``on_progress(done, total, message)`` after training batches.
        on_batch: classification: after every training batch, with its loss, speed and ETA.
        on_epoch: see :data:`EpochCallback`; seq2seq runs pass ``None`` as the bundle (the model
            is only a bundle at the end of the run).
        stop_event: when set, training ends after the current batch and the run is returned.

    Raises:
        ValueError: an unknown model or dataset, unavailable data, bad settings.
        TrainingError: the loss became NaN or the accelerator ran out of memory.
    """
    if spec.kind == "seq2seq":
        return _execute_seq2seq(spec, on_progress, on_epoch, stop_event)
    from playground.data import load_dataset, split_dataset
    from playground.modalities.text.tokenizer import TokenizerOptions
    from playground.training import TrainConfig, train
    from playground.training.setup import bundle_for_split

    options: dict[str, Any] = dict(spec.dataset_options)
    if "path" in options:
        path = Path(options.pop("path"))
        if path.suffix.lower() == ".zip" and path.is_file():
            options["zip_bytes"] = path.read_bytes()
        else:
            options["path"] = path
    for option, name in spec.dataset_files.items():
        if folder is None:
            raise ValueError(f"this run trains on an uploaded file ({name}); give its run folder")
        options[option] = (Path(folder) / DATA_DIR / name).read_bytes()
    dataset = load_dataset(spec.dataset, **options)
    config = TrainConfig(**spec.config)
    split = split_dataset(dataset, config.val_fraction, config.seed)
    tokenizer = TokenizerOptions(**spec.tokenizer) if spec.tokenizer is not None else None
    bundle = bundle_for_split(
        spec.model, split, weights=spec.weights, hparams=spec.hparams or None, tokenizer=tokenizer, seed=config.seed
    )
    history: list[dict[str, Any]] = []

    def epoch_done(record: Any) -> None:
        history.append(record.to_dict())
        if on_epoch is not None:
            _mark_partial(bundle, split, history)
            on_epoch(record.to_dict(), bundle)

    result = train(
        bundle, split, config, on_progress=on_progress, on_batch=on_batch, on_epoch=epoch_done, stop_event=stop_event
    )
    return RunOutcome(bundle, dict(result.metrics), bool(bundle.card.training.get("stopped")))


def _mark_partial(bundle: Bundle, split: Split, history: list[dict[str, Any]]) -> None:
    """Fill the card as far as the run has come, so that an epoch's checkpoint is a usable model."""
    card = bundle.card
    card.dataset = split.dataset.name
    card.history = list(history)
    last = history[-1]
    card.metrics = {k: float(last[k]) for k in ("val_accuracy", "val_loss") if k in last}
    bundle.labels = list(split.dataset.classes)


def _execute_seq2seq(
    spec: RunSpec,
    on_progress: ProgressCallback | None,
    on_epoch: EpochCallback | None,
    stop_event: threading.Event | None,
) -> RunOutcome:
    from playground.training.seq2seq import train_seq2seq

    config = spec.config
    bundle = train_seq2seq(
        spec.dataset,
        epochs=config.get("epochs"),
        num_examples=config.get("num_examples"),
        batch_size=config.get("batch_size"),
        lr=config.get("lr"),
        seed=int(config.get("seed") or 0),
        hparams=spec.hparams or None,
        device=str(config.get("device") or "auto"),
        threads=spec.threads,
        on_progress=on_progress,
        on_epoch=None if on_epoch is None else (lambda record: on_epoch(dict(record), None)),
        stop_event=stop_event,
    )
    stopped = bool(stop_event is not None and stop_event.is_set())
    return RunOutcome(bundle, dict(bundle.card.metrics), stopped)
