"""Audio robustness: the audio perturbations, the audio severity sweep and waveform FGSM / PGD.

Clips are made in the tests (tones, clicks and a speech-like sound: a gliding harmonic voice with
two syllables and a burst of hiss); the model is an ``audio_cnn`` taught in a few steps to tell a
300 Hz tone from a 2 kHz one.
"""

from __future__ import annotations

import io
import itertools
import math
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

import playground.models  # noqa: F401  (registers the audio models)
from playground.bundle import Bundle, create_bundle_from_preprocessing
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.audio.spec import fit_audio_preprocessing
from playground.robustness.audio_attacks import attack_waveform, snr_db
from playground.robustness.audio_sweep import audio_sweep, level_curve
from playground.robustness.perturbations import (
    PERTURBATIONS,
    audio_perturbations,
    perturb_audio,
    perturb_images,
)
from playground.robustness.perturbations.audio_transmission import MP3_DELAY_SAMPLES, _mp3_settings
from playground.robustness.sweep import corruption_errors

RATE = 8000
AUDIO = audio_perturbations()
# Entries that use no randomness: the seed must not matter. Every other entry must depend on it.
DETERMINISTIC = {"gain", "clipping", "telephone_band", "mp3", "opus"}
CODECS = ("mp3", "opus")


def tone(freq: float, seconds: float, rate: int = RATE, amplitude: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).to(torch.float32)


def speechlike(rate: int = RATE, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    """A voice gliding from 110 to 170 Hz (harmonics up to Nyquist) in two syllables, then a hiss."""
    g = torch.Generator().manual_seed(seed)
    n = round(rate * seconds)
    t = torch.arange(n, dtype=torch.float64) / rate
    f0 = 110 + 60 * t / seconds
    phase = 2 * math.pi * torch.cumsum(f0, 0) / rate
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 30) if k * 170 < rate / 2)
    envelope = torch.exp(-(((t - 0.35 * seconds) / 0.08) ** 2)) + 0.7 * torch.exp(-(((t - 0.6 * seconds) / 0.06) ** 2))
    hiss = 0.5 * torch.randn(n, generator=g, dtype=torch.float64) * torch.exp(-(((t - 0.75 * seconds) / 0.03) ** 2))
    x = voiced * envelope + hiss
    return (0.9 * x / x.abs().max()).to(torch.float32)


def _batch(rate: int = RATE, n: int = 3) -> torch.Tensor:
    return torch.stack([speechlike(rate, seed=s) for s in range(n)])  # (n, rate)


def _effect(clean: torch.Tensor, perturbed: torch.Tensor, rate: int) -> float:
    """Mean |Δ| in dB between the log-mel spectrograms (what an audio model sees)."""
    pre = AudioPreprocessing(sample_rate=rate, clip_samples=clean.shape[1], peak_normalize=False)
    return float((pre.raw_features(perturbed) - pre.raw_features(clean)).abs().mean())


