"""Explaining audio models: every values method on the (1, F, T) input (perturbations in time-frequency
patches), Integrated Gradients' completeness, the per-time curve, listening to the most attributed
spectrogram cells (complementary masks, the right tone kept), and the figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchaudio

import playground.models  # noqa: F401  (registers the audio models)
from playground.bundle import Bundle, create_bundle_from_preprocessing
from playground.explain import METHODS, MethodNotSupportedError, explain, methods_for
from playground.explain.audio import (
    explain_audio,
    heard_probabilities,
    listen,
    mel_filter_bank,
    model_window,
    stft_attributions,
    time_curve,
    top_mask,
)
from playground.explain.segmentation import patch_segments
from playground.figures import theme
from playground.figures.audio_explain import MAX_BARS, attribution_map_figure, time_curve_figure
from playground.inspection.predict import predict_audio
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.audio.spec import fit_audio_preprocessing

RATE = 8000
LOW, HIGH = 1000.0, 3000.0


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.4) -> torch.Tensor:
    t = torch.arange(round(seconds * RATE), dtype=torch.float64) / RATE
    return (amplitude * torch.sin(2 * math.pi * freq * t)).to(torch.float32)


def band_energy(x: torch.Tensor, centre: float, half_width: float = 200.0) -> float:
    """Share of ``x``'s energy within ``centre ± half_width`` Hz."""
    power = torch.fft.rfft(x.double()).abs() ** 2
    freqs = torch.fft.rfftfreq(len(x), 1 / RATE)
    return float(power[(freqs - centre).abs() < half_width].sum() / power.sum())


@pytest.fixture(scope="module")
def two_tones() -> Bundle:
    """An audio_cnn taught in 30 steps to tell a 1 kHz tone ("low") from a 3 kHz one ("high")."""
    torch.manual_seed(0)
    waves = [tone(f, amplitude=a) for f in (LOW, HIGH) for a in (0.2, 0.5, 0.8)]
    clips = AudioClips.from_list(waves, RATE)
    pre = fit_audio_preprocessing(clips, None, None)
    bundle = create_bundle_from_preprocessing("audio_cnn", pre, ["low", "high"])
    x, y = pre.model_input(clips), torch.tensor([0, 0, 0, 1, 1, 1])
    optimizer = torch.optim.Adam(bundle.model.parameters(), lr=1e-2)
    bundle.model.train()
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(bundle.model(x), y).backward()
        optimizer.step()
    bundle.model.eval()
    return bundle


# -- methods ------------------------------------------------------------------------------------------
def test_every_values_method_runs_on_an_audio_model_with_patches(two_tones: Bundle) -> None:
    values_methods = [name for name, spec in METHODS.items() if "values" in spec.input_kinds]
    assert methods_for("audio") == values_methods
    pre = two_tones.preprocessing
    assert isinstance(pre, AudioPreprocessing)
    for method in values_methods:
        result = explain_audio(two_tones, tone(LOW), RATE, method)  # type: ignore[arg-type]
        a = result.explanation.attributions
        assert a.shape == (1, pre.bins, pre.frames) and torch.isfinite(a).all(), method
        assert result.curve.shape == (pre.frames,) and result.waveform.shape == (pre.clip_samples,)
        details = result.explanation.details
        if method == "occlusion":  # 4 mel bands x 10 frames, half-patch strides
            assert details["window"] == (1, 4, 10) and details["strides"] == (1, 2, 5)
        if method in ("feature_ablation", "lime", "kernel_shap"):
            assert details["segmentation"] == "patches" and details["segments"] == 49
    # image-only methods are refused by input kind
    features = result.explanation.inputs
    for method in ("grad_cam", "guided_grad_cam", "attention_rollout"):
        assert method not in methods_for("audio")
        with pytest.raises(MethodNotSupportedError, match="audio model"):
            explain(two_tones, features, method)


