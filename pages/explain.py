"""Explain: which pixels or tokens made the active model decide, by Captum attribution methods.

Everything is computed by ``playground.explain`` (methods, display scaling, trust checks) and drawn
by ``playground.figures.explain``. Results are cached per (weights, input, method, settings, target),
so the display controls (mode, opacity) never recompute.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
import torch

from playground.bundle import Bundle
from playground.core.fingerprint import weights_fingerprint
from playground.explain import (
    DISPLAY_MODES,
    METHODS,
    ExplainParams,
    Explanation,
    MethodNotSupportedError,
    baselines_for,
    display_map,
    explain,
    explain_methods,
    methods_for,
    token_scores,
)
from playground.explain.base import MAX_IG_STEPS, MAX_SEGMENTS
from playground.explain.trust import (
    DeletionInsertion,
    RandomizationCheck,
    deletion_insertion,
    infidelity_score,
    randomization_check,
    sensitivity_score,
)
from playground.figures.explain import (
    deletion_insertion_figure,
    map_figure,
    methods_grid_figure,
    overlay_figure,
    token_bar_figure,
    tokens_html,
)
from playground.inspection.predict import untrained_head
from playground.models.attention import AttentionModel
from ui.audio_explain import audio_explain_section
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry, lesson_link
from ui.state import active_model, show_error
from ui.widgets import completeness_tolerance_input, input_image_picker, target_class_picker, text_input_picker

# The method shown first. Images: Grad-CAM answers in ~0.05 s where Integrated Gradients with its
# completeness check takes ~50 s on a 224×224 EfficientNet on two CPU cores; a transformer has no
# spatial feature map for Grad-CAM, so attention rollout. Text models here are small: IG.
DEFAULT_METHODS = {"image": "grad_cam", "vit": "attention_rollout", "text": "integrated_gradients"}
#: The methods compared by default: ones that run on any model of their modality (DeepLift refuses
#: models with non-ReLU activations such as the default EfficientNet's SiLU; Grad-CAM is image-only).
COMPARE_DEFAULT = ("saliency", "input_x_gradient", "integrated_gradients", "grad_cam")
GRADIENT_BASES = ("saliency", "input_x_gradient", "integrated_gradients", "guided_backprop")
MODE_TITLES = {
    "signed": "signed (red raises the score, blue lowers it)",
    "positive": "positive only",
    "absolute": "absolute",
}


# ---------------------------------------------------------------- cached computation
# The bundle and the input tensor are not hashable: they go in with a leading underscore, and the
# weights' fingerprint plus the input's digest are the cache key.


def _progress_callback(title: str) -> tuple[Callable[[int, int, str], None], Any]:
    """A progress bar made inside the cached function (so a cache hit replays it) and its callback."""
    bar = st.progress(0.0, text=title)
    last = [-1]

    def update(done: int, total: int, message: str = "") -> None:
        percent = int(100 * done / total) if total else 100
        if percent // 10 != last[0]:  # at most ~10 updates: a cache hit replays each of them
            last[0] = percent // 10
            bar.progress(min(percent, 100) / 100, text=f"{title} {percent}%")

    return update, bar


@st.cache_data(max_entries=32, show_spinner=False)
def _explain(
    _bundle: Bundle,
    _inputs: torch.Tensor,
    model_key: str,
    input_key: str,
    method: str,
    params: ExplainParams,
    target: int | None,
) -> Explanation | str:
    """The explanation, or the reason the method does not apply (cached too, as a string)."""
    spec = METHODS.get(method)
    update, bar = _progress_callback(f"Running {spec.title}…") if spec.slow else (None, None)
    try:
        return explain(_bundle, _inputs, method, target=target, params=params, on_progress=update)
    except MethodNotSupportedError as exc:
        return str(exc)
    finally:
        if bar is not None:
            bar.empty()


@st.cache_data(max_entries=8, show_spinner=False)
def _compare(
    _bundle: Bundle,
    _inputs: torch.Tensor,
    model_key: str,
    input_key: str,
    methods: tuple[str, ...],
    params: ExplainParams,
    target: int | None,
) -> dict[str, Explanation | str]:
    bar = st.progress(0.0, text="Comparing methods…")

    def update(i: int, n: int, name: str) -> None:
        bar.progress(i / n if n else 1.0, text=f"{i}/{n}: {METHODS.get(name).title if name in METHODS else name}")

    try:
        results = explain_methods(_bundle, _inputs, list(methods), target=target, params=params, on_progress=update)
    finally:
        bar.empty()
    return {name: r if isinstance(r, Explanation) else str(r) for name, r in results.items()}


@st.cache_data(max_entries=8, show_spinner="Deleting and inserting the most important parts…")
def _deletion_insertion(_bundle: Bundle, _explanation: Explanation, key: tuple[Any, ...]) -> DeletionInsertion:
    return deletion_insertion(_bundle, _explanation, n_steps=20)


@st.cache_data(max_entries=8, show_spinner="Explaining a copy of the model with random weights…")
def _randomization(_bundle: Bundle, _explanation: Explanation, key: tuple[Any, ...]) -> RandomizationCheck:
    return randomization_check(_bundle, _explanation)


@st.cache_data(max_entries=8, show_spinner="Perturbing the input 32 times…")
def _infidelity(_bundle: Bundle, _explanation: Explanation, key: tuple[Any, ...]) -> float:
    return infidelity_score(_bundle, _explanation)


@st.cache_data(max_entries=8, show_spinner=False)
def _sensitivity(_bundle: Bundle, _explanation: Explanation, key: tuple[Any, ...]) -> float:
    update, bar = _progress_callback("Explaining 8 slightly moved copies of the input…")
    try:
        return sensitivity_score(_bundle, _explanation, on_progress=update)
    finally:
        bar.empty()


# ---------------------------------------------------------------- widgets


def _param_widgets(uses: Sequence[str], modality: str) -> ExplainParams:
    """Widgets for the settings the method reads, with the library's defaults."""
    defaults = ExplainParams()
    values: dict[str, Any] = {}
    cols = st.columns(3)
    shown = [u for u in uses if u != "batch_size"]  # the batch size is chosen from the input size
    for i, name in enumerate(shown):
        col = cols[i % 3]
        key = f"x_p_{name}"
        if name == "n_steps":
            values[name] = int(
                col.slider(
                    "Integration steps (n_steps)", 1, 300, defaults.n_steps, key=link(key, bounds=(1, 300), kind=int)
                )
            )
        elif name == "delta_tolerance":
            values[name] = completeness_tolerance_input(col, key, defaults.delta_tolerance, MAX_IG_STEPS)
        elif name == "baseline":
            options = baselines_for(modality)
            values[name] = col.selectbox(
                "Baseline", options, index=0, key=link(key, choices=options), help="The reference input."
            )
        elif name in ("window", "stride", "n_samples"):
            label = {"window": "Window", "stride": "Stride", "n_samples": "Samples"}[name]
            value = int(
                col.number_input(f"{label} (0 = automatic)", 0, 10_000, 0, key=link(key, bounds=(0, 10_000), kind=int))
            )
            values[name] = value or None
        elif name == "stdev":
            values[name] = float(
                col.slider(
                    "Noise (share of the range)",
                    0.0,
                    1.0,
                    defaults.stdev,
                    0.05,
                    key=link(key, bounds=(0.0, 1.0), kind=float),
                )
            )
        elif name == "base_method":
            bases = [m for m in GRADIENT_BASES if m in METHODS and METHODS.get(m).supports(modality)]
            values[name] = col.selectbox(
                "Base method", bases, format_func=lambda m: METHODS.get(m).title, key=link(key, choices=bases)
            )
        elif name == "n_segments":
            values[name] = int(
                col.number_input(
                    "Segments", 1, MAX_SEGMENTS, defaults.n_segments, key=link(key, bounds=(1, MAX_SEGMENTS), kind=int)
                )
            )
        elif name == "segmentation":
            segmentations = ["auto", "grid", "slic"]
            values[name] = col.selectbox("Segmentation", segmentations, key=link(key, choices=segmentations))
        elif name == "layer":
            values[name] = col.text_input("Layer (empty = the last spatial one)", "", key=link(key)).strip() or None
        elif name == "seed":
            values[name] = int(
                col.number_input("Seed", 0, 1_000_000, defaults.seed, key=link(key, bounds=(0, 1_000_000), kind=int))
            )
    return dataclasses.replace(defaults, **values)


