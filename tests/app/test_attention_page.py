"""AppTest of the Attention page: a text transformer, a ViT on an image, and a model without attention."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import numpy as np
import pytest
import torch
from apptools import assert_clean, chart, plotly_array
from streamlit.testing.v1 import AppTest

from playground.bundle import Bundle, create_bundle, create_bundle_from_preprocessing
from playground.inspection.attention import class_token_map, image_attention, rollout, text_attention
from playground.modalities.image.decode import list_samples, load_sample
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import TokenizerOptions, train_tokenizer
from ui.state import ActiveModel

MakeApp = Callable[..., AppTest]
TEXT = "the cat sat on the mat"


@pytest.fixture(scope="module")
def text_bundle() -> Bundle:
    tokenizer = train_tokenizer(
        [TEXT, "a dog ran in the park", "birds sing"], TokenizerOptions(kind="word", vocab_size=50, max_length=32)
    )
    torch.manual_seed(0)
    return create_bundle_from_preprocessing("transformer_encoder", TextPreprocessing(tokenizer, 32), ["neg", "pos"])


def test_text_views_show_the_models_numbers(app: MakeApp, text_bundle: Bundle) -> None:
    at = app()
    at.session_state["active_model"] = ActiveModel(text_bundle, "test")
    at.switch_page("pages/attention.py").run()
    assert_clean(at)
    at.text_area(key="at_input_text").input(TEXT).run()
    assert_clean(at)
    maps = text_attention(text_bundle, TEXT)
    assert any("6 tokens · 2 layers × 4 heads" in c.value for c in at.caption), [c.value for c in at.caption]

    # the model view: one small map per layer x head, equal to the model's attention
    fig = chart(at, "at_model_view")
    heat = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert len(heat) == 8
    np.testing.assert_allclose(plotly_array(heat[0]["z"]), maps.attention_probs[0, 0].numpy(), atol=1e-6)

    # one head as a heatmap: layer 1 (the last, picked by default), mean over heads
    at.radio(key="at_view").set_value("heatmap").run()
    assert_clean(at)
    z = plotly_array(chart(at, "at_heatmap")["data"][0]["z"])
    np.testing.assert_allclose(z, maps.attention_probs[1].mean(0).numpy(), atol=1e-6)
    np.testing.assert_allclose(z.sum(-1), 1.0, atol=1e-5)

    # rollout: the bar of each token's share equals the library's rollout
    at.radio(key="at_view").set_value("rollout").run()
    assert_clean(at)
    bars = chart(at, "at_rollout_bars")["data"][0]
    expected = rollout(maps.attention_probs)[-1].mean(0).numpy()
    np.testing.assert_allclose(plotly_array(bars["y"]), expected, atol=1e-6)

    # the formula with the real numbers, and its visible check
    at.radio(key="at_view").set_value("formula").run()
    assert_clean(at)
    ok = [s.value for s in at.success if s.value.startswith("The recomputed row equals")]
    assert len(ok) == 1, [s.value for s in at.success]
    diff = float(re.search(r"max \|diff\| = ([0-9.e+-]+)", ok[0]).group(1))
    assert diff <= 1e-5
    table = at.dataframe[0].value
    assert len(table) == 6 and table["softmax"].sum() == pytest.approx(1.0, abs=1e-6)

    # head summaries and head view draw without errors
    for view, key in (("summaries", "at_summaries"), ("head", "at_head_view")):
        at.radio(key="at_view").set_value(view).run()
        assert_clean(at)
        assert chart(at, key)["data"]


def test_display_changes_recompute_neither_rollout_nor_summaries(
    app: MakeApp, text_bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The depth slider, the fusion back and forth and a change of view reuse what the result already gave."""
    import playground.inspection.attention as attention

    calls: list[str] = []
    for name in ("rollout", "head_summaries"):
        real = getattr(attention, name)
        monkeypatch.setattr(
            attention, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k)
        )
    forwards: list[int] = []
    handle = text_bundle.model.register_forward_pre_hook(lambda *_: forwards.append(1))
    try:
        at = app()
        at.session_state["active_model"] = ActiveModel(text_bundle, "test")
        at.switch_page("pages/attention.py").run()
        at.text_area(key="at_input_text").input(TEXT).run()
        at.radio(key="at_view").set_value("rollout").run()
        assert_clean(at)
        assert calls == ["rollout"]
        passes = len(forwards)
        at.slider(key="at_rollout_depth").set_value(0).run()
        assert_clean(at)
        assert "rollout up to layer 0" in json.dumps(chart(at, "at_rollout_heatmap")["layout"]["title"])
        at.radio(key="at_fusion").set_value("max").run()
        assert calls == ["rollout", "rollout"]  # another fusion is another result
        at.radio(key="at_view").set_value("summaries").run()
        at.radio(key="at_view").set_value("heatmap").run()
        at.radio(key="at_view").set_value("summaries").run()
        assert_clean(at)
        assert calls == ["rollout", "rollout", "head_summaries"]
        assert len(forwards) == passes  # and no forward pass for any of it
    finally:
        handle.remove()


