"""Train: pick data and a model, train in the background with live curves, inspect the result.

Images, texts and numeric sequences share one flow: the dataset list is filtered by the kind of
data, the model list by what each architecture accepts, and the settings start from the
dataset's own preferred values (``train_defaults``, ``tokenizer_defaults``).
"""

import hashlib
import os
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from playground.bundle import default_runs_dir
from playground.data import (
    DATASETS,
    AnyDataset,
    AudioDataset,
    DatasetUnavailableError,
    ImageDataset,
    SequenceDataset,
    TextDataset,
    load_dataset,
    split_dataset,
)
from playground.data.stats import dataset_stats, example_indices
from playground.data.text_csv import csv_columns
from playground.figures.training import sequence_example_figure
from playground.figures.viz import (
    class_balance_figure,
    confusion_matrix_figure,
    image_grid,
    per_class_bar,
    to_display,
    training_curves,
)
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.models import MODELS
from playground.runner.launcher import prepare_standby
from playground.runner.run_job import RunJob
from playground.runner.spec import RunSpec
from playground.training.evaluate import mistakes
from playground.training.setup import model_hparams_for, tokenizer_options_for, train_config_for
from ui.audio import audio_examples, audio_mistakes, validation_choice
from ui.audio_dataset import own_clips_source
from ui.charts import plotly_chart
from ui.links import checkpoint_name, mirror, model_link, restore
from ui.pages import ensure_app_entry
from ui.seq2seq_train import seq2seq_section
from ui.state import (
    TOKENIZER_SETTING_FIELDS,
    TRAIN_FORM_DEFAULTS,
    TRAIN_SETTING_FIELDS,
    cached_dataset,
    finalize_job,
    set_active_model,
    show_error,
)
from ui.uploads import upload_limit_mb
from ui.widgets import hparam_inputs, shorten

MODALITIES = {
    "image": "Images",
    "text": "Text",
    "audio": "Audio",
    "sequence": "Numeric sequences",
    "seq2seq": "String tasks (seq2seq)",
}
DEFAULT_ARCH = {"image": "lenet5", "text": "lstm", "sequence": "lstm", "audio": "audio_cnn"}
BATCH_SIZES = [8, 16, 32, 64, 128, 256, 512]
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 1e-1]
WEIGHT_DECAYS = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2]
TOKENIZER_KINDS = {
    "word": "word (one id per word)",
    "bpe": "BPE (sub-word pieces)",
    "wordpiece": "WordPiece (BERT's sub-words)",
    "char": "char (one id per character)",
}


#: What a link may set on this form (``ui.links.restore``): each setting's accepted values. The
#: dataset and architecture are checked against the kind of data below, like any stale value.
TRAIN_LINKS: dict[str, dict[str, Any]] = {
    "t_modality": {"choices": list(MODALITIES)},
    "t_dataset": {},
    "t_arch": {},
    "t_val": {"bounds": (0.05, 0.5), "kind": float},
    "t_seed": {"bounds": (0, 2**31 - 1), "kind": int},
    "t_epochs": {"bounds": (1, 500), "kind": int},
    "t_bs": {"bounds": (1, 4096), "kind": int},
    "t_opt": {"choices": ["adam", "adamw", "sgd"]},
    "t_lr": {"bounds": (1e-6, 1.0), "kind": float},
    "t_sched": {"choices": ["constant", "cosine", "step"]},
    "t_wd": {"bounds": (0.0, 1.0), "kind": float},
    "t_device": {"choices": ["auto", "cpu", "cuda", "mps"]},
    "t_amp": {"kind": bool},
    "t_nproc": {"bounds": (1, max(os.cpu_count() or 1, torch.cuda.device_count())), "kind": int},
    "t_flip": {"kind": bool},
    "t_crop": {"kind": bool},
    "t_rot": {"bounds": (0, 45), "kind": int},
    "t_aug_audio": {"kind": bool},
    "t_tok_kind": {"choices": list(TOKENIZER_KINDS)},
    "t_tok_vocab": {"bounds": (3, 200_000), "kind": int},
    "t_tok_len": {"bounds": (1, 100_000), "kind": int},
    "t_tok_lower": {"kind": bool},
}


