"""Rough edges a first-time user hit (issue "The classroom"), each checked on the page it was found on."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.apptools import assert_clean
from tests.app.test_links import open_link


@pytest.fixture
def fresh(runs_dir: Path, navigation_mode: None) -> object:
    return open_link


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


@pytest.mark.parametrize("page", ["pages/predict.py", "pages/rnn_states.py", "pages/explain.py"])
def test_text_a_model_cannot_read_is_flagged_on_every_page(fresh, page: str) -> None:  # type: ignore[no-untyped-def]
    # A sentence typed for a news model, given to the bracket LSTM: every word is [UNK].
    at = fresh(page, model="checkpoint:lstm-brackets", **{f"{prefix(page)}_text": "The cat sat on the mat"})
    assert_clean(at)
    assert "100% of the" in warnings(at) and "unknown to" in warnings(at), warnings(at)
    readable = fresh(page, model="checkpoint:lstm-brackets", **{f"{prefix(page)}_text": "(()(()))"})
    assert "unknown to" not in warnings(readable)


def prefix(page: str) -> str:
    """The text picker's widget-key prefix on each page."""
    return {"pages/predict.py": "p_text", "pages/rnn_states.py": "rs_input", "pages/explain.py": "x_text"}[page]


def test_an_untrained_head_is_not_shown_as_a_prediction(fresh) -> None:  # type: ignore[no-untyped-def]
    at = fresh("pages/predict.py", model="pretrained:minilm", p_text_text="What a lovely day")
    assert_clean(at)
    assert any(s.value.startswith("No prediction yet: untrained head") for s in at.subheader)
    assert "has not been trained" in warnings(at)
    explained = fresh("pages/explain.py", model="pretrained:minilm", x_text_text="What a lovely day")
    assert "head is untrained" in warnings(explained)
    trained = fresh("pages/predict.py", model="checkpoint:lstm-brackets", p_text_text="(())")
    assert not any(s.value.startswith("No prediction yet") for s in trained.subheader)


def test_an_upload_box_does_not_follow_to_the_next_page_but_its_text_does(fresh) -> None:  # type: ignore[no-untyped-def]
    at = fresh("pages/predict.py", model="checkpoint:lstm-brackets", p_text_text="(())")
    at.radio(key="p_text_source").set_value("upload").run()
    at.session_state["current_text"] = "(()"  # what an uploaded .txt file gave
    at.switch_page("pages/explain.py").run()
    assert_clean(at)
    assert at.radio(key="x_text_source").value == "type" and at.text_area(key="x_text_text").value == "(()"


def test_a_cat_on_the_digit_model_gets_an_out_of_distribution_hint_and_a_digit_does_not(fresh) -> None:  # type: ignore[no-untyped-def]
    cat = fresh("pages/predict.py", model="checkpoint:lenet5-mnist", predict_sample_digit="cat")
    assert_clean(cat)
    assert "looks unlike mnist" in warnings(cat) and "energy score" in warnings(cat), warnings(cat)
    digit = fresh("pages/predict.py", model="checkpoint:lenet5-mnist", predict_sample_digit="digit_3")
    assert "looks unlike" not in warnings(digit)
