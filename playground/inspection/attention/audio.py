"""Attention of an audio transformer (``audio_transformer``, AST-style) on one clip.

The model cuts the standardized log-mel spectrogram ``(1, F, T)`` into a grid of patches, F / P_f
mel bands by T / P_t frames, row by row after a class token: the same token order as a ViT's, so
every attention view works unchanged, and the class token's row reshapes onto the spectrogram
(:func:`~playground.inspection.attention.core.class_token_map` over ``AttentionMaps.pixels``).
Source: Gong et al. 2021, "AST: Audio Spectrogram Transformer", https://arxiv.org/abs/2104.01778.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from playground.inspection.attention.core import AttentionMaps, attention_model, grid_attention, run_attention
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.preprocessing import AudioPreprocessing

if TYPE_CHECKING:
    from playground.bundle import Bundle


def audio_attention(bundle: Bundle, waveform: torch.Tensor, sample_rate: int) -> AttentionMaps:
    """Attention of an audio transformer on a clip's window (centred, as training fits clips).

    Args:
        bundle: an audio model with attention and a patch grid (``audio_transformer``).
        waveform: ``(L,)`` float mono in [-1, 1].
        sample_rate: of ``waveform``, Hz (resampled to the model's).

    Returns:
        :class:`AttentionMaps` over ``[CLS]`` and the patches, tokens named ``"f<row> t<col>"``
        (mel band group, frame group; low frequencies first); ``pixels`` is the ``(1, F', T')``
        log-mel spectrogram the patches cover, min-max scaled to [0, 1] (row 0 the lowest band);
        ``patch_size`` 1, so head distances are in patches.

    Raises:
        NoAttentionError: the model has no attention to show, or it does not map onto the spectrogram.
        ValueError: not an audio model, or an empty waveform.
    """
    pre = bundle.preprocessing
    if not isinstance(pre, AudioPreprocessing):
        raise ValueError(f"this needs an audio model, but {bundle.title} takes {bundle.modality} input")
    if waveform.ndim != 1 or waveform.numel() == 0:
        raise ValueError(f"expected a non-empty (L,) waveform, got shape {tuple(waveform.shape)}")
    model = attention_model(bundle)
    fitted = pre.fit_clips(AudioClips.from_list([waveform.detach().cpu().float()], sample_rate))  # (1, S)
    output = run_attention(model, pre.encode(fitted))  # (1, 1, F, T) in
    rows, cols = getattr(model, "patch_grid", (0, 0))
    patch_h, patch_w = getattr(model, "patch_size", (1, 1))
    db = pre.raw_features(fitted)[0, 0, : rows * patch_h, : cols * patch_w]  # (F', T'): the part the patches cover
    pixels = ((db - db.min()) / (db.max() - db.min()).clamp(min=1e-6)).unsqueeze(0)  # (1, F', T') in [0, 1]
    return grid_attention(bundle, model, output, "f{r} t{c}", pixels, 1, "spectrogram patches")
