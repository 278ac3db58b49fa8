"""The audio modality's registry entry: clips -> log-mel / MFCC / waveform ``(1, F, T)`` values."""

from __future__ import annotations

from typing import Any

from playground.core.modality import ExplainHooks, ModalitySpec, register_modality
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import decode_clips
from playground.modalities.audio.preprocessing import AudioPreprocessing

DEFAULT_CLIP_SECONDS = 1.0


def fit_audio_preprocessing(clips: AudioClips, dataset: Any, options: dict[str, Any] | None) -> AudioPreprocessing:
    """Preprocessing at the dataset's sample rate, standardized with the TRAINING clips' statistics.

    Args:
        clips: the training part's clips.
        dataset: the dataset (unused beyond its clips' rate).
        options: the model's hyper-parameters; ``options["features"]`` picks log-mel / MFCC /
            waveform (default log-mel), the other keys are ignored.
    """
    features = (options or {}).get("features", "log_mel")
    rate = clips.sample_rate
    base = AudioPreprocessing(sample_rate=rate, clip_samples=round(rate * DEFAULT_CLIP_SECONDS), features=features)
    return base.fitted(clips)


AUDIO = register_modality(
    ModalitySpec(
        name="audio",
        description="audio: a mono clip as a log-mel spectrogram, MFCCs or the waveform, (1, F, T) float32",
        input_kind="values",
        preprocessing=AudioPreprocessing,
        fit_preprocessing=fit_audio_preprocessing,
        read_inputs=decode_clips,
        explain=ExplainHooks(input_shape="(1, F, T)"),
    )
)
