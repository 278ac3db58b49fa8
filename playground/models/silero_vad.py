"""Silero VAD: the pretrained voice-activity detector, rebuilt as a plain ``nn.Module``.

Silero Team, "Silero VAD: pre-trained enterprise-grade Voice Activity Detector",
https://github.com/snakers4/silero-vad (MIT). Weights: the TorchScript file ``silero_vad/data/silero_vad.jit``
of the PyPI wheel ``silero-vad`` (pinned in ``requirements.txt``), its 16 kHz branch (``_model``). The
wheel's ``silero_vad_16k.safetensors`` holds older, different weights and is not used.

Architecture (read from the TorchScript code and graph; 243,585 parameters and the fixed 66,048-value
STFT basis):

==========================  ========================================================================
stage                       what it does, shapes for one 32 ms chunk
==========================  ========================================================================
input                       ``(B, 576)`` = 64 samples of context (the end of the previous chunk,
                            zeros for the first) + 512 new samples at 16 kHz
STFT front end              reflect-pad 64 samples on the right -> ``(B, 1, 640)``; a fixed conv1d
                            with the 258 real/imaginary Fourier kernels of a 256-sample window
                            (``stft_basis``), stride 128 -> ``(B, 258, 4)``; magnitude
                            ``sqrt(re² + im²)`` of the 129 bins -> ``(B, 129, 4)``
encoder                     4 blocks of conv1d (kernel 3, padding 1; re-parametrised, one conv
                            each) + ReLU: 129 -> 128 (stride 1), -> 64 (stride 2), -> 64
                            (stride 2), -> 128 (stride 1) channels -> ``(B, 128, 1)``
LSTM cell                   128 -> 128, state ``(h, c)`` carried from chunk to chunk
decoder                     dropout (0.1, off in eval), ReLU, conv1d 128 -> 1 (kernel 1), sigmoid
                            -> speech probability ``(B, 1)``
==========================  ========================================================================

The state travels as one ``(2, B, 128)`` tensor (``h`` then ``c``), as in the reference. A clip is
read as the reference's ``get_speech_timestamps`` and ``audio_forward`` read it: zero-pad the end to a
multiple of 512 samples, start from zero state and zero context, and feed consecutive 512-sample
chunks, each with the previous chunk's last 64 samples in front (:meth:`SileroVAD.speech_probs`).

Not in the ``MODELS`` registry: an entry there is a classifier ``num_classes`` logits wide, trained
here on the audio modality's standardized ``(B, 1, F, T)`` features; this is a fixed pretrained
detector that reads raw 16 kHz samples chunk by chunk with a recurrent state and gives one
probability, with no head to re-size and nothing to train. It is used directly (:func:`load_silero_vad`).

The ``silero_vad`` package is never imported: importing it calls ``torch.set_num_threads(1)``. Its
data file is found with :func:`importlib.util.find_spec`, which does not run the package.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from playground.models.base import WeightsUnavailableError

SAMPLE_RATE = 16000  # Hz: the only rate the 16 kHz branch takes
CHUNK_SAMPLES = 512  # new samples per step (32 ms)
CONTEXT_SAMPLES = 64  # samples of the previous chunk in front of each step
WINDOW_SAMPLES = CONTEXT_SAMPLES + CHUNK_SAMPLES  # 576: one forward input
FRAME_SECONDS = CHUNK_SAMPLES / SAMPLE_RATE  # 0.032
HIDDEN_SIZE = 128
N_FFT = 256  # STFT window (filter length)
HOP = 128  # STFT hop
STFT_PAD = 64  # reflect padding on the right of each window
PACKAGE = "silero_vad"
PIP_NAME = "silero-vad==6.2.3"

# Reference TorchScript name (16 kHz branch) -> our parameter name.
_NAME_MAP: dict[str, str] = {
    "_model.stft.forward_basis_buffer": "stft_basis",
    **{f"_model.encoder.{i}.reparam_conv.{p}": f"encoder.{i}.conv.{p}" for i in range(4) for p in ("weight", "bias")},
    **{f"_model.decoder.rnn.{p}": f"lstm.{p}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")},
    "_model.decoder.decoder.2.weight": "head.weight",
    "_model.decoder.decoder.2.bias": "head.bias",
}


class EncoderBlock(nn.Module):
    """One encoder stage: a 3-tap conv1d (padding 1) and a ReLU (the reference's ``SileroVadBlock``,
    whose squeeze-excitation slot is an ``Identity`` and whose branches are folded into one conv)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


@dataclass(frozen=True)
class SpeechTrace:
    """Silero VAD over one clip, one row per 32 ms frame (see :meth:`SileroVAD.speech_probs`).

    Attributes:
        probs: ``(N,)`` float32 speech probability of each frame, in [0, 1].
        hidden: ``(N, 128)`` float32 LSTM hidden state ``h`` after each frame (what the decoder reads).
        cell: ``(N, 128)`` float32 LSTM cell state ``c`` after each frame.
        frame_times_s: ``(N,)`` float64 start of each frame in seconds (``i * 0.032``); frame ``i``
            covers samples ``[512 i, 512 i + 512)`` of the 16 kHz clip (it also sees the 64 before).
        duration_s: length of the clip in seconds (the last frame may reach past it: zero padding).
    """

    probs: torch.Tensor
    hidden: torch.Tensor
    cell: torch.Tensor
    frame_times_s: torch.Tensor
    duration_s: float

    @property
    def frame_seconds(self) -> float:
        """Seconds per frame (0.032)."""
        return FRAME_SECONDS


