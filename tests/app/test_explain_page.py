"""AppTest of the Explain page: the shipped LeNet-5 (MNIST) on a digit, the shipped bracket LSTM on text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import streamlit as st
import torch
from apptools import chart, plotly_array
from streamlit.testing.v1 import AppTest

import playground.explain
from playground.bundle import Bundle, load_bundle
from playground.data import load_dataset, split_dataset
from playground.explain import ExplainParams, display_map, explain, token_scores
from playground.explain.trust import infidelity_score, sensitivity_score
from playground.modalities.image.decode import load_sample
from playground.training.setup import bundle_for_split
from ui.state import ActiveModel

ROOT = Path(__file__).resolve().parents[2]
MakeApp = Callable[..., AppTest]
N_STEPS = 8
TEXT = "(()())"


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the page's calls of ``playground.explain.explain`` (the cache must be cold first)."""
    st.cache_data.clear()
    seen: list[str] = []
    real = playground.explain.explain

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(playground.explain, "explain", counting)
    return seen


@pytest.fixture(scope="module")
def lenet() -> Bundle:
    return load_bundle(ROOT / "assets/checkpoints/lenet5-mnist")


@pytest.fixture(scope="module")
def brackets() -> Bundle:
    return load_bundle(ROOT / "assets/checkpoints/lstm-brackets")


def _open(app: MakeApp, bundle: Bundle) -> AppTest:
    at = app()
    at.session_state["active_model"] = ActiveModel(bundle, "test")
    at.switch_page("pages/explain.py").run()
    _clean(at)
    return at


def test_digit_ig_map_and_delta_match_the_library_and_display_never_recomputes(
    app: MakeApp, lenet: Bundle, calls: list[str]
) -> None:
    at = _open(app, lenet)
    at.selectbox(key="x_input").set_value("digit_7")
    assert at.selectbox(key="x_method").value == "grad_cam"  # images open on the fast method
    at.selectbox(key="x_method").set_value("integrated_gradients").run()
    at.slider(key="x_p_n_steps").set_value(N_STEPS).run()
    _clean(at)

    pixels = lenet.image_preprocessing.pixels_from_pil(load_sample("digit_7"))
    expected = explain(lenet, pixels, "integrated_gradients", params=ExplainParams(n_steps=N_STEPS))
    delta = next(m for m in at.metric if m.label == "Convergence delta")
    assert float(delta.value) == pytest.approx(expected.convergence_delta, rel=1e-3, abs=1e-6)
    relative = [c.value for c in at.caption if c.value.startswith("Relative delta")]
    assert len(relative) == 1
    shown = float(re.search(r"= ([0-9.]+)%", relative[0]).group(1)) / 100  # type: ignore[union-attr]
    assert shown == pytest.approx(expected.relative_delta, abs=1e-4)
    assert expected.relative_delta is not None and expected.relative_delta <= 0.01  # the default tolerance
    cut = [c.value for c in at.caption if c.value.startswith("The path was cut")]
    segments = expected.details.get("path_segments", [])
    assert len(cut) == (1 if segments else 0) and (not segments or f"{len(segments)} parts" in cut[0])

    heat = chart(at, "x_map")["data"][0]
    np.testing.assert_allclose(plotly_array(heat["z"]), display_map(expected.attributions, "signed").numpy(), atol=1e-5)
    assert heat["zmid"] == 0
    overlay = chart(at, "x_overlay")["data"]
    assert [t["type"] for t in overlay] == ["image", "heatmap"] and overlay[1]["opacity"] == 0.6

    n_calls = len(calls)
    assert n_calls >= 1
    at.radio(key="x_mode").set_value("absolute").run()
    at.slider(key="x_opacity").set_value(0.3).run()
    _clean(at)
    assert len(calls) == n_calls, "a display control recomputed the explanation"
    heat = chart(at, "x_map")["data"][0]
    np.testing.assert_allclose(
        plotly_array(heat["z"]), display_map(expected.attributions, "absolute").numpy(), atol=1e-5
    )
    assert chart(at, "x_overlay")["data"][1]["opacity"] == 0.3

    # another class: a new explanation of that class
    at.radio(key="x_target_kind").set_value("another class").run()
    at.selectbox(key="x_target").set_value(1).run()
    _clean(at)
    assert len(calls) > n_calls  # a new target is a new explanation
    other = explain(lenet, pixels, "integrated_gradients", target=1, params=ExplainParams(n_steps=N_STEPS))
    delta = next(m for m in at.metric if m.label == "Convergence delta")
    assert float(delta.value) == pytest.approx(other.convergence_delta, rel=1e-3, abs=1e-6)


