"""The shipped MiniLM heads: head-only checkpoints that load on the package's weights, with the accuracy their cards state."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from playground.bundle import create_bundle, load_bundle
from playground.data import load_dataset
from playground.inspection.predict import text_probabilities, untrained_head

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "assets/checkpoints"


def recipe():  # type: ignore[no-untyped-def]
    """scripts/train_text_heads.py, imported as a module (it draws the validation texts)."""
    spec = importlib.util.spec_from_file_location("train_text_heads", ROOT / "scripts/train_text_heads.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_text_heads"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "floor"), [("bbc_news", 0.95), ("tweet_sentiment", 0.7)])
def test_a_shipped_head_loads_offline_and_reaches_its_stated_accuracy(name: str, floor: float) -> None:
    folder = SHIPPED / f"minilm-{name}"
    card = json.loads((folder / "card.json").read_text())
    assert card["head_only"] is True and card["weights"] == "pretrained" and card["dataset"] == name
    assert (folder / "model.safetensors").stat().st_size < 16_000  # the head alone, not MiniLM's 90 MB
    bundle = load_bundle(folder)
    data = load_dataset(name)
    assert bundle.labels == list(data.classes) and not untrained_head(bundle)
    _, val = recipe().chosen_indices(name)
    assert len(val) == card["training"]["val_size"]
    probs = text_probabilities(bundle, [data.texts[i] for i in val.tolist()])
    accuracy = float((probs.argmax(-1) == data.targets[val]).float().mean())
    assert accuracy >= floor and accuracy == pytest.approx(card["metrics"]["val_accuracy"], abs=0.01)


def test_a_head_only_save_round_trips_and_refuses_a_model_without_pretrained_weights(tmp_path: Path) -> None:
    from playground.bundle.hf import pretrained_text_bundle

    bundle = pretrained_text_bundle("minilm", num_classes=3, labels=["a", "b", "c"], max_length=32)
    with torch.no_grad():
        bundle.model.head.weight.normal_()  # type: ignore[union-attr]
    folder = bundle.save(tmp_path / "head", head_only=True)
    again = load_bundle(folder)
    ids, _ = bundle.preprocessing.encode_batch(["shares fell sharply", "a lovely film"])  # type: ignore[attr-defined]
    with torch.no_grad():
        assert torch.allclose(again.model(ids), bundle.model.eval()(ids), atol=1e-5)
    with pytest.raises(ValueError, match="pretrained weights"):
        create_bundle("lenet5", weights=None).save(tmp_path / "lenet", head_only=True)


def test_integrated_gradients_on_a_shipped_head_keeps_cls_and_sep_in_the_baseline() -> None:
    from playground.explain import explain
    from playground.explain.base import ModelView

    bundle = load_bundle(SHIPPED / "minilm-bbc_news")
    assert ModelView.from_bundle(bundle).special_ids == (101, 102)  # [CLS], [SEP] of MiniLM's vocabulary
    encoded = bundle.preprocessing.encode("Shares fell sharply after the bank's results.")  # type: ignore[attr-defined]
    result = explain(bundle, encoded.ids, "integrated_gradients")
    assert result.label == "business" and result.relative_delta is not None and result.relative_delta <= 0.01
    a = result.attributions  # (T,): one per token; the baseline keeps [CLS] and [SEP], so they get none
    assert a.shape == (len(encoded.tokens),) and float(a[0]) == 0.0 and float(a[-1]) == 0.0
    assert encoded.tokens[int(a.argmax())] in {"shares", "bank", "results"}
