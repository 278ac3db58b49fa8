"""AppTest of the Robustness page, on the shipped LeNet-5 MNIST checkpoint."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.bundle import load_bundle
from ui.state import ActiveModel

ROOT = Path(__file__).resolve().parents[2]
MakeApp = Callable[..., AppTest]


@pytest.fixture
def lenet_app(app: MakeApp) -> AppTest:
    at = app()
    at.session_state["active_model"] = ActiveModel(load_bundle(ROOT / "assets/checkpoints/lenet5-mnist"), "test")
    at.switch_page("pages/robustness.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_one_input_flip_search(lenet_app: AppTest) -> None:
    at = lenet_app
    at.selectbox(key="r_pert").set_value("rotation")
    at.slider(key="r_sev").set_value(0.0).run()
    assert not at.exception
    assert not at.warning, "severity 0 is the identity: nothing may flip"
    at.button(key="r_minflip").click().run()
    assert not at.exception, [e.value for e in at.exception]
    found = [i.value for i in at.info if "first changes at severity" in i.value] + [
        s.value for s in at.success if "No severity" in s.value
    ]
    assert len(found) == 1, [i.value for i in at.info]
    match = re.search(r"severity \*\*([0-9.]+)\*\*", found[0])
    if match:
        assert 0 < float(match.group(1)) <= 5
    # the answer stays while another control changes how the page is drawn (it used to vanish)
    at.select_slider(key="r_gain").set_value(10).run()
    again = [i.value for i in at.info if "first changes at severity" in i.value] + [
        s.value for s in at.success if "No severity" in s.value
    ]
    assert again == found
    at.number_input(key="r_seed").set_value(3).run()  # another noise draw: the answer no longer applies
    assert not [i.value for i in at.info if "first changes at severity" in i.value]


def test_the_magnifier_only_redraws(lenet_app: AppTest) -> None:
    """The magnifier changes how the difference is drawn: no perturbation, no forward pass."""
    at = lenet_app
    model = at.session_state["active_model"].bundle.model
    calls: list[int] = []
    handle = model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        at.select_slider(key="r_gain").set_value(20).run()
        assert not at.exception and calls == []
        captions = [caption for element in at.get("image") for caption in element.captions]
        assert "|difference| × 20" in captions, captions  # the difference drawn at the new gain
        at.slider(key="r_sev").set_value(1.0).run()
        assert calls == [1]  # a new severity is one pass (the original and the perturbed in one batch)
    finally:
        handle.remove()


def test_attack_flips_a_digit_within_budget(lenet_app: AppTest) -> None:
    at = lenet_app
    at.number_input(key="r_eps").set_value(76.0)
    at.button(key="r_attack").click().run()
    assert not at.exception, [e.value for e in at.exception]
    linf = next(m.value for m in at.metric if m.label == "L∞ / L2 of the change")
    assert float(linf.split("/")[0]) <= 76.0 + 1e-3
    clean = next(m.value for m in at.metric if m.label == "Clean prediction")
    adversarial = next(m.value for m in at.metric if m.label == "Adversarial prediction")
    assert clean != adversarial  # ε = 0.3 takes an undefended MNIST LeNet anywhere


def test_sweep_runs_in_the_background_and_gives_a_table(lenet_app: AppTest) -> None:
    at = lenet_app
    at.multiselect(key="r_perts").set_value(["gaussian_noise", "rotation"])
    at.multiselect(key="r_sevs").set_value([0, 5])
    at.select_slider(key="r_n").set_value(100)
    at.button(key="r_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["r_job"]
    assert job.join(120), job.status
    at.run()
    assert job.status == "done", job.error_message
    table = at.dataframe[0].value
    assert len(table) == 4  # 2 perturbations × 2 severities
    clean = table[table.severity == 0].accuracy
    assert (clean >= 0.9).all()  # the checkpoint's own validation digits
    rotated = float(table[(table.perturbation == "rotation") & (table.severity == 5)].accuracy.iloc[0])
    assert rotated < float(clean.iloc[0]) - 0.2


def test_compare_with_a_checkpoint_and_an_ensemble(lenet_app: AppTest) -> None:
    at = lenet_app
    at.multiselect(key="r_perts").set_value(["gaussian_noise"])
    at.multiselect(key="r_sevs").set_value([0, 3, 5])
    at.select_slider(key="r_n").set_value(50)
    shipped = next(o for o in at.multiselect(key="r_cmp").options if "lenet5-mnist" in o)
    at.multiselect(key="r_cmp").set_value([shipped])
    at.checkbox(key="r_ens").check()
    at.button(key="r_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["r_job"]
    assert job.join(120), job.status
    at.run()
    assert job.status == "done", job.error_message
    sweep_table, ce_table = at.dataframe[0].value, at.dataframe[1].value
    assert len(sweep_table) == 3 * 3  # 3 models (active, checkpoint, ensemble) × 3 severities
    assert list(ce_table.model)[-1] == "ensemble"
    # The checkpoint is the active model itself, and an ensemble of two copies is that model:
    # corruption error relative to the baseline is exactly 1 for both.
    assert ce_table["mCE"].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_robust_accuracy_against_epsilon_runs_in_the_background(lenet_app: AppTest) -> None:
    at = lenet_app
    at.select_slider(key="r_n").set_value(50)
    at.multiselect(key="r_adv_eps").set_value([0, 8, 76])
    at.number_input(key="r_adv_steps").set_value(10)
    at.button(key="r_adv_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["r_adv_job"]
    assert job.join(120), job.status
    at.run()
    assert job.status == "done", job.error_message
    table = next(d.value for d in at.dataframe if "epsilon_255" in d.value.columns)
    assert list(table.epsilon_255) == [0.0, 8.0, 76.0] and (table.n == 50).all()
    accuracy = list(table.accuracy)
    assert accuracy[0] >= 0.9 and accuracy[0] >= accuracy[1] >= accuracy[2] and accuracy[2] <= 0.1
    assert [c for c in at.get("plotly_chart") if c.key == "r_adv_fig"]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_a_text_model_is_perturbed_and_attacked_word_by_word(app: MakeApp) -> None:
    from tests.unit.test_text_attack import trained_reviews_lstm

    at = app("pages/robustness.py")
    at.session_state["active_model"] = ActiveModel(trained_reviews_lstm(), "test")
    at.run()
    assert_clean(at)
    at.radio(key="rt_input_source").set_value("type").run()
    at.text_area(key="rt_input_text").input("The acting was good, and the music too.").run()
    assert_clean(at)
    assert {"rt_top_orig", "rt_top_pert"} <= {c.key for c in at.get("plotly_chart")}
    at.selectbox(key="rt_pert").set_value("word_dropout")
    at.slider(key="rt_sev").set_value(5.0).run()
    assert_clean(at)
    at.segmented_control(key="rt_view").set_value("attack").run()
    assert any("Press Attack" in i.value for i in at.info)
    at.button(key="rt_attack").click().run()
    assert_clean(at)
    assert any(e.value.startswith("Flipped: positive → negative") for e in at.error), [e.value for e in at.error]
    marked = [h.proto.body for h in at.get("html") if "<mark>" in h.proto.body]
    changes = at.dataframe[0].value  # the changes, then the probabilities
    assert changes["word"].iloc[0] == "good"
    assert len(marked) == 2 and "<mark>good</mark>" in marked[0]  # the original, then the adversarial text
    assert f"<mark>{changes['became'].iloc[0]}</mark>" in marked[1]
    at.radio(key="rt_method").set_value("char").run()  # other settings: the old result is not shown as theirs
    assert any("Press Attack" in i.value for i in at.info)