def restore_form_from_link() -> None:
    """A new session opened from a link: the form takes the link's settings.

    The dataset's preferred settings come first (as when it is picked), then the link's own values
    over them. Once per session: afterwards the form's state is the user's.
    """
    if st.session_state.get("_t_linked"):
        return
    st.session_state._t_linked = True
    restored = {key: st.session_state[key] for key, spec in TRAIN_LINKS.items() if restore(key, **spec)}
    if "t_dataset" in restored:
        for key, default in TRAIN_FORM_DEFAULTS.items():
            st.session_state.setdefault(key, default)
        apply_dataset_defaults(str(restored["t_dataset"]))
        st.session_state.update(restored)  # the link's own values win over the dataset's


def with_value(options: list, value: object) -> list:
    """``options`` with ``value`` added in order, so a dataset's own default is always selectable."""
    return sorted({*options, value}) if isinstance(value, int | float) else options


def apply_dataset_defaults(name: str) -> None:
    """Move the settings the user has not changed to ``name``'s preferred values.

    A setting still at the value last filled in automatically follows the new dataset; one the
    user changed keeps the user's value (so changing the dataset and the epochs in one go works).
    """
    auto: dict[str, object] = st.session_state.setdefault(
        "_t_auto", {k: TRAIN_FORM_DEFAULTS[k] for k in (*TRAIN_SETTING_FIELDS, *TOKENIZER_SETTING_FIELDS, "t_val")}
    )
    config = train_config_for(name, st.session_state.get("t_arch"))  # the dataset's, then the architecture's
    options = tokenizer_options_for(name)
    wanted = {key: getattr(config, field) for key, field in TRAIN_SETTING_FIELDS.items()}
    wanted["t_rot"] = round(config.augment_rotation)  # the slider takes whole degrees
    wanted.update({key: getattr(options, field) for key, field in TOKENIZER_SETTING_FIELDS.items()})
    wanted["t_val"] = config.val_fraction
    for key, value in wanted.items():
        if st.session_state.get(key, auto.get(key)) == auto.get(key):
            st.session_state[key] = value
            auto[key] = value


#: Datasets of the user's own files (each has its own upload section below): listed after the ready ones.
OWN_DATA = ("folder", "text_csv", "audio_folder")


def datasets_of(modality: str) -> list[str]:
    """Registered datasets of one kind: ready offline ones first, then the user's own, then downloads."""
    names = [n for n, s in DATASETS.items() if s.modality == modality]
    return sorted(names, key=lambda n: (not DATASETS.get(n).offline(), n in OWN_DATA))


def on_modality_change() -> None:
    if st.session_state.t_modality == "seq2seq":
        return  # string tasks are generated: no dataset to pick
    names = datasets_of(st.session_state.t_modality)
    if names and st.session_state.t_dataset not in names:
        st.session_state.t_dataset = names[0]
        apply_dataset_defaults(names[0])


def on_dataset_change() -> None:
    apply_dataset_defaults(st.session_state.t_dataset)


def on_arch_change() -> None:
    apply_dataset_defaults(st.session_state.t_dataset)  # some architectures bring their own (vit_tiny)


ensure_app_entry()
st.title("Train")
prepare_standby(default_runs_dir())  # a worker imports torch now, so that "Train" starts at once
# The form's defaults; kept in session state so the form survives visits to other pages (see
# ui.state.keep_widget_state). Widgets below take their values from here, not from `value=`.
restore_form_from_link()
for key, default in TRAIN_FORM_DEFAULTS.items():
    st.session_state.setdefault(key, default)
for key in TRAIN_LINKS:
    mirror(key, default=TRAIN_FORM_DEFAULTS[key])  # the address bar holds the form
job: RunJob | None = st.session_state.get("job")
running = job is not None and job.status in ("pending", "running")

