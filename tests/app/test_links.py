"""A link restores the view: model, input and settings from the URL; stale values give a notice.

Each test opens the app the way a browser opens a link: a new session whose first run has the
link's query parameters (``AppTest.query_params``), then reads what the page shows.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.figures.pack import figure_pack
from tests.app.apptools import assert_clean, chart
from tests.app.conftest import ROOT, RUN_TIMEOUT_S
from ui.links import decode, encode


def open_link(page: str, **params: str) -> AppTest:
    """A new session opened at ``page`` with the query string ``params`` (as a pasted link is)."""
    at = AppTest.from_file(ROOT / "app.py", default_timeout=RUN_TIMEOUT_S)
    at.query_params.update(params)
    at.switch_page(page)
    return at.run()


def toasts(at: AppTest) -> list[str]:
    return [t.value for t in at.toast]


@pytest.fixture
def link_app(runs_dir: Path, navigation_mode: None) -> object:
    return open_link


def test_values_round_trip_through_the_url_and_bad_ones_are_refused() -> None:
    assert decode(encode(True), kind=bool) is True and decode(encode(3), bounds=(1, 5), kind=int) == 3
    assert decode(encode(0.05), bounds=(0.01, 0.5), kind=float) == 0.05
    assert decode(encode([1, 3]), choices=range(6), kind=list) == [1, 3]
    assert decode("features.3", choices=["features.0", "features.3"]) == "features.3"
    assert decode("None", choices=[None, 0, 1]) is None and decode("1", choices=[None, 0, 1]) == 1
    for text, spec in [
        ("9", {"bounds": (1, 5), "kind": int}),
        ("nan", {"kind": float}),
        ("x", {"kind": int}),
        ("2", {"kind": bool}),
        ("layer9", {"choices": ["layer0"]}),
        ("[7]", {"choices": range(6), "kind": list}),
        ("{", {"kind": list}),
        ("a" * 3000, {}),
    ]:
        with pytest.raises(ValueError):
            decode(text, **spec)  # type: ignore[arg-type]


def test_a_link_restores_the_layer_scale_and_order_of_the_filters_page(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app(
        "pages/features.py", f_layer="_blocks.1._expand_conv", f_scale="shared", f_order="strongest mean activation"
    )
    assert_clean(at)
    assert at.selectbox(key="f_layer").value == "_blocks.1._expand_conv"
    assert at.radio(key="f_scale").value == "shared" and at.radio(key="f_order").value == "strongest mean activation"
    assert at.query_params["model"] == "pretrained:efficientnet_lite0"
    # a change made on the page is written back to the address bar
    at.radio(key="f_scale").set_value("own").run()
    assert at.query_params["f_scale"] == "own" and at.query_params["f_layer"] == "_blocks.1._expand_conv"


def test_stale_values_in_a_link_give_a_notice_and_the_defaults(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/features.py", f_layer="no.such.layer", f_page_stem="x", model="checkpoint:deleted-run")
    assert_clean(at)
    assert at.selectbox(key="f_layer").value == "_conv_stem"  # the first conv layer, the default
    said = " ".join(toasts(at))
    assert "no.such.layer" in said and "deleted-run" in said, said
    assert at.session_state["active_model"].link == "pretrained:efficientnet_lite0"
    assert "no.such.layer" not in at.query_params.get("f_layer", "")


def test_a_link_names_a_shipped_checkpoint_and_the_input(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/predict.py", model="checkpoint:lenet5-mnist", predict_source="Sample photo", predict_top_k="3")
    assert_clean(at)
    active = at.session_state["active_model"]
    assert active.bundle.card.architecture == "lenet5" and active.link == "checkpoint:lenet5-mnist"
    assert at.slider(key="predict_top_k").value == 3
    assert len(chart(at, "topk_0")["data"][0]["y"]) == 3  # the page draws what the link asked for


def test_typed_text_travels_in_the_link_and_an_upload_does_not(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/predict.py", model="checkpoint:lstm-brackets", p_text_text="(()")
    assert_clean(at)
    assert at.text_area(key="p_text_text").value == "(()"
    at.radio(key="p_text_source").set_value("upload").run()
    assert "p_text_source" not in at.query_params  # an upload stays on this machine: the link opens typed text


def test_a_link_restores_the_train_form_over_the_datasets_defaults(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/train.py", t_modality="text", t_dataset="bbc_news", t_epochs="7", t_seed="3")
    assert_clean(at)
    state = at.session_state
    assert (state["t_dataset"], state["t_epochs"], state["t_seed"]) == ("bbc_news", 7, 3)
    assert state["t_tok_len"] == 128  # bbc_news's own max_length, as when the dataset is picked by hand
    assert at.query_params["t_epochs"] == "7" and at.query_params["t_dataset"] == "bbc_news"


def test_presentation_mode_from_the_link_scales_every_chart(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/features.py", present="1")
    assert_clean(at)
    assert at.toggle(key="present").value is True
    for figure in at.get("plotly_chart"):
        spec = json.loads(figure.proto.spec)
        assert spec["layout"]["font"]["size"] >= 18, figure.key
        for note in spec["layout"].get("annotations", []):
            assert note.get("font", {}).get("size", 18) >= 18, figure.key
    at.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params
    assert all(json.loads(f.proto.spec)["layout"]["font"]["size"] == 15 for f in at.get("plotly_chart"))


def test_the_figure_pack_holds_the_charts_the_page_drew(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/features.py")
    assert_clean(at)
    drawn = at.session_state["_figures_drawn"]
    assert list(drawn) == [f.key for f in at.get("plotly_chart")]  # every chart, in drawing order
    assert any(b.proto.label == "Figure pack (.zip)" for b in at.sidebar.get("download_button"))
    with zipfile.ZipFile(io.BytesIO(figure_pack(list(drawn.items()), page="Filters", model="m"))) as pack:
        assert sum(n.endswith(".html") for n in pack.namelist()) == len(drawn)


def test_a_link_restores_the_audio_pages_clip_and_settings(link_app) -> None:  # type: ignore[no-untyped-def]
    at = link_app("pages/predict.py", model="checkpoint:audio_cnn-fsdd", p_audio_sample="three_theo", p_audio_top_k="3")
    assert_clean(at)
    assert at.selectbox(key="p_audio_sample").value == "three_theo" and at.slider(key="p_audio_top_k").value == 3
    assert ": 3 (" in at.subheader[0].value, [s.value for s in at.subheader]  # the clip the link named, read as 3
    at = link_app("pages/robustness.py", model="checkpoint:audio_cnn-fsdd", ra_pert="white_noise", ra_sev="1.5")
    assert_clean(at)
    assert at.selectbox(key="ra_pert").value == "white_noise" and at.slider(key="ra_sev").value == 1.5
    at = link_app(
        "pages/robustness.py",
        model="checkpoint:audio_cnn-fsdd",
        ra_perts='["reverb"]',
        ra_sevs="[0, 2]",
        ra_eps="0.005",
        ra_steps="7",
    )
    assert_clean(at)
    assert at.multiselect(key="ra_perts").value == ["reverb"] and at.multiselect(key="ra_sevs").value == [0, 2]
    assert at.select_slider(key="ra_eps").value == 0.005 and at.number_input(key="ra_steps").value == 7
