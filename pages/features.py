"""Filters & feature maps: a conv layer's weights and what it computes on the current image or clip."""

import numpy as np
import streamlit as st

from playground.figures.theme import DIVERGING, SEQUENTIAL
from playground.figures.viz import channel_stats_figure, image_grid, to_display
from playground.inspection.features import (
    channel_stats,
    conv_layers,
    filter_weights,
    filters_as_images,
    image_feature_map,
)
from ui.audio import audio_features_section
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry
from ui.state import active_model, session_memo, show_error, tensor_key
from ui.widgets import input_image_picker

PAGE_SIZE = 32
#: How the single-channel grids (kernel slices, feature maps) are coloured; the first is the default:
#: one scale for all makes a weak map look flat, its own scale shows its pattern.
SCALES = {"own": "each map its own (patterns)", "shared": "one for all (magnitudes compare)"}

ensure_app_entry()
st.title("Filters & feature maps")
bundle = active_model().bundle
if bundle.modality == "audio":
    audio_features_section(bundle)
    st.stop()
if bundle.modality != "image":
    st.info(
        f"Filters and feature maps are for image and audio models (CNNs), and {bundle.title} takes "
        f"{bundle.modality} input. Pick a CNN on the Models page.",
        icon=":material/info:",
    )
    st.stop()
layers = conv_layers(bundle.model)
if not layers:
    st.info(f"{bundle.title} has no convolution layers. Pick a CNN on the Models page.")
    st.stop()

layer_names = [name for name, _ in layers]
c1, c2 = st.columns([2, 1])
layer_name = c1.selectbox(
    f"Conv layer ({len(layers)} in {bundle.title})",
    layer_names,
    format_func=lambda n: f"{n}  ·  {tuple(dict(layers)[n].weight.shape)}",
    key=link("f_layer", choices=layer_names),
)
conv = dict(layers)[layer_name]
c2.caption(
    f"weight (out, in/groups, kH, kW) = {tuple(conv.weight.shape)}  \n"
    f"stride {conv.stride} · padding {conv.padding} · groups {conv.groups}"
)
per_map = (
    st.radio(
        "Colour scale",
        list(SCALES),
        format_func=SCALES.__getitem__,
        horizontal=True,
        key=link("f_scale", choices=list(SCALES)),
    )
    == "own"
)

# ---------------------------------------------------------------- filters
st.subheader("Filters")
n_out, n_in = conv.weight.shape[0], conv.weight.shape[1]
shown = min(n_out, 64)
if n_in == 3:
    st.caption(
        "Each filter of this layer sees the RGB input directly: shown as a colour image (min–max scaled per filter)."
    )
    figure = session_memo(
        "filters_figure",
        (layer_name, "rgb"),
        lambda: image_grid(
            filters_as_images(conv, rgb=True)[:shown], [str(i) for i in range(shown)], cols=12, cell_px=100
        ),
        anchor=bundle.model,
    )
    plotly_chart(figure, key="f_filters_rgb")
else:
    in_channel = 0
    if n_in > 1:
        in_channel = st.slider(
            "Input channel", 0, int(n_in) - 1, 0, key=link(f"f_in_{layer_name}", bounds=(0, int(n_in) - 1), kind=int)
        )
    st.caption(
        f"Kernel slice for input channel {in_channel} of each of the first {shown} filters: red positive, "
        f"blue negative, white 0 ({'each filter scaled by its own largest |weight|' if per_map else 'one scale'})."
    )
    figure = session_memo(  # drawn once per layer, channel and scale: ordering the maps below does not redo it
        "filters_figure",
        (layer_name, in_channel, per_map),
        lambda: image_grid(
            filter_weights(conv)[:shown, in_channel],  # (n, kH, kW)
            [str(i) for i in range(shown)],
            cols=12,
            colorscale=DIVERGING,
            cell_px=100,
            per_image=per_map,
            symmetric=True,
            colorbar="weight",
        ),
        anchor=bundle.model,
    )
    plotly_chart(figure, key="f_filters_gray")

# ---------------------------------------------------------------- input
st.subheader("Feature maps")
c1, c2 = st.columns([1, 3])
with c1:
    image, image_name = input_image_picker(bundle, key="f_input")
    pixels = bundle.image_preprocessing.pixels_from_pil(image)  # (C, H, W) in [0, 1]
    seen = to_display(pixels)
    st.image(seen, caption=f"what the model sees: {image_name}", width="stretch", clamp=True)
    orders = ["index", "strongest mean activation"]
    order = st.radio("Order channels by", orders, key=link("f_order", choices=orders))

try:
    # once per image and layer: ordering the channels or paging through them only redraws
    pixels_key = tensor_key(pixels)
    fmap = session_memo(
        "feature_map",
        (layer_name, pixels_key),
        lambda: image_feature_map(bundle, pixels, layer_name),  # (C_l, H_l, W_l)
        anchor=bundle.model,
    )
except (ValueError, RuntimeError) as exc:
    show_error(exc, "compute the feature maps")
    st.stop()

stats = channel_stats(fmap)
channels = np.arange(fmap.shape[0])
if order != "index":
    channels = np.argsort(-stats.mean)
with c2:
    pages = (len(channels) + PAGE_SIZE - 1) // PAGE_SIZE
    page = 1
    if pages > 1:
        page = st.number_input(
            f"Page (of {pages}, {PAGE_SIZE} channels each)",
            1,
            pages,
            1,
            key=link(f"f_page_{layer_name}", bounds=(1, pages), kind=int),
        )
    chosen = channels[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    maps = fmap[chosen].numpy()  # (n, H_l, W_l)
    scale = "each map scaled to its own min–max" if per_map else f"one scale [{maps.min():.2f}, {maps.max():.2f}]"
    st.caption(f"{fmap.shape[0]} channels of {fmap.shape[1]}×{fmap.shape[2]} · {scale}")
    plotly_chart(
        image_grid(
            maps,
            [f"ch {c}" for c in chosen],
            cols=8,
            colorscale=SEQUENTIAL,
            cell_px=120,
            per_image=per_map,
            colorbar="activation",
        ),
        key="f_maps",
    )
stats_figure = session_memo(
    "stats_figure",
    (layer_name, pixels_key),
    lambda: channel_stats_figure(stats.mean, stats.max, stats.active_fraction),
    anchor=bundle.model,
)
plotly_chart(stats_figure, key="f_stats")
