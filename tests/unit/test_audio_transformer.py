"""The AST-style audio transformer: patches of the spectrogram as tokens, its attention read and recomputed."""

from __future__ import annotations

import pytest
import torch

from playground.bundle import create_bundle_from_preprocessing, load_bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS
from playground.data import load_dataset
from playground.inspection.attention import FORMULA_TOLERANCE, audio_attention, class_token_map, rollout
from playground.models.vit import VisionTransformer


@pytest.fixture(scope="module")
def bundle():  # type: ignore[no-untyped-def]
    pre = load_bundle(SHIPPED_CHECKPOINTS / "audio_cnn-fsdd").preprocessing  # 8 kHz, 40 mel bands x 101 frames
    torch.manual_seed(0)
    return create_bundle_from_preprocessing("audio_transformer", pre, [str(d) for d in range(10)])


def test_a_rectangular_vit_cuts_the_spectrogram_into_patches_of_bands_by_frames(bundle) -> None:  # type: ignore[no-untyped-def]
    model = bundle.model
    assert isinstance(model, VisionTransformer)
    assert model.patch_grid == (5, 10) and model.patch_size == (8, 10)  # 40 / 8 bands, 101 // 10 frames
    x = torch.randn(2, 1, 40, 101)
    out = model.forward_with_attention(x)
    assert out.logits.shape == (2, 10) and len(out.attentions) == 4 and out.attentions[0].shape == (2, 4, 51, 51)
    assert torch.equal(model(x[:, :, :, :100]), model(x))  # the last frame no patch covers is not seen
    with pytest.raises(ValueError, match=r"expected inputs of shape \(B, C, 40, 100\)"):
        model(torch.randn(1, 1, 32, 101))
    with pytest.raises(ValueError, match="do not fit"):
        VisionTransformer(2, 1, (8, 8), (16, 4))


def test_audio_attention_maps_onto_the_spectrogram_and_the_formula_recomputes_a_row(bundle) -> None:  # type: ignore[no-untyped-def]
    data = load_dataset("fsdd")
    maps = audio_attention(bundle, data.clips.clip(0), data.sample_rate)
    assert maps.tokens[:3] == ["[CLS]", "f0 t0", "f0 t1"] and len(maps.tokens) == 51 and maps.special[0]
    assert maps.attention_probs.shape == (4, 4, 51, 51)
    assert torch.allclose(maps.attention_probs.sum(-1), torch.ones(4, 4, 51), atol=1e-5)
    assert maps.pixels is not None and maps.pixels.shape == (1, 40, 100)
    assert float(maps.pixels.min()) == 0.0 and float(maps.pixels.max()) == 1.0
    assert class_token_map(maps, rollout(maps.attention_probs)[-1]).shape == (5, 10)
    check = maps.formula(layer=2, head=1, query_index=7)
    assert check.max_abs_diff <= FORMULA_TOLERANCE  # the article's softmax(QK^T / sqrt(d_k)) equals the model's row
    with torch.no_grad():  # the same window the prediction uses: the logits agree
        x = bundle.preprocessing.encode(bundle.preprocessing.fit_clips(data.clips.take(torch.tensor([0]))))
        assert torch.allclose(bundle.model(x)[0], maps.logits, atol=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        audio_attention(bundle, torch.zeros(0), 8000)


def test_the_shipped_audio_transformer_reads_the_official_test_split() -> None:
    shipped = load_bundle(SHIPPED_CHECKPOINTS / "audio_transformer-fsdd")
    assert shipped.card.architecture == "audio_transformer" and shipped.card.dataset == "fsdd"
    data = load_dataset("fsdd")
    assert data.val_indices is not None and len(data.val_indices) == 300
    pre = shipped.preprocessing
    with torch.no_grad():
        logits = shipped.model(pre.encode(pre.fit_clips(data.clips.take(data.val_indices))))  # (300, 10)
    accuracy = float((logits.argmax(-1) == data.targets[data.val_indices]).float().mean())
    assert accuracy >= 0.95 and accuracy == pytest.approx(shipped.card.metrics["val_accuracy"], abs=0.01)
