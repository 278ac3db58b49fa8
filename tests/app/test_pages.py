"""Streamlit AppTest suite: every page runs, and the main paths show real values.

The app runs in-process (``streamlit.testing.v1.AppTest``); cached resources (EfficientNet-Lite0)
are shared between tests, so only the first test pays for loading them. Training uses
scikit-learn's 8×8 digits (offline, 1,797 images) and LeNet-5 for a few seconds of CPU.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from apptools import captions, chart
from streamlit.testing.v1 import AppTest

from playground.bundle import CARD_FILE, WEIGHTS_FILE, create_bundle
from playground.inspection.features import conv_layers
from playground.inspection.predict import predict_image
from playground.modalities.image.decode import decode_image, get_sample
from playground.runner.execute import execute
from playground.runner.spec import RunSpec
from ui.pages import PAGES

MakeApp = Callable[..., AppTest]
ROOT = Path(__file__).resolve().parents[2]
IMAGENET_CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # classes 281-285
JOB_TIMEOUT_S = 120


def assert_clean(at: AppTest) -> None:
    """No exception and no error box anywhere on the page (sidebar included)."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, f"expected one {label!r} metric, got {[m.label for m in at.metric]}"
    return values[0]


def sidebar_active_model(at: AppTest) -> str:
    texts = [m.value for m in at.sidebar.markdown if m.value.startswith("**Active model**")]
    assert len(texts) == 1, [m.value for m in at.sidebar.markdown]
    return texts[0].split("\n", 1)[1].strip()


def wait_for_job(at: AppTest) -> None:
    job = at.session_state["job"]
    assert job.join(JOB_TIMEOUT_S), f"training still {job.status} after {JOB_TIMEOUT_S} s"


def job_after_the_end(at: AppTest):  # type: ignore[no-untyped-def]
    """Wait for the page's run to end and rerun the page; returns the job."""
    assert_clean(at)
    wait_for_job(at)
    at.run()
    assert_clean(at)
    return at.session_state["job"]


def train_to_the_end(at: AppTest):  # type: ignore[no-untyped-def]
    """Press Start training, wait for the run, rerun the page; returns the finished job."""
    at.button(key="t_start").click().run()
    job = job_after_the_end(at)
    assert job.status == "done"
    return job


@pytest.mark.parametrize("entry", PAGES, ids=[p.path for p in PAGES])
def test_every_page_runs(app: MakeApp, entry) -> None:
    at = app(entry.path)
    assert_clean(at)
    assert at.title, f"{entry.path} shows no title"
    # the shared sidebar is drawn on every page, with the default model
    assert sidebar_active_model(at) == at.session_state["active_model"].bundle.title
    assert any(c.value.startswith("Device: ") for c in at.sidebar.caption)
    # every figure the page draws saves a PNG at 3x its size from its own toolbar (the figure theme's config)
    for figure in at.get("plotly_chart"):
        config = json.loads(figure.proto.config)
        assert config["toImageButtonOptions"]["scale"] == 3 and config["displaylogo"] is False, figure.key


@pytest.mark.parametrize("entry", PAGES, ids=[p.path for p in PAGES])
def test_a_page_opened_first_runs_through_app(cold_app: MakeApp, entry) -> None:
    """In Streamlit's legacy pages-folder mode the page file runs alone (as a fresh server does for
    its first visitor at ``/predict``); the page must notice and rerun through app.py, sidebar and all."""
    at = cold_app(entry.path)
    assert_clean(at)
    assert at.title, f"{entry.path} shows no title"
    assert sidebar_active_model(at) == at.session_state["active_model"].bundle.title, entry.path


def test_models_build_lenet5_shows_its_layers_and_parameters(app: MakeApp) -> None:
    at = app("pages/models.py")
    assert at.selectbox(key="m_arch").value == "lenet5"
    at.button(key="m_build").click().run()
    assert_clean(at)

    expected = create_bundle("lenet5").num_parameters
    assert metric(at, "Parameters") == f"{expected:,}"
    assert at.session_state["active_model"].bundle.card.architecture == "lenet5"
    assert sidebar_active_model(at).startswith("lenet5")
    assert [t.value for t in at.toast] == [f"Active model: {sidebar_active_model(at)}"]
    table = at.dataframe[-1].value
    assert {"layer", "type", "output shape", "parameters"} <= set(table.columns)
    assert {"Conv2d", "Linear"} <= set(table["type"])
    assert table["output shape"].iloc[-1] == "1 × 10"  # (B, num_classes) logits


