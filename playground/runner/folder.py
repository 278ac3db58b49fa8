"""A run on disk: the folder is the truth that pages, the CLI and the worker share.

::

    runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>-<id>/
        spec.json       what to run (playground.runner.spec.RunSpec), written once
        status.json     {"status", "pid", "started", "finished", "error", ...}, replaced atomically
        metrics.jsonl   one JSON line per progress report and per epoch, appended and flushed
        log.txt         the worker's stdout and stderr
        data/           uploaded files the run trains on (spec.dataset_files), if any
        checkpoint/     the last good checkpoint (after every epoch and at the end), saved atomically

Statuses: ``queued`` → ``running`` → ``done`` | ``stopped`` | ``failed``; ``cancelled`` for a
queued run that never started. A run whose status says ``running`` but whose worker process is
gone (killed with -9, crashed) reads as ``failed`` with the last lines of its log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from playground.bundle.runs import RUN_CHECKPOINT
from playground.core.processes import pid_alive
from playground.runner.spec import RunSpec

RunStatus = Literal["queued", "running", "done", "stopped", "failed", "cancelled"]
FINISHED: tuple[RunStatus, ...] = ("done", "stopped", "failed", "cancelled")
SPEC_FILE = "spec.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "log.txt"
CHECKPOINT_DIR = RUN_CHECKPOINT
DATA_DIR = "data"
LOG_TAIL_LINES = 20


def now(timespec: str = "seconds") -> str:
    """ISO-8601 UTC time, to the second (or ``timespec`` as :meth:`datetime.isoformat` takes it)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec=timespec)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunFolder:
    """One run's folder; every method reads or writes the files, nothing is cached."""

    path: Path

    @classmethod
    def create(cls, runs_dir: Path, spec: RunSpec, files: dict[str, bytes] | None = None) -> RunFolder:
        """A new folder for ``spec`` with ``spec.json`` and a ``queued`` status.

        The name ends with a random id, so two runs started in the same second never share a folder.

        Args:
            runs_dir: the runs folder.
            spec: the run.
            files: the bytes of the files ``spec.dataset_files`` names (uploads), written to ``data/``.

        Raises:
            ValueError: a file that ``spec.dataset_files`` names is not given, or a name with a path in it.
        """
        files = files or {}
        for name in spec.dataset_files.values():
            if name not in files or Path(name).name != name:
                raise ValueError(f"the run needs the file {name!r} (a plain file name) and its bytes")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(runs_dir) / f"{spec.model}-{spec.dataset}-{stamp}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        (path / SPEC_FILE).write_text(spec.to_json(), encoding="utf-8")
        if files:
            (path / DATA_DIR).mkdir()
            for name, data in files.items():
                (path / DATA_DIR / Path(name).name).write_bytes(data)
        run = cls(path)
        # microseconds: the queue order of two runs queued in the same second is the order they came in
        run.write_status("queued", queued=now("microseconds"))
        return run

    @property
    def name(self) -> str:
        return self.path.name

    # -- spec and status ---------------------------------------------------------------------
    def spec(self) -> RunSpec:
        """The run's spec.

        Raises:
            ValueError: a missing or invalid ``spec.json``.
        """
        try:
            text = (self.path / SPEC_FILE).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{self.path} is not a run folder: no readable {SPEC_FILE}") from exc
        return RunSpec.from_json(text)

    def raw_status(self) -> dict[str, Any]:
        """``status.json`` as written (``{}`` when missing or unreadable)."""
        try:
            data = json.loads((self.path / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_status(self, status: RunStatus, **fields: Any) -> None:
        """Replace ``status.json`` with ``status`` and ``fields`` over the previous fields."""
        write_json_atomic(self.path / STATUS_FILE, {**self.raw_status(), **fields, "status": status})

    def status(self) -> dict[str, Any]:
        """``status.json`` with dead workers seen for what they are.

        A ``running`` run whose worker process is gone, or a status that cannot be read, reads as
        ``failed`` with an ``error`` that says so and the last lines of the log.
        """
        data = self.raw_status()
        state = data.get("status")
        if state == "running" and not pid_alive(data.get("pid")) and data.get("stop_requested"):
            data = {**data, "status": "stopped", "note": "stopped before the worker could record it"}
        elif state == "running" and not pid_alive(data.get("pid")):
            data = {
                **data,
                "status": "failed",
                "error": "the worker process ended without a final status (killed or crashed)",
                "log_tail": self.log_tail(),
            }
        elif state not in ("queued", "running", *FINISHED):
            data = {**data, "status": "failed", "error": f"unreadable {STATUS_FILE}"}
        return data

    def queue_position(self) -> int | None:
        """1 for the next queued run of its runs folder to start, 2, ...; ``None`` unless queued."""
        if self.raw_status().get("status") != "queued":
            return None
        runs = list_runs(self.path.parent)
        queued = queue_order(runs, {r.path: r.raw_status() for r in runs})
        return 1 + [r.name for r in queued].index(self.name)

    # -- metrics and log ---------------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics.jsonl`` and flush it to the file."""
        with open(self.path / METRICS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def metrics(self) -> list[dict[str, Any]]:
        """Every complete line of ``metrics.jsonl`` (a line cut short by a crash is left out)."""
        return list(self._records())

    def _records(self) -> Iterator[dict[str, Any]]:
        yield from _parsed_metrics(self.path / METRICS_FILE)

    def epochs(self) -> list[dict[str, Any]]:
        """The epoch records, in order."""
        return [r for r in self._records() if r.get("type") == "epoch"]

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the worker's log (``""`` without one)."""
        try:
            text = (self.path / LOG_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- checkpoint --------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    def checkpoint(self) -> Path | None:
        """The last good checkpoint folder, or ``None`` before the first epoch ended.

        ``Bundle.save`` replaces a checkpoint by two renames; a worker killed between them leaves
        the previous checkpoint under ``.checkpoint.old-*``, which is then the last good one.
        """
        if (self.checkpoint_dir / "card.json").is_file():
            return self.checkpoint_dir
        olds = sorted(self.path.glob(f".{CHECKPOINT_DIR}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        return next((p for p in olds if (p / "card.json").is_file()), None)

    def remove_partial_saves(self) -> int:
        """Delete what interrupted saves left (``.checkpoint.tmp-*``, and ``.checkpoint.old-*`` once
        ``checkpoint/`` is whole); returns how many folders went. The worker calls it after each save."""
        import shutil

        leftovers = list(self.path.glob(f".{CHECKPOINT_DIR}.tmp-*"))
        if (self.checkpoint_dir / "card.json").is_file():
            leftovers += list(self.path.glob(f".{CHECKPOINT_DIR}.old-*"))
        for folder in leftovers:
            shutil.rmtree(folder, ignore_errors=True)
        return len(leftovers)


_METRICS_CACHE: dict[Path, tuple[tuple[int, int], list[dict[str, Any]]]] = {}


def _parsed_metrics(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines of a ``metrics.jsonl``, parsed once per change of the file.

    A page polls a run several times a second (status, progress, epochs, losses); the lines are
    parsed again only when the file's size or mtime moved. A line cut short by a crash is left out.
    """
    try:
        stat = path.stat()
    except OSError:
        return []
    key = (stat.st_size, stat.st_mtime_ns)
    held = _METRICS_CACHE.get(path)
    if held is not None and held[0] == key:
        return held[1]
    records: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    _METRICS_CACHE[path] = (key, records)
    return records


def queue_order(runs: list[RunFolder], statuses: dict[Path, dict[str, Any]]) -> list[RunFolder]:
    """The queued ones of ``runs``, first to start first: by time queued, then by name.

    Args:
        runs: run folders.
        statuses: each run's status, by path (the caller has read them already).
    """
    queued = [r for r in runs if statuses[r.path].get("status") == "queued"]
    return sorted(queued, key=lambda r: (str(statuses[r.path].get("queued", "")), r.name))


def list_runs(runs_dir: Path) -> list[RunFolder]:
    """The run folders (those with a ``spec.json``) directly inside ``runs_dir``, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    found = [RunFolder(p) for p in runs_dir.iterdir() if (p / SPEC_FILE).is_file() and not p.name.startswith(".")]
    return sorted(found, key=lambda r: (r.path / SPEC_FILE).stat().st_mtime_ns, reverse=True)


def recover_runs_folder(runs_dir: Path) -> list[str]:
    """On start: finish what saves interrupted by a dead process left in the runs folder and its runs.

    :func:`playground.bundle.core.recover_interrupted_saves` on ``runs_dir`` (the CLI's checkpoints)
    and on every folder in it (each run's ``checkpoint/``); the server calls it once when it starts.

    Returns:
        What was done, one line per folder.
    """
    from playground.bundle.core import recover_interrupted_saves

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    done = [f"{runs_dir.name}: {line}" for line in recover_interrupted_saves(runs_dir)]
    for child in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        done += [f"{child.name}: {line}" for line in recover_interrupted_saves(child)]
    return done
