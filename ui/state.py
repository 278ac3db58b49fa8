"""Session state and cached resources shared by every page.

- Pretrained bundles are shared, read-only resources (``st.cache_resource``): never trained or
  mutated in place. Training always builds a fresh bundle that belongs to the session.
- The active model, the current input image and text and the training job live in
  ``st.session_state``, so they survive moving between pages.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
import torch
from PIL import Image

from playground.bundle import Bundle, create_bundle, load_bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS, new_run_folder
from playground.core.device import describe_device, pick_device
from playground.core.forward_count import ForwardCounter, install_from_env
from playground.core.memory import start_memory_reclaimer
from playground.data import AnyDataset, load_dataset
from playground.inspection.summary import ModelSummary, summarize
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.image.decode import load_sample
from playground.modalities.sequence.preprocessing import SequencePreprocessing
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.runner.folder import recover_runs_folder
from playground.runner.run_job import RunJob
from ui.links import MODEL_PARAM, checkpoint_name, model_link, notice, resolve_model

DEFAULT_MODEL = "efficientnet_lite0"
DEFAULT_MODEL_LINK = model_link("pretrained", DEFAULT_MODEL)
log = logging.getLogger(__name__)
T = TypeVar("T")

#: The Train page's settings and their defaults. Streamlit forgets the state of widgets on pages
#: that are not shown; these keys are carried across pages by :func:`keep_widget_state`.
TRAIN_FORM_DEFAULTS: dict[str, object] = {
    "t_dataset": "mnist",
    "t_val": 0.1,
    "t_seed": 0,
    "t_arch": "lenet5",
    "t_epochs": 5,
    "t_bs": 64,
    "t_opt": "adam",
    "t_lr": 1e-3,
    "t_sched": "constant",
    "t_wd": 0.0,
    "t_device": "auto",
    "t_amp": False,
    "t_nproc": 1,
    "t_flip": False,
    "t_crop": False,
    "t_rot": 0,
    "t_aug_audio": False,
    "t_modality": "image",
    "t_tok_kind": "word",
    "t_tok_vocab": 20_000,
    "t_tok_len": 256,
    "t_tok_lower": True,
}

#: The Train page settings that follow the dataset's preferred values (``DatasetSpec.train_defaults``
#: and ``tokenizer_defaults``) when another dataset is picked: widget key -> config field.
TRAIN_SETTING_FIELDS: dict[str, str] = {
    "t_epochs": "epochs",
    "t_bs": "batch_size",
    "t_opt": "optimizer",
    "t_lr": "lr",
    "t_sched": "schedule",
    "t_wd": "weight_decay",
    "t_flip": "augment_flip",
    "t_crop": "augment_crop",
    "t_rot": "augment_rotation",
    "t_aug_audio": "augment_audio",
}
TOKENIZER_SETTING_FIELDS: dict[str, str] = {
    "t_tok_kind": "kind",
    "t_tok_vocab": "vocab_size",
    "t_tok_len": "max_length",
    "t_tok_lower": "lowercase",
}

#: Tokens in the example input of a text model's layer table (fewer when its max_length is smaller).


#: Other pages' widgets whose options never change with the model, kept across pages the same way
#: (Predict's image source and sample; not its Top-k slider, whose range is the model's class count).
KEPT_PAGE_KEYS = ("predict_source", "predict_sample_photo", "predict_sample_digit")


def keep_widget_state() -> None:
    """Carry the settings' widget values across pages (app.py calls this on every run).

    Re-assigning a widget's key turns it into plain session state, which Streamlit keeps while
    another page is shown; the widgets take their values from it when the page comes back. This is
    Streamlit's documented way ("Widget behavior: retain statefulness when changing pages").
    """
    for key in (*TRAIN_FORM_DEFAULTS, *KEPT_PAGE_KEYS):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


DEFAULT_SAMPLE = "cat"
_MEMO = "_session_memo"  # session-state key of session_memo's entries


def session_memo(slot: str, key: Hashable, compute: Callable[[], T], *, anchor: object = None) -> T:
    """``compute()`` once for ``key``: later runs of this session with the same key reuse the result.

    A display-only change (a slider that only changes how results are drawn) reruns the whole
    page; with this it runs no model forward pass again. One entry per ``slot`` (the last key),
    kept in this session's state: freed when the session ends, never pickled, never seen by another
    user (unlike ``st.cache_data``, which pickles every hit and shares entries between sessions).

    Args:
        slot: the page's name for this result, e.g. ``"predict"``.
        key: everything the result depends on apart from ``anchor`` (e.g. a hash of the input pixels
            and the layer name), hashable and compared with ``==``.
        compute: makes the result; called only when ``key`` or ``anchor`` changed.
        anchor: an object that must be the very same one (``is``) for a hit, e.g. the model: another
            model with the same key does not reuse this one's result.
    """
    entries: dict[str, tuple[Hashable, object, Any]] = st.session_state.setdefault(_MEMO, {})
    held = entries.get(slot)
    if held is not None and held[1] is anchor and held[0] == key:
        value: T = held[2]
        return value
    value = compute()
    entries[slot] = (key, anchor, value)
    return value


def tensor_key(tensor: torch.Tensor) -> str:
    """A short hash of a tensor's shape, dtype and values (a :func:`session_memo` key for an input)."""
    data = tensor.detach().cpu().contiguous()
    digest = hashlib.blake2b(f"{tuple(data.shape)} {data.dtype}".encode(), digest_size=16)
    digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())  # the raw bytes, any dtype
    return digest.hexdigest()


