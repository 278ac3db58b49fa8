"""The audio parts of the pages: pick a clip (sample, upload, microphone) and the Predict section."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
import torch

from playground.bundle import Bundle
from playground.data import AnyDataset, AudioDataset
from playground.figures.audio import (
    FEATURE_TITLES,
    channel_time_figure,
    features_figure,
    frequency_response_figure,
    predictions_over_time,
    waveform_figure,
)
from playground.figures.viz import channel_stats_figure, image_grid, topk_bar
from playground.inspection.features import (
    channel_stats,
    conv1d_layers,
    conv_layers,
    frequency_responses,
    input_feature_map,
)
from playground.inspection.predict import predict_audio
from playground.modalities.audio.decode import (
    MAX_DURATION_S,
    READABLE_FORMATS,
    AudioDecodeError,
    DecodedAudio,
    decode_audio,
    wav_bytes,
)
from playground.modalities.audio.preprocessing import AudioPreprocessing
from playground.modalities.audio.samples import list_audio_samples
from playground.training.evaluate import Mistake
from ui.charts import plotly_chart
from ui.links import link
from ui.state import show_error
from ui.uploads import upload_limit_mb

SOURCES = ["Sample clip", "Upload", "Microphone"]
MAX_MAPS = 16  # feature maps drawn at once (the most active channels)


@st.cache_data(max_entries=16, show_spinner=False)
def _decode(data: bytes, name: str) -> DecodedAudio:
    """Decode once per file (a widget change re-runs the page; the bytes are the cache key)."""
    return decode_audio(data, name=name)


def audio_input_picker(key: str) -> tuple[DecodedAudio, str] | None:
    """A clip from a shipped sample, an upload or the microphone, decoded; ``None`` (with a
    message on the page) when there is none yet or it cannot be read."""
    source = st.radio(
        "Audio source",
        SOURCES,
        horizontal=True,
        key=link(f"{key}_source", choices=SOURCES, unlinked=SOURCES[1:]),
        help="Uploads and recordings stay on this machine: a link to this page opens a sample clip.",
    )
    data: bytes | None = None
    name = ""
    if source == "Sample clip":
        samples = list_audio_samples()
        titles = {s.name: s.title for s in samples}
        chosen = st.selectbox(
            "Sample", list(titles), format_func=lambda n: titles[n], key=link(f"{key}_sample", choices=list(titles))
        )
        sample = next(s for s in samples if s.name == chosen)
        data, name = sample.path.read_bytes(), sample.title
        st.caption(f"{sample.title} — {sample.author}, {sample.licence}. Source: {sample.source}")
    elif source == "Upload":
        upload = st.file_uploader(
            f"A clip ({', '.join(READABLE_FORMATS)}; up to {MAX_DURATION_S / 60:g} minutes)",
            type=None,  # decoding reads the content, not the name: an MP3 without extension works too
            key=f"{key}_upload",
            max_upload_size=upload_limit_mb("audio"),
        )
        if upload is not None:
            data, name = upload.getvalue(), upload.name
    else:
        recorded = st.audio_input("Record a clip (say a digit)", key=f"{key}_mic")
        if recorded is not None:
            data, name = recorded.getvalue(), "microphone"
    if data is None:
        st.info("Pick a sample, upload a clip or record one to get a prediction.")
        return None
    try:
        decoded = _decode(data, name)
    except AudioDecodeError as exc:
        st.error(str(exc), icon=":material/music_off:")
        return None
    return decoded, name


def show_notes(decoded: DecodedAudio) -> None:
    """What decoding changed or found: warnings for clipping and silence, a caption for the rest."""
    if decoded.is_silent:
        st.warning("This clip is silent: every sample is zero.", icon=":material/volume_off:")
    if decoded.clipping_fraction > 0.001:
        st.warning(
            f"Clipped: {decoded.clipping_fraction:.1%} of the samples sit at full scale, so the loudest parts are cut off.",
            icon=":material/graphic_eq:",
        )
    rest = [n for n in decoded.notes if not n.startswith(("clipped", "silent"))]
    facts = f"{decoded.format} {decoded.subtype} · {decoded.original_rate:,} Hz · {decoded.channels} channel(s) · {decoded.duration_s:.2f} s"
    st.caption(" · ".join([facts, *rest]))


def audio_predict_section(bundle: Bundle) -> None:
    """Predict: a clip in, the digit out, with the waveform, the features and the answer over time."""
    pre = bundle.preprocessing
    if not isinstance(pre, AudioPreprocessing):
        return
    st.caption(
        f"Audio model · {pre.sample_rate:,} Hz · a {pre.clip_seconds:g} s window · {FEATURE_TITLES[pre.features]} "
        f"({pre.bins} × {pre.frames})"
    )
    picked = audio_input_picker("p_audio")
    if picked is None:
        return
    decoded, name = picked
    top_k = st.slider(
        "Top-k",
        1,
        k_max := min(10, bundle.card.num_classes),
        min(5, bundle.card.num_classes),
        key=link("p_audio_top_k", bounds=(1, k_max), kind=int),
    )
    try:
        result = predict_audio(bundle, decoded.waveform, decoded.sample_rate, top_k=top_k)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, "run the model on this clip")
        return
    best = result.prediction.top_k[0]
    st.subheader(f"{name}: {best.label} ({best.probability:.1%})")
    show_notes(decoded)
    if result.padded:
        st.info(
            f"The clip is {result.clip_seconds:.2f} s, shorter than the model's {pre.clip_seconds:g} s window: "
            "it was centred and zero-padded on both sides.",
            icon=":material/width:",
        )
    elif len(result.window_probs) > 1:
        st.info(
            f"The clip is {result.clip_seconds:.1f} s, longer than the model's {pre.clip_seconds:g} s window: it was "
            f"classified in {len(result.window_probs)} overlapping windows; the answer is their mean.",
            icon=":material/view_week:",
        )
    st.audio(wav_bytes(decoded.waveform, decoded.sample_rate), format="audio/wav")
    digest = hashlib.sha1(decoded.waveform.numpy().tobytes()).hexdigest()[:8]
    left, right = st.columns([3, 2])
    plotly_chart(
        waveform_figure(decoded.waveform, decoded.sample_rate, title="Waveform"),
        key=f"p_audio_wave_{digest}",
        where=left,
    )
    plotly_chart(topk_bar(result.prediction.top_k), key=f"p_audio_topk_{digest}", where=right)
    plotly_chart(
        features_figure(
            result.features, pre, title=f"What the model sees: {FEATURE_TITLES[pre.features]}, standardized"
        ),
        key=f"p_audio_features_{digest}",
    )
    if len(result.window_probs) > 1:
        plotly_chart(
            predictions_over_time(result.window_starts_s, result.window_probs, bundle.labels, pre.clip_seconds),
            key=f"p_audio_time_{digest}",
        )


def validation_choice(dataset: AnyDataset, key: str) -> str | None:
    """For an audio dataset with speakers: which part validates (its own test split or one held-out
    speaker). Returns the loader's ``split`` option, or ``None`` when the dataset offers no choice."""
    info = (dataset.info or {}) if isinstance(dataset, AudioDataset) else {}
    if info.get("speakers"):  # fsdd: its own test split or one speaker
        options = ["official", *(f"speaker:{s}" for s in info["speakers"])]
    elif info.get("voices"):  # spoken_words: a random split or one synthetic voice
        options = ["random", *(f"voice:{v}" for v in info["voices"])]
    else:
        return None

    def title(option: str) -> str:
        kind, _, who = option.partition(":")
        return {"official": "the dataset's own test split", "random": "a random stratified part"}.get(
            option, f"held-out {kind}: {who}"
        )

    return st.selectbox(
        "Validation part",
        options,
        format_func=title,
        key=key,
        help="A held-out speaker shows how the model does on a voice it never heard: the harder, more honest test.",
    )


