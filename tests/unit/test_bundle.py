"""Bundles: build, save, load back identically, and refuse anything unsafe or ill-fitting."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as safetensors_bytes

from playground.bundle import (
    CARD_FILE,
    WEIGHTS_FILE,
    bundle_from_files,
    create_bundle,
    load_bundle,
    load_weights,
    read_state_dict,
)

UNPICKLED: list[str] = []


class Payload:
    """Stands for a malicious object: unpickling it would run ``__setstate__``."""

    def __setstate__(self, state: object) -> None:
        UNPICKLED.append("payload ran")


def fixed_input(channels: int = 1, size: int = 28) -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, 2 * channels * size * size).view(2, channels, size, size)


def test_lenet5_bundle_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    bundle = create_bundle("lenet5", labels=[f"digit {i}" for i in range(10)])
    bundle.card.metrics["val_accuracy"] = 0.97
    folder = bundle.save(tmp_path / "ckpt")
    loaded = load_bundle(folder)
    x = fixed_input()
    with torch.no_grad():
        assert torch.equal(loaded.model(x), bundle.model(x))
    assert not loaded.model.training
    assert asdict(loaded.card) == asdict(bundle.card)
    assert loaded.labels == bundle.labels
    assert loaded.preprocessing == bundle.preprocessing
    assert loaded.card.architecture == "lenet5"
    assert loaded.card.hparams == {"width": 1.0, "activation": "relu", "pool": "max"}


def test_saving_twice_to_one_folder_replaces_it_and_leaves_nothing_behind(tmp_path: Path) -> None:
    torch.manual_seed(1)
    first = create_bundle("lenet5", hparams={"width": 0.5})
    target = tmp_path / "ckpt"
    first.save(target)
    second = create_bundle("lenet5", hparams={"width": 0.5})
    second.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no .tmp-* / .old-* siblings
    assert sorted(p.name for p in target.iterdir()) == sorted([CARD_FILE, WEIGHTS_FILE])
    loaded = load_bundle(target)
    x = fixed_input()
    with torch.no_grad():
        assert torch.equal(loaded.model(x), second.model(x))
        assert not torch.equal(loaded.model(x), first.model(x))


def test_fine_tuned_pretrained_bundle_round_trip(tmp_path: Path) -> None:
    # Rebuilt with weights=None: the adapted stem (1 channel) and head (3 classes) must fit the file.
    bundle = create_bundle("efficientnet_lite0", num_classes=3, in_channels=1, image_size=64)
    assert bundle.card.weights == "imagenet"
    assert bundle.labels == ["0", "1", "2"]
    loaded = load_bundle(bundle.save(tmp_path / "lite"))
    x = fixed_input(1, 64)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), bundle.model(x))
    assert loaded.preprocessing == bundle.preprocessing


def test_pretrained_bundle_carries_imagenet_labels() -> None:
    bundle = create_bundle("efficientnet_lite0")
    assert bundle.card.num_classes == 1000
    assert bundle.labels[281] == "tabby"
    assert bundle.preprocessing.resize == 256


def test_a_pickled_object_is_refused_without_running_it() -> None:
    buffer = io.BytesIO()
    torch.save({"fc.weight": torch.zeros(2, 2), "extra": Payload()}, buffer)
    with pytest.raises(ValueError, match="weights-only"):
        read_state_dict(buffer.getvalue(), "model.pt")
    assert UNPICKLED == []


def test_a_pt_file_without_tensors_is_refused() -> None:
    buffer = io.BytesIO()
    torch.save({"lr": 0.1, "epoch": 3}, buffer)
    with pytest.raises(ValueError, match="state dict"):
        read_state_dict(buffer.getvalue(), "model.pth")


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", "empty"),
        (b"\x00" * 7, "not a valid safetensors"),
        (b"this is not a safetensors file at all", "not a valid safetensors"),
    ],
)
def test_corrupt_or_empty_safetensors_are_refused(data: bytes, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        read_state_dict(data, "model.safetensors")


def test_a_truncated_safetensors_file_is_refused() -> None:
    data = safetensors_bytes({"w": torch.ones(64, 64)})
    assert torch.equal(read_state_dict(data, "ok.safetensors")["w"], torch.ones(64, 64))
    with pytest.raises(ValueError, match="not a valid safetensors"):
        read_state_dict(data[: len(data) // 2], "cut.safetensors")


def test_unsupported_extension_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        read_state_dict(b"123", "model.ckpt")


def test_wrong_shapes_name_the_key() -> None:
    model = create_bundle("lenet5").model
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["fc3.weight"] = torch.zeros(5, 84)
    with pytest.raises(ValueError, match=r"fc3\.weight: expected \(10, 84\), got \(5, 84\)"):
        load_weights(model, safetensors_bytes(state), "other.safetensors")


def test_missing_and_unexpected_keys_are_named() -> None:
    model = create_bundle("lenet5").model
    state = {k: v.clone() for k, v in model.state_dict().items() if k != "conv1.bias"}
    state["bogus.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"missing \(e\.g\. conv1\.bias\).*unexpected \(e\.g\. bogus\.weight\)"):
        load_weights(model, safetensors_bytes(state), "other.safetensors")


def test_unknown_architecture_in_card_lists_the_known_ones(tmp_path: Path) -> None:
    folder = create_bundle("lenet5").save(tmp_path / "ckpt")
    card = json.loads((folder / CARD_FILE).read_text())
    card["architecture"] = "alexnet9000"
    with pytest.raises(ValueError) as info:
        bundle_from_files(json.dumps(card).encode(), (folder / WEIGHTS_FILE).read_bytes())
    assert "alexnet9000" in str(info.value)
    assert "lenet5" in str(info.value) and "resnet_cifar" in str(info.value)


def test_invalid_card_json_is_refused(tmp_path: Path) -> None:
    folder = create_bundle("lenet5").save(tmp_path / "ckpt")
    weights = (folder / WEIGHTS_FILE).read_bytes()
    with pytest.raises(ValueError, match="not valid JSON"):
        bundle_from_files(b"{not json", weights)
    with pytest.raises(ValueError, match="JSON object"):
        bundle_from_files(b"[1, 2]", weights)
    with pytest.raises(ValueError, match=r"card\.json is 17 MiB; the limit is 16 MiB"):
        bundle_from_files(b" " * (17 * 2**20), weights)
    with pytest.raises(ValueError, match=r"tokenizer\.json is 17 MiB"):
        bundle_from_files(b"{}", weights, files={"tokenizer.json": b" " * (17 * 2**20)})


def test_create_bundle_refuses_bad_requests() -> None:
    with pytest.raises(ValueError, match=r"unknown hyper-parameters for lenet5: \['depth'\]"):
        create_bundle("lenet5", hparams={"depth": 3})
    with pytest.raises(ValueError, match="has no weights 'imagenet'"):
        create_bundle("lenet5", weights="imagenet")
    with pytest.raises(ValueError, match="at least 12 px"):
        create_bundle("lenet5", image_size=8)
    with pytest.raises(ValueError, match="in_channels must be 1 or 3"):
        create_bundle("lenet5", in_channels=2)
    with pytest.raises(ValueError, match="unknown model 'lenet6'"):
        create_bundle("lenet6")


def test_create_bundle_loads_a_local_weights_file(tmp_path: Path) -> None:
    torch.manual_seed(2)
    source = create_bundle("resnet_cifar", hparams={"depth": 8})
    weights_path = tmp_path / "mine.pt"
    torch.save(source.model.state_dict(), weights_path)
    copy = create_bundle("resnet_cifar", hparams={"depth": 8}, weights_file=weights_path)
    x = fixed_input(3, 32)
    with torch.no_grad():
        assert torch.equal(copy.model(x), source.model(x))


def test_save_never_replaces_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    bundle = create_bundle("seed_cnn", image_size=8)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("important")
    with pytest.raises(ValueError, match="holds other files"):
        bundle.save(victim)
    assert (victim / "notes.txt").read_text() == "important"
    a_file = tmp_path / "photo.png"
    a_file.write_bytes(b"png")
    with pytest.raises(ValueError, match="is a file"):
        bundle.save(a_file)
    assert a_file.read_bytes() == b"png"


def test_card_with_impossible_sizes_is_refused(tmp_path: Path) -> None:
    folder = create_bundle("seed_cnn", image_size=8).save(tmp_path / "ck")
    card = json.loads((folder / "card.json").read_text())
    card["num_classes"] = -3
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        bundle_from_files(json.dumps(card).encode(), (folder / "model.safetensors").read_bytes())
