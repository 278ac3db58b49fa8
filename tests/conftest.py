"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture
def empty_torch_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point torch.hub's cache (``TORCH_HOME``) at an empty temporary folder; returns the hub dir."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # a set_dir() elsewhere would override TORCH_HOME
    hub = Path(torch.hub.get_dir())
    if not hub.is_relative_to(tmp_path):
        raise RuntimeError(f"expected the hub dir under {tmp_path}, got {hub}")
    return hub
