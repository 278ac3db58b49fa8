"""Robustness: corruptions, adversarial attacks, severity sweeps and model comparison."""

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from playground.bundle import Bundle, load_bundle
from playground.bundle.runs import checkpoint_folders, list_checkpoints
from playground.core.csv_export import csv_bytes
from playground.data import DATASETS, split_dataset
from playground.figures.viz import image_grid, robust_accuracy_figure, sweep_figure, to_display, topk_bar
from playground.inspection.predict import predict_pixels
from playground.robustness.attacks import AttackConfig, attack, min_flip_severity
from playground.robustness.ensemble import make_ensemble
from playground.robustness.perturbations import PERTURBATIONS, image_perturbations, perturb_images
from playground.robustness.robust_curve import robust_accuracy
from playground.robustness.sweep import (
    attribution_map,
    compare_sweeps,
    corruption_errors,
    explanation_drift,
    sample_indices,
)
from playground.runner.jobs import BackgroundJob
from ui.audio_robustness import audio_robustness_section
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry
from ui.state import active_model, cached_dataset, session_memo, show_error, tensor_key
from ui.text_robustness import text_robustness_section
from ui.widgets import background_job_progress, input_image_picker, perturbation_picker

ensure_app_entry()
st.title("Robustness")
bundle = active_model().bundle
if bundle.modality == "audio":
    audio_robustness_section(bundle)
    st.stop()
if bundle.modality == "text":
    text_robustness_section(bundle)
    st.stop()
if bundle.modality != "image" or bundle.card.in_channels not in (1, 3):
    st.info(
        f"The Robustness page works on image, text and audio models, and {bundle.title} takes {bundle.modality} input. "
        "Pick an image model on the Models page.",
        icon=":material/info:",
    )
    st.stop()
st.caption(f"Model: **{bundle.title}**. Perturbations act on raw pixels in [0, 1], before the model's normalization.")

names = image_perturbations()


one_tab, attack_tab, sweep_tab = st.tabs(["One input", "Adversarial attack", "Sweep & compare models"])

# ---------------------------------------------------------------- one input
with one_tab:
    image, image_name = input_image_picker(bundle, key="r_input")
    pixels = bundle.image_preprocessing.pixels_from_pil(image).unsqueeze(0)  # (1, C, H, W) in [0, 1]
    name, severity, seed = perturbation_picker(names, "r")
    spec = PERTURBATIONS.get(name)

    def perturb_and_predict() -> tuple[torch.Tensor, Any, Any]:
        perturbed = perturb_images(name, pixels, severity, seed=seed)  # (1, C, H, W)
        return perturbed, *predict_pixels(bundle, torch.cat([pixels, perturbed]), top_k=5)

    try:  # once per image, perturbation, severity and seed: the magnifier below only redraws
        perturbed, original_pred, perturbed_pred = session_memo(
            "r_one", (tensor_key(pixels), name, severity, seed), perturb_and_predict, anchor=bundle.model
        )
    except (ValueError, RuntimeError) as exc:
        show_error(exc, "run the model")
        st.stop()
    preds = [original_pred]
    pert_top = perturbed_pred.top_k
    gain = st.select_slider(
        "Magnify the difference", [1, 2, 5, 10, 20], value=5, key=link("r_gain", choices=[1, 2, 5, 10, 20])
    )
    diff = ((perturbed - pixels).abs() * gain).clamp(0, 1)[0]
    a, b, c = st.columns(3)
    a.image(to_display(pixels[0]), caption=f"original: {preds[0].top_k[0].label}", width="stretch", clamp=True)
    b.image(to_display(perturbed[0]), caption=f"perturbed: {pert_top[0].label}", width="stretch", clamp=True)
    c.image(to_display(diff), caption=f"|difference| × {gain}", width="stretch", clamp=True)
    a, b = st.columns(2)
    plotly_chart(topk_bar(preds[0].top_k, "original"), key="r_top_orig", where=a)
    plotly_chart(topk_bar(pert_top, "perturbed"), key="r_top_pert", where=b)
    if preds[0].top_k[0].index != pert_top[0].index:
        st.warning(
            f"The prediction flips: {preds[0].top_k[0].label} → {pert_top[0].label}.", icon=":material/swap_horiz:"
        )

    # The two buttons' results stay on the page until the image, perturbation or model changes
    # (a later click elsewhere reruns the page; before, the results vanished with it).
    kept: dict[str, tuple[object, tuple[object, ...], Any]] = st.session_state.setdefault("r_kept", {})
    flip_key = (tensor_key(pixels), name, seed)
    drift_key = (*flip_key, severity)
    c1, c2 = st.columns(2)
    with c1:
        if st.button("Find the smallest severity that flips the prediction", key="r_minflip"):
            kept.pop("flip", None)
            with st.spinner("Searching severities 0 → 5 in steps of 0.1…"):
                try:
                    kept["flip"] = (bundle.model, flip_key, min_flip_severity(bundle, pixels, name, seed=seed))
                except (ValueError, RuntimeError) as exc:
                    show_error(exc, "search the severities")
        held = kept.get("flip")
        if held is not None and held[0] is bundle.model and held[1] == flip_key:
            found = held[2]
            if found is None:
                st.success(f"No severity up to 5 flips the prediction under {name}.")
            else:
                st.info(
                    f"The prediction first changes at severity **{found:.1f}** ({spec.level(found):.3g} {spec.unit})."
                )
    with c2:
        if st.button("Explanation drift (saliency, original vs perturbed)", key="r_drift"):
            kept.pop("drift", None)
            target = preds[0].top_k[0].index
            try:
                rho = explanation_drift(bundle, pixels, perturbed, target)
                maps = np.stack(
                    [
                        attribution_map(bundle, pixels, target).numpy(),
                        attribution_map(bundle, perturbed, target).numpy(),
                    ]
                )  # (2, H, W)
            except (ValueError, RuntimeError) as exc:
                show_error(exc, "compute the explanations")
            else:
                kept["drift"] = (bundle.model, drift_key, (rho, maps))
        held = kept.get("drift")
        if held is not None and held[0] is bundle.model and held[1] == drift_key:
            rho, maps = held[2]
            st.metric("Spearman rank correlation of the saliency maps", f"{rho:.3f}")
            plotly_chart(
                image_grid(maps, ["original", "perturbed"], cols=2, colorscale="Inferno", cell_px=260),
                key="r_drift_maps",
            )

