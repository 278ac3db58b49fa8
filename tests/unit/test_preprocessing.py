"""Preprocessing: pixels in [0, 1], channel conversion, normalize / denormalize round trip."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.transforms import v2

from playground.modalities.image.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, simple_preprocessing

# Fixed budget and seed: the same examples in CI every time.
EQUAL_TO_TORCHVISION = settings(max_examples=80, deadline=None, derandomize=True, database=None)


def torchvision_pixels(prep: Preprocessing, image: Image.Image) -> torch.Tensor:
    """What ``pixels_from_pil`` computed when it was a torchvision ``transforms.v2`` pipeline."""
    geometry = (
        [v2.Resize((prep.image_size, prep.image_size), antialias=True)]
        if prep.resize is None
        else [v2.Resize(prep.resize, antialias=True), v2.CenterCrop(prep.image_size)]
    )
    channels = v2.Grayscale(num_output_channels=1) if prep.channels == 1 else v2.RGB()
    pipeline = v2.Compose([v2.ToImage(), channels, *geometry, v2.ToDtype(torch.float32, scale=True)])
    return pipeline(image).as_subclass(torch.Tensor)


@EQUAL_TO_TORCHVISION
@given(
    height=st.integers(1, 90),
    width=st.integers(1, 90),
    mode=st.sampled_from(["L", "RGB"]),
    channels=st.sampled_from([1, 3]),
    image_size=st.integers(2, 40),  # a 1x1 output trips a torch uint8 kernel assert, in torchvision too
    crop_margin=st.one_of(st.none(), st.integers(0, 30)),
    seed=st.integers(0, 2**16),
)
def test_pixels_from_pil_equal_torchvision_bit_for_bit(
    height: int, width: int, mode: str, channels: int, image_size: int, crop_margin: int | None, seed: int
) -> None:
    shape = (height, width) if mode == "L" else (height, width, 3)
    image = Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8), mode)
    resize = None if crop_margin is None else image_size + crop_margin
    prep = Preprocessing(image_size, channels, (0.5,) * channels, (0.5,) * channels, resize=resize)
    ours = prep.pixels_from_pil(image)
    assert ours.dtype == torch.float32 and ours.shape == (channels, image_size, image_size)
    assert torch.equal(ours, torchvision_pixels(prep, image))


@EQUAL_TO_TORCHVISION
@given(
    batch=st.integers(1, 3),
    in_channels=st.sampled_from([1, 3]),
    channels=st.sampled_from([1, 3]),
    height=st.integers(1, 60),
    width=st.integers(1, 60),
    image_size=st.integers(2, 40),  # a 1x1 output trips a torch uint8 kernel assert, in torchvision too
    crop_margin=st.one_of(st.none(), st.integers(0, 20)),
    as_uint8=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pixels_from_batch_equal_torchvision(
    batch: int,
    in_channels: int,
    channels: int,
    height: int,
    width: int,
    image_size: int,
    crop_margin: int | None,
    as_uint8: bool,
    seed: int,
) -> None:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, in_channels, height, width), dtype=torch.uint8, generator=generator)
    if not as_uint8:
        images = images.to(torch.float32) / 255.0
    resize = None if crop_margin is None else image_size + crop_margin
    prep = Preprocessing(image_size, channels, (0.5,) * channels, (0.5,) * channels, resize=resize)
    x = images.to(torch.float32) / 255.0 if as_uint8 else images
    x = (v2.Grayscale(1) if channels == 1 else v2.RGB())(x)
    if resize is None:
        x = v2.Resize((image_size, image_size), antialias=True)(x)
    else:
        x = v2.CenterCrop(image_size)(v2.Resize(resize, antialias=True)(x))
    assert torch.equal(prep.pixels_from_batch(images), x.clamp(0.0, 1.0))


def test_pil_and_batch_paths_agree() -> None:
    prep = simple_preprocessing(16, 3)
    torch.manual_seed(0)
    batch = torch.randint(0, 256, (1, 3, 40, 40), dtype=torch.uint8)
    image = Image.fromarray(batch[0].permute(1, 2, 0).numpy(), "RGB")
    from_pil = prep.pixels_from_pil(image)
    from_batch = prep.pixels_from_batch(batch)[0]
    assert from_pil.shape == (3, 16, 16)
    assert torch.allclose(from_pil, from_batch, atol=2 / 255)  # same ops, PIL vs tensor rounding only


def test_gray_to_rgb_and_back() -> None:
    gray = Image.new("L", (10, 10), 128)
    rgb = simple_preprocessing(10, 3).pixels_from_pil(gray)
    assert rgb.shape == (3, 10, 10)
    assert torch.allclose(rgb[0], rgb[2]) and abs(float(rgb.mean()) - 128 / 255) < 1e-6
    red = Image.new("RGB", (10, 10), (255, 0, 0))
    luma = simple_preprocessing(10, 1).pixels_from_pil(red)
    assert luma.shape == (1, 10, 10)
    assert abs(float(luma.mean()) - 0.299) < 0.01  # ITU-R 601 luma of pure red


def test_resize_then_center_crop() -> None:
    prep = Preprocessing(224, 3, IMAGENET_MEAN, IMAGENET_STD, resize=256)
    wide = Image.new("RGB", (600, 300), (0, 0, 255))
    assert prep.pixels_from_pil(wide).shape == (3, 224, 224)


def test_normalize_round_trip() -> None:
    prep = Preprocessing(8, 3, IMAGENET_MEAN, IMAGENET_STD)
    pixels = torch.rand(2, 3, 8, 8)
    x = prep.normalize(pixels)
    assert torch.allclose(x[:, 0].mean(), ((pixels[:, 0] - 0.485) / 0.229).mean(), atol=1e-5)
    assert torch.allclose(prep.denormalize(x), pixels, atol=1e-6)


def test_dict_round_trip_and_validation() -> None:
    prep = Preprocessing(224, 3, IMAGENET_MEAN, IMAGENET_STD, resize=256)
    assert Preprocessing.from_dict(prep.to_dict()) == prep
    with pytest.raises(ValueError, match="channels"):
        Preprocessing(8, 2, (0.5, 0.5), (0.5, 0.5))
    with pytest.raises(ValueError, match="mean and std"):
        Preprocessing(8, 3, (0.5,), (0.5,))
    with pytest.raises(ValueError, match="invalid preprocessing"):
        Preprocessing.from_dict({"image_size": 8})
    with pytest.raises(ValueError, match=r"\(B, 1\|3, H, W\)"):
        simple_preprocessing(8, 1).pixels_from_batch(torch.zeros(3, 8, 8))
