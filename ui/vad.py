"""The RNN states page's Silero VAD section: a pretrained speech detector's LSTM on the user's clip."""

from __future__ import annotations

import hashlib

import streamlit as st
import torch

from playground.figures.audio import speech_trace_figure, waveform_figure
from playground.inspection.vad import CellCheck, lstm_cell_steps, speech_units
from playground.models import WeightsUnavailableError
from playground.models.silero_vad import FRAME_SECONDS, SileroVAD, SpeechTrace, load_silero_vad
from ui.audio import audio_input_picker
from ui.charts import plotly_chart

UNITS_SHOWN = 12


@st.cache_resource(show_spinner="Loading Silero VAD from its wheel…", max_entries=1)
def _vad() -> SileroVAD:
    return load_silero_vad()  # shared and read-only: speech_probs runs under no_grad


@st.cache_data(max_entries=8, show_spinner="Running the detector frame by frame…")
def _trace(digest: str, _waveform: torch.Tensor, sample_rate: int) -> tuple[SpeechTrace, CellCheck]:
    model = _vad()
    trace = model.speech_probs(_waveform, sample_rate)
    return trace, lstm_cell_steps(model, _waveform, trace, sample_rate)


def vad_section() -> None:
    """Pick a clip; show Silero VAD's speech probability per 32 ms frame and its LSTM units over time."""
    st.caption(
        "Silero VAD (Silero Team, MIT) is a pretrained voice-activity detector: a convolutional encoder reads "
        "each 32 ms of 16 kHz audio, an LSTM cell carries what it heard from frame to frame, and a sigmoid "
        "of its hidden state is the probability of speech. Its weights come from the silero-vad wheel."
    )
    picked = audio_input_picker("rs_vad")
    if picked is None:
        return
    decoded, name = picked
    try:
        _vad()
    except WeightsUnavailableError as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return
    digest = hashlib.sha256(decoded.waveform.numpy().tobytes()).hexdigest()
    trace, check = _trace(digest, decoded.waveform, decoded.sample_rate)
    speech = float((trace.probs > 0.5).float().mean())
    plotly_chart(
        waveform_figure(decoded.waveform, decoded.sample_rate, title=f"{name}: {decoded.duration_s:.2f} s"),
        key="rs_vad_wave",
    )
    units, correlations = speech_units(trace, UNITS_SHOWN)
    plotly_chart(
        speech_trace_figure(trace.probs, trace.hidden, FRAME_SECONDS, units.tolist(), correlations.tolist()),
        key="rs_vad_trace",
        filename="silero_vad_states",
    )
    st.caption(
        f"{len(trace.probs)} frames of 32 ms · {speech:.0%} of them above 0.5 (speech) · the {len(units)} of 128 "
        "units whose value follows the probability most closely (Pearson r), red positive, blue negative."
    )
    if check.matches:
        st.success(
            f"The LSTM recomputed by hand (c_t = f ⊙ c_(t-1) + i ⊙ g, h_t = o ⊙ tanh(c_t)) matches the model: "
            f"max |diff| {max(check.hidden_diff, check.cell_diff):.1e} over every frame and unit.",
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            f"The hand-recomputed LSTM differs from the model by up to {max(check.hidden_diff, check.cell_diff):.2e}.",
            icon=":material/warning:",
        )