class SileroVAD(nn.Module):
    """Silero VAD v6 (16 kHz) as a plain module; see the module docstring for the layers.

    ``forward(chunk, state)`` is one streaming step; :meth:`speech_probs` runs a whole clip. Call
    ``.eval()`` (as :func:`load_silero_vad` does): the decoder has a dropout.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("stft_basis", torch.zeros(2 * (N_FFT // 2 + 1), 1, N_FFT))  # (258, 1, 256)
        self.stft_basis: torch.Tensor
        self.encoder = nn.Sequential(
            EncoderBlock(N_FFT // 2 + 1, 128, 1),
            EncoderBlock(128, 64, 2),
            EncoderBlock(64, 64, 2),
            EncoderBlock(64, 128, 1),
        )
        self.lstm = nn.LSTMCell(HIDDEN_SIZE, HIDDEN_SIZE)
        self.dropout = nn.Dropout(0.1)
        self.relu = nn.ReLU()
        self.head = nn.Conv1d(HIDDEN_SIZE, 1, 1)
        self.sigmoid = nn.Sigmoid()

    # -- pieces --------------------------------------------------------------------------------
    def spectrogram(self, windows: torch.Tensor) -> torch.Tensor:
        """STFT magnitude of ``(B, 576)`` windows: ``(B, 129, 4)`` (bins x frames)."""
        x = nn.functional.pad(windows, (0, STFT_PAD), mode="reflect").unsqueeze(1)  # (B, 1, 640)
        spec = nn.functional.conv1d(x, self.stft_basis, stride=HOP)  # (B, 258, 4)
        half = N_FFT // 2 + 1
        real, imag = spec[:, :half], spec[:, half:]
        return torch.sqrt(real**2 + imag**2)

    def features(self, windows: torch.Tensor) -> torch.Tensor:
        """Front end + encoder: ``(B, 576)`` -> ``(B, 128)``, the LSTM's input (no state involved)."""
        return self.encoder(self.spectrogram(windows)).squeeze(-1)  # (B, 128, 1) -> (B, 128)

    def decode(self, hidden: torch.Tensor) -> torch.Tensor:
        """Speech probability ``(B, 1)`` from LSTM hidden states ``(B, 128)``."""
        out = self.sigmoid(self.head(self.relu(self.dropout(hidden.unsqueeze(-1)))))  # (B, 1, 1)
        return out.squeeze(1).mean(dim=1, keepdim=True)

    @staticmethod
    def initial_state(batch_size: int = 1, device: torch.device | str | None = None) -> torch.Tensor:
        """Zero state ``(2, batch_size, 128)`` float32 (``h``, ``c``), the start of every clip."""
        return torch.zeros(2, batch_size, HIDDEN_SIZE, device=device)

    # -- one step --------------------------------------------------------------------------------
    def forward(self, chunk: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One 32 ms step.

        Args:
            chunk: ``(B, 576)`` float32 at 16 kHz, amplitudes in [-1, 1]: the previous chunk's last 64
                samples (zeros at the start of a clip) then 512 new ones.
            state: ``(2, B, 128)`` (``h``, ``c``) from the previous step, or ``None`` for zeros.

        Returns:
            ``(prob, new_state)``: ``(B, 1)`` speech probability and the ``(2, B, 128)`` state after the step.
            Gradients are NaN for a chunk of exact digital silence: the magnitude is ``sqrt`` of a
            power with no floor, as in the reference (the outputs themselves are finite).

        Raises:
            ValueError: a chunk that is not ``(B, 576)`` or a state of the wrong shape.
        """
        if chunk.ndim != 2 or chunk.shape[1] != WINDOW_SAMPLES:
            raise ValueError(
                f"expected a (B, {WINDOW_SAMPLES}) chunk ({CONTEXT_SAMPLES} context + {CHUNK_SAMPLES} "
                f"samples at {SAMPLE_RATE} Hz), got {tuple(chunk.shape)}"
            )
        if state is None:
            state = self.initial_state(chunk.shape[0], chunk.device)
        if state.shape != (2, chunk.shape[0], HIDDEN_SIZE):
            raise ValueError(
                f"expected a state of shape (2, {chunk.shape[0]}, {HIDDEN_SIZE}), got {tuple(state.shape)}"
            )
        h, c = self.lstm(self.features(chunk), (state[0], state[1]))
        return self.decode(h), torch.stack([h, c])

    # -- a whole clip ----------------------------------------------------------------------------
    @staticmethod
    def windows(waveform: torch.Tensor) -> torch.Tensor:
        """The reference's chunking of a 16 kHz ``(L,)`` clip: ``(N, 576)`` model inputs,
        ``N = ceil(L / 512)``; the end is zero-padded, the first context is zeros."""
        n = -(-waveform.shape[0] // CHUNK_SAMPLES)
        padded = nn.functional.pad(waveform, (CONTEXT_SAMPLES, n * CHUNK_SAMPLES - waveform.shape[0]))
        return padded.unfold(0, WINDOW_SAMPLES, CHUNK_SAMPLES)  # (N, 576)

    def speech_probs(self, waveform: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> SpeechTrace:
        """Speech probability and LSTM state of every 32 ms frame of a clip, as the reference streams it.

        The front end and encoder do not depend on the state, so they run on all frames at once;
        only the LSTM cell steps frame by frame. Runs under ``torch.no_grad()`` (``forward`` is the
        differentiable path).

        Args:
            waveform: ``(L,)`` float mono amplitudes in [-1, 1], L >= 1.
            sample_rate: Hz of ``waveform``; other rates than 16 kHz are resampled first
                (:func:`playground.modalities.audio.resample.resample`).

        Returns:
            A :class:`SpeechTrace` with ``ceil(L16 / 512)`` frames (L16: samples at 16 kHz), on CPU.

        Raises:
            ValueError: not a non-empty 1-D floating waveform.
        """
        if waveform.ndim != 1 or waveform.numel() == 0 or not waveform.is_floating_point():
            raise ValueError(f"expected a non-empty (L,) float waveform, got {tuple(waveform.shape)} {waveform.dtype}")
        device = self.stft_basis.device
        waveform = waveform.to(device=device, dtype=torch.float32)
        if sample_rate != SAMPLE_RATE:
            from playground.modalities.audio.resample import resample  # here: only this path needs it

            waveform = resample(waveform, sample_rate, SAMPLE_RATE)
        with torch.no_grad():
            feats = self.features(self.windows(waveform))  # (N, 128)
            h = c = torch.zeros(1, HIDDEN_SIZE, device=device)
            hs, cs = [], []
            for step in feats.split(1):  # (1, 128) each
                h, c = self.lstm(step, (h, c))
                hs.append(h)
                cs.append(c)
            hidden, cell = torch.cat(hs), torch.cat(cs)  # (N, 128)
            probs = self.decode(hidden).squeeze(1)  # (N,)
        n = probs.shape[0]
        return SpeechTrace(
            probs=probs.cpu(),
            hidden=hidden.cpu(),
            cell=cell.cpu(),
            frame_times_s=torch.arange(n, dtype=torch.float64) * FRAME_SECONDS,
            duration_s=waveform.shape[0] / SAMPLE_RATE,
        )


def silero_jit_path() -> Path:
    """Path of ``silero_vad/data/silero_vad.jit`` in the installed wheel, found without importing it.

    Raises:
        WeightsUnavailableError: the package is not installed or the file is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)  # a top-level name: finds the folder, runs nothing
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(f"Silero VAD needs the package silero-vad (pip install {PIP_NAME})")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.jit"
    if not path.is_file():
        raise WeightsUnavailableError(f"Silero VAD weights file {path} is missing; reinstall {PIP_NAME}")
    return path