# ---------------------------------------------------------------- data
st.subheader("Data")
if st.session_state.t_modality not in MODALITIES:
    st.session_state.t_modality = "image"
modality = st.radio(
    "Kind of data",
    list(MODALITIES),
    format_func=lambda m: MODALITIES[m],
    horizontal=True,
    key="t_modality",
    on_change=on_modality_change,
)
if modality == "seq2seq":
    seq2seq_section()
    st.stop()
names = datasets_of(modality)
if st.session_state.t_dataset not in names:  # e.g. a dataset that is no longer registered
    st.session_state.t_dataset = names[0]
    apply_dataset_defaults(names[0])
dataset_name = st.selectbox(
    "Dataset",
    names,
    format_func=lambda n: n if DATASETS.get(n).offline() else f"{n} (needs a download)",
    key="t_dataset",
    on_change=on_dataset_change,
)
dspec = DATASETS.get(dataset_name)
st.caption(f"{dspec.description}  \nSource: {dspec.source}")

dataset: AnyDataset | None = None
# What the worker process needs to load the same data: loader options, and uploads as files.
run_options: dict[str, Any] = {}
run_files: dict[str, bytes] = {}
try:
    if dataset_name == "folder":
        upload = st.file_uploader(
            "A .zip with one folder per class (e.g. cats/…, dogs/…)",
            type=["zip"],
            key="t_zip",
            max_upload_size=upload_limit_mb("zip"),
        )
        side = st.select_slider("Resize images to (px)", [32, 48, 64, 96, 128], value=64, key="t_zip_side")
        if upload is not None:
            data = upload.getvalue()
            digest = hashlib.sha256(data).hexdigest() + f"-{side}"
            held = st.session_state.get("folder_dataset")
            if held is None or held[0] != digest:
                with st.spinner("Extracting and decoding images…"):
                    st.session_state.folder_dataset = (digest, load_dataset("folder", zip_bytes=data, image_size=side))
            dataset = st.session_state.folder_dataset[1]
            run_options = {"image_size": side, "files": {"zip_bytes": "upload.zip"}}
            run_files = {"upload.zip": data}
    elif dataset_name == "audio_folder":
        dataset, run_options, run_files = own_clips_source()
    elif dataset_name == "text_csv":
        upload = st.file_uploader(
            "A CSV file with a column of texts and a column of labels",
            type=["csv", "tsv", "txt"],
            key="t_csv",
            max_upload_size=upload_limit_mb("csv"),
        )
        if upload is not None:
            data = upload.getvalue()
            columns = csv_columns(data, upload.name)
            if len(columns) < 2:
                raise ValueError(f"{upload.name} has {len(columns)} column(s); it needs a text and a label column")
            for key, allowed in (("t_csv_text", columns), ("t_csv_label", columns)):
                if st.session_state.get(key) not in (*allowed, None):
                    del st.session_state[key]  # a column of an earlier file
            c1, c2 = st.columns(2)
            text_col = c1.selectbox(
                "Text column", columns, index=columns.index("text") if "text" in columns else 0, key="t_csv_text"
            )
            others = [c for c in columns if c != text_col]
            if st.session_state.get("t_csv_label") == text_col:
                del st.session_state["t_csv_label"]
            label_col = c2.selectbox(
                "Label column", others, index=others.index("label") if "label" in others else 0, key="t_csv_label"
            )
            digest = f"{hashlib.sha256(data).hexdigest()}-{text_col}-{label_col}"
            held = st.session_state.get("csv_dataset")
            if held is None or held[0] != digest:
                with st.spinner("Reading the texts…"):
                    loaded = load_dataset("text_csv", csv_bytes=data, text_column=text_col, label_column=label_col)
                st.session_state.csv_dataset = (digest, loaded)
            dataset = st.session_state.csv_dataset[1]
            run_options = {"text_column": text_col, "label_column": label_col, "files": {"csv_bytes": "upload.csv"}}
            run_files = {"upload.csv": data}
        else:
            st.info("Upload a CSV file: one row per text, with a text column and a label column.")
    else:
        dataset = cached_dataset(dataset_name)
        validation = validation_choice(dataset, key=f"t_split_{dataset_name}")
        if validation is not None and validation not in ("official", "random"):  # the loader's default
            dataset = cached_dataset(dataset_name, validation)
            run_options = {"split": validation}
