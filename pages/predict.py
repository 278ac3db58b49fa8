"""Predict: classify images, texts, numeric sequences or audio clips with the active model."""

from __future__ import annotations

import hashlib
import html
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import streamlit as st
import torch

from playground.bundle import Bundle
from playground.core.csv_export import csv_bytes
from playground.data import DATASETS, DatasetUnavailableError, SequenceDataset
from playground.data.text_csv import csv_columns, read_text_csv
from playground.figures.viz import to_display, topk_bar
from playground.inspection.predict import (
    TextPrediction,
    predict_pixels,
    predict_sequences,
    predict_text,
    predict_texts,
    untrained_head,
)
from playground.modalities.image.decode import ORIGINAL_SIZE, ImageDecodeError, decode_image, list_samples
from playground.modalities.sequence.preprocessing import SequencePreprocessing
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import UNK_TOKEN
from ui.audio import audio_predict_section
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry
from ui.state import active_model, cached_dataset, card_facts, session_memo, set_current_image, show_error, tensor_key
from ui.uploads import upload_limit_mb
from ui.widgets import ood_hint, seq2seq_source, shorten, text_input_picker

if TYPE_CHECKING:
    import pandas as pd

MAX_TOKENS_SHOWN = 400  # token chips drawn for one text; the rest is counted
MAX_BATCH_ROWS = 10_000  # rows of a CSV classified at once
MAX_FEATURES_PLOTTED = 8
SEQUENCE_EXAMPLES = 50
TOP_K_MAX = 10  # the Top-k slider's end: predictions are ranked this far once, the slider only redraws

ensure_app_entry()
st.title("Predict")
active = active_model()
bundle = active.bundle
st.caption(f"Model: **{bundle.title}** · {bundle.card.num_classes} classes")

#: Shown wherever an untrained head's output would otherwise look like a prediction.
UNTRAINED_HEAD = (
    "This pretrained encoder has a new classification head that has not been trained: its classes and "
    "probabilities are random. Fine-tune it on the Train page (pick a text dataset and this architecture), "
    "or load a trained checkpoint; its attention is meaningful already."
)


def token_chips(tokens: list[str]) -> str:
    """The tokens as small escaped HTML chips (spaces shown as ␣, unknown tokens highlighted)."""
    chips = []
    for token in tokens[:MAX_TOKENS_SHOWN]:
        shown = html.escape(token.replace(" ", "␣"))  # user text: always escaped
        background = "#f8d7da" if token == UNK_TOKEN else "#e8eef7"
        chips.append(
            f'<span style="display:inline-block;margin:2px;padding:1px 6px;border-radius:8px;'
            f'background:{background};font-family:monospace;font-size:0.85em">{shown}</span>'
        )
    more = len(tokens) - MAX_TOKENS_SHOWN
    if more > 0:
        chips.append(f"<span> … and {more:,} more</span>")
    return "".join(chips)


def show_text_prediction(
    bundle: Bundle, prediction: TextPrediction, max_length: int, top_k: int, untrained: bool = False
) -> None:
    """The top-k, the tokens the model saw, and warnings (cut text; ``untrained``: a new head's noise)."""
    encoded = prediction.encoded
    best = prediction.prediction.top_k[0]
    if untrained:
        st.subheader(f"No prediction yet: untrained head ({best.label} {best.probability:.1%} is noise)")
        st.warning(UNTRAINED_HEAD, icon=":material/model_training:")
    else:
        st.subheader(f"{best.label} ({best.probability:.1%})")
        ood_hint(bundle, prediction.prediction.logits)
    if encoded.truncated:
        st.warning(
            f"{encoded.num_dropped:,} tokens beyond max_length ({max_length:,}) were dropped: "
            "the model saw only the start of this text.",
            icon=":material/content_cut:",
        )
    left, right = st.columns([3, 2])
    plotly_chart(topk_bar(prediction.prediction.top_k[:top_k]), key="p_text_topk", where=right)
    with left:
        unknown = sum(t == UNK_TOKEN for t in encoded.tokens)
        st.markdown(
            f"**What the model saw:** {len(encoded.tokens):,} tokens"
            + (f", {unknown:,} of them unknown to the tokenizer ({UNK_TOKEN})" if unknown else "")
        )
        st.markdown(token_chips(encoded.tokens), unsafe_allow_html=True)


