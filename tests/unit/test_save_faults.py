"""Faults around checkpoints: kill -9 mid-save, a full disk, files edited by hand; each leaves a loadable checkpoint or a clear message."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from playground.bundle import create_bundle, load_bundle
from playground.bundle.core import recover_interrupted_saves
from playground.runner.folder import recover_runs_folder


def dead_pid() -> int:
    """The id of a process that has exited (ids are not reused this quickly)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def test_kill_9_during_saves_50_times_the_checkpoint_loads_and_nothing_is_left(tmp_path: Path) -> None:
    """A forked child saves the same checkpoint over and over; it is killed at a random moment, 50 times."""
    bundle = create_bundle("lenet5")
    target = tmp_path / "lenet5-digits"
    bundle.save(target)
    rng = random.Random(0)
    actions: list[str] = []
    for _trial in range(50):
        with torch.no_grad():
            bundle.model.conv1.weight.add_(1.0)  # each trial's saves carry new weights
        pid = os.fork()
        if pid == 0:  # the child: save forever, until killed
            try:
                while True:
                    bundle.save(target)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, 0.03))  # a LeNet save takes a few milliseconds: kills land anywhere in it
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        actions += recover_interrupted_saves(tmp_path)  # the next start
        assert partials(tmp_path) == [], f"left after recovery: {partials(tmp_path)}"
        loaded = load_bundle(target)  # never a broken checkpoint: the old one or the new one
        assert loaded.card.architecture == "lenet5"
    assert any(a.startswith("removed .lenet5-digits.tmp-") for a in actions), actions  # kills did land mid-save


def test_a_save_killed_between_its_two_renames_gets_its_previous_checkpoint_back(tmp_path: Path) -> None:
    bundle = create_bundle("lenet5")
    runs = tmp_path / "runs"
    run = runs / "lenet5-digits-20261206-010203-abcdef"
    checkpoint = bundle.save(run / "checkpoint")
    before = (checkpoint / "model.safetensors").read_bytes()
    # the state after `os.replace(folder, old)` and before `os.replace(tmp, folder)`, by a process now dead
    pid = dead_pid()
    os.replace(checkpoint, run / f".checkpoint.old-{pid}-0badc0de")
    (run / f".checkpoint.tmp-{pid}-0badc0de").mkdir()
    (runs / f".lenet5-cli.tmp-{pid}-12345678").mkdir(parents=True)  # a CLI save into the runs folder
    live = runs / f".other.tmp-{os.getpid()}-87654321"  # a save that is still running: left alone
    live.mkdir()

    done = recover_runs_folder(runs)
    assert sorted(done) == [
        f"lenet5-digits-20261206-010203-abcdef: removed .checkpoint.tmp-{pid}-0badc0de",
        "lenet5-digits-20261206-010203-abcdef: restored checkpoint",
        f"runs: removed .lenet5-cli.tmp-{pid}-12345678",
    ]
    assert (run / "checkpoint" / "model.safetensors").read_bytes() == before
    assert load_bundle(run / "checkpoint").card.architecture == "lenet5"
    assert partials(run) == [] and partials(runs) == [live.name]
    assert recover_runs_folder(runs) == []  # a second start finds nothing to do


@pytest.mark.parametrize("name", [".x.tmp-1234abcd", ".x.old-99999999"])
def test_names_from_before_writers_were_recorded_count_as_dead(tmp_path: Path, name: str) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / name).mkdir()
    assert recover_interrupted_saves(tmp_path) == [f"removed {name}"]


def test_a_full_disk_during_a_save_says_so_and_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from playground.bundle import core

    bundle = create_bundle("lenet5")
    target = bundle.save(tmp_path / "ckpt")
    before = (target / "model.safetensors").read_bytes()

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core, "save_file", disk_full)
    with torch.no_grad():
        bundle.model.conv1.weight.add_(1.0)
    with pytest.raises(OSError, match=r"no space left on the disk.*the previous checkpoint is kept"):
        bundle.save(target)
    assert (target / "model.safetensors").read_bytes() == before and partials(tmp_path) == []
    assert load_bundle(target).card.architecture == "lenet5"


def test_a_checkpoint_edited_by_hand_gets_a_clear_message(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = create_bundle("lenet5").save(tmp_path / "ckpt")
    state = load_file(folder / "model.safetensors")
    state["fc3.bias"][0] = float("nan")
    save_file(state, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 tensor\(s\) \(e\.g\. fc3\.bias\)"):
        load_bundle(folder)
    state["fc3.bias"] = torch.zeros(3)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"wrong shape \(e\.g\. fc3\.bias: expected \(10,\), got \(3,\)\)"):
        load_bundle(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"needs card\.json and model\.safetensors"):
        load_bundle(folder)
