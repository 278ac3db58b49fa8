"""Small helpers shared by the figure modules: tokens as labels, chosen indices checked, pixels as an RGB image."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image


def plain_label(text: object) -> str:
    """A class name, file name or caption as plotly text: HTML-escaped.

    Plotly reads ``<b>``, ``<i>``, ``<br>``, ``<sub>``, ``<span style>`` and ``<a href>`` in any
    label as markup; a class folder named ``<b>cats</b>`` or a CSV label ``<a href=…>`` would be drawn
    bold or as a link. Escaped, it is shown exactly as typed (plotly turns ``&lt;`` back into ``<``).
    """
    return html.escape(str(text), quote=False)  # quotes are not markup outside a tag


def epoch_axes(fig: go.Figure, last_epoch: int) -> None:
    """Title the x axes "epoch" with whole-number ticks (plotly puts ticks at 1.5, 2.5 on a 3-epoch run)."""
    fig.update_xaxes(title_text="epoch", dtick=1 if last_epoch <= 12 else None)


def display_token(token: str, limit: int = 12) -> str:
    """A token as a label: HTML-escaped, whitespace made visible (``␣``, ``↵``, ``⇥``), cut to ``limit`` chars."""
    shown = token.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return html.escape(shown, quote=True)


def check_indices(chosen: Sequence[int] | None, count: int, what: str) -> list[int]:
    """The chosen layers, heads or units (default all ``count``) as ints.

    Raises:
        ValueError: none chosen, or one outside ``[0, count)``.
    """
    out = list(range(count)) if chosen is None else [int(i) for i in chosen]
    if not out:
        raise ValueError(f"expected at least one {what}, got none")
    bad = [i for i in out if not 0 <= i < count]
    if bad:
        raise ValueError(f"{what}s must be in [0, {count - 1}], got {bad[:5]}")
    return out


def rgb_image(pixels: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(C, H, W)`` in [0, 1] (C = 1 or 3) -> ``(H, W, 3)`` uint8, for a ``go.Image`` trace.

    Raises:
        ValueError: pixels that are not ``(C, H, W)`` with 1 or 3 channels.
    """
    if isinstance(pixels, torch.Tensor):
        array = pixels.detach().to("cpu", torch.float32).numpy()
    else:
        array = np.asarray(pixels, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"expected pixels of shape (C, H, W), got shape {tuple(array.shape)}")
    if array.shape[0] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got shape {tuple(array.shape)}")
    array = np.repeat(array, 3, axis=0) if array.shape[0] == 1 else array  # (3, H, W)
    return (np.clip(array, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)  # (H, W, 3)


def png_data_uri(pixels: np.ndarray, palette: np.ndarray | None = None) -> str:
    """An image as a ``data:image/png;base64,...`` URI, e.g. for ``go.Image(source=...)``.

    Plotly draws a ``source`` image as one browser image, much faster than a ``z`` array of pixels.

    Args:
        pixels: ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8; with ``palette``, ``(H, W)`` uint8
            indices into it (an indexed PNG: one byte a pixel, so it compresses as the indices do).
        palette: ``(256, 4)`` uint8 RGBA colour of each index (alpha 0: transparent).

    Raises:
        ValueError: for another shape or dtype.
    """
    if palette is not None:
        if pixels.dtype != np.uint8 or pixels.ndim != 2 or palette.shape != (256, 4) or palette.dtype != np.uint8:
            raise ValueError(
                f"expected (H, W) uint8 indices and a (256, 4) uint8 palette, got {pixels.shape}, {palette.shape}"
            )
        image = Image.fromarray(pixels, mode="P")
        image.putpalette(palette.tobytes(), rawmode="RGBA")
    elif pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[-1] not in (3, 4):
        raise ValueError(f"expected (H, W, 3|4) uint8 pixels, got {pixels.dtype} {pixels.shape}")
    else:
        image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