def text_batch(bundle: Bundle) -> None:
    """Classify every row of one column of an uploaded CSV; bad rows are reported, not fatal."""
    upload = st.file_uploader(
        "A CSV file with a column of texts",
        type=["csv", "tsv", "txt"],
        key="p_csv",
        max_upload_size=upload_limit_mb("csv"),
    )
    if upload is None:
        st.caption("One prediction per row; empty rows are reported. Download the results as CSV.")
        return
    data = upload.getvalue()
    try:
        columns = csv_columns(data, upload.name)
    except (ValueError, TypeError) as exc:
        show_error(exc, f"read {upload.name}")
        return
    if st.session_state.get("p_csv_col") not in (*columns, None):
        del st.session_state["p_csv_col"]  # a column of an earlier file
    column = st.selectbox(
        "Text column", columns, index=columns.index("text") if "text" in columns else 0, key="p_csv_col"
    )
    key = (hashlib.sha256(data).hexdigest(), column)
    held = st.session_state.get("p_batch")  # (key, model, table, rows in the file): one result kept
    if held is None or held[0] != key or held[1] is not bundle.model:
        try:
            texts = read_text_csv(data, column, upload.name)
        except (ValueError, TypeError) as exc:
            show_error(exc, f"read {upload.name}")
            return
        with st.spinner(f"Classifying {min(len(texts), MAX_BATCH_ROWS):,} texts…"):
            table = classify_rows(bundle, texts[:MAX_BATCH_ROWS])
        st.session_state.p_batch = (key, bundle.model, table, len(texts))
    _, _, table, n_rows = st.session_state.p_batch
    if n_rows > MAX_BATCH_ROWS:
        st.warning(f"{upload.name} has {n_rows:,} rows; the first {MAX_BATCH_ROWS:,} were classified.")
    bad = table[table["problem"] != ""]
    if len(bad):
        st.warning(
            f"{len(bad):,} of {len(table):,} rows could not be classified (e.g. row {int(bad['row'].iloc[0])}: "
            f"{bad['problem'].iloc[0]}); they are in the table with the reason.",
            icon=":material/warning:",
        )
    counts = table.loc[table["problem"] == "", "predicted"].value_counts()
    st.caption("Predicted: " + ", ".join(f"{label} {n:,}" for label, n in counts.items()))
    shown = table.assign(text=table["text"].map(lambda t: shorten(t, 200)))
    st.dataframe(
        shown,
        hide_index=True,
        key="p_batch_table",
        column_config={"probability": st.column_config.NumberColumn(format="percent")},
    )
    st.download_button(
        "Download the predictions (CSV)",
        csv_bytes(table),  # the user's texts: formulas neutralised
        file_name=f"predictions-{upload.name.rsplit('.', 1)[0]}.csv",
        mime="text/csv",
        key="p_batch_download",
        icon=":material/download:",
    )


def classify_rows(bundle: Bundle, texts: list[str | None]) -> pd.DataFrame:
    """One row per input row: text, predicted label, probability, top-3, tokens dropped and any problem."""
    rows = [
        {
            "row": i,
            "text": t or "",
            "predicted": "",
            "probability": None,
            "top-3": "",
            "tokens dropped": 0,
            "problem": "",
        }
        for i, t in enumerate(texts, start=1)
    ]
    todo = []
    for row, text in zip(rows, texts, strict=True):
        if text is None:
            row["problem"] = "empty text"
        else:
            todo.append((row, text))
    if todo:
        predictions: list[TextPrediction | ValueError]
        try:
            predictions = list(predict_texts(bundle, [t for _, t in todo], top_k=3))
        except ValueError:  # one bad text fails the batch: redo them one by one to name each
            predictions = []
            for _, text in todo:
                try:
                    predictions.append(predict_text(bundle, text, top_k=3))
                except ValueError as exc:
                    predictions.append(exc)
        for (row, _), prediction in zip(todo, predictions, strict=True):
            if isinstance(prediction, ValueError):
                row["problem"] = str(prediction)
                continue
            top = prediction.prediction.top_k
            row["predicted"] = top[0].label
            row["probability"] = top[0].probability
            row["top-3"] = " · ".join(f"{t.label} {t.probability:.0%}" for t in top)
            row["tokens dropped"] = prediction.encoded.num_dropped
    import pandas as pd  # imported when used (~0.2 s): only a CSV of texts needs a table

    return pd.DataFrame(rows)


