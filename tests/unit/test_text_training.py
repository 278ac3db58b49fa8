"""An LSTM trained on BBC News with the registry defaults (the issue's bar: 0.90 validation accuracy).

With the default seed the run reaches 0.923 here (0.914 with seed 1, 0.905 with seed 2: 222
validation articles, one is 0.45 %). The test keeps two points of margin below the bar for
floating-point differences between machines; the bar itself is checked by the command in the
registry entry's comment (``playground/data/bbc_news.py``), for seeds 0, 1 and 2.
"""

from __future__ import annotations

import json

import pytest

from playground.cli.main import main


@pytest.mark.slow
def test_lstm_on_bbc_news_with_the_registry_defaults_learns_the_topics(tmp_path, capsys) -> None:
    status = main(["train", "--model", "lstm", "--dataset", "bbc_news", "--out", str(tmp_path / "run"), "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["val_accuracy"] >= 0.88
    assert summary["epochs_completed"] == 10
    assert (tmp_path / "run" / "tokenizer.json").is_file()
