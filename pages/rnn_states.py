"""RNN states: hidden states, gates and cell states of the active recurrent model, step by step.

Everything is recomputed from the model's own weights by ``playground.inspection.rnn`` and checked
against PyTorch's forward pass; the figures come from ``playground.figures.rnn``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
import torch

from playground.bundle import Bundle
from playground.core.fingerprint import weights_fingerprint
from playground.data import DATASETS, DatasetUnavailableError, SequenceDataset, TextDataset
from playground.figures.rnn import (
    SERIES_RANGE,
    SERIES_TITLES,
    colored_tokens_html,
    gates_figure,
    prefix_figure,
    states_heatmap,
    trajectory_figure,
    units_figure,
)
from playground.inspection.rnn import (
    DatasetStates,
    RecurrentStates,
    StatesCheck,
    check_states,
    dataset_states,
    find_similar,
    is_recurrent,
    pca_trajectory,
    prefix_probabilities,
    select_units,
    states_for_sequence,
    states_for_text,
    step_signals,
    strongest_units,
    top_units,
    unit_correlations,
    update_formula,
)
from playground.inspection.rnn.audio import is_audio_recurrent
from ui.audio_rnn import crnn_states_section
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry, lesson_link
from ui.state import active_model, cached_dataset, show_error
from ui.vad import vad_section
from ui.widgets import shorten, text_input_picker

SEARCH_LIMIT = 300  # dataset inputs searched by "find similar" (states computed once, cached)
EXPLORER_UNITS = 3  # units picked at first in the unit explorer
MAX_GATE_UNITS = 8  # lines per panel in the gates figure


# ---------------------------------------------------------------- cached computation
# The bundle is not hashable: it goes in with a leading underscore, and the weights' fingerprint
# (plus the input) is the cache key.


@st.cache_data(max_entries=16, show_spinner="Recomputing every step from the weights…")
def _text_states(_bundle: Bundle, model_key: str, text: str) -> tuple[RecurrentStates, StatesCheck, torch.Tensor]:
    states = states_for_text(_bundle, text)
    return states, check_states(_bundle.model, states), prefix_probabilities(_bundle.model, states.model_input)


@st.cache_data(max_entries=16, show_spinner="Recomputing every step from the weights…")
def _sequence_states(
    _bundle: Bundle, _values: torch.Tensor, model_key: str, dataset: str, index: int
) -> tuple[RecurrentStates, StatesCheck, torch.Tensor]:
    states = states_for_sequence(_bundle, _values)
    return states, check_states(_bundle.model, states), prefix_probabilities(_bundle.model, states.model_input)


@st.cache_data(max_entries=8, show_spinner="Computing the states of the dataset examples…")
def _search_states(
    _bundle: Bundle,
    _inputs: list[str] | torch.Tensor,
    model_key: str,
    dataset: str,
    layer: int,
    direction: str,
    kind: str,
) -> DatasetStates:
    return dataset_states(_bundle, _inputs, layer, direction, kind)  # type: ignore[arg-type]


def _symmetric(values: np.ndarray) -> tuple[float, float]:
    bound = float(np.abs(values).max()) or 1.0
    return -bound, bound


def _search_inputs(bundle: Bundle) -> tuple[str, list[str] | torch.Tensor] | None:
    """Up to :data:`SEARCH_LIMIT` inputs of the model's dataset (fixed sample), or ``None`` if it does not load offline."""
    name = bundle.card.dataset
    if not name or name not in DATASETS or not DATASETS.get(name).offline():
        return None
    try:
        data = cached_dataset(name)
    except (DatasetUnavailableError, ValueError, TypeError, OSError):
        return None
    picked = np.sort(np.random.default_rng(0).choice(len(data), size=min(SEARCH_LIMIT, len(data)), replace=False))
    if isinstance(data, TextDataset):
        return name, [data.texts[int(i)] for i in picked]
    if isinstance(data, SequenceDataset):
        return name, data.values[torch.from_numpy(picked)]
    return None


# ---------------------------------------------------------------- page