def _short_delta(result: Explanation) -> None:
    if result.convergence_delta is None:
        return
    relative = result.relative_delta
    st.metric(
        "Convergence delta",
        f"{result.convergence_delta:.4g}",
        help="sum(attributions) − (F(x) − F(baseline)) on the target's logit: near 0 means the map adds up.",
    )
    if relative is not None:
        st.caption(f"Relative delta |δ| / |F(x) − F(baseline)| = {relative:.3%}")
    tried = result.details.get("n_steps_tried")
    if tried:
        steps = " → ".join(str(n) for n in tried)
        st.caption(f"Steps raised until the map adds up: {steps}")
    segments = result.details.get("path_segments")
    if segments:
        cuts = ", ".join(f"{end:.3g}" for _, end in segments[:-1])
        st.caption(
            f"The path was cut at α = {cuts} where the error was, {len(segments)} parts of "
            f"{result.params.n_steps} steps ({result.details['n_steps']} in all)."
        )


# ---------------------------------------------------------------- page

ensure_app_entry()
st.title("Explain")
st.caption(
    "Interpretability, one of the article's open problems: which parts of the input pushed the model "
    "towards its answer, by Captum's attribution methods, and how far each map can be trusted."
)
lesson_link("7 the open problems")
bundle = active_model().bundle
modality = bundle.modality
if modality == "audio":
    audio_explain_section(bundle)
    st.stop()