def test_train_digits_saves_a_checkpoint_and_becomes_active(app: MakeApp, runs_dir: Path) -> None:
    at = app("pages/train.py")
    at.selectbox(key="t_dataset").select("digits").run()
    at.selectbox(key="t_arch").select("lenet5")
    at.number_input(key="t_epochs").set_value(2)
    job = train_to_the_end(at)
    accuracy = job.result.metrics["val_accuracy"]
    assert metric(at, "Validation accuracy") == f"{accuracy:.2%}"
    assert re.fullmatch(r"\d{1,3}\.\d\d%", metric(at, "Validation accuracy"))
    assert metric(at, "Epochs") == "2"
    assert [s.value for s in at.subheader if s.value.startswith("Result")] == [
        "Result of the last run: lenet5 on digits"
    ]
    # the result says whose it is when the form moves on to another set-up
    at.selectbox(key="t_dataset").select("mnist").run()
    assert any("the form above is set up for lenet5 on mnist" in i.value for i in at.info)

    folders = [p for p in runs_dir.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    saved = folders[0] / "checkpoint"  # the run folder's checkpoint, written by the worker process
    assert (saved / CARD_FILE).is_file() and (saved / WEIGHTS_FILE).stat().st_size > 0
    card = json.loads((saved / CARD_FILE).read_text())
    assert card["architecture"] == "lenet5" and card["dataset"] == "digits"
    assert any(str(saved) in c.value for c in at.caption if c.value.startswith("Checkpoint saved to"))
    assert any("Training: **done**" in c.value for c in at.sidebar.caption)

    at.button(key="t_use").click().run()
    assert_clean(at)
    active = at.session_state["active_model"]
    assert active.bundle is job.result.bundle
    assert sidebar_active_model(at) == job.result.bundle.title
    assert [t.value for t in at.toast] == [f"Active model: {job.result.bundle.title}"]
    assert job.result.bundle.title.startswith("lenet5")


def test_train_with_two_processes_runs_data_parallel_and_matches_one(app: MakeApp, runs_dir: Path) -> None:
    at = app("pages/train.py")
    at.selectbox(key="t_dataset").select("digits").run()
    at.number_input(key="t_epochs").set_value(2)
    at.select_slider(key="t_bs").set_value(64)
    at.number_input(key="t_nproc").set_value(2).run()
    assert any("Each of the 2 processes takes 64 / 2 ≈ 32.0 examples" in c.value for c in at.caption)
    job = train_to_the_end(at)
    (folder,) = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    spec = RunSpec.from_json((folder / "spec.json").read_text())
    assert spec.nproc_per_node == 2 and spec.config["batch_size"] == 64
    one = execute(RunSpec.from_json(json.dumps({**json.loads(spec.to_json()), "nproc_per_node": 1})))
    # the same global batches; the gradients of two halves averaged (DDP) against one pass: float rounding only
    assert job.result.metrics["val_accuracy"] == pytest.approx(one.metrics["val_accuracy"], abs=0.02)
    assert metric(at, "Validation accuracy") == f"{job.result.metrics['val_accuracy']:.2%}"


def test_train_stop_button_stops_a_long_run(app: MakeApp, runs_dir: Path) -> None:
    at = app("pages/train.py")
    at.selectbox(key="t_dataset").select("digits").run()
    at.number_input(key="t_epochs").set_value(200)
    at.button(key="t_start").click().run()
    assert at.session_state["job"].status == "running"
    at.button(key="t_stop").click().run()
    job = job_after_the_end(at)
    assert job.status == "stopped"
    assert job.result is not None and job.result.stopped
    assert int(metric(at, "Epochs")) < 200
    assert any(
        s.value.startswith("Result of the last run") and s.value.endswith("(stopped early)") for s in at.subheader
    )
    assert len([p for p in runs_dir.iterdir() if p.is_dir()]) == 1  # a stopped run is saved too


def test_predict_sample_cat_then_uploads(app: MakeApp) -> None:
    at = app("pages/predict.py")
    assert_clean(at)
    bundle = at.session_state["active_model"].bundle
    cat = get_sample("cat")
    expected = predict_image(bundle, decode_image(cat.path.read_bytes(), cat.path.name)).top_k[0]
    assert expected.label in IMAGENET_CATS
    assert [s.value for s in at.subheader] == [f"{cat.title}: {expected.label} ({expected.probability:.1%})"]

    # a real PNG and a corrupt one: the first is classified, the second is an error in words
    at.radio(key="predict_source").set_value("Upload").run()
    digit = get_sample("digit_7").path.read_bytes()
    uploader = at.file_uploader(key="predict_uploads")
    uploader.upload("digit_7.png", digit, "image/png")
    uploader.upload("broken.png", bytes(range(256)) * 4, "image/png")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "broken.png" in errors[0], errors
    best = predict_image(bundle, decode_image(digit, "digit_7.png")).top_k[0]
    assert [s.value for s in at.subheader] == [f"digit_7.png: {best.label} ({best.probability:.1%})"]
    assert at.session_state["current_image"].name == "digit_7.png"  # the Filters page looks at it next


def test_features_layers_and_a_one_channel_model(app: MakeApp) -> None:
    at = app("pages/features.py")
    assert_clean(at)
    bundle = at.session_state["active_model"].bundle
    names = [name for name, _ in conv_layers(bundle.model)]
    layer = at.selectbox(key="f_layer")
    assert [o.split("  ·  ")[0] for o in layer.options] == names  # shown as "name  ·  (out, in, kH, kW)"
    assert layer.value == names[0]
    first = dict(conv_layers(bundle.model))[names[0]]
    assert first.in_channels == 3
    assert len(captions(at, "f_filters_rgb")) == min(first.out_channels, 64)  # one image per filter

    second = dict(conv_layers(bundle.model))[names[1]]
    layer.select(names[1]).run()
    assert_clean(at)
    assert len(captions(at, "f_filters_gray")) == min(second.out_channels, 64)
    assert any(str(tuple(second.weight.shape)) in c.value for c in at.caption)
    maps = captions(at, "f_maps")
    assert 0 < len(maps) <= 32 and maps[0] == "ch 0"

    # a 1-channel LeNet-5 built on the Models page: the page still works on the (RGB) cat photo
    at.switch_page("pages/models.py").run()
    at.radio(key="m_ch_lenet5").set_value(1)
    at.button(key="m_build").click().run()
    assert_clean(at)
    lenet = at.session_state["active_model"].bundle
    assert lenet.card.in_channels == 1
    at.switch_page("pages/features.py").run()
    assert_clean(at)
    lenet_names = [name for name, _ in conv_layers(lenet.model)]
    assert [o.split("  ·  ")[0] for o in at.selectbox(key="f_layer").options] == lenet_names
    conv1 = dict(conv_layers(lenet.model))[lenet_names[0]]
    assert len(captions(at, "f_filters_gray")) == conv1.out_channels
    assert len(captions(at, "f_maps")) == conv1.out_channels


def test_display_only_changes_run_no_forward_pass(app: MakeApp) -> None:
    """Top-k on Predict and the channel order on Filters only redraw: the model is not run again."""
    at = app("pages/predict.py")
    model = at.session_state["active_model"].bundle.model
    calls: list[int] = []
    handle = model.register_forward_pre_hook(lambda *_: calls.append(1))  # a pass begun (a feature map stops early)
    try:
        at.slider(key="predict_top_k").set_value(3).run()
        assert_clean(at)
        assert calls == [] and len(chart(at, "topk_0")["data"][0]["y"]) == 3
        at.slider(key="predict_top_k").set_value(7).run()
        assert calls == [] and len(chart(at, "topk_0")["data"][0]["y"]) == 7
        at.selectbox(key="predict_sample_photo").set_value("coffee").run()
        assert calls == [1]  # a new input is run once
        at.switch_page("pages/features.py").run()
        calls.clear()
        at.radio(key="f_order").set_value("strongest mean activation").run()
        assert_clean(at)
        assert calls == []
        maps = chart(at, "f_maps")["data"]
        assert maps[0]["type"] == "image" and maps[0]["source"].startswith(
            "data:image/png;base64,"
        )  # each map its own scale
        assert maps[1]["marker"]["colorbar"]["title"]["text"] == "activation"  # its colour bar
        at.radio(key="f_scale").set_value("shared").run()
        assert_clean(at)
        maps = chart(at, "f_maps")["data"][0]
        assert calls == [] and maps["zmax"] > maps["zmin"] and maps["zmax"] != 255  # one scale: the activations' own
        at.selectbox(key="f_layer").select_index(1).run()
        assert calls == [1]  # another layer: its maps are computed once
    finally:
        handle.remove()


FIRST_PAINT_LAZY = ("pandas", "sklearn", "scipy.signal", "torchvision", "torch._dynamo", "transformers", "captum")


def test_the_home_page_and_predict_import_no_library_loaded_where_used() -> None:
    """A cold server's first paint imports none of the libraries that are imported where used.

    pandas alone, pulled in at start-up by the sidebar's string-task status, made Predict's first
    paint 0.45 s slower (3.14 s against 2.69 s, 1.52x the hello-world page; bench/README.md).
    A fresh interpreter: this test process has imported them all.
    """
    script = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=120)\n"
        "at.run()\n"
        "assert not at.exception and [t.value for t in at.title] == ['Deep Learning Playground'], at.exception\n"
        "at.switch_page('pages/predict.py').run()\n"
        "assert not at.exception and [t.value for t in at.title] == ['Predict'], at.exception\n"
        f"print(sorted(m for m in {FIRST_PAINT_LAZY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_predicts_sample_survives_a_visit_to_another_page(app: MakeApp) -> None:
    at = app("pages/predict.py")
    at.selectbox(key="predict_sample_photo").set_value("coffee").run()
    title = get_sample("coffee").title
    assert at.subheader[0].value.startswith(f"{title}: ")
    at.switch_page("pages/features.py").run()
    at.switch_page("pages/predict.py").run()
    assert_clean(at)
    assert at.selectbox(key="predict_sample_photo").value == "coffee"
    assert at.subheader[0].value.startswith(f"{title}: ")  # not back on the default cat


