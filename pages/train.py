"""Train: pick data and a model, train in the background with live curves, inspect the result."""

import hashlib

import numpy as np
import streamlit as st

from playground.bundle import create_bundle_for_dataset
from playground.data import DATASETS, DatasetUnavailableError, ImageDataset, load_dataset, split_dataset
from playground.models import MODELS
from playground.training import TrainConfig, TrainingJob
from playground.viz import (
    class_balance_figure,
    confusion_matrix_figure,
    image_grid,
    per_class_bar,
    to_display,
    training_curves,
)
from ui.pages import ensure_app_entry
from ui.state import TRAIN_FORM_DEFAULTS, cached_dataset, finalize_job, set_active_model, show_error
from ui.widgets import NO_MODEBAR, hparam_inputs

ensure_app_entry()
st.title("Train")
# The form's defaults; kept in session state so the form survives visits to other pages (see
# ui.state.keep_widget_state). Widgets below take their values from here, not from `value=`.
for key, default in TRAIN_FORM_DEFAULTS.items():
    st.session_state.setdefault(key, default)
job: TrainingJob | None = st.session_state.get("job")
running = job is not None and job.status in ("pending", "running")

# ---------------------------------------------------------------- data
st.subheader("Data")
names = [n for n, s in DATASETS.items() if s.modality == "image"]
dataset_name = st.selectbox(
    "Dataset",
    names,
    format_func=lambda n: n if DATASETS.get(n).offline() else f"{n} (needs a download)",
    key="t_dataset",
)
dspec = DATASETS.get(dataset_name)
st.caption(f"{dspec.description}  \nSource: {dspec.source}")

dataset: ImageDataset | None = None
try:
    if dataset_name == "folder":
        upload = st.file_uploader("A .zip with one folder per class (e.g. cats/…, dogs/…)", type=["zip"], key="t_zip")
        side = st.select_slider("Resize images to (px)", [32, 48, 64, 96, 128], value=64, key="t_zip_side")
        if upload is not None:
            data = upload.getvalue()
            digest = hashlib.sha256(data).hexdigest() + f"-{side}"
            held = st.session_state.get("folder_dataset")
            if held is None or held[0] != digest:
                with st.spinner("Extracting and decoding images…"):
                    st.session_state.folder_dataset = (digest, load_dataset("folder", zip_bytes=data, image_size=side))
            dataset = st.session_state.folder_dataset[1]
    else:
        dataset = cached_dataset(dataset_name)
except (DatasetUnavailableError, ValueError, OSError) as exc:
    show_error(exc, f"load {dataset_name}")

val_fraction = st.slider("Validation fraction", 0.05, 0.5, step=0.05, key="t_val")
seed = int(st.number_input("Seed", 0, 2**31 - 1, key="t_seed"))
split = None
if dataset is not None:
    try:
        split = split_dataset(dataset, val_fraction, seed)
    except ValueError as exc:
        show_error(exc, "split the dataset")
if dataset is not None and split is not None:
    counts = split.class_counts()
    c1, c2 = st.columns([2, 3])
    with c1:
        st.markdown(
            f"**{len(dataset):,} images** · {dataset.channels} channel(s) · "
            f"{dataset.image_size[0]}×{dataset.image_size[1]} px · {len(dataset.classes)} classes  \n"
            f"train {len(split.train_indices):,} · validation {len(split.val_indices):,}"
        )
        if dataset.info:
            st.caption(" · ".join(f"{k}: {v}" for k, v in dataset.info.items()))
        rng = np.random.default_rng(0)
        idx = rng.choice(len(dataset), size=min(12, len(dataset)), replace=False)
        grid = to_display(dataset.images[idx])  # (n, H, W[, 3]) in [0, 1]
        st.plotly_chart(
            image_grid(
                grid, [dataset.classes[int(dataset.targets[i])] for i in idx], cols=6, cell_px=90, zmin=0, zmax=1
            ),
            key="t_examples",
            config=NO_MODEBAR,
        )
    with c2:
        st.plotly_chart(class_balance_figure(counts, dataset.classes), key="t_balance")

# ---------------------------------------------------------------- model and optimisation
st.subheader("Model")
cnn_names = [n for n, s in MODELS.items() if s.modality == "image"]
arch = st.selectbox("Architecture", cnn_names, key="t_arch")
spec = MODELS.get(arch)
st.caption(f"{spec.description}  \nSource: {spec.source}")
finetune = False
freeze = False
if spec.weights:
    finetune = st.checkbox(
        f"Fine-tune from pretrained {spec.weights[0]} weights (new head for this dataset's classes)", key=f"t_ft_{arch}"
    )
    if finetune:
        freeze = st.checkbox("Freeze the backbone (train the head only)", value=True, key=f"t_freeze_{arch}")
