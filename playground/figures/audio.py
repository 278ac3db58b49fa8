"""Audio figures: the waveform, what the model sees (log-mel / MFCC / waveform) with time and
frequency axes, and a long clip's predictions over time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from playground.figures.helpers import plain_label
from playground.figures.theme import (
    BLUE,
    COLORBAR_THICKNESS,
    DIVERGING,
    LINE_WIDTH,
    PALETTE,
    THIN_LINE_WIDTH,
    apply_theme,
)
from playground.modalities.audio.preprocessing import AudioPreprocessing

MAX_POINTS = 4000  # waveform points drawn: min/max per bucket beyond this keeps the envelope
FEATURE_TITLES = {"log_mel": "log-mel spectrogram", "mfcc": "MFCCs", "waveform": "waveform"}


def waveform_figure(waveform: torch.Tensor, sample_rate: int, title: str | None = None, height: int = 220) -> go.Figure:
    """Amplitude over time; long clips are drawn as their min/max envelope (same look, fewer points).

    Args:
        waveform: ``(L,)`` float32 in [-1, 1].
        sample_rate: Hz.
    """
    x = waveform.detach().float().cpu().numpy()
    times = np.arange(len(x)) / sample_rate
    if len(x) > MAX_POINTS:  # bucket min and max, interleaved, so peaks survive the thinning
        buckets = MAX_POINTS // 2
        edges = np.linspace(0, len(x), buckets + 1).astype(int)
        lo = np.minimum.reduceat(x, edges[:-1])
        hi = np.maximum.reduceat(x, edges[:-1])
        x = np.stack([lo, hi], axis=1).reshape(-1)  # (2 * buckets,)
        times = np.repeat(edges[:-1] / sample_rate, 2)
    peak = max(float(np.abs(x).max()) if len(x) else 0.0, 1e-3)
    fig = go.Figure(go.Scatter(x=times, y=x, mode="lines", line={"width": THIN_LINE_WIDTH, "color": BLUE}))
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="amplitude", range=[-1.05 * peak, 1.05 * peak])
    return apply_theme(fig, title=title, height=height)


def features_figure(features: torch.Tensor, preprocessing: AudioPreprocessing, title: str | None = None) -> go.Figure:
    """What the model sees: the standardized input as a heatmap, time (s) across, frequency up.

    Args:
        features: ``(1, F, T)`` or ``(F, T)`` float32, one model input.
        preprocessing: the model's, for the axes (frame times, mel band centres in Hz).
    """
    grid = features.detach().float().cpu().reshape(-1, features.shape[-1]).numpy()  # (F, T)
    if preprocessing.features == "waveform":
        return waveform_figure(torch.from_numpy(grid[0]), preprocessing.sample_rate, title=title)
    times = preprocessing.frame_times_s().numpy()
    if preprocessing.features == "log_mel":
        rows = [f"{hz:,.0f}" for hz in preprocessing.mel_frequencies_hz().tolist()]
        y_title = "mel band centre (Hz)"
    else:
        rows = [str(i) for i in range(grid.shape[0])]
        y_title = "MFCC coefficient"
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=times,
            y=rows,
            # Viridis, as the feature maps: with Magma the lowest cells (padding, silence) came out pink
            # in Streamlit's chart theme.
            colorscale="Viridis",
            colorbar={"title": "std. units", "thickness": COLORBAR_THICKNESS},
            hovertemplate="t %{x:.2f} s · %{y}<br>%{z:.2f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title=y_title, type="category", nticks=8)
    return apply_theme(fig, title=title or FEATURE_TITLES[preprocessing.features], height=300)


def predictions_over_time(
    starts_s: torch.Tensor, probs: torch.Tensor, labels: Sequence[str], window_s: float, top: int = 4
) -> go.Figure:
    """Each window's probability of the classes that win somewhere (at most ``top``), over time.

    Args:
        starts_s: ``(W,)`` window starts in seconds.
        probs: ``(W, K)`` softmax probabilities.
        labels: K class names (plain text, escaped here).
        window_s: window length, seconds (the x value is the window's centre).
    """
    centres = (starts_s.double() + window_s / 2).numpy()
    p = probs.detach().float().cpu()
    shown = list(dict.fromkeys(p.argmax(1).tolist()))  # winners, in order of first win
    shown += [int(i) for i in p.mean(0).argsort(descending=True).tolist() if int(i) not in shown]
    fig = go.Figure()
    for n, k in enumerate(shown[:top]):
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=p[:, k].numpy(),
                mode="lines+markers",
                name=plain_label(labels[k]),
                line={"width": LINE_WIDTH, "color": PALETTE[n % len(PALETTE)]},
            )
        )
    fig.update_xaxes(title="time (s, window centre)")
    fig.update_yaxes(title="probability", range=[0, 1.02], tickformat=".0%")
    return apply_theme(fig, title="Prediction over time", height=280)


def frequency_response_figure(frequencies: np.ndarray, responses: np.ndarray, title: str | None = None) -> go.Figure:
    """1-D filters as frequency responses, one row per filter sorted by the frequency it passes best.

    Args:
        frequencies: ``(N_f,)`` Hz.
        responses: ``(C, N_f)`` dB relative to each filter's peak (0 = its pass band).
    """
    order = np.argsort(responses.argmax(axis=1), kind="stable")  # low-pass filters at the bottom
    fig = go.Figure(
        go.Heatmap(
            z=np.clip(responses[order], -40, 0),
            x=frequencies,
            y=[str(int(i)) for i in order],
            colorscale="Viridis",
            zmin=-40,
            zmax=0,
            colorbar={"title": "dB", "thickness": COLORBAR_THICKNESS},
            hovertemplate="filter %{y} · %{x:,.0f} Hz<br>%{z:.1f} dB<extra></extra>",
        )
    )
    fig.update_xaxes(title="frequency (Hz)")
    fig.update_yaxes(title="filter (sorted by peak frequency)", type="category", showticklabels=len(order) <= 40)
    return apply_theme(fig, title=title or "First-layer filters as frequency responses", height=360)


def channel_time_figure(feature_map: torch.Tensor, duration_s: float, title: str | None = None) -> go.Figure:
    """A 1-D conv layer's output: channels (rows) over time (s).

    Args:
        feature_map: ``(C, T_l)`` float32.
        duration_s: the input clip's length, seconds (spread over the T_l columns).
    """
    grid = feature_map.detach().float().cpu().numpy()
    times = np.linspace(0, duration_s, grid.shape[1], endpoint=False)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=times,
            y=[str(i) for i in range(grid.shape[0])],
            colorscale="Viridis",
            colorbar={"title": "activation", "thickness": COLORBAR_THICKNESS},
        )
    )
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title="channel", type="category", showticklabels=grid.shape[0] <= 40)
    return apply_theme(fig, title=title, height=360)


def speech_trace_figure(
    probs: torch.Tensor,
    hidden: torch.Tensor,
    frame_seconds: float,
    units: Sequence[int],
    correlations: Sequence[float],
    *,
    threshold: float = 0.5,
) -> go.Figure:
    """Silero VAD over a clip: the speech probability per frame above, chosen LSTM units below.

    Args:
        probs: ``(N,)`` speech probability per frame, in [0, 1].
        hidden: ``(N, H)`` LSTM hidden state after each frame.
        frame_seconds: seconds per frame (0.032); frame i is drawn at its start, ``i * frame_seconds``.
        units: the unit indices drawn (e.g. ``playground.inspection.vad.speech_units``).
        correlations: each drawn unit's correlation with ``probs``, shown in its label.
        threshold: the probability above which a frame counts as speech (the reference's 0.5).

    Raises:
        ValueError: ``hidden`` with another number of frames than ``probs``, or units and
            correlations of different lengths.
    """
    from plotly.subplots import make_subplots

    p = probs.detach().float().cpu().numpy()
    h = hidden.detach().float().cpu().numpy()
    if h.shape[0] != p.shape[0] or len(units) != len(correlations):
        raise ValueError(f"expected {p.shape[0]} frames of states and one correlation per unit")
    times = np.arange(len(p)) * frame_seconds
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.4, 0.6],
        subplot_titles=("speech probability per 32 ms frame", "LSTM hidden state h_t of the units that follow it"),
    )
    fig.add_trace(
        go.Scatter(x=times, y=p, mode="lines", name="speech probability", line={"width": LINE_WIDTH, "color": BLUE}),
        row=1,
        col=1,
    )
    fig.add_hline(y=threshold, line={"dash": "dash", "width": THIN_LINE_WIDTH, "color": PALETTE[3]}, row=1, col=1)
    fig.add_trace(
        go.Heatmap(
            z=h[:, list(units)].T,  # (k, N): one row per unit
            x=times,
            y=[f"unit {u} (r = {r:+.2f})" for u, r in zip(units, correlations, strict=True)],
            colorscale=DIVERGING,
            zmid=0,
            colorbar={"title": "h", "thickness": COLORBAR_THICKNESS, "len": 0.55, "y": 0.3},
            hovertemplate="%{y}<br>%{x:.3f} s: %{z:.3f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title="p(speech)", range=[-0.02, 1.02], row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_xaxes(title="time (s)", row=2, col=1)
    fig.update_layout(showlegend=False)
    return apply_theme(fig, height=220 + 22 * len(units) + 160)