def test_vit_rollout_over_the_image(app: MakeApp) -> None:
    torch.manual_seed(0)
    bundle = create_bundle("vit_tiny", weights=None)
    at = app()
    at.session_state["active_model"] = ActiveModel(bundle, "test")
    at.switch_page("pages/attention.py").run()
    assert_clean(at)
    assert any("50 tokens · 4 layers × 4 heads" in c.value for c in at.caption), [c.value for c in at.caption]
    at.radio(key="at_view").set_value("rollout").run()
    assert_clean(at)
    overlay = chart(at, "at_rollout_overlay")
    assert "rollout up to layer 3" in json.dumps(overlay["layout"]["title"])
    # the page's input is the first digit sample (a 1-channel model): the drawn map is its rollout
    digit = next(s for s in list_samples() if s.kind == "digit")
    maps = image_attention(bundle, load_sample(digit.name))
    expected = class_token_map(maps, rollout(maps.attention_probs)[-1]).numpy()
    heat = next(t for t in overlay["data"] if t["type"] == "heatmap")
    np.testing.assert_allclose(plotly_array(heat["z"]), expected, atol=1e-6)


def test_a_model_without_attention_is_offered_transformers(app: MakeApp) -> None:
    at = app("pages/attention.py")  # the default model: EfficientNet-Lite0, a CNN
    assert_clean(at)
    assert at.title[0].value == "Attention"
    infos = [i.value for i in at.info]
    assert len(infos) == 1 and "no attention layers" in infos[0], infos
    assert at.selectbox(key="at_offer_text").options[0].startswith("MiniLM")
    assert not at.get("plotly_chart")


@pytest.fixture(scope="module")
def seq2seq_bundle() -> Bundle:
    from playground.training.seq2seq import train_seq2seq

    return train_seq2seq("reverse", epochs=1, num_examples=200, seed=0)


def test_seq2seq_cross_attention_on_attention_predict_and_models(app: MakeApp, seq2seq_bundle: Bundle) -> None:
    from playground.training.seq2seq import translate

    at = app()
    at.session_state["active_model"] = ActiveModel(seq2seq_bundle, "test")
    at.switch_page("pages/attention.py").run()
    assert_clean(at)
    at.text_input(key="at_s2s_text").input("12345").run()
    assert_clean(at)
    result = translate(seq2seq_bundle, "12345")
    layers = result.cross_attention.shape[0]
    z = plotly_array(chart(at, "at_cross")["data"][0]["z"])
    np.testing.assert_allclose(z, result.cross_attention[layers - 1].mean(0).numpy(), atol=1e-6)
    np.testing.assert_allclose(z.sum(-1), 1.0, atol=1e-5)  # each decoder step's row over the source
    dec = plotly_array(chart(at, "at_dec_self")["data"][0]["z"])
    assert float(np.triu(dec, 1).max(initial=0.0)) == 0.0  # causal: no step reads a later one

    at.switch_page("pages/predict.py").run()
    assert_clean(at)
    at.text_input(key="p_s2s_text").input("12345").run()
    assert_clean(at)
    assert at.subheader[0].value == (result.output or "(empty output)")

    at.switch_page("pages/models.py").run()
    assert_clean(at)
    assert at.metric[2].value == "reverse"

    at.switch_page("pages/train.py").run()
    at.radio(key="t_modality").set_value("seq2seq").run()
    assert_clean(at)
    examples = at.dataframe[0].value
    assert list(examples.columns) == ["source", "target"]
    assert all(src[::-1] == tgt for src, tgt in zip(examples["source"], examples["target"], strict=True))