ensure_app_entry()
st.title("RNN states")
st.caption(
    "The article's update h_t = f(W_hh h_(t-1) + W_xh x_t + b_h), step by step on your input: every hidden "
    "state, gate and cell state is recomputed from the model's own weights and checked against PyTorch."
)
lesson_link("3.2 the RNN update")
bundle = active_model().bundle
if is_audio_recurrent(bundle):
    crnn_states_section(bundle)
    if st.toggle("Also: the LSTM inside a pretrained speech detector (Silero VAD)", key="rs_vad_on"):
        vad_section()  # only when asked: loading the detector takes ~1 s
    st.stop()
if not is_recurrent(bundle):
    st.info(
        f"The active model, **{bundle.title}**, is not a recurrent text or sequence model. Train one on the "
        "**Train** page (for example **lstm** on **brackets**, where LSTMs grow units that count the nesting "
        "depth), or build an rnn / lstm / gru on the Models page, then come back.",
        icon=":material/info:",
    )
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/model_training:")
    if st.toggle(
        "Meanwhile: the LSTM inside a pretrained speech detector (Silero VAD), on a clip",
        value=bundle.modality == "audio",
        key=f"rs_vad_on_{bundle.modality}",  # its own default per kind of model
    ):
        vad_section()  # only when asked (or for an audio model): loading the detector takes ~1 s
    st.stop()

model_key = weights_fingerprint(bundle.model)

# ---------------------------------------------------------------- input
st.subheader("Input")
try:
    if bundle.modality == "text":
        text = text_input_picker(bundle, key="rs_input")
        if text is None:
            st.stop()
        states, check, probs = _text_states(bundle, model_key, text)
    else:
        search = _search_inputs(bundle)
        if search is None or not isinstance(search[1], torch.Tensor):
            st.info(
                f"{bundle.title} takes numeric sequences; its dataset ({bundle.card.dataset or 'unknown'}) does not "
                "load offline here, so there is no example to show.",
                icon=":material/info:",
            )
            st.stop()
        data = cached_dataset(search[0])
        assert isinstance(data, SequenceDataset)  # _search_inputs checked it
        index = int(
            st.number_input(
                f"Example of {data.name} (0–{len(data) - 1})",
                0,
                len(data) - 1,
                0,
                key=link("rs_seq", bounds=(0, len(data) - 1), kind=int),
            )
        )
        st.caption(f"true class: **{data.classes[int(data.targets[index])]}**")
        states, check, probs = _sequence_states(bundle, data.values[index], model_key, data.name, index)
except (ValueError, TypeError) as exc:
    show_error(exc, "compute the states")
    st.stop()

tokens = states.tokens
steps = states.steps
st.caption(f"The {steps} token{'s' if steps != 1 else ''} the model saw, in order:")
st.code(" · ".join(tokens), language=None, wrap_lines=True)
if states.num_dropped:
    st.warning(
        f"The text is longer than the model takes: {states.num_dropped} token(s) at the end were dropped.",
        icon=":material/content_cut:",
    )
if check.ok:
    st.success(
        f"Recomputed states match PyTorch (max |diff| = {check.max_abs_diff:.1e} over every layer, step and "
        f"unit, on {check.device})",
        icon=":material/check_circle:",
    )
else:
    st.warning(
        f"Recomputed states differ from PyTorch by up to {check.max_abs_diff:.1e} on {check.device} "
        f"(tolerance {check.tolerance:.0e}; cuDNN may use TF32 on GPUs).",
        icon=":material/warning:",
    )
best = int(probs[-1].argmax())
st.caption(
    f"{states.cell.upper()} · {states.num_layers} layer(s) × {states.num_directions} direction(s) × "
    f"{states.hidden_size} units · prediction **{bundle.labels[best]}** ({float(probs[-1, best]):.1%})"
)

# ---------------------------------------------------------------- layer, heatmap
names = [s.name for s in states.layers]
picked_name = st.selectbox("Layer and direction", names, key=link("rs_layer", choices=names))
layer_states = states.layers[names.index(picked_name)]
series = {k: v.numpy() for k, v in layer_states.series().items()}
hidden_size = states.hidden_size

st.subheader("Hidden state heatmap")
c1, c2, c3 = st.columns([2, 2, 1])
what = c1.radio(
    "Show",
    list(reversed(series)),  # hidden state first
    format_func=lambda n: SERIES_TITLES.get(n, n),
    horizontal=True,
    key=link("rs_series", choices=list(series)),
)
n_units = hidden_size
if hidden_size > 8:
    n_units = int(
        c2.slider(
            "Units shown (the most varying)",
            8,
            hidden_size,
            min(hidden_size, 64),
            step=1,
            key=link("rs_nunits", bounds=(8, hidden_size), kind=int),
        )
    )
