"""Compare: two models on one input, each with its own prediction and attribution map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from playground.bundle import load_bundle
from playground.explain import display_map, explain
from playground.modalities.image.decode import load_sample
from tests.app.apptools import assert_clean, chart, plotly_array
from tests.app.test_links import open_link


@pytest.fixture
def fresh(runs_dir: Path, navigation_mode: None) -> object:
    return open_link


def test_two_digit_models_side_by_side_on_one_digit(fresh) -> None:  # type: ignore[no-untyped-def]
    at = fresh(
        "pages/compare.py", model="checkpoint:lenet5-mnist", cmp_model="checkpoint:vit_tiny-mnist", cmp_input="digit_3"
    )
    assert_clean(at)
    answers = [s.value for s in at.subheader]
    assert len(answers) == 2 and all(a.startswith("3 (") for a in answers), answers  # both read the 3
    lenet = load_bundle("assets/checkpoints/lenet5-mnist")
    pixels = lenet.image_preprocessing.pixels_from_pil(load_sample("digit_3"))
    expected = display_map(explain(lenet, pixels, "saliency").attributions, "signed").numpy()
    heat = plotly_array(chart(at, "cmp_map_A")["data"][1]["z"])  # the map drawn over the digit
    np.testing.assert_allclose(heat, expected, atol=1e-5)
    assert chart(at, "cmp_map_B")  # the ViT's own map, at its own input


def test_two_text_models_on_one_text_the_shipped_news_head_among_them(fresh) -> None:  # type: ignore[no-untyped-def]
    at = fresh(
        "pages/compare.py",
        model="checkpoint:lstm-brackets",
        cmp_model="checkpoint:minilm-bbc_news",
        cmp_text_text="Shares fell sharply after the bank's results.",
    )
    assert_clean(at)
    titles = at.selectbox(key="cmp_model").options
    assert sum(("minilm · bbc_news" in t) + ("minilm · tweet_sentiment" in t) for t in titles) == 2, titles
    answers = [s.value for s in at.subheader]
    assert len(answers) == 2 and answers[1].startswith("business ("), answers  # the news head reads the news
    assert any("are unknown to lstm · brackets" in w.value for w in at.warning)  # the bracket LSTM cannot read it
