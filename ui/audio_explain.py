"""The Explain page for audio models: which time-frequency regions made the decision, and listen to them."""

from __future__ import annotations

import dataclasses
import hashlib
import html
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
import torch

from playground.bundle import Bundle
from playground.core.fingerprint import weights_fingerprint
from playground.explain import DISPLAY_MODES, METHODS, ExplainParams, MethodNotSupportedError, methods_for
from playground.explain.audio import (
    DEFAULT_METHOD,
    KEEP_FRACTION,
    AudioExplanation,
    explain_audio,
    heard_probabilities,
    listen,
)
from playground.explain.base import MAX_IG_STEPS, MAX_SEGMENTS
from playground.figures.audio import FEATURE_TITLES
from playground.figures.audio_explain import attribution_map_figure
from playground.modalities.audio.decode import wav_bytes
from playground.modalities.audio.preprocessing import AudioPreprocessing
from ui.audio import audio_input_picker, show_notes
from ui.charts import plotly_chart
from ui.links import link
from ui.state import show_error
from ui.widgets import completeness_tolerance_input, target_class_picker

GRADIENT_BASES = ("saliency", "input_x_gradient", "integrated_gradients", "guided_backprop")
MODE_TITLES = {
    "signed": "signed (red raises the score, blue lowers it)",
    "positive": "positive only",
    "absolute": "absolute",
}
#: What :func:`~playground.explain.audio.listen` keeps, per kind of features.
KEPT_UNITS = {
    "log_mel": "time-frequency cells",
    "mfcc": "frames (MFCCs name no frequency: time only)",
    "waveform": "moments of the waveform",
}


def _progress_callback(title: str) -> tuple[Callable[[int, int, str], None], Any]:
    """A progress bar made inside the cached function (so a cache hit replays it) and its callback."""
    bar = st.progress(0.0, text=title)
    last = [-1]

    def update(done: int, total: int, message: str = "") -> None:
        percent = int(100 * done / total) if total else 100
        if percent // 10 != last[0]:  # at most ~10 updates
            last[0] = percent // 10
            bar.progress(min(percent, 100) / 100, text=f"{title} {percent}%")

    return update, bar


@st.cache_data(max_entries=32, show_spinner=False)
def _explain(
    _bundle: Bundle,
    _waveform: torch.Tensor,
    sample_rate: int,
    model_key: str,
    clip_key: str,
    start_s: float,
    method: str,
    params: ExplainParams,
    target: int | None,
) -> AudioExplanation | str:
    """The explanation, or the reason the method does not apply (cached too, as a string)."""
    spec = METHODS.get(method)
    update, bar = _progress_callback(f"Running {spec.title}…") if spec.slow else (None, None)
    try:
        return explain_audio(
            _bundle, _waveform, sample_rate, method, start_s=start_s, target=target, params=params, on_progress=update
        )
    except MethodNotSupportedError as exc:
        return str(exc)
    finally:
        if bar is not None:
            bar.empty()