def _measured_snr(clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """``(B,)`` SNR in dB of ``noisy - clean`` against ``clean``."""
    noise = (noisy - clean).double()
    return 10 * torch.log10(clean.double().pow(2).sum(1) / noise.pow(2).sum(1))


def _rms_db(x: torch.Tensor) -> float:
    return 10 * math.log10(float(x.double().pow(2).mean()))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- the registry ------------------------------------------------------------------------------


def test_every_audio_entry_is_registered_with_units_and_levels() -> None:
    assert set(AUDIO) == {
        "white_noise",
        "pink_noise",
        "gain",
        "clipping",
        "time_shift",
        "speed",
        "pitch_shift",
        "reverb",
        "telephone_band",
        "mp3",
        "opus",
        "time_masks",
    }
    for name in AUDIO:
        spec = PERTURBATIONS.get(name)
        assert spec.modality == "audio" and spec.unit.strip() and spec.description.strip()
        assert len(spec.levels) == 6
    assert PERTURBATIONS.get("white_noise").levels[1:] == (40.0, 30.0, 20.0, 10.0, 0.0)
    assert PERTURBATIONS.get("telephone_band").level(1) == pytest.approx(math.log2(3400 / 300))


def test_wrong_modality_and_bad_input_are_refused() -> None:
    x = _batch(n=1)
    with pytest.raises(ValueError, match="image perturbation, not an audio one"):
        perturb_audio("gaussian_noise", x, 1, sample_rate=RATE)
    with pytest.raises(ValueError, match="audio perturbation, not an image one"):
        perturb_images("white_noise", torch.rand(1, 1, 8, 8), 1)
    with pytest.raises(ValueError, match="severity must be in"):
        perturb_audio("white_noise", x, 5.5, sample_rate=RATE)
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        perturb_audio("white_noise", x[0], 1, sample_rate=RATE)
    with pytest.raises(ValueError, match="sample_rate"):
        perturb_audio("white_noise", x, 1, sample_rate=8000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        PERTURBATIONS.get("clipping").fn(x, 0.0, _gen(), sample_rate=RATE)


# -- every entry: the contract -------------------------------------------------------------------


@pytest.mark.parametrize("name", AUDIO)
def test_severity_zero_is_the_identity(name: str) -> None:
    spec = PERTURBATIONS.get(name)
    x = _batch()
    out = perturb_audio(name, x, 0, seed=3, sample_rate=RATE)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()
    direct = spec.fn(x, spec.levels[0], _gen(3), sample_rate=RATE)  # the function alone, at its identity level
    assert torch.equal(direct, x) and direct.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("name", AUDIO)
@pytest.mark.parametrize(
    ("shape", "dtype", "rate"), [((3, 8000), torch.float32, 8000), ((2, 7777), torch.float64, 16000)]
)
def test_shape_and_dtype_are_kept(name: str, shape: tuple[int, int], dtype: torch.dtype, rate: int) -> None:
    x = (torch.randn(shape, generator=_gen(), dtype=torch.float64) * 0.2).to(dtype)
    before = x.clone()
    for severity in (0.5, 2.5, 5):
        out = perturb_audio(name, x, severity, seed=1, sample_rate=rate)
        assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()
    assert torch.equal(x, before), "the input was modified in place"


@pytest.mark.parametrize("name", AUDIO)
def test_same_seed_same_output_and_randomness_only_from_the_seed(name: str) -> None:
    x = _batch(n=4)
    torch.manual_seed(123)
    first = perturb_audio(name, x, 3, seed=7, sample_rate=RATE)
    torch.manual_seed(456)  # the global RNG must play no part
    assert torch.equal(perturb_audio(name, x, 3, seed=7, sample_rate=RATE), first)
    others = [perturb_audio(name, x, 3, seed=s, sample_rate=RATE) for s in (8, 9, 10)]
    if name in DETERMINISTIC:
        assert all(torch.equal(o, first) for o in others)
    else:
        assert not all(torch.equal(o, first) for o in others), f"{name} ignores its seed"


@pytest.mark.parametrize("name", AUDIO)
@pytest.mark.parametrize("rate", [8000, 16000])
def test_effect_grows_with_severity(name: str, rate: int) -> None:
    x = _batch(rate)
    for seed in (0, 1):
        effects = [_effect(x, perturb_audio(name, x, s, seed, sample_rate=rate), rate) for s in range(6)]
        assert effects[0] == 0
        assert all(b >= a for a, b in itertools.pairwise(effects)), (name, rate, effects)
        assert effects[5] > 0.5, f"{name} barely changes the log-mel spectrogram at severity 5: {effects}"


# -- entries: what they promise --------------------------------------------------------------


@pytest.mark.parametrize("name", ["white_noise", "pink_noise"])
@pytest.mark.parametrize("severity", [1, 2, 3.5, 4, 5])
def test_noise_has_the_requested_snr(name: str, severity: float) -> None:
    x = torch.cat([_batch(), tone(700, 1.0)[None]])
    snr = PERTURBATIONS.get(name).level(severity)
    measured = _measured_snr(x, perturb_audio(name, x, severity, seed=2, sample_rate=RATE))
    assert (measured - snr).abs().max() <= 0.5, (snr, measured)
    silent = torch.zeros(1, 4000)
    assert torch.equal(perturb_audio(name, silent, 5, sample_rate=RATE), silent)  # silence stays silent


def test_pink_noise_falls_by_3_db_per_octave_and_white_noise_is_flat() -> None:
    silent_clip_power = torch.ones(4, 2**15)  # a constant clip: its noise is what changes
    for name, slope in (("pink_noise", -1.0), ("white_noise", 0.0)):
        noisy = PERTURBATIONS.get(name).fn(silent_clip_power, 0.0, _gen(), sample_rate=RATE) - 1
        power = torch.fft.rfft(noisy.double(), dim=1).abs().pow(2).mean(0)  # (bins,)
        bins = torch.arange(len(power), dtype=torch.float64)
        octaves = [power[(bins >= lo) & (bins < 2 * lo)].mean() for lo in (64, 128, 256, 512, 1024, 2048)]
        fitted = np.polyfit(np.log2([64, 128, 256, 512, 1024, 2048]), np.log2([float(o) for o in octaves]), 1)[0]
        assert fitted == pytest.approx(slope, abs=0.15), name


def test_gain_of_6_db_doubles_the_amplitude() -> None:
    x = _batch()
    out = PERTURBATIONS.get("gain").fn(x, 6.0, _gen(), sample_rate=RATE)
    ratio = out.abs().max() / x.abs().max()
    assert float(ratio) == pytest.approx(2.0, rel=0.01)
    assert torch.allclose(PERTURBATIONS.get("gain").fn(x, -20.0, _gen(), sample_rate=RATE), x / 10, atol=1e-7)


@pytest.mark.parametrize("ms", [10.0, 50.0, 125.0])
def test_time_shift_moves_a_click_by_the_level_both_ways(ms: float) -> None:
    clicks = torch.zeros(16, RATE)
    clicks[:, RATE // 2] = 1.0
    out = PERTURBATIONS.get("time_shift").fn(clicks, ms, _gen(5), sample_rate=RATE)
    moved = (out.abs().argmax(dim=1) - RATE // 2).tolist()  # samples
    assert all(abs(m) == round(ms * RATE / 1000) for m in moved), moved
    assert {m > 0 for m in moved} == {True, False}, "both directions should occur in 16 clips"
    assert torch.equal(out.abs().sum(1), clicks.sum(1))  # the click moved and nothing else came in


def test_telephone_band_keeps_1_khz_and_cuts_100_hz_and_3_8_khz() -> None:
    spec = PERTURBATIONS.get("telephone_band")
    assert spec.level(1) == pytest.approx(3.5, abs=0.01)  # severity 1 is exactly 300-3,400 Hz

    def change_db(freq: float, rate: int) -> float:
        x = tone(freq, 1.0, rate)[None]
        out = perturb_audio("telephone_band", x, 1, sample_rate=rate)
        middle = slice(rate // 4, 3 * rate // 4)  # steady state, away from the filters' start-up
        return _rms_db(out[:, middle]) - _rms_db(x[:, middle])

    for rate in (8000, 16000):
        assert abs(change_db(1000, rate)) < 1.0
        assert change_db(100, rate) < -10
    assert change_db(3800, 8000) < -10
    assert change_db(5000, 16000) < -10


def test_speed_and_pitch_move_a_tone_by_the_level() -> None:
    def peak_hz(x: torch.Tensor) -> torch.Tensor:  # (B,) strongest frequency, Hz (1 Hz bins for 1 s)
        return torch.fft.rfft(x.double() * torch.hann_window(x.shape[1], dtype=torch.float64), dim=1).abs().argmax(1)

    x = tone(500, 1.0)[None].repeat(8, 1)
    faster = PERTURBATIONS.get("speed").fn(x, 10.0, _gen(), sample_rate=RATE)
    assert set(peak_hz(faster).tolist()) <= {450, 550} and len(set(peak_hz(faster).tolist())) == 2
    shifted = PERTURBATIONS.get("pitch_shift").fn(x, 2.0, _gen(), sample_rate=RATE)
    expected = {round(500 * 2 ** (2 / 12)), round(500 * 2 ** (-2 / 12))}  # 561 and 445 Hz
    assert all(min(abs(f - e) for e in expected) <= 3 for f in peak_hz(shifted).tolist())
    # Pitch shifting keeps the duration: a tone burst stays where it was.
    burst = torch.zeros(1, RATE)
    burst[0, 3000:5000] = tone(500, 0.25)
    out = PERTURBATIONS.get("pitch_shift").fn(burst, 3.0, _gen(), sample_rate=RATE)
    energy = out[0].pow(2)
    assert float(energy[2800:5200].sum() / energy.sum()) > 0.95


def test_clipping_keeps_the_peak_and_flattens_more_with_severity() -> None:
    x = _batch()
    flat = []
    for severity in range(1, 6):
        out = perturb_audio("clipping", x, severity, sample_rate=RATE)
        assert torch.allclose(out.abs().amax(1), x.abs().amax(1))
        flat.append(float((out.abs() >= out.abs().amax(1, keepdim=True) * 0.999).float().mean()))
    assert flat == sorted(flat) and flat[-1] > 0.05


def test_reverb_keeps_the_level_and_spreads_a_click_over_rt60() -> None:
    x = _batch()
    out = perturb_audio("reverb", x, 5, sample_rate=RATE)
    assert torch.allclose(out.pow(2).mean(1), x.pow(2).mean(1), rtol=1e-4)
    click = torch.zeros(1, RATE)
    click[0, 800] = 1.0
    rt60 = 0.4
    tail = PERTURBATIONS.get("reverb").fn(click, rt60, _gen(), sample_rate=RATE)[0].double().pow(2)
    early = tail[801 : 801 + 400].mean()  # the first 50 ms of the tail
    late = tail[800 + 1600 : 800 + 2000].mean()  # 200-250 ms after: about 30 dB lower (60 dB per RT60)
    assert 20 < 10 * math.log10(float(early / late)) < 40
    assert float(tail[800 + round(rt60 * RATE) + 10 :].sum()) < 1e-20  # the response ends at RT60 (FFT round-off)


def test_time_masks_silence_at_most_the_level() -> None:
    x = _batch(n=4)
    for severity in range(1, 6):
        level = PERTURBATIONS.get("time_masks").level(severity)
        out = perturb_audio("time_masks", x, severity, seed=4, sample_rate=RATE)
        zeroed = ((out == 0) & (x != 0)).sum(1)
        assert (zeroed <= round(level * RATE / 1000) + 2).all() and (zeroed > 0).all()
        assert torch.equal(out[out != 0], x[out != 0])  # everything else is untouched


@pytest.mark.parametrize("name", CODECS)
@pytest.mark.parametrize(("length", "rate"), [(7777, 8000), (16000, 16000), (11025, 44100)])
def test_re_encoding_keeps_the_length_and_the_timing(name: str, length: int, rate: int) -> None:
    x = torch.zeros(2, length)
    x[0] = tone(440, length / rate, rate)
    x[1, length // 2] = 0.9  # a click
    for severity in (1, 5):
        out = perturb_audio(name, x, severity, sample_rate=rate)
        assert out.shape == x.shape
        lag = np.argmax(np.correlate(out[0].numpy(), x[0].numpy(), mode="full")) - (length - 1)
        assert abs(int(lag)) <= 2, f"{name} at severity {severity}: the tone moved by {lag} samples"
        assert abs(int(out[1].abs().argmax()) - length // 2) <= 40  # the click is still where it was


def test_mp3_bitrates_are_what_the_level_says() -> None:
    x = (torch.randn(RATE * 4, generator=_gen()) * 0.2).numpy()
    for kbps, rate in ((48, 8000), (24, 8000), (8, 8000), (64, 16000), (16, 16000), (128, 44100)):
        codec_rate, compression = _mp3_settings(rate, kbps)
        buffer = io.BytesIO()
        clip = x[: 4 * codec_rate] if codec_rate <= RATE else np.resize(x, 4 * codec_rate)
        sf.write(buffer, clip, codec_rate, format="MP3", compression_level=compression, bitrate_mode="CONSTANT")
        measured = len(buffer.getvalue()) * 8 / 4 / 1000  # kbit/s over 4 s
        assert measured == pytest.approx(kbps, rel=0.15), (kbps, rate, measured)
    assert MP3_DELAY_SAMPLES == 576 + 529


# -- the sweep -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_tones() -> tuple[Bundle, AudioClips, torch.Tensor]:
    """An audio_cnn taught to tell 300 Hz from 2 kHz, and 8 clips it gets right."""
    torch.manual_seed(0)
    waves = [tone(300, 1.0, amplitude=a) for a in (0.2, 0.5, 0.8)] + [
        tone(2000, 1.0, amplitude=a) for a in (0.2, 0.5, 0.8)
    ]
    train = AudioClips.from_list(waves, RATE)
    pre = fit_audio_preprocessing(train, None, None)
    bundle = create_bundle_from_preprocessing("audio_cnn", pre, ["low", "high"])
    x, y = pre.model_input(train), torch.tensor([0, 0, 0, 1, 1, 1])
    optimizer = torch.optim.Adam(bundle.model.parameters(), lr=1e-2)
    bundle.model.train()
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(bundle.model(x), y).backward()
        optimizer.step()
    bundle.model.eval()
    clips = AudioClips.from_list(
        [tone(f, s, amplitude=a) for f in (300, 2000) for s, a in ((1.0, 0.3), (1.2, 0.6), (1.0, 0.9), (1.1, 0.1))],
        RATE,
    )
    targets = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    return bundle, clips, targets


def test_sweep_gives_one_point_per_severity_and_the_clean_accuracy_at_zero(
    two_tones: tuple[Bundle, AudioClips, torch.Tensor],
) -> None:
    bundle, clips, targets = two_tones
    calls: list[tuple[int, int, str]] = []
    result = audio_sweep(
        bundle,
        clips,
        targets,
        ["white_noise", "gain"],
        [0, 1, 2, 3, 4, 5],
        batch_size=3,
        on_progress=lambda d, t, m: calls.append((d, t, m)),
    )
    assert result.clean_accuracy == 1.0 and result.n == 8 and not result.stopped
    for name in ("white_noise", "gain"):
        curve = result.curve(name)
        assert [p.severity for p in curve] == [0, 1, 2, 3, 4, 5]
        assert curve[0].accuracy == 1.0 and curve[0].flip_rate == 0.0
        assert all(0 <= p.accuracy <= 1 and p.n == 8 for p in curve)
    assert calls[-1][:2] == (3 * (1 + 2 * 6), 3 * (1 + 2 * 6)) and calls[0][2] == "clean"
    snr = level_curve(result, "white_noise")
    assert [level for level, _ in snr] == [100.0, 40.0, 30.0, 20.0, 10.0, 0.0]
    # The same request gives the same result; the rows and mCE take it as an image sweep's.
    again = audio_sweep(bundle, clips, targets, ["white_noise", "gain"], [0, 1, 2, 3, 4, 5], batch_size=3)
    assert again.points == result.points
    assert {r["perturbation"] for r in result.to_rows()} == {"white_noise", "gain"}
    errors = corruption_errors(result, again)
    assert errors.corruptions == ("white_noise", "gain") and errors.severities == (1, 2, 3, 4, 5)


def test_sweep_matches_a_direct_computation(two_tones: tuple[Bundle, AudioClips, torch.Tensor]) -> None:
    bundle, clips, targets = two_tones
    result = audio_sweep(bundle, clips, targets, ["pink_noise"], [5], batch_size=8, seed=11)
    pre = bundle.preprocessing
    assert isinstance(pre, AudioPreprocessing)
    with torch.no_grad():
        noisy = perturb_audio("pink_noise", pre.fit_clips(clips), 5, seed=11, sample_rate=RATE)
        pred = bundle.model(pre.encode(noisy)).argmax(1)
    assert result.points[0].accuracy == pytest.approx(float((pred == targets).float().mean()))


def test_sweep_stops_and_refuses_bad_requests(two_tones: tuple[Bundle, AudioClips, torch.Tensor]) -> None:
    bundle, clips, targets = two_tones
    stop = threading.Event()
    stop.set()
    stopped = audio_sweep(bundle, clips, targets, ["gain"], [1], stop_event=stop)
    assert stopped.stopped and stopped.points == () and math.isnan(stopped.clean_accuracy)
    with pytest.raises(ValueError, match="needs audio ones"):
        audio_sweep(bundle, clips, targets, ["gaussian_noise"], [1])
    with pytest.raises(ValueError, match="integer targets"):
        audio_sweep(bundle, clips, targets[:3], ["gain"], [1])
    with pytest.raises(ValueError, match="severity must be in"):
        audio_sweep(bundle, clips, targets, ["gain"], [6])
    with pytest.raises(ValueError, match="class indices"):
        audio_sweep(bundle, clips, targets + 5, ["gain"], [1])


# -- attacks on the waveform -------------------------------------------------------------------


def test_fgsm_raises_the_loss_within_epsilon(two_tones: tuple[Bundle, AudioClips, torch.Tensor]) -> None:
    bundle, clips, targets = two_tones
    # FGSM's step is first-order. Through a log-mel spectrogram it raises the loss for small ε; a
    # larger sign step fills the cells at the -80 dB floor (whose gradient is 0) with broadband
    # noise and can move the loss either way on these pure tones, so the budget here is small.
    # (The 2 kHz clip is classified so confidently, loss ~6e-7, that 1e-4 barely moves it: 1e-3 there.)
    for i, eps in ((0, 1e-4), (5, 1e-3)):
        result = attack_waveform(bundle, clips.clip(i), int(targets[i]), "fgsm", epsilon=eps)
        assert result.adv_loss > result.clean_loss
        assert result.linf <= eps * 1.001 and result.perturbation.abs().max() <= eps * 1.001
        assert result.adversarial.abs().max() <= 1.0
        assert result.clean.shape == result.adversarial.shape == (RATE,)
        assert result.snr_db == pytest.approx(snr_db(result.clean, result.perturbation))
        # |δ| <= ε at every sample, so the SNR is at least the clip's RMS over ε, in dB (equal when δ
        # is ±ε everywhere; a pure tone's gradient is 0 at some of its zero crossings).
        floor = 20 * math.log10(float(result.clean.pow(2).mean().sqrt()) / eps)
        assert floor - 0.01 <= result.snr_db <= floor + 6
        assert result.clean_pred == int(targets[i]) and result.steps == 1 and result.step_size == eps


def test_pgd_stays_in_the_ball_and_beats_fgsm(two_tones: tuple[Bundle, AudioClips, torch.Tensor]) -> None:
    bundle, clips, targets = two_tones
    for i in (0, 5):
        fgsm = attack_waveform(bundle, clips.clip(i), int(targets[i]), "fgsm", epsilon=3e-3)
        pgd = attack_waveform(bundle, clips.clip(i), int(targets[i]), "pgd", epsilon=3e-3, steps=20)
        assert pgd.linf <= 3e-3 + 1e-7 and pgd.steps == 20 and pgd.step_size == pytest.approx(2.5 * 3e-3 / 20)
        assert pgd.adv_loss > max(pgd.clean_loss, fgsm.adv_loss)
    flipped = attack_waveform(bundle, clips.clip(5), int(targets[5]), "pgd", epsilon=3e-3, steps=20)
    assert flipped.success and flipped.adv_pred == 0  # the 2 kHz tone now sounds "low" to the model
    none = attack_waveform(bundle, clips.clip(1), None, "fgsm", epsilon=0.0)
    assert torch.equal(none.adversarial, none.clean) and none.snr_db == math.inf and not none.success
    with pytest.raises(ValueError, match="method"):
        attack_waveform(bundle, clips.clip(1), None, "cw", epsilon=0.01)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        attack_waveform(bundle, clips.clip(1), 7, "fgsm", epsilon=0.01)


def test_robust_accuracy_against_the_amplitude_budget_falls_as_the_snr_falls() -> None:
    from pathlib import Path

    from playground.bundle import load_bundle
    from playground.data import load_dataset
    from playground.robustness.audio_attacks import amplitude_robust_accuracy
    from playground.robustness.audio_sweep import validation_clips

    bundle = load_bundle(Path(__file__).resolve().parents[2] / "assets/checkpoints/audio_cnn-fsdd")
    clips, targets = validation_clips(load_dataset("fsdd"), 64, 0)
    points = amplitude_robust_accuracy(bundle, clips, targets, [0.0, 0.001, 0.005], steps=5)
    with torch.no_grad():
        pre = bundle.preprocessing
        clean = bundle.model(pre.encode(pre.fit_clips(clips))).argmax(-1)
    assert points[0].accuracy == float((clean == targets).float().mean()) and points[0].flip_rate == 0.0
    assert points[0].accuracy >= points[1].accuracy >= points[2].accuracy and points[2].accuracy <= 0.5
    assert points[0].median_snr_db is None and points[1].median_snr_db > points[2].median_snr_db > 20
    stop = threading.Event()
    stop.set()
    assert amplitude_robust_accuracy(bundle, clips, targets, [0.0, 0.001], stop_event=stop) == []
    with pytest.raises(ValueError, match="epsilon must be in"):
        amplitude_robust_accuracy(bundle, clips, targets, [3.0])
