"""Models: build an architecture, load pretrained weights, a saved run or an uploaded checkpoint."""

from pathlib import Path

import pandas as pd
import streamlit as st

from playground.bundle import Bundle, bundle_from_files, create_bundle, load_bundle, load_weights
from playground.bundle.runs import checkpoint_folders, list_checkpoints
from playground.modalities.text.preprocessing import TOKENIZER_FILE
from playground.models import MODELS
from ui.links import checkpoint_name, link, model_link
from ui.pages import ensure_app_entry
from ui.state import active_model, card_facts, model_summary, pretrained_bundle, set_active_model, show_error
from ui.transformers import offer_transformers
from ui.uploads import upload_limit_mb
from ui.widgets import hparam_inputs


def input_kinds(name: str) -> list[str]:
    """What an architecture takes, in words: ``["text", "numeric sequences"]``."""
    spec = MODELS.get(name)
    words = {"image": "images", "text": "text", "sequence": "numeric sequences", "audio": "audio"}
    return [words.get(m, m) for m in (spec.inputs or (spec.modality,))]


def build_image_model(name: str) -> None:
    """Widgets to build an image architecture (random init, pretrained or a local weights file)."""
    spec = MODELS.get(name)
    weight_options = ["random init", *spec.weights]
    default_index = weight_options.index(spec.default_weights) if spec.default_weights else 0
    weights_choice = st.radio(
        "Weights",
        weight_options,
        index=default_index,
        horizontal=True,
        key=link(f"m_weights_{name}", choices=weight_options),
    )
    weights = None if weights_choice == "random init" else weights_choice
    c1, c2, c3 = st.columns(3)
    if weights is None:
        num_classes = int(c1.number_input("Classes", 1, 10_000, spec.num_classes, key=f"m_classes_{name}"))
        in_channels = int(c2.radio("Input channels", [1, 3], index=[1, 3].index(spec.in_channels), key=f"m_ch_{name}"))
        image_size = int(
            c3.number_input("Image size (px)", spec.min_image_size, 1024, spec.image_size, key=f"m_size_{name}")
        )
    else:
        num_classes, in_channels, image_size = None, None, None
        c1.caption("Pretrained weights fix the input size and classes; fine-tune on the Train page.")
    hparams = hparam_inputs(spec, "m") if weights is None else {}
    local_weights = st.file_uploader(
        "Optional: a local weights file for this architecture (.safetensors, .pt, .pth)",
        type=["safetensors", "pt", "pth"],
        key=f"m_local_{name}",
        help="For example ImageNet weights downloaded on another machine. Read without unpickling code.",
        max_upload_size=upload_limit_mb("weights"),
    )
    if st.button("Build and use this model", type="primary", key="m_build"):
        try:
            if weights is not None and local_weights is None:
                bundle: Bundle = pretrained_bundle(name, weights)  # shared and read-only
            else:
                bundle = create_bundle(
                    name,
                    num_classes=num_classes,
                    in_channels=in_channels,
                    image_size=image_size,
                    weights=None if local_weights is not None else weights,
                    hparams=hparams,
                )
                if local_weights is not None:
                    load_weights(bundle.model, local_weights.getvalue(), local_weights.name)
            pretrained = weights is not None and local_weights is None  # nothing else can travel in a link
            named = model_link("pretrained", name, weights) if pretrained else None
            set_active_model(bundle, "built on the Models page", named)  # reruns the app
        except (ValueError, TypeError, OSError) as exc:
            show_error(exc, f"build {name}")
        except (RuntimeError, MemoryError) as exc:  # e.g. a width so large the weights do not fit in memory
            show_error(exc, f"build {name} with these hyper-parameters (try smaller ones)")


ensure_app_entry()
st.title("Models")
build_tab, runs_tab, upload_tab = st.tabs(["Build an architecture", "Saved runs", "Upload a checkpoint"])

with build_tab:
    names = MODELS.names()
    name = st.selectbox(
        "Architecture",
        names,
        index=names.index("lenet5") if "lenet5" in names else 0,
        format_func=lambda n: n if MODELS.get(n).accepts("image") else f"{n} ({' / '.join(input_kinds(n))})",
        key=link("m_arch", choices=names),
    )
    spec = MODELS.get(name)
    st.caption(f"{spec.description}  \nSource: {spec.source}")
    if spec.text_preprocessing is not None:
        st.caption(
            "A pretrained text transformer with its own tokenizer: load it as it is, or fine-tune it on the Train page."
        )
        offer_transformers(key="m_tf", preselect=name)
    elif not spec.accepts("image"):
        # A text model's embedding is sized by a tokenizer trained on data, and a sequence model's
        # first layer by the data's features: there is nothing sensible to build without data.
        st.info(
            f"{name} takes {' or '.join(input_kinds(name))}: its input layer is sized by a tokenizer trained on a "
            "dataset (text) or by the data's features (numeric sequences), so it is built by training. "
            "Train it on the Train page, or load a trained one under **Saved runs** or **Upload a checkpoint** "
            "(card.json + weights + tokenizer.json).",
            icon=":material/model_training:",
        )
        st.page_link("pages/train.py", label="Train it on the Train page", icon=":material/model_training:")
    else:
        build_image_model(name)

