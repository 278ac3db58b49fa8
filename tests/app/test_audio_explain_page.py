"""The Explain page for an audio model: the time-frequency map with its curve, two players (the most
attributed cells and everything else), another method, another kept share."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import soundfile as sf
from apptools import assert_clean, chart, plotly_array
from streamlit.testing.v1 import AppTest

from playground.bundle import load_bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS
from playground.data import DATASETS
from ui.state import ActiveModel

MakeApp = Callable[..., AppTest]
AUDIO_CNN = SHIPPED_CHECKPOINTS / "audio_cnn-fsdd"


def with_audio_model(at: AppTest) -> AppTest:
    at.session_state["active_model"] = ActiveModel(load_bundle(AUDIO_CNN), "test")
    return at.run()


def fsdd_test_clip() -> tuple[bytes, str]:
    """The first clip of FSDD's official test split as 16-bit WAV bytes, and its digit."""
    data = DATASETS.get("fsdd").loader()
    assert data.val_indices is not None
    i = int(data.val_indices[0])
    buffer = io.BytesIO()
    sf.write(buffer, data.clips.clip(i).numpy(), data.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), data.classes[int(data.targets[i])]


def test_explain_page_maps_and_plays_an_audio_explanation(app: MakeApp) -> None:
    at = with_audio_model(app("pages/explain.py"))
    assert_clean(at)
    at.radio(key="x_audio_source").set_value("Upload").run()
    wav, digit = fsdd_test_clip()
    at.file_uploader(key="x_audio_upload").upload("digit.wav", wav, "audio/wav")
    at.run()
    assert_clean(at)
    assert at.selectbox(key="xa_method").value == "integrated_gradients"
    assert at.subheader[0].value.startswith(f"digit.wav: {digit} (")
    figure = chart(at, "xa_heatmap")
    heatmap = next(t for t in figure["data"] if t["type"] == "heatmap")
    assert plotly_array(heatmap["z"]).reshape(40, 101).shape == (40, 101) and heatmap["zmid"] == 0
    assert any(t["type"] == "bar" for t in figure["data"])  # the curve under the map
    assert len(at.get("audio")) == 3  # the window, the most attributed cells, everything else
    assert any(m.label == "Convergence delta" for m in at.metric)

    at.slider(key="xa_keep").set_value(50).run()
    assert_clean(at)
    assert len(at.get("audio")) == 3

    at.selectbox(key="xa_method").set_value("occlusion").run()
    assert_clean(at)
    figure = chart(at, "xa_heatmap")
    z = plotly_array(next(t for t in figure["data"] if t["type"] == "heatmap")["z"])
    assert np.isfinite(z).all() and np.abs(z).max() > 0


def test_explain_page_runs_on_the_default_sample_clip(app: MakeApp) -> None:
    at = with_audio_model(app("pages/explain.py"))
    assert_clean(at)
    assert at.radio(key="x_audio_source").value == "Sample clip"
    chart(at, "xa_heatmap")
    assert len(at.get("audio")) == 3