values = series[what]
shown_units = strongest_units(values, n_units) if n_units < hidden_size else list(range(hidden_size))
c3.caption(f"{len(shown_units)} of {hidden_size} units × {steps} steps")
value_range = SERIES_RANGE.get(what) if states.nonlinearity == "tanh" or what != "hidden_state" else None
plotly_chart(
    states_heatmap(
        values, tokens, shown_units, value_range=value_range, title=f"{SERIES_TITLES[what]} · {picked_name}"
    ),
    key="rs_heatmap",
)

# ---------------------------------------------------------------- unit explorer
st.subheader("Unit explorer")
hidden = series["hidden_state"]
default_units = strongest_units(hidden, min(EXPLORER_UNITS, hidden_size))
units = st.multiselect(
    "Units",
    list(range(hidden_size)),
    default=default_units,
    key=link("rs_units", choices=range(hidden_size), kind=list),
)
if units:
    plotly_chart(
        units_figure(series[what], tokens, units, title=f"{SERIES_TITLES[what]} of the chosen units"),
        key="rs_units_chart",
    )
    colour_unit = st.selectbox("Colour the tokens by unit", units, key=link("rs_colour_unit", choices=units))
    st.html(
        colored_tokens_html(
            tokens, series[what][:, colour_unit], value_range or _symmetric(series[what][:, colour_unit])
        )
    )
    st.caption("Red: positive, blue: negative (no colour at 0); hover a token for its value.")
else:
    st.info("Pick one or more units to plot them over the tokens.")

# ---------------------------------------------------------------- gates
st.subheader("Gates and cell state")
if not layer_states.gates:
    st.caption("An Elman RNN has no gates: its hidden state is the whole update.")
elif units:
    plotly_chart(gates_figure(series, tokens, units[:MAX_GATE_UNITS]), key="rs_gates")
    if len(units) > MAX_GATE_UNITS:
        st.caption(f"The first {MAX_GATE_UNITS} chosen units are drawn.")
else:
    st.caption("Pick units above to see their gates over time.")

# ---------------------------------------------------------------- units that track a signal
st.subheader("Units that track a signal")
signals = step_signals(tokens)
signal_name = st.selectbox(
    "Signal", list(signals), key=link("rs_signal", choices=list(signals)), index=len(signals) - 1
)
if steps >= 3:
    r = unit_correlations(series[what], signals[signal_name])
    st.dataframe(
        pd.DataFrame([{"unit": u, "r": round(v, 3)} for u, v in top_units(r, min(5, hidden_size))]),
        hide_index=True,
    )
    st.caption(f"Pearson r of each unit's {SERIES_TITLES[what]} with the {signal_name}, over this input's steps.")
else:
    st.caption("A correlation needs at least 3 steps.")

# ---------------------------------------------------------------- find similar
st.subheader("Find similar (as LSTMVis)")
search = _search_inputs(bundle)
if search is None:
    st.caption("The model records no dataset that loads offline here, so there is nothing to search.")
elif steps < 2:
    st.caption("Select a span of at least 2 steps: this input is too short.")
