"""AppTest of the Robustness page on the shipped audio model (FSDD digits): one clip under a
corruption, with both clips as WAV players, and a background sweep over FSDD's validation clips."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from playground.bundle import load_bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS
from ui.state import ActiveModel

MakeApp = Callable[..., AppTest]
AUDIO_CNN = SHIPPED_CHECKPOINTS / "audio_cnn-fsdd"
JOB_TIMEOUT_S = 120


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def audio_app(app: MakeApp) -> AppTest:
    at = app()
    at.session_state["active_model"] = ActiveModel(load_bundle(AUDIO_CNN), "test")
    at.switch_page("pages/robustness.py").run()
    assert_clean(at)
    return at


def test_one_clip_under_white_noise(audio_app: AppTest) -> None:
    at = audio_app
    assert [t.label for t in at.tabs] == ["One clip", "Sweep over the dataset", "Adversarial"]
    at.selectbox(key="ra_pert").set_value("white_noise")
    at.slider(key="ra_sev").set_value(5.0).run()
    assert_clean(at)
    assert any("Severity 5 → 0 (" in c.value for c in at.caption), "the level of severity 5: SNR 0 dB"
    lines = [m.value for m in at.markdown if "original: **" in m.value]
    assert len(lines) == 1 and "perturbed: **" in lines[0]
    # The two players of tab 1 (the attack tab shows none before an attack is run); WAV bytes, not arrays.
    players = at.get("audio")
    assert len(players) == 2


def test_sweep_over_fsdd(audio_app: AppTest) -> None:
    at = audio_app
    at.slider(key="ra_n").set_value(50)
    at.multiselect(key="ra_perts").set_value(["white_noise"])
    at.multiselect(key="ra_sevs").set_value([0, 3, 5])
    at.button(key="ra_run").click().run()
    assert_clean(at)
    job = at.session_state["ra_job"]
    assert job.join(JOB_TIMEOUT_S), job.status
    at.run()
    assert job.status == "done", job.error_message
    assert_clean(at)
    result = job.result
    keys = {c.key for c in at.get("plotly_chart")}
    assert {"ra_sweep_fig", "ra_snr_fig"} <= keys
    shown = next(m for m in at.metric if m.label.startswith("Clean accuracy"))
    assert shown.value == f"{result.clean_accuracy:.1%}" and "50 validation clips" in shown.label
    by_severity = {p.severity: p.accuracy for p in result.points}
    assert by_severity[0.0] == result.clean_accuracy
    assert result.clean_accuracy >= 0.8  # the checkpoint's own validation digits
    assert by_severity[5.0] < result.clean_accuracy  # 0 dB SNR hurts


def test_pgd_attack_on_the_clip(audio_app: AppTest) -> None:
    at = audio_app
    at.selectbox(key="ra_method").set_value("pgd")
    at.select_slider(key="ra_eps").set_value(2e-2)
    at.button(key="ra_attack").click().run()
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Perturbation below the clip (SNR)"].endswith(" dB")
    assert metrics["Clean prediction"] != metrics["Adversarial prediction"]  # 2 % of full scale moves a small CNN
    assert len(at.get("audio")) == 4  # tab 1's two players and the clean / adversarial pair


def test_robust_accuracy_against_epsilon_runs_in_the_background(audio_app: AppTest) -> None:
    at = audio_app
    at.select_slider(key="ra_rob_n").set_value(50)
    at.multiselect(key="ra_rob_eps").set_value([1e-3, 5e-3])
    at.button(key="ra_rob_run").click().run()
    assert_clean(at)
    job = at.session_state["ra_robust_job"]
    assert job.join(JOB_TIMEOUT_S), job.status
    at.run()
    assert job.status == "done", job.error_message
    assert_clean(at)
    assert [p.epsilon for p in job.result] == [0.0, 1e-3, 5e-3]  # ε = 0 added: the clean accuracy
    assert job.result[0].accuracy >= 0.9 and job.result[2].accuracy < job.result[0].accuracy
    assert "ra_rob_fig" in {c.key for c in at.get("plotly_chart")}
    table = at.dataframe[-1].value
    assert list(table["epsilon"]) == [0.0, 1e-3, 5e-3] and table["median_snr_db"].iloc[2] > 20
