"""``python -m playground explain``: images, text, PNG output and clean errors.

The command is run through its own ``add_parser`` / ``run`` (what ``playground.cli.main`` wires in).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground.bundle import create_bundle, create_bundle_from_preprocessing
from playground.cli.explain import add_parser
from playground.modalities.image.decode import decode_image
from playground.modalities.image.pixel_space import PixelSpaceModel

ROOT = Path(__file__).resolve().parents[2]
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet 281-285


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    parser = argparse.ArgumentParser(prog="python -m playground")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["explain", *argv, "--json"])
    assert args.func(args) == 0
    out: dict = json.loads(capsys.readouterr().out)
    return out


@pytest.mark.slow
def test_integrated_gradients_on_efficientnet_and_the_cat(capsys: pytest.CaptureFixture[str]) -> None:
    cat = ROOT / "assets/samples/cat.jpg"
    out = run_cli(capsys, "--model", "efficientnet_lite0", "--input", str(cat), "--method", "integrated_gradients")
    assert out["shape"] == [3, 224, 224]
    assert out["target"]["label"] in CAT_CLASSES and out["details"]["batch_size"] == 16
    # The reported completeness, checked against an independent forward pass: F(x) - F(black).
    bundle = create_bundle("efficientnet_lite0")
    pixels = bundle.preprocessing.pixels_from_pil(decode_image(cat.read_bytes(), "cat.jpg"))[None]
    net = PixelSpaceModel.from_bundle(bundle).eval()
    with torch.no_grad():
        t = out["target"]["index"]
        difference = float(net(pixels)[0, t] - net(torch.zeros_like(pixels))[0, t])
    assert out["completeness"]["output_difference"] == pytest.approx(difference, rel=1e-3)
    assert out["convergence_delta"] == pytest.approx(out["summary"]["sum"] - difference, abs=1e-2)
    # The bound, met by the default command: 50 steps leave ~11 % here, so the path is cut in parts.
    assert out["relative_delta"] <= 0.01
    assert len(out["details"]["path_segments"]) > 1 and out["details"]["n_steps"] <= 1024


def test_grad_cam_png_on_the_shipped_digit_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "map.png"
    out = run_cli(
        capsys,
        "--model",
        str(ROOT / "assets/checkpoints/lenet5-mnist"),
        "--input",
        str(ROOT / "assets/samples/digit_7.png"),
        "--method",
        "grad_cam",
        "--out",
        str(png),
    )
    assert out["target"]["label"] == "7" and out["target"]["probability"] > 0.9
    assert out["shape"] == [1, 28, 28] and out["convergence_delta"] is None and out["out"] == str(png)
    with Image.open(png) as image:
        assert image.size == (448, 448) and image.mode == "RGB"  # 28 px enlarged x16 for slides
        cells = np.asarray(image).reshape(28, 16, 28, 16, 3)
        assert (cells == cells[:, :1, :, :1]).all()  # nearest neighbour: every input pixel a flat 16 px square


def test_text_model_from_a_checkpoint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from playground.modalities.text.preprocessing import TextPreprocessing
    from playground.modalities.text.tokenizer import TokenizerOptions, train_tokenizer

    texts = ["stocks rallied on strong earnings", "the striker scored twice", "shares fell after the report"]
    preprocessing = TextPreprocessing(train_tokenizer(texts, TokenizerOptions(vocab_size=50)), max_length=16)
    torch.manual_seed(0)
    bundle = create_bundle_from_preprocessing("lstm", preprocessing, ["business", "sport"])
    folder = bundle.save(tmp_path / "lstm-news")
    out = run_cli(
        capsys, "--model", str(folder), "--text", "Shares rallied after the report", "--method", "integrated_gradients"
    )
    tokens = preprocessing.encode("Shares rallied after the report").tokens
    assert out["modality"] == "text" and out["shape"] == [len(tokens)]
    assert {t["token"] for t in out["top_tokens"]} == set(tokens)
    assert out["relative_delta"] is not None and out["relative_delta"] < 0.05
    with pytest.raises(ValueError, match="--out draws the map over an image"):
        parser = argparse.ArgumentParser()
        add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["explain", "--model", str(folder), "--text", "stocks", "--method", "saliency"])
        args.out = str(tmp_path / "x.png")
        args.func(args)


def test_bad_requests_fail_with_words(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    digit_model = str(ROOT / "assets/checkpoints/lenet5-mnist")

    def run(*argv: str) -> int:
        args = parser.parse_args(["explain", *argv])
        return int(args.func(args))

    with pytest.raises(ValueError, match="--text is for text models"):
        run("--model", digit_model, "--text", "hello", "--method", "saliency")
    with pytest.raises(ValueError, match="does not exist"):
        run("--model", digit_model, "--input", str(tmp_path / "nothing.png"), "--method", "saliency")
    with pytest.raises(ValueError, match="known attribution methods"):
        run("--model", digit_model, "--input", str(ROOT / "assets/samples/digit_3.png"), "--method", "magic")
    digit = str(ROOT / "assets/samples/digit_3.png")
    for tolerance in ("-1", "1", "nan"):
        with pytest.raises(ValueError, match=r"--delta-tolerance must be in \[0, 1\) \(0 turns the check off\)"):
            run(
                "--model",
                digit_model,
                "--input",
                digit,
                "--method",
                "integrated_gradients",
                "--delta-tolerance",
                tolerance,
            )
    with pytest.raises(ValueError, match=r"--out: the folder .* does not exist"):  # before any work is done
        run("--model", digit_model, "--input", digit, "--method", "saliency", "--out", str(tmp_path / "no/map.png"))
    with pytest.raises(SystemExit):  # argparse: --input and --text exclude each other
        run("--model", digit_model, "--input", "a.png", "--text", "b", "--method", "saliency")