def _param_widgets(uses: Sequence[str], pre: AudioPreprocessing) -> ExplainParams:
    """Widgets for the settings the method reads (the baseline is always "zero" for audio)."""
    defaults = ExplainParams()
    values: dict[str, Any] = {}
    shown = [u for u in uses if u not in ("batch_size", "baseline", "segmentation", "layer")]
    cols = st.columns(3)
    column = "samples" if pre.features == "waveform" else "frames"
    for i, name in enumerate(shown):
        col = cols[i % 3]
        key = f"xa_p_{name}"
        if name == "n_steps":
            values[name] = int(col.slider("Integration steps", 1, 300, defaults.n_steps, key=key))
        elif name == "delta_tolerance":
            values[name] = completeness_tolerance_input(col, key, defaults.delta_tolerance, MAX_IG_STEPS)
        elif name == "window":
            value = int(
                col.number_input(
                    f"Patch width ({column}, 0 = a tenth of the clip)",
                    0,
                    pre.frames,
                    0,
                    key=key,
                    help=f"Occlusion slides a patch of {max(1, pre.bins // 10)} rows × this many {column}.",
                )
            )
            values[name] = value or None
        elif name == "stride":
            value = int(col.number_input(f"Stride ({column}, 0 = half the patch)", 0, pre.frames, 0, key=key))
            values[name] = value or None
        elif name == "n_samples":
            value = int(col.number_input("Samples (0 = automatic)", 0, 10_000, 0, key=key))
            values[name] = value or None
        elif name == "n_segments":
            values[name] = int(
                col.number_input(
                    "Patches", 2, MAX_SEGMENTS, defaults.n_segments, key=key, help="About √n divisions of each axis."
                )
            )
        elif name == "stdev":
            values[name] = float(col.slider("Noise (share of the range)", 0.0, 1.0, defaults.stdev, 0.05, key=key))
        elif name == "base_method":
            bases = [m for m in GRADIENT_BASES if m in METHODS and METHODS.get(m).supports("audio")]
            values[name] = col.selectbox("Base method", bases, format_func=lambda m: METHODS.get(m).title, key=key)
        elif name == "seed":
            values[name] = int(col.number_input("Seed", 0, 1_000_000, defaults.seed, key=key))
    return dataclasses.replace(defaults, **values)


def _stop_controls(title: str, run_key: tuple[Any, ...]) -> None:
    """Stop for a slow method, as on the image / text Explain page (stops the page if it was stopped)."""
    if st.session_state.get("xa_stopped") == run_key:
        st.info(f"{title} was stopped. Change a setting, or run it again.", icon=":material/stop_circle:")
        if st.button("Run it again", key="xa_resume"):
            st.session_state.xa_stopped = None
            st.rerun()
        st.stop()
    if st.button("Stop", key="xa_stop", icon=":material/stop:", help="Stop a running explanation."):
        st.session_state.xa_stopped = run_key
        st.rerun()


