"""Presentation mode and the figure-download format: the display settings in the sidebar.

Presentation mode (the sidebar's toggle, or ``?present=1`` in a link) is for a projector: the
sidebar starts collapsed, the page's text is larger (Streamlit sizes its text in ``rem``, so one
root font size scales it all) and every chart is drawn through
``playground.figures.theme.for_projector`` (fonts ×1.5 and never under 18 px, thicker lines,
taller charts). The page's controls fold away except the few the presenter pins
(:func:`pinned_controls`). All of it travels in the page's link (``ui.links``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from ui.links import link

PRESENT_KEY = "present"
EXPORT_KEY = "export"
EXPORT_FORMATS = ("png", "svg")
#: The root font size in presentation mode (Streamlit's default is 16 px): body text 22 px,
#: captions and widget labels ~19 px.
PRESENT_ROOT_FONT_PX = 22
PIN_KEY = "pin"  # + "_<page>": the controls pinned on that page in presentation mode
SHOW_ALL_KEY = "pin_show_all"

#: Names of the page's controls in the pin list, by their key without the page's prefix
#: (``"r_adv_eps"`` -> ``"adv_eps"``); a key not listed reads as its words (``"min_weight"`` ->
#: "min weight"). tests/app/test_presentation_pins.py checks that every control has a name.
CONTROL_NAMES = {
    "adv_eps": "attack ε",
    "adv_method": "attack",
    "adv_norm": "attack norm",
    "adv_steps": "attack PGD steps",
    "arch": "architecture",
    "budget": "query budget",
    "att_gain": "attack: magnify the difference",
    "audio_top_k": "top-k",
    "c": "output channel c",
    "colour_unit": "colour the tokens by unit",
    "compare": "methods compared",
    "conv": "conv layer",
    "ds": "dataset",
    "ens": "ensemble",
    "eps": "ε",
    "fusion": "heads combined by",
    "gain": "magnify the difference",
    "i": "output row i",
    "input": "input image",
    "j": "output column j",
    "k": "input channel shown",
    "keep": "kept share",
    "kind": "states",
    "min_weight": "hide links weaker than",
    "mode": "show",
    "n": "validation examples",
    "nunits": "units shown",
    "opacity": "overlay opacity",
    "order": "order channels by",
    "pc": "pooling channel",
    "pert": "perturbation",
    "perts": "perturbations",
    "pi": "pooling row",
    "pj": "pooling column",
    "pool": "pool layer",
    "query": "query token i",
    "rob_eps": "robust curve: ε",
    "rob_method": "robust curve: attack",
    "rob_n": "robust curve: clips",
    "rnn_text": "bracket string",
    "rollout_depth": "rolled out up to layer",
    "s2s_head": "decoder head",
    "s2s_layer": "decoder layer",
    "scale": "colour scale",
    "seq": "example",
    "series": "show",
    "sev": "severity",
    "sevs": "severities",
    "share": "most words changed",
    "side": "input height and width",
    "start": "window start",
    "step": "step t",
    "sweep_seed": "sweep seed",
    "target": "target class",
    "target_kind": "explain",
    "text_top_k": "top-k",
    "threshold": "on-threshold",
    "top_k": "top-k",
    "unit": "unit j",
    "window": "token window",
}
#: Keys made from a name (``f"f_in_{layer}"``, a picker's ``f"{key}_source"``): the name of
#: what the key starts (after the page's prefix) or ends with.
_PREFIX_NAMES = {
    "head_": "head",
    "in_": "input channel",
    "mv_heads_": "heads shown",
    "mv_layers_": "layers shown",
    "page_": "page",
    "sample_": "sample",
    "weights_": "weights",
}
_SUFFIX_NAMES = {"_source": "input source", "_text": "typed text", "_sample": "sample", "_target_kind": "explain"}


def presenting() -> bool:
    """Whether this session shows the app in presentation mode (a link's ``?present=1`` counts
    before the toggle is drawn: app.py needs it for the page config)."""
    if PRESENT_KEY in st.session_state:
        return bool(st.session_state[PRESENT_KEY])
    return st.query_params.get(PRESENT_KEY) == "1"


def export_format() -> str:
    """The format of every chart's toolbar download: ``"png"`` (at 3× its size) or ``"svg"``."""
    fmt = st.session_state.get(EXPORT_KEY, EXPORT_FORMATS[0])
    return fmt if fmt in EXPORT_FORMATS else EXPORT_FORMATS[0]