def test_patches_cover_time_and_frequency() -> None:
    labels = patch_segments(40, 101, 100)
    assert labels.shape == (40, 101) and int(labels.max()) + 1 == 100
    assert labels[:4, 0].unique().numel() == 1 and labels[4, 0] != labels[3, 0]  # 4 bands a patch
    assert labels[0, :10].unique().numel() == 1 and labels[0, 11] != labels[0, 0]  # ~10 frames a patch
    assert patch_segments(1, 8000, 49).unique().numel() == 49  # a waveform: chunks of time


def test_occlusion_finds_the_tone_in_frequency(two_tones: Bundle) -> None:
    """Occluding the 1 kHz bands of a 1 kHz tone lowers "low" most: the patches are in frequency, not only time."""
    pre = two_tones.preprocessing
    assert isinstance(pre, AudioPreprocessing)
    result = explain_audio(two_tones, tone(LOW), RATE, "occlusion", target=0)  # type: ignore[arg-type]
    per_band = result.explanation.attributions[0].sum(dim=1)  # (F,)
    peak_hz = float(pre.mel_frequencies_hz()[int(per_band.argmax())])
    assert abs(peak_hz - LOW) < 300, peak_hz


def test_integrated_gradients_adds_up_on_an_audio_model(two_tones: Bundle) -> None:
    result = explain_audio(two_tones, tone(LOW) + tone(HIGH, amplitude=0.2), RATE, "integrated_gradients", target=0)  # type: ignore[arg-type]
    e = result.explanation
    assert e.relative_delta is not None and e.relative_delta <= 0.01, (e.relative_delta, e.details)
    with torch.no_grad():  # F(x) − F(baseline) on the target's logit, by hand
        f_x = two_tones.model(e.inputs[None])[0, 0]
        f_b = two_tones.model(torch.zeros_like(e.inputs)[None])[0, 0]
    difference = float(f_x - f_b)
    assert abs(difference) > 0.1  # a real difference to explain
    assert e.total == pytest.approx(difference, rel=0.01, abs=1e-3)
    assert float(result.curve.double().sum()) == pytest.approx(e.total, rel=1e-5, abs=1e-5)


def test_time_curve_sums_over_frequency() -> None:
    a = torch.arange(2 * 3, dtype=torch.float32).reshape(1, 2, 3)  # [[0, 1, 2], [3, 4, 5]]
    assert time_curve(a).tolist() == [3.0, 5.0, 7.0]
    assert time_curve(a[0]).tolist() == [3.0, 5.0, 7.0]
    with pytest.raises(ValueError, match="attributions"):
        time_curve(torch.zeros(4))


def test_the_window_explained_is_the_one_predict_audio_sees(two_tones: Bundle) -> None:
    pre = two_tones.preprocessing
    assert isinstance(pre, AudioPreprocessing)
    for clip in (tone(LOW, 0.4), torch.cat([tone(LOW, 1.5), tone(HIGH, 1.5)])):
        fitted = model_window(pre, clip, RATE)
        expected = predict_audio(two_tones, clip, RATE).features  # (1, F, T)
        assert torch.allclose(pre.encode(fitted[None])[0], expected, atol=1e-5)
    late = explain_audio(two_tones, torch.cat([tone(LOW, 1.5), tone(HIGH, 1.5)]), RATE, "saliency", start_s=2.0)
    assert late.start_s == 2.0 and late.explanation.label == "high"  # the last second is the 3 kHz tone
    assert explain_audio(two_tones, tone(LOW, 0.5), RATE, "saliency", start_s=9.0).start_s == 0.0  # short clip
    with pytest.raises(ValueError, match="past the end"):
        model_window(pre, tone(LOW, 2.0), RATE, start_s=5.0)


