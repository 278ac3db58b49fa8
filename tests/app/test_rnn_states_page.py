"""AppTest of the RNN-states page: a small LSTM on brackets as the active model, and an image model."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
import torch
from apptools import assert_clean, chart, plotly_array
from streamlit.testing.v1 import AppTest

from playground.bundle import Bundle
from playground.data import load_dataset, split_dataset
from playground.inspection.predict import predict_text
from playground.inspection.rnn import check_states, states_for_sequence, states_for_text
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.training.setup import bundle_for_split
from ui.state import ActiveModel

MakeApp = Callable[..., AppTest]
TEXT = "(()(()))()"


@pytest.fixture(scope="module")
def lstm_bundle() -> Bundle:
    """An untrained 2-layer bidirectional LSTM with a char tokenizer, recorded as trained on brackets."""
    torch.manual_seed(0)
    split = split_dataset(load_dataset("brackets", n=100, max_len=20), 0.2, 0)
    bundle = bundle_for_split(
        "lstm",
        split,
        tokenizer=TokenizerOptions(kind="char", lowercase=False, max_length=64),
        hparams={"hidden_size": 12, "embedding_dim": 8, "num_layers": 2, "bidirectional": True},
    )
    bundle.card.dataset = "brackets"  # what train() records; the page searches this dataset
    return bundle


@pytest.fixture
def lstm_app(app: MakeApp, lstm_bundle: Bundle) -> AppTest:
    at = app()
    at.session_state["active_model"] = ActiveModel(lstm_bundle, "test")
    at.switch_page("pages/rnn_states.py").run()
    assert_clean(at)
    at.text_area(key="rs_input_text").input(TEXT).run()
    assert_clean(at)
    return at


def test_typed_text_shows_tokens_states_and_the_pytorch_check(lstm_app: AppTest, lstm_bundle: Bundle) -> None:
    at = lstm_app
    states = states_for_text(lstm_bundle, TEXT)
    assert at.code[0].value == " · ".join(states.tokens) == " · ".join(TEXT)
    matches = [s.value for s in at.success if s.value.startswith("Recomputed states match PyTorch")]
    assert len(matches) == 1, [s.value for s in at.success]
    shown = float(re.search(r"max \|diff\| = ([0-9.e+-]+)", matches[0]).group(1))
    assert shown == pytest.approx(check_states(lstm_bundle.model, states).max_abs_diff, rel=0.1, abs=1e-9)
    assert shown < 1e-5

    # 2 layers x 2 directions to pick from; the heatmap draws the hidden state of layer 0 forward
    assert at.selectbox(key="rs_layer").options == [f"layer {k} · {d}" for k in (0, 1) for d in ("forward", "reverse")]
    heat = chart(at, "rs_heatmap")["data"][0]
    expected = states.get(0, "forward").hidden_state.numpy().T  # (H, T)
    np.testing.assert_allclose(plotly_array(heat["z"]), expected, atol=1e-6)

    # prefix predictions: the last point is what Predict shows for the whole text
    lines = chart(at, "rs_prefix")["data"]
    final = {line["name"]: plotly_array(line["y"])[-1] for line in lines}
    probs = predict_text(lstm_bundle, TEXT).prediction.probs
    for k, label in enumerate(lstm_bundle.labels):
        assert final[label] == pytest.approx(float(probs[k]), abs=1e-6)

    # the update formula with the real numbers, and its own green check
    assert any("c_t = f ⊙ c_(t-1) + i ⊙ g" in c.value for c in at.code)
    assert any(s.value.startswith("PyTorch computed h_t[j]") and "matches PyTorch" in s.value for s in at.success)


def test_other_layer_gates_and_find_similar(lstm_app: AppTest, lstm_bundle: Bundle) -> None:
    at = lstm_app
    at.selectbox(key="rs_layer").select("layer 1 · reverse").run()
    assert_clean(at)
    gates = chart(at, "rs_gates")
    names = {a["text"] for a in gates["layout"]["annotations"]}
    assert {"input gate i", "forget gate f", "candidate g / n", "output gate o", "cell state c"} <= names

    # find similar: a span where some units are on, searched in brackets examples
    at.slider(key="rs_threshold").set_value(-1.0).run()  # every unit is >= -1: all are "on"
    assert_clean(at)
    at.button(key="rs_find").click().run()
    assert_clean(at)
    tables = [d.value for d in at.dataframe if "span" in d.value.columns]
    assert len(tables) == 1, [d.value.columns for d in at.dataframe]
    found = tables[0]
    # every unit is on everywhere: the best spans are whole examples, all 12 units matched, none extra
    assert len(found) == 20
    assert (found["units matched"] == "12/12").all() and (found["extra units on"] == 0).all()
    assert (found["score"] == 1.0).all()
    assert set("".join(found["span"]).replace(" ", "")) == {"(", ")"}


def test_an_image_model_gets_a_clear_message(app: MakeApp) -> None:
    at = app("pages/rnn_states.py")  # the default model: EfficientNet-Lite0, an image model
    assert_clean(at)
    assert at.title[0].value == "RNN states"
    infos = [i.value for i in at.info]
    assert len(infos) == 1 and "not a recurrent" in infos[0] and "Train" in infos[0], infos
    assert not at.get("plotly_chart")


def test_a_numeric_sequence_model_shows_a_dataset_example(app: MakeApp) -> None:
    torch.manual_seed(0)
    split = split_dataset(load_dataset("waves", n=40, length=100, features=64), 0.25, 0)
    bundle = bundle_for_split("gru", split, hparams={"hidden_size": 8, "num_layers": 1})
    bundle.card.dataset = "waves"
    at = app()
    at.session_state["active_model"] = ActiveModel(bundle, "test")
    at.switch_page("pages/rnn_states.py").run()
    assert_clean(at)
    at.number_input(key="rs_seq").set_value(7).run()
    assert_clean(at)
    assert at.code[0].value == " · ".join(f"t{t}" for t in range(100))
    assert any(s.value.startswith("Recomputed states match PyTorch") for s in at.success)
    heat = plotly_array(chart(at, "rs_heatmap")["data"][0]["z"])
    assert heat.shape == (8, 100)
    # the page ran example 7 of the registry's waves set through the bundle's standardization
    expected = states_for_sequence(bundle, load_dataset("waves").values[7]).get(0).hidden_state.numpy().T
    np.testing.assert_allclose(heat, expected, atol=1e-6)
    gates = chart(at, "rs_gates")  # a GRU has gates: reset, update, candidate, then h
    assert [a["text"] for a in gates["layout"]["annotations"]] == [
        "reset gate r",
        "update gate z",
        "candidate g / n",
        "hidden state h",
    ]
