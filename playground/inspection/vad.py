"""Inside Silero VAD's LSTM: the speech probability per 32 ms frame, the units that follow it, and
the LSTM cell recomputed by hand from its weights (the RNN-states page's check, on a pretrained model).

Silero VAD (:mod:`playground.models.silero_vad`) reads 16 kHz audio in 32 ms chunks; a convolutional
encoder turns each into a 128-vector ``x_t`` and an ``nn.LSTMCell`` carries ``(h, c)`` from chunk to
chunk; the speech probability is a sigmoid of a linear map of ``h_t``. :func:`lstm_cell_steps`
recomputes every step with the LSTM equations (Hochreiter & Schmidhuber 1997; PyTorch's ``LSTMCell``
documentation, https://pytorch.org/docs/stable/generated/torch.nn.LSTMCell.html):

    i, f, g, o = σ(W_ii x + b_ii + W_hi h + b_hi), σ(...), tanh(...), σ(...)
    c_t = f ⊙ c_(t-1) + i ⊙ g,   h_t = o ⊙ tanh(c_t)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from playground.models.silero_vad import SAMPLE_RATE, SileroVAD, SpeechTrace


@dataclass(frozen=True)
class CellCheck:
    """The LSTM recomputed by hand against the module's own states.

    Attributes:
        gates: ``{"input", "forget", "cell", "output"}`` -> ``(N, 128)`` float32 gate values per frame.
        hidden_diff: ``max |h_hand - h_model|`` over every frame and unit.
        cell_diff: the same for the cell state ``c``.
    """

    gates: dict[str, torch.Tensor]
    hidden_diff: float
    cell_diff: float

    @property
    def matches(self) -> bool:
        """Whether both differences are at float32 rounding (<= 1e-5)."""
        return max(self.hidden_diff, self.cell_diff) <= 1e-5


@torch.no_grad()
def lstm_cell_steps(model: SileroVAD, waveform: torch.Tensor, trace: SpeechTrace, sample_rate: int) -> CellCheck:
    """Every LSTM step of :meth:`SileroVAD.speech_probs` recomputed from the weights, and compared.

    Args:
        model: the detector (eval mode).
        waveform: ``(L,)`` float32 mono, the clip ``trace`` was computed from.
        trace: ``model.speech_probs(waveform, sample_rate)``.
        sample_rate: of ``waveform``, Hz (resampled to 16 kHz as the model does).

    Raises:
        ValueError: a trace with another number of frames than the clip gives.
    """
    x = waveform.detach().to("cpu", torch.float32)
    if sample_rate != SAMPLE_RATE:
        from playground.modalities.audio.resample import resample

        x = resample(x, sample_rate, SAMPLE_RATE)
    inputs = model.features(model.windows(x))  # (N, 128): x_t of every frame
    if inputs.shape[0] != trace.hidden.shape[0]:
        raise ValueError(f"the trace has {trace.hidden.shape[0]} frames but the clip gives {inputs.shape[0]}")
    cell = model.lstm
    w_ih, w_hh, b = cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh  # (4H, 128), (4H, H), (4H,)
    h = c = torch.zeros(cell.hidden_size)
    names = ("input", "forget", "cell", "output")
    gates: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    hs, cs = [], []
    for x_t in inputs:
        pre = w_ih @ x_t + w_hh @ h + b  # (4H,): PyTorch's gate order i, f, g, o
        i, f, g, o = pre.chunk(4)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        for name, value in zip(names, (i, f, g, o), strict=True):
            gates[name].append(value)
        hs.append(h)
        cs.append(c)
    hidden, cell_state = torch.stack(hs), torch.stack(cs)  # (N, H)
    return CellCheck(
        gates={n: torch.stack(v) for n, v in gates.items()},
        hidden_diff=float((hidden - trace.hidden).abs().max()),
        cell_diff=float((cell_state - trace.cell).abs().max()),
    )


def speech_units(trace: SpeechTrace, k: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` hidden units whose value over time follows the speech probability most closely.

    Returns:
        ``(units, correlations)``: ``(k,)`` int64 unit indices by decreasing ``|r|`` and their
        Pearson correlations with ``trace.probs`` (0 for a unit or a probability that never changes).
    """
    h = trace.hidden.double() - trace.hidden.double().mean(0)  # (N, H)
    p = trace.probs.double() - trace.probs.double().mean()  # (N,)
    denom = h.norm(dim=0) * p.norm()
    r = torch.where(denom > 0, (h * p[:, None]).sum(0) / denom.clamp(min=1e-12), torch.zeros_like(denom))
    order = r.abs().argsort(descending=True)[: min(k, r.numel())]
    return order, r[order].float()