# ---------------------------------------------------------------- adversarial attack
with attack_tab:
    st.markdown(
        "FGSM and PGD through Captum's robust module, in the **[0, 1] pixel space of the raw input** "
        "with the model's normalization inside the attacked function. ε is in 1/255 units."
    )
    image, image_name = input_image_picker(bundle, key="r_att_input")
    pixels = bundle.image_preprocessing.pixels_from_pil(image).unsqueeze(0)  # (1, C, H, W)
    c1, c2, c3, c4 = st.columns(4)
    method = c1.selectbox("Method", ["pgd", "fgsm"], key=link("r_method", choices=["pgd", "fgsm"]))
    norms = ["Linf", "L2"] if method == "pgd" else ["Linf"]
    norm = c2.selectbox("Norm", norms, key=link("r_norm", choices=norms))
    epsilon = float(
        c3.number_input(
            "ε (1/255 units)", 0.0, 255.0 * 60, 8.0, 1.0, key=link("r_eps", bounds=(0.0, 255.0 * 60), kind=float)
        )
    )
    steps = int(
        c4.number_input(
            "PGD steps", 1, 500, 40, key=link("r_steps", bounds=(1, 500), kind=int), disabled=method != "pgd"
        )
    )
    targeted = st.checkbox("Targeted: push towards a chosen class", key=link("r_targeted", kind=bool))
    target_class = None
    if targeted:
        target_class = st.selectbox(
            "Target class",
            range(len(bundle.labels)),
            format_func=lambda i: bundle.labels[i],
            key=link("r_target", choices=range(len(bundle.labels))),
        )
    if st.button("Run the attack", type="primary", key="r_attack"):
        try:
            config = AttackConfig(
                method=method, epsilon_255=epsilon, norm=norm, steps=steps, targeted=targeted, target_class=target_class
            )
            with st.spinner(f"{method.upper()} on {image_name}…"):
                st.session_state.r_attack_result = attack(bundle, pixels, None, config)
        except (ValueError, RuntimeError) as exc:
            show_error(exc, "run the attack")
    result = st.session_state.get("r_attack_result")
    if result is not None and result.clean.shape == pixels.shape:
        clean_top = int(result.clean_pred[0])
        adv_top = int(result.adv_pred[0])
        m1, m2, m3 = st.columns(3)
        m1.metric("Clean prediction", bundle.labels[clean_top], f"{float(result.clean_probs[0, clean_top]):.1%}")
        m2.metric("Adversarial prediction", bundle.labels[adv_top], f"{float(result.adv_probs[0, adv_top]):.1%}")
        m3.metric("L∞ / L2 of the change", f"{float(result.linf[0]) * 255:.1f}/255 · {float(result.l2[0]):.3f}")
        gain = st.select_slider(
            "Magnify the difference", [1, 5, 10, 20, 50], value=10, key=link("r_att_gain", choices=[1, 5, 10, 20, 50])
        )
        a, b, c = st.columns(3)
        a.image(to_display(result.clean[0]), caption="original", width="stretch", clamp=True)
        b.image(to_display(result.adversarial[0]), caption="adversarial", width="stretch", clamp=True)
        diff = ((result.adversarial - result.clean).abs() * gain).clamp(0, 1)[0]
        c.image(to_display(diff), caption=f"|difference| × {gain}", width="stretch", clamp=True)
        if bool(result.success[0]):
            st.warning("The attack succeeded.", icon=":material/gpp_bad:")
        else:
            st.success("The model held: the prediction did not change.", icon=":material/verified_user:")