if modality not in ("image", "text"):
    st.info(
        f"The active model, **{bundle.title}**, takes {modality} input; the Explain page shows image and text "
        "classifiers"
        + (
            " (numeric sequences are explained by the library: `python -m playground explain`)"
            if modality == "sequence"
            else " (a seq2seq model's cross-attention is on the Attention page)"
        )
        + ". Pick an image or text model on the Models page.",
        icon=":material/info:",
    )
    st.stop()
model_key = weights_fingerprint(bundle.model)

# ---- input
tokens: list[str] = []
if modality == "image":
    image, image_name = input_image_picker(bundle, key="x_input")
    try:
        inputs = bundle.image_preprocessing.pixels_from_pil(image)  # (C, H, W) in [0, 1]
    except (ValueError, TypeError) as exc:
        show_error(exc, "read the image for this model")
        st.stop()
    input_key = hashlib.sha256(inputs.numpy().tobytes()).hexdigest()[:16]
else:
    text = text_input_picker(bundle, key="x_text")
    if text is None:
        st.stop()
    try:
        encoding = bundle.preprocessing.encode(text)
    except (ValueError, TypeError) as exc:
        show_error(exc, "tokenize the text")
        st.stop()
    inputs = torch.as_tensor(encoding.ids)  # (T,) int64
    tokens = list(encoding.tokens)
    input_key = hashlib.sha256(text.encode()).hexdigest()[:16]

if untrained_head(bundle):
    st.warning(
        "This pretrained encoder's classification head is untrained: the class explained is noise, so the map "
        "shows what drives a random output. Fine-tune it on the Train page first.",
        icon=":material/model_training:",
    )

