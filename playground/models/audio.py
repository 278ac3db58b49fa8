"""Audio classifiers: a small 2-D CNN on the log-mel spectrogram, M5 on the raw waveform, a CRNN and an AST-style transformer.

Every audio model takes the audio modality's input ``(B, 1, F, T)`` float32 (standardized; F mel
bands / MFCCs / 1 for the waveform, T frames / samples; see
:class:`~playground.modalities.audio.preprocessing.AudioPreprocessing`) and returns ``(B, K)`` logits.
Builders get ``input_bins`` (F) and ``input_frames`` (T) from the preprocessing, and a ``features``
hyper-parameter that the preprocessing is fitted with (``bundle_for_split`` passes the entry's
hyper-parameters to the modality's ``fit_preprocessing``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from playground.models.base import WeightsUnavailableError, register_model
from playground.models.vit import VisionTransformer

#: Pretrained weights of the audio entries: the shipped checkpoints trained here, by weights name.
#: ``audio_cnn`` with ``weights="fsdd"`` starts from the digit model (fine-tuning on the user's
#: own clips: ``playground.bundle.audio.pretrained_audio_bundle`` also gives its preprocessing).
PRETRAINED_CHECKPOINTS: dict[tuple[str, str], Path] = {
    ("audio_cnn", "fsdd"): Path(__file__).resolve().parents[2] / "assets" / "checkpoints" / "audio_cnn-fsdd",
}


def load_pretrained(model: nn.Module, architecture: str, weights: str) -> nn.Module:
    """Load a shipped checkpoint's weights into ``model`` (in place; returned).

    Every tensor must fit but the classifier head's when ``model`` has another number of classes:
    that head keeps its fresh initialisation (fine-tuning on new classes).

    Raises:
        WeightsUnavailableError: no such weights, or the shipped file is missing.
        ValueError: the model's other layers do not fit the weights (another ``channels``, ...).
    """
    from safetensors.torch import load_file

    folder = PRETRAINED_CHECKPOINTS.get((architecture, weights))
    if folder is None:
        raise WeightsUnavailableError(f"{architecture} has no pretrained weights {weights!r}")
    path = folder / "model.safetensors"
    if not path.is_file():
        raise WeightsUnavailableError(f"the shipped weights {path} are missing; reinstall the project")
    state = load_file(str(path))
    own = model.state_dict()
    head = [k for k, v in state.items() if k.startswith("classifier.") and own.get(k, v).shape != v.shape]
    for key in head:  # another number of classes: the new head stays as initialised
        del state[key]
    try:
        model.load_state_dict(state, strict=not head)
    except RuntimeError as exc:
        raise ValueError(f"{architecture} does not fit its {weights!r} weights ({exc})") from exc
    missing = set(own) - set(state) - set(head)
    if missing:
        raise ValueError(f"{architecture}'s {weights!r} weights lack {sorted(missing)[:5]}")
    return model


def _check_features(name: str, features: str, allowed: tuple[str, ...]) -> None:
    if features not in allowed:
        raise ValueError(f"{name} takes features {' or '.join(allowed)}, got {features!r}")


class AudioCNN(nn.Module):
    """Four conv blocks (3x3 conv, batch norm, ReLU; 2x2 max-pool after the first three) over time x
    frequency, global average pooling, dropout and a linear head: the small keyword-spotting CNN of
    the Speech Commands baselines (Warden 2018, https://arxiv.org/abs/1804.03209; Sainath & Parada
    2015, https://research.google/pubs/pub43969/), made fully convolutional so any clip length works.

    Args:
        num_classes: outputs.
        input_bins: F, rows of the input (mel bands), >= 8.
        input_frames: T, columns (frames), >= 8.
        channels: filters of the first block; the next ones have 2x, 4x, 4x.
        dropout: before the head, in [0, 1).

    Input ``(B, 1, F, T)`` float32; output ``(B, num_classes)`` logits.

    Raises:
        ValueError: on an input smaller than 8 x 8, a non-positive width or a dropout out of range.
    """

    def __init__(
        self, num_classes: int, input_bins: int, input_frames: int, channels: int = 16, dropout: float = 0.2
    ) -> None:
        super().__init__()
        if input_bins < 8 or input_frames < 8:
            raise ValueError(f"audio_cnn needs inputs of at least 8 x 8, got {input_bins} x {input_frames}")
        if channels < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"need channels >= 1 and dropout in [0, 1), got {channels}, {dropout}")
        widths = (channels, 2 * channels, 4 * channels, 4 * channels)
        layers: list[nn.Module] = []
        previous = 1
        for i, width in enumerate(widths):
            layers += [nn.Conv2d(previous, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            previous = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(previous, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x)).flatten(1)  # (B, C, F', T') -> (B, C)
        return self.classifier(self.dropout(x))


class M5(nn.Module):
    """M5: a 1-D CNN on the raw waveform (Dai et al. 2017, "Very deep convolutional neural networks
    for raw waveforms", https://arxiv.org/abs/1610.00087): an 80-sample first filter with stride 4
    (10 ms at 8 kHz), then three 3-tap blocks, each followed by 4x max-pooling, global average
    pooling and a linear head. The first layer's filters are band-pass filters learned from data.

    Args:
        num_classes: outputs.
        input_bins: must be 1 (the waveform has one row).
        input_frames: samples per clip, >= 1,024 (four 4x poolings after the stride-4 conv).
        channels: filters of the first two blocks; the last two have 2x and 4x.

    Input ``(B, 1, 1, L)`` float32 (standardized waveform); output ``(B, num_classes)`` logits.

    Raises:
        ValueError: more than one input row, or too short a clip.
    """

    def __init__(self, num_classes: int, input_bins: int, input_frames: int, channels: int = 32) -> None:
        super().__init__()
        if input_bins != 1 or input_frames < 1024:
            raise ValueError(f"m5 takes the raw waveform (1 row, >= 1024 samples), got {input_bins} x {input_frames}")
        widths = (channels, channels, 2 * channels, 4 * channels)
        layers: list[nn.Module] = []
        previous = 1
        for i, width in enumerate(widths):
            conv = (
                nn.Conv1d(previous, width, 80, stride=4, padding=38)
                if i == 0
                else nn.Conv1d(previous, width, 3, padding=1)
            )
            layers += [conv, nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(4)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.classifier = nn.Linear(previous, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1, 2)  # (B, 1, 1, L) -> (B, 1, L)
        return self.classifier(self.pool(self.features(x)).flatten(1))  # (B, C, 1) -> (B, C)


@register_model(
    "audio_cnn",
    family="cnn",
    modality="audio",
    source="Sainath & Parada 2015, Convolutional neural networks for small-footprint keyword spotting, "
    "https://research.google/pubs/pub43969/; Warden 2018, https://arxiv.org/abs/1804.03209",
    description="A small 2-D CNN on the log-mel spectrogram (time x frequency), the usual keyword spotter.",
    defaults={"features": "log_mel", "channels": 16, "dropout": 0.2},
    choices={"features": ("log_mel", "mfcc"), "channels": (8, 16, 32)},
    weights=("fsdd",),
)
def audio_cnn(
    num_classes: int = 10,
    *,
    input_bins: int = 40,
    input_frames: int = 101,
    features: str = "log_mel",
    channels: int = 16,
    dropout: float = 0.2,
    weights: str | None = None,
) -> nn.Module:
    _check_features("audio_cnn", features, ("log_mel", "mfcc"))
    model = AudioCNN(num_classes, input_bins, input_frames, channels, dropout)
    return model if weights is None else load_pretrained(model, "audio_cnn", weights)


@register_model(
    "m5",
    family="cnn",
    modality="audio",
    source="Dai et al. 2017, Very deep convolutional neural networks for raw waveforms, https://arxiv.org/abs/1610.00087",
    description="M5: a 1-D CNN on the raw waveform; its first-layer filters learn their own frequency bands.",
    defaults={"features": "waveform", "channels": 32},
    choices={"features": ("waveform",), "channels": (16, 32, 64)},
)
def m5(
    num_classes: int = 10,
    *,
    input_bins: int = 1,
    input_frames: int = 8000,
    features: str = "waveform",
    channels: int = 32,
    weights: str | None = None,
) -> nn.Module:
    _check_features("m5", features, ("waveform",))
    if weights is not None:
        raise ValueError(f"m5 has no pretrained weights {weights!r}; load a checkpoint instead")
    return M5(num_classes, input_bins, input_frames, channels)


class CRNN(nn.Module):
    """Convolutions, then a GRU over time: two conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool)
    turn the spectrogram into a sequence of frame vectors (channels x remaining mel bands), a GRU
    reads them left to right and its last hidden state feeds a linear head (Choi et al. 2017,
    "Convolutional recurrent neural networks for music classification", https://arxiv.org/abs/1609.04243).

    Args:
        num_classes: outputs.
        input_bins: F, mel bands, >= 4.
        input_frames: T, frames, >= 4.
        channels: filters of the first block (the second has 2x).
        hidden_size: GRU units.

    Input ``(B, 1, F, T)`` float32; output ``(B, num_classes)`` logits. ``self.rnn`` is the GRU
    (``batch_first``), its input ``(B, T / 4, 2 * channels * (F / 4))``.

    Raises:
        ValueError: an input smaller than 4 x 4 or non-positive sizes.
    """

    def __init__(
        self, num_classes: int, input_bins: int, input_frames: int, channels: int = 16, hidden_size: int = 64
    ) -> None:
        super().__init__()
        if input_bins < 4 or input_frames < 4 or channels < 1 or hidden_size < 1:
            raise ValueError(
                f"crnn needs inputs of at least 4 x 4 and positive sizes, got {input_bins} x {input_frames}, "
                f"channels {channels}, hidden_size {hidden_size}"
            )
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.rnn = nn.GRU(2 * channels * (input_bins // 4), hidden_size, batch_first=True)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, C, F', T')
        x = x.permute(0, 3, 1, 2).flatten(2)  # (B, T', C * F'): one vector per remaining frame
        _, h = self.rnn(x)  # h: (1, B, H), the last step's hidden state
        return self.classifier(h[-1])


@register_model(
    "crnn",
    family="rnn",
    modality="audio",
    source="Choi et al. 2017, Convolutional recurrent neural networks for music classification, "
    "https://arxiv.org/abs/1609.04243",
    description="A CRNN: two conv blocks over the log-mel spectrogram, then a GRU that reads the frames in time.",
    defaults={"features": "log_mel", "channels": 16, "hidden_size": 64},
    choices={"features": ("log_mel", "mfcc"), "channels": (8, 16, 32), "hidden_size": (32, 64, 128)},
)
def crnn(
    num_classes: int = 10,
    *,
    input_bins: int = 40,
    input_frames: int = 101,
    features: str = "log_mel",
    channels: int = 16,
    hidden_size: int = 64,
    weights: str | None = None,
) -> nn.Module:
    _check_features("crnn", features, ("log_mel", "mfcc"))
    if weights is not None:
        raise ValueError(f"crnn has no pretrained weights {weights!r}; load a checkpoint instead")
    return CRNN(num_classes, input_bins, input_frames, channels, hidden_size)


@register_model(
    "audio_transformer",
    family="transformer",
    modality="audio",
    source="Gong et al. 2021, AST: Audio Spectrogram Transformer, https://arxiv.org/abs/2104.01778; "
    "Dosovitskiy et al. 2020, https://arxiv.org/abs/2010.11929",
    description=(
        "A small AST-style transformer: the log-mel spectrogram cut into patches of mel bands x frames, "
        "a class token, 4 blocks of 4 heads; its attention is on the Attention page."
    ),
    defaults={
        "features": "log_mel",
        "patch_bins": 8,
        "patch_frames": 10,
        "d_model": 64,
        "num_layers": 4,
        "num_heads": 4,
        "dropout": 0.1,
    },
    # No convolutional prior: like vit_tiny it needs AdamW, weight decay and a longer cosine schedule.
    train_defaults={"epochs": 40, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "schedule": "cosine"},
    choices={
        "features": ("log_mel", "mfcc"),
        "patch_bins": (4, 5, 8, 10, 20),
        "patch_frames": (5, 10, 20),
        "num_heads": (1, 2, 4, 8),
    },
)
def audio_transformer(
    num_classes: int = 10,
    *,
    input_bins: int = 40,
    input_frames: int = 101,
    features: str = "log_mel",
    patch_bins: int = 8,
    patch_frames: int = 10,
    d_model: int = 64,
    num_layers: int = 4,
    num_heads: int = 4,
    dropout: float = 0.1,
    weights: str | None = None,
) -> nn.Module:
    """The ViT of :mod:`playground.models.vit` over ``(1, F, T)`` features: ``(F / patch_bins) x
    (T / patch_frames)`` patches (frames left over at the end are not seen), each a token."""
    _check_features("audio_transformer", features, ("log_mel", "mfcc"))
    if weights is not None:
        raise ValueError(f"audio_transformer has no pretrained weights {weights!r}; load a checkpoint instead")
    return VisionTransformer(
        num_classes, 1, (input_bins, input_frames), (patch_bins, patch_frames), d_model, num_layers, num_heads, dropout
    )