# ---------------------------------------------------------------- sweep and compare
with sweep_tab:
    offline = [n for n, s in DATASETS.items() if s.modality == "image" and n != "folder" and s.offline()]
    default_ds = (
        bundle.card.dataset if bundle.card.dataset in offline else ("mnist" if "mnist" in offline else offline[0])
    )
    c1, c2, c3 = st.columns(3)
    dataset_name = c1.selectbox("Dataset", offline, index=offline.index(default_ds), key=link("r_ds", choices=offline))
    n_samples = int(
        c2.select_slider(
            "Validation images",
            [50, 100, 200, 500, 1000],
            value=200,
            key=link("r_n", choices=[50, 100, 200, 500, 1000]),
        )
    )
    sweep_seed = int(c3.number_input("Seed", 0, 10_000, 0, key=link("r_sweep_seed", bounds=(0, 10_000), kind=int)))
    chosen = st.multiselect(
        "Perturbations",
        names,
        default=[n for n in ("gaussian_noise", "gaussian_blur", "rotation") if n in names],
        key=link("r_perts", choices=names, kind=list),
    )
    severities = st.multiselect(
        "Severities", [0, 1, 2, 3, 4, 5], default=[0, 1, 2, 3, 4, 5], key=link("r_sevs", choices=range(6), kind=list)
    )
    checkpoints = list_checkpoints(checkpoint_folders())
    ck_labels = {str(c.path): f"{c.title} ({c.path.name})" for c in checkpoints}
    compare = st.multiselect(
        "Compare with saved checkpoints (same classes)",
        list(ck_labels),
        format_func=lambda p: ck_labels[p],
        key="r_cmp",
    )
    use_ensemble = st.checkbox(
        "Add an ensemble of the active model and the chosen checkpoints", key=link("r_ens", kind=bool)
    )

    def models_and_sample() -> tuple[list[tuple[str, Bundle]], torch.Tensor, torch.Tensor]:
        """The models chosen above (active, checkpoints, ensemble) and the validation sample, checked."""
        models: list[tuple[str, Bundle]] = [(bundle.title, bundle)]
        for path in compare:
            other = load_bundle(path)
            models.append((f"{other.title} ({path.split('/')[-1]})", other))
        if use_ensemble:
            if len(models) < 2:
                raise ValueError("an ensemble needs at least one checkpoint besides the active model")
            models.append(("ensemble", make_ensemble([m for _, m in models], title="ensemble")))
        data = cached_dataset(dataset_name)
        val_images, val_targets = split_dataset(data, 0.1, 0).val_tensors()
        keep = sample_indices(len(val_images), min(n_samples, len(val_images)), sweep_seed)
        for title, m in models:
            if len(m.labels) != len(data.classes):
                raise ValueError(f"{title} has {len(m.labels)} classes but {dataset_name} has {len(data.classes)}")
        return models, val_images[keep], val_targets[keep]

    job: BackgroundJob | None = st.session_state.get("r_job")
    running = job is not None and job.status == "running"
    if st.button("Run the sweep", type="primary", disabled=running or not chosen or not severities, key="r_run"):
        try:
            models, images, targets = models_and_sample()
            sevs = sorted(float(s) for s in severities)

            def work(on_progress, stop_event):  # type: ignore[no-untyped-def]
                return compare_sweeps(
                    models,
                    images,
                    targets,
                    chosen,
                    sevs,
                    seed=sweep_seed,
                    on_progress=on_progress,
                    stop_event=stop_event,
                )

            # Results are cached per model, data sample and settings: the same request reuses them.
            key = hashlib.sha256(
                repr(
                    (dataset_name, n_samples, sweep_seed, chosen, sevs, [(t, id(m.model)) for t, m in models])
                ).encode()
            ).hexdigest()
            if job is not None and job.status == "done" and st.session_state.get("r_job_key") == key:
                st.toast("Same settings as the last sweep: showing its results.")
            else:
                st.session_state.r_job = BackgroundJob(work, "robustness sweep").start()
                st.session_state.r_job_key = key
        except (ValueError, TypeError, OSError, RuntimeError) as exc:
            show_error(exc, "start the sweep")

    background_job_progress("r_job", stop_label="Cancel", stop_key="r_cancel")
    job = st.session_state.get("r_job")
    if job is not None and job.status in ("done", "stopped") and job.result:
        results = job.result
        if job.status == "stopped":
            st.warning("The sweep was cancelled; the results below are partial.")
        rows = [{**row, "model": title} for title, r in results for row in r.to_rows()]
        metric = st.radio(
            "Metric",
            ["accuracy", "mean_true_confidence", "flip_rate"],
            horizontal=True,
            key=link("r_metric", choices=["accuracy", "mean_true_confidence", "flip_rate"]),
        )
        plotly_chart(sweep_figure(rows, metric), key="r_sweep_fig")
        table = pd.DataFrame(rows)
        st.dataframe(table, hide_index=True)
        st.download_button(
            "Download the table (CSV)",
            csv_bytes(table),
            "robustness_sweep.csv",
            "text/csv",
            key="r_csv",
        )
        if len(results) > 1 and not any(r.stopped for _, r in results):
            baseline_title, baseline = results[0]
            st.markdown(f"**Corruption error** (Hendrycks & Dietterich 2019), normalised to **{baseline_title}**")
            ce_rows = []
            for title, r in results:
                ce = corruption_errors(r, baseline)
                per = dict(zip(ce.corruptions, ce.ce, strict=True))
                ce_rows.append(
                    {
                        "model": title,
                        **{f"CE {k}": v for k, v in per.items()},
                        "mCE": ce.mce,
                        "relative mCE": ce.relative_mce,
                    }
                )
            st.dataframe(pd.DataFrame(ce_rows), hide_index=True)

    # ---------------------------------------------------------------- robust accuracy against ε
    st.subheader("Robust accuracy against ε")
    st.caption(
        "FGSM or PGD on every image of the sample above, at each budget ε (in 1/255 of the pixel range), for the "
        "same models: the curve robustness results are read from. ε = 0 is the clean accuracy."
    )
    c1, c2, c3 = st.columns(3)
    adv_method = c1.selectbox("Attack", ["pgd", "fgsm"], key=link("r_adv_method", choices=["pgd", "fgsm"]))
    adv_norms = ["Linf", "L2"] if adv_method == "pgd" else ["Linf"]
    adv_norm = c2.selectbox("Norm", adv_norms, key=link("r_adv_norm", choices=adv_norms))
    adv_steps = int(
        c3.number_input(
            "PGD steps", 1, 200, 20, key=link("r_adv_steps", bounds=(1, 200), kind=int), disabled=adv_method != "pgd"
        )
    )
    EPSILONS = [0, 1, 2, 4, 8, 16, 32, 76, 128]
    epsilons = st.multiselect(
        "ε (1/255)", EPSILONS, default=[0, 2, 4, 8, 16], key=link("r_adv_eps", choices=EPSILONS, kind=list)
    )
    adv_job: BackgroundJob | None = st.session_state.get("r_adv_job")
    adv_running = adv_job is not None and adv_job.status == "running"
    if st.button("Run the attacks", type="primary", disabled=adv_running or not epsilons, key="r_adv_run"):
        try:
            models, images, targets = models_and_sample()
            eps_sorted = sorted(float(e) for e in epsilons)

            def attacks(on_progress, stop_event):  # type: ignore[no-untyped-def]
                curves = []
                for i, (title, m) in enumerate(models):
                    pixels = m.image_preprocessing.pixels_from_batch(images)  # (n, C, H, W) at this model's size

                    def progress(done: int, total: int, message: str, i: int = i, title: str = title) -> None:
                        on_progress(i * total + done, len(models) * total, f"{title}: {message}")

                    curves.append(
                        (
                            title,
                            robust_accuracy(
                                m,
                                pixels,
                                targets,
                                eps_sorted,
                                method=adv_method,
                                norm=adv_norm,
                                steps=adv_steps,
                                on_progress=progress,
                                stop_event=stop_event,
                            ),
                        )
                    )
                return curves

            st.session_state.r_adv_job = BackgroundJob(attacks, "robust accuracy").start()
        except (ValueError, TypeError, OSError, RuntimeError) as exc:
            show_error(exc, "start the attacks")
    background_job_progress("r_adv_job", stop_label="Cancel", stop_key="r_adv_cancel", what="attack sweep")
    adv_job = st.session_state.get("r_adv_job")
    if adv_job is not None and adv_job.status in ("done", "stopped") and adv_job.result:
        adv_rows = [{**row, "model": title} for title, curve in adv_job.result for row in curve.rows()]
        if adv_job.status == "stopped":
            st.warning("The attacks were cancelled; the curves below are partial.")
        plotly_chart(robust_accuracy_figure(adv_rows), key="r_adv_fig")
        adv_table = pd.DataFrame(adv_rows)
        st.dataframe(
            adv_table, hide_index=True, column_config={"accuracy": st.column_config.NumberColumn(format="percent")}
        )
        st.download_button(
            "Download the table (CSV)", csv_bytes(adv_table), "robust_accuracy.csv", "text/csv", key="r_adv_csv"
        )
