"""Class predictions for images, texts, numeric sequences and audio: probabilities, top-k and what the model sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from playground.core.device import model_device
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import sliding_windows
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.audio.resample import resample
from playground.modalities.text.preprocessing import EncodedText, TextPreprocessing
from playground.modalities.text.tokenizer import PAD_ID

if TYPE_CHECKING:
    from playground.bundle import Bundle

TEXT_BATCH_SIZE = 64  # texts per forward pass in batch prediction


@dataclass(frozen=True)
class TopK:
    """One ranked class: ``label``, its ``index`` in the logits and its softmax ``probability``."""

    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one input.

    Attributes:
        probs: ``(K,)`` float32 softmax probabilities, summing to 1.
        logits: ``(K,)`` float32 raw scores.
        top_k: the ``k`` most probable classes, most probable first.
        pixels: images only: ``(C, H, W)`` float32 in ``[0, 1]``, the input after resizing /
            cropping, before normalization ("what the model sees"); ``None`` for other inputs.
    """

    probs: torch.Tensor
    logits: torch.Tensor
    top_k: list[TopK]
    pixels: torch.Tensor | None = None

    @property
    def label(self) -> str:
        """The most probable class."""
        return self.top_k[0].label


@dataclass(frozen=True)
class TextPrediction:
    """The model's answer for one text, with the tokens it saw.

    Attributes:
        encoded: the cleaned text, its tokens and ids, and how many tokens were dropped.
        prediction: probabilities and top-k.
    """

    encoded: EncodedText
    prediction: Prediction


def untrained_head(bundle: Bundle) -> bool:
    """Whether ``bundle`` is a pretrained encoder with a new, untrained classification head.

    MiniLM, ``bert-base-uncased`` and any Hub id loaded as a classifier get a randomly initialised
    head (``model.head``) until trained on the Train page: their "predictions" are noise and the
    pages say so. A model with its own trained head (``distilbert-sst2``) or one trained here
    (``card.dataset`` set) is not.
    """
    has_new_head = getattr(bundle.model, "head", None) is not None
    return bundle.card.weights == "pretrained" and not bundle.card.dataset and has_new_head


