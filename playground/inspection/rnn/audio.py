"""The recurrent layer of an audio CRNN, step by step over a clip, time in seconds.

A CRNN (``crnn``, :class:`~playground.models.audio.CRNN`) turns the log-mel spectrogram into a
sequence of frame vectors with two conv blocks, each halving time with a 2x2 max-pool, and a GRU reads
that sequence. :func:`states_for_clip` runs the conv blocks, then recomputes every GRU step with
:func:`~playground.inspection.rnn.states.recompute` (the same formulas and check as text and
sequence models); each step covers 4 spectrogram frames, so it is labelled with its start in seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from playground.core.device import model_device
from playground.inspection.rnn.states import RecurrentStates, recompute
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.preprocessing import AudioPreprocessing

if TYPE_CHECKING:
    from playground.bundle import Bundle

POOLING = 4  # spectrogram frames per GRU step: two 2x max-pools in time


def is_audio_recurrent(bundle: Bundle) -> bool:
    """Whether ``bundle`` is an audio model with conv ``features`` feeding a recurrent ``rnn`` (a CRNN)."""
    model = bundle.model
    return (
        bundle.modality == "audio"
        and isinstance(getattr(model, "rnn", None), nn.RNNBase)
        and isinstance(getattr(model, "features", None), nn.Module)
    )


@torch.no_grad()
def states_for_clip(bundle: Bundle, waveform: torch.Tensor, sample_rate: int) -> RecurrentStates:
    """Every GRU (or LSTM) step of a CRNN over a clip's window, recomputed from the weights.

    Args:
        bundle: an audio CRNN (:func:`is_audio_recurrent`).
        waveform: ``(L,)`` float mono in [-1, 1].
        sample_rate: Hz of ``waveform`` (resampled to the model's).

    Returns:
        :class:`RecurrentStates` over ``T / 4`` steps labelled ``"0.00 s"``, ``"0.04 s"``, ... (each
        step's first frame); ``model_input`` is the ``(1, F, T)`` standardized spectrogram.

    Raises:
        ValueError: not an audio CRNN, or an empty waveform.
    """
    pre = bundle.preprocessing
    features, rnn = getattr(bundle.model, "features", None), getattr(bundle.model, "rnn", None)
    if (
        not isinstance(pre, AudioPreprocessing)
        or not isinstance(features, nn.Module)
        or not isinstance(rnn, nn.RNNBase)
    ):
        raise ValueError(f"this needs an audio model with a recurrent layer (crnn), got {bundle.title}")
    if waveform.ndim != 1 or waveform.numel() == 0:
        raise ValueError(f"expected a non-empty (L,) waveform, got shape {tuple(waveform.shape)}")
    bundle.model.eval()
    fitted = pre.fit_clips(AudioClips.from_list([waveform.detach().cpu().float()], sample_rate))  # (1, S)
    x = pre.encode(fitted)  # (1, 1, F, T)
    maps = features(x.to(model_device(bundle.model)))  # (1, C, F', T')
    sequence = maps.permute(0, 3, 1, 2).flatten(2)[0].float().cpu()  # (1, T', C, F') -> (T', C * F'): the GRU's input
    times = pre.frame_times_s()
    starts = [float(times[min(POOLING * k, len(times) - 1)]) for k in range(sequence.shape[0])]
    return recompute(rnn, sequence, [f"{s:.2f} s" for s in starts], model_input=x[0].cpu())
