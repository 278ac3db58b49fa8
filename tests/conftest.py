"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# No standby workers (playground.runner.standby) in tests: each would hold ~0.8 GB for 10 minutes
# after its test. tests/unit/test_standby.py turns them on for itself and stops what it started.
os.environ["PLAYGROUND_STANDBY"] = "0"


@pytest.fixture
def empty_torch_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point torch.hub's cache (``TORCH_HOME``) at an empty temporary folder; returns the hub dir."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # a set_dir() elsewhere would override TORCH_HOME
    hub = Path(torch.hub.get_dir())
    if not hub.is_relative_to(tmp_path):
        raise RuntimeError(f"expected the hub dir under {tmp_path}, got {hub}")
    return hub