@torch.no_grad()
def predict_pixels(bundle: Bundle, pixels: torch.Tensor, top_k: int = 5) -> list[Prediction]:
    """Classify images that are already model-sized pixels (e.g. after a perturbation).

    Args:
        bundle: the model to ask.
        pixels: ``(B, C, H, W)`` float32 in ``[0, 1]`` at the model's input size, before normalization.
        top_k: how many classes to rank, clipped to the number of classes.

    Returns:
        One :class:`Prediction` per image, in order.

    Raises:
        ValueError: if ``pixels`` is empty or not 4-D, or ``top_k < 1``.
    """
    if pixels.ndim != 4 or pixels.shape[0] == 0:
        raise ValueError(f"expected a non-empty (B, C, H, W) batch, got shape {tuple(pixels.shape)}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    model = bundle.model.eval()
    logits = model(bundle.image_preprocessing.normalize(pixels).to(model_device(model))).float().cpu()  # (B, K)
    return [
        Prediction(p.probs, p.logits, p.top_k, pixels[i].detach().cpu())
        for i, p in enumerate(_rank(bundle, logits, top_k))
    ]


def _rank(bundle: Bundle, logits: torch.Tensor, top_k: int) -> list[Prediction]:
    """``(B, K)`` logits -> one :class:`Prediction` per row (no pixels)."""
    probs = logits.softmax(dim=-1)
    return [Prediction(probs[i], logits[i], _ranked(bundle, probs[i], top_k)) for i in range(logits.shape[0])]


def _ranked(bundle: Bundle, probs: torch.Tensor, top_k: int) -> list[TopK]:
    """The ``top_k`` most probable classes of ``(K,)`` probabilities, most probable first."""
    values, indices = probs.topk(min(top_k, probs.shape[-1]))
    return [TopK(bundle.labels[int(j)], int(j), float(p)) for p, j in zip(values, indices, strict=True)]


def _text_preprocessing(bundle: Bundle) -> TextPreprocessing:
    if not isinstance(bundle.preprocessing, TextPreprocessing):
        raise ValueError(f"this needs a text model, but {bundle.title} takes {bundle.modality} input")
    return bundle.preprocessing


@torch.no_grad()
def predict_texts(bundle: Bundle, texts: list[str], top_k: int = 5) -> list[TextPrediction]:
    """Classify texts with the bundle's tokenizer, :data:`TEXT_BATCH_SIZE` at a time.

    Args:
        bundle: a text model.
        texts: B strings as a person gave them (cleaned and truncated here).
        top_k: how many classes to rank, clipped to the number of classes.

    Returns:
        One :class:`TextPrediction` per text, in order.

    Raises:
        ValueError: not a text model, no texts, ``top_k < 1``, or a text that is empty after
            cleaning (the message gives its position, counting from 1).
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    encoded, logits = _text_logits(bundle, texts)
    return [TextPrediction(e, p) for e, p in zip(encoded, _rank(bundle, logits, top_k), strict=True)]


def _text_logits(bundle: Bundle, texts: list[str]) -> tuple[list[EncodedText], torch.Tensor]:
    """Every text encoded and classified, :data:`TEXT_BATCH_SIZE` at a time: ``(encoded, (B, K) logits)``."""
    preprocessing = _text_preprocessing(bundle)
    if not texts:
        raise ValueError("expected at least one text, got none")
    encoded: list[EncodedText] = []
    for i, text in enumerate(texts, start=1):
        try:
            encoded.append(preprocessing.encode(text))
        except ValueError as exc:
            raise ValueError(f"text {i} of {len(texts)}: {exc}" if len(texts) > 1 else str(exc)) from exc
    model = bundle.model.eval()
    device = model_device(model)
    logits = []
    for start in range(0, len(encoded), TEXT_BATCH_SIZE):
        chunk = encoded[start : start + TEXT_BATCH_SIZE]
        ids = torch.full((len(chunk), max(len(e.ids) for e in chunk)), PAD_ID, dtype=torch.int64)  # (B, T)
        for row, e in enumerate(chunk):
            ids[row, : len(e.ids)] = e.ids
        logits.append(model(ids.to(device)).float().cpu())  # (B, K)
    return encoded, torch.cat(logits)


@torch.no_grad()
def text_probabilities(bundle: Bundle, texts: list[str]) -> torch.Tensor:
    """``(B, K)`` float32 softmax probabilities of B texts (cleaned and truncated as for prediction).

    Raises:
        ValueError: not a text model, no texts, or a text that is empty after cleaning.
    """
    return _text_logits(bundle, texts)[1].softmax(-1)


def predict_text(bundle: Bundle, text: str, top_k: int = 5) -> TextPrediction:
    """:func:`predict_texts` for one text."""
    return predict_texts(bundle, [text], top_k)[0]


@torch.no_grad()
def predict_sequences(bundle: Bundle, values: torch.Tensor, top_k: int = 5) -> list[Prediction]:
    """Classify numeric sequences with the bundle's standardization.

    Args:
        bundle: a numeric-sequence model.
        values: ``(B, T, F)`` float32, raw (standardized here).
        top_k: how many classes to rank.

    Raises:
        ValueError: not a sequence model, or values of the wrong shape.
    """
    from playground.modalities.sequence.preprocessing import SequencePreprocessing

    if not isinstance(bundle.preprocessing, SequencePreprocessing):
        raise ValueError(f"this needs a numeric-sequence model, but {bundle.title} takes {bundle.modality} input")
    if values.ndim != 3 or values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"expected a non-empty (B, T, F) batch, got shape {tuple(values.shape)}")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    model = bundle.model.eval()
    logits = model(bundle.preprocessing.normalize(values).to(model_device(model))).float().cpu()  # (B, K)
    return _rank(bundle, logits, top_k)


def predict_images(bundle: Bundle, images: list[Image.Image], top_k: int = 5) -> list[Prediction]:
    """Classify decoded images with the bundle's own preprocessing.

    Args:
        bundle: the model to ask.
        images: PIL images in mode ``"L"`` or ``"RGB"`` (see :func:`playground.modalities.image.decode.decode_image`).
        top_k: how many classes to rank, clipped to the number of classes.

    Returns:
        One :class:`Prediction` per image, in order.

    Raises:
        ValueError: if ``images`` is empty or ``top_k < 1``.
    """
    if not images:
        raise ValueError("expected at least one image, got none")
    pixels = torch.stack([bundle.image_preprocessing.pixels_from_pil(im) for im in images])  # (B, C, H, W)
    return predict_pixels(bundle, pixels, top_k)


def predict_image(bundle: Bundle, image: Image.Image, top_k: int = 5) -> Prediction:
    """:func:`predict_images` for one image."""
    return predict_images(bundle, [image], top_k)[0]


@torch.no_grad()
def predict_inputs(bundle: Bundle, inputs: Any, top_k: int = 5) -> list[Prediction]:
    """Classify a batch of raw inputs of any modality with the bundle's own preprocessing.

    The generic path (plug-in modalities, batch evaluation): ``bundle.preprocessing.model_input``
    encodes the batch, the model gives ``(B, K)`` logits. :func:`predict_images` and
    :func:`predict_texts` give more for their modalities (what the model sees, the tokens).

    Args:
        bundle: the model to ask.
        inputs: B raw inputs in the type a dataset of the bundle's modality ``take``s (e.g.
            ``(B, C, H, W)`` uint8 images, B texts, ``(B, T, F)`` float32 sequences).
        top_k: how many classes to rank, clipped to the number of classes.

    Returns:
        One :class:`Prediction` per input, in order.

    Raises:
        ValueError: an empty batch, ``top_k < 1``, or inputs the preprocessing refuses.
    """
    if len(inputs) == 0:
        raise ValueError("expected at least one input, got none")
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    model = bundle.model.eval()
    x = bundle.preprocessing.model_input(inputs)  # (B, ...) the model's input
    return _rank(bundle, model(x.to(model_device(model))).float().cpu(), top_k)  # logits (B, K)


@dataclass(frozen=True)
class AudioPrediction:
    """The model's answer for one clip, with what it saw and, for long clips, its answer over time.

    Attributes:
        prediction: for the whole clip: the mean of the windows' probabilities (one window for a
            clip no longer than the model's), top-k of that mean.
        features: ``(1, F, T)`` float32, the model input of the first window (standardized log-mel,
            MFCCs or waveform; "what the model sees").
        window_starts_s: ``(W,)`` float64 start of each window, seconds.
        window_probs: ``(W, K)`` float32 softmax probabilities of each window.
        padded: the clip is shorter than the model's window and was zero-padded.
        clip_seconds: the clip's duration at the model's rate.
    """

    prediction: Prediction
    features: torch.Tensor
    window_starts_s: torch.Tensor
    window_probs: torch.Tensor
    padded: bool
    clip_seconds: float


def _audio_preprocessing(bundle: Bundle) -> AudioPreprocessing:
    if not isinstance(bundle.preprocessing, AudioPreprocessing):
        raise ValueError(f"this needs an audio model, but {bundle.title} takes {bundle.modality} input")
    return bundle.preprocessing


@torch.no_grad()
def predict_audio(
    bundle: Bundle, waveform: torch.Tensor, sample_rate: int, top_k: int = 5, hop_fraction: float = 0.5
) -> AudioPrediction:
    """Classify one clip of any length with an audio model.

    A clip longer than the model's window is cut into windows that overlap by
    ``1 - hop_fraction`` (the last zero-padded), each classified; the clip's answer is the mean of
    their probabilities. A shorter clip is zero-padded on both sides to the window.

    Args:
        bundle: an audio model.
        waveform: ``(L,)`` float32 mono in [-1, 1], L >= 1.
        sample_rate: of ``waveform``, Hz (resampled to the model's).
        top_k: classes to rank, clipped to the number of classes.
        hop_fraction: window hop as a share of the window, in (0, 1].

    Raises:
        ValueError: not an audio model, an empty waveform, ``top_k < 1`` or a hop out of range.
    """
    pre = _audio_preprocessing(bundle)
    if waveform.ndim != 1 or waveform.numel() == 0:
        raise ValueError(f"expected a non-empty (L,) waveform, got shape {tuple(waveform.shape)}")
    if top_k < 1 or not 0 < hop_fraction <= 1:
        raise ValueError(f"need top_k >= 1 and hop_fraction in (0, 1], got {top_k}, {hop_fraction}")
    if sample_rate != pre.sample_rate:
        waveform = resample(waveform.to(torch.float32), sample_rate, pre.sample_rate)
    window = pre.clip_samples
    if waveform.numel() <= window:  # one window: fit_clips centres the clip and pads both sides
        starts = torch.zeros(1, dtype=torch.int64)
        x = pre.model_input(AudioClips.from_list([waveform], pre.sample_rate))  # (1, 1, F, T)
    else:
        windows, starts = sliding_windows(waveform, window, max(1, round(window * hop_fraction)))  # (W, window)
        lengths = torch.full((len(windows),), window, dtype=torch.int64)
        x = pre.model_input(AudioClips(windows.contiguous(), lengths, pre.sample_rate))  # (W, 1, F, T)
    model = bundle.model.eval()
    logits = torch.cat([model(chunk.to(model_device(model))).float().cpu() for chunk in x.split(TEXT_BATCH_SIZE)])
    probs = logits.softmax(dim=-1)  # (W, K)
    mean = probs.mean(dim=0)
    prediction = Prediction(mean, logits.mean(dim=0), _ranked(bundle, mean, top_k))
    return AudioPrediction(
        prediction=prediction,
        features=x[0].cpu(),
        window_starts_s=starts.to(torch.float64) / pre.sample_rate,
        window_probs=probs,
        padded=waveform.numel() < window,
        clip_seconds=waveform.numel() / pre.sample_rate,
    )
