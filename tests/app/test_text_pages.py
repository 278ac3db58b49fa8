"""AppTest of the pages with text and numeric-sequence models.

A toy review task ("good" texts name a good word, "bad" ones a bad word) is learnt in a second
by an LSTM, so the right label of a typed sentence is known. The Train page trains one on the
same task from an uploaded CSV; the other tests train it once in the library (module fixture).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground.bundle import CARD_FILE, WEIGHTS_FILE, Bundle
from playground.data import DATASETS, TextDataset, load_dataset, split_dataset
from playground.inspection.predict import predict_text
from playground.modalities.text.preprocessing import TOKENIZER_FILE
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split
from ui.state import ActiveModel

MakeApp = Callable[..., AppTest]
JOB_TIMEOUT_S = 120
GOOD, BAD, FILLER = ["great", "lovely", "superb"], ["awful", "poor", "terrible"], ["the", "film", "was", "plot"]
MAX_LENGTH = 16


def toy_reviews(n: int = 160, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` texts of 7 words, one of them a good (label "positive") or a bad ("negative") word."""
    gen = torch.Generator().manual_seed(seed)
    texts, labels = [], []
    for i in range(n):
        words = [FILLER[int(j)] for j in torch.randint(0, len(FILLER), (6,), generator=gen)]
        key = (BAD if i % 2 else GOOD)[int(torch.randint(0, 3, (1,), generator=gen))]
        words.insert(int(torch.randint(0, 6, (1,), generator=gen)), key)
        texts.append(" ".join(words))
        labels.append("negative" if i % 2 else "positive")
    return texts, labels


@pytest.fixture(scope="module")
def text_bundle() -> Bundle:
    """An LSTM that has learnt the toy reviews (word tokenizer, max_length 16)."""
    texts, labels = toy_reviews()
    classes = sorted(set(labels))
    data = TextDataset("toy_reviews", texts, torch.tensor([classes.index(x) for x in labels]), classes)
    split = split_dataset(data, 0.2, 0)
    bundle = bundle_for_split("lstm", split, tokenizer=TokenizerOptions(kind="word", max_length=MAX_LENGTH))
    result = train(bundle, split, TrainConfig(epochs=10, lr=1e-2, batch_size=16))
    assert result.metrics["val_accuracy"] >= 0.9, result.metrics
    return bundle


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def with_model(app: MakeApp, bundle: Bundle, page: str) -> AppTest:
    at = app()
    at.session_state["active_model"] = ActiveModel(bundle, "test")
    at.switch_page(page).run()
    return at


def wait_for_job(at: AppTest) -> None:
    job = at.session_state["job"]
    assert job.join(JOB_TIMEOUT_S), f"training still {job.status} after {JOB_TIMEOUT_S} s"
    at.run()


# -- Train ------------------------------------------------------------------------------------------


