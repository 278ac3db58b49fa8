"""playground.core.forward_count: one count per outermost model call (a module with parameters), on any
thread, errors included; parameter-free transforms are not models."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from torch import nn

from playground.core.forward_count import ENV_VAR, ForwardCounter, install_from_env


class Failing(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_counts_outermost_calls_only(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 2), nn.Softmax(-1)))
    counter = ForwardCounter(tmp_path / "count").install()
    try:
        model(torch.zeros(1, 4))
        model(torch.zeros(3, 4))
        assert counter.count == 2 and (tmp_path / "count").read_text() == "2"  # 2 calls, not 10 modules
        with pytest.raises(RuntimeError, match="boom"):
            nn.Sequential(nn.Linear(1, 1), Failing())(torch.zeros(1))
        model(torch.zeros(1, 4))  # the failed call closed its level: this one counts as outermost
        assert counter.count == 4
        done = threading.Event()
        threading.Thread(target=lambda: (model(torch.zeros(1, 4)), done.set())).start()
        assert done.wait(10) and counter.count == 5
    finally:
        counter.remove()
    model(torch.zeros(1, 4))
    assert counter.count == 5  # removed: no longer counting


def test_transforms_without_parameters_are_not_models() -> None:
    model = nn.Sequential(nn.Linear(4, 2))
    counter = ForwardCounter().install()
    try:
        nn.Softmax(-1)(torch.zeros(1, 4))  # a transform alone (preprocessing, a spectrogram): not counted
        assert counter.count == 0
        nn.Sequential(nn.Identity(), model, nn.Softmax(-1))(torch.zeros(1, 4))  # a model in a plain wrapper
        assert counter.count == 1
    finally:
        counter.remove()


def test_installed_only_when_the_env_var_names_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert install_from_env() is None
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "n"))
    counter = install_from_env()
    assert counter is not None and (tmp_path / "n").read_text() == "0"
    try:
        nn.Linear(2, 2)(torch.zeros(2))
        assert (tmp_path / "n").read_text() == "1"
    finally:
        counter.remove()
