"""playground.modalities.image.decode: every odd image kind decodes to RGB / L with the right pixels; bad input fails clearly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from playground.modalities.image import decode as imageio
from playground.modalities.image.decode import (
    MAX_PIXELS,
    MAX_SIDE,
    ORIGINAL_SIZE,
    ImageDecodeError,
    check_upload_size,
    decode_image,
    get_sample,
    image_to_png_bytes,
    list_samples,
    load_sample,
    to_rgb_or_l,
)

RED = (255, 0, 0)
WHITE = (255, 255, 255)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def close_to(pixel, expected, tol: int = 6) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, expected, strict=True))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width × height`` 8-bit gray pixels (no real pixel data)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


# -- modes -----------------------------------------------------------------------------------


def test_rgba_transparent_becomes_white_and_opaque_stays():
    rgba = np.zeros((10, 20, 4), dtype=np.uint8)  # fully transparent black
    rgba[:, :10] = (255, 0, 0, 255)  # opaque red left half
    rgba[:, 15:] = (0, 0, 255, 128)  # half-transparent blue on the right
    out = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), "a.png")
    assert out.mode == "RGB" and out.size == (20, 10)
    assert out.getpixel((2, 5)) == RED
    assert out.getpixel((12, 5)) == WHITE
    assert close_to(out.getpixel((18, 5)), (127, 127, 255), tol=2)  # blue over white at alpha 0.5


def test_la_composites_on_white_and_stays_gray():
    la = np.zeros((4, 4, 2), dtype=np.uint8)
    la[:2] = (40, 255)  # opaque dark gray top half; bottom half transparent
    out = decode_image(encode(Image.fromarray(la, "LA"), "PNG"), "la.png")
    assert out.mode == "L"
    assert out.getpixel((1, 0)) == 40
    assert out.getpixel((1, 3)) == 255


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_becomes_white(fmt):
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.paste(2, (0, 0, 4, 8))  # left half index 2 (blue), right half index 1 (red)
    image.paste(0, (0, 0, 2, 2))  # a transparent corner (index 0, black in the palette)
    out = decode_image(encode(image, fmt, transparency=0), f"p.{fmt.lower()}")
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((3, 5)) == (0, 0, 255)
    assert out.getpixel((6, 5)) == RED


def test_palette_without_transparency_becomes_rgb():
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * (256 * 3 - 6))
    out = decode_image(encode(image, "PNG"), "p.png")
    assert out.mode == "RGB" and out.getpixel((2, 2)) == (10, 200, 30)


@pytest.mark.parametrize(("fmt", "tol"), [("TIFF", 0), ("JPEG", 8)])
def test_cmyk_becomes_rgb(fmt, tol):
    image = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    image.paste((255, 0, 255, 0), (8, 0, 16, 16))  # green right half
    out = decode_image(encode(image, fmt), f"cmyk.{fmt.lower()}")
    assert out.mode == "RGB"
    assert close_to(out.getpixel((2, 8)), RED, tol)
    assert close_to(out.getpixel((13, 8)), (0, 255, 0), tol)


def test_sixteen_bit_gray_is_scaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")  # a real 16-bit file
    out = decode_image(data, "deep.png")
    assert out.mode == "L"
    assert list(np.asarray(out)[0]) == [0, 1, 128, 255]


def test_sixteen_bit_big_endian_tiff():
    values = np.array([[65535, 32768]], dtype=">u2")
    out = decode_image(encode(Image.fromarray(values), "TIFF"), "be.tif")
    assert out.mode == "L" and list(np.asarray(out)[0]) == [255, 128]


def test_int32_in_sixteen_bit_range_is_scaled_as_sixteen_bit():
    values = np.array([[0, 32768, 65535]], dtype=np.int32)
    out = decode_image(encode(Image.fromarray(values, "I"), "TIFF"), "i.tif")
    assert out.mode == "L" and list(np.asarray(out)[0]) == [0, 128, 255]


def test_int32_out_of_range_is_stretched():
    values = np.array([[-1000, 0, 1000]], dtype=np.int32)
    out = decode_image(encode(Image.fromarray(values, "I"), "TIFF"), "i.tif")
    assert list(np.asarray(out)[0]) == [0, 128, 255]


def test_float_unit_range_scaled_and_other_range_stretched():
    unit = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    out = decode_image(encode(Image.fromarray(unit, "F"), "TIFF"), "f.tif")
    assert out.mode == "L" and list(np.asarray(out)[0]) == [0, 128, 255]
    wide = np.array([[-2.0, 3.0, 8.0]], dtype=np.float32)
    out = decode_image(encode(Image.fromarray(wide, "F"), "TIFF"), "f.tif")
    assert list(np.asarray(out)[0]) == [0, 128, 255]


def test_float_with_nan_is_refused():
    values = np.array([[0.0, np.nan]], dtype=np.float32)
    with pytest.raises(ImageDecodeError, match=r"nan\.tif.*NaN"):
        decode_image(encode(Image.fromarray(values, "F"), "TIFF"), "nan.tif")


def test_grayscale_stays_l():
    gray = np.arange(0, 250, 10, dtype=np.uint8).reshape(5, 5)
    out = decode_image(encode(Image.fromarray(gray, "L"), "PNG"), "g.png")
    assert out.mode == "L"
    np.testing.assert_array_equal(np.asarray(out), gray)


def test_bilevel_becomes_l():
    image = Image.new("1", (8, 4), 0)
    image.paste(1, (4, 0, 8, 4))
    out = decode_image(encode(image, "PNG"), "bw.png")
    assert out.mode == "L"
    assert out.getpixel((1, 1)) == 0 and out.getpixel((6, 1)) == 255


@pytest.mark.parametrize(
    ("mode", "value", "expected", "tol"),
    [("HSV", (85, 255, 255), (0, 255, 0), 2), ("YCbCr", (76, 85, 255), RED, 3), ("LAB", (255, 128, 128), WHITE, 2)],
)
def test_other_colour_spaces_become_rgb(mode, value, expected, tol):
    out = to_rgb_or_l(Image.new(mode, (2, 2), value))
    assert out.mode == "RGB" and close_to(out.getpixel((0, 0)), expected, tol)


def test_to_rgb_or_l_rejects_non_images():
    with pytest.raises(TypeError, match=r"PIL\.Image\.Image"):
        to_rgb_or_l(np.zeros((2, 2)))


def test_exif_orientation_6_rotates_clockwise():
    pixels = np.full((20, 40, 3), 255, dtype=np.uint8)  # H=20, W=40 as stored
    pixels[:6, :6] = RED  # marked top-left corner
    image = Image.fromarray(pixels, "RGB")
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    out = decode_image(encode(image, "JPEG", exif=exif, quality=95), "phone.jpg")
    assert out.size == (20, 40)  # width and height swapped
    expected = np.rot90(pixels, k=-1)  # clockwise; the red corner goes to the top-right
    assert close_to(out.getpixel((17, 2)), tuple(expected[2, 17]), tol=20)
    assert close_to(out.getpixel((17, 2)), RED, tol=20)
    assert close_to(out.getpixel((2, 2)), WHITE, tol=20)
    assert out.getexif().get(0x0112) in (None, 1)  # not applied twice downstream


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (6, 6), c) for c in (RED, (0, 0, 255), (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_image(data, "anim.gif")
    assert out.mode == "RGB" and out.getpixel((3, 3)) == RED


def test_animated_webp_gives_first_frame():
    frames = [Image.new("RGB", (6, 6), c) for c in ((0, 0, 255), RED)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    out = decode_image(data, "anim.webp")
    assert out.mode == "RGB" and close_to(out.getpixel((3, 3)), (0, 0, 255), tol=2)


def test_result_is_detached_copy():
    data = encode(Image.new("RGB", (5, 5), RED), "PNG")
    out = decode_image(bytearray(data), "x.png")
    assert getattr(out, "fp", None) is None
    out.putpixel((0, 0), (0, 0, 0))  # writable, owned memory
    assert out.getpixel((0, 0)) == (0, 0, 0)


# -- bad input -------------------------------------------------------------------------------


def test_empty_bytes():
    with pytest.raises(ImageDecodeError, match=r"^x\.png is empty$"):
        decode_image(b"", "x.png")


def test_random_bytes():
    data = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    with pytest.raises(ImageDecodeError, match=r"^noise\.jpg is not an image Pillow can read \(unknown format"):
        decode_image(data, "noise.jpg")


def test_text_file():
    with pytest.raises(ImageDecodeError, match=r"^notes\.txt is not an image Pillow can read"):
        decode_image(b"hello, this is a text file\n" * 20, "notes.txt")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("keep", ["half", "header"])
def test_truncated_file(fmt, keep):
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise, "RGB"), fmt)
    name = f"cut.{fmt.lower()}"
    cut = len(data) // 2 if keep == "half" else 60  # in the pixel data, or inside the header
    with pytest.raises(ImageDecodeError, match=rf"^cut\.{fmt.lower()} is truncated or corrupt"):
        decode_image(data[:cut], name)
    assert decode_image(data, name).size == (64, 64)  # the whole file is fine


def test_corrupt_png_body():
    noise = np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8)
    data = bytearray(encode(Image.fromarray(noise, "L"), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start : start + 40] = b"\xff" * 40  # smash the compressed stream
    with pytest.raises(ImageDecodeError, match=r"^bad\.png "):
        decode_image(bytes(data), "bad.png")


def test_not_bytes_is_type_error():
    with pytest.raises(TypeError, match="bytes"):
        decode_image("cat.jpg", "cat.jpg")  # type: ignore[arg-type]


def test_over_max_pixels_refused_with_limit_in_message():
    data = png_declaring(8000, 8000)  # 64 MP: under Pillow's own guard, over ours
    assert len(data) < 100
    with pytest.raises(
        ImageDecodeError, match=r"^big\.png is 64 megapixels \(8000×8000\); the limit is 40 megapixels$"
    ):
        decode_image(data, "big.png")
    assert MAX_PIXELS == 40_000_000


def test_max_pixels_parameter_applies():
    data = encode(Image.new("L", (100, 50)), "PNG")
    with pytest.raises(ImageDecodeError, match=r"^m\.png is 5000 pixels \(100×50\); the limit is 4999 pixels$"):
        decode_image(data, "m.png", max_pixels=4999)
    assert decode_image(data, "m.png", max_pixels=5000).size == (100, 50)


def test_decompression_bomb_refused():
    # Pillow's guard fires inside Image.open, before our own check; the message still states a limit.
    with pytest.raises(ImageDecodeError, match=r"^bomb\.png is too large .*the limit is 40 megapixels .*900000000"):
        decode_image(png_declaring(30000, 30000), "bomb.png")
    # With our limit lifted above it, Pillow's guard alone (about 89.5 MP) still refuses.
    with pytest.raises(ImageDecodeError, match=r"^bomb\.png is too large .*the limit is 89\.5 megapixels"):
        decode_image(png_declaring(30000, 30000), "bomb.png", max_pixels=10**12)
    with pytest.raises(ImageDecodeError, match=r"^warn\.png is too large .*the limit is 89\.5 megapixels"):
        decode_image(png_declaring(10000, 10000), "warn.png", max_pixels=10**12)  # Pillow only warns here
    assert Image.MAX_IMAGE_PIXELS is not None


def test_upload_size_limit():
    with pytest.raises(ImageDecodeError, match=r"^huge\.png is 60\.0 MiB; the limit is 50 MiB"):
        check_upload_size(60 * 2**20, "huge.png")
    with pytest.raises(ImageDecodeError, match=r"^tiny\.png is .* the limit is 0 MiB"):
        decode_image(encode(Image.new("L", (4, 4)), "PNG"), "tiny.png", max_bytes=10)
    check_upload_size(imageio.MAX_UPLOAD_BYTES, "ok.png")  # exactly at the limit is fine


def test_long_side_downscaled_keeping_aspect():
    pixels = np.zeros((100, 5000, 3), dtype=np.uint8)
    pixels[:, :2500] = RED
    out = decode_image(encode(Image.fromarray(pixels, "RGB"), "PNG"), "wide.png")
    assert out.size == (4096, 82)  # 100 * 4096 / 5000 = 81.9
    assert out.getpixel((100, 40)) == RED and out.getpixel((4000, 40)) == (0, 0, 0)
    assert decode_image(encode(Image.fromarray(pixels, "RGB"), "PNG"), "wide.png", downscale_to=None).size == (
        5000,
        100,
    )


def test_jpeg_downscale_uses_draft_and_keeps_colour():
    image = Image.new("RGB", (1000, 500), (0, 0, 255))
    image.paste(RED, (0, 0, 500, 500))
    out = decode_image(encode(image, "JPEG", quality=95), "big.jpg", downscale_to=100)
    assert out.size == (100, 50)
    assert close_to(out.getpixel((20, 25)), RED, tol=12) and close_to(out.getpixel((80, 25)), (0, 0, 255), tol=12)


def test_message_name_is_sanitised():
    with pytest.raises(ImageDecodeError, match=r"^a\?b\.png is empty$"):
        decode_image(b"", "a\nb.png")


def test_png_round_trip():
    image = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(2, 2, 3), "RGB")
    back = decode_image(image_to_png_bytes(image), "rt.png")
    np.testing.assert_array_equal(np.asarray(back), np.asarray(image))


# -- shipped samples -------------------------------------------------------------------------


def test_every_sample_decodes_and_has_a_licence_entry():
    samples = list_samples()
    assert {"cat", "coffee", "astronaut"} <= {s.name for s in samples}
    licences = (imageio.SAMPLES_DIR / imageio.LICENSES_FILE).read_text(encoding="utf-8")
    total = 0
    for sample in samples:
        assert sample.path.is_file(), sample.path
        total += sample.path.stat().st_size
        assert sample.licence and sample.source and sample.author
        row = next(line for line in licences.splitlines() if f"`{sample.path.name}`" in line)
        assert sample.licence in row and sample.author in row
        image = load_sample(sample.name)
        assert image.mode == ("RGB" if sample.kind == "photo" else "L")
        assert min(image.size) >= 28 and float(np.asarray(image).std()) > 10  # real content, not blank
    assert total < 1024 * 1024


def test_cat_sample():
    cat = load_sample("cat")
    assert cat.mode == "RGB" and cat.size == (451, 300)
    assert get_sample("cat").licence.startswith("CC0") and get_sample("cat").label == "tabby"


def test_digit_samples_are_mnist_sized():
    digits = list_samples("digit")
    assert digits
    for sample in digits:
        image = load_sample(sample.name)
        assert image.size == (28, 28) and image.mode == "L"
        assert sample.label is not None and sample.label.isdigit()
        assert np.asarray(image)[0].max() < 50 and np.asarray(image).max() > 200  # white stroke on black


def test_unknown_sample_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown sample 'dog'.*cat"):
        load_sample("dog")
    with pytest.raises(ValueError, match="kind"):
        list_samples("video")  # type: ignore[arg-type]


def test_a_42_megapixel_phone_photo_is_decoded_small_and_keeps_its_original_size():
    # 8000×5340 = 42.7 MP, over MAX_PIXELS: libjpeg decodes it at 1/2 scale (draft), the first
    # reduction under the limit; the same pixels as a PNG are refused (decoded at full size).
    gradient = np.linspace(0, 255, 8000, dtype=np.uint8)[None, :].repeat(5340, axis=0)  # (5340, 8000)
    photo = Image.fromarray(gradient).convert("RGB")
    image = decode_image(encode(photo, "JPEG"), "phone.jpg")
    assert image.size == (4000, 2670) and image.info[ORIGINAL_SIZE] == (8000, 5340)  # 1/2 scale
    assert max(image.size) <= MAX_SIDE
    # the left edge is dark and the right edge light, as in the photo
    assert np.asarray(image)[:, :10].mean() < 10 and np.asarray(image)[:, -10:].mean() > 245
    with pytest.raises(ImageDecodeError, match=r"42\.7 megapixels"):
        decode_image(png_declaring(8000, 5340), "phone.png")