def test_digit_compare_grid_and_trust_checks(app: MakeApp, lenet: Bundle) -> None:
    at = _open(app, lenet)
    at.selectbox(key="x_input").set_value("digit_7")
    at.selectbox(key="x_method").set_value("integrated_gradients").run()
    at.slider(key="x_p_n_steps").set_value(N_STEPS).run()
    at.multiselect(key="x_compare").set_value(["saliency", "integrated_gradients", "grad_cam"])
    at.button(key="x_compare_run").click().run()
    _clean(at)
    grid = chart(at, "x_grid")
    titles = [a["text"] for a in grid["layout"]["annotations"]][:3]
    assert titles == ["Saliency", "Integrated Gradients", "Grad-CAM"]
    assert sum(t["type"] == "heatmap" for t in grid["data"]) == 3

    at.button(key="x_trust_run").click().run()
    _clean(at)
    curves = chart(at, "x_curves")["data"]
    assert [c["name"].split(" ")[0] for c in curves] == ["deletion", "insertion"]
    deletion = plotly_array(curves[0]["y"])
    assert deletion[0] > deletion[-1]  # deleting the whole digit loses the prediction
    rho = next(m for m in at.metric if m.label.startswith("Rank correlation"))
    assert -1 <= float(rho.value) <= 1
    assert {"x_rand_real", "x_rand_copy"} <= {c.key for c in at.get("plotly_chart")}
    # Captum's infidelity and max-sensitivity of the map shown, the same numbers as the library's
    pixels = lenet.image_preprocessing.pixels_from_pil(load_sample("digit_7"))
    shown = explain(lenet, pixels, "integrated_gradients", params=ExplainParams(n_steps=N_STEPS))
    infidelity = next(m for m in at.metric if m.label == "Infidelity")
    assert float(infidelity.value) == pytest.approx(infidelity_score(lenet, shown), rel=1e-2)
    at.button(key="x_sens_run").click().run()
    _clean(at)
    sensitivity = next(m for m in at.metric if m.label == "Max-sensitivity")
    assert float(sensitivity.value) == pytest.approx(sensitivity_score(lenet, shown), rel=1e-2)
    assert 0 < float(sensitivity.value) < 1  # a small move of the input moves the IG map a little


def test_text_model_shows_token_attributions_and_unsupported_reason(app: MakeApp, brackets: Bundle) -> None:
    at = _open(app, brackets)
    at.radio(key="x_text_source").set_value("type").run()
    at.text_area(key="x_text_text").input(TEXT).run()
    at.slider(key="x_p_n_steps").set_value(N_STEPS).run()
    _clean(at)
    ids = brackets.preprocessing.encode(TEXT).ids
    expected = explain(brackets, torch.as_tensor(ids), "integrated_gradients", params=ExplainParams(n_steps=N_STEPS))
    html_parts = [m.value for m in at.markdown if "<span" in m.value]
    assert len(html_parts) == 1
    scores = token_scores(expected.attributions, "signed")
    assert html_parts[0].count("<span") == len(TEXT)
    shown = [float(s) for s in re.findall(r'title="([+-][0-9.]+)"', html_parts[0])]
    np.testing.assert_allclose(shown, scores.numpy(), atol=1e-3)
    bars = chart(at, "x_bars")["data"][0]
    top = float(expected.attributions.abs().max())
    assert float(np.abs(plotly_array(bars["x"])).max()) == pytest.approx(top, rel=1e-4)
    assert any(m.label == "Convergence delta" for m in at.metric)

    at.selectbox(key="x_method").set_value("deeplift").run()
    _clean(at)
    reasons = [i.value for i in at.info if "DeepLift does not apply" in i.value]
    assert len(reasons) == 1 and "fused" in reasons[0]
    assert not [c for c in at.get("plotly_chart") if c.key == "x_bars"]


