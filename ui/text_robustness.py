"""The Robustness page for text models: a perturbation of the text, and a word-level attack."""

from __future__ import annotations

import hashlib
import html

import pandas as pd
import streamlit as st

from playground.bundle import Bundle
from playground.core.fingerprint import weights_fingerprint
from playground.figures.viz import topk_bar
from playground.inspection.predict import predict_texts
from playground.robustness.perturbations import perturb_text, text_perturbations
from playground.robustness.text_attack import TextAttackResult, word_attack
from ui.charts import plotly_chart
from ui.links import link
from ui.state import show_error
from ui.widgets import perturbation_picker, text_input_picker

METHODS = {"word": "words → embedding neighbours (TextFooler-style)", "char": "typos and look-alike letters"}
_RESULT = "rt_attack_result"  # session-state key: (settings key, result) of the last attack
_BOX = (
    '<div style="font-family:monospace;font-size:1.05rem;line-height:1.8;padding:0.6rem 0.8rem;'
    'border:1px solid rgba(128,128,128,0.4);border-radius:0.4rem;white-space:pre-wrap">{}</div>'
)


def text_robustness_section(bundle: Bundle) -> None:
    """Perturb or attack the text a person typed, with the predictions before and after."""
    st.caption(f"Model: **{bundle.title}**. The text is changed before the tokenizer reads it.")
    text = text_input_picker(bundle, key="rt_input")
    if text is None:
        return
    # A segmented control, not tabs: the Attack button reruns the page, and the chosen view stays.
    views = {"perturb": "Perturb the text", "attack": "Word-level attack"}
    key = link("rt_view", choices=list(views), default="perturb")
    st.session_state.setdefault(key, "perturb")
    view = st.segmented_control(
        "View", list(views), format_func=views.__getitem__, key=key, label_visibility="collapsed"
    )
    if view == "attack":
        _attack(bundle, text)
    else:
        _perturb(bundle, text)


def _perturb(bundle: Bundle, text: str) -> None:
    name, severity, seed = perturbation_picker(text_perturbations(), "rt", default_severity=2.0)
    changed = perturb_text(name, text, severity, seed)
    try:
        before, after = predict_texts(bundle, [text, changed])
    except ValueError as exc:
        show_error(exc, "classify the perturbed text")
        return
    st.html(_BOX.format(_escape(changed)))
    left, right = st.columns(2)
    plotly_chart(topk_bar(before.prediction.top_k, "original"), key="rt_top_orig", where=left)
    plotly_chart(topk_bar(after.prediction.top_k, "perturbed"), key="rt_top_pert", where=right)
    if before.prediction.top_k[0].index != after.prediction.top_k[0].index:
        st.warning(
            f"The prediction flips: {before.prediction.top_k[0].label} → {after.prediction.top_k[0].label}.",
            icon=":material/swap_horiz:",
        )


def _attack(bundle: Bundle, text: str) -> None:
    st.caption(
        "Greedy, as TextFooler (Jin et al. 2020): the words are ranked by how much deleting each one lowers the "
        "model's answer, then the most important are replaced, one at a time, by the candidate that lowers it "
        "most, until the answer flips or the budget is spent. Word neighbours come from MiniLM's embedding space: "
        "close in meaning or in use, so an antonym can slip in; every change is shown."
    )
    c1, c2, c3 = st.columns([2, 1, 1])
    method = c1.radio(
        "Method",
        list(METHODS),
        format_func=METHODS.__getitem__,
        horizontal=True,
        key=link("rt_method", choices=list(METHODS)),
    )
    budget = int(
        c2.select_slider(
            "Query budget",
            [50, 100, 200, 300, 500, 1000],
            value=300,
            key=link("rt_budget", choices=[50, 100, 200, 300, 500, 1000]),
        )
    )
    share = float(
        c3.select_slider(
            "Most words changed", [0.1, 0.2, 0.3, 0.5], value=0.3, key=link("rt_share", choices=[0.1, 0.2, 0.3, 0.5])
        )
    )
    settings = (weights_fingerprint(bundle.model), hashlib.sha256(text.encode()).hexdigest(), method, budget, share)
    if st.button("Attack", type="primary", key="rt_attack", icon=":material/bolt:"):
        bar = st.progress(0.0, text="Loading the word space and ranking the words…")

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(min(1.0, done / total), text=f"{message} of {total}")

        try:
            result = word_attack(bundle, text, mode=method, max_queries=budget, max_changed=share, on_progress=progress)
        except ValueError as exc:
            bar.empty()
            show_error(exc, "attack this text")
            return
        bar.empty()
        st.session_state[_RESULT] = (settings, result)
    held = st.session_state.get(_RESULT)
    if held is None or held[0] != settings:
        st.info("Press Attack to search for a change that flips the model's answer.", icon=":material/bolt:")
        return
    _show(bundle, held[1])


def _show(bundle: Bundle, result: TextAttackResult) -> None:
    before, after = bundle.labels[result.target], bundle.labels[int(result.adversarial_probs.argmax())]
    if result.success:
        st.error(
            f"Flipped: {before} → {after}, {len(result.changes)} of {result.words} words changed, {result.queries} queries.",
            icon=":material/bolt:",
        )
    else:
        st.success(
            f"The model held: still {before} after {len(result.changes)} change(s) and {result.queries} queries "
            f"({float(result.original_probs[result.target]):.1%} → {float(result.adversarial_probs[result.target]):.1%}).",
            icon=":material/shield:",
        )
    left, right = st.columns(2)
    with left:
        st.markdown("**Original**")
        st.html(_BOX.format(result.marked_html(adversarial=False)))
    with right:
        st.markdown("**Adversarial** (changes marked)")
        st.html(_BOX.format(result.marked_html()))
    if result.changes:
        st.dataframe(
            pd.DataFrame(
                {
                    "word": [c.original for c in result.changes],
                    "became": [c.replacement for c in result.changes],
                    "similarity": [None if c.similarity is None else round(c.similarity, 3) for c in result.changes],
                }
            ),
            hide_index=True,
            key="rt_changes",
        )
    labels = list(bundle.labels)
    top = sorted(range(len(labels)), key=lambda k: -float(result.original_probs[k]))[:5]
    frame = pd.DataFrame(
        {
            "class": [labels[k] for k in top],
            "original": [float(result.original_probs[k]) for k in top],
            "adversarial": [float(result.adversarial_probs[k]) for k in top],
        }
    )
    st.dataframe(frame.style.format({"original": "{:.1%}", "adversarial": "{:.1%}"}), hide_index=True, key="rt_probs")


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
