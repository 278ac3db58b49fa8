"""Audio in the app: every page handles the shipped audio model, Predict names a spoken digit from an
upload, the Filters page shows maps over time x frequency, and the Train page trains on FSDD."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import soundfile as sf
import torch
from streamlit.testing.v1 import AppTest

from playground.bundle import load_bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS
from playground.data import DATASETS
from playground.inspection.predict import predict_audio
from ui.pages import PAGES
from ui.state import ActiveModel

MakeApp = Callable[..., AppTest]
AUDIO_CNN = SHIPPED_CHECKPOINTS / "audio_cnn-fsdd"
JOB_TIMEOUT_S = 180
SAMPLES = Path(__file__).resolve().parents[2] / "assets/samples/audio"


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def with_audio_model(at: AppTest) -> AppTest:
    at.session_state["active_model"] = ActiveModel(load_bundle(AUDIO_CNN), "test")
    return at.run()


def fsdd_clip_wav(index: int) -> tuple[bytes, torch.Tensor, str]:
    """A clip of FSDD's official test split as WAV bytes, its waveform and its digit."""
    data = DATASETS.get("fsdd").loader()
    val = data.val_indices
    assert val is not None
    i = int(val[index])
    clip = data.clips.clip(i)
    buffer = io.BytesIO()
    sf.write(buffer, clip.numpy(), data.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue(), clip, data.classes[int(data.targets[i])]


@pytest.mark.parametrize("entry", PAGES, ids=[p.path for p in PAGES])
def test_every_page_handles_an_audio_model(app: MakeApp, entry) -> None:
    at = with_audio_model(app(entry.path))
    assert_clean(at)
    assert at.title


def test_predict_an_uploaded_clip_and_refuse_a_text_file(app: MakeApp) -> None:
    at = with_audio_model(app("pages/predict.py"))
    assert_clean(at)
    assert at.subheader, "the default sample clip gets a prediction"
    at.radio(key="p_audio_source").set_value("Upload").run()
    wav, clip, digit = fsdd_clip_wav(0)
    at.file_uploader(key="p_audio_upload").upload("digit.wav", wav, "audio/wav")
    at.run()
    assert_clean(at)
    bundle = at.session_state["active_model"].bundle
    # the bytes went through PCM_16: the page decodes the same 16-bit samples
    expected = predict_audio(bundle, (clip * 32768).round().clamp(-32768, 32767) / 32768, 8000).prediction.top_k[0]
    assert expected.label == digit
    assert [s.value for s in at.subheader] == [f"digit.wav: {expected.label} ({expected.probability:.1%})"]
    keys = {c.key for c in at.get("plotly_chart")}
    assert any(k.startswith("p_audio_features_") for k in keys) and any(k.startswith("p_audio_wave_") for k in keys)
    assert len(at.get("audio")) == 1
    at.file_uploader(key="p_audio_upload").upload("notes.wav", b"just some text, not audio\n" * 20, "audio/wav")
    at.run()
    assert not at.exception
    assert any("text file" in e.value and "MP3" in e.value for e in at.error), [e.value for e in at.error]


def test_filters_page_shows_audio_feature_maps(app: MakeApp) -> None:
    at = with_audio_model(app("pages/features.py"))
    assert_clean(at)
    keys = {c.key for c in at.get("plotly_chart")}
    assert {"f_audio_maps", "f_audio_stats"} <= keys, keys


def test_train_audio_on_a_held_out_speaker(app: MakeApp, runs_dir: Path) -> None:
    at = app("pages/train.py")
    at.radio(key="t_modality").set_value("audio").run()
    assert_clean(at)
    assert at.selectbox(key="t_dataset").value == "fsdd" and at.selectbox(key="t_arch").value == "audio_cnn"
    assert at.checkbox(key="t_aug_audio").value is True  # fsdd's own default
    at.selectbox(key="t_split_fsdd").set_value("speaker:theo").run()
    assert at.slider(key="t_val").disabled  # the dataset brings its own validation part
    assert len(at.get("audio")) >= 1  # examples to listen to
    at.number_input(key="t_epochs").set_value(1)
    at.button(key="t_start").click().run()
    assert_clean(at)
    job = at.session_state["job"]
    assert job.run.spec().dataset_options == {"split": "speaker:theo"}
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job.status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.status == "done", job.error_message
    at.run()
    assert_clean(at)
    assert len(job.split.val_indices) == 500  # every clip of theo
    accuracy = job.result.metrics["val_accuracy"]
    assert [m.value for m in at.metric if m.label == "Validation accuracy"] == [f"{accuracy:.2%}"]


@pytest.mark.parametrize("entry", PAGES, ids=[p.path for p in PAGES])
def test_every_page_handles_an_audio_crnn(app: MakeApp, entry) -> None:
    """A CRNN (an audio model of the rnn family): no page mistakes it for a text or sequence RNN."""
    from playground.bundle import create_bundle_from_preprocessing

    pre = load_bundle(AUDIO_CNN).preprocessing
    at = app(entry.path)
    at.session_state["active_model"] = ActiveModel(
        create_bundle_from_preprocessing("crnn", pre, list("0123456789")), "test"
    )
    at.run()
    assert_clean(at)


def test_train_on_your_own_clips_fine_tuning_the_digit_model(app: MakeApp, runs_dir: Path) -> None:
    """A zip of class folders (three digits from FSDD's official test recordings, named as words),
    the shipped digit model fine-tuned on it; then recorded clips make a dataset of their own."""
    data = DATASETS.get("fsdd").loader()
    assert data.val_indices is not None
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for digit, word in ((0, "zero"), (1, "one"), (7, "seven")):
            for i in [int(i) for i in data.val_indices if int(data.targets[i]) == digit]:
                wav = io.BytesIO()
                sf.write(wav, data.clips.clip(i).numpy(), data.sample_rate, format="WAV")
                zf.writestr(f"my_words/{word}/{i}.wav", wav.getvalue())
    at = app("pages/train.py")
    at.radio(key="t_modality").set_value("audio").run()
    at.selectbox(key="t_dataset").set_value("audio_folder").run()
    assert_clean(at)
    assert any("Upload a .zip" in i.value for i in at.info)
    at.file_uploader(key="t_audio_zip").upload("words.zip", archive.getvalue(), "application/zip").run()
    assert_clean(at)
    assert any("3 classes" in m.value for m in at.markdown), [m.value for m in at.markdown]
    at.checkbox(key="t_ft_audio_cnn").check().run()
    assert any("as the pretrained model hears them" in c.value for c in at.caption)
    assert at.number_input(key="t_epochs").value == 30 and at.checkbox(key="t_freeze_audio_cnn").value  # the defaults
    at.button(key="t_start").click().run()
    assert_clean(at)
    job = at.session_state["job"]
    assert job.run.spec().weights == "fsdd" and job.run.spec().dataset_files == {"zip_bytes": "clips.zip"}
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job.status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.status == "done", job.error_message
    at.run()
    assert_clean(at)
    assert job.result.bundle.labels == ["one", "seven", "zero"] and job.result.bundle.card.weights == "fsdd"
    assert job.result.metrics["val_accuracy"] >= 0.9  # a new head on what the digit model already hears

    five, nine = (SAMPLES / "five_lucas.ogg").read_bytes(), (SAMPLES / "nine_yweweler.opus").read_bytes()
    at.session_state["t_recordings"] = {"yes": [five] * 3, "no": [nine] * 2}
    at.radio(key="t_clips_src").set_value("record").run()
    assert_clean(at)
    assert any("no: fewer than 3 clips" in i.value for i in at.info)
    assert at.button(key="t_rec_no_undo") is not None
    at.session_state["t_recordings"] = {"yes": [five] * 3, "no": [nine] * 3}
    at.run()
    assert_clean(at)
    assert any("2 classes" in m.value for m in at.markdown) and not at.button(key="t_start").disabled


def audio_transformer_model() -> ActiveModel:
    from playground.bundle import create_bundle_from_preprocessing

    torch.manual_seed(0)
    pre = load_bundle(AUDIO_CNN).preprocessing
    return ActiveModel(create_bundle_from_preprocessing("audio_transformer", pre, list("0123456789")), "test")


@pytest.mark.parametrize("entry", PAGES, ids=[p.path for p in PAGES])
def test_every_page_handles_an_audio_transformer(app: MakeApp, entry) -> None:
    at = app(entry.path)
    at.session_state["active_model"] = audio_transformer_model()
    at.run()
    assert_clean(at)


def test_attention_page_shows_an_audio_transformer_over_its_spectrogram(app: MakeApp) -> None:
    at = app("pages/attention.py")
    at.session_state["active_model"] = audio_transformer_model()
    at.run()
    assert_clean(at)
    assert any("51 tokens · 4 layers × 4 heads" in c.value for c in at.caption), [c.value for c in at.caption]
    assert any("5 groups of mel bands" in c.value and "10 groups of frames" in c.value for c in at.caption)
    assert "at_model_view" in {c.key for c in at.get("plotly_chart")}
    at.radio(key="at_view").set_value("rollout").run()
    assert_clean(at)
    assert {"at_raw_overlay", "at_rollout_overlay"} <= {c.key for c in at.get("plotly_chart")}
    assert any("lowest mel bands at the bottom" in c.value for c in at.caption)
    at.radio(key="at_view").set_value("formula").run()
    assert_clean(at)
    assert len(at.success) == 1 and "formula" in {c.key.removeprefix("at_") for c in at.get("plotly_chart")}


def test_rnn_states_page_shows_the_speech_detectors_lstm_for_an_audio_model(app: MakeApp) -> None:
    at = with_audio_model(app("pages/rnn_states.py"))  # the digit CNN: not recurrent
    assert_clean(at)
    assert at.toggle(key="rs_vad_on_audio").value  # an audio model: the detector's section is on
    assert {"rs_vad_wave", "rs_vad_trace"} <= {c.key for c in at.get("plotly_chart")}
    assert any("matches the model" in s.value for s in at.success), [s.value for s in at.success]
    assert any("frames of 32 ms" in c.value for c in at.caption)
    at.selectbox(key="rs_vad_sample").set_value(at.selectbox(key="rs_vad_sample").options[-1]).run()
    assert_clean(at)


def test_rnn_states_page_recomputes_a_crnns_gru_over_a_clip(app: MakeApp) -> None:
    from playground.bundle import create_bundle_from_preprocessing

    at = app("pages/rnn_states.py")
    torch.manual_seed(0)
    crnn = create_bundle_from_preprocessing("crnn", load_bundle(AUDIO_CNN).preprocessing, list("0123456789"))
    at.session_state["active_model"] = ActiveModel(crnn, "test")
    at.run()
    assert_clean(at)
    assert {"rs_crnn_heatmap", "rs_crnn_gates"} <= {c.key for c in at.get("plotly_chart")}
    assert any("Recomputed states match PyTorch" in s.value for s in at.success)
    assert any("GRU · 64 units · 25 steps" in c.value for c in at.caption), [c.value for c in at.caption]