def audio_examples(dataset: AudioDataset, indices: list[int], key: str, limit: int = 4) -> None:
    """A few clips of the dataset to listen to, with their labels (and speakers)."""
    for i in indices[:limit]:
        label = dataset.classes[int(dataset.targets[i])]
        who = f" · {dataset.speakers[i]}" if dataset.speakers else ""
        st.caption(f"#{i}: **{label}**{who}")
        st.audio(wav_bytes(dataset.clips.clip(i), dataset.sample_rate), format="audio/wav")


def audio_mistakes(dataset: AudioDataset, wrong: list[Mistake], limit: int = 6) -> None:
    """Misclassified validation clips to listen to, most confident first."""
    st.markdown("**Misclassified validation clips** (true → predicted, confidence), most confident first")
    columns = st.columns(3)
    for n, m in enumerate(wrong[:limit]):
        with columns[n % 3]:
            who = f" · {dataset.speakers[m.index]}" if dataset.speakers else ""
            st.caption(f"{m.true} → {m.predicted} ({m.confidence:.0%}){who}")
            st.audio(wav_bytes(dataset.clips.clip(m.index), dataset.sample_rate), format="audio/wav")


def audio_features_section(bundle: Bundle) -> None:
    """Filters & feature maps for an audio CNN: 2-D maps over time x frequency, 1-D filters as
    frequency responses and their outputs over time."""
    pre = bundle.preprocessing
    if not isinstance(pre, AudioPreprocessing):
        return
    layers2d, layers1d = conv_layers(bundle.model), conv1d_layers(bundle.model)
    names = [n for n, _ in layers2d] + [n for n, _ in layers1d]
    if not names:
        st.info(f"{bundle.title} has no convolution layers.")
        return
    modules = {**dict(layers2d), **dict(layers1d)}
    layer_name = st.selectbox(
        f"Conv layer ({len(names)} in {bundle.title})",
        names,
        format_func=lambda n: f"{n}  ·  {tuple(modules[n].weight.shape)}",
        key=link("f_audio_layer", choices=names),
    )
    conv = modules[layer_name]
    if isinstance(conv, torch.nn.Conv1d) and conv.in_channels == 1:
        freqs, responses = frequency_responses(conv, pre.sample_rate)
        st.caption(
            "This layer reads the waveform itself: each filter is a band-pass filter learned from data. Its response "
            "(FFT of the kernel) shows the band it lets through; sorted, they tile the spectrum like a filter bank."
        )
        plotly_chart(frequency_response_figure(freqs, responses), key="f_audio_response")
    elif isinstance(conv, torch.nn.Conv2d):
        st.caption(
            f"weight (out, in, kF, kT) = {tuple(conv.weight.shape)}: each filter slides over frequency (rows) and "
            "time (columns) of the spectrogram or of the previous layer's maps."
        )
    st.subheader("Feature maps")
    picked = audio_input_picker("f_audio")
    if picked is None:
        return
    decoded, name = picked
    try:
        result = predict_audio(bundle, decoded.waveform, decoded.sample_rate)
        fmap = input_feature_map(bundle, result.features, layer_name)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, "compute the feature maps")
        return
    st.audio(wav_bytes(decoded.waveform, decoded.sample_rate), format="audio/wav")
    st.caption(f"{name}: the model says **{result.prediction.label}** · the first {pre.clip_seconds:g} s window")
    if fmap.ndim == 2:  # (C, T_l) of a 1-D conv
        plotly_chart(
            channel_time_figure(fmap, pre.clip_seconds, title=f"{layer_name}: channels over time"), key="f_audio_1d"
        )
        return
    stats = channel_stats(fmap)
    order = np.argsort(-stats.mean)[:MAX_MAPS]  # the most active channels first
    maps = fmap[torch.as_tensor(order.copy())].flip(1).numpy()  # (n, F_l, T_l), low frequencies at the bottom
    st.caption(
        f"{fmap.shape[0]} channels of {fmap.shape[1]} (frequency) × {fmap.shape[2]} (time); the {len(order)} most "
        f"active shown, one shared colour scale [{maps.min():.2f}, {maps.max():.2f}]. Time runs left to right over "
        f"{pre.clip_seconds:g} s, frequency bottom to top."
    )
    plotly_chart(
        image_grid(maps, [f"ch {c}" for c in order], cols=4, colorscale="Viridis", cell_px=220, colorbar="activation"),
        key="f_audio_maps",
    )
    plotly_chart(channel_stats_figure(stats.mean, stats.max, stats.active_fraction), key="f_audio_stats")