def control_name(key: str) -> str:
    """A page control's name in the pin list: ``"r_adv_eps"`` -> ``"attack ε"``,
    ``"x_p_n_steps"`` -> ``"n_steps"`` (an attribution method's parameter keeps its own name),
    ``"x_text_example_sst2"`` -> ``"example (sst2)"``."""
    _, _, rest = key.partition("_")
    if not rest:
        return key
    if rest.startswith("p_"):  # Explain's method parameters: x_p_<parameter>
        return rest[2:]
    if rest in CONTROL_NAMES:
        return CONTROL_NAMES[rest]
    for suffix, name in _SUFFIX_NAMES.items():
        if rest.endswith(suffix):
            return name
    if "_example_" in rest:
        return f"example ({rest.split('_example_', 1)[1]})"
    for prefix, name in _PREFIX_NAMES.items():
        if rest.startswith(prefix):
            return f"{name} ({rest[len(prefix) :]})"
    return rest.replace("_", " ")


def css_class(key: str) -> str:
    """The CSS class Streamlit gives the element of the widget ``key``: ``st-key-`` and the key with
    every character outside ``[A-Za-z0-9_-]`` made ``-`` (Streamlit's frontend does the same)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def pinned_controls(page_path: str, controls: Sequence[str]) -> list[str]:
    """In presentation mode, fold the page's controls away except the pinned ones.

    Drawn after the page ran, into a container above it: a "Controls" expander with the pin list
    (a multiselect of ``controls``, in the page's link as ``?pin_<page>=[...]``) and a switch that
    shows every control. The others are hidden with CSS on their elements (:func:`css_class`):
    they keep their values, the page still reads them, and the link still holds them. Outside
    presentation mode it draws nothing.

    Args:
        page_path: the page's URL path (one pin list per page).
        controls: the keys :func:`ui.links.link` tied while the page ran, in drawing order.

    Returns:
        The keys hidden now (empty outside presentation mode).
    """
    if not presenting() or not controls:
        return []
    options = list(dict.fromkeys(controls))
    key = f"{PIN_KEY}_{page_path.strip('/') or 'home'}"
    if key in st.session_state:  # a control the page no longer draws (another layer's page) drops out
        st.session_state[key] = [k for k in st.session_state[key] if k in options]
    # Tied to the link before the expander's label counts them: a teacher's link brings its pins.
    link(key, kind=list, choices=options, default=[])
    link(SHOW_ALL_KEY, kind=bool, default=False)
    pinned_now = st.session_state.get(key, [])
    folded = 0 if st.session_state.get(SHOW_ALL_KEY) else len(options) - len(pinned_now)
    with st.expander(f"Controls: {len(pinned_now)} pinned, {folded} folded away", icon=":material/tune:"):
        pinned = st.multiselect(
            "Pinned controls (shown on the page)",
            options,
            format_func=control_name,
            key=key,
            placeholder="Pin the controls you will use while presenting",
        )
        show_all = st.toggle("Show every control", key=SHOW_ALL_KEY)
    hidden = [] if show_all else [k for k in options if k not in pinned]
    if hidden:
        st.html("<style>" + ", ".join(f".{css_class(k)}" for k in hidden) + " { display: none; }</style>")
    return hidden


def display_settings() -> None:
    """The sidebar's display settings (app.py draws them on every page): presentation mode and the
    charts' download format; in presentation mode the page's larger text too."""
    st.toggle(
        "Presentation mode",
        key=link(PRESENT_KEY, kind=bool, default=False),
        help=(
            "For a projector: larger text and charts, no label under 18 px, the page's controls folded away but "
            "the pinned ones; the link keeps it (?present=1). Light or dark theme: the ⋮ menu at the top right."
        ),
    )
    key = link(EXPORT_KEY, choices=EXPORT_FORMATS, default=EXPORT_FORMATS[0])
    st.session_state.setdefault(key, EXPORT_FORMATS[0])  # the default, unless the link gave one
    st.segmented_control(
        "Chart downloads",
        EXPORT_FORMATS,
        format_func=lambda f: {"png": "PNG (3×)", "svg": "SVG"}[f],
        key=key,
        help="What the camera button in each chart's toolbar saves.",
    )
    if presenting():
        # Streamlit's own text is sized in rem: one root size makes all of it larger.
        st.html(f"<style>html {{ font-size: {PRESENT_ROOT_FONT_PX}px; }}</style>")