def text_page(bundle: Bundle) -> None:
    pre = bundle.preprocessing
    if not isinstance(pre, TextPreprocessing):
        return
    facts = card_facts(bundle)
    st.caption(
        f"Text model · {facts['tokenizer']} tokenizer · vocabulary {facts['vocab size']} · "
        f"max length {pre.max_length} tokens"
    )
    one_tab, batch_tab = st.tabs(["One text", "A CSV of texts"])
    with batch_tab:
        text_batch(bundle)
    with one_tab:
        k_max = min(TOP_K_MAX, bundle.card.num_classes)
        top_k = st.slider(
            "Top-k", 1, k_max, min(5, bundle.card.num_classes), key=link("p_text_top_k", bounds=(1, k_max), kind=int)
        )
        text = text_input_picker(bundle, key="p_text")
        if text is None:
            return
        try:
            # ranked once up to the slider's maximum: moving Top-k only redraws
            prediction = session_memo(
                "predict_text", text, lambda: predict_text(bundle, text, top_k=TOP_K_MAX), anchor=bundle.model
            )
        except ValueError as exc:  # EmptyTextError included: "the text is empty …"
            show_error(exc, "classify this text")
            return
        show_text_prediction(bundle, prediction, pre.max_length, top_k, untrained=untrained_head(bundle))


def sequence_page(bundle: Bundle) -> None:
    pre = bundle.preprocessing
    if not isinstance(pre, SequencePreprocessing):
        return
    st.caption(f"Numeric-sequence model · trained on T = {pre.length} steps × F = {pre.features} features")
    name = bundle.card.dataset
    spec = DATASETS.get(name) if name in DATASETS else None
    if spec is None or spec.modality != "sequence" or not spec.offline():
        st.info(f"This model's dataset ({name or 'unknown'}) cannot be loaded here, so there are no examples to try.")
        return
    try:
        data = cached_dataset(name)
    except (DatasetUnavailableError, ValueError, OSError) as exc:
        show_error(exc, f"load {name}")
        return
    if not isinstance(data, SequenceDataset) or data.num_features != pre.features:
        st.info(f"{name} as loaded here does not have the {pre.features} features this model takes.")
        return
    generator = torch.Generator().manual_seed(0)
    indices = sorted(torch.randperm(len(data), generator=generator)[:SEQUENCE_EXAMPLES].tolist())
    c1, c2 = st.columns([1, 2])
    index = c1.selectbox(
        f"Example of {name} ({len(indices)} of {len(data):,})",
        indices,
        format_func=lambda i: f"#{i} · true: {data.classes[int(data.targets[i])]}",
        key=f"p_seq_{name}",
    )
    features = c2.multiselect(
        f"Features to plot (at most {MAX_FEATURES_PLOTTED})",
        data.feature_names,
        default=data.feature_names[: min(3, data.num_features)],
        max_selections=MAX_FEATURES_PLOTTED,
        key=f"p_seq_features_{name}",
    )
    values = data.values[int(index)]  # (T, F)
    try:
        prediction = predict_sequences(bundle, values.unsqueeze(0), top_k=min(5, bundle.card.num_classes))[0]
    except (ValueError, RuntimeError) as exc:
        show_error(exc, "run the model on this sequence")
        return
    best = prediction.top_k[0]
    truth = data.classes[int(data.targets[int(index)])]
    st.subheader(f"#{index}: {best.label} ({best.probability:.1%}) · true: {truth}")
    left, right = st.columns([3, 2])
    columns = [data.feature_names.index(f) for f in features]
    fig = go.Figure([go.Scatter(y=values[:, c].tolist(), mode="lines", name=data.feature_names[c]) for c in columns])
    fig.update_layout(
        xaxis_title="time step", yaxis_title="value (raw)", height=340, margin={"t": 30, "b": 40, "l": 40, "r": 10}
    )
    plotly_chart(fig, key="p_seq_plot", where=left)
    plotly_chart(topk_bar(prediction.top_k), key="p_seq_topk", where=right)


def seq2seq_page(bundle: Bundle) -> None:
    """A string task model: type a source string, read the decoded answer."""
    result = seq2seq_source(bundle, key="p_s2s_text")
    if result is None:
        return
    st.subheader(result.output or "(empty output)")
    if not result.finished:
        st.warning("The model did not end its answer within the length limit.", icon=":material/warning:")
    st.caption(
        f"{len(result.output_tokens)} decoder steps; the Attention page shows which source character each one read."
    )
    st.page_link("pages/attention.py", label="See its cross-attention", icon=":material/hub:")


if bundle.modality == "text":
    text_page(bundle)
    st.stop()
