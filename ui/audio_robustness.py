"""The Robustness page for audio models: one clip under a corruption, a severity sweep over the
dataset's validation clips, and FGSM / PGD on the waveform.

Every player gets WAV bytes (``wav_bytes``), never a numpy array: ``st.audio`` normalises arrays,
so a quiet perturbation would play loud.
"""

from __future__ import annotations

import dataclasses
import hashlib

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from playground.bundle import Bundle
from playground.core.csv_export import csv_bytes
from playground.core.device import model_device
from playground.data import DATASETS, AudioDataset
from playground.figures.theme import PALETTE, apply_theme
from playground.figures.viz import robust_accuracy_figure, sweep_figure, topk_bar
from playground.inspection.predict import TopK
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import DecodedAudio, wav_bytes
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.robustness.audio_attacks import amplitude_robust_accuracy, attack_waveform, snr_db
from playground.robustness.audio_sweep import audio_sweep, level_curve, validation_clips
from playground.robustness.perturbations import audio_perturbations, perturb_audio
from playground.robustness.sweep import SweepResult
from playground.runner.jobs import BackgroundJob
from ui.audio import audio_input_picker
from ui.charts import plotly_chart
from ui.links import link
from ui.state import cached_dataset, show_error
from ui.widgets import background_job_progress, perturbation_picker

DEFAULT_SWEEP = ("white_noise", "pink_noise", "reverb")
EPSILONS = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2]
JOB_KEY = "ra_job"


def audio_robustness_section(bundle: Bundle) -> None:
    """The three audio tabs of the Robustness page."""
    pre = bundle.preprocessing
    if not isinstance(pre, AudioPreprocessing):
        return
    st.caption(
        f"Model: **{bundle.title}** · {pre.sample_rate:,} Hz · a {pre.clip_seconds:g} s window. Perturbations act "
        "on the waveform the model sees (resampled, centred in the window, peak-normalized), before the features."
    )
    one_tab, sweep_tab, attack_tab = st.tabs(["One clip", "Sweep over the dataset", "Adversarial"])
    with one_tab:
        _one_clip(bundle, pre)
    with sweep_tab:
        _sweep(bundle, pre)
    with attack_tab:
        _adversarial(bundle, pre)
        _robust_curve(bundle)


# ---------------------------------------------------------------- helpers


def _window(pre: AudioPreprocessing, decoded: DecodedAudio) -> torch.Tensor:
    """The model's window of a decoded clip: ``(1, clip_samples)`` float32 at the model's rate."""
    return pre.fit_clips(AudioClips.from_list([decoded.waveform], decoded.sample_rate))


