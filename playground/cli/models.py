"""``python -m playground models`` and ``datasets``: what the registries hold.

python -m playground models [--json]
python -m playground datasets [--json]
"""

from __future__ import annotations

import argparse
from typing import Any

from playground.cli.common import add_json_argument, print_result


def add_parser(subparsers: Any) -> None:
    """Add the ``models`` and ``datasets`` sub-commands to ``subparsers`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser("models", help="list the model architectures")
    add_json_argument(p)
    p.set_defaults(func=run_models)

    p = subparsers.add_parser("datasets", help="list the datasets and whether they are available offline")
    add_json_argument(p)
    p.set_defaults(func=run_datasets)


def run_models(args: argparse.Namespace) -> int:
    """Print one row per registered architecture; returns the exit status (0)."""
    from playground.models import MODELS

    rows = [
        {
            "name": name,
            "family": spec.family,
            "modality": spec.modality,
            "input": {"channels": spec.in_channels, "image_size": spec.image_size},
            "num_classes": spec.num_classes,
            "defaults": spec.defaults,
            "weights": list(spec.weights),
            "default_weights": spec.default_weights,
            "source": spec.source,
            "description": spec.description,
        }
        for name, spec in MODELS.items()
    ]
    text = "\n".join(f"{r['name']:<20} {r['family']:<6} {r['description']}" for r in rows)
    print_result(rows, args.json, text)
    return 0


def run_datasets(args: argparse.Namespace) -> int:
    """Print one row per registered dataset; returns the exit status (0)."""
    from playground.data import DATASETS

    rows = [
        {
            "name": name,
            "modality": spec.modality,
            "num_classes": spec.num_classes,
            "channels": spec.channels,
            "image_size": spec.image_size,
            "offline": bool(spec.offline()),
            "source": spec.source,
            "description": spec.description,
        }
        for name, spec in DATASETS.items()
    ]
    text = "\n".join(
        f"{r['name']:<15} {'offline' if r['offline'] else 'online only':<12} {r['description']}" for r in rows
    )
    print_result(rows, args.json, text)
    return 0