except (DatasetUnavailableError, ValueError, TypeError, OSError) as exc:
    show_error(exc, f"load {dataset_name}")

c1, c2 = st.columns(2)
own_split = getattr(dataset, "val_indices", None) is not None
val_fraction = c1.slider(
    "Validation fraction",
    0.05,
    0.5,
    step=0.05,
    key="t_val",
    disabled=own_split,
    help="Unused: this dataset brings its own validation part." if own_split else None,
)
seed = int(c2.number_input("Seed", 0, 2**31 - 1, key="t_seed"))
split = None
if dataset is not None:
    try:
        split = split_dataset(dataset, val_fraction, seed)
    except ValueError as exc:
        show_error(exc, "split the dataset")
if dataset is not None and split is not None:
    counts = split.class_counts()
    parts = f"train {len(split.train_indices):,} · validation {len(split.val_indices):,}"
    c1, c2 = st.columns([2, 3])
    with c1:
        st.markdown(f"{dataset_stats(dataset).summary()}  \n{parts}")
        if dataset.info:
            facts = " · ".join(f"{k}: {v}" for k, v in dataset.info.items())
            if len(facts) > 300:  # e.g. FSDD's speakers, licence and recording notes: folded away
                with st.expander("About this dataset (source, licence, facts)"):
                    st.caption(facts)
            else:
                st.caption(facts)
        idx = example_indices(dataset, 12, seed=0)
        if isinstance(dataset, ImageDataset):
            grid = to_display(dataset.images[idx])  # (n, H, W[, 3]) in [0, 1]
            plotly_chart(
                image_grid(
                    grid, [dataset.classes[int(dataset.targets[i])] for i in idx], cols=6, cell_px=90, zmin=0, zmax=1
                ),
                key="t_examples",
            )
        elif isinstance(dataset, TextDataset):
            st.dataframe(
                pd.DataFrame(
                    {
                        "label": [dataset.classes[int(dataset.targets[i])] for i in idx[:8]],
                        "text": [shorten(dataset.texts[i], 160) for i in idx[:8]],
                    }
                ),
                hide_index=True,
                key="t_text_examples",
            )
        elif isinstance(dataset, SequenceDataset):
            fig = sequence_example_figure(dataset, idx[0])
            plotly_chart(fig, key="t_sequence_example")
        elif isinstance(dataset, AudioDataset):
            audio_examples(dataset, idx, key="t_audio_examples")
    with c2:
        plotly_chart(class_balance_figure(counts, dataset.classes), key="t_balance")

tokenizer: TokenizerOptions | None = None
if modality == "text":
    st.subheader("Tokenizer")
    st.caption(
        "Trained on the training part only (validation words it never saw stay unknown). "
        f"Defaults come from {dataset_name}; char suits bit strings and brackets, word or BPE suits prose."
    )
    c1, c2, c3, c4 = st.columns(4)
    if st.session_state.t_tok_kind not in TOKENIZER_KINDS:
        st.session_state.t_tok_kind = "word"
    kind = c1.selectbox("Tokenizer", list(TOKENIZER_KINDS), format_func=TOKENIZER_KINDS.get, key="t_tok_kind")
    vocab_size = int(c2.number_input("Vocabulary size (most tokens kept)", 3, 200_000, step=1000, key="t_tok_vocab"))
    max_length = int(c3.number_input("Max length (tokens per text)", 1, 100_000, step=16, key="t_tok_len"))
    lowercase = c4.checkbox("Lower-case", key="t_tok_lower", disabled=kind == "char")
    try:
        tokenizer = TokenizerOptions(kind=kind, vocab_size=vocab_size, max_length=max_length, lowercase=lowercase)
    except ValueError as exc:
        show_error(exc, "use these tokenizer settings")

