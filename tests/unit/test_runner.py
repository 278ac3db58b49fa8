"""Training runs as worker processes: the folder format, the worker, stop, kill -9, the queue."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import pytest

from playground.bundle import load_bundle
from playground.data import load_dataset, split_dataset
from playground.runner.folder import RunFolder, list_runs
from playground.runner.launcher import schedule, start_run, stop_run
from playground.runner.spec import RunSpec
from playground.runner.worker import WORKER_NICENESS, run_worker
from playground.training import train
from playground.training.setup import bundle_for_split, train_config_for

FINISHED = ("done", "stopped", "failed", "cancelled")


def wait_for(condition, timeout: float = 60.0, what: str = "the run") -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def finished(run: RunFolder) -> bool:
    return run.status().get("status") in FINISHED


def test_a_spec_holds_every_default_and_reads_back() -> None:
    spec = RunSpec.resolve("lenet5", "digits", epochs=2, lr=None)
    assert spec.config == train_config_for("digits", "lenet5", epochs=2).to_dict()
    assert spec.kind == "classification" and spec.tokenizer is None
    assert RunSpec.from_json(spec.to_json()) == spec
    text = RunSpec.resolve("lstm", "brackets")
    assert text.tokenizer is not None and text.tokenizer["kind"] == "char"  # the dataset's own tokenizer
    seq2seq = RunSpec.resolve("transformer_seq2seq", "reverse", epochs=1)
    assert seq2seq.kind == "seq2seq" and seq2seq.config["epochs"] == 1 and seq2seq.config["seed"] == 0
    with pytest.raises(ValueError, match="unknown model"):
        RunSpec.resolve("no_such_model", "digits")
    with pytest.raises(ValueError, match="unknown training settings"):
        RunSpec.resolve("lenet5", "digits", epoch=3)
    with pytest.raises(ValueError, match="not valid JSON"):
        RunSpec.from_json("{")
    with pytest.raises(ValueError, match="unknown fields"):
        RunSpec.from_json(json.dumps({**json.loads(spec.to_json()), "surprise": 1}))


def test_the_worker_gives_the_result_of_train_and_writes_the_folder(tmp_path: Path) -> None:
    spec = RunSpec.resolve("lenet5", "digits", epochs=3)
    run = RunFolder.create(tmp_path, spec)
    assert run.status()["status"] == "queued"
    assert run_worker(run.path) == "done"

    # the same run in this process, through the library: the same numbers
    config = train_config_for("digits", "lenet5", epochs=3)
    split = split_dataset(load_dataset("digits"), config.val_fraction, config.seed)
    expected = train(bundle_for_split("lenet5", split, seed=config.seed), split, config).metrics["val_accuracy"]
    status = run.status()
    assert status["status"] == "done" and status["metrics"]["val_accuracy"] == pytest.approx(expected, abs=1e-9)

    epochs = run.epochs()
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    progress = [r for r in run.metrics() if r["type"] == "progress"]
    assert progress and all(0 < r["done"] <= r["total"] for r in progress)
    loaded = load_bundle(run.checkpoint())  # type: ignore[arg-type]
    assert loaded.card.metrics["val_accuracy"] == pytest.approx(expected, abs=1e-9)
    assert loaded.card.dataset == "digits" and len(loaded.card.history) == 3


def test_a_bad_spec_is_a_failed_run_with_the_reason(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, RunSpec.resolve("lenet5", "digits", epochs=1))
    spec = json.loads((run.path / "spec.json").read_text())
    spec["dataset"] = "no_such_dataset"
    (run.path / "spec.json").write_text(json.dumps(spec))
    assert run_worker(run.path) == "failed"
    assert "no_such_dataset" in run.status()["error"]


def test_unreadable_files_read_safely(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, RunSpec.resolve("lenet5", "digits", epochs=1))
    run.append_metrics({"type": "epoch", "epoch": 1})
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"type": "epoch", "epo')  # a line cut short by a crash
    assert run.epochs() == [{"type": "epoch", "epoch": 1}]
    (run.path / "status.json").write_text("not json")
    assert run.status()["status"] == "failed"
    run.write_status("running", pid=2**22 + 12345)  # no such process
    assert run.status()["status"] == "failed" and "without a final status" in run.status()["error"]


def test_a_worker_process_stops_on_sigterm_and_keeps_its_weights(tmp_path: Path) -> None:
    run = start_run(RunSpec.resolve("lenet5", "digits", epochs=500), tmp_path, limit=1)
    assert run.status()["status"] == "running"
    wait_for(lambda: len(run.epochs()) >= 2, what="two epochs")
    # batch work below the server's priority (the page's runs come first), its scheduling group too
    pid = run.status()["pid"]
    assert os.getpriority(os.PRIO_PROCESS, pid) == WORKER_NICENESS > os.nice(0)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():  # Linux with autogroups on: "/autogroup-123 nice 10"
        assert autogroup.read_text().split()[-1] == str(WORKER_NICENESS)
    assert stop_run(run) == "signalled"
    wait_for(lambda: finished(run))
    status = run.status()
    assert status["status"] == "stopped", run.log_tail()
    assert 2 <= len(run.epochs()) < 500
    bundle = load_bundle(run.checkpoint())  # type: ignore[arg-type]
    assert bundle.card.training["stopped"] is True
    for line in (run.path / "metrics.jsonl").read_text().splitlines():
        json.loads(line)  # every line is whole


def test_kill_9_at_random_moments_never_breaks_the_checkpoint(tmp_path: Path) -> None:
    rng = random.Random(0)
    for trial in range(3):
        run = start_run(RunSpec.resolve("lenet5", "digits", epochs=500, seed=trial), tmp_path, limit=3)
        wait_for(lambda run=run: len(run.epochs()) >= 1, what="the first epoch")
        time.sleep(rng.uniform(0.0, 0.5))  # epochs (and their saves) come every ~0.1 s
        os.killpg(run.status()["pid"], signal.SIGKILL)
        wait_for(lambda run=run: finished(run), what="the killed worker to read as failed")
        status = run.status()
        assert status["status"] == "failed" and "killed or crashed" in status["error"]
        checkpoint = run.checkpoint()
        assert checkpoint is not None, f"trial {trial}: no checkpoint"
        bundle = load_bundle(checkpoint)  # loads: never a broken checkpoint
        assert bundle.card.dataset == "digits" and bundle.card.history


def test_the_queue_runs_one_at_a_time_and_cancels_a_waiting_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLAYGROUND_MAX_RUNS", "1")  # the workers schedule the next run with this limit
    first = start_run(RunSpec.resolve("lenet5", "digits", epochs=500), tmp_path)
    second = start_run(RunSpec.resolve("lenet5", "digits", epochs=2), tmp_path)
    third = start_run(RunSpec.resolve("lenet5", "digits", epochs=2), tmp_path)
    assert [r.status()["status"] for r in (first, second, third)] == ["running", "queued", "queued"]
    assert stop_run(third) == "cancelled"
    assert schedule(tmp_path) == []  # the one slot is taken
    wait_for(lambda: len(first.epochs()) >= 1)
    stop_run(first)
    wait_for(lambda: finished(second), timeout=90, what="the queued run to start and finish")
    assert first.status()["status"] == "stopped" and second.status()["status"] == "done"
    assert third.status()["status"] == "cancelled" and not third.epochs()
    assert {r.name for r in list_runs(tmp_path)} == {first.name, second.name, third.name}


def test_two_runs_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    spec = RunSpec.resolve("lenet5", "digits", epochs=1)
    a, b = RunFolder.create(tmp_path, spec), RunFolder.create(tmp_path, spec)
    assert a.path != b.path and a.spec() == b.spec() == spec


def test_rows_settings_zips_and_deletion_read_the_folders(tmp_path: Path) -> None:
    import io
    import zipfile

    from playground.runner.overview import checkpoint_zip, delete_run, run_row, settings_table

    a = RunFolder.create(tmp_path, RunSpec.resolve("lenet5", "digits", epochs=2, lr=1e-3))
    b = RunFolder.create(tmp_path, RunSpec.resolve("lenet5", "digits", epochs=2, lr=3e-3))
    assert run_row(b).status == "queued" and run_row(b).queue_position == 2 and run_row(a).queue_position == 1
    assert run_worker(a.path) == "done"
    row = run_row(a)
    assert row.status == "done" and row.progress == 1.0 and row.epochs == 2 and row.eta_s is None
    assert row.val_accuracy == pytest.approx(a.status()["metrics"]["val_accuracy"])
    table, differing = settings_table([a, b])
    assert differing == {"config.lr"} and table["config.lr"] == [1e-3, 3e-3]

    with pytest.raises(ValueError, match="no checkpoint yet"):
        checkpoint_zip(b)
    names = zipfile.ZipFile(io.BytesIO(checkpoint_zip(a))).namelist()
    assert {f"{a.name}/card.json", f"{a.name}/model.safetensors"} <= set(names)

    b.write_status("running", pid=os.getpid())  # a live process: refused
    with pytest.raises(ValueError, match="stop it before deleting"):
        delete_run(b)
    delete_run(a)
    assert not a.path.exists() and [r.name for r in list_runs(tmp_path)] == [b.name]


def test_tensorboard_reads_the_runs_numbers(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = RunFolder.create(tmp_path, RunSpec.resolve("lenet5", "digits", epochs=2))
    assert run_worker(run.path) == "done"
    events = EventAccumulator(str(run.path))
    events.Reload()
    logged = [e.value for e in events.Scalars("epoch/val_accuracy")]
    assert logged == pytest.approx([e["val_accuracy"] for e in run.epochs()], abs=1e-6)
    assert [e.step for e in events.Scalars("epoch/train_loss")] == [1, 2]
    assert events.Scalars("batch/loss")  # the live loss curve too


def test_two_seeded_runs_at_once_give_the_run_alone(tmp_path: Path) -> None:
    """The seed alone decides a run's result, whoever else is training (each run is its own process)."""
    spec = RunSpec.resolve("lenet5", "digits", epochs=2, seed=3, threads=1)
    alone = start_run(spec, tmp_path / "alone", limit=1)
    wait_for(lambda: finished(alone), timeout=120)
    together = [start_run(spec, tmp_path / "together", limit=2) for _ in range(2)]
    assert [r.status()["status"] for r in together] == ["running", "running"]  # started in the same moment
    wait_for(lambda: all(finished(r) for r in together), timeout=120)
    expected = alone.status()["metrics"]
    for run in together:
        metrics = run.status()["metrics"]
        assert metrics["val_accuracy"] == expected["val_accuracy"] and metrics["val_loss"] == expected["val_loss"]
        timing = ("seconds", "samples_per_s", "time")  # the only numbers that may differ
        history = [{k: v for k, v in e.items() if k not in timing} for e in run.epochs()]
        assert history == [{k: v for k, v in e.items() if k not in timing} for e in alone.epochs()]
