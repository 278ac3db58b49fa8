"""torchvision's ViT-B/16 with readable attention: the recomputed probabilities are torch's own.

The model (86M parameters, random init: no weights download) is built once for the module.
"""

from __future__ import annotations

import time
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import models as tvm

from playground.bundle import Bundle, create_bundle
from playground.inspection.attention import class_token_map, image_attention
from playground.models import MODELS, WeightsUnavailableError
from playground.models import torchvision_models as tvm_entries
from playground.models.attention import AttentionModel, AttentionOutput
from playground.models.torchvision_vit import TorchvisionViT


@pytest.fixture(scope="module")
def vit() -> Bundle:
    torch.manual_seed(0)
    return create_bundle("vit_b_16", weights=None)


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def output(vit: Bundle, pixels: torch.Tensor) -> AttentionOutput:
    model: TorchvisionViT = vit.model  # type: ignore[assignment]
    with torch.no_grad():
        return model.forward_with_attention(pixels)


def test_entry_and_shapes(vit: Bundle, output: AttentionOutput) -> None:
    spec = MODELS.get("vit_b_16")
    assert (spec.family, spec.modality, spec.weights, spec.default_weights) == (
        "transformer",
        "image",
        ("imagenet",),
        None,
    )
    assert spec.labels is not None and len(spec.labels()) == 1000
    model = vit.model
    assert isinstance(model, AttentionModel) and isinstance(model, TorchvisionViT)
    assert model.patch_grid == (14, 14) and model.prefix_tokens == ("[CLS]",)
    probs = torch.stack([a[0] for a in output.attentions])  # (L, H, T, T)
    assert probs.shape == (12, 12, 197, 197)
    assert torch.allclose(probs.sum(-1), torch.ones(12, 12, 197), atol=1e-5)
    assert output.logits.shape == (1, 1000)


def test_recomputed_attention_equals_multihead_attention_s_own(vit: Bundle, output: AttentionOutput) -> None:
    model: Any = vit.model
    blocks = list(model.encoder.layers)
    worst = 0.0
    with torch.no_grad():
        for block, h, probs in zip(blocks, output.attention_inputs, output.attentions, strict=True):
            _, own = block.self_attention(h, h, h, need_weights=True, average_attn_weights=False)  # (B, nh, T, T)
            worst = max(worst, float((own - probs).abs().max()))
    assert worst <= 1e-5


def test_logits_are_torchvision_s_and_the_keys_are_torchvision_s(
    vit: Bundle, pixels: torch.Tensor, output: AttentionOutput
) -> None:
    plain = tvm.vit_b_16(weights=None)
    plain.load_state_dict(vit.model.state_dict(), strict=True)  # the ImageNet checkpoint's keys fit
    with torch.no_grad():
        assert torch.equal(plain.eval()(pixels), output.logits)
        assert torch.equal(vit.model(pixels), output.logits)  # the hooks change nothing and are gone
    model: Any = vit.model
    assert all(not block.ln_1._forward_hooks for block in model.encoder.layers)


def test_image_attention_and_the_formula(vit: Bundle) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    maps = image_attention(vit, Image.fromarray(rgb))
    assert maps.tokens[0] == "[CLS]" and maps.tokens[1] == "patch 0,0" and len(maps.tokens) == 197
    assert maps.patch_grid == (14, 14) and maps.patch_size == 16
    assert class_token_map(maps, maps.attention_probs[11].mean(0)).shape == (14, 14)
    assert maps.formula(11, 3, 0).max_abs_diff <= 1e-5
    assert maps.formula(0, 0, 100).max_abs_diff <= 1e-5


def test_sizes_are_checked() -> None:
    builder = MODELS.get("vit_b_16").builder
    with pytest.raises(ValueError, match="multiple of 16"):
        builder(num_classes=10, in_channels=3, image_size=40)
    with pytest.raises(ValueError, match="224-pixel"):
        builder(num_classes=10, in_channels=3, image_size=32, weights="imagenet")


def test_imagenet_weights_offline_fail_fast(empty_torch_hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*_args: object, **_kwargs: object) -> object:
        raise urllib.error.URLError(OSError(101, "Network is unreachable (simulated)"))

    monkeypatch.setattr(tvm_entries, "urlopen", offline)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match=r"vit_b_16-c867db91\.pth"):
        MODELS.get("vit_b_16").builder(num_classes=1000, in_channels=3, image_size=224, weights="imagenet")
    assert time.monotonic() - start < 15.0