def _probs(bundle: Bundle, pre: AudioPreprocessing, windows: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities ``(B, K)`` on the CPU for fitted windows ``(B, clip_samples)``,
    as the sweep computes them (features straight from the window, no re-normalization)."""
    model = bundle.model
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(pre.encode(windows.to(model_device(model))))
    finally:
        model.train(was_training)
    return logits.float().softmax(dim=-1).cpu()


def _top(bundle: Bundle, probs: torch.Tensor, k: int = 5) -> list[TopK]:
    """The ``k`` most probable classes of one ``(K,)`` probability vector."""
    values, indices = probs.topk(min(k, probs.numel()))
    return [TopK(bundle.labels[int(j)], int(j), float(p)) for p, j in zip(values, indices, strict=True)]


def _digest(waveform: torch.Tensor) -> str:
    return hashlib.sha1(waveform.numpy().tobytes()).hexdigest()[:8]


def _db(value: float) -> str:
    return "no change" if value == float("inf") else f"{value:.1f} dB"


# ---------------------------------------------------------------- one clip


def _one_clip(bundle: Bundle, pre: AudioPreprocessing) -> None:
    picked = audio_input_picker("r_audio")
    if picked is None:
        return
    decoded, name = picked
    pert, severity, seed = perturbation_picker(audio_perturbations(), "ra")
    try:
        window = _window(pre, decoded)  # (1, S)
        perturbed = perturb_audio(pert, window, severity, seed, sample_rate=pre.sample_rate)  # (1, S)
        probs = _probs(bundle, pre, torch.cat([window, perturbed]))  # (2, K)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, "perturb and classify this clip")
        return
    original, changed = _top(bundle, probs[0]), _top(bundle, probs[1])
    st.markdown(
        f"**{name}** · original: **{original[0].label}** ({original[0].probability:.0%}) → "
        f"perturbed: **{changed[0].label}** ({changed[0].probability:.0%}) · the change is "
        f"{_db(snr_db(window[0], perturbed[0] - window[0]))} below the clip"
    )
    digest = _digest(perturbed[0])
    left, right = st.columns(2)
    with left:
        st.markdown("**Original** (the model's window)")
        st.audio(wav_bytes(window[0], pre.sample_rate), format="audio/wav")
        plotly_chart(topk_bar(original, "original"), key=f"ra_top_orig_{digest}")
    with right:
        st.markdown(f"**Perturbed**: {pert} at severity {severity:g}")
        st.audio(wav_bytes(perturbed[0], pre.sample_rate), format="audio/wav")
        plotly_chart(topk_bar(changed, "perturbed"), key=f"ra_top_pert_{digest}")
    if original[0].index != changed[0].index:
        st.warning(f"The prediction flips: {original[0].label} → {changed[0].label}.", icon=":material/swap_horiz:")


# ---------------------------------------------------------------- sweep


def _snr_figure(result: SweepResult, perturbation: str) -> go.Figure:
    """Accuracy against the SNR in dB of one noise perturbation (the identity drawn as the clean line)."""
    curve = [(level, p) for level, p in level_curve(result, perturbation) if p.severity > 0]
    fig = go.Figure(
        go.Scatter(
            x=[level for level, _ in curve],
            y=[p.accuracy for _, p in curve],
            mode="lines+markers",
            name=perturbation,
            line={"color": PALETTE[0]},
            hovertemplate="SNR %{x:g} dB<br>accuracy %{y:.1%}<extra></extra>",
        )
    )
    fig.add_hline(
        y=result.clean_accuracy,
        line_dash="dash",
        annotation_text=f"clean {result.clean_accuracy:.1%}",
        annotation_position="bottom left",
    )
    fig.update_xaxes(title="signal-to-noise ratio (dB) — louder noise to the right", autorange="reversed")
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%")
    return apply_theme(fig, title=f"Accuracy against SNR ({perturbation})", height=380)


def _labelled_dataset(bundle: Bundle, fallback: str) -> str | None:
    """The name of the offline audio dataset the model was trained on, or ``None`` (saying so)."""
    name = bundle.card.dataset
    spec = DATASETS.get(name) if name in DATASETS else None
    if spec is None or spec.modality != "audio" or not spec.offline():
        st.info(
            f"{bundle.title} was not trained on a dataset available offline here ({name or 'none recorded'}), "
            f"so there are no labelled clips to use. {fallback}",
            icon=":material/info:",
        )
        return None
    return name


def _validation_sample(bundle: Bundle, dataset_name: str, n: int, seed: int) -> tuple[AudioClips, torch.Tensor]:
    """``n`` validation clips of the model's dataset and their labels.

    Raises:
        ValueError: not an audio dataset, or other classes than the model's.
    """
    data = cached_dataset(dataset_name)
    if not isinstance(data, AudioDataset):
        raise ValueError(f"{dataset_name} is not an audio dataset")
    if len(data.classes) != len(bundle.labels):
        raise ValueError(f"{bundle.title} has {len(bundle.labels)} classes but {dataset_name} has {len(data.classes)}")
    return validation_clips(data, n, seed)


def _sweep(bundle: Bundle, pre: AudioPreprocessing) -> None:
    dataset_name = _labelled_dataset(bundle, "Use the One clip tab.")
    if dataset_name is None:
        return
    names = audio_perturbations()
    c1, c2 = st.columns([3, 1])
    n_clips = int(
        c1.slider(f"Validation clips of {dataset_name}", 50, 300, 100, 50, key=link("ra_n", bounds=(50, 300), kind=int))
    )
    sweep_seed = int(c2.number_input("Seed", 0, 10_000, 0, key=link("ra_sweep_seed", bounds=(0, 10_000), kind=int)))
    chosen = st.multiselect(
        "Perturbations",
        names,
        default=[n for n in DEFAULT_SWEEP if n in names],
        key=link("ra_perts", choices=names, kind=list),
    )
    severities = st.multiselect(
        "Severities", [0, 1, 2, 3, 4, 5], default=[0, 1, 2, 3, 4, 5], key=link("ra_sevs", choices=range(6), kind=list)
    )

    job: BackgroundJob | None = st.session_state.get(JOB_KEY)
    running = job is not None and job.status == "running"
    if st.button("Run the sweep", type="primary", disabled=running or not chosen or not severities, key="ra_run"):
        try:
            clips, targets = _validation_sample(bundle, dataset_name, n_clips, sweep_seed)
            sevs = sorted(float(s) for s in severities)
            perts = list(chosen)

            def work(on_progress, stop_event):  # type: ignore[no-untyped-def]
                return audio_sweep(
                    bundle, clips, targets, perts, sevs, seed=sweep_seed, on_progress=on_progress, stop_event=stop_event
                )

            st.session_state[JOB_KEY] = BackgroundJob(work, "audio robustness sweep").start()
        except (ValueError, TypeError, OSError, RuntimeError) as exc:
            show_error(exc, "start the sweep")

    background_job_progress(JOB_KEY, stop_label="Stop", stop_key="ra_stop")
    job = st.session_state.get(JOB_KEY)
    result: SweepResult | None = job.result if job is not None and job.status in ("done", "stopped") else None
    if result is None:
        return
    if result.stopped:
        st.warning("The sweep was stopped; the results below are partial.")
    st.metric(f"Clean accuracy ({result.n} validation clips)", f"{result.clean_accuracy:.1%}")
    rows = result.to_rows()
    if not rows:
        return
    metrics = ["accuracy", "mean_true_confidence", "flip_rate"]
    metric = st.radio("Metric", metrics, horizontal=True, key=link("ra_metric", choices=metrics))
    plotly_chart(sweep_figure(rows, metric), key="ra_sweep_fig")
    if any(r["perturbation"] == "white_noise" and r["severity"] > 0 for r in rows):
        plotly_chart(_snr_figure(result, "white_noise"), key="ra_snr_fig")


# ---------------------------------------------------------------- adversarial


def _adversarial(bundle: Bundle, pre: AudioPreprocessing) -> None:
    st.markdown(
        "FGSM and PGD on the **waveform** of the model's window, through the features and the model. "
        "ε is the largest change of any sample, as a share of full scale (0.01 = 1 %, -40 dBFS)."
    )
    picked = audio_input_picker("ra_att_audio")
    if picked is None:
        return
    decoded, name = picked
    c1, c2, c3 = st.columns([1, 3, 1])
    method = c1.selectbox(
        "Method", ["fgsm", "pgd"], format_func=str.upper, key=link("ra_method", choices=["fgsm", "pgd"])
    )
    epsilon = float(
        c2.select_slider("ε (share of full scale)", EPSILONS, value=2e-3, key=link("ra_eps", choices=EPSILONS))
    )
    steps = int(
        c3.number_input(
            "PGD steps", 1, 200, 10, key=link("ra_steps", bounds=(1, 200), kind=int), disabled=method != "pgd"
        )
    )
    window = _window(pre, decoded)[0]  # (S,)
    request = (_digest(window), method, epsilon, steps)
    if st.button("Run the attack", type="primary", key="ra_attack"):
        try:
            with st.spinner(f"{method.upper()} on {name}…"):
                result = attack_waveform(bundle, window, None, method, epsilon, steps)
            st.session_state.ra_attack_result = (request, result)
        except (ValueError, RuntimeError) as exc:
            show_error(exc, "run the attack")
    stored = st.session_state.get("ra_attack_result")
    if stored is None or stored[0] != request:
        return
    result = stored[1]
    m1, m2, m3 = st.columns(3)
    m1.metric(
        "Clean prediction", bundle.labels[result.clean_pred], f"{float(result.clean_probs[result.clean_pred]):.1%}"
    )
    m2.metric(
        "Adversarial prediction", bundle.labels[result.adv_pred], f"{float(result.adv_probs[result.adv_pred]):.1%}"
    )
    m3.metric("Perturbation below the clip (SNR)", _db(result.snr_db))
    left, right = st.columns(2)
    with left:
        st.markdown("**Clean**")
        st.audio(wav_bytes(result.clean, pre.sample_rate), format="audio/wav")
    with right:
        st.markdown(f"**Adversarial** ({method.upper()}, ε = {epsilon:g})")
        st.audio(wav_bytes(result.adversarial, pre.sample_rate), format="audio/wav")
    if result.success:
        st.warning("The attack succeeded: the prediction changed.", icon=":material/gpp_bad:")
    else:
        st.success("The model held: the prediction did not change.", icon=":material/verified_user:")


ROBUST_JOB_KEY = "ra_robust_job"


def _robust_curve(bundle: Bundle) -> None:
    """Accuracy over validation clips against ε, in the background (cancel, CSV)."""
    st.subheader("Robust accuracy against ε")
    st.caption(
        "Every clip of a validation sample attacked at each budget (PGD: 10 steps), away from its true label; ε = 0 is the clean "
        "accuracy. The median SNR says how loud the perturbations were."
    )
    dataset_name = _labelled_dataset(bundle, "Attack one clip above instead.")
    if dataset_name is None:
        return
    c1, c2, c3 = st.columns([1, 1, 3])
    method = c1.selectbox(
        "Attack", ["pgd", "fgsm"], format_func=str.upper, key=link("ra_rob_method", choices=["pgd", "fgsm"])
    )
    n_clips = int(
        c2.select_slider("Clips", [50, 100, 200, 300], value=100, key=link("ra_rob_n", choices=[50, 100, 200, 300]))
    )
    epsilons = c3.multiselect(
        "ε (share of full scale)",
        EPSILONS,
        default=[5e-4, 1e-3, 2e-3, 5e-3],
        key=link("ra_rob_eps", choices=EPSILONS, kind=list),
    )
    job: BackgroundJob | None = st.session_state.get(ROBUST_JOB_KEY)
    running = job is not None and job.status == "running"
    if st.button("Run the attacks", type="primary", disabled=running or not epsilons, key="ra_rob_run"):
        try:
            clips, targets = _validation_sample(bundle, dataset_name, n_clips, 0)
            budgets = sorted({0.0, *(float(e) for e in epsilons)})

            def work(on_progress, stop_event):  # type: ignore[no-untyped-def]
                return amplitude_robust_accuracy(
                    bundle, clips, targets, budgets, method=method, on_progress=on_progress, stop_event=stop_event
                )

            st.session_state[ROBUST_JOB_KEY] = BackgroundJob(work, "audio robust accuracy").start()
        except (ValueError, TypeError, OSError, RuntimeError) as exc:
            show_error(exc, "start the attacks")
    background_job_progress(ROBUST_JOB_KEY, stop_label="Cancel", stop_key="ra_rob_cancel", what="attack sweep")
    job = st.session_state.get(ROBUST_JOB_KEY)
    if job is None or job.status not in ("done", "stopped") or not job.result:
        return
    if job.status == "stopped":
        st.warning("The attacks were cancelled; the curve below is partial.")
    rows = [{"model": bundle.title, **dataclasses.asdict(p)} for p in job.result]
    plotly_chart(robust_accuracy_figure(rows, x="epsilon", x_title="ε (share of full scale)"), key="ra_rob_fig")
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, column_config={"accuracy": st.column_config.NumberColumn(format="percent")})
    st.download_button(
        "Download the table (CSV)", csv_bytes(table), "audio_robust_accuracy.csv", "text/csv", key="ra_rob_csv"
    )
