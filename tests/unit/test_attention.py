"""Attention core: the explicit attention, transformer_encoder, vit_tiny, rollout, summaries, the formula."""

from __future__ import annotations

import math

import pytest
import torch

from playground.bundle import create_bundle, create_bundle_from_preprocessing, load_bundle
from playground.inspection.attention import (
    NoAttentionError,
    class_token_map,
    head_summaries,
    image_attention,
    rollout,
    text_attention,
)
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import TokenizerOptions, train_tokenizer
from playground.models.attention import MultiHeadAttention
from playground.models.transformer import TransformerClassifier

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "the bird sang a song", "cats and dogs play"]


@pytest.fixture(scope="module")
def text_bundle():
    tokenizer = train_tokenizer(TEXTS, TokenizerOptions(kind="word", vocab_size=100, max_length=32))
    torch.manual_seed(0)
    return create_bundle_from_preprocessing(
        "transformer_encoder", TextPreprocessing(tokenizer, 32), ["neg", "pos"], hparams={"num_layers": 3}
    )


def test_attention_rows_sum_to_one_and_padding_gets_nothing():
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    key_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    _, probs = attn(x, key_mask=key_mask)
    assert probs.shape == (2, 4, 5, 5)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 4, 5))
    assert float(probs[1, :, :, 3:].detach().abs().max()) == 0.0


def test_causal_attention_has_a_zero_upper_triangle():
    torch.manual_seed(0)
    _, probs = MultiHeadAttention(8, 2, causal=True)(torch.randn(1, 6, 8))
    upper = torch.ones(6, 6, dtype=torch.bool).triu(1)
    assert float(probs[..., upper].detach().abs().max()) == 0.0
    torch.testing.assert_close(probs.sum(-1), torch.ones(1, 2, 6))


