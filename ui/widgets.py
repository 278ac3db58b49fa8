"""Reusable widget groups for the pages (thin: widgets in, plain values out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
import torch
from PIL import Image

from playground.bundle import Bundle
from playground.data import DATASETS, DatasetUnavailableError, TextDataset
from playground.modalities.image.decode import ImageDecodeError, decode_image, list_samples, load_sample
from playground.modalities.text.clean import decode_text_file
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.models import ModelSpec
from playground.training.ood import check_input

if TYPE_CHECKING:
    from playground.training.seq2seq import Seq2SeqResult

from ui.links import link
from ui.state import (
    cached_dataset,
    current_image,
    current_text,
    set_current_image,
    set_current_text,
    show_error,
)
from ui.uploads import upload_limit_mb

#: How many examples of the model's dataset the text picker offers.
TEXT_EXAMPLES = 50
TEXT_SOURCES = {"type": "Type or paste", "upload": "Upload a .txt file", "example": "An example from the dataset"}


def hparam_inputs(spec: ModelSpec, key: str, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """One widget per hyper-parameter of ``spec``, typed by its default value.

    ``defaults`` (e.g. a dataset's preferred values, ``model_hparams_for``) replace the entry's own;
    a widget whose default differs gets its own key, so the preferred value shows up.
    """
    values: dict[str, Any] = {}
    if not spec.defaults:
        return values
    chosen = {**spec.defaults, **(defaults or {})}
    cols = st.columns(min(4, len(spec.defaults)))
    for i, name in enumerate(spec.defaults):
        default = chosen[name]
        col = cols[i % len(cols)]
        widget_key = f"{key}_{spec.name}_{name}" + ("" if default == spec.defaults[name] else f"_{default}")
        if name in spec.choices:
            options = list(spec.choices[name])
            values[name] = col.selectbox(name, options, index=options.index(default), key=widget_key)
        elif isinstance(default, bool):
            values[name] = col.checkbox(name, value=default, key=widget_key)
        elif isinstance(default, int):
            values[name] = int(
                col.number_input(name, value=default, min_value=1, max_value=max(256, default), step=1, key=widget_key)
            )
        elif isinstance(default, float):
            values[name] = float(
                col.number_input(
                    name, value=default, min_value=0.0, max_value=max(16.0, default), format="%g", key=widget_key
                )
            )
        else:
            values[name] = col.text_input(name, value=str(default), key=widget_key)
    return values


def input_image_picker(bundle: Bundle, key: str) -> tuple[Image.Image, str]:
    """Pick an input image: the current one (shared with Predict), a shipped sample, or an upload.

    Returns:
        ``(image, name)``; a newly picked image also becomes the current image of every page.
    """
    current = current_image()
    samples = list_samples()
    wanted = "digit" if bundle.card.in_channels == 1 else "photo"
    options = ["current", *[s.name for s in samples], "upload"]
    titles = {"current": f"current image: {current.name}", "upload": "upload an image…"}
    titles.update({s.name: f"sample: {s.title}" for s in samples})
    default = 0
    if current.image.mode == ("RGB" if wanted == "digit" else "L"):  # the current image does not fit the model
        default = next((i for i, n in enumerate(options) if n in {s.name for s in samples if s.kind == wanted}), 0)
    choice = st.selectbox(
        "Input image",
        options,
        index=default,
        format_func=lambda n: titles[n],
        key=link(key, choices=options, unlinked=("current", "upload")),
        help="An uploaded image stays on this machine: a link to this page opens a sample.",
    )
    if choice == "current":
        return current.image, current.name
    if choice == "upload":
        upload = st.file_uploader(
            "Image",
            type=["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"],
            key=f"{key}_up",
            max_upload_size=upload_limit_mb("image"),
        )
        if upload is None:
            st.info("Upload an image, or pick a sample.")
            st.stop()
        try:
            image = decode_image(upload.getvalue(), upload.name)
        except ImageDecodeError as exc:
            st.error(str(exc), icon=":material/broken_image:")
            st.stop()
        set_current_image(image, upload.name)
        return image, upload.name
    sample = next(s for s in samples if s.name == choice)
    return load_sample(sample.name), sample.title


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def dataset_text_examples(name: str | None) -> tuple[TextDataset, list[int]] | None:
    """A text dataset and up to :data:`TEXT_EXAMPLES` of its indices (fixed seed), or ``None``.

    ``None`` when ``name`` is not a registered text dataset that loads offline with its default
    options (the user's own CSV is not kept; online-only sets would download).
    """
    if name is None or name not in DATASETS:
        return None
    spec = DATASETS.get(name)
    # num_classes None: the user's own data (a CSV upload), which cannot be loaded again from here
    if spec.modality != "text" or spec.num_classes is None or not spec.offline():
        return None
    try:
        data = cached_dataset(name)
    except (DatasetUnavailableError, ValueError, TypeError, OSError):
        return None  # the data went missing since: the picker simply offers no examples
    if not isinstance(data, TextDataset):
        return None
    rng = np.random.default_rng(0)
    picked = rng.choice(len(data), size=min(TEXT_EXAMPLES, len(data)), replace=False)
    return data, sorted(int(i) for i in picked)


def _restore(widget_key: str, value: object) -> None:
    """Give a widget its value from shared session state when it has none (first run on a page).

    Streamlit forgets a widget's value when its page is not shown; the value is kept in a shared
    key instead and handed back here before the widget is drawn (no ``value=`` on the widget then).
    """
    if widget_key not in st.session_state:
        st.session_state[widget_key] = value


#: Above this share of unknown tokens the text pickers warn that the model cannot read the text.
UNKNOWN_WARNING = 0.5


def text_input_picker(bundle: Bundle, key: str) -> str | None:
    """Pick an input text (:func:`_pick_text`) and warn when the model cannot read most of it.

    Returns:
        The text, or ``None`` when there is none yet.
    """
    text = _pick_text(bundle, key)
    pre = bundle.preprocessing
    if text is not None and isinstance(pre, TextPreprocessing):
        try:
            encoded = pre.encode(text)
        except ValueError:  # e.g. only control characters: the page says why when it uses the text
            return text
        share = pre.unknown_fraction(encoded)
        if share > UNKNOWN_WARNING:
            st.warning(
                f"{share:.0%} of the {len(encoded.tokens):,} tokens are unknown to {bundle.title}'s tokenizer: the "
                "text is not in the language or alphabet the model learned (its training data: "
                f"{bundle.card.dataset or 'unknown'}), so what it predicts or attributes here means little.",
                icon=":material/translate:",
            )
    return text


def _pick_text(bundle: Bundle, key: str) -> str | None:
    """Pick an input text: typed, a ``.txt`` upload, or an example from the model's dataset.

    The typed text is kept in session state (:func:`ui.state.current_text`), so it survives moving
    between pages and every page's text box starts from the last text given anywhere. Upload
    errors are shown with ``st.error``, never raised.

    Args:
        bundle: the model the text is for (its ``card.dataset`` gives the examples).
        key: a widget-key prefix unique on the page.

    Returns:
        The text as given (the model's preprocessing cleans it), or ``None`` when there is none
        yet (a hint or the error is shown).
    """
    examples = dataset_text_examples(bundle.card.dataset)
    options = ["type", "upload"] + (["example"] if examples else [])
    titles = dict(TEXT_SOURCES)
    if examples:
        titles["example"] = f"An example from {examples[0].name}"
    source_key = link(f"{key}_source", choices=options, unlinked=("upload",))
    if st.session_state.get(source_key) not in options:
        # Typed text and dataset examples follow the person to the next page; an upload box does not
        # (the text it gave does, as the current text): the next page opens with that text typed in.
        carried = st.session_state.get("current_text_source", "type")
        st.session_state[source_key] = carried if carried in options and carried != "upload" else "type"
    source = st.radio("Text source", options, format_func=lambda o: titles[o], horizontal=True, key=source_key)
    st.session_state.current_text_source = source

    if source == "type":
        text_key = link(f"{key}_text")  # a link carries typed text up to ui.links.MAX_TEXT_CHARS
        _restore(text_key, current_text())
        text = st.text_area(
            "Text",
            key=text_key,
            height=120,
            placeholder="Type or paste a sentence, a review, a news story…",
        )
        if not text.strip():
            st.info("Type or paste some text to get a prediction (the box is empty).", icon=":material/edit:")
            return None
        set_current_text(text)
        return text

    if source == "upload":
        upload = st.file_uploader(
            "A plain-text file (.txt, UTF-8 or Windows-1252)",
            type=["txt"],
            key=f"{key}_upload",
            max_upload_size=upload_limit_mb("text"),
        )
        if upload is None:
            st.info("Upload a .txt file, or type some text.")
            return None
        try:
            text = decode_text_file(upload.getvalue(), upload.name)
        except ValueError as exc:
            st.error(str(exc), icon=":material/description:")
            return None
        if not text.strip():
            st.error(
                f"{upload.name} holds only whitespace: there is no text to classify.", icon=":material/description:"
            )
            return None
        set_current_text(text)
        return text

    if examples is None:  # not reached: "example" is offered only when there are examples
        return None
    data, indices = examples
    index = st.selectbox(
        f"Example ({len(indices)} of {len(data):,}, true label first)",
        indices,
        format_func=lambda i: f"{data.classes[int(data.targets[i])]}: {shorten(data.texts[i])}",
        key=link(f"{key}_example_{data.name}", choices=indices, kind=int),
    )
    text = data.texts[int(index)]
    st.text(shorten(text, 1000))  # st.text shows it as plain text (never as HTML or Markdown)
    set_current_text(text)
    return text


def seq2seq_source(bundle: Bundle, key: str) -> Seq2SeqResult | None:
    """The source-string box of a seq2seq model and its translation (the Predict and Attention pages).

    Starts from a fresh example of the model's task; an empty box or a string the model cannot
    read shows a message and gives ``None``.
    """
    from playground.modalities.seq2seq.tasks import TASKS, make_examples
    from playground.training.seq2seq import translate  # imported on use, as the pages did

    task = bundle.card.dataset if bundle.card.dataset in TASKS else "reverse"
    example = make_examples(task, 1, seed=11)[0][0]
    text = st.text_input(f"Source string ({task})", value=example, key=key, max_chars=64)
    if not text.strip():
        st.info("Type a source string.", icon=":material/edit:")
        return None
    try:
        return translate(bundle, text)
    except ValueError as exc:
        show_error(exc, "run the model")
        return None


def background_job_progress(job_key: str, *, stop_label: str, stop_key: str, what: str = "sweep") -> None:
    """The progress bar (with ETA) and a stop button of the ``BackgroundJob`` in ``st.session_state[job_key]``.

    Polls once a second, only while the job runs (an idle page must not rerun every second); when
    the job ends while the page is open, the whole page reruns to draw its results. A failed job's
    error is shown under it ("The ``what`` failed: …").
    """
    job = st.session_state.get(job_key)
    running = job is not None and job.status == "running"

    @st.fragment(run_every=1.0 if running else None)
    def progress() -> None:
        job = st.session_state.get(job_key)
        if job is None:
            return
        if job.status != "running":
            if running:  # it ended since the page was drawn: redraw the page with the results
                st.rerun()
            return
        done, total, message = job.progress
        eta = job.eta_s()
        cols = st.columns([4, 1])
        cols[0].progress(
            done / total if total else 0.0,
            text=f"{message or 'starting…'}" + (f" · ETA {eta:,.0f} s" if eta is not None else ""),
        )
        if cols[1].button(stop_label, key=stop_key, icon=":material/stop:"):
            job.stop()

    progress()
    job = st.session_state.get(job_key)
    if job is not None and job.status == "failed":
        st.error(f"The {what} failed: {job.error_message}")


def completeness_tolerance_input(col: Any, key: str, default: float | None, max_steps: int) -> float | None:
    """Integrated Gradients' completeness tolerance as a percentage input; ``None`` when 0 (off)."""
    percent = col.number_input(
        "Completeness tolerance (%, 0 = off)",
        0.0,
        50.0,
        100 * (default or 0),
        0.5,
        key=key,
        help="When the relative convergence delta |δ| / |F(x) − F(baseline)| is above this, "
        f"Integrated Gradients integrates again with more steps (at most {max_steps:,}).",
    )
    return percent / 100 or None


def ood_hint(bundle: Bundle, logits: torch.Tensor) -> None:
    """Warn when an input's energy score is above most of the model's validation examples'
    (``playground.training.ood``): e.g. a photo given to a digit model, which still names a digit."""
    check = check_input(bundle.card.metrics, logits)
    if check is None or not check.unusual:
        return
    data = bundle.card.dataset or "its training data"
    st.warning(
        f"This input looks unlike {data}: its energy score {check.energy:.2f} is higher than "
        f"{check.share_below:.0%} of the model's validation examples' (≥ {check.reference:.2f}). "
        f"{bundle.title} names one of its {bundle.card.num_classes} classes for anything it is given, so this "
        "answer may mean little. (Energy score, Liu et al. 2020; a hint, not a guarantee.)",
        icon=":material/help:",
    )


TARGET_KINDS = ["the predicted class", "another class"]


def target_class_picker(col: Any, labels: list[str], key: str) -> int | None:
    """ "Explain the predicted class / another class" and the class: ``None`` for the prediction.

    Args:
        col: the column (or ``st``) to draw in.
        labels: the model's class names.
        key: the page's key prefix: the widgets are ``<key>_target_kind`` and ``<key>_target`` (linked).
    """
    kind = col.radio("Explain", TARGET_KINDS, horizontal=True, key=link(f"{key}_target_kind", choices=TARGET_KINDS))
    if kind != TARGET_KINDS[1] or not labels:
        return None
    return int(
        col.selectbox(
            "Class",
            range(len(labels)),
            format_func=lambda i: labels[i],
            key=link(f"{key}_target", choices=range(len(labels))),
        )
    )


def perturbation_picker(names: list[str], prefix: str, default_severity: float = 3.0) -> tuple[str, float, int]:
    """One perturbation at one severity, with its seed, for the Robustness page's one-input views
    (image, text, audio): ``(name, severity, seed)``, each tied to the link (``<prefix>_pert``,
    ``<prefix>_sev``, ``<prefix>_seed``), and a caption with what the severity means in its unit."""
    from playground.robustness.perturbations import PERTURBATIONS

    c1, c2, c3 = st.columns([3, 2, 1])
    name = c1.selectbox(
        "Perturbation",
        names,
        format_func=lambda n: f"{n} — {PERTURBATIONS.get(n).unit}",
        key=link(f"{prefix}_pert", choices=names),
    )
    severity = float(
        c2.slider("Severity", 0.0, 5.0, default_severity, 0.5, key=link(f"{prefix}_sev", bounds=(0.0, 5.0), kind=float))
    )
    seed = int(c3.number_input("Seed", 0, 10_000, 0, key=link(f"{prefix}_seed", bounds=(0, 10_000), kind=int)))
    spec = PERTURBATIONS.get(name)
    st.caption(f"{spec.description} Severity {severity:g} → {spec.level(severity):.3g} ({spec.unit}).")
    return name, severity, seed