# ---------------------------------------------------------------- model and optimisation
st.subheader("Model")
arch_names = [n for n, s in MODELS.items() if s.accepts(modality)]
if not arch_names:
    st.info(f"No architecture takes {MODALITIES[modality].lower()} yet.")
    st.stop()
if st.session_state.t_arch not in arch_names:
    preferred = DEFAULT_ARCH.get(modality)
    st.session_state.t_arch = preferred if preferred in arch_names else arch_names[0]
arch = st.selectbox("Architecture", arch_names, key="t_arch", on_change=on_arch_change)
spec = MODELS.get(arch)
st.caption(f"{spec.description}  \nSource: {spec.source}")
if spec.text_preprocessing is not None:
    st.caption(
        f"{arch} keeps its own pretrained tokenizer: of the tokenizer settings above only the max length applies "
        "(capped at the model's own). Its pretrained weights train with a new head; freezing the backbone is much faster."
    )
finetune = False
freeze = False
if spec.weights and modality in ("image", "audio"):
    what = f"the shipped {spec.weights[0]} model" if modality == "audio" else f"pretrained {spec.weights[0]} weights"
    finetune = st.checkbox(f"Fine-tune from {what} (new head for this dataset's classes)", key=f"t_ft_{arch}")
    if finetune and modality == "audio":
        st.caption(
            "The clips are heard as the pretrained model hears them: its sample rate, window and spectrogram "
            "settings, and the statistics it was standardised with."
        )
    if finetune:
        freeze = st.checkbox("Freeze the backbone (train the head only)", value=True, key=f"t_freeze_{arch}")
if spec.text_preprocessing is not None:
    freeze = st.checkbox("Freeze the pretrained encoder (train the head only)", value=True, key=f"t_freeze_{arch}")
hparams = {} if finetune else hparam_inputs(spec, "t", defaults=model_hparams_for(dataset_name, arch))
if modality == "sequence" and "embedding_dim" in hparams:
    hparams.pop("embedding_dim")  # numeric features go straight into the recurrent layer: no embedding

st.subheader("Training")
st.caption(f"Defaults: {dataset_name}'s preferred settings; the ones you change are kept when you switch datasets.")
c1, c2, c3, c4 = st.columns(4)
epochs = int(c1.number_input("Epochs", 1, 500, key="t_epochs"))
batch_size = int(c2.select_slider("Batch size", with_value(BATCH_SIZES, st.session_state.t_bs), key="t_bs"))
optimizer = c3.selectbox("Optimizer", ["adam", "adamw", "sgd"], key="t_opt")
lr = float(c4.select_slider("Learning rate", with_value(LEARNING_RATES, st.session_state.t_lr), key="t_lr"))
c1, c2, c3, c4 = st.columns(4)
schedule = c1.selectbox("Schedule", ["constant", "cosine", "step"], key="t_sched")
weight_decay = float(c2.select_slider("Weight decay", with_value(WEIGHT_DECAYS, st.session_state.t_wd), key="t_wd"))
device = c3.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="t_device")
amp = c4.checkbox("Mixed precision (CUDA only)", key="t_amp")
flip = crop = False
rotation = 0.0
if modality == "image":
    c1, c2, c3 = st.columns(3)
    flip = c1.checkbox("Augment: horizontal flip", key="t_flip")
    crop = c2.checkbox("Augment: random crop", key="t_crop")
    rotation = float(c3.slider("Augment: rotation (degrees)", 0, 45, key="t_rot"))
nproc = int(
    st.columns(4)[0].number_input(
        "Processes (data-parallel)",
        1,
        max(os.cpu_count() or 1, torch.cuda.device_count()),
        key="t_nproc",
        help="Above 1 the run trains under torchrun with PyTorch's DistributedDataParallel: gloo on the CPU, "
        "nccl with one GPU per process on CUDA. Rank 0 writes the metrics and the checkpoint.",
    )
)
if nproc > 1:
    st.caption(
        f"Each of the {nproc} processes takes {batch_size} / {nproc} ≈ {batch_size / nproc:.1f} examples of every "
        f"batch of {batch_size}, and the gradients are averaged, so the run follows the batch size you set. "
        "BatchNorm layers use statistics over the whole batch on CUDA (SyncBatchNorm) and over each process's "
        "share on the CPU."
    )
