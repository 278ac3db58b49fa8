"""Explain an audio model: which time-frequency regions made the decision, and what they sound like.

The audio modality's input kind is ``"values"``, so every registered method that takes values runs
on an audio model's input ``(1, F, T)`` through :func:`~playground.explain.explain` unchanged
(perturbation methods cut the input into time-frequency patches: ``perturbation.occlusion_window``
and ``perturbation.feature_groups``). This module adds what is particular to sound:

* :func:`model_window`: the clip as the model hears it (resampled, one window, centred / padded,
  peak-normalized: :meth:`~playground.modalities.audio.preprocessing.AudioPreprocessing.fit_clips`);
* :func:`explain_audio`: that window explained, with the per-frame curve and frame times;
* :func:`time_curve`: attribution summed over frequency, one number per frame;
* :func:`listen`: the most attributed cells of the spectrogram turned back into sound, and
  everything else: the log-mel attributions are spread over the STFT bins through the transpose
  of the mel filter bank (``torchaudio.functional.melscale_fbanks``, HTK scale as torchaudio's
  ``MelSpectrogram``), the complex STFT is masked (the phase kept) and inverted with
  ``torch.istft`` (the same Hann window, hop and FFT size, ``center=True``). The two masks are
  complementary and the inverse STFT is linear, so ``kept + removed`` is the clip again.

This is the listening test of audio attribution work (e.g. Becker et al. 2018, "Interpreting and
explaining deep neural networks for classification of audio signals",
https://arxiv.org/abs/1807.03418; Haunschmid et al. 2020, "audioLIME",
https://arxiv.org/abs/2008.00582, which listens to the parts of a source-separated clip).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
import torchaudio

from playground.core.device import model_device
from playground.core.progress import ProgressCallback
from playground.explain.base import ExplainParams, Explanation
from playground.explain.core import explain
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.audio.resample import resample

if TYPE_CHECKING:
    from playground.bundle import Bundle

DEFAULT_METHOD = "integrated_gradients"
KEEP_FRACTION = 0.2
#: Waveform models: a sample's attribution is summed over this many milliseconds around it before
#: ranking (per-sample gradients flicker from one sample to the next), and the kept mask's edges
#: fade over the same span, so that no click is heard where a kept stretch starts or ends.
WAVEFORM_NEIGHBOURHOOD_MS = 10.0


def _audio_preprocessing(preprocessing: object) -> AudioPreprocessing:
    if not isinstance(preprocessing, AudioPreprocessing):
        raise ValueError(f"this needs an audio model's preprocessing, got {type(preprocessing).__name__}")
    return preprocessing


# -- the window the model hears ------------------------------------------------------------------
def model_window(
    preprocessing: AudioPreprocessing, waveform: torch.Tensor, sample_rate: int, start_s: float = 0.0
) -> torch.Tensor:
    """One window of a clip as the model hears it: ``(clip_samples,)`` float32 at the model's rate.

    The same window :func:`~playground.inspection.predict.predict_audio` classifies first when
    ``start_s`` is 0: a clip no longer than the model's window is centred and zero-padded on both
    sides; a longer one gives the ``clip_samples`` samples from ``start_s`` on (zero-padded at the
    end of the clip). Then peak normalization, as in training.

    Args:
        preprocessing: the model's.
        waveform: ``(L,)`` float mono in [-1, 1], L >= 1.
        sample_rate: of ``waveform``, Hz (resampled to the model's).
        start_s: where the window starts in the clip, seconds, >= 0 (ignored for a short clip).

    Raises:
        ValueError: an empty or non-1-D waveform, a negative start, or a start past the clip's end.
    """
    return _window(preprocessing, waveform, sample_rate, start_s)[0]


def _window(
    preprocessing: AudioPreprocessing, waveform: torch.Tensor, sample_rate: int, start_s: float
) -> tuple[torch.Tensor, float]:
    """:func:`model_window` and the start it used, seconds (0 for a clip no longer than the window)."""
    pre = _audio_preprocessing(preprocessing)
    if waveform.ndim != 1 or waveform.numel() == 0:
        raise ValueError(f"expected a non-empty (L,) waveform, got shape {tuple(waveform.shape)}")
    if not start_s >= 0:
        raise ValueError(f"start_s must be >= 0 seconds, got {start_s}")
    x = waveform.detach().to("cpu", torch.float32)
    if sample_rate != pre.sample_rate:
        x = resample(x, sample_rate, pre.sample_rate)
    window = pre.clip_samples
    if x.numel() <= window:
        clips, start_s = AudioClips.from_list([x], pre.sample_rate), 0.0
    else:
        start = round(start_s * pre.sample_rate)
        if start >= x.numel():
            raise ValueError(f"start_s = {start_s} s is past the end of the {x.numel() / pre.sample_rate:.2f} s clip")
        part = F.pad(x[start : start + window], (0, max(0, start + window - x.numel())))  # (window,)
        clips = AudioClips(part[None].contiguous(), torch.tensor([window]), pre.sample_rate)
        start_s = start / pre.sample_rate  # on the sample grid
    return pre.fit_clips(clips)[0], float(start_s)


# -- explanation ----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AudioExplanation:
    """One window of a clip explained.

    Attributes:
        explanation: the method's result; ``attributions`` and ``inputs`` are ``(1, F, T)``.
        waveform: ``(clip_samples,)`` float32, the window the model heard (:func:`model_window`).
        start_s: where the window starts in the clip, seconds (0 for a clip no longer than it).
        times_s: ``(T,)`` float64 seconds of each column (frame centres, or samples).
        curve: ``(T,)`` float32, attribution summed over frequency per column (:func:`time_curve`).
    """

    explanation: Explanation
    waveform: torch.Tensor
    start_s: float
    times_s: torch.Tensor
    curve: torch.Tensor


def explain_audio(
    bundle: Bundle,
    waveform: torch.Tensor,
    sample_rate: int,
    method: str = DEFAULT_METHOD,
    *,
    start_s: float = 0.0,
    target: int | None = None,
    params: ExplainParams | None = None,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> AudioExplanation:
    """Attribute an audio model's score for ``target`` on one window of a clip.

    Args:
        bundle: an audio :class:`~playground.bundle.Bundle`.
        waveform: ``(L,)`` float mono in [-1, 1].
        sample_rate: of ``waveform``, Hz.
        method: a registered method that takes ``"values"`` (``methods_for("audio")``).
        start_s: the window's start in a clip longer than the model's window, seconds.
        target, params, on_progress, stop_event: as :func:`~playground.explain.explain`.

    Raises:
        ValueError: not an audio model, a bad waveform or start, an unknown method or target.
        MethodNotSupportedError: the method cannot run on this model (the message says why).
        ExplanationStopped: ``stop_event`` was set.
    """
    pre = _audio_preprocessing(bundle.preprocessing)
    fitted, start = _window(pre, waveform, sample_rate, start_s)
    features = pre.encode(fitted[None])[0]  # (1, F, T) standardized: what the model sees
    result = explain(
        bundle,
        features,
        method,
        target=target,
        params=params,
        on_progress=on_progress,
        stop_event=stop_event,
    )
    return AudioExplanation(result, fitted, start, pre.frame_times_s(), time_curve(result.attributions))


def time_curve(attributions: torch.Tensor) -> torch.Tensor:
    """Attribution summed over frequency (and the channel) per column: ``(T,)`` float32.

    Its sum is the map's sum, so for Integrated Gradients it adds up to ``F(x) − F(baseline)`` too.

    Args:
        attributions: ``(1, F, T)`` (one audio model input) or ``(F, T)``.

    Raises:
        ValueError: another rank.
    """
    if attributions.ndim not in (2, 3):
        raise ValueError(f"expected (1, F, T) or (F, T) attributions, got shape {tuple(attributions.shape)}")
    return attributions.detach().to("cpu", torch.float64).reshape(-1, attributions.shape[-1]).sum(0).float()


@torch.no_grad()
def heard_probabilities(bundle: Bundle, waveforms: torch.Tensor) -> torch.Tensor:
    """What the model says of clips already at its rate and length, as they are (no peak normalization:
    a quiet part stays quiet, as in :func:`listen`'s output).

    Args:
        bundle: an audio model.
        waveforms: ``(N, clip_samples)`` float32.

    Returns:
        ``(N, K)`` float32 softmax probabilities.
    """
    pre = _audio_preprocessing(bundle.preprocessing)
    if waveforms.ndim != 2 or waveforms.shape[1] != pre.clip_samples:
        raise ValueError(f"expected (N, {pre.clip_samples}) waveforms, got shape {tuple(waveforms.shape)}")
    model = bundle.model.eval()
    x = pre.encode(waveforms.to(torch.float32))
    return model(x.to(model_device(model))).float().softmax(dim=-1).cpu()


# -- listening --------------------------------------------------------------------------------------
def mel_filter_bank(preprocessing: AudioPreprocessing) -> torch.Tensor:
    """The mel filter bank of the preprocessing's ``MelSpectrogram``: ``(n_fft // 2 + 1, n_mels)`` float32.

    ``mel[m, t] = Σ_f bank[f, m] · |STFT[f, t]|²``; HTK mel scale, no normalization (torchaudio's
    defaults), ``f_max`` defaulting to ``sample_rate // 2`` as torchaudio does.
    """
    pre = _audio_preprocessing(preprocessing)
    f_max = pre.f_max if pre.f_max is not None else float(pre.sample_rate // 2)
    return torchaudio.functional.melscale_fbanks(
        pre.n_fft // 2 + 1, pre.f_min, f_max, pre.n_mels, pre.sample_rate, norm=None, mel_scale="htk"
    )


def _stft(waveform: torch.Tensor, pre: AudioPreprocessing) -> torch.Tensor:
    """The complex STFT of the preprocessing's spectrogram: ``(n_fft // 2 + 1, T)``."""
    window = torch.hann_window(pre.n_fft, dtype=waveform.dtype)
    return torch.stft(
        waveform,
        pre.n_fft,
        pre.hop_length,
        win_length=pre.n_fft,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )


def _istft(spectrum: torch.Tensor, pre: AudioPreprocessing, length: int) -> torch.Tensor:
    window = torch.hann_window(pre.n_fft, dtype=spectrum.real.dtype)
    return torch.istft(
        spectrum, pre.n_fft, pre.hop_length, win_length=pre.n_fft, window=window, center=True, length=length
    )


def stft_attributions(attributions: torch.Tensor, preprocessing: AudioPreprocessing) -> torch.Tensor:
    """Log-mel attributions spread over the STFT grid: ``(n_fft // 2 + 1, T)`` float32.

    Each mel band's attribution goes to the STFT bins of its triangle, weighted by the filter:
    ``cells = bank @ A`` (the transpose of the mel projection).

    Raises:
        ValueError: shapes that do not match, or an MFCC or waveform model. MFCCs mix every mel
            band (a DCT across frequency), so a coefficient's attribution names no frequency band;
            :func:`listen` keeps whole frames for them. A waveform model has no STFT grid.
    """
    pre = _audio_preprocessing(preprocessing)
    grid = attributions.detach().to("cpu", torch.float32).reshape(-1, attributions.shape[-1])  # (F, T)
    if grid.shape != (pre.bins, pre.frames):
        raise ValueError(
            f"expected attributions of shape (1, {pre.bins}, {pre.frames}), got {tuple(attributions.shape)}"
        )
    if pre.features == "mfcc":
        raise ValueError(
            "MFCC attributions cannot be placed in frequency: each coefficient mixes every mel band "
            "(a DCT across frequency); only log-mel attributions map onto the spectrogram"
        )
    if pre.features == "waveform":
        raise ValueError(
            "a waveform model's attributions are per sample: there is no spectrogram grid to spread them on"
        )
    return mel_filter_bank(pre) @ grid  # (bins, n_mels) @ (n_mels, T)


def top_mask(scores: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """The ``keep_fraction`` highest-scoring entries, among those above 0: a bool mask, same shape.

    ``round(keep_fraction · numel)`` entries at most, fewer when fewer are positive (an entry that
    did not push the score up is never "most attributed"); ties keep the earlier entry.

    Raises:
        ValueError: ``keep_fraction`` outside [0, 1].
    """
    if not 0.0 <= keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in [0, 1], got {keep_fraction}")
    flat = scores.reshape(-1)
    k = round(keep_fraction * flat.numel())
    mask = torch.zeros(flat.numel(), dtype=torch.bool)
    if k > 0:
        order = torch.sort(flat, descending=True, stable=True).indices[:k]
        mask[order] = True
        mask &= flat > 0
    return mask.reshape(scores.shape)


def listen(
    waveform: torch.Tensor,
    attributions: torch.Tensor,
    preprocessing: AudioPreprocessing,
    keep_fraction: float = KEEP_FRACTION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hear an explanation: only the most attributed parts of the clip, and everything else.

    Log-mel models: the attributions are spread over the STFT cells (:func:`stft_attributions`);
    the ``keep_fraction`` of cells with the largest positive attribution are kept in the complex
    STFT (magnitude and phase), the rest zeroed, and ``torch.istft`` turns it back into sound:
    ``kept``; the complementary mask gives ``removed``. MFCC models: the same with whole frames
    (time only, see :func:`stft_attributions`). Waveform models: each sample's attribution is
    summed over its :data:`WAVEFORM_NEIGHBOURHOOD_MS` neighbourhood, the top ``keep_fraction``
    samples are kept, and the mask's edges fade over the same span.

    The two masks add up to 1 everywhere and the inverse STFT is linear, so ``kept + removed`` is
    the clip (to float rounding, ~1e-6). Cells with no positive attribution are never kept, so
    ``kept`` may hold less than ``keep_fraction`` of the cells.

    Args:
        waveform: ``(clip_samples,)`` float32 at the model's rate: the window the model heard
            (:func:`model_window`, :attr:`AudioExplanation.waveform`).
        attributions: ``(1, F, T)`` on that window's model input.
        preprocessing: the model's.
        keep_fraction: share of the cells (or samples) to keep, in [0, 1].

    Returns:
        ``(kept, removed)``, each ``(clip_samples,)`` float32, not normalized.

    Raises:
        ValueError: shapes that do not match the preprocessing, or ``keep_fraction`` outside [0, 1].
    """
    pre = _audio_preprocessing(preprocessing)
    if waveform.ndim != 1 or waveform.numel() != pre.clip_samples:
        raise ValueError(
            f"expected the model's window, a ({pre.clip_samples},) waveform at {pre.sample_rate} Hz, "
            f"got shape {tuple(waveform.shape)}"
        )
    if attributions.shape[-2:] != (pre.bins, pre.frames) or attributions.numel() != pre.bins * pre.frames:
        raise ValueError(
            f"expected attributions of shape (1, {pre.bins}, {pre.frames}), got {tuple(attributions.shape)}"
        )
    if not 0.0 <= keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in [0, 1], got {keep_fraction}")
    x = waveform.detach().to("cpu", torch.float32)
    if pre.features == "waveform":
        return _listen_waveform(x, attributions.detach().to("cpu", torch.float32).reshape(-1), pre, keep_fraction)
    spectrum = _stft(x, pre)  # (bins, T) complex
    if pre.features == "mfcc":  # time only: whole frames, ranked by their summed attribution
        mask = top_mask(time_curve(attributions), keep_fraction).expand_as(spectrum.real)
    else:
        mask = top_mask(stft_attributions(attributions, pre), keep_fraction)  # (bins, T)
    kept = _istft(spectrum * mask, pre, x.numel())
    removed = _istft(spectrum * ~mask, pre, x.numel())
    return kept, removed


def _listen_waveform(
    x: torch.Tensor, per_sample: torch.Tensor, pre: AudioPreprocessing, keep_fraction: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`listen` for a waveform model: a soft time mask on the samples themselves."""
    span = 2 * round(WAVEFORM_NEIGHBOURHOOD_MS / 2000 * pre.sample_rate) + 1  # odd: "same" padding is symmetric
    box = torch.ones(1, 1, span) / span
    smoothed = F.conv1d(per_sample[None, None], box, padding="same")[0, 0]  # (L,) local mean
    hard = top_mask(smoothed, keep_fraction).to(torch.float32)
    fade = torch.hann_window(span + 2, periodic=False)[1:-1]  # (span,) > 0
    soft = F.conv1d(hard[None, None], (fade / fade.sum())[None, None], padding="same")[0, 0].clamp(0.0, 1.0)
    return x * soft, x * (1.0 - soft)