@st.cache_resource(show_spinner=False)
def recover_runs_once(runs_dir: str) -> list[str]:
    """Once per server process and runs folder: undo what saves killed with the last server left."""
    done = recover_runs_folder(Path(runs_dir))
    for line in done:
        log.warning("interrupted save: %s", line)
    return done


@st.cache_resource(show_spinner=False)
def reclaim_memory_once() -> threading.Thread:
    """Once per server process: collect garbage and give freed memory back every 30 s (postScriptGC is off)."""
    return start_memory_reclaimer(interval_s=30.0)


@st.cache_resource(show_spinner=False)
def count_forwards_once() -> ForwardCounter | None:
    """Once per server process: count model forward passes when the benchmark asks for it (an env var)."""
    return install_from_env()


@st.cache_resource(show_spinner="Loading pretrained weights…", max_entries=4)
def pretrained_bundle(architecture: str, weights: str | None = "default") -> Bundle:
    """A registry model with its default (pretrained) weights; shared by all sessions, read-only."""
    return create_bundle(architecture, weights=weights)


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=6)
def cached_dataset(name: str, split: str | None = None) -> AnyDataset:
    """A registry dataset loaded once per process, read-only; ``split`` is the loader's option of
    that name where it has one (``fsdd``: ``"official"`` or ``"speaker:<name>"``)."""
    return load_dataset(name) if split is None else load_dataset(name, split=split)


@dataclass
class ActiveModel:
    """The model every page works on, where it came from (shown in the sidebar) and how a link names
    it (``ui.links.model_link``; ``None`` for a model that cannot travel in a link, e.g. an upload)."""

    bundle: Bundle
    origin: str
    link: str | None = None


def model_from_link(text: str) -> ActiveModel:
    """The model a link's ``model=`` names (``ui.links.resolve_model``).

    Raises:
        ValueError, OSError: the link names nothing loadable here.
    """
    kind, name, weights = resolve_model(text)
    if kind == "pretrained":
        return ActiveModel(pretrained_bundle(name, weights or "default"), "pretrained (from the link)", text)
    folder = Path(name)
    # A shipped checkpoint is shared read-only, like a pretrained model: a class opening one link
    # holds one copy (a MiniLM head is MiniLM's 90 MB), not one per student.
    shipped = folder.resolve().parent == SHIPPED_CHECKPOINTS.resolve()
    bundle = shipped_bundle(folder.name) if shipped else load_bundle(folder)
    return ActiveModel(bundle, f"checkpoint {checkpoint_name(name)} (from the link)", text)


def active_model() -> ActiveModel:
    """The session's active model: the link's ``model=`` in a new session, else the offline default
    (EfficientNet-Lite0, ImageNet). A link naming a model that is not here gives a notice and the default."""
    if "active_model" not in st.session_state:
        chosen: ActiveModel | None = None
        text = st.query_params.get(MODEL_PARAM)
        if text is not None and text != DEFAULT_MODEL_LINK:
            try:
                chosen = model_from_link(text)
            except (ValueError, OSError, RuntimeError) as exc:
                notice(f"The link's model {text!r} could not be loaded: {exc}. The default model is used instead.")
        if chosen is None:
            chosen = ActiveModel(pretrained_bundle(DEFAULT_MODEL), "pretrained (offline default)", DEFAULT_MODEL_LINK)
        st.session_state.active_model = chosen
    model: ActiveModel = st.session_state.active_model
    return model


def open_example(page: str, model: str, params: dict[str, str]) -> None:
    """Make the model a link names (``ui.links.model_link``) the active one and open ``page`` with
    ``params`` as its link's settings (the Learn page's ready examples). A model that cannot be
    loaded is shown as an error and nothing changes."""
    try:
        st.session_state.active_model = model_from_link(model)
    except (ValueError, OSError, RuntimeError) as exc:
        show_error(exc, f"load {model}")
        return
    st.switch_page(page, query_params={MODEL_PARAM: model, **params})


@st.cache_resource(show_spinner=False, max_entries=8)
def shipped_bundle(name: str) -> Bundle:
    """A checkpoint shipped in ``assets/checkpoints`` (e.g. ``"lenet5-mnist"``), loaded once per
    server and shared read-only, like :func:`pretrained_bundle`."""
    return load_bundle(SHIPPED_CHECKPOINTS / name)


