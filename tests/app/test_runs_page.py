"""The Runs page lists what the run folders say, whoever started the runs and whenever."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from apptools import assert_clean
from streamlit.testing.v1 import AppTest

from playground.runner.folder import RunFolder
from playground.runner.spec import RunSpec
from playground.runner.worker import run_worker

MakeApp = Callable[..., AppTest]


def test_the_runs_page_shows_every_run_with_its_status_and_accuracy(app: MakeApp, runs_dir: Path) -> None:
    at: AppTest = app("pages/runs.py")
    assert_clean(at)
    assert any("No runs yet" in i.value for i in at.info)

    done = RunFolder.create(runs_dir, RunSpec.resolve("lenet5", "digits", epochs=2))
    assert run_worker(done.path) == "done"
    failed = RunFolder.create(runs_dir, RunSpec.resolve("lenet5", "digits", epochs=1))
    failed.write_status("running", pid=2**22 + 4321)  # a worker that died without a word
    at.run()
    assert_clean(at)
    table = at.dataframe(key="r_table").value
    by_folder = {row["folder"]: row for row in table.to_dict("records")}
    assert set(by_folder) == {done.name, failed.name}
    assert by_folder[done.name]["status"] == "done" and by_folder[done.name]["epochs"] == 2
    assert by_folder[done.name]["val accuracy"] == done.status()["metrics"]["val_accuracy"]
    assert by_folder[done.name]["progress"] == 1.0
    assert by_folder[failed.name]["status"] == "failed"
