"""Finding saved checkpoint folders (training runs and shipped checkpoints)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from playground.bundle.core import CARD_FILE, WEIGHTS_FILE, Bundle, default_runs_dir

RUN_CHECKPOINT = "checkpoint"  # a run folder's checkpoint (playground.runner.folder.CHECKPOINT_DIR)
#: The project's own trained checkpoints, shipped with the code.
SHIPPED_CHECKPOINTS = Path(__file__).resolve().parents[2] / "assets" / "checkpoints"


def checkpoint_folders() -> list[Path]:
    """Where saved checkpoints are listed from: the runs folder, then the shipped checkpoints."""
    return [default_runs_dir(), SHIPPED_CHECKPOINTS]


def new_run_folder(bundle: Bundle) -> Path:
    """A fresh folder name for a trained bundle: ``<runs>/<architecture>-<dataset>-<YYYYmmdd-HHMMSS>``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return default_runs_dir() / f"{bundle.card.architecture}-{bundle.card.dataset or 'data'}-{stamp}"


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint folder's ``card.json`` says, read without loading the weights."""

    path: Path
    title: str
    architecture: str
    dataset: str | None
    val_accuracy: float | None
    created: str


def list_checkpoints(folders: Iterable[str | Path]) -> list[CheckpointInfo]:
    """Checkpoint folders (``card.json`` + ``model.safetensors``) inside ``folders``, newest first.

    A checkpoint is a folder directly inside one of ``folders``, or the ``checkpoint/`` folder of a
    run folder there (``playground.runner.folder``).

    Folders that do not exist are skipped; a folder whose ``card.json`` is not valid JSON is skipped
    too (it cannot be offered for loading), and everything else is listed.
    """
    found: list[CheckpointInfo] = []
    for base in folders:
        base = Path(base)
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if not (folder / CARD_FILE).is_file() and (folder / RUN_CHECKPOINT / CARD_FILE).is_file():
                folder = folder / RUN_CHECKPOINT  # a run of the worker process: its checkpoint inside
            card_path = folder / CARD_FILE
            if folder.name.startswith(".") or not card_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
                continue
            try:
                card = json.loads(card_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if not isinstance(card, dict):
                continue
            metrics = card.get("metrics") or {}
            acc = metrics.get("val_accuracy") if isinstance(metrics, dict) else None
            arch = str(card.get("architecture", "?"))
            dataset = card.get("dataset")
            found.append(
                CheckpointInfo(
                    path=folder,
                    title=str(card.get("title") or (f"{arch} · {dataset}" if dataset else arch)),
                    architecture=arch,
                    dataset=None if dataset is None else str(dataset),
                    val_accuracy=float(acc) if isinstance(acc, int | float) else None,
                    created=str(card.get("created", "")),
                )
            )
    return sorted(found, key=lambda c: c.created, reverse=True)
