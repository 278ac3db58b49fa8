"""Hostile and odd input, as properties: random and mutated bytes into every decoder of uploads.

Each decoder gets bytes that are random or a valid file of its kind with bytes overwritten, cut
short, or junk added (hypothesis, a fixed budget of examples and a fixed seed, so CI is
repeatable). The property: a result, or our own clear error (a ``ValueError`` with a message),
never another exception, and never a hang (each example has a time limit).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from playground.bundle import WEIGHTS_FILE, create_bundle
from playground.bundle.core import bundle_from_files, read_state_dict
from playground.data import load_dataset
from playground.data.text_csv import csv_columns, read_text_csv
from playground.modalities.audio.decode import decode_audio
from playground.modalities.image.decode import decode_image
from playground.modalities.text.clean import decode_text_file

EXAMPLES = 60  # per decoder: about 10 s for all of them on 2 cores
PER_EXAMPLE_MS = 5000  # a hang fails the example: no decode of a few kB takes seconds
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=PER_EXAMPLE_MS,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, dtype=np.uint8)).save(out, format="JPEG")
    return out.getvalue()


def wav_bytes() -> bytes:
    out = io.BytesIO()
    sf.write(out, np.sin(np.arange(800) / 5.0).astype(np.float32) * 0.5, 8000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def flac_bytes() -> bytes:
    out = io.BytesIO()
    sf.write(out, np.sin(np.arange(800) / 5.0).astype(np.float32) * 0.5, 8000, format="FLAC")
    return out.getvalue()


def csv_bytes() -> bytes:
    table = pd.DataFrame({"text": ["a good film", "a bad film", "fine", "awful"], "label": ["pos", "neg"] * 2})
    return table.to_csv(index=False).encode()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for label in ("cats", "dogs"):
            for i in range(2):
                zf.writestr(f"{label}/{i}.png", png_bytes())
    return out.getvalue()


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with some bytes overwritten, cut at some length, with junk before or after; or random bytes."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(0, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        data = data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
        return draw(st.binary(max_size=16)) + bytes(data) + draw(st.binary(max_size=16))

    return st.one_of(mutate(), st.binary(max_size=2048))


def check(decode: Callable[[bytes], object], strategy: st.SearchStrategy[bytes]) -> dict[str, int]:
    """Run the property over ``strategy``: ``decode(data)`` returns, or raises a ValueError that says
    something. Returns how many examples decoded (``"ok"``) and how many were refused (``"refused"``)."""
    outcomes = {"ok": 0, "refused": 0}

    @PROPERTY
    @given(strategy)
    def prop(data: bytes) -> None:
        try:
            decode(data)
        except ValueError as exc:
            assert str(exc).strip(), f"an error without a message for {data[:32]!r}"
            outcomes["refused"] += 1
        else:
            outcomes["ok"] += 1

    prop()
    return outcomes


def test_images() -> None:
    outcomes = check(lambda d: decode_image(d, "upload.png"), st.one_of(mutated(png_bytes()), mutated(jpeg_bytes())))
    assert outcomes["ok"] and outcomes["refused"], outcomes  # both kinds of example were tried


def test_audio() -> None:
    strategy = st.one_of(mutated(wav_bytes()), mutated(flac_bytes()))
    outcomes = check(lambda d: decode_audio(d, target_rate=8000, name="clip.wav"), strategy)
    assert outcomes["ok"] and outcomes["refused"], outcomes


def test_text_files() -> None:
    strategy = st.one_of(mutated("naïve café, a film\nsecond line\n".encode()), mutated("üñí".encode("utf-16")))
    outcomes = check(lambda d: decode_text_file(d, "notes.txt"), strategy)
    assert outcomes["ok"] and outcomes["refused"], outcomes


def test_csv_files() -> None:
    def decode(d: bytes) -> object:
        columns = csv_columns(d, "upload.csv")
        read_text_csv(d, columns[0], "upload.csv")
        return load_dataset("text_csv", csv_bytes=d, text_column="text", label_column="label")

    outcomes = check(decode, mutated(csv_bytes()))
    assert outcomes["ok"] and outcomes["refused"], outcomes


def test_zip_archives(tmp_path: Path) -> None:
    outcomes = check(lambda d: load_dataset("folder", root=tmp_path, zip_bytes=d, image_size=8), mutated(zip_bytes()))
    assert outcomes["ok"] and outcomes["refused"], outcomes


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on a damaged .pt header
def test_checkpoints(tmp_path: Path) -> None:
    torch.manual_seed(0)  # the same weights, so the same damaged files, in every run
    folder = create_bundle("lenet5").save(tmp_path / "lenet5")
    card, weights = (folder / "card.json").read_bytes(), (folder / WEIGHTS_FILE).read_bytes()
    pt = io.BytesIO()
    torch.save(create_bundle("lenet5").model.state_dict(), pt)  # a .pt file, read with weights_only=True
    for name, seed in (("model.safetensors", weights), ("model.pt", pt.getvalue())):
        outcomes = check(lambda d, name=name: read_state_dict(d, name), mutated(seed))
        assert outcomes["refused"], outcomes
    outcomes = check(lambda d: bundle_from_files(d, weights), mutated(card))
    assert outcomes["ok"] and outcomes["refused"], outcomes


def test_the_seeds_are_valid_files(tmp_path: Path) -> None:
    """The mutations start from files that decode: the properties test damage, not garbage only."""
    assert decode_image(png_bytes()).size == (4, 4) and decode_image(jpeg_bytes()).size == (16, 16)
    assert decode_audio(wav_bytes()).waveform.shape == (800,) and decode_audio(flac_bytes()).sample_rate == 8000
    assert decode_text_file("naïve".encode(), "a.txt") == "naïve"
    assert len(load_dataset("text_csv", csv_bytes=csv_bytes())) == 4
    assert load_dataset("folder", root=tmp_path, zip_bytes=zip_bytes(), image_size=8).classes == ["cats", "dogs"]
    assert json.loads(create_bundle("lenet5").save(tmp_path / "c").joinpath("card.json").read_text())