# -- listening ----------------------------------------------------------------------------------------
def test_the_mel_filter_bank_is_the_preprocessings() -> None:
    pre = AudioPreprocessing()
    torchaudio_mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=pre.sample_rate,
        n_fft=pre.n_fft,
        hop_length=pre.hop_length,
        n_mels=pre.n_mels,
        f_min=pre.f_min,
        f_max=pre.f_max,
    )
    assert torch.equal(mel_filter_bank(pre), torchaudio_mel.mel_scale.fb)
    # the STFT listen() masks is the one under the model's mel spectrogram
    x = tone(LOW) + tone(HIGH)
    window = torch.hann_window(pre.n_fft)
    spectrum = torch.stft(x, pre.n_fft, pre.hop_length, window=window, center=True, return_complex=True)
    mel = mel_filter_bank(pre).T @ spectrum.abs() ** 2
    assert mel.shape == (pre.n_mels, pre.frames)
    assert torch.allclose(mel, torchaudio_mel(x), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("keep", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_kept_and_removed_add_up_to_the_clip(keep: float) -> None:
    pre = AudioPreprocessing()
    generator = torch.Generator().manual_seed(0)
    x = tone(LOW) + tone(HIGH) + 0.05 * torch.randn(pre.clip_samples, generator=generator)
    attributions = torch.randn(1, pre.bins, pre.frames, generator=generator)
    kept, removed = listen(x, attributions, pre, keep)
    assert kept.shape == removed.shape == x.shape and kept.dtype == torch.float32
    assert float((kept + removed - x).abs().max()) < 1e-3
    if keep == 0.0:
        assert float(kept.abs().max()) == 0.0
    if keep == 1.0:  # every cell with a positive attribution is kept: the same as keep = 0.5 or more here
        more, _ = listen(x, attributions, pre, 0.9)
        assert torch.allclose(kept, more)
    everything, nothing = listen(x, torch.ones(1, pre.bins, pre.frames), pre, 1.0)
    assert float((everything - x).abs().max()) < 0.02 and float(nothing.abs().max()) < 0.02  # DC and < 20 Hz


def test_listening_to_attributions_on_the_1khz_bands_plays_the_1khz_tone() -> None:
    pre = AudioPreprocessing()
    x = tone(LOW) + tone(HIGH)
    attributions = torch.zeros(1, pre.bins, pre.frames)
    near = (pre.mel_frequencies_hz() - LOW).abs() < 150  # 4 bands
    attributions[0, near] = 1.0
    attributions[0, (pre.mel_frequencies_hz() - HIGH).abs() < 150] = -1.0  # lowered the score: never kept
    kept, removed = listen(x, attributions, pre, 0.2)
    assert band_energy(kept, LOW) > 0.99 and band_energy(kept, HIGH) < 1e-3
    assert band_energy(removed, HIGH) > 0.99 and band_energy(removed, LOW) < 1e-2
    assert float((kept + removed - x).abs().max()) < 1e-3
    cells = stft_attributions(attributions, pre)
    assert cells.shape == (pre.n_fft // 2 + 1, pre.frames)
    assert float(top_mask(cells, 0.2).float().mean()) < 0.2  # only the positive cells: fewer than asked


def test_an_explained_model_keeps_the_tone_it_listens_to(two_tones: Bundle) -> None:
    """End to end: IG for "low" on a clip holding both tones keeps 1 kHz; for "high", 3 kHz."""
    pre = two_tones.preprocessing
    assert isinstance(pre, AudioPreprocessing)
    clip = tone(LOW) + tone(HIGH)
    for target, wanted, other in ((0, LOW, HIGH), (1, HIGH, LOW)):
        result = explain_audio(two_tones, clip, RATE, "integrated_gradients", target=target)
        kept, removed = listen(result.waveform, result.explanation.attributions, pre, 0.2)
        assert band_energy(kept, wanted) > 5 * band_energy(kept, other), target
        p = heard_probabilities(two_tones, torch.stack([kept, removed]))[:, target]
        assert float(p[0]) > float(p[1]), (target, p)


def test_mfcc_models_keep_whole_frames_and_waveform_models_keep_moments() -> None:
    x = tone(LOW)
    mfcc = AudioPreprocessing(features="mfcc")
    attributions = torch.zeros(1, mfcc.bins, mfcc.frames)
    attributions[0, :, : mfcc.frames // 2] = 1.0  # the first half second
    kept, removed = listen(x, attributions, mfcc, 0.5)
    assert float((kept + removed - x).abs().max()) < 1e-3
    half = mfcc.clip_samples // 2
    assert kept[: half - 200].pow(2).sum() > 100 * kept[half + 200 :].pow(2).sum()
    assert removed[half + 200 :].pow(2).sum() > 100 * removed[: half - 200].pow(2).sum()
    with pytest.raises(ValueError, match="MFCC"):
        stft_attributions(attributions, mfcc)

    wave = AudioPreprocessing(features="waveform")
    per_sample = torch.zeros(1, 1, wave.clip_samples)
    per_sample[0, 0, 2000:3000] = 1.0
    kept, removed = listen(x, per_sample, wave, 0.2)
    assert float((kept + removed - x).abs().max()) < 1e-6
    assert float(kept[2100:2900].abs().max()) == pytest.approx(0.4, abs=1e-3)  # the tone, untouched inside
    assert float(kept[:1900].abs().max()) == 0.0 and float(kept[3100:].abs().max()) == 0.0
    with pytest.raises(ValueError, match="per sample"):
        stft_attributions(per_sample, wave)


def test_listen_refuses_what_does_not_fit() -> None:
    pre = AudioPreprocessing()
    x, a = tone(LOW), torch.zeros(1, pre.bins, pre.frames)
    with pytest.raises(ValueError, match="window"):
        listen(x[:4000], a, pre)
    with pytest.raises(ValueError, match="attributions"):
        listen(x, a[:, :10], pre)
    with pytest.raises(ValueError, match="keep_fraction"):
        listen(x, a, pre, 1.5)


# -- figures ------------------------------------------------------------------------------------------
def test_the_map_is_a_time_frequency_heatmap_with_the_curve_under_it() -> None:
    pre = AudioPreprocessing()
    a = torch.zeros(1, pre.bins, pre.frames)
    a[0, 10, 20] = 2.0
    a[0, 30, 50] = -1.0
    fig = attribution_map_figure(a, pre, title="IG for low")
    heatmap, bars = fig.data[0], fig.data[1]
    assert heatmap.type == "heatmap" and bars.type == "bar"
    assert heatmap.zmid == 0 and heatmap.zmin == -1 and heatmap.zmax == 1 and heatmap.colorscale is not None
    assert np.asarray(heatmap.z).shape == (pre.bins, pre.frames)
    assert np.asarray(heatmap.x) == pytest.approx(pre.frame_times_s().numpy())
    assert heatmap.y[0] == f"{float(pre.mel_frequencies_hz()[0]):,.0f}"  # mel band centres in Hz, low at the bottom
    assert np.asarray(bars.y) == pytest.approx(time_curve(a).numpy())
    assert fig.layout.font.size == theme.FONT_SIZE and fig.layout.title.text == "IG for low"
    assert fig.layout.xaxis.matches == "x2"  # one time axis for the map and the curve
    with pytest.raises(ValueError, match="shape"):
        attribution_map_figure(a[:, :5], pre)

    wave = AudioPreprocessing(features="waveform")
    per_sample = torch.ones(1, 1, wave.clip_samples)
    curve = attribution_map_figure(per_sample, wave)
    assert len(curve.data) == 1 and curve.data[0].type == "bar"
    assert len(curve.data[0].y) <= MAX_BARS and float(np.sum(curve.data[0].y)) == pytest.approx(wave.clip_samples)
    assert time_curve_figure(torch.ones(5), torch.arange(5) * 0.01).layout.font.size == theme.FONT_SIZE