def test_multi_head_attention_equals_pytorch_reference():
    """Our explicit softmax(QK^T/sqrt(d_k))V equals torch.nn.functional.scaled_dot_product_attention."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 7, 16)
    y, _ = attn(x)
    q = attn.query(x).view(2, 7, 4, 4).transpose(1, 2)
    k = attn.key(x).view(2, 7, 4, 4).transpose(1, 2)
    v = attn.value(x).view(2, 7, 4, 4).transpose(1, 2)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 7, 16)
    torch.testing.assert_close(y, attn.proj(ref))


def test_encoder_output_ignores_padding():
    torch.manual_seed(0)
    model = TransformerClassifier(3, vocab_size=20, num_layers=2).eval()
    ids = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0, 0]])
    torch.testing.assert_close(model(ids), model(padded))


def test_encoder_takes_numeric_sequences_and_refuses_the_wrong_input():
    model = TransformerClassifier(4, input_size=3, max_positions=10).eval()
    out = model.forward_with_attention(torch.randn(2, 10, 3))
    assert out.logits.shape == (2, 4) and out.attentions[0].shape == (2, 4, 10, 10)
    with pytest.raises(ValueError, match="at most 10 positions"):
        model(torch.randn(1, 11, 3))
    with pytest.raises(ValueError, match="numeric sequences"):
        model(torch.tensor([[1, 2]]))


def test_text_attention_maps_and_formula(text_bundle):
    maps = text_attention(text_bundle, "The cat sat on the mat")
    assert maps.tokens == ["the", "cat", "sat", "on", "the", "mat"]
    assert maps.attention_probs.shape == (3, 4, 6, 6)
    torch.testing.assert_close(maps.attention_probs.sum(-1), torch.ones(3, 4, 6))
    for layer in range(3):
        for head in range(4):
            formula = maps.formula(layer, head, query_index=2)
            assert formula.max_abs_diff <= 1e-5, (layer, head, formula.max_abs_diff)
            assert formula.matches
    formula = maps.formula(1, 2, 0)
    assert formula.scale == pytest.approx(math.sqrt(16))
    torch.testing.assert_close(formula.scores, formula.keys @ formula.query / formula.scale)


def test_formula_detects_a_row_that_is_not_the_models(text_bundle):
    maps = text_attention(text_bundle, "The cat sat on the mat")
    other = maps.formula(0, 0, 1)
    doctored = type(other)(**{**other.__dict__, "model_probs": other.model_probs.flip(0)})
    assert not doctored.matches


def test_a_model_without_attention_is_refused():
    bundle = create_bundle("lenet5", weights=None)
    with pytest.raises(NoAttentionError, match="no attention layers"):
        image_attention(bundle, torch.rand(1, 28, 28))


def test_vit_tiny_maps_cover_class_token_and_patches(tmp_path):
    torch.manual_seed(0)
    bundle = create_bundle("vit_tiny", weights=None)
    maps = image_attention(bundle, torch.rand(1, 28, 28))
    assert maps.tokens[0] == "[CLS]" and maps.tokens[1] == "patch 0,0" and len(maps.tokens) == 50
    assert maps.patch_grid == (7, 7) and maps.patch_size == 4 and maps.num_prefix == 1
    assert maps.attention_probs.shape == (4, 4, 50, 50)
    torch.testing.assert_close(maps.attention_probs.sum(-1), torch.ones(4, 4, 50))
    assert maps.formula(3, 2, 0).matches
    grid = class_token_map(maps, maps.attention_probs[0, 0])
    torch.testing.assert_close(grid.flatten(), maps.attention_probs[0, 0, 0, 1:])
    bundle.save(tmp_path / "vit")
    again = image_attention(load_bundle(tmp_path / "vit"), maps.pixels)
    torch.testing.assert_close(again.attention_probs, maps.attention_probs)


def test_vit_tiny_refuses_a_patch_size_that_does_not_divide():
    with pytest.raises(ValueError, match="does not divide"):
        create_bundle("vit_tiny", weights=None, hparams={"patch_size": 5})


def test_rollout_equals_a_hand_computed_example():
    a1 = torch.tensor([[0.5, 0.5], [0.0, 1.0]])
    a2 = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    probs = torch.stack([a1, a2]).unsqueeze(1)  # (L=2, H=1, 2, 2)
    # Â = 0.5 A + 0.5 I (rows already sum to 1), R = Â2 @ Â1
    h1 = torch.tensor([[0.75, 0.25], [0.0, 1.0]], dtype=torch.float64)
    h2 = torch.tensor([[1.0, 0.0], [0.125, 0.875]], dtype=torch.float64)
    out = rollout(probs)
    torch.testing.assert_close(out[0], h1)
    torch.testing.assert_close(out[1], h2 @ h1)
    torch.testing.assert_close(out[1], torch.tensor([[0.75, 0.25], [0.09375, 0.90625]], dtype=torch.float64))


def test_rollout_head_fusion_and_errors():
    probs = torch.softmax(torch.randn(3, 4, 5, 5), dim=-1)
    for fusion in ("mean", "max", "min"):
        torch.testing.assert_close(rollout(probs, head_fusion=fusion)[-1].sum(-1), torch.ones(5, dtype=torch.float64))
    assert rollout(probs, start_layer=1).shape == (2, 5, 5)
    with pytest.raises(ValueError, match="head_fusion"):
        rollout(probs, head_fusion="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        rollout(probs[0])


def test_head_summaries_tell_focused_from_spread_heads():
    t = 6
    focused = torch.eye(t)  # every token looks at itself
    uniform = torch.full((t, t), 1.0 / t)
    on_first = torch.zeros(t, t)
    on_first[:, 0] = 1.0  # a delimiter head
    probs = torch.stack([focused, uniform, on_first]).unsqueeze(0)  # (L=1, H=3, T, T)
    special = [True] + [False] * (t - 1)
    s = head_summaries(probs, special)
    assert s.entropy[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert s.entropy[0, 1] == pytest.approx(math.log(t))
    assert s.max_entropy == pytest.approx(math.log(t))
    assert s.mean_distance[0, 0] == pytest.approx(0.0)
    assert s.mean_distance[0, 2] == pytest.approx(sum(range(t)) / t)  # query i is i positions from 0
    assert s.special_share[0].tolist() == pytest.approx([1 / t, 1 / t, 1.0])


def test_head_summaries_measure_pixels_on_a_patch_grid():
    probs = torch.zeros(1, 1, 5, 5)  # [CLS] + 2x2 patches
    probs[0, 0, :, 0] = 1.0
    probs[0, 0, 1:, 1:] = torch.tensor([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=torch.float32)
    probs[0, 0, 1:, 0] = 0.0
    s = head_summaries(probs, patch_grid=(2, 2), patch_size=16, num_prefix=1)
    assert s.mean_distance[0, 0] == pytest.approx(16.0)  # every patch looks at its horizontal neighbour


def test_overlapping_thread_limits_restore_the_count_before_the_first() -> None:
    """Two trainings in worker threads that overlap must not leave the process on one thread."""
    from playground.core.device import cpu_threads

    before = torch.get_num_threads()
    first, second = cpu_threads(1), cpu_threads(1)
    first.__enter__()
    second.__enter__()  # starts while the first runs: sees 1 thread
    first.__exit__(None, None, None)  # the first ends first
    assert torch.get_num_threads() == 1  # the second still runs on one thread
    second.__exit__(None, None, None)
    assert torch.get_num_threads() == before
    with cpu_threads(1, torch.device("cuda")):  # off the CPU: nothing changes
        assert torch.get_num_threads() == before
