"""The Learn page: its convolution and pooling numbers are the model's own."""

from __future__ import annotations

import re
from collections.abc import Callable

import torch
from streamlit.testing.v1 import AppTest

from playground.bundle import load_bundle
from playground.modalities.image.decode import load_sample
from tests.app.apptools import assert_clean

MakeApp = Callable[..., AppTest]


def _lenet_output(layer: str, channel: int, row: int, col: int) -> float:
    """What the shipped LeNet-5 computes at one position for the page's default digit, independently."""
    bundle = load_bundle("assets/checkpoints/lenet5-mnist")
    pixels = bundle.image_preprocessing.pixels_from_pil(load_sample("digit_3"))
    x = bundle.image_preprocessing.normalize(pixels).unsqueeze(0)
    m = bundle.model.eval()
    with torch.no_grad():
        conv1 = m.conv1(x)
        maps = {"conv1": conv1, "pool1": m.pool1(torch.relu(conv1))}
    return float(maps[layer][0, channel, row, col])


def _number(text: str, after: str) -> float:
    match = re.search(after + r" (-?\d+\.\d+)", text)
    assert match, text
    return float(match.group(1))


def test_the_conv_and_pool_numbers_on_the_page_equal_the_models(app: MakeApp) -> None:
    at = app("pages/learn.py")
    assert_clean(at)
    assert at.radio(key="l_model").value == "shipped"  # EfficientNet is active: still offered the LeNet-5
    at.number_input(key="l_c").set_value(2)
    at.slider(key="l_i").set_value(14)
    at.slider(key="l_j").set_value(12).run()
    assert_clean(at)
    checks = [s.value for s in at.success]
    conv_text = next(c for c in checks if c.startswith("Recomputed"))
    expected = _lenet_output("conv1", 2, 14, 12)
    assert abs(_number(conv_text, "the model computed") - expected) < 1e-5
    assert abs(_number(conv_text, "Recomputed") - expected) < 1e-4
    at.number_input(key="l_pc").set_value(2)
    at.slider(key="l_pi").set_value(7)
    at.slider(key="l_pj").set_value(6).run()
    pool_text = next(s.value for s in at.success if s.value.startswith("max ="))
    assert abs(_number(pool_text, "max =") - _lenet_output("pool1", 2, 7, 6)) < 1e-5
    # 3.2: the bracket LSTM's output recomputed from its head
    assert any(s.value.startswith("The recomputed logits equal the model's") for s in at.success)
    at.text_input(key="l_rnn_text").set_value("(((").run()
    table = next(d.value for d in at.dataframe if "logit (recomputed)" in d.value.columns)
    assert (table["logit (recomputed)"] - table["logit (the model's)"]).abs().max() < 1e-4
    assert table.loc[table["g = softmax"].idxmax(), "class"] == "invalid"  # "(((" never closes
    # the flatten-size check of the article's CNN
    at.number_input(key="l_side").set_value(24).run()
    assert any("it fits this size" in m.value for m in at.markdown)
    at.number_input(key="l_side").set_value(32).run()
    assert any("**64 × 8 × 8 = 4,096**" in m.value and "it fails at this size" in m.value for m in at.markdown)


def test_a_ready_example_opens_its_page_with_its_model(app: MakeApp) -> None:
    at = app("pages/learn.py")
    at.button(key="l_open_attention").click().run()
    assert_clean(at)
    assert at.session_state["active_model"].link == "checkpoint:vit_tiny-mnist"
    assert at.radio(key="at_view").value == "formula"
    assert any("equals the model's own attention" in s.value for s in at.success)