augment_audio = False
if modality == "audio":
    augment_audio = st.checkbox(
        "Augment: time shift, gain, background noise and SpecAugment masks",
        key="t_aug_audio",
        help="A fresh random draw per clip and epoch; it helps most on voices the model never heard.",
    )

ready = split is not None and (modality != "text" or tokenizer is not None)
start = st.button(
    "Start training", type="primary", disabled=running or not ready, key="t_start", icon=":material/play_arrow:"
)
if start and split is not None and dataset is not None:
    try:
        files_of_run = run_options.pop("files", {})
        run_spec = RunSpec.resolve(
            arch,
            dataset_name,
            weights=MODELS.get(arch).weights[0] if finetune else None,
            hparams=hparams,
            tokenizer=asdict(tokenizer) if tokenizer is not None else None,
            dataset_options=run_options,
            dataset_files=files_of_run,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            schedule=schedule,
            val_fraction=val_fraction,
            augment_flip=flip,
            augment_crop=crop,
            augment_rotation=rotation,
            augment_audio=augment_audio,
            seed=seed,
            device=device,
            amp=amp,
            freeze_backbone=freeze,
            nproc_per_node=nproc,
        )
        # The run trains in a worker process of its own (the server stays free for every user);
        # its folder under the runs directory is what this page and the Runs page read.
        job = RunJob.start(run_spec, default_runs_dir(), split, files=run_files)
        st.session_state.job = job
        st.session_state.job_saved = None
    except (ValueError, TypeError, OSError) as exc:
        show_error(exc, "start training")
    else:
        # Once more from the top: the sidebar, drawn before this click was handled, still shows the
        # previous run ("Training: done"), and the results of that run are below.
        st.rerun()


# ---------------------------------------------------------------- live view
#: Seconds between redraws of the live view. Every 2 s, not 1: on 2 cores the server's rerun and the
#: browser's redraw of the curves took the CPU the worker trains on (bench/bench_app.py: a run with
#: the page open did 0.68x the samples/s of one with the page closed at 1 s, 0.97-1.01x at 2 s).
LIVE_VIEW_S = 2.0


# Poll only while a run is going: an idle page must not rerun every second.
@st.fragment(run_every=LIVE_VIEW_S if running else None)
def live_view() -> None:
    """Polls the run's folder every ``LIVE_VIEW_S`` seconds; the worker process never touches Streamlit."""
    job: RunJob | None = st.session_state.get("job")
    if job is None:
        return
    status = job.status
    progress = job.progress
    if status in ("pending", "running"):
        cols = st.columns([4, 1])
        if progress is not None:
            share = progress.step / max(1, progress.total_steps)
            cols[0].progress(
                min(1.0, share),
                text=f"epoch {progress.epoch} · step {progress.step}/{progress.total_steps} · "
                f"loss {progress.loss:.4f} · {progress.samples_per_s:,.0f} samples/s · ETA {progress.eta_s:,.0f} s",
            )
        elif status == "pending":
            place = job.queue_position
            ahead = f"{place} run(s) ahead of it" if place else "starting"
            cols[0].progress(0.0, text=f"queued ({ahead}): one run trains at a time on this machine")
        else:
            cols[0].progress(0.0, text="starting the worker process and preparing data…")
        if cols[1].button("Stop", icon=":material/stop:", key="t_stop"):
            job.stop()
            st.toast("Stopping at the next batch; the last good weights are kept.")
        st.caption(f"Run folder: `{job.run.path}`: it keeps training if you leave or reload this page.")
        st.page_link(
            "pages/runs.py", label="Follow and compare runs on the Runs page", icon=":material/format_list_bulleted:"
        )
    history = [h.to_dict() for h in job.history]
    steps = progress.steps_per_epoch if progress is not None else None
    # Once there is a result, its own curves are drawn below: do not show the same curves twice.
    if (history or job.batch_losses) and job.result is None:
        plotly_chart(training_curves(history, job.batch_losses, steps), key="t_curves")
    if running and status not in ("pending", "running"):
        # The run ended since the page was drawn: redraw the whole page with the results below
        # (that run has running=False, so it neither polls nor reruns again).
        finalize_job()
        st.rerun()


