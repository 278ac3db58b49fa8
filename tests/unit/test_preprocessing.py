"""Preprocessing: pixels in [0, 1], channel conversion, normalize / denormalize round trip."""

import pytest
import torch
from PIL import Image

from playground.modalities.image.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, simple_preprocessing


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
