"""The audio modality: preprocessing, augmentation, models, checkpoints and predictions over time.

Clips are made in the tests (tones, silence, clicks); FSDD itself is tested in test_fsdd.py and the
trained model in test_audio_training.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import playground.models  # noqa: F401  (registers the audio models)
from playground.bundle import create_bundle_from_preprocessing, load_bundle
from playground.core.modality import MODALITIES
from playground.inspection.predict import predict_audio, predict_inputs
from playground.modalities.audio.augment import add_noise, spec_augment, time_shift
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import decode_clips, wav_bytes
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.audio.spec import fit_audio_preprocessing

RATE = 8000


def tone(freq: float, seconds: float, rate: int = RATE, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).to(torch.float32)


def clips_of(*waves: torch.Tensor, rate: int = RATE) -> AudioClips:
    return AudioClips.from_list(list(waves), rate)


def test_clips_pad_take_and_refuse_bad_shapes() -> None:
    clips = clips_of(torch.ones(3), torch.ones(5))
    assert clips.waveforms.shape == (2, 5) and clips.lengths.tolist() == [3, 5]
    assert clips.waveforms[0, 3:].abs().sum() == 0
    assert clips.take(torch.tensor([0])).waveforms.shape == (1, 3)
    assert clips.clip(0).shape == (3,)
    with pytest.raises(ValueError, match="non-empty"):
        AudioClips.from_list([torch.ones(0)], RATE)
    with pytest.raises(ValueError, match="every length"):
        AudioClips(torch.zeros(2, 4), torch.tensor([1, 9]), RATE)


def test_fit_clips_centres_short_clips_and_crops_long_ones() -> None:
    pre = AudioPreprocessing(clip_samples=8000, peak_normalize=False)
    short, long = torch.ones(4000), torch.arange(12000, dtype=torch.float32)
    fixed = pre.fit_clips(clips_of(short, long))
    assert fixed.shape == (2, 8000)
    # the 0.5 s clip sits in the middle: 2,000 zeros, 4,000 ones, 2,000 zeros
    assert fixed[0, :2000].abs().sum() == 0 and fixed[0, 2000:6000].eq(1).all() and fixed[0, 6000:].abs().sum() == 0
    # the 1.5 s clip keeps its middle second: samples 2,000 .. 9,999
    assert fixed[1, 0] == 2000 and fixed[1, -1] == 9999


def test_peak_normalization_makes_levels_alike_and_leaves_silence_alone() -> None:
    pre = AudioPreprocessing()
    fixed = pre.fit_clips(clips_of(tone(440, 1.0, amplitude=0.05), tone(440, 1.0, amplitude=0.8), torch.zeros(8000)))
    assert torch.allclose(fixed[0], fixed[1], atol=1e-4) and fixed[0].abs().max() == pytest.approx(1.0)
    assert fixed[2].abs().max() == 0
    feats = pre.raw_features(fixed)  # (3, 1, 40, 101) dB
    assert float(feats[0].max() - feats[0].min()) <= 80.0 + 1e-3  # the per-clip top_db floor
    assert torch.isfinite(feats).all()


def test_resampled_clips_keep_their_pitch_and_length() -> None:
    pre = AudioPreprocessing(sample_rate=8000, clip_samples=8000)
    fixed = pre.fit_clips(clips_of(tone(440, 1.0, 44100), rate=44100))  # (1, 8000)
    spectrum = torch.fft.rfft(fixed[0].double()).abs()
    peak_hz = float(spectrum.argmax()) * 8000 / 8000
    assert abs(peak_hz - 440) <= 2


def test_log_mel_puts_a_tone_in_its_mel_band_and_silence_is_finite() -> None:
    pre = AudioPreprocessing()
    feats = pre.raw_features(pre.fit_clips(clips_of(tone(1000, 1.0), torch.zeros(8000))))  # (2, 1, 40, 101)
    assert feats.shape == (2, 1, pre.n_mels, pre.frames) == (2, 1, 40, 101)
    band = int(feats[0, 0, :, 50].argmax())
    centres = pre.mel_frequencies_hz()
    assert abs(float(centres[band]) - 1000) < 0.1 * 1000  # the loudest band is the one around 1 kHz
    assert torch.isfinite(feats).all() and feats[1].max() == pytest.approx(-100.0)  # silence: the dB floor


def test_features_of_one_clip_do_not_depend_on_its_batch() -> None:
    for features in ("log_mel", "mfcc", "waveform"):
        pre = AudioPreprocessing(features=features)
        batch = clips_of(tone(300, 0.7), tone(2000, 1.0, amplitude=0.01), torch.zeros(5000))
        together = pre.model_input(batch)
        alone = pre.model_input(batch.take(torch.tensor([1])))
        assert together.shape[1:] == pre.example_input()[1:]
        assert torch.allclose(together[1], alone[0], atol=1e-5), features


def test_fitted_statistics_standardize_the_training_features() -> None:
    clips = clips_of(*(tone(f, 0.8) for f in (200, 400, 800, 1600)))
    pre = fit_audio_preprocessing(clips, None, {"features": "log_mel"})
    x = pre.model_input(clips).double()
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert pre.sample_rate == RATE and pre.clip_samples == RATE
    assert fit_audio_preprocessing(clips, None, {"features": "mfcc"}).bins == pre.n_mfcc


def test_preprocessing_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    clips = clips_of(tone(500, 1.0), tone(1500, 1.0))
    pre = fit_audio_preprocessing(clips, None, {"features": "mfcc"})
    bundle = create_bundle_from_preprocessing("audio_cnn", pre, ["low", "high"], hparams={"features": "mfcc"})
    bundle.save(tmp_path / "ckpt")
    loaded = load_bundle(tmp_path / "ckpt")
    assert loaded.preprocessing == pre and loaded.modality == "audio"
    assert torch.equal(
        bundle.model.eval()(pre.model_input(clips)), loaded.model.eval()(loaded.preprocessing.model_input(clips))
    )
    with pytest.raises(ValueError, match="invalid audio preprocessing"):
        AudioPreprocessing.from_dict({"kind": "audio", "sample_rate": 8000, "no_such_field": 1})
    with pytest.raises(ValueError, match="features must be one of"):
        AudioPreprocessing.from_dict({"kind": "audio", "features": "chroma"})


def test_models_refuse_features_they_cannot_take() -> None:
    clips = clips_of(tone(500, 1.0))
    with pytest.raises(ValueError, match="m5 takes"):
        create_bundle_from_preprocessing("m5", fit_audio_preprocessing(clips, None, None), ["a"])
    wave = fit_audio_preprocessing(clips, None, {"features": "waveform"})
    m5 = create_bundle_from_preprocessing("m5", wave, ["a", "b"], hparams={"features": "waveform"})
    assert m5.model(wave.model_input(clips)).shape == (1, 2)


def test_augmentation_is_seeded_and_keeps_what_it_should() -> None:
    x = torch.randn(4, 8000)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    shifted = time_shift(x, 800, g1)
    assert torch.equal(shifted, time_shift(x, 800, g2))
    # every row is the original moved by one whole shift, zeros coming in
    for row, orig in zip(shifted, x, strict=True):
        matches = [
            s
            for s in range(-800, 801)
            if torch.equal(row, time_shift(orig.unsqueeze(0), 0, g1)[0].roll(s) * _inside(s))
        ]
        assert len(matches) == 1
    # noise at 20 dB SNR: measured within 0.5 dB
    clean = tone(440, 1.0).repeat(3, 1)
    noisy = add_noise(clean, torch.full((3,), 20.0), torch.Generator().manual_seed(0))
    snr = 10 * torch.log10(clean.pow(2).mean(1) / (noisy - clean).pow(2).mean(1))
    assert torch.allclose(snr, torch.full((3,), 20.0), atol=0.5)
    feats = torch.randn(8, 1, 40, 101)
    masked = spec_augment(feats, torch.Generator().manual_seed(0))
    zeroed = (masked == 0) & (feats != 0)
    assert zeroed.any() and zeroed.float().mean() < 0.5  # some bands / frames masked, most kept


def _inside(shift: int) -> torch.Tensor:
    keep = torch.ones(8000)
    if shift > 0:
        keep[:shift] = 0
    elif shift < 0:
        keep[shift:] = 0
    return keep


def test_audio_is_a_registered_modality_with_explain_hooks() -> None:
    spec = MODALITIES.get("audio")
    assert spec.input_kind == "values" and spec.explain is not None and spec.explain.input_rank == 3
    clips = spec.read_inputs(wav_bytes(tone(440, 0.5), RATE), "clip.wav")  # type: ignore[misc]
    assert isinstance(clips, AudioClips) and clips.sample_rate == RATE and len(clips) == 1


def _two_tone_bundle(architecture: str = "audio_cnn") -> tuple[object, AudioPreprocessing]:
    """A model (default audio_cnn) taught in a few steps to tell a 300 Hz tone from a 2 kHz one."""
    torch.manual_seed(0)
    waves = [tone(300, 1.0, amplitude=a) for a in (0.2, 0.5, 0.8)] + [
        tone(2000, 1.0, amplitude=a) for a in (0.2, 0.5, 0.8)
    ]
    clips = clips_of(*waves)
    pre = fit_audio_preprocessing(clips, None, None)
    bundle = create_bundle_from_preprocessing(architecture, pre, ["low", "high"])
    x, y = pre.model_input(clips), torch.tensor([0, 0, 0, 1, 1, 1])
    optimizer = torch.optim.Adam(bundle.model.parameters(), lr=1e-2)
    bundle.model.train()
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(bundle.model(x), y).backward()
        optimizer.step()
    return bundle, pre


def test_long_clips_are_predicted_over_time_and_short_ones_padded() -> None:
    bundle, _ = _two_tone_bundle()
    # 3 s: a low tone for 1.5 s then a high one; windows of 1 s every 0.5 s
    clip = torch.cat([tone(300, 1.5), tone(2000, 1.5)])
    result = predict_audio(bundle, clip, RATE, top_k=2)  # type: ignore[arg-type]
    assert result.window_probs.shape == (5, 2) and not result.padded
    assert result.window_starts_s.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    labels = result.window_probs.argmax(1).tolist()
    assert labels[0] == 0 and labels[-1] == 1  # low at the start, high at the end
    assert torch.allclose(result.prediction.probs, result.window_probs.mean(0))
    short = predict_audio(bundle, tone(2000, 0.3, rate=16000), 16000)  # type: ignore[arg-type]
    assert short.padded and short.prediction.label == "high" and short.features.shape == (1, 40, 101)
    silent = predict_audio(bundle, torch.zeros(8000), RATE)  # type: ignore[arg-type]
    assert torch.isfinite(silent.prediction.probs).all()
    generic = predict_inputs(bundle, clips_of(tone(300, 1.0)))  # type: ignore[arg-type]
    assert generic[0].label == "low"
    decoded = decode_clips(wav_bytes(tone(2000, 1.0), RATE), "x.wav")
    assert predict_inputs(bundle, decoded)[0].label == "high"  # type: ignore[arg-type]


def test_feature_maps_over_time_and_frequency_and_filters_as_frequency_responses() -> None:
    from torch import nn

    from playground.inspection.features import conv1d_layers, frequency_responses, input_feature_map

    bundle, pre = _two_tone_bundle()
    features = predict_audio(bundle, tone(300, 1.0), RATE).features  # type: ignore[arg-type]
    fmap = input_feature_map(bundle, features, "features.0")  # type: ignore[arg-type]
    assert fmap.shape == (16, pre.bins, pre.frames)  # first conv keeps F x T (padding 1)
    deeper = input_feature_map(bundle, features, "features.4")  # type: ignore[arg-type]  # after one 2x2 pool
    assert deeper.shape[1:] == (pre.bins // 2, pre.frames // 2)
    # a filter made to pass 1 kHz peaks at 1 kHz, one made for 3 kHz at 3 kHz
    conv = nn.Conv1d(1, 2, 80)
    t = torch.arange(80) / RATE
    with torch.no_grad():
        for i, hz in enumerate((1000, 3000)):
            conv.weight[i, 0] = torch.sin(2 * math.pi * hz * t) * torch.hann_window(80)
    freqs, db = frequency_responses(conv, RATE)
    assert freqs[db.argmax(1)].tolist() == [1000.0, 3000.0] and db.max() == pytest.approx(0.0)
    m5 = create_bundle_from_preprocessing(
        "m5",
        fit_audio_preprocessing(clips_of(tone(500, 1.0)), None, {"features": "waveform"}),
        ["a"],
        hparams={"features": "waveform"},
    )
    assert next(n for n, _ in conv1d_layers(m5.model)) == "features.0"


def test_crnn_reads_the_frames_with_a_gru_and_learns_two_tones() -> None:
    bundle, pre = _two_tone_bundle("crnn")
    model = bundle.model.eval()  # type: ignore[attr-defined]
    assert isinstance(model.rnn, torch.nn.GRU) and model.rnn.input_size == 32 * (pre.bins // 4)
    low, high = predict_audio(bundle, tone(300, 1.0), RATE), predict_audio(bundle, tone(2000, 1.0), RATE)  # type: ignore[arg-type]
    assert (low.prediction.label, high.prediction.label) == ("low", "high")
    with pytest.raises(ValueError, match="crnn takes"):
        create_bundle_from_preprocessing(
            "crnn",
            fit_audio_preprocessing(clips_of(tone(500, 1.0)), None, {"features": "waveform"}),
            ["a"],
            hparams={"features": "waveform"},
        )
