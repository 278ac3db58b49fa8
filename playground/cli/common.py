"""What every CLI command shares: printing a result, reading ``--input``, loading ``--model``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXIT_USAGE = 2


def _print(obj: Any, as_json: bool, text: str) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False) if as_json else text)


def read_input_file(path: str) -> tuple[Path, bytes]:
    """The path and bytes of an ``--input`` file.

    Raises:
        ValueError: the path does not exist or is not a file.
    """
    source = Path(path)
    if not source.is_file():
        raise ValueError(f"input file {source} does not exist" if not source.exists() else f"{source} is not a file")
    return source, source.read_bytes()


def load_model(name_or_dir: str) -> Any:
    """A bundle from a registry name, a checkpoint folder or a Hugging Face id with a ``/`` (``--model``)."""
    from playground.bundle import create_bundle, load_bundle

    path = Path(name_or_dir)
    if path.is_dir():
        return load_bundle(path)
    if path.is_file():
        raise ValueError(
            f"{path} is a file; --model takes a registry name or a checkpoint folder (card.json + model.safetensors)"
        )
    from playground.models import MODELS

    if name_or_dir not in MODELS and "/" in name_or_dir and not path.exists():
        from playground.bundle.hf import hf_text_bundle  # a Hugging Face id such as "google/bert_uncased_L-2_H-128_A-2"

        return hf_text_bundle(name_or_dir)
    return create_bundle(name_or_dir)