# ---- target and method
c1, c2 = st.columns(2)
target = target_class_picker(c1, list(bundle.labels), "x")
methods = methods_for(modality)
is_vit = modality == "image" and isinstance(bundle.model, AttentionModel)
default_method = DEFAULT_METHODS["vit" if is_vit else modality]
method = c2.selectbox(
    "Method",
    methods,
    index=methods.index(default_method) if default_method in methods else 0,
    format_func=lambda m: METHODS.get(m).title,
    key=link("x_method", choices=methods),
)
spec = METHODS.get(method)
st.caption(f"{spec.description} Source: {spec.source}")
params = _param_widgets(spec.uses, modality)

if spec.slow:
    # Clicking Stop while the explanation runs makes Streamlit interrupt that run at its next
    # progress update and rerun the page; the rerun then shows this notice instead of restarting it.
    run_key = (model_key, input_key, method, params, target)
    if st.session_state.get("x_stopped") == run_key:
        st.info(f"{spec.title} was stopped. Change a setting, or run it again.", icon=":material/stop_circle:")
        if st.button("Run it again", key="x_resume"):
            st.session_state.x_stopped = None
            st.rerun()
        st.stop()
    st.session_state.x_running = run_key  # what a click on Stop stops
stop_slot = st.empty()  # the Stop button shows only while the explanation runs
if spec.slow and stop_slot.button("Stop", key="x_stop", icon=":material/stop:", help="Stop a running explanation."):
    st.session_state.x_stopped = st.session_state.x_running
    st.rerun()
try:
    result = _explain(bundle, inputs, model_key, input_key, method, params, target)
except (ValueError, TypeError, RuntimeError) as exc:
    show_error(exc, f"explain with {spec.title}")
    st.stop()
stop_slot.empty()
if isinstance(result, str):
    st.info(f"{spec.title} does not apply here: {result}", icon=":material/block:")
    st.stop()

# ---- display
d1, d2 = st.columns(2)
mode = d1.radio(
    "Show",
    DISPLAY_MODES,
    format_func=lambda m: MODE_TITLES[m],
    horizontal=True,
    key=link("x_mode", choices=DISPLAY_MODES),
)
st.markdown(
    f"**{spec.title}** for **{result.label or result.target}** (probability {result.probability:.1%}, "
    f"computed in {result.seconds:.2f} s)."
)
if modality == "image":
    opacity = d2.slider("Overlay opacity", 0.0, 1.0, 0.6, 0.05, key=link("x_opacity", bounds=(0.0, 1.0), kind=float))
    heat = display_map(result.attributions, mode)  # (H, W)
    m1, m2, m3 = st.columns([2, 2, 1])
    plotly_chart(overlay_figure(result.inputs, heat, mode, opacity, "Over the image"), key="x_overlay", where=m1)
    plotly_chart(map_figure(heat, mode, "The map alone"), key="x_map", where=m2)
    with m3:
        _short_delta(result)
else:
    scores = token_scores(result.attributions, mode)  # (T,)
    t1, t2 = st.columns([3, 1])
    t1.markdown(tokens_html(tokens, scores), unsafe_allow_html=True)  # every token is html.escape'd
    with t2:
        _short_delta(result)
    plotly_chart(token_bar_figure(tokens, result.attributions, title="Top tokens"), key="x_bars")

# ---- compare methods
with st.expander("Compare methods"):
    picked = st.multiselect(
        "Methods",
        methods,
        default=[m for m in COMPARE_DEFAULT if m in methods],
        format_func=lambda m: METHODS.get(m).title,
        key=link("x_compare", choices=methods, kind=list),
    )
    if st.button("Compare", key="x_compare_run", disabled=not picked):
        st.session_state.x_compare_for = tuple(picked)
    if picked and st.session_state.get("x_compare_for") == tuple(picked):
        try:
            compared = _compare(bundle, inputs, model_key, input_key, tuple(picked), params, result.target)
        except (ValueError, TypeError, RuntimeError) as exc:
            show_error(exc, "compare the methods")
        else:
            if modality == "image":
                maps: dict[str, torch.Tensor | str] = {
                    METHODS.get(n).title: display_map(r.attributions, mode) if isinstance(r, Explanation) else r
                    for n, r in compared.items()
                }
                plotly_chart(methods_grid_figure(maps, mode), key="x_grid")
            else:
                for name, r in compared.items():
                    st.markdown(f"**{METHODS.get(name).title}**")
                    if isinstance(r, Explanation):
                        st.markdown(tokens_html(tokens, token_scores(r.attributions, mode)), unsafe_allow_html=True)
                    else:
                        st.info(r, icon=":material/block:")

