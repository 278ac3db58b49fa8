"""Store the out-of-distribution reference (validation energy percentiles) in a checkpoint's card.json.

Runs trained here since the reference existed store it themselves; the shipped checkpoints were
trained before, so this recomputes it on the same validation part their training used (the card's
dataset, ``val_fraction`` and ``seed``) and writes it into ``card.json``'s metrics.

    PYTHONPATH=. python scripts/add_ood_reference.py assets/checkpoints/lenet5-mnist assets/checkpoints/vit_tiny-mnist ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from playground.bundle import load_bundle
from playground.bundle.core import CARD_FILE
from playground.data import load_dataset, split_dataset
from playground.training.ood import energy_score, reference_metrics

BATCH = 256


@torch.no_grad()
def validation_energies(folder: Path) -> np.ndarray:
    """``(N,)`` energies of the checkpoint's validation examples."""
    bundle = load_bundle(folder)
    card = bundle.card
    if not card.dataset:
        raise SystemExit(f"{folder}: the card names no dataset")
    training = card.training
    split = split_dataset(load_dataset(card.dataset), training.get("val_fraction", 0.1), training.get("seed", 0))
    raw, _targets = split.part("val")
    model = bundle.model.eval()
    x = bundle.preprocessing.model_input(raw)  # (N, ...) the model's input, as the training loop's validation
    return torch.cat([energy_score(model(chunk)) for chunk in x.split(BATCH)]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    for folder in parser.parse_args().folders:
        reference = reference_metrics(validation_energies(folder))
        path = folder / CARD_FILE
        card = json.loads(path.read_text(encoding="utf-8"))
        card.setdefault("metrics", {}).update(reference)
        path.write_text(json.dumps(card, indent=2), encoding="utf-8")  # as bundle.save writes it
        print(folder, {k: round(v, 3) for k, v in reference.items()})


if __name__ == "__main__":
    main()
