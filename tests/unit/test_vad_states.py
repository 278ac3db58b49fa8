"""Inside Silero VAD's LSTM: the cell recomputed by hand equals the module's, and some units follow speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from playground.figures.audio import speech_trace_figure
from playground.inspection.vad import lstm_cell_steps, speech_units
from playground.modalities.audio.decode import decode_audio
from playground.models.silero_vad import FRAME_SECONDS, load_silero_vad

ROOT = Path(__file__).resolve().parents[2]


def test_the_lstm_recomputed_by_hand_matches_and_units_follow_the_speech() -> None:
    model = load_silero_vad()
    clip = decode_audio((ROOT / "assets/samples/audio/one_four_nine_espeak_f5.flac").read_bytes())
    silence = torch.zeros(clip.sample_rate // 2)  # half a second of silence before the words
    waveform = torch.cat([silence, clip.waveform])
    trace = model.speech_probs(waveform, clip.sample_rate)
    check = lstm_cell_steps(model, waveform, trace, clip.sample_rate)
    assert check.matches and check.hidden_diff <= 1e-5 and check.cell_diff <= 1e-5
    assert set(check.gates) == {"input", "forget", "cell", "output"} and check.gates["forget"].shape == trace.hidden.shape
    assert float(check.gates["forget"].min()) >= 0 and float(check.gates["forget"].max()) <= 1  # sigmoid gates
    lead = int(0.5 / FRAME_SECONDS) - 1
    assert float(trace.probs[:lead].max()) < 0.2 and float(trace.probs.max()) > 0.9  # silence, then speech
    units, r = speech_units(trace, 8)
    assert units.shape == (8,) and float(r.abs()[0]) > 0.8  # the best unit tracks the speech probability closely
    assert (r.abs()[:-1] >= r.abs()[1:]).all()
    fig = speech_trace_figure(trace.probs, trace.hidden, FRAME_SECONDS, units.tolist(), r.tolist())
    heat = fig.data[1]
    assert np.asarray(heat.z).shape == (8, len(trace.probs)) and heat.y[0].startswith(f"unit {int(units[0])} (r = ")