hparams = {} if finetune else hparam_inputs(spec, "t")

st.subheader("Training")
c1, c2, c3, c4 = st.columns(4)
epochs = int(c1.number_input("Epochs", 1, 500, key="t_epochs"))
batch_size = int(c2.select_slider("Batch size", [8, 16, 32, 64, 128, 256, 512], key="t_bs"))
optimizer = c3.selectbox("Optimizer", ["adam", "adamw", "sgd"], key="t_opt")
lr = float(c4.select_slider("Learning rate", [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], key="t_lr"))
c1, c2, c3, c4 = st.columns(4)
schedule = c1.selectbox("Schedule", ["constant", "cosine", "step"], key="t_sched")
weight_decay = float(c2.select_slider("Weight decay", [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 1e-2], key="t_wd"))
device = c3.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="t_device")
amp = c4.checkbox("Mixed precision (CUDA only)", key="t_amp")
c1, c2, c3 = st.columns(3)
flip = c1.checkbox("Augment: horizontal flip", key="t_flip")
crop = c2.checkbox("Augment: random crop", key="t_crop")
rotation = float(c3.slider("Augment: rotation (degrees)", 0, 45, key="t_rot"))

start = st.button(
    "Start training", type="primary", disabled=running or split is None, key="t_start", icon=":material/play_arrow:"
)
if start and split is not None and dataset is not None:
    try:
        config = TrainConfig(
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
            seed=seed,
            device=device,
            amp=amp,
            freeze_backbone=freeze,
        )
        bundle = create_bundle_for_dataset(
            arch,
            dataset.classes,
            dataset.channels,
            max(dataset.image_size),
            weights=spec.weights[0] if finetune else None,
            hparams=hparams,
        )
        job = TrainingJob(bundle, split, config)
        job.start()
        st.session_state.job = job
        st.session_state.job_saved = None
        running = True
    except (ValueError, TypeError, OSError) as exc:
        show_error(exc, "start training")


# ---------------------------------------------------------------- live view
# Poll only while a run is going: an idle page must not rerun every second.
@st.fragment(run_every=1.0 if running else None)
def live_view() -> None:
    """Polls the job once a second; the worker thread never touches Streamlit."""
    job: TrainingJob | None = st.session_state.get("job")
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
        else:
            cols[0].progress(0.0, text="preparing data…")
        if cols[1].button("Stop", icon=":material/stop:", key="t_stop"):
            job.stop()
            st.toast("Stopping at the next batch; the last good weights are kept.")
    history = [h.to_dict() for h in job.history]
    steps = progress.steps_per_epoch if progress is not None else None
    # Once there is a result, its own curves are drawn below: do not show the same curves twice.
    if (history or job.batch_losses) and job.result is None:
        st.plotly_chart(training_curves(history, job.batch_losses, steps), key="t_curves")
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
        st.subheader("Result" + (" (stopped early)" if result.stopped else ""))
        if result.history:
            st.plotly_chart(training_curves([h.to_dict() for h in result.history]), key="t_final_curves")
        m = result.metrics
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Validation accuracy", f"{m.get('val_accuracy', float('nan')):.2%}")
        c2.metric("Validation loss", f"{m.get('val_loss', float('nan')):.4f}")
        c3.metric("Epochs", m.get("epochs_completed", len(result.history)))
        c4.metric("Samples / s", f"{m.get('samples_per_s', 0):,.0f}")
        if saved is not None:
            st.caption(f"Checkpoint saved to `{saved}`")
        if st.button("Use this model on every page", type="primary", key="t_use"):
            set_active_model(result.bundle, f"trained here ({saved.name if saved else 'unsaved'})")  # reruns the app
        ev = result.evaluation
        if ev is not None:
            labels = result.bundle.labels
            c1, c2 = st.columns(2)
            c1.plotly_chart(confusion_matrix_figure(ev.confusion, labels), key="t_cm")
            c2.plotly_chart(
                per_class_bar(np.nan_to_num(ev.per_class_accuracy), labels, "per-class accuracy (validation)"),
                key="t_pc",
            )
            wrong = list(ev.misclassified[:16])
            if wrong and job.split is not None:
                images, _ = job.split.val_tensors()
                grid = to_display(images[wrong])  # (n, H, W[, 3]) in [0, 1]
                titles = [
                    f"{labels[int(ev.targets[i])]}→{labels[int(ev.predictions[i])]} {ev.probs[i].max():.0%}"
                    for i in wrong
                ]
                st.markdown("**Misclassified validation images** (true → predicted, confidence), most confident first")
                st.plotly_chart(
                    image_grid(grid, titles, cols=8, cell_px=100, zmin=0, zmax=1), key="t_wrong", config=NO_MODEBAR
                )
