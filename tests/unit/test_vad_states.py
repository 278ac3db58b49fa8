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
    assert (
        set(check.gates) == {"input", "forget", "cell", "output"} and check.gates["forget"].shape == trace.hidden.shape
    )
    assert float(check.gates["forget"].min()) >= 0 and float(check.gates["forget"].max()) <= 1  # sigmoid gates
    lead = int(0.5 / FRAME_SECONDS) - 1
    assert float(trace.probs[:lead].max()) < 0.2 and float(trace.probs.max()) > 0.9  # silence, then speech
    units, r = speech_units(trace, 8)
    assert units.shape == (8,) and float(r.abs()[0]) > 0.8  # the best unit tracks the speech probability closely
    assert (r.abs()[:-1] >= r.abs()[1:]).all()
    fig = speech_trace_figure(trace.probs, trace.hidden, FRAME_SECONDS, units.tolist(), r.tolist())
    heat = fig.data[1]
    assert np.asarray(heat.z).shape == (8, len(trace.probs)) and heat.y[0].startswith(f"unit {int(units[0])} (r = ")


def test_a_crnns_gru_is_recomputed_over_a_clip_with_time_in_seconds() -> None:
    from playground.bundle import create_bundle_from_preprocessing, load_bundle
    from playground.bundle.runs import SHIPPED_CHECKPOINTS
    from playground.inspection.rnn import check_states
    from playground.inspection.rnn.audio import is_audio_recurrent, states_for_clip

    pre = load_bundle(SHIPPED_CHECKPOINTS / "audio_cnn-fsdd").preprocessing  # 1 s windows, 101 frames of 10 ms
    torch.manual_seed(0)
    crnn = create_bundle_from_preprocessing("crnn", pre, [str(d) for d in range(10)])
    assert is_audio_recurrent(crnn) and not is_audio_recurrent(load_bundle(SHIPPED_CHECKPOINTS / "audio_cnn-fsdd"))
    clip = decode_audio((ROOT / "assets/samples/audio/five_lucas.ogg").read_bytes())
    states = states_for_clip(crnn, clip.waveform, clip.sample_rate)
    assert states.cell == "gru" and states.steps == 101 // 4 and states.tokens[:3] == ["0.00 s", "0.04 s", "0.08 s"]
    check = check_states(crnn.model.rnn, states)
    assert check.ok and check.max_abs_diff <= 1e-5
    last = states.get(0).hidden_state[-1]  # (H,)
    with torch.no_grad():  # the recomputed last hidden state gives the model's own logits
        logits = crnn.model.classifier(last)
        expected = crnn.model(states.model_input.unsqueeze(0))[0]
    assert torch.allclose(logits, expected, atol=1e-5)
