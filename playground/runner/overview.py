"""What the Runs page shows of run folders: one row each, their settings side by side, zips, deletion."""

from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass
from typing import Any

from playground.runner.folder import RunFolder


@dataclass(frozen=True)
class RunRow:
    """One run at a glance.

    Attributes:
        name: the folder's name.
        title: ``"lenet5 · mnist"``.
        status: ``queued``, ``running``, ``done``, ``stopped``, ``failed`` or ``cancelled``.
        progress: share of the run's batches done, in ``[0, 1]``.
        eta_s: seconds left, from the whole run's pace so far (``elapsed · left / done``: it
            steadies as the run goes, unlike the last batch's speed); ``None`` unless running.
        epochs: epochs recorded.
        val_accuracy: the final (or, while running, the last epoch's) validation accuracy, if any.
        queue_position: 1 for the next queued run to start; ``None`` unless queued.
        started: ISO-8601 UTC start time (``""`` before it starts).
        error: why it failed (``""`` otherwise).
    """

    name: str
    title: str
    status: str
    progress: float
    eta_s: float | None
    epochs: int
    val_accuracy: float | None
    queue_position: int | None
    started: str
    error: str


def run_row(run: RunFolder) -> RunRow:
    """The row of one run, read from its folder.

    Raises:
        ValueError: an unreadable ``spec.json``.
    """
    spec = run.spec()
    state = run.status()
    records = run.metrics()
    progress = [r for r in records if r.get("type") == "progress"]
    epochs = [r for r in records if r.get("type") == "epoch"]
    share, eta = 0.0, None
    if progress:
        last = progress[-1]
        done, total = int(last.get("done", 0)), int(last.get("total", 0))
        share = min(1.0, done / total) if total else 0.0
        elapsed = float(last["time"]) - float(progress[0]["time"]) if len(progress) > 1 else 0.0
        first_done = int(progress[0].get("done", 0))
        if state.get("status") == "running" and done > first_done and elapsed > 0:
            eta = elapsed * (total - done) / (done - first_done)
    if state.get("status") == "done":
        share = 1.0
    metrics = state.get("metrics") or {}
    accuracy = metrics.get("val_accuracy", epochs[-1].get("val_accuracy") if epochs else None)
    if accuracy is None and "val_sequence_accuracy" in metrics:
        accuracy = metrics["val_sequence_accuracy"]
    return RunRow(
        name=run.name,
        title=spec.title,
        status=str(state.get("status")),
        progress=share,
        eta_s=eta,
        epochs=len(epochs),
        val_accuracy=None if accuracy is None else float(accuracy),
        queue_position=run.queue_position(),
        started=str(state.get("started", "")),
        error=str(state.get("error", "")),
    )


def flat_settings(run: RunFolder) -> dict[str, Any]:
    """The run's spec as ``{"model": ..., "config.lr": ..., "hparams.width": ...}`` (one level deep)."""
    spec = run.spec()
    flat: dict[str, Any] = {"model": spec.model, "dataset": spec.dataset, "weights": spec.weights}
    for group in ("config", "tokenizer", "hparams", "dataset_options"):
        for key, value in sorted((getattr(spec, group) or {}).items()):
            flat[f"{group}.{key}"] = value
    flat["threads"] = spec.threads
    flat["code_version"] = spec.code_version
    return flat


def settings_table(runs: list[RunFolder]) -> tuple[dict[str, list[Any]], set[str]]:
    """Every setting of ``runs`` side by side, and which settings differ between them.

    Returns:
        ``({setting: [value of run 0, value of run 1, ...]}, {settings whose values differ})``;
        a setting a run does not have is ``None`` for it.
    """
    flats = [flat_settings(r) for r in runs]
    keys: list[str] = []
    for flat in flats:
        keys.extend(k for k in flat if k not in keys)
    table = {k: [flat.get(k) for flat in flats] for k in keys}
    differing = {k for k, values in table.items() if len({repr(v) for v in values}) > 1}
    return table, differing


def checkpoint_zip(run: RunFolder) -> bytes:
    """The run's last good checkpoint as a zip (``<run name>/card.json``, ...), for a download.

    Raises:
        ValueError: the run has no checkpoint yet.
    """
    folder = run.checkpoint()
    if folder is None:
        raise ValueError(f"{run.name} has no checkpoint yet (none is saved before its first epoch ends)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, f"{run.name}/{path.name}")
    return buffer.getvalue()


def delete_run(run: RunFolder) -> None:
    """Delete a run's folder.

    Raises:
        ValueError: the run is still queued or running (stop it first).
    """
    status = run.status().get("status")
    if status in ("queued", "running"):
        raise ValueError(f"{run.name} is {status}; stop it before deleting it")
    shutil.rmtree(run.path)
