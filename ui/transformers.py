"""Widgets that load a pretrained or shipped transformer: MiniLM offline, BERT / DistilBERT online,
any Hugging Face id, and the playground's own ViT trained on MNIST and audio transformer trained on
spoken digits.

Shared by the Models page and the Attention page (which offers them when the active model has no
attention). Every loader shows a clear error (offline, unknown id, unsupported tokenizer) instead of
a traceback.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from playground.bundle import Bundle
from playground.bundle.runs import SHIPPED_CHECKPOINTS
from playground.models import WeightsUnavailableError
from ui.links import model_link
from ui.state import pretrained_bundle, set_active_model, shipped_bundle, show_error

SHIPPED_VIT = SHIPPED_CHECKPOINTS / "vit_tiny-mnist"
SHIPPED_AUDIO_TRANSFORMER = SHIPPED_CHECKPOINTS / "audio_transformer-fsdd"
#: MiniLM with heads trained here on frozen embeddings (scripts/train_text_heads.py): head-only checkpoints.
SHIPPED_TEXT_HEADS = {
    "minilm-bbc_news": "MiniLM + a head for BBC News topics (5 classes; offline)",
    "minilm-tweet_sentiment": "MiniLM + a head for tweet sentiment (negative / neutral / positive; offline)",
}
TEXT_TRANSFORMERS = {
    "minilm": "MiniLM (all-MiniLM-L6-v2: 6 layers × 12 heads; offline)",
    "bert-base-uncased": "BERT base uncased (the article's example; online or cached)",
    "distilbert-sst2": "DistilBERT fine-tuned on SST-2 sentiment (online or cached)",
}


def import_model_code() -> None:
    """Import the model code of MiniLM (``transformers``' BERT) now, at the end of a page that offers it.

    Called after everything on the page is drawn: the ~1 s that ``transformers`` takes to import
    ``modeling_bert`` is spent while the user reads the page, not after they click "Use it"
    (bench/bench_app.py: "Use MiniLM" took 1.4-1.7 s before, most of it this import). In the
    script's own thread, not a background one: two threads importing one package at once can see
    each other's half-initialised modules. A no-op once imported.
    """
    import transformers.models.bert.modeling_bert  # noqa: F401


@st.cache_resource(show_spinner="Loading the model from Hugging Face…", max_entries=2)
def _hf_bundle(model_id: str) -> Bundle:
    from playground.bundle.hf import hf_text_bundle  # transformers loads only when needed
    from playground.models.hf import check_hub_model_id

    return hf_text_bundle(check_hub_model_id(model_id))  # a Hub id only: never a path on the server


def _use(load: object, what: str, origin: str, link: str | None = None) -> None:
    try:
        bundle = load()  # type: ignore[operator]
    except WeightsUnavailableError as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return
    except (ValueError, TypeError, OSError) as exc:
        show_error(exc, f"load {what}")
        return
    set_active_model(bundle, origin, link)  # reruns the app


def offer_transformers(key: str, preselect: str | None = None) -> None:
    """Buttons that make a transformer the active model; ``preselect`` picks the text entry shown first."""
    c1, c2 = st.columns(2)
    names = list(TEXT_TRANSFORMERS)
    name = c1.selectbox(
        "Pretrained text transformer",
        names,
        index=names.index(preselect) if preselect in names else 0,
        format_func=TEXT_TRANSFORMERS.__getitem__,
        key=f"{key}_text" if preselect is None else f"{key}_text_{preselect}",
    )
    if c1.button("Use it", key=f"{key}_use_text", icon=":material/download:"):
        _use(lambda: pretrained_bundle(name), name, "pretrained (Hugging Face)", model_link("pretrained", name))
    if name == "minilm":
        c1.caption("Its classification head is untrained: for predictions, use one trained here.")
        for folder_name, title in SHIPPED_TEXT_HEADS.items():
            folder = SHIPPED_CHECKPOINTS / folder_name
            if folder.is_dir() and c1.button(title, key=f"{key}_use_{folder_name}", icon=":material/label:"):
                _use(
                    lambda f=folder_name: shipped_bundle(f),
                    title,
                    "shipped checkpoint",
                    model_link("checkpoint", folder_name),
                )
    for folder, caption, label, icon, what in (
        (
            SHIPPED_VIT,
            "vit_tiny trained here on MNIST (4×4-pixel patches, 4 layers × 4 heads), shipped with the app.",
            "Use the MNIST ViT",
            ":material/grid_on:",
            "the shipped ViT",
        ),
        (
            SHIPPED_AUDIO_TRANSFORMER,
            "audio_transformer trained here on spoken digits (patches of 8 mel bands × 10 frames), shipped with the app.",
            "Use the spoken-digit transformer",
            ":material/graphic_eq:",
            "the shipped audio transformer",
        ),
    ):
        if Path(folder).is_dir():
            c2.caption(caption)
            if c2.button(label, key=f"{key}_use_{folder.name}", icon=icon):
                _use(
                    lambda f=folder.name: shipped_bundle(f),
                    what,
                    "shipped checkpoint",
                    model_link("checkpoint", folder.name),
                )
    model_id = st.text_input(
        "Or any Hugging Face model id (BERT-family tokenizers; needs the internet or the local cache)",
        placeholder="e.g. google/bert_uncased_L-2_H-128_A-2",
        key=f"{key}_hf_id",
    )
    if model_id.strip() and st.button("Load this id", key=f"{key}_use_hf", icon=":material/cloud_download:"):
        _use(lambda: _hf_bundle(model_id.strip()), model_id.strip(), "Hugging Face")
