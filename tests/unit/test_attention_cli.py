"""``python -m playground attention``: MiniLM offline, an image transformer, and clean errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from playground.bundle import create_bundle
from playground.cli.attention import add_parser
from playground.cli.main import main
from playground.inspection.attention import rollout

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    parser = argparse.ArgumentParser(prog="python -m playground")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["attention", *argv, "--json"])
    assert args.func(args) == 0
    out: dict = json.loads(capsys.readouterr().out)
    return out


def test_minilm_offline_gives_6_by_12_maps_whose_rows_sum_to_1(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's done-command: all-MiniLM-L6-v2 from its PyPI package, no network."""
    out = run_cli(capsys, "--model", "minilm", "--text", "The cat sat on the mat.", "--all", "--decimals", "5")
    assert out["tokens"] == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    assert out["shape"] == [6, 12, 9, 9] and out["layers"] == list(range(6)) and out["heads"] == list(range(12))
    probs = torch.tensor(out["attention_probs"])
    assert probs.shape == (6, 12, 9, 9)
    torch.testing.assert_close(probs.sum(-1), torch.ones(6, 12, 9), atol=1e-4, rtol=0)
    assert out["max_row_sum_error"] < 1e-5
    assert out["check"]["matches"] and out["check"]["max_abs_diff"] <= 1e-5
    rolled = torch.tensor(out["rollout"], dtype=torch.float64)
    torch.testing.assert_close(rolled, rollout(probs)[-1], atol=1e-4, rtol=0)


def test_layers_and_heads_choose_what_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    text = "The cat sat on the mat."
    full = torch.tensor(run_cli(capsys, "--model", "minilm", "--text", text, "--all")["attention_probs"])
    default = run_cli(capsys, "--model", "minilm", "--text", text)
    assert default["layers"] == [5] and default["heads"] == list(range(12))  # the last layer, every head
    torch.testing.assert_close(torch.tensor(default["attention_probs"]), full[5:6], atol=0, rtol=0)
    picked = run_cli(capsys, "--model", "minilm", "--text", text, "--layers", "0,-1", "--heads", "3")
    assert picked["layers"] == [0, 5] and picked["heads"] == [3]
    torch.testing.assert_close(torch.tensor(picked["attention_probs"]), full[[0, 5]][:, [3]], atol=0, rtol=0)
    assert main(["attention", "--model", "minilm", "--text", text, "--layers", "6"]) == 2
    assert "--layers: 6 is out of range; the model has 6 layers (0 to 5)" in capsys.readouterr().err
    assert main(["attention", "--model", "minilm", "--text", text, "--heads", "last"]) == 2
    assert "--heads takes 'all' or indices" in capsys.readouterr().err


def test_the_default_json_at_512_tokens_stays_under_25_mb(capsys: pytest.CaptureFixture[str]) -> None:
    """The budget of the issue "Interactive speed in a classroom": every map of 6 x 12 x 512 x 512 was 344 MB."""
    parser = argparse.ArgumentParser(prog="python -m playground")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["attention", "--model", "minilm", "--text", "word " * 600, "--json"])
    assert args.func(args) == 0
    out_text = capsys.readouterr().out
    out = json.loads(out_text)
    assert out["shape"] == [6, 12, 512, 512] and out["num_dropped_tokens"] > 0
    assert len(out_text.encode()) < 25 * 10**6


def test_vit_tiny_image_attention_and_patch_grid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    torch.manual_seed(0)
    create_bundle("vit_tiny", weights=None).save(tmp_path / "vit")
    out = run_cli(capsys, "--model", str(tmp_path / "vit"), "--input", str(ROOT / "assets/samples/digit_7.png"))
    assert out["patch_grid"] == [7, 7] and out["patch_size"] == 4
    assert out["tokens"][0] == "[CLS]" and len(out["tokens"]) == 50
    assert out["shape"] == [4, 4, 50, 50]


def test_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attention", "--model", "lenet5", "--input", str(ROOT / "assets/samples/digit_7.png")]) == 2
    assert "no attention layers" in capsys.readouterr().err
    assert main(["attention", "--model", "minilm"]) == 2
    assert "exactly one of --text" in capsys.readouterr().err
    assert main(["attention", "--model", "minilm", "--text", "   "]) == 2
    assert "error:" in capsys.readouterr().err


def test_untrained_text_models_and_hugging_face_ids(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert main(["attention", "--model", "transformer_encoder", "--text", "hi"]) == 2
    assert "train it first" in capsys.readouterr().err
    # an id with a slash goes to Hugging Face; offline with an empty cache it fails at once with a message
    import playground.models.hf as hf

    monkeypatch.setattr(hf, "hub_reachable", lambda timeout=0: False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert main(["attention", "--model", "someone/tiny-bert", "--text", "hi"]) == 2
    err = capsys.readouterr().err
    assert "'someone/tiny-bert' is not in the local Hugging Face cache" in err and "minilm" in err
