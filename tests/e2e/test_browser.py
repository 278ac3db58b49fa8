"""End to end: the real app (``streamlit run``) in headless Chromium.

One server and one browser per module (see conftest.py); each test opens its own tab, so its own
Streamlit session. Every page is opened by its URL, checked for exceptions and error boxes, and
photographed (into ``$SCREENSHOT_DIR`` too when it is set).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from harness import (
    MAIN,
    REQUESTS,
    ROOT,
    App,
    BrowserMissingError,
    choose_option,
    chromium_path,
    open_page,
    page_problems,
    page_url,
    wait_idle,
    wait_page,
)
from playwright.sync_api import Page

from playground.data import TextDataset, split_dataset
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split
from ui.pages import PAGES

pytestmark = pytest.mark.e2e
Shoot = Callable[[Page, str], Path]
# EfficientNet-Lite0's top-5 for assets/samples/coffee.jpg: espresso 95 %, cup, consomme, chocolate sauce,
# coffee mug. Any of the cup / coffee classes is a right answer.
COFFEE_CLASSES = {"espresso", "cup", "coffee mug"}


def sidebar_nav_titles(page: Page) -> list[str]:
    # each link reads "<material icon name>\n\n<title>"
    return [t.split("\n")[-1].strip() for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def test_chromium_is_installed() -> None:
    """Without Debian's chromium the browser tests cannot run: that is a failure, never a skip."""
    path, missing = None, None
    try:
        path = chromium_path()
    except BrowserMissingError as exc:
        missing = str(exc)
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    assert path is not None and Path(path).is_file()


def test_every_page_opens_by_url_without_errors(app_server: App, page: Page, shoot: Shoot) -> None:
    # The default page last: a fresh server first opened at a page URL must still run it through app.py.
    entries = sorted(PAGES, key=lambda p: p.default)
    for entry in entries:
        open_page(page, page_url(app_server, entry.path, entry.default))
        assert page_problems(page) == [], f"{entry.path}: {page_problems(page)}"
        assert sidebar_nav_titles(page) == [p.title for p in PAGES], entry.path
        sidebar = page.locator('[data-testid="stSidebarUserContent"]').inner_text()
        assert "Active model" in sidebar and "efficientnet_lite0" in sidebar, f"{entry.path}: {sidebar!r}"
        assert page.locator(f"{MAIN} h1").count() == 1
        shoot(page, Path(entry.path).stem)


def test_sidebar_links_switch_pages(app_server: App, page: Page) -> None:
    open_page(page, page_url(app_server, "pages/home.py", default=True))
    for entry in PAGES:
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text=entry.title).click()
        # the page's link keeps the active model (and its settings) in the query string
        page.wait_for_url(re.compile(re.escape(page_url(app_server, entry.path, entry.default)) + r"(\?.*)?$"))
        wait_page(page)
        assert page_problems(page) == [], f"{entry.path}: {page_problems(page)}"


def test_predict_upload_coffee(app_server: App, page: Page, shoot: Shoot) -> None:
    open_page(page, page_url(app_server, "pages/predict.py"))
    page.locator('[data-testid="stRadio"] label').filter(has_text="Upload").click()
    file_input = page.locator("input[type=file]")
    file_input.wait_for(state="attached")
    wait_idle(page)
    file_input.set_input_files(ROOT / "assets" / "samples" / "coffee.jpg")

    heading = page.locator(f"{MAIN} h3").filter(has_text="coffee.jpg:")
    heading.wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    text = heading.inner_text()
    match = re.fullmatch(r"coffee\.jpg: (.+) \((\d+\.\d)%\)", text.strip())
    assert match, text
    assert match.group(1) in COFFEE_CLASSES, text
    assert 0 < float(match.group(2)) <= 100
    shoot(page, "predict_upload")


