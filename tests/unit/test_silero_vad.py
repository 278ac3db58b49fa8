"""Silero VAD rebuilt as a plain module (playground.models.silero_vad) against the wheel's own TorchScript model.

Real speech: FSDD clips (8 kHz, shipped with the project) resampled to 16 kHz. The reference is the
``silero_vad.jit`` of the pinned ``silero-vad`` wheel, loaded with ``torch.jit.load`` (the package is
never imported: it would set ``torch.set_num_threads(1)``). Skipped when the wheel is not installed.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from playground.data import DATASETS, AudioDataset
from playground.modalities.audio.resample import resample
from playground.models import MODELS, WeightsUnavailableError
from playground.models import silero_vad as vad
from playground.models.silero_vad import SileroVAD, load_silero_vad

HAS_WHEEL = importlib.util.find_spec("silero_vad") is not None
needs_wheel = pytest.mark.skipif(not HAS_WHEEL, reason="the silero-vad wheel is not installed")
SPEECH_CLIPS = (0, 100)  # FSDD indices: "0" (jackson) and "2"; measured mean probability 0.93 and 0.95
TOL = 1e-5
# the reference is TorchScript, which torch 2.11 marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def model() -> SileroVAD:
    if not HAS_WHEEL:
        pytest.skip("the silero-vad wheel is not installed")
    return load_silero_vad()


@pytest.fixture(scope="module")
def reference() -> torch.jit.ScriptModule:
    if not HAS_WHEEL:
        pytest.skip("the silero-vad wheel is not installed")
    return torch.jit.load(str(vad.silero_jit_path()), map_location="cpu").eval()


@pytest.fixture(scope="module")
def fsdd() -> AudioDataset:
    ds = DATASETS.get("fsdd").loader()
    assert isinstance(ds, AudioDataset) and ds.clips.sample_rate == 8000
    return ds


@pytest.fixture(scope="module")
def speech(fsdd: AudioDataset) -> list[torch.Tensor]:
    return [resample(fsdd.clips.clip(i), 8000, vad.SAMPLE_RATE) for i in SPEECH_CLIPS]


@needs_wheel
def test_loading_keeps_the_thread_count_and_never_imports_the_package() -> None:
    before = torch.get_num_threads()
    model = load_silero_vad()
    assert torch.get_num_threads() == before
    assert "silero_vad" not in sys.modules
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == 243_585
    assert model.stft_basis.shape == (258, 1, 256) and model.stft_basis.abs().sum() > 0


@needs_wheel
def test_state_dict_maps_every_reference_tensor_of_the_16k_branch() -> None:
    state = vad.load_silero_state_dict()
    assert set(state) == set(SileroVAD().state_dict())
    reference = torch.jit.load(str(vad.silero_jit_path()), map_location="cpu").state_dict()
    for theirs, ours in vad._NAME_MAP.items():
        assert torch.equal(state[ours], reference[theirs])


@needs_wheel
def test_matches_the_reference_chunk_by_chunk_with_state(
    model: SileroVAD, reference: torch.jit.ScriptModule, speech: list[torch.Tensor]
) -> None:
    for clip in speech:
        reference.reset_states()
        state = None
        for window in SileroVAD.windows(clip):  # (576,): 64 context + 512 new samples
            prob, state = model(window.unsqueeze(0), state)
            expected = reference(window[vad.CONTEXT_SAMPLES :].unsqueeze(0), vad.SAMPLE_RATE)  # keeps its own context
            assert prob.shape == (1, 1) and state.shape == (2, 1, 128)
            assert (prob - expected).abs().max().item() <= TOL
            assert (state - reference._state).abs().max().item() <= TOL


@needs_wheel
def test_speech_probs_match_the_reference_over_whole_clips(
    model: SileroVAD, reference: torch.jit.ScriptModule, speech: list[torch.Tensor]
) -> None:
    for clip in speech:
        trace = model.speech_probs(clip)
        expected = reference.audio_forward(clip.unsqueeze(0), vad.SAMPLE_RATE)[0]  # (N,)
        n = -(-clip.numel() // 512)
        assert trace.probs.shape == expected.shape == (n,)
        assert (trace.probs - expected).abs().max().item() <= TOL
        assert trace.hidden.shape == trace.cell.shape == (n, 128)
        # the hidden state is what the decoder reads, and the last one ends the stream
        assert torch.allclose(model.decode(trace.hidden).squeeze(1), trace.probs)
        assert (trace.hidden[-1] - reference._state[0, 0]).abs().max().item() <= TOL
        assert (trace.cell[-1] - reference._state[1, 0]).abs().max().item() <= TOL
        assert trace.frame_times_s.dtype == torch.float64
        assert torch.allclose(trace.frame_times_s, torch.arange(n, dtype=torch.float64) * 0.032)
        assert trace.duration_s == pytest.approx(clip.numel() / 16000)


@needs_wheel
def test_separates_speech_from_silence_and_noise(model: SileroVAD, speech: list[torch.Tensor]) -> None:
    # measured: speech 0.93 / 0.95, digital silence 0.005, white noise (std 0.01) 0.011
    for clip in speech:
        assert model.speech_probs(clip).probs.mean().item() > 0.8
    assert model.speech_probs(torch.zeros(16000)).probs.mean().item() < 0.05
    noise = 0.01 * torch.randn(16000, generator=torch.Generator().manual_seed(0))
    assert model.speech_probs(noise).probs.mean().item() < 0.05
    # and in time: one second of silence, the digit, one second of silence
    quiet = torch.zeros(16000)
    trace = model.speech_probs(torch.cat([quiet, speech[0], quiet]))
    t = trace.frame_times_s
    assert trace.probs[t < 0.9].max().item() < 0.1
    assert trace.probs[(t >= 1.0) & (t < 1.0 + speech[0].numel() / 16000)].max().item() > 0.9


@needs_wheel
def test_speech_probs_resample_other_rates(model: SileroVAD, fsdd: AudioDataset) -> None:
    clip = fsdd.clips.clip(SPEECH_CLIPS[0])  # 8 kHz
    direct = model.speech_probs(clip, sample_rate=8000)
    assert torch.equal(direct.probs, model.speech_probs(resample(clip, 8000, 16000)).probs)


def test_refuses_bad_inputs() -> None:
    model = SileroVAD().eval()
    with pytest.raises(ValueError, match="576"):
        model(torch.zeros(1, 512))
    with pytest.raises(ValueError, match="state"):
        model(torch.zeros(2, 576), torch.zeros(2, 1, 128))
    with pytest.raises(ValueError, match="waveform"):
        model.speech_probs(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="waveform"):
        model.speech_probs(torch.zeros(0))
    prob, state = model(torch.zeros(3, 576))  # no state: zeros
    assert prob.shape == (3, 1) and state.shape == (2, 3, 128)


def test_windows_follow_the_reference_chunking() -> None:
    wave = torch.arange(1, 1001, dtype=torch.float32)  # 1,000 samples -> 2 chunks, the last zero-padded
    windows = SileroVAD.windows(wave)
    assert windows.shape == (2, 576)
    assert windows[0, :64].eq(0).all() and torch.equal(windows[0, 64:], wave[:512])
    assert torch.equal(windows[1, :64], wave[448:512]) and torch.equal(windows[1, 64:552], wave[512:])
    assert windows[1, 552:].eq(0).all()


def test_missing_wheel_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vad, "PACKAGE", "silero_vad_not_installed_here")
    with pytest.raises(WeightsUnavailableError, match="silero-vad"):
        load_silero_vad()


def test_not_a_registry_entry() -> None:
    """A streaming detector with a fixed probability output, not a classifier to train: kept out of MODELS."""
    assert "silero_vad" not in MODELS.names()