def test_train_form_survives_a_visit_to_another_page(app: MakeApp) -> None:
    at = app("pages/train.py")
    at.selectbox(key="t_dataset").set_value("digits")
    at.number_input(key="t_epochs").set_value(40)
    at.selectbox(key="t_opt").set_value("sgd").run()
    at.switch_page("pages/predict.py").run()
    at.switch_page("pages/train.py").run()
    assert_clean(at)
    assert at.selectbox(key="t_dataset").value == "digits"
    assert at.number_input(key="t_epochs").value == 40
    assert at.selectbox(key="t_opt").value == "sgd"


def test_train_page_takes_an_architectures_own_defaults(app: Callable[..., AppTest]) -> None:
    """vit_tiny brings a longer, augmented AdamW schedule; the dataset's own values come back for lenet5."""
    at = app("pages/train.py")
    assert not at.exception
    at.selectbox(key="t_arch").select("vit_tiny").run()
    assert not at.exception
    assert at.number_input(key="t_epochs").value == 45
    assert at.selectbox(key="t_opt").value == "adamw" and at.selectbox(key="t_sched").value == "cosine"
    assert at.checkbox(key="t_crop").value is True and at.slider(key="t_rot").value == 10
    at.selectbox(key="t_arch").select("lenet5").run()
    assert at.number_input(key="t_epochs").value != 45 and at.checkbox(key="t_crop").value is False


def test_seq2seq_section_trains_in_a_worker_process_and_offers_the_model(app: MakeApp, runs_dir: Path) -> None:
    """The String tasks section starts a run folder like every other run (no thread in the server)."""
    import time

    from playground.runner.folder import RunFolder

    at = app("pages/train.py")
    at.radio(key="t_modality").set_value("seq2seq").run()
    at.selectbox(key="s2s_task").select("copy").run()
    at.number_input(key="s2s_epochs_copy").set_value(1)
    at.number_input(key="s2s_n_copy").set_value(200)
    at.button(key="s2s_start").click().run()
    assert_clean(at)
    run = RunFolder(Path(at.session_state["s2s_run"]))
    assert run.path.parent == runs_dir and run.spec().config["num_examples"] == 200
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while run.status().get("status") in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run.status().get("status") == "done", run.log_tail()
    at.run()
    assert_clean(at)
    accuracy = run.status()["metrics"]["val_token_accuracy"]
    assert any(f"validation token accuracy {accuracy:.3f}" in s.value for s in at.success)
    at.button(key="s2s_use").click().run()
    assert at.session_state["active_model"].bundle.card.architecture == "transformer_seq2seq"
