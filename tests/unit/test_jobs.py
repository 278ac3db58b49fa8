"""BackgroundJob: result, progress, cancel and captured errors."""

import threading
import time

import pytest

from playground.runner.jobs import BackgroundJob, run_now


def counting(on_progress, stop_event: threading.Event) -> int:  # type: ignore[no-untyped-def]
    done = 0
    for i in range(50):
        if stop_event.is_set():
            break
        time.sleep(0.01)
        done = i + 1
        on_progress(done, 50, f"step {done}")
    return done


def test_runs_to_done_with_progress() -> None:
    job = BackgroundJob(counting, "count").start()
    assert job.join(10)
    assert job.status == "done" and job.result == 50
    assert job.progress == (50, 50, "step 50")
    with pytest.raises(RuntimeError, match="already started"):
        job.start()


def test_stop_keeps_partial_result() -> None:
    job = BackgroundJob(counting).start()
    time.sleep(0.1)
    job.stop()
    assert job.join(10)
    assert job.status == "stopped"
    assert job.result is not None and 0 < job.result < 50


def test_error_is_kept_not_lost() -> None:
    def broken(report, stop):  # type: ignore[no-untyped-def]
        raise ValueError("expected 3 channels, got 2")

    job = BackgroundJob(broken).start()
    assert job.join(10)
    assert job.status == "failed"
    assert job.error_message == "ValueError: expected 3 channels, got 2"


def test_run_now() -> None:
    assert run_now(counting) == 50
