"""The RNN states page for an audio CRNN: its GRU over a clip, time in seconds, checked against PyTorch."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
import torch
from torch import nn

from playground.bundle import Bundle
from playground.core.fingerprint import weights_fingerprint
from playground.figures.rnn import gates_figure, states_heatmap
from playground.inspection.rnn import RecurrentStates, StatesCheck, check_states, strongest_units
from playground.inspection.rnn.audio import POOLING, states_for_clip
from ui.audio import audio_input_picker
from ui.charts import plotly_chart

GATE_UNITS = 6  # lines per panel of the gates figure: the units that vary most


@st.cache_data(max_entries=8, show_spinner="Recomputing every step from the weights…")
def _clip_states(
    _bundle: Bundle, model_key: str, digest: str, _waveform: torch.Tensor, sample_rate: int
) -> tuple[RecurrentStates, StatesCheck]:
    states = states_for_clip(_bundle, _waveform, sample_rate)
    rnn = getattr(_bundle.model, "rnn", None)
    if not isinstance(rnn, nn.RNNBase):
        raise TypeError(f"{_bundle.title} has no recurrent layer")
    return states, check_states(rnn, states)


def crnn_states_section(bundle: Bundle) -> None:
    """A clip in; the recurrent layer's hidden state and gates at every step, time in seconds."""
    st.subheader("Input")
    picked = audio_input_picker("rs_crnn")
    if picked is None:
        return
    decoded, name = picked
    digest = hashlib.sha256(decoded.waveform.numpy().tobytes()).hexdigest()
    states, check = _clip_states(
        bundle, weights_fingerprint(bundle.model), digest, decoded.waveform, decoded.sample_rate
    )
    layer = states.get(states.num_layers - 1, "forward")
    st.caption(
        f"{states.cell.upper()} · {states.hidden_size} units · {len(states.tokens)} steps: the conv blocks pool "
        f"{POOLING} spectrogram frames into each step the recurrent layer reads ({name})."
    )
    if check.ok:
        st.success(
            f"Recomputed states match PyTorch (max |diff| = {check.max_abs_diff:.1e} over every step and unit).",
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            f"Recomputed states differ from PyTorch by up to {check.max_abs_diff:.2e}.", icon=":material/warning:"
        )
    hidden = layer.hidden_state.numpy()  # (T', H)
    plotly_chart(
        states_heatmap(hidden, states.tokens, title=f"hidden state h over time · layer {layer.layer}"),
        key="rs_crnn_heatmap",
    )
    units = strongest_units(hidden, GATE_UNITS)
    series = {n: v.numpy() for n, v in layer.series().items()}
    plotly_chart(gates_figure(series, states.tokens, units), key="rs_crnn_gates")
    spread = np.ptp(hidden, axis=0)
    st.caption(
        f"The {len(units)} units whose hidden state changes most over the clip (range up to {spread.max():.2f}); "
        "steps are labelled with the time their first frame starts."
    )
