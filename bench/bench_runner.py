"""Training in a worker process against training in this process, and two runs at once.

    .venv/bin/python bench/bench_runner.py [--model lenet5] [--dataset mnist] [--epochs 3] [--repeats 3] [--json]

Three measurements of the same spec (same data, seed and settings), alternated over the repeats so
that a machine that gets busier slows all of them alike:

* in-process: ``runner.execute.execute(spec)`` here, the way ``python -m playground train`` runs;
* worker: ``runner.launcher.start_run(spec)``, a ``python -m playground.runner.worker`` process, timed
  from the call until its first progress line (the start-up: a new interpreter, imports, the data)
  and by its own samples/s;
* standby: the same through a standby worker that has imported everything already (what the Train
  page gets: it starts one when it opens, and every run starts one for the next as it ends);
* two at once: two workers started together with one CPU thread each (``PLAYGROUND_MAX_RUNS=2``),
  each one's samples/s against a worker alone with every core (what two users sharing a server get).

samples/s is the median over epochs of the loop's own ``samples_per_s`` (training batches only;
the first epoch is left out as a warm-up when there are more than one).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.runner import standby
from playground.runner.execute import execute
from playground.runner.folder import RunFolder
from playground.runner.launcher import prepare_standby, start_run
from playground.runner.spec import RunSpec


def _speed(epochs: list[dict]) -> float:
    values = [float(e["samples_per_s"]) for e in epochs]
    return statistics.median(values[1:] if len(values) > 1 else values)


def _wait(runs: list[RunFolder]) -> None:
    while any(r.status().get("status") in ("queued", "running") for r in runs):
        time.sleep(0.05)
    for r in runs:
        if r.status().get("status") != "done":
            raise RuntimeError(f"{r.name}: {r.status()}\n{r.log_tail()}")


def in_process(spec: RunSpec) -> float:
    epochs: list[dict] = []
    execute(spec, on_epoch=lambda record, bundle: epochs.append(record))
    return _speed(epochs)


def worker(spec: RunSpec, runs_dir: Path, *, use_standby: bool = False) -> tuple[float, float]:
    """(samples/s, seconds from start_run to the first progress line); a fresh process or a standby."""
    os.environ["PLAYGROUND_STANDBY"] = "1" if use_standby else "0"
    if use_standby:
        prepare_standby(runs_dir)
        _wait_for_standby(runs_dir)
    t0 = time.time()
    run = start_run(spec, runs_dir, limit=1)
    while not any(r.get("type") == "progress" for r in run.metrics()):
        if run.status().get("status") not in ("queued", "running"):
            break
        time.sleep(0.01)
    first = next((r["time"] for r in run.metrics() if r.get("type") == "progress"), time.time())
    _wait([run])
    if use_standby:  # the worker starts the next standby as it ends: let it import before anything else runs
        _wait_for_standby(runs_dir)
    return _speed(run.epochs()), float(first) - t0


def _wait_for_standby(runs_dir: Path) -> None:
    while not list((runs_dir / standby.STANDBY_DIR).glob("*.ready")):
        time.sleep(0.05)


def _stop_standbys(runs_dir: Path) -> None:
    for pid in standby.waiting(runs_dir):
        os.kill(pid, signal.SIGTERM)


def two_at_once(spec: RunSpec, runs_dir: Path) -> list[float]:
    os.environ["PLAYGROUND_STANDBY"] = "0"
    one_thread = RunSpec.from_json(json.dumps({**json.loads(spec.to_json()), "threads": 1}))
    runs = [start_run(one_thread, runs_dir, limit=2) for _ in range(2)]
    _wait(runs)
    return [_speed(r.epochs()) for r in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    os.environ["PLAYGROUND_MAX_RUNS"] = "2"
    os.environ.setdefault("PLAYGROUND_DATA", tempfile.mkdtemp())  # the offline copies, never a download
    spec = RunSpec.resolve(args.model, args.dataset, epochs=args.epochs, threads=os.cpu_count() or 1)
    torch.set_num_threads(spec.threads)
    results: dict[str, list[float]] = {
        "in_process": [],
        "worker": [],
        "startup_s": [],
        "standby_worker": [],
        "standby_startup_s": [],
        "two_at_once": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for _ in range(args.repeats):
                results["in_process"].append(in_process(spec))
                speed, startup = worker(spec, Path(tmp))
                results["worker"].append(speed)
                results["startup_s"].append(startup)
                speed, startup = worker(spec, Path(tmp), use_standby=True)
                results["standby_worker"].append(speed)
                results["standby_startup_s"].append(startup)
                results["two_at_once"].extend(two_at_once(spec, Path(tmp)))
        finally:
            _stop_standbys(Path(tmp))
    med = {k: statistics.median(v) for k, v in results.items()}
    summary = {
        "spec": f"{spec.title}, {args.epochs} epochs, {spec.threads} threads",
        **{f"{k}_runs": v for k, v in results.items()},
        "worker_over_in_process": med["worker"] / med["in_process"],
        "startup_s_median": med["startup_s"],
        "standby_startup_s_median": med["standby_startup_s"],
        "standby_worker_over_in_process": med["standby_worker"] / med["in_process"],
        "each_of_two_over_alone": med["two_at_once"] / med["worker"],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(summary["spec"])
    for key in ("in_process", "worker", "standby_worker", "two_at_once"):
        runs = ", ".join(f"{v:.0f}" for v in results[key])
        print(f"{key:14s} median samples/s {med[key]:8.0f}   runs {runs}")
    for key, what in (("startup_s", "a new worker process"), ("standby_startup_s", "a standby worker")):
        runs = ", ".join(f"{v:.2f}" for v in results[key])
        print(f"start-up of {what} (start_run to the first progress line): median {med[key]:.2f} s   runs {runs}")
    print(f"ratio worker / in-process: {summary['worker_over_in_process']:.3f} (target >= 0.95)")
    print(f"ratio standby worker / in-process: {summary['standby_worker_over_in_process']:.3f} (target >= 0.95)")
    print(f"ratio each of two at once / one alone: {summary['each_of_two_over_alone']:.3f} (target >= 0.45)")


if __name__ == "__main__":
    main()