def audio_explain_section(bundle: Bundle) -> None:
    """Explain an audio model: a clip in, the time-frequency map of what made the decision, and two
    players: only the most attributed parts of the clip, and everything else."""
    pre = bundle.preprocessing
    if not isinstance(pre, AudioPreprocessing):
        return
    st.caption(
        f"Audio model · {pre.sample_rate:,} Hz · a {pre.clip_seconds:g} s window · {FEATURE_TITLES[pre.features]} "
        f"({pre.bins} × {pre.frames}). Which moments and frequencies pushed the model to its answer, and what "
        "they sound like on their own."
    )
    picked = audio_input_picker("x_audio")
    if picked is None:
        return
    decoded, name = picked
    show_notes(decoded)
    waveform, rate = decoded.waveform, decoded.sample_rate
    duration = waveform.numel() / rate
    start_s = 0.0
    if duration > pre.clip_seconds:
        last = max(0.0, round(duration - pre.clip_seconds, 1))
        start_s = float(
            st.slider(
                f"Window start (s): the model hears {pre.clip_seconds:g} s at a time",
                0.0,
                last,
                0.0,
                0.1,
                key=link("xa_start", bounds=(0.0, last), kind=float),
            )
        )

    # ---- target and method
    c1, c2 = st.columns(2)
    labels = list(bundle.labels)
    target = target_class_picker(c1, labels, "xa")
    methods = methods_for("audio")
    method = c2.selectbox(
        "Method",
        methods,
        index=methods.index(DEFAULT_METHOD) if DEFAULT_METHOD in methods else 0,
        format_func=lambda m: METHODS.get(m).title,
        key=link("xa_method", choices=methods),
    )
    spec = METHODS.get(method)
    st.caption(f"{spec.description} Source: {spec.source}")
    if "baseline" in spec.uses:
        st.caption("Baseline: zero, the training mean of the features (an even, average-level spectrogram).")
    params = _param_widgets(spec.uses, pre)

    model_key = weights_fingerprint(bundle.model)
    clip_key = hashlib.sha256(waveform.numpy().tobytes() + str(rate).encode()).hexdigest()[:16]
    if spec.slow:
        _stop_controls(spec.title, (model_key, clip_key, start_s, method, params, target))
    try:
        result = _explain(bundle, waveform, rate, model_key, clip_key, start_s, method, params, target)
    except (ValueError, TypeError, RuntimeError) as exc:
        show_error(exc, f"explain with {spec.title}")
        return
    if isinstance(result, str):
        st.info(f"{spec.title} does not apply here: {result}", icon=":material/block:")
        return
    explanation = result.explanation

    # ---- the prediction and the map
    window_probs = heard_probabilities(bundle, result.waveform[None])[0]  # (K,)
    best = int(window_probs.argmax())
    best_label = labels[best] if best < len(labels) else str(best)
    explained = explanation.label or str(explanation.target)
    where = f" (window from {result.start_s:.1f} s)" if duration > pre.clip_seconds else ""
    st.subheader(f"{name}{where}: {best_label} ({float(window_probs[best]):.1%})")
    st.markdown(
        f"**{spec.title}** for **{explained}** (probability {explanation.probability:.1%}, "
        f"computed in {explanation.seconds:.2f} s)."
    )
    m1, m2 = st.columns([3, 1])
    mode = m1.radio(
        "Show",
        DISPLAY_MODES,
        format_func=lambda m: MODE_TITLES[m],
        horizontal=True,
        key=link("xa_mode", choices=DISPLAY_MODES),
    )
    if explanation.convergence_delta is not None:
        relative = explanation.relative_delta
        m2.metric(
            "Convergence delta",
            f"{explanation.convergence_delta:.3g}",
            help="sum(attributions) − (F(x) − F(baseline)) on the target's logit: near 0 means the map adds up.",
        )
        if relative is not None:
            m2.caption(f"|δ| / |F(x) − F(baseline)| = {relative:.2%}")
    plotly_chart(
        attribution_map_figure(
            explanation.attributions,
            pre,
            mode,
            title=f"{html.escape(spec.title)} for {html.escape(explained)}",
        ),
        key="xa_heatmap",
    )
    st.caption(
        "Top: each cell of what the model sees (time across, frequency up) coloured by how much it raised (red) or "
        "lowered (blue) the score. Bottom: the same summed over frequency, one bar per moment."
    )

    # ---- listen
    st.subheader("Listen to the explanation")
    unit = KEPT_UNITS[pre.features]
    keep = (
        st.slider(
            f"Kept share of the {unit.split(' (')[0]}",
            5,
            100,
            round(100 * KEEP_FRACTION),
            5,
            format="%d %%",
            key=link("xa_keep", bounds=(5, 100), kind=int),
        )
        / 100
    )
    try:
        kept, removed = listen(result.waveform, explanation.attributions, pre, keep)
        heard = heard_probabilities(bundle, torch.stack([result.waveform, kept, removed]))[:, explanation.target]
    except (ValueError, RuntimeError) as exc:
        show_error(exc, "turn the explanation into sound")
        return
    st.markdown(f"**The window the model heard** · P({explained}) = {float(heard[0]):.0%}")
    st.audio(wav_bytes(result.waveform, pre.sample_rate), format="audio/wav")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Only the most attributed {unit}** (top {keep:.0%}) · P({explained}) = {float(heard[1]):.0%}")
        st.audio(wav_bytes(kept, pre.sample_rate), format="audio/wav")
    with right:
        st.markdown(f"**Everything else** · P({explained}) = {float(heard[2]):.0%}")
        st.audio(wav_bytes(removed, pre.sample_rate), format="audio/wav")
    st.markdown(
        f"**How to read it:** if the left clip alone still sounds like, and is still classified as, {explained} "
        "while the right one does not, the map found what the model listens to (P is the model's own probability "
        "for each clip; the two clips add up to the original)."
    )
