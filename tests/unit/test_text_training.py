"""The issue's bar for text: an LSTM trained on BBC News with the registry defaults reaches 0.90."""

from __future__ import annotations

import json

import pytest

from playground.cli import main


@pytest.mark.slow
def test_lstm_on_bbc_news_with_the_registry_defaults_reaches_90_percent(tmp_path, capsys) -> None:
    status = main(["train", "--model", "lstm", "--dataset", "bbc_news", "--out", str(tmp_path / "run"), "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["val_accuracy"] >= 0.90
    assert summary["epochs_completed"] == 8
    assert (tmp_path / "run" / "tokenizer.json").is_file()