if bundle.modality == "seq2seq":
    seq2seq_page(bundle)
    st.stop()
if bundle.modality == "sequence":
    sequence_page(bundle)
    st.stop()
if bundle.modality == "audio":
    audio_predict_section(bundle)
    st.stop()

SOURCES = ["Sample photo", "Upload", "Camera"]
source = st.radio(
    "Image source",
    SOURCES,
    horizontal=True,
    key=link("predict_source", choices=SOURCES, unlinked=SOURCES[1:]),
    help="Uploads and camera photos stay on this machine: a link to this page opens the sample photo.",
)
k_max = min(TOP_K_MAX, bundle.card.num_classes)
top_k = st.slider(
    "Top-k", 1, k_max, min(5, bundle.card.num_classes), key=link("predict_top_k", bounds=(1, k_max), kind=int)
)

images, names, errors = [], [], []
if source == "Sample photo":
    samples = list_samples()
    titles = {s.name: s.title for s in samples}
    # A digit model gets a digit first, a photo model a photo.
    wanted = "digit" if bundle.card.in_channels == 1 else "photo"
    first = next((i for i, s in enumerate(samples) if s.kind == wanted), 0)
    chosen = st.selectbox(
        "Sample",
        list(titles),
        index=first,
        format_func=lambda n: titles[n],
        key=link(f"predict_sample_{wanted}", choices=list(titles)),
    )
    sample = next(s for s in samples if s.name == chosen)
    images.append(decode_image(sample.path.read_bytes(), sample.path.name))
    names.append(sample.title)
    st.caption(f"{sample.title} — {sample.author}, {sample.licence}. Source: {sample.source}")
    if sample.kind == "digit" and bundle.card.dataset == "mnist":
        st.caption("This digit comes from the same 5,000 MNIST digits the model may have trained on.")
elif source == "Upload":
    uploads = st.file_uploader(
        "Images (PNG, JPEG, GIF, WebP, BMP, TIFF)",
        type=["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"],
        accept_multiple_files=True,
        key="predict_uploads",
        max_upload_size=upload_limit_mb("image"),
    )
    for upload in uploads or []:
        try:
            images.append(decode_image(upload.getvalue(), upload.name))
            names.append(upload.name)
        except ImageDecodeError as exc:
            errors.append(str(exc))
else:
    shot = st.camera_input("Take a photo", key="predict_camera")
    if shot is not None:
        try:
            images.append(decode_image(shot.getvalue(), "camera photo"))
            names.append("camera photo")
        except ImageDecodeError as exc:
            errors.append(str(exc))

for message in errors:
    st.error(message, icon=":material/broken_image:")

if not images:
    st.info("Pick a sample, upload images or take a photo to get a prediction.")
    st.stop()

set_current_image(images[-1], names[-1])  # the Filters page looks at the last image
try:
    pixels = torch.stack([bundle.image_preprocessing.pixels_from_pil(im) for im in images])  # (B, C, H, W)
    # ranked once up to the slider's maximum: moving Top-k only redraws, it runs no forward pass
    predictions = session_memo(
        "predict", tensor_key(pixels), lambda: predict_pixels(bundle, pixels, top_k=TOP_K_MAX), anchor=bundle.model
    )
except (ValueError, RuntimeError) as exc:
    show_error(exc, "run the model on this image")
    st.stop()

for i, (name, image, prediction) in enumerate(zip(names, images, predictions, strict=True)):
    with st.container(border=True):
        best = prediction.top_k[0]
        st.subheader(f"{name}: {best.label} ({best.probability:.1%})")
        ood_hint(bundle, prediction.logits)
        left, middle, right = st.columns([1, 1, 2])
        width, height = image.info.get(ORIGINAL_SIZE, image.size)
        original = f"original · {width}×{height}"
        if (width, height) != image.size:
            original += f" (decoded at {image.width}×{image.height})"
        try:
            left.image(image, caption=original, width="stretch")
        except ValueError:  # e.g. 20000×1: too thin for Streamlit to draw a thumbnail
            left.caption(f"{original} (too thin to draw)")
        seen = to_display(prediction.pixels)  # (H, W[, 3]) in [0, 1]
        middle.image(
            seen,
            caption=f"what the model sees · {seen.shape[1]}×{seen.shape[0]}",
            width="stretch",
            clamp=True,
        )
        plotly_chart(topk_bar(prediction.top_k[:top_k]), key=f"topk_{i}", where=right)