def test_train_one_epoch_on_digits(app_server: App, page: Page, shoot: Shoot) -> None:
    open_page(page, page_url(app_server, "pages/train.py"))
    choose_option(page, "Dataset", "digits")
    epochs = page.get_by_label("Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    wait_idle(page)
    assert page_problems(page) == []
    page.get_by_role("button", name="Start training").click()

    accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Validation accuracy")
    accuracy.wait_for(timeout=180_000)
    wait_idle(page, timeout_s=120)
    assert page_problems(page) == []
    value = accuracy.locator('[data-testid="stMetricValue"]').inner_text()
    assert re.fullmatch(r"\d{1,3}\.\d\d%", value.strip()), value
    assert (
        page.locator('[data-testid="stMetric"]')
        .filter(has_text="Epochs")
        .locator('[data-testid="stMetricValue"]')
        .inner_text()
        .strip()
        == "1"
    )
    assert page.locator(".st-key-t_final_curves .js-plotly-plot").count() == 1  # the learning curves
    assert page.locator(".st-key-t_cm .js-plotly-plot").count() == 1  # the confusion matrix
    runs = [p for p in app_server.runs_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    saved = runs[0] / "checkpoint"  # the worker process saves the run's checkpoint in its run folder
    assert (saved / "card.json").is_file(), saved
    assert page.get_by_text(f"Checkpoint saved to {saved}").count() == 1
    shoot(page, "train_result")


def test_robustness_one_input_and_a_sweep(app_server: App, page: Page, shoot: Shoot) -> None:
    # One input, on the default model and the shipped cat: original, perturbed and difference side by side.
    open_page(page, page_url(app_server, "pages/robustness.py"))
    for key in ("r_top_orig", "r_top_pert"):  # plotly draws after the page is idle
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for(timeout=90_000)
    assert page_problems(page) == []
    assert page.locator(f"{MAIN} [data-testid='stImage']").count() >= 3
    shoot(page, "robustness_one_input")

    # Make the shipped MNIST LeNet-5 the active model (Models → Saved runs), then sweep on mnist.
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Models").click()
    wait_page(page)
    page.get_by_role("tab", name="Saved runs").click()
    wait_idle(page)
    # saved runs are listed newest first: pick the shipped LeNet-5 by its folder name
    choose_option(page, "Checkpoint", re.compile(r"lenet5-mnist$"))
    page.get_by_role("button", name="Use this checkpoint").click()
    wait_idle(page)
    # the app reruns after the click: wait for the sidebar to name the new model
    page.locator('[data-testid="stSidebarUserContent"]').get_by_text("lenet5 · mnist").wait_for(timeout=90_000)

    # (the sidebar link keeps the session; opening a URL would start a new one)
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Robustness").click()
    wait_page(page)
    page.get_by_role("tab", name="Sweep & compare models").click()
    wait_idle(page)
    page.get_by_role("button", name="Run the sweep").click()
    table = page.locator(f"{MAIN} [data-testid='stDataFrame']")
    table.first.wait_for(timeout=180_000)
    wait_idle(page, timeout_s=120)
    assert page_problems(page) == []
    page.locator(".st-key-r_sweep_fig .js-plotly-plot").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Download the table (CSV)").count() == 1
    shoot(page, "robustness_sweep")


def test_audio_upload_a_spoken_digit_then_its_feature_maps_and_explanation(
    app_server: App, page: Page, shoot: Shoot, tmp_path: Path
) -> None:
    """The shipped audio CNN: a WAV of an FSDD test clip uploaded on Predict names its digit."""
    from playground.modalities.audio.samples import get_audio_sample

    sample = get_audio_sample("seven_jackson")
    clip = tmp_path / "seven.wav"
    clip.write_bytes(sample.path.read_bytes())
    open_page(page, page_url(app_server, "pages/models.py"))
    page.get_by_role("tab", name="Saved runs").click()
    wait_idle(page)
    choose_option(page, "Checkpoint", re.compile(r"audio_cnn-fsdd$"))
    page.get_by_role("button", name="Use this checkpoint").click()
    wait_idle(page)
    page.locator('[data-testid="stSidebarUserContent"]').get_by_text("audio_cnn · fsdd").wait_for(timeout=90_000)

    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Predict").click()
    wait_page(page)
    page.locator(MAIN).get_by_text("Upload", exact=True).click()
    wait_idle(page)
    page.locator(f"{MAIN} [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(clip))
    page.locator(MAIN).get_by_text(re.compile(r"seven\.wav: 7 \(\d+\.\d%\)")).wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert page.locator(f"{MAIN} audio").count() == 1
    page.locator(f"{MAIN} .js-plotly-plot").first.wait_for(timeout=60_000)
    shoot(page, "audio_predict_upload")

    for title, key in (("Filters & feature maps", "f_audio_maps"), ("Explain", "xa_heatmap")):
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
        wait_page(page)
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for(timeout=120_000)
        wait_idle(page)
        assert page_problems(page) == [], title
        shoot(page, f"audio_{key}")


def test_attention_on_the_shipped_vit_and_on_minilm(app_server: App, page: Page, shoot: Shoot) -> None:
    open_page(page, page_url(app_server, "pages/attention.py"))
    wait_idle(page)
    # The default model is a CNN: the page offers transformers; the shipped MNIST ViT on a digit sample.
    page.get_by_role("button", name="Use the MNIST ViT").click()
    wait_idle(page)
    page.locator(f"{MAIN} .js-plotly-plot").first.wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert "vit_tiny · mnist" in page.locator('[data-testid="stSidebarUserContent"]').inner_text()
    assert page.locator(MAIN).get_by_text(re.compile(r"50 tokens · 4 layers × 4 heads")).count() == 1
    page.locator(MAIN).get_by_text("Rollout", exact=True).click()
    wait_idle(page)
    shoot(page, "attention_vit_rollout")
    # the raw [CLS] attention and the rollout over the digit
    assert page.locator(MAIN).get_by_text("rollout up to layer 3").count() == 1
    assert page_problems(page) == []

    # MiniLM (offline, from its PyPI package) on a typed sentence: 6 layers x 12 heads, the formula checked.
    page.locator(MAIN).get_by_text("Look at another transformer").click()
    page.get_by_role("button", name="Use it").click()
    wait_idle(page, timeout_s=120)
    box = page.get_by_label("Text", exact=True)
    box.wait_for(timeout=120_000)
    box.fill("The cat sat on the mat.")
    box.press("Control+Enter")
    page.locator(MAIN).get_by_text(re.compile(r"9 tokens · 6 layers × 12 heads")).wait_for(timeout=120_000)
    wait_idle(page)
    assert page_problems(page) == []
    shoot(page, "attention_minilm")
    page.locator(MAIN).get_by_text("The formula, with the numbers", exact=True).click()
    page.locator(MAIN).get_by_text(re.compile(r"The recomputed row equals the model's own attention")).wait_for(
        timeout=60_000
    )
    wait_idle(page)
    assert page_problems(page) == []
    shoot(page, "attention_minilm_formula")
    page.locator(MAIN).get_by_text("Head view (token links)", exact=True).click()
    wait_idle(page)
    assert page_problems(page) == []
    shoot(page, "attention_minilm_head_view")


def test_text_model_classifies_a_typed_sentence(app_server: App, page: Page, shoot: Shoot) -> None:
    # Last in the module: it adds a run to the server's runs folder, which the tests above count.
    # A small LSTM learns a toy task here ("good" texts name a good word, "bad" ones a bad word) and
    # is saved as a run of the server; Models → Saved runs loads it (newest first), Predict uses it.
    gen = torch.Generator().manual_seed(0)
    texts = []
    for i in range(160):
        words = [["the", "film", "was", "plot"][int(j)] for j in torch.randint(0, 4, (6,), generator=gen)]
        words.insert(int(torch.randint(0, 6, (1,), generator=gen)), ["superb", "awful"][i % 2])
        texts.append(" ".join(words))
    data = TextDataset("toy_reviews", texts, torch.arange(160) % 2, ["positive", "negative"])
    split = split_dataset(data, 0.2, 0)
    bundle = bundle_for_split("lstm", split, tokenizer=TokenizerOptions(kind="word", max_length=16))
    assert train(bundle, split, TrainConfig(epochs=10, lr=1e-2, batch_size=16)).metrics["val_accuracy"] >= 0.9
    bundle.save(app_server.runs_dir / "lstm-toy_reviews")

    open_page(page, page_url(app_server, "pages/models.py"))
    page.get_by_role("tab", name="Saved runs").click()
    wait_idle(page)
    page.get_by_role("button", name="Use this checkpoint").click()
    wait_idle(page)
    # the app reruns after the click: wait for the sidebar to name the new model
    page.locator('[data-testid="stSidebarUserContent"]').get_by_text("lstm · toy_reviews").wait_for(timeout=90_000)

    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Predict").click()
    wait_page(page)
    box = page.get_by_label("Text", exact=True)
    box.fill("the plot was superb")
    box.press("Control+Enter")  # a text area sends its value on Ctrl+Enter (or on leaving it)
    heading = page.locator(f"{MAIN} h3").filter(has_text="positive (")
    heading.wait_for(timeout=60_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert re.fullmatch(r"positive \(\d+\.\d%\)", heading.inner_text().strip()), heading.inner_text()
    assert page.locator(f"{MAIN} span").filter(has_text=re.compile(r"^superb$")).count() == 1  # the token chips
    shoot(page, "predict_text")

    # The same model on the RNN-states page: the typed text is kept, the states are recomputed
    # and checked against PyTorch, and every figure draws without an error box.
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="RNN states").click()
    wait_page(page)
    check = page.locator(MAIN).get_by_text(re.compile(r"match PyTorch")).first
    check.wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert page.locator(f"{MAIN} .js-plotly-plot").count() >= 2  # heatmap, gates, ...
    shoot(page, "rnn_states")

    # The Explain page on text: Integrated Gradients per token, its completeness check, the top tokens.
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Explain").click()
    wait_page(page)
    box = page.get_by_label("Text", exact=True)
    if box.input_value() != "the plot was superb":
        box.fill("the plot was superb")
        box.press("Control+Enter")
    page.locator(".st-key-x_bars .js-plotly-plot").wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert page.locator(MAIN).get_by_text(re.compile(r"^Integrated Gradients for positive")).count() == 1
    assert page.locator(MAIN).get_by_text(re.compile(r"^Relative delta .* = \d+\.\d+%")).count() == 1
    assert page.locator(f"{MAIN} span").filter(has_text=re.compile(r"^superb$")).count() >= 1  # coloured tokens
    shoot(page, "explain_text")


def test_seq2seq_cross_attention(app_server: App, page: Page, shoot: Shoot) -> None:
    # After the text test (it counts runs): a seq2seq model trained on reverse, saved as the newest run.
    from playground.training.seq2seq import train_seq2seq

    bundle = train_seq2seq("reverse", epochs=2, num_examples=600, seed=0)
    bundle.save(app_server.runs_dir / "transformer_seq2seq-reverse")
    open_page(page, page_url(app_server, "pages/models.py"))
    page.get_by_role("tab", name="Saved runs").click()
    wait_idle(page)
    page.get_by_role("button", name="Use this checkpoint").click()
    wait_idle(page)
    # the app reruns after the click: wait for the sidebar to name the new model
    page.locator('[data-testid="stSidebarUserContent"]').get_by_text("transformer_seq2seq · reverse").wait_for(
        timeout=90_000
    )
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Attention").click()
    wait_page(page)
    page.locator(".st-key-at_cross .js-plotly-plot").wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert page.locator(f"{MAIN} .js-plotly-plot").count() == 3  # cross-attention, decoder and encoder self-attention
    shoot(page, "attention_seq2seq")


def test_a_run_keeps_training_through_a_reload_and_shows_on_the_runs_page(
    app_server: App, page: Page, shoot: Shoot
) -> None:
    from playground.runner.folder import list_runs

    before = {r.name for r in list_runs(app_server.runs_dir)}
    open_page(page, page_url(app_server, "pages/train.py"))
    choose_option(page, "Dataset", "digits")
    epochs = page.get_by_label("Epochs")
    epochs.fill("400")
    epochs.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Run folder:").wait_for(timeout=60_000)
    (run,) = [r for r in list_runs(app_server.runs_dir) if r.name not in before]

    page.reload()  # the session and its state are gone; the worker process is not
    wait_page(page)
    open_page(page, page_url(app_server, "pages/runs.py"))
    page.locator('[data-testid="stDataFrame"]').wait_for(timeout=60_000)
    assert page_problems(page) == []
    seen = len(run.epochs())
    deadline = time.monotonic() + 60
    while len(run.epochs()) <= seen:  # still training after the reload
        assert time.monotonic() < deadline and run.status()["status"] == "running", run.log_tail()
        time.sleep(0.2)
    # Select the run (the newest, the table's first row) by its row marker: its curves and actions show.
    table = page.locator('[data-testid="stDataFrame"]').first
    box = table.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the header row is 35 px, the first row below it
    page.locator(".st-key-r_curves .js-plotly-plot").wait_for(timeout=60_000)
    shoot(page, "runs_live")
    page.get_by_role("button", name="Stop").click()  # the page's Stop: SIGTERM to the worker
    deadline = time.monotonic() + 60
    while run.status()["status"] == "running":
        assert time.monotonic() < deadline, run.log_tail()
        time.sleep(0.2)
    assert run.status()["status"] == "stopped" and run.checkpoint() is not None
    sidebar = page.locator('[data-testid="stSidebarUserContent"]')
    assert sidebar.get_by_text("lenet5 · digits").count() == 0  # the session's default model, until ...
    page.get_by_role("button", name="Use as the active model").click()
    wait_idle(page)
    sidebar.get_by_text("lenet5 · digits").first.wait_for(timeout=90_000)  # ... the run's is the active one
    assert page_problems(page) == []

    # Delete asks first: the button opens a question; only its own button deletes.
    open_page(page, page_url(app_server, "pages/runs.py"))
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for(timeout=60_000)
    box = table.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
    page.get_by_role("button", name="Delete…").click()
    confirm = page.get_by_role("button", name="Delete for good")
    confirm.wait_for(timeout=30_000)
    assert run.path.is_dir()  # nothing deleted by opening the question
    confirm.click()
    deadline = time.monotonic() + 30
    while run.path.exists():
        assert time.monotonic() < deadline, "the run folder is still there"
        time.sleep(0.2)


HOSTILE = "<img src=x onerror=window.__xss=1>"  # what a user may type, or name a file or a folder
HOSTILE_TOO = "</script><b>bold</b>"


def assert_no_raw_tags(page: Page, where: str) -> None:
    """The hostile strings were shown as text: no element came out of them, no script ran."""
    assert page.evaluate("window.__xss") is None, f"{where}: a script from user text ran"
    assert page.locator('img[src="x"]').count() == 0, f"{where}: an <img> from user text is in the DOM"
    assert page.locator("b").filter(has_text="bold").count() == 0, f"{where}: a <b> from user text is in the DOM"
    bold = page.locator("svg tspan").filter(has_text=re.compile(r"^bold$"))  # plotly's own markup: <b> → a tspan
    assert bold.count() == 0, f"{where}: a chart drew user text as markup"


def test_user_text_in_file_names_folder_names_and_csv_cells_is_never_html(
    app_server: App, page: Page, tmp_path: Path
) -> None:
    import io
    import zipfile

    import pandas as pd

    png = (ROOT / "assets" / "samples" / "coffee.jpg").read_bytes()
    # a file name
    open_page(page, page_url(app_server, "pages/predict.py"))
    page.locator('[data-testid="stRadio"] label').filter(has_text="Upload").click()
    file_input = page.locator("input[type=file]")
    file_input.wait_for(state="attached")
    wait_idle(page)
    file_input.set_input_files({"name": f"{HOSTILE}{HOSTILE_TOO}.jpg", "mimeType": "image/jpeg", "buffer": png})
    page.locator(f"{MAIN} h3").filter(has_text="bold").first.wait_for(timeout=90_000)  # the name, shown as text
    wait_idle(page)
    assert_no_raw_tags(page, "Predict, an uploaded file's name")

    # class-folder names in a zip
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for label in (HOSTILE, HOSTILE_TOO.replace("/", "")):  # "/" separates folders in a zip
            for i in range(3):
                zf.writestr(f"{label}/{i}.jpg", png)
    open_page(page, page_url(app_server, "pages/train.py"))
    choose_option(page, "Dataset", "folder")
    page.locator("input[type=file]").set_input_files(
        {"name": "classes.zip", "mimeType": "application/zip", "buffer": archive.getvalue()}
    )
    page.get_by_text("class balance").first.wait_for(timeout=90_000)
    wait_idle(page)
    assert page_problems(page) == []
    assert_no_raw_tags(page, "Train, class folders of a zip")

    # cells of a CSV
    texts = [HOSTILE, HOSTILE_TOO, "a fine film", "awful"] * 5  # 20 rows: enough for a validation part
    rows = pd.DataFrame({"text": texts, "label": [HOSTILE, HOSTILE_TOO] * 10})
    page.locator('[data-testid="stRadio"] label').filter(has_text="Text").first.click()
    wait_idle(page)
    choose_option(page, "Dataset", "text_csv")
    page.locator("input[type=file]").set_input_files(
        {"name": f"{HOSTILE}.csv", "mimeType": "text/csv", "buffer": rows.to_csv(index=False).encode()}
    )
    page.get_by_text("class balance").first.wait_for(timeout=90_000)
    wait_idle(page)
    assert_no_raw_tags(page, "Train, an uploaded CSV's cells and name")

    # a typed text: a Hugging Face model id on the Attention page (offline: refused, and the message names it)
    open_page(page, page_url(app_server, "pages/attention.py"))
    box = page.get_by_label("Or any Hugging Face model id", exact=False)
    box.fill(HOSTILE + HOSTILE_TOO)
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Load this id").click()
    page.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=90_000)
    wait_idle(page)
    assert_no_raw_tags(page, "Attention, a typed model id")


def test_the_browser_only_talks_to_the_app(app_server: App) -> None:
    """Last in the module: every request of every test above went to the app's own host (offline first)."""
    assert len(REQUESTS) > 50  # the tests above did run in this browser
    foreign = sorted({url for url in REQUESTS if not url.startswith((app_server.url, "data:", "blob:"))})
    assert foreign == [], foreign
