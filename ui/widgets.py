"""Reusable widget groups for the pages (thin: widgets in, plain values out)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from PIL import Image

from playground.bundle import Bundle
from playground.imageio import ImageDecodeError, decode_image, list_samples, load_sample
from playground.models import ModelSpec
from ui.state import current_image, set_current_image

#: plotly config for image grids: the toolbar would cover the first row's captions.
NO_MODEBAR = {"displayModeBar": False}


def hparam_inputs(spec: ModelSpec, key: str) -> dict[str, Any]:
    """One widget per hyper-parameter of ``spec``, typed by its default value."""
    values: dict[str, Any] = {}
    if not spec.defaults:
        return values
    cols = st.columns(min(4, len(spec.defaults)))
    for i, (name, default) in enumerate(spec.defaults.items()):
        col = cols[i % len(cols)]
        widget_key = f"{key}_{spec.name}_{name}"
        if name in spec.choices:
            options = list(spec.choices[name])
            values[name] = col.selectbox(name, options, index=options.index(default), key=widget_key)
        elif isinstance(default, bool):
            values[name] = col.checkbox(name, value=default, key=widget_key)
        elif isinstance(default, int):
            values[name] = int(
                col.number_input(name, value=default, min_value=1, max_value=max(256, default), step=1, key=widget_key)
            )
        elif isinstance(default, float):
            values[name] = float(
                col.number_input(
                    name, value=default, min_value=0.0, max_value=max(16.0, default), format="%g", key=widget_key
                )
            )
        else:
            values[name] = col.text_input(name, value=str(default), key=widget_key)
    return values


def input_image_picker(bundle: Bundle, key: str) -> tuple[Image.Image, str]:
    """Pick an input image: the current one (shared with Predict), a shipped sample, or an upload.

    Returns:
        ``(image, name)``; a newly picked image also becomes the current image of every page.
    """
    current = current_image()
    samples = list_samples()
    wanted = "digit" if bundle.card.in_channels == 1 else "photo"
    options = ["current", *[s.name for s in samples], "upload"]
    titles = {"current": f"current image: {current.name}", "upload": "upload an image…"}
    titles.update({s.name: f"sample: {s.title}" for s in samples})
    default = 0
    if current.image.mode == ("RGB" if wanted == "digit" else "L"):  # the current image does not fit the model
        default = next((i for i, n in enumerate(options) if n in {s.name for s in samples if s.kind == wanted}), 0)
    choice = st.selectbox("Input image", options, index=default, format_func=lambda n: titles[n], key=key)
    if choice == "current":
        return current.image, current.name
    if choice == "upload":
        upload = st.file_uploader(
            "Image", type=["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"], key=f"{key}_up"
        )
        if upload is None:
            st.info("Upload an image, or pick a sample.")
            st.stop()
        try:
            image = decode_image(upload.getvalue(), upload.name)
        except ImageDecodeError as exc:
            st.error(str(exc), icon=":material/broken_image:")
            st.stop()
        set_current_image(image, upload.name)
        return image, upload.name
    sample = next(s for s in samples if s.name == choice)
    return load_sample(sample.name), sample.title
