"""What several CLI commands share: their common arguments, printing, ``--input``, ``--model`` and the JSON objects.

Every command's ``--json`` output is built from the same few objects (``docs/cli.md`` documents them):

- a *class score* ``{"label", "index", "probability"}`` (:func:`class_score`);
- a prediction, always ``"top_k": [class score, ...]``, most probable first (:func:`top_k_json`,
  :func:`top_k_from_probs`);
- a check of a recomputation against PyTorch, always ``{"max_abs_diff": float, "matches": bool, ...}``
  (:func:`check_json`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from playground.inspection.predict import TopK

EXIT_USAGE = 2

#: ``--top-k``'s default in every command that prints a prediction.
DEFAULT_TOP_K = 5


# ------------------------------------------------------------------------------------------ arguments


def add_model_argument(p: argparse.ArgumentParser, help_text: str = "registry name or checkpoint folder") -> None:
    """``--model`` (required): a registry name, a checkpoint folder or a Hugging Face id (see :func:`load_model`)."""
    p.add_argument("--model", required=True, help=help_text)


def key_values(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``["split=official", "channels=32"]`` -> ``{"split": "official", "channels": 32}``.

    A value that reads as JSON (a number, ``true``, ``null``, a quoted string) is taken as that;
    anything else stays a string.

    Raises:
        ValueError: an item without ``=`` or with an empty key.
    """
    import json

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} takes KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def add_json_argument(p: argparse.ArgumentParser) -> None:
    """``--json``: print the result as JSON (the schema in ``docs/cli.md``) instead of text."""
    p.add_argument("--json", action="store_true", help="print JSON (schema: docs/cli.md)")


def add_top_k_argument(p: argparse.ArgumentParser) -> None:
    """``--top-k``: how many classes a prediction's ``top_k`` lists (clipped to the number of classes)."""
    p.add_argument(
        "--top-k",
        type=int,
        default=DEFAULT_TOP_K,
        help=f"classes to list, most probable first (default {DEFAULT_TOP_K})",
    )


def add_decimals_argument(p: argparse.ArgumentParser, default: int) -> None:
    """``--decimals``: rounding of the arrays in the JSON output."""
    p.add_argument("--decimals", type=int, default=default, help="rounding of the arrays in the output")


def check_top_k(top_k: int) -> None:
    """Raises ValueError: ``--top-k`` below 1."""
    if top_k < 1:
        raise ValueError(f"--top-k must be at least 1, got {top_k}")


def check_decimals(decimals: int) -> None:
    """Raises ValueError: ``--decimals`` below 0."""
    if decimals < 0:
        raise ValueError(f"--decimals must be at least 0, got {decimals}")


# ------------------------------------------------------------------------------------------ JSON objects


def class_score(label: str, index: int, probability: float) -> dict[str, Any]:
    """One class with its softmax probability: ``{"label": str, "index": int, "probability": float}``."""
    return {"label": str(label), "index": int(index), "probability": float(probability)}


def top_k_json(entries: Iterable[TopK]) -> list[dict[str, Any]]:
    """A prediction's ``top_k`` list from ranked :class:`~playground.inspection.predict.TopK` entries."""
    return [class_score(t.label, t.index, t.probability) for t in entries]


def top_k_from_probs(probs: torch.Tensor, labels: Sequence[str], k: int) -> list[dict[str, Any]]:
    """The ``k`` most probable classes of ``probs`` (``(K,)`` softmax probabilities), most probable first.

    Raises:
        ValueError: ``k < 1`` or ``labels`` of another length than ``probs``.
    """
    from playground.inspection.predict import TopK

    check_top_k(k)
    if len(labels) != probs.shape[-1]:
        raise ValueError(f"{probs.shape[-1]} probabilities but {len(labels)} labels")
    values, indices = probs.detach().float().cpu().topk(min(k, probs.shape[-1]))
    return top_k_json(TopK(labels[int(j)], int(j), float(p)) for p, j in zip(values, indices, strict=True))


def check_json(max_abs_diff: float, matches: bool, **extra: Any) -> dict[str, Any]:
    """A recomputation checked against PyTorch: ``{"max_abs_diff": float, "matches": bool, **extra}``."""
    return {"max_abs_diff": float(max_abs_diff), "matches": bool(matches), **extra}


def print_result(obj: Any, as_json: bool, text: str, compact: bool = False) -> None:
    """Print ``obj`` as JSON (``--json``), else ``text``.

    The JSON is indented for people to read, or on one line without spaces when ``compact``
    (outputs holding large arrays: indented, every number of a (L, H, T, T) array gets a line).
    """
    if not as_json:
        print(text)
    elif compact:
        print(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
    else:
        print(json.dumps(obj, indent=2, ensure_ascii=False))


# ------------------------------------------------------------------------------------------ inputs


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