# ---- trust
with st.expander("How far to trust it"):
    st.caption(
        "Deletion / insertion (Petsiuk et al. 2018, https://arxiv.org/abs/1806.07421): remove the most important "
        "parts first and the probability should fall fast (low deletion AUC); add them first to an empty input and "
        "it should rise fast (high insertion AUC). Randomisation check (Adebayo et al. 2018, "
        "https://arxiv.org/abs/1810.03292): the map of a model with random weights should look different "
        "(rank correlation near 0). Infidelity and max-sensitivity (Yeh et al. 2019, "
        "https://arxiv.org/abs/1901.09392, Captum's metrics): does the map predict how the score changes under "
        "small random perturbations, and how much does the map itself move when the input moves a little "
        "(lower is better for both)."
    )
    trust_key = (model_key, input_key, method, params, result.target)
    if st.button("Run the checks", key="x_trust_run"):
        st.session_state.x_trust_for = trust_key
    if st.session_state.get("x_trust_for") == trust_key:
        try:
            curves = _deletion_insertion(bundle, result, trust_key)
            plotly_chart(
                deletion_insertion_figure(
                    curves.fractions, curves.deletion, curves.insertion, curves.deletion_auc, curves.insertion_auc
                ),
                key="x_curves",
            )
            check = _randomization(bundle, result, trust_key)
            infidelity = _infidelity(bundle, result, trust_key)
        except MethodNotSupportedError as exc:
            st.info(str(exc), icon=":material/block:")
        except (ValueError, TypeError, RuntimeError) as exc:
            show_error(exc, "run the checks")
        else:
            k1, k2, k3 = st.columns(3)
            k1.metric("Rank correlation (|maps|, Spearman)", f"{check.rank_correlation:.3f}")
            k2.metric(
                "Infidelity",
                f"{infidelity:.3g}",
                help="E[(I · attributions − (F(x) − F(x − I)))²] over 32 perturbations I, attributions scaled by "
                "their best least-squares factor; text: tokens removed at random. Lower is better.",
            )
            if modality == "text":
                k3.caption("Max-sensitivity needs inputs that can move a little; token ids cannot.")
            elif k3.button("Max-sensitivity", key="x_sens_run", help="Reruns the method 9 times (progress shown)."):
                st.session_state.x_sens_for = trust_key
            if modality != "text" and st.session_state.get("x_sens_for") == trust_key:
                try:
                    sensitivity = _sensitivity(bundle, result, trust_key)
                except MethodNotSupportedError as exc:
                    k3.info(str(exc), icon=":material/block:")
                else:
                    k3.metric(
                        "Max-sensitivity",
                        f"{sensitivity:.3g}",
                        help="max ‖Φ(x + δ) − Φ(x)‖ / ‖Φ(x)‖ over 8 moves δ uniform in ±0.02 per pixel. Lower is better.",
                    )
            if modality == "image":
                r1, r2 = st.columns(2)
                plotly_chart(
                    map_figure(display_map(check.original.attributions, mode), mode, "Trained model"),
                    key="x_rand_real",
                    where=r1,
                )
                plotly_chart(
                    map_figure(display_map(check.randomized.attributions, mode), mode, "Random weights"),
                    key="x_rand_copy",
                    where=r2,
                )
            else:
                st.markdown("Trained model")
                st.markdown(
                    tokens_html(tokens, token_scores(check.original.attributions, mode)), unsafe_allow_html=True
                )
                st.markdown("Random weights")
                st.markdown(
                    tokens_html(tokens, token_scores(check.randomized.attributions, mode)), unsafe_allow_html=True
                )