def load_silero_state_dict() -> dict[str, torch.Tensor]:
    """The 16 kHz branch's tensors from the packaged TorchScript file, under our names (CPU).

    ``torch.jit.load`` is used here and only here, on the file of a wheel pinned in
    ``requirements.txt`` (never on a user's file): the weights exist only inside that TorchScript
    archive, and only its ``state_dict()`` is read; none of its code is run.

    Raises:
        WeightsUnavailableError: package or file missing, unreadable, or not the expected tensors.
    """
    path = silero_jit_path()
    try:
        with warnings.catch_warnings():  # torch 2.11 marks TorchScript deprecated; the file is TorchScript
            warnings.filterwarnings("ignore", "`torch.jit.load` is deprecated", DeprecationWarning)
            scripted = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # RuntimeError and friends from a damaged archive
        raise WeightsUnavailableError(f"{path} could not be read as a TorchScript file ({exc})") from exc
    source = {k: v for k, v in scripted.state_dict().items() if k.startswith("_model.")}
    if set(source) != set(_NAME_MAP):
        missing, extra = sorted(set(_NAME_MAP) - set(source)), sorted(set(source) - set(_NAME_MAP))
        raise WeightsUnavailableError(
            f"{path} does not hold the expected Silero VAD tensors (missing {missing}, unexpected {extra})"
        )
    return {_NAME_MAP[k]: v.detach().clone() for k, v in source.items()}


def load_silero_vad() -> SileroVAD:
    """Silero VAD with its pretrained weights, in eval mode on the CPU.

    Does not change ``torch.get_num_threads()`` (the ``silero_vad`` package is not imported).

    Raises:
        WeightsUnavailableError: the ``silero-vad`` wheel is missing or its file unreadable.
    """
    model = SileroVAD()
    model.load_state_dict(load_silero_state_dict(), strict=True)
    return model.eval()