def model_summary(bundle: Bundle) -> ModelSummary:
    """Parameters, FLOPs and the layer table of ``bundle`` for one input, computed once per model.

    Two forward passes (hooks and a FLOP counter) are too slow to repeat on every rerun of the
    Models page, so the last summary is kept with the model it describes.
    """
    held = st.session_state.get("_model_summary")
    if held is not None and held[0] is bundle.model:
        cached: ModelSummary = held[1]
        return cached
    summary = summarize(bundle.model, bundle.preprocessing.example_input())
    st.session_state._model_summary = (bundle.model, summary)
    return summary


def set_active_model(bundle: Bundle, origin: str, link: str | None = None) -> None:
    """Make ``bundle`` the active model of every page, and rerun the app at once.

    ``link``: how a link names this model (``ui.links.model_link``); ``None`` when it cannot travel
    in one (an upload, a model built with random weights).

    The sidebar (drawn by app.py before the page) already shows the old model in this run, so the
    app reruns; the confirmation comes back as a toast there (:func:`show_flash`).
    """
    st.session_state.active_model = ActiveModel(bundle, origin, link)
    st.session_state.flash = f"Active model: {bundle.title}"
    st.rerun()


def show_flash() -> None:
    """Show (once) the message a previous run left before it reran the app."""
    message = st.session_state.pop("flash", None)
    if message:
        st.toast(message, icon=":material/check_circle:")


@dataclass
class CurrentImage:
    """The input image shared by Predict and Filters & feature maps."""

    image: Image.Image
    name: str


def current_image() -> CurrentImage:
    """The last image picked on any page; the shipped tabby-cat photo at first."""
    if "current_image" not in st.session_state:
        st.session_state.current_image = CurrentImage(load_sample(DEFAULT_SAMPLE), f"{DEFAULT_SAMPLE} (sample)")
    image: CurrentImage = st.session_state.current_image
    return image


def set_current_image(image: Image.Image, name: str) -> None:
    st.session_state.current_image = CurrentImage(image, name)


def current_text() -> str:
    """The last text typed, uploaded or picked on any page ("" at first)."""
    text: str = st.session_state.get("current_text", "")
    return text


def set_current_text(text: str) -> None:
    """Make ``text`` the text every page's text box starts from."""
    st.session_state.current_text = text


def device_label() -> str:
    return describe_device(pick_device("auto"))


def show_error(exc: BaseException, doing: str) -> None:
    """Show a library error at the page edge in words, without a traceback."""
    st.error(f"Could not {doing}: {exc}", icon=":material/error:")


def card_facts(bundle: Bundle) -> dict[str, Any]:
    """A few card facts for captions; text models add tokenizer, vocab size and max length."""
    card = bundle.card
    pre = bundle.preprocessing
    facts: dict[str, Any] = {
        "architecture": card.architecture,
        "classes": card.num_classes,
        "input": f"{card.in_channels}×{card.image_size}×{card.image_size}",
        "parameters": f"{bundle.num_parameters:,}",
        "weights": card.weights or ("trained here" if card.dataset else "random init"),
    }
    if isinstance(pre, TextPreprocessing):
        facts["input"] = f"text, up to {pre.max_length} tokens"
        facts["tokenizer"] = pre.tokenizer.kind
        facts["vocab size"] = f"{pre.vocab_size:,}"
        facts["max length"] = pre.max_length
    elif isinstance(pre, SequencePreprocessing):
        facts["input"] = f"{pre.length}×{pre.features} sequence (T×F)"
        facts["time steps"] = pre.length
        facts["features"] = pre.features
    elif isinstance(pre, AudioPreprocessing):
        facts["input"] = f"{pre.clip_seconds:g} s at {pre.sample_rate:,} Hz, {pre.features} {pre.bins}×{pre.frames}"
    elif card.modality == "seq2seq":
        facts["input"] = f"a string of characters from a {card.num_classes}-token vocabulary"
    if card.dataset:
        facts["dataset"] = card.dataset
    return facts


def finalize_job() -> Path | None:
    """Save a finished training run once (done or stopped, with a result); return its folder.

    Called on every page run, so a run that ends while the person is on another page is still
    saved. A failed save is shown, never swallowed.
    """
    job = st.session_state.get("job")
    if job is None or job.result is None or job.status not in ("done", "stopped", "failed"):
        return None
    if isinstance(job, RunJob):  # a worker process saved it in its run folder
        return job.run.checkpoint()
    saved: Path | None = st.session_state.get("job_saved")
    if saved is not None:
        return saved
    bundle = job.result.bundle
    folder = new_run_folder(bundle)
    try:
        bundle.save(folder)
    except OSError as exc:
        show_error(exc, f"save the checkpoint to {folder}")
        return None
    st.session_state.job_saved = folder
    return folder