live_view()

# ---------------------------------------------------------------- results
job = st.session_state.get("job")
if job is not None and job.status in ("done", "stopped", "failed"):
    saved = finalize_job()
    if job.status == "failed":
        st.error(f"Training failed: {job.error_message}", icon=":material/error:")
    result = job.result
    if result is not None:
        run_spec = job.run.spec()
        st.subheader(
            f"Result of the last run: {run_spec.model} on {run_spec.dataset}"
            + (" (stopped early)" if result.stopped else "")
        )
        if (run_spec.dataset, run_spec.model) != (dataset_name, arch):
            st.info(
                f"This is the last run's result ({run_spec.model} on {run_spec.dataset}); the form above is set up "
                f"for {arch} on {dataset_name}. Start training to replace it.",
                icon=":material/history:",
            )
        if result.history:
            plotly_chart(training_curves([h.to_dict() for h in result.history]), key="t_final_curves")
        m = result.metrics
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Validation accuracy", f"{m.get('val_accuracy', float('nan')):.2%}")
        c2.metric("Validation loss", f"{m.get('val_loss', float('nan')):.4f}")
        c3.metric("Epochs", m.get("epochs_completed", len(result.history)))
        c4.metric("Samples / s", f"{m.get('samples_per_s', 0):,.0f}")
        if saved is not None:
            st.caption(f"Checkpoint saved to `{saved}`")
        for note in result.notes:
            st.caption(note)
        if st.button("Use this model on every page", type="primary", key="t_use"):
            named = model_link("checkpoint", checkpoint_name(saved)) if saved else None
            set_active_model(result.bundle, f"trained here ({saved.name if saved else 'unsaved'})", named)  # reruns
        ev = result.evaluation
        if ev is not None:
            labels = result.bundle.labels
            c1, c2 = st.columns(2)
            plotly_chart(confusion_matrix_figure(ev.confusion, labels), key="t_cm", where=c1)
            plotly_chart(
                per_class_bar(np.nan_to_num(ev.per_class_accuracy), labels, "per-class accuracy (validation)"),
                key="t_pc",
                where=c2,
            )
            wrong = mistakes(ev, job.split.val_indices, labels, limit=16)
            trained_on = job.split.dataset
            if wrong and isinstance(trained_on, AudioDataset):
                audio_mistakes(trained_on, wrong)
            elif wrong and isinstance(trained_on, ImageDataset):
                images, _ = job.split.val_tensors()
                grid = to_display(images[[m.position for m in wrong]])  # (n, H, W[, 3]) in [0, 1]
                titles = [f"{m.true}→{m.predicted} {m.confidence:.0%}" for m in wrong]
                st.markdown("**Misclassified validation images** (true → predicted, confidence), most confident first")
                plotly_chart(image_grid(grid, titles, cols=8, cell_px=100, zmin=0, zmax=1), key="t_wrong")
            elif wrong and trained_on is not None:
                is_text = isinstance(trained_on, TextDataset)
                rows = [
                    {
                        "true": m.true,
                        "predicted": m.predicted,
                        "confidence": m.confidence,
                        **({"text": shorten(trained_on.texts[m.index], 200)} if is_text else {"example": m.index}),
                    }
                    for m in wrong
                ]
                kind = "texts" if is_text else "sequences"
                st.markdown(f"**Misclassified validation {kind}** (most confident first)")
                st.dataframe(
                    pd.DataFrame(rows),
                    hide_index=True,
                    key="t_wrong_table",
                    column_config={"confidence": st.column_config.NumberColumn(format="percent")},
                )
            elif not wrong:
                st.caption("No validation example was misclassified.")