with runs_tab:
    checkpoints = list_checkpoints(checkpoint_folders())
    if not checkpoints:
        st.info("No saved runs yet: train a model on the Train page.")
    else:
        table = pd.DataFrame(
            [
                {
                    "title": c.title,
                    "architecture": c.architecture,
                    "dataset": c.dataset,
                    "val_accuracy": c.val_accuracy,
                    "created": c.created,
                    "folder": str(c.path),
                }
                for c in checkpoints
            ]
        )
        st.dataframe(
            table, hide_index=True, column_config={"val_accuracy": st.column_config.NumberColumn(format="%.3f")}
        )
        labels = {str(c.path): f"{c.title} — {c.path}" for c in checkpoints}
        picked = st.selectbox("Checkpoint", list(labels), format_func=lambda p: labels[p], key="m_run")
        if st.button("Use this checkpoint", key="m_use_run"):
            try:
                bundle = load_bundle(picked)
                named = model_link("checkpoint", checkpoint_name(picked))
                set_active_model(bundle, f"saved run {Path(picked).name}", named)  # reruns the app
            except (ValueError, OSError) as exc:
                show_error(exc, "load this checkpoint")

with upload_tab:
    st.markdown(
        "Upload a checkpoint folder's files: **card.json** (architecture, labels, preprocessing), "
        "**model.safetensors** (weights; a `.pt`/`.pth` state dict also works, read with "
        "`torch.load(weights_only=True)` — pickled code is refused) and, for a text model, its "
        "**tokenizer.json**."
    )
    card_file = st.file_uploader("card.json", type=["json"], key="m_card", max_upload_size=upload_limit_mb("json"))
    weights_file = st.file_uploader(
        "Weights", type=["safetensors", "pt", "pth"], key="m_weights_file", max_upload_size=upload_limit_mb("weights")
    )
    tokenizer_file = st.file_uploader(
        "tokenizer.json (text models only)", type=["json"], key="m_tokenizer", max_upload_size=upload_limit_mb("json")
    )
    clicked = st.button(
        "Load the uploaded checkpoint", disabled=card_file is None or weights_file is None, key="m_upload"
    )
    if clicked and card_file is not None and weights_file is not None:
        try:
            extra = {TOKENIZER_FILE: tokenizer_file.getvalue()} if tokenizer_file is not None else {}
            bundle = bundle_from_files(card_file.getvalue(), weights_file.getvalue(), weights_file.name, files=extra)
            set_active_model(bundle, f"uploaded {weights_file.name}")  # reruns the app
        except (ValueError, OSError) as exc:
            show_error(exc, "load the uploaded checkpoint")

st.divider()
active = active_model()
bundle = active.bundle
st.subheader(f"Active model: {bundle.title}")
card = bundle.card
facts = card_facts(bundle)
if bundle.modality == "seq2seq":
    # Two inputs (source and target so far): the one-input layer table does not apply; parameters per block do.
    m1, m2, m3 = st.columns(3)
    m1.metric("Parameters", facts["parameters"])
    m2.metric("Vocabulary", f"{card.num_classes} characters")
    m3.metric("Task", card.dataset or "—")
    st.caption(f"Source: {card.source}  \nOrigin: {active.origin}")
    if card.metrics:
        st.caption(
            "Metrics: " + ", ".join(f"{k} = {v:.4g}" for k, v in card.metrics.items() if isinstance(v, int | float))
        )
    st.dataframe(
        pd.DataFrame(
            [
                {"layer": name, "type": type(m).__name__, "parameters": sum(p.numel() for p in m.parameters())}
                for name, m in bundle.model.named_children()
            ]
        ),
        hide_index=True,
    )
    st.stop()
try:
    summary = model_summary(bundle)
except (ValueError, RuntimeError) as exc:
    show_error(exc, "summarise this model")
    st.stop()
rows = summary.rows
per_input = {"text": "text", "sequence": "sequence"}.get(bundle.modality, "image")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Parameters", f"{summary.total_params:,}")
m2.metric("Trainable", f"{summary.trainable_params:,}")
m3.metric(f"FLOPs / {per_input}", f"{summary.flops / 1e6:,.{1 if per_input == 'image' else 2}f} M")
short_input = {"text": "text", "sequence": f"{facts.get('time steps')} × {facts.get('features')}"}
m4.metric("Input", short_input.get(bundle.modality, facts["input"]), help=facts["input"])
steps = None
if bundle.modality in ("text", "sequence"):
    steps = summary.input_shape[1]  # (1, T) ids or (1, T, F) values
    if bundle.modality == "text":
        t1, t2, t3 = st.columns(3)
        t1.metric("Tokenizer", facts["tokenizer"])
        t2.metric("Vocabulary size", facts["vocab size"])
        t3.metric("Max length (tokens)", f"{facts['max length']:,}")
        unit = "tokens"
    else:
        unit = "time steps"
    st.caption(
        f"Shapes and FLOPs below are for one input of **T = {steps} {unit}**; the time axis is shown as T. "
        "A recurrent layer's FLOPs grow linearly with T."
    )
st.caption(f"Source: {card.source}  \nOrigin: {active.origin}")
if card.metrics:
    st.caption("Metrics: " + ", ".join(f"{k} = {v:.4g}" for k, v in card.metrics.items() if isinstance(v, int | float)))


def shape_text(shape: tuple[int, ...] | None) -> str:
    """``(1, T, 64)`` as ``"1 × T × 64"``: batch-first recurrent models put time at dim 1."""
    if shape is None:
        return "(did not run)"
    parts = [str(d) for d in shape]
    if steps is not None and len(shape) >= 3 and shape[1] == steps:
        parts[1] = "T"
    return " × ".join(parts)


st.dataframe(
    pd.DataFrame(
        [
            {
                "layer": r.name,
                "type": r.type,
                "output shape": shape_text(r.output_shape),
                "parameters": r.num_params,
            }
            for r in rows
        ]
    ),
    hide_index=True,
    height=min(600, 38 + 35 * len(rows)),
)