def test_train_a_text_model_from_an_uploaded_csv(app: MakeApp, runs_dir: Path) -> None:
    at = app("pages/train.py")
    at.radio(key="t_modality").set_value("text").run()
    assert_clean(at)
    text_sets = {n for n, s in DATASETS.items() if s.modality == "text"}
    assert {o.removesuffix(" (needs a download)") for o in at.selectbox(key="t_dataset").options} == text_sets
    arch_options = at.selectbox(key="t_arch").options
    assert "lstm" in arch_options and "lenet5" not in arch_options
    assert at.selectbox(key="t_arch").value == "lstm"

    # parity's preferred settings: a character tokenizer, 20 epochs at lr 5e-3
    at.selectbox(key="t_dataset").set_value("parity").run()
    assert_clean(at)
    assert at.selectbox(key="t_tok_kind").value == "char"
    assert at.number_input(key="t_epochs").value == DATASETS.get("parity").train_defaults["epochs"]

    # the user's CSV: its own column names, then text_csv's preferred settings (word tokenizer, 128 tokens)
    at.selectbox(key="t_dataset").set_value("text_csv").run()
    texts, labels = toy_reviews(120, seed=1)
    frame = pd.DataFrame({"id": range(len(texts)), "review": texts, "sentiment": labels})
    at.file_uploader(key="t_csv").upload("reviews.csv", frame.to_csv(index=False).encode(), "text/csv").run()
    assert_clean(at)
    assert at.selectbox(key="t_tok_kind").value == "word"
    assert at.number_input(key="t_tok_len").value == DATASETS.get("text_csv").tokenizer_defaults["max_length"]
    at.selectbox(key="t_csv_text").set_value("review").run()
    at.selectbox(key="t_csv_label").set_value("sentiment").run()
    assert_clean(at)
    assert any("120 texts" in m.value and "2 classes" in m.value for m in at.markdown)

    at.number_input(key="t_epochs").set_value(10)
    at.select_slider(key="t_lr").set_value(1e-2)
    at.select_slider(key="t_bs").set_value(16)
    at.button(key="t_start").click().run()
    assert_clean(at)
    wait_for_job(at)
    assert_clean(at)

    job = at.session_state["job"]
    assert job.status == "done"
    accuracy = job.result.metrics["val_accuracy"]
    assert accuracy >= 0.9
    assert [m.value for m in at.metric if m.label == "Validation accuracy"] == [f"{accuracy:.2%}"]
    assert job.result.bundle.labels == ["negative", "positive"]

    folders = [p for p in runs_dir.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    saved = folders[0] / "checkpoint"  # the run folder's checkpoint, written by the worker process
    assert {CARD_FILE, WEIGHTS_FILE, TOKENIZER_FILE} <= {p.name for p in saved.iterdir()}
    card = json.loads((saved / CARD_FILE).read_text())
    assert card["modality"] == "text" and card["dataset"] == "text_csv" and card["architecture"] == "lstm"
    assert card["preprocessing"]["max_length"] == 128

    # misclassified validation texts: a table of texts with true / predicted labels, or none at all
    ev = job.result.evaluation
    tables = [d for d in at.dataframe if "predicted" in d.value.columns]
    if len(ev.misclassified):
        assert len(tables) == 1 and {"text", "true", "predicted"} <= set(tables[0].value.columns)
        assert len(tables[0].value) == min(16, len(ev.misclassified))
    else:
        assert any("No validation example was misclassified" in c.value for c in at.caption)

    at.button(key="t_use").click().run()
    assert_clean(at)
    assert at.session_state["active_model"].bundle is job.result.bundle
    at.switch_page("pages/predict.py").run()
    at.text_area(key="p_text_text").input("the plot was lovely").run()
    assert_clean(at)
    assert at.subheader[0].value.startswith("positive (")


def test_train_a_sequence_model_and_stop_it(app: MakeApp, runs_dir: Path) -> None:
    at = app("pages/train.py")
    at.radio(key="t_modality").set_value("sequence").run()
    assert_clean(at)
    assert at.selectbox(key="t_dataset").value == "waves"
    assert any("T = 100 steps" in m.value for m in at.markdown)
    at.number_input(key="t_lstm_hidden_size").set_value(8)
    at.number_input(key="t_epochs").set_value(50)
    at.button(key="t_start").click().run()
    assert at.session_state["job"].status in ("pending", "running")
    # stopped after its first epoch, so there is a model to keep (a stop before it, as on a loaded
    # machine where the worker starts slowly, ends the run with nothing to save)
    deadline = time.monotonic() + 120
    while not at.session_state["job"].history and time.monotonic() < deadline:
        time.sleep(0.1)
    at.button(key="t_stop").click().run()
    wait_for_job(at)
    assert_clean(at)
    job = at.session_state["job"]
    assert job.status == "stopped" and job.result.bundle.modality == "sequence"
    assert any(
        s.value.startswith("Result of the last run") and s.value.endswith("(stopped early)") for s in at.subheader
    )
    saved = [p for p in runs_dir.iterdir() if p.is_dir()]
    assert len(saved) == 1 and json.loads((saved[0] / "checkpoint" / CARD_FILE).read_text())["input_size"] == 64


# -- Predict ----------------------------------------------------------------------------------------


def test_predict_a_typed_sentence_shows_label_and_tokens(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    assert_clean(at)
    assert any("Type or paste some text" in i.value for i in at.info)  # nothing typed yet

    at.text_area(key="p_text_text").input("the plot was superb").run()
    assert_clean(at)
    expected = predict_text(text_bundle, "the plot was superb").prediction.top_k[0]
    assert expected.label == "positive"
    assert [s.value for s in at.subheader] == [f"positive ({expected.probability:.1%})"]
    chips = [m.value for m in at.markdown if "<span" in m.value]
    assert len(chips) == 1 and chips[0].count("<span") == 4 and ">superb</span>" in chips[0]
    assert not at.warning  # 4 tokens: nothing dropped

    at.text_area(key="p_text_text").input("the plot was terrible").run()
    assert at.subheader[0].value.startswith("negative (")


def test_predict_warns_about_truncation(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    long_text = "the film was great " * 6  # 24 tokens, 16 kept
    dropped = text_bundle.preprocessing.encode(long_text).num_dropped
    assert dropped == 24 - MAX_LENGTH
    at.text_area(key="p_text_text").input(long_text).run()
    assert_clean(at)
    warnings = [w.value for w in at.warning]
    assert warnings == [
        f"{dropped} tokens beyond max_length ({MAX_LENGTH}) were dropped: the model saw only the start of this text."
    ]
    chips = next(m.value for m in at.markdown if "<span" in m.value)
    assert chips.count("<span") == MAX_LENGTH


def test_predict_escapes_the_tokens(app: MakeApp) -> None:
    texts = ["<b>hi</b>", "<i>x</i> & y"]
    data = TextDataset("markup", texts * 2, torch.tensor([0, 1, 0, 1]), ["a", "b"])
    bundle = bundle_for_split("gru", split_dataset(data, 0.5, 0), tokenizer=TokenizerOptions(kind="char"))
    assert bundle.preprocessing.tokenizer.tokenize("<b>")[0] == ["<", "b", ">"]
    at = with_model(app, bundle, "pages/predict.py")
    at.text_area(key="p_text_text").input("<b>hi</b> & <script>").run()
    assert_clean(at)
    chips = next(m.value for m in at.markdown if "<span" in m.value)
    # user text is escaped, never rendered as HTML; the space shows as ␣
    assert "<b>" not in chips and "<script" not in chips
    assert ">&lt;</span>" in chips and ">&amp;</span>" in chips and ">␣</span>" in chips


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_predict_empty_text_gives_a_hint(app: MakeApp, text_bundle: Bundle, text: str) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    at.text_area(key="p_text_text").input(text).run()
    assert_clean(at)
    assert any("box is empty" in i.value for i in at.info)
    assert not at.subheader


def test_predict_control_characters_only_is_an_error_in_words(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    at.text_area(key="p_text_text").input("\x07\x1b").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "the text is empty" in at.error[0].value


def test_typed_text_survives_a_visit_to_another_page(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    at.text_area(key="p_text_text").input("a lovely film").run()
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/predict.py").run()
    assert_clean(at)
    assert at.text_area(key="p_text_text").value == "a lovely film"
    assert at.subheader[0].value.startswith("positive (")


def test_predict_a_dataset_example(app: MakeApp, text_bundle: Bundle) -> None:
    # a model whose card names an offline text dataset offers that dataset's examples
    text_bundle.card.dataset = "brackets"
    try:
        at = with_model(app, text_bundle, "pages/predict.py")
        at.radio(key="p_text_source").set_value("example").run()
        assert_clean(at)
        box = at.selectbox(key="p_text_example_brackets")
        data = load_dataset("brackets")
        index = box.value
        assert box.options[box.index].startswith(data.classes[int(data.targets[index])] + ": ")
        assert at.text[0].value == data.texts[index]
        assert at.subheader  # a prediction, whatever it is (the toy model never saw brackets)
    finally:
        text_bundle.card.dataset = None


def test_batch_prediction_of_a_csv(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    rows = ["the film was superb", "", "awful plot", "a lovely, lovely film", "   "]
    csv = pd.DataFrame({"id": range(1, 6), "comment": rows}).to_csv(index=False).encode()
    at.file_uploader(key="p_csv").upload("comments.csv", csv, "text/csv").run()
    assert_clean(at)
    at.selectbox(key="p_csv_col").set_value("comment").run()
    assert_clean(at)

    table = next(d.value for d in at.dataframe if "predicted" in d.value.columns)
    assert list(table["row"]) == [1, 2, 3, 4, 5]  # one row per input row, bad ones included
    assert list(table["predicted"]) == ["positive", "", "negative", "positive", ""]
    assert list(table["problem"]) == ["", "empty text", "", "", "empty text"]
    expected = predict_text(text_bundle, "awful plot").prediction
    assert table["probability"].iloc[2] == pytest.approx(expected.top_k[0].probability)
    assert table["top-3"].iloc[2].startswith("negative ")
    assert any("2 of 5 rows could not be classified" in w.value for w in at.warning)

    downloads = at.main.get("download_button")  # the sidebar has the figure pack's
    assert len(downloads) == 1
    assert downloads[0].proto.label == "Download the predictions (CSV)"


def test_batch_prediction_reports_a_bad_file(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/predict.py")
    at.file_uploader(key="p_csv").upload("broken.csv", b"\x00\x01\x02" * 50, "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "broken.csv" in at.error[0].value


def test_predict_a_sequence_example(app: MakeApp) -> None:
    data = load_dataset("waves")
    bundle = bundle_for_split("gru", split_dataset(data, 0.1, 0), hparams={"hidden_size": 8})
    bundle.card.dataset = "waves"
    at = with_model(app, bundle, "pages/predict.py")
    assert_clean(at)
    index = at.selectbox(key="p_seq_waves").value
    figure = json.loads(next(c for c in at.get("plotly_chart") if c.key == "p_seq_plot").proto.spec)
    assert [t["name"] for t in figure["data"]] == ["ch0", "ch1", "ch2"]
    assert figure["data"][0]["y"] == pytest.approx(data.values[index, :, 0].tolist(), abs=1e-5)
    assert at.subheader[0].value.endswith(f"true: {data.classes[int(data.targets[index])]}")


# -- Models, Features, Robustness --------------------------------------------------------------------


def test_models_page_shows_a_text_models_layers(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/models.py")
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == f"{text_bundle.num_parameters:,}"
    assert metrics["Tokenizer"] == "word"
    assert metrics["Vocabulary size"] == f"{text_bundle.preprocessing.vocab_size:,}"
    assert metrics["Max length (tokens)"] == str(MAX_LENGTH)
    table = at.dataframe[-1].value
    shapes = dict(zip(table["type"], table["output shape"], strict=False))
    hidden = text_bundle.model.rnn.hidden_size
    assert shapes["Embedding"] == f"1 × T × {text_bundle.model.embedding.embedding_dim}"
    assert shapes["LSTM"] == f"1 × T × {hidden}"
    assert shapes["Linear"] == "1 × 2"
    assert int(table["parameters"].sum()) == text_bundle.num_parameters
    assert any("T = 16 tokens" in c.value for c in at.caption)

    # building a text architecture needs data: the page says where to go instead
    at.selectbox(key="m_arch").set_value("lstm").run()
    assert_clean(at)
    assert any("Train it on the Train page" in i.value for i in at.info)


def test_upload_a_text_checkpoint_needs_its_tokenizer(app: MakeApp, text_bundle: Bundle, tmp_path: Path) -> None:
    folder = text_bundle.save(tmp_path / "toy")
    at = app("pages/models.py")
    at.file_uploader(key="m_card").upload(CARD_FILE, (folder / CARD_FILE).read_bytes(), "application/json")
    weights = (folder / WEIGHTS_FILE).read_bytes()
    at.file_uploader(key="m_weights_file").upload(WEIGHTS_FILE, weights, "application/octet-stream").run()
    at.button(key="m_upload").click().run()
    assert not at.exception
    assert len(at.error) == 1 and TOKENIZER_FILE in at.error[0].value

    tokenizer = (folder / TOKENIZER_FILE).read_bytes()
    at.file_uploader(key="m_tokenizer").upload(TOKENIZER_FILE, tokenizer, "application/json").run()
    at.button(key="m_upload").click().run()
    assert_clean(at)
    loaded = at.session_state["active_model"].bundle
    assert loaded.modality == "text"
    assert torch.allclose(
        predict_text(loaded, "superb film").prediction.probs, predict_text(text_bundle, "superb film").prediction.probs
    )


def test_the_filters_page_says_so_for_a_text_model(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/features.py")
    assert_clean(at)
    assert len(at.info) == 1 and "takes text input" in at.info[0].value


def test_the_robustness_page_perturbs_a_text_models_input(app: MakeApp, text_bundle: Bundle) -> None:
    at = with_model(app, text_bundle, "pages/robustness.py")
    assert_clean(at)
    at.text_area(key="rt_input_text").input("the film was superb").run()
    assert_clean(at)
    assert at.selectbox(key="rt_pert").value == "char_swap"
    assert {"rt_top_orig", "rt_top_pert"} <= {c.key for c in at.get("plotly_chart")}