else:
    c1, c2, c3 = st.columns(3)
    span = c1.slider("Span where the units are on", 0, steps, (max(0, steps - 3), steps), key="rs_span")
    threshold = c2.slider(
        "On-threshold", -1.0, 1.0, 0.3, 0.05, key=link("rs_threshold", bounds=(-1.0, 1.0), kind=float)
    )
    kinds = ["hidden"] + (["cell"] if states.cell == "lstm" else [])
    kind = c3.radio("States", kinds, horizontal=True, key=link("rs_kind", choices=kinds))
    source = series["hidden_state"] if kind == "hidden" else series["cell_state"]
    start, end = int(span[0]), int(span[1])
    if end - start < 1:
        st.caption("Choose a span of at least one step.")
    else:
        on_units = select_units(source, start, end, threshold)
        st.caption(
            f"{len(on_units)} unit(s) are ≥ {threshold:g} at every step of "
            f"“{shorten(' '.join(tokens[start:end]), 60)}” (steps {start}–{end - 1})."
        )
        chosen = st.multiselect(
            "Units to search for",
            list(range(hidden_size)),
            default=on_units[:20],
            key=f"rs_sim_units_{picked_name}_{kind}_{start}_{end}_{threshold}",  # new defaults for a new selection
        )
        if st.button("Find similar", key="rs_find", disabled=not chosen):
            name, inputs = search
            try:
                found = _search_states(
                    bundle, inputs, model_key, name, layer_states.layer, layer_states.direction, kind
                )
                matches = find_similar(found.values, chosen, threshold, found.tokens, min_length=2, top_k=20)
            except ValueError as exc:
                show_error(exc, "search the dataset")
                matches = None
            if matches is not None:
                st.caption(f"Searched {len(found.values)} examples of {name}; best {len(matches)} spans:")
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "example": m.index,
                                "steps": f"{m.start}–{m.end - 1}",
                                "span": " ".join(m.tokens),
                                "context": f"{' '.join(m.before)} [{' '.join(m.tokens)}] {' '.join(m.after)}",
                                "units matched": f"{m.matched}/{len(chosen)}",
                                "extra units on": m.extra,
                                "score": round(m.score, 3),
                            }
                            for m in matches
                        ]
                    ),
                    hide_index=True,
                )

# ---------------------------------------------------------------- PCA trajectory
st.subheader("Trajectory (PCA)")
if steps >= 2:
    trajectory = pca_trajectory(hidden)
    plotly_chart(trajectory_figure(trajectory.points, tokens, trajectory.explained_variance_ratio), key="rs_pca")
else:
    st.caption("A trajectory needs at least 2 steps.")

# ---------------------------------------------------------------- prefix predictions
st.subheader("Prediction as the input unfolds")
plotly_chart(prefix_figure(probs.numpy(), tokens, bundle.labels), key="rs_prefix")
st.caption("Each point is the model run on the input up to that token; the last one is its prediction.")

# ---------------------------------------------------------------- the update formula
st.subheader("The update formula, with the real numbers")
c1, c2 = st.columns(2)
step = (
    int(c1.slider("Step t", 0, steps - 1, steps - 1, key=link("rs_step", bounds=(0, steps - 1), kind=int)))
    if steps > 1
    else 0
)
unit = int(
    c2.number_input(
        "Unit j", 0, hidden_size - 1, int(default_units[0]), key=link("rs_unit", bounds=(0, hidden_size - 1), kind=int)
    )
)
try:
    formula = update_formula(bundle.model, states, layer_states.layer, layer_states.direction, step, unit)
except ValueError as exc:
    show_error(exc, "compute the update formula")
    st.stop()
st.caption(
    f"{picked_name}, step {step} (token “{shorten(formula.token, 30)}”), unit {unit}; "
    f"h_(t-1) = {formula.previous_hidden:.4f}"
    + (f", c_(t-1) = {formula.previous_cell:.4f}" if formula.previous_cell is not None else "")
)
st.code("\n".join(formula.lines()), language=None, wrap_lines=True)
gru = states.cell == "gru"
rows = []
for t in formula.terms:
    row: dict[str, object] = {"gate": t.name, "W_hh·h_(t-1)": t.recurrent, "W_xh·x_t": t.input}
    if gru:
        row.update({"b_ih": t.bias_ih, "b_hh": t.bias_hh, "r (candidate only)": t.reset})
    else:
        row["b_h = b_ih + b_hh"] = t.bias
    row.update({"sum": t.preactivation, "f": t.activation, "f(sum)": t.value})
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True)
pytorch_line = f"PyTorch computed h_t[j] = {formula.pytorch_hidden_state:.6f}"
if formula.pytorch_cell_state is not None:
    pytorch_line += f" and c_t[j] = {formula.pytorch_cell_state:.6f}"
if formula.abs_diff <= check.tolerance:
    st.success(f"{pytorch_line}: matches PyTorch (max |diff| = {formula.abs_diff:.1e})", icon=":material/check_circle:")
else:
    st.warning(f"{pytorch_line}: differs by {formula.abs_diff:.1e}", icon=":material/warning:")