def test_slow_method_shows_its_map_and_text_compare_gives_reasons(app: MakeApp, brackets: Bundle) -> None:
    at = _open(app, brackets)
    at.radio(key="x_text_source").set_value("type").run()
    at.text_area(key="x_text_text").input(TEXT).run()
    at.selectbox(key="x_method").set_value("occlusion").run()
    _clean(at)
    assert at.number_input(key="x_p_window").value == 0  # 0 = the library's default
    assert not [m for m in at.metric if m.label == "Convergence delta"]  # occlusion has no delta
    ids = torch.as_tensor(brackets.preprocessing.encode(TEXT).ids)
    expected = explain(brackets, ids, "occlusion")
    bars = plotly_array(chart(at, "x_bars")["data"][0]["x"])
    assert float(np.abs(bars).max()) == pytest.approx(float(expected.attributions.abs().max()), rel=1e-4)
    at.radio(key="x_mode").set_value("positive").run()  # a cache hit replays the progress bar: no error
    _clean(at)

    at.multiselect(key="x_compare").set_value(["saliency", "deeplift"])
    at.button(key="x_compare_run").click().run()
    _clean(at)
    assert any("fused" in i.value for i in at.info)
    rows = [m.value for m in at.markdown if "<span" in m.value]
    assert len(rows) == 2  # the main map and saliency's row


def test_a_sequence_model_gets_a_clear_message(app: MakeApp) -> None:
    split = split_dataset(load_dataset("waves", n=20, length=30, features=4), 0.25, 0)
    bundle = bundle_for_split("gru", split, hparams={"hidden_size": 4, "num_layers": 1})
    at = _open(app, bundle)
    assert any(
        "shows image and text classifiers" in i.value and "python -m playground explain" in i.value for i in at.info
    )
    assert not at.get("plotly_chart")


def test_a_vit_opens_on_attention_rollout_over_the_digit(app: MakeApp) -> None:
    vit = load_bundle(ROOT / "assets/checkpoints/vit_tiny-mnist")
    at = _open(app, vit)
    at.selectbox(key="x_input").set_value("digit_7")
    at.run()
    _clean(at)
    assert at.selectbox(key="x_method").value == "attention_rollout"  # Grad-CAM needs a spatial feature map
    pixels = vit.image_preprocessing.pixels_from_pil(load_sample("digit_7"))
    expected = explain(vit, pixels, "attention_rollout")
    heat = plotly_array(chart(at, "x_map")["data"][0]["z"])
    np.testing.assert_allclose(heat, display_map(expected.attributions, "signed").numpy(), atol=1e-5)
    assert float(heat.max()) > 0  # rollout is non-negative and not all zero


def test_stop_keeps_a_slow_method_from_running_until_asked_again(app: MakeApp, lenet: Bundle, calls: list[str]) -> None:
    at = _open(app, lenet)
    at.selectbox(key="x_method").set_value("occlusion").run()
    _clean(at)
    before = len(calls)
    assert not [b for b in at.button if b.key == "x_stop"]  # the Stop button goes when the run is over
    # What a click on Stop during the run does (the page sets it, then Streamlit interrupts the run):
    at.session_state["x_stopped"] = at.session_state["x_running"]
    at.run()
    _clean(at)
    assert any("was stopped" in i.value for i in at.info) and len(calls) == before
    assert not [c for c in at.get("plotly_chart") if c.key == "x_map"]
    at.button(key="x_resume").click().run()
    _clean(at)
    assert not any("was stopped" in i.value for i in at.info)
    assert [c for c in at.get("plotly_chart") if c.key == "x_map"]
