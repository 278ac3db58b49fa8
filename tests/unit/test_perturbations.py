"""Tests for the perturbation registry and its image and text entries (playground.robustness.perturbations)."""

from __future__ import annotations

import itertools
import math
import random
import string
import unicodedata

import pytest
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from playground.modalities.image.decode import load_sample
from playground.modalities.image.preprocessing import simple_preprocessing
from playground.robustness.perturbations import (
    PERTURBATIONS,
    audio_perturbations,
    image_perturbations,
    perturb_images,
    perturb_text,
    text_perturbations,
)
from playground.robustness.perturbations.text import _QWERTY_NEIGHBOURS, HOMOGLYPHS

IMAGE = image_perturbations()
TEXT = text_perturbations()
AUDIO = audio_perturbations()  # their own contract tests are in test_audio_robustness.py
# Image entries that use no randomness (the seed must not matter); every other entry must depend on it.
DETERMINISTIC_IMAGE = {
    "gaussian_blur",
    "motion_blur",
    "defocus_blur",
    "brightness",
    "contrast",
    "saturation",
    "jpeg",
    "pixelate",
    "scale",
}
# Image entries that are documented as the identity on 1-channel (grey) images.
GREY_IDENTITY = {"saturation"}
# Character-level text entries: they must leave emoji, CJK and other non-alphabetic scripts alone.
CHAR_LEVEL = {"char_swap", "char_insert", "char_delete", "keyboard_typo", "casing", "homoglyphs"}
SENTENCE = "The quick brown fox jumps over the lazy dog, again and again: 42 times! Straße, café, Ελλάδα, Москва."
UNICODE_TEXT = "I love 🍕 and 日本語, really 👍🏽 a lot"


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    """The shipped cat photo as ``(1, 3, 64, 64)`` float32 pixels."""
    return simple_preprocessing(64, 3).pixels_from_pil(load_sample("cat"))[None]


@pytest.fixture(scope="module")
def digit() -> torch.Tensor:
    """The shipped handwritten 7 as ``(1, 1, 28, 28)`` float32 pixels."""
    return simple_preprocessing(28, 1).pixels_from_pil(load_sample("digit_7"))[None]


def _random_batch(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _effect(name: str, pixels: torch.Tensor, severity: float, seed: int = 0) -> float:
    """Mean |perturbed - original| on the [0, 1] scale."""
    return (perturb_images(name, pixels, severity, seed=seed) - pixels).abs().mean().item()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- the registry ------------------------------------------------------------------------------


def test_registry_lists_every_entry_by_modality() -> None:
    assert set(IMAGE) >= {
        "gaussian_noise",
        "shot_noise",
        "impulse_noise",
        "gaussian_blur",
        "motion_blur",
        "defocus_blur",
        "brightness",
        "contrast",
        "saturation",
        "jpeg",
        "pixelate",
        "rotation",
        "translation",
        "scale",
        "occlusion",
    }
    assert set(TEXT) >= {
        "char_swap",
        "char_insert",
        "char_delete",
        "keyboard_typo",
        "word_dropout",
        "word_shuffle",
        "casing",
        "punctuation_removal",
        "homoglyphs",
    }
    assert sorted(IMAGE + TEXT + AUDIO) == sorted(PERTURBATIONS.names())
    assert all(PERTURBATIONS.get(n).modality == "image" for n in IMAGE)
    assert all(PERTURBATIONS.get(n).modality == "text" for n in TEXT)
    assert all(PERTURBATIONS.get(n).modality == "audio" for n in AUDIO)


@pytest.mark.parametrize("name", PERTURBATIONS.names())
def test_spec_is_complete_and_levels_move_away_from_the_identity(name: str) -> None:
    spec = PERTURBATIONS.get(name)
    assert spec.name == name
    assert spec.unit.strip() and spec.description.strip()
    assert len(spec.levels) == 6
    # Levels move monotonically away from the identity (up or down), so severity means "more".
    steps = [b - a for a, b in itertools.pairwise(spec.levels)]
    assert all(s > 0 for s in steps) or all(s < 0 for s in steps), spec.levels


@pytest.mark.parametrize("name", PERTURBATIONS.names())
def test_fractional_severity_interpolates_levels(name: str) -> None:
    spec = PERTURBATIONS.get(name)
    levels = spec.levels
    assert spec.level(0) == levels[0]
    assert spec.level(5) == levels[5]
    assert spec.level(3) == pytest.approx(levels[3])
    assert spec.level(2.5) == pytest.approx((levels[2] + levels[3]) / 2)
    assert spec.level(4.25) == pytest.approx(levels[4] + 0.25 * (levels[5] - levels[4]))


@pytest.mark.parametrize("severity", [-0.1, 5.01, float("nan")])
def test_out_of_range_severity_is_refused(severity: float, digit: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="severity must be in"):
        perturb_images("gaussian_noise", digit, severity)
    with pytest.raises(ValueError, match="severity must be in"):
        perturb_text("char_swap", "hello", severity)


def test_unknown_name_and_wrong_modality_are_refused(digit: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=r"unknown perturbation 'fog'.*gaussian_noise"):
        perturb_images("fog", digit, 1)
    with pytest.raises(ValueError, match="text perturbation, not an image one"):
        perturb_images("char_swap", digit, 1)
    with pytest.raises(ValueError, match="image perturbation, not a text one"):
        perturb_text("gaussian_noise", "hello", 1)


# -- image perturbations: the contract -----------------------------------------------------------


@pytest.mark.parametrize("name", IMAGE)
def test_image_severity_zero_is_the_identity(name: str, cat: torch.Tensor, digit: torch.Tensor) -> None:
    spec = PERTURBATIONS.get(name)
    for pixels in (cat, digit, _random_batch((3, 3, 17, 23))):
        out = perturb_images(name, pixels, 0, seed=3)
        assert torch.equal(out, pixels)
        assert out is not pixels
        # The function itself, called at its identity level, is the identity too.
        direct = spec.fn(pixels, spec.levels[0], _gen(3))
        assert torch.equal(direct, pixels)
        assert direct.data_ptr() != pixels.data_ptr()


@pytest.mark.parametrize("name", IMAGE)
@pytest.mark.parametrize(("shape", "dtype"), [((4, 1, 28, 28), torch.float32), ((2, 3, 20, 33), torch.float64)])
def test_image_output_shape_dtype_range(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    pixels = _random_batch(shape, dtype=dtype)
    before = pixels.clone()
    spec = PERTURBATIONS.get(name)
    for severity in (0.5, 2.5, 5):
        out = perturb_images(name, pixels, severity, seed=1)
        direct = spec.fn(pixels, spec.level(severity), _gen(1))  # the function alone keeps the contract too
        for result in (out, direct):
            assert result.shape == pixels.shape
            assert result.dtype == dtype
            assert result.min() >= 0.0 and result.max() <= 1.0
            assert torch.isfinite(result).all()
        assert torch.equal(out, direct)
    assert torch.equal(pixels, before), "the input was modified in place"


@pytest.mark.parametrize("name", IMAGE)
def test_image_same_seed_same_output_and_randomness_only_from_the_seed(name: str) -> None:
    pixels = _random_batch((8, 3, 16, 16))
    torch.manual_seed(123)
    first = perturb_images(name, pixels, 3, seed=7)
    torch.manual_seed(456)  # the global RNG must play no part
    assert torch.equal(perturb_images(name, pixels, 3, seed=7), first)
    others = [perturb_images(name, pixels, 3, seed=s) for s in (8, 9, 10)]
    if name in DETERMINISTIC_IMAGE:
        assert all(torch.equal(o, first) for o in others)
    else:
        assert not all(torch.equal(o, first) for o in others), f"{name} ignores its seed"


@pytest.mark.parametrize("name", IMAGE)
def test_image_effect_grows_with_severity(name: str, cat: torch.Tensor, digit: torch.Tensor) -> None:
    for label, pixels in (("cat 64x64", cat), ("digit 28x28", digit)):
        effects = [_effect(name, pixels, s) for s in range(1, 6)]
        if pixels.shape[1] == 1 and name in GREY_IDENTITY:
            assert effects == [0.0] * 5
            continue
        assert effects[0] > 0, f"{name} does nothing at severity 1 on the {label}"
        assert all(a < b for a, b in itertools.pairwise(effects)), f"{name} on the {label}: {effects}"


@pytest.mark.parametrize("name", IMAGE)
def test_image_fractional_severity_lies_between_its_neighbours(name: str, cat: torch.Tensor) -> None:
    low, mid, high = (_effect(name, cat, s) for s in (2, 2.5, 3))
    assert low <= mid <= high


@pytest.mark.parametrize("name", IMAGE)
def test_image_batch_and_channel_variants(name: str, cat: torch.Tensor, digit: torch.Tensor) -> None:
    # Deterministic entries act on each image alone: a batch gives the same as its images one by one.
    batch = torch.cat([cat, cat.flip(-1)])
    out = perturb_images(name, batch, 4, seed=0)
    assert out.shape == batch.shape
    if name in DETERMINISTIC_IMAGE:
        assert torch.allclose(out[1:], perturb_images(name, batch[1:], 4, seed=0), atol=1e-6)
    grey = perturb_images(name, digit.expand(2, 1, 28, 28), 4, seed=0)
    assert grey.shape == (2, 1, 28, 28)


@pytest.mark.parametrize("name", IMAGE)
def test_image_bad_pixels_are_refused(name: str) -> None:
    spec = PERTURBATIONS.get(name)
    level = spec.level(3)
    with pytest.raises(ValueError, match=r"expected \(B, C, H, W\) float pixels"):
        spec.fn(torch.rand(3, 8, 8), level, _gen())
    with pytest.raises(ValueError, match=r"expected \(B, C, H, W\) float pixels"):
        spec.fn(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), level, _gen())
    with pytest.raises(TypeError, match=r"expected pixels as a torch\.Tensor"):
        spec.fn([[0.5]], level, _gen())
    with pytest.raises(ValueError, match=r"expected \(B, C, H, W\) float pixels"):
        perturb_images(name, torch.rand(3, 8, 8), 2)


@pytest.mark.parametrize(
    ("name", "bad_level"),
    [
        ("gaussian_noise", -0.1),
        ("impulse_noise", 1.5),
        ("gaussian_blur", -1.0),
        ("contrast", -0.5),
        ("jpeg", 0.0),
        ("jpeg", 101.0),
        ("pixelate", 0.5),
        ("rotation", 200.0),
        ("scale", 0.0),
        ("occlusion", 1.2),
    ],
)
def test_image_bad_levels_are_refused(name: str, bad_level: float) -> None:
    with pytest.raises(ValueError, match="expected"):
        PERTURBATIONS.get(name).fn(torch.rand(1, 3, 8, 8), bad_level, _gen())


# -- image perturbations: what each one does -----------------------------------------------------


def test_gaussian_noise_has_the_requested_sigma() -> None:
    grey = torch.full((4, 3, 32, 32), 0.5)
    level = PERTURBATIONS.get("gaussian_noise").level(2)
    noise = perturb_images("gaussian_noise", grey, 2, seed=0) - grey  # σ = 0.12 barely clips at 0.5 ± 4σ
    assert noise.std().item() == pytest.approx(level, rel=0.05)
    assert abs(noise.mean().item()) < 0.01


def test_shot_noise_is_unbiased_and_grows_with_intensity() -> None:
    level = PERTURBATIONS.get("shot_noise").level(3)
    dark = torch.full((2, 1, 64, 64), 0.1)
    bright = torch.full((2, 1, 64, 64), 0.6)
    out_dark = perturb_images("shot_noise", dark, 3, seed=0)
    out_bright = perturb_images("shot_noise", bright, 3, seed=0)
    assert out_bright.mean().item() == pytest.approx(0.6, abs=0.01)
    # Poisson: variance of x·n photons is x·n, so σ of the pixel is sqrt(x · level).
    assert out_bright.std().item() == pytest.approx(math.sqrt(0.6 * level), rel=0.1)
    assert out_bright.std().item() > out_dark.std().item()
    assert torch.equal(perturb_images("shot_noise", torch.zeros(1, 1, 8, 8), 5), torch.zeros(1, 1, 8, 8))


def test_impulse_noise_hits_the_requested_fraction_with_black_and_white() -> None:
    grey = torch.full((4, 3, 32, 32), 0.5)
    level = PERTURBATIONS.get("impulse_noise").level(4)
    out = perturb_images("impulse_noise", grey, 4, seed=0)
    changed = out != 0.5
    assert changed.float().mean().item() == pytest.approx(level, rel=0.1)
    assert set(out[changed].unique().tolist()) == {0.0, 1.0}
    # Nested: every value hit at severity 2 is also hit at severity 4.
    low = perturb_images("impulse_noise", grey, 2, seed=0) != 0.5
    assert changed[low].all()


@pytest.mark.parametrize("name", ["gaussian_blur", "motion_blur", "defocus_blur"])
def test_blurs_keep_a_flat_image_and_the_total_brightness(name: str) -> None:
    flat = torch.full((1, 3, 24, 24), 0.3)
    assert torch.allclose(perturb_images(name, flat, 5), flat, atol=1e-6)
    dot = torch.zeros(1, 1, 33, 33)
    dot[0, 0, 16, 16] = 1.0  # the centre, so a centred kernel gives a symmetric result
    out = perturb_images(name, dot, 3)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)  # the kernel sums to 1
    assert out[0, 0, 16, 16] < 1.0  # the dot spread
    assert torch.allclose(out[0, 0].flip(-1), out[0, 0], atol=1e-6)  # centred, no shift
    assert torch.allclose(out[0, 0].flip(-2), out[0, 0], atol=1e-6)


def test_motion_blur_is_horizontal_and_defocus_is_round() -> None:
    dot = torch.zeros(1, 1, 33, 33)
    dot[0, 0, 16, 16] = 1.0
    motion = perturb_images("motion_blur", dot, 5)[0, 0]
    assert motion[16].sum().item() == pytest.approx(1.0, abs=1e-5)  # all on the dot's row
    length = PERTURBATIONS.get("motion_blur").level(5) * 33 / 32  # lengths are given for a 32 px image
    assert (motion[16] > 0).sum().item() == math.ceil(length + 1) + (math.ceil(length + 1) % 2 == 0)
    disk = perturb_images("defocus_blur", dot, 5)[0, 0]
    assert torch.allclose(disk, disk.T, atol=1e-7)
    assert torch.allclose(disk, disk.flip(0), atol=1e-7)


def test_gaussian_blur_scales_with_image_size() -> None:
    # The same severity blurs a 4x larger image with a 4x larger sigma: a step edge's ramp is 4x wider.
    def ramp_width(size: int) -> int:
        edge = torch.zeros(1, 1, size, size)
        edge[..., size // 2 :] = 1.0
        row = perturb_images("gaussian_blur", edge, 5)[0, 0, size // 2]
        return int(((row > 0.01) & (row < 0.99)).sum())

    small, large = ramp_width(32), ramp_width(128)
    assert small >= 2
    assert 3 * small <= large <= 5 * small


def test_brightness_adds_and_contrast_pulls_toward_the_mean() -> None:
    pixels = torch.linspace(0.2, 0.4, 64).view(1, 1, 8, 8)
    level = PERTURBATIONS.get("brightness").level(1)
    assert torch.allclose(perturb_images("brightness", pixels, 1), pixels + level)
    assert perturb_images("brightness", torch.ones(1, 1, 2, 2), 5).max() == 1.0  # clipped
    factor = PERTURBATIONS.get("contrast").level(3)
    out = perturb_images("contrast", pixels, 3)
    assert out.mean().item() == pytest.approx(pixels.mean().item(), abs=1e-6)
    assert out.std().item() == pytest.approx(factor * pixels.std().item(), rel=1e-4)


def test_saturation_spreads_colours_and_leaves_grey_alone() -> None:
    colour = torch.tensor([0.6, 0.4, 0.3]).view(1, 3, 1, 1).expand(1, 3, 4, 4).contiguous()
    out = perturb_images("saturation", colour, 2)
    spread = lambda x: (x.amax(1) - x.amin(1)).mean().item()  # noqa: E731
    assert spread(out) > 1.5 * spread(colour)
    grey3 = torch.full((1, 3, 4, 4), 0.4)
    # torchvision's grey weights (0.2989, 0.587, 0.114) sum to 0.9999, hence the tolerance
    assert torch.allclose(perturb_images("saturation", grey3, 5), grey3, atol=1e-3)
    grey1 = torch.rand(2, 1, 4, 4)
    assert torch.equal(perturb_images("saturation", grey1, 5), grey1)


def test_jpeg_lowers_quality_in_8x8_blocks(cat: torch.Tensor) -> None:
    out = perturb_images("jpeg", cat, 5)
    assert (out * 255 - (out * 255).round()).abs().max() < 1e-4  # decoded 8-bit values
    # Blocking: jumps across 8x8 block borders are larger than jumps inside blocks.
    diffs = (out[..., :, 1:] - out[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # (W-1,)
    border = diffs[7::8].mean()
    inside = torch.cat([diffs[i::8] for i in range(7)]).mean()
    assert border > inside


def test_pixelate_makes_blocks_of_the_block_means() -> None:
    pixels = torch.arange(16.0).view(1, 1, 4, 4) / 15
    out = perturb_images("pixelate", pixels, 2)  # factor 2: 4x4 -> 2x2 -> 4x4
    blocks = pixels.view(1, 1, 2, 2, 2, 2).mean(dim=(3, 5))  # (1, 1, 2, 2) block means
    expected = blocks.repeat_interleave(2, -1).repeat_interleave(2, -2)
    assert torch.allclose(out, expected, atol=1e-6)


def test_rotation_by_180_degrees_flips_both_axes() -> None:
    pixels = torch.rand(3, 2, 9, 11, generator=_gen())
    out = PERTURBATIONS.get("rotation").fn(pixels, 180.0, _gen())
    assert torch.allclose(out, pixels.flip(-1, -2), atol=1e-5)


def test_rotation_turns_images_both_ways() -> None:
    bar = torch.zeros(16, 1, 33, 33)
    bar[:, :, 16, 4:29] = 1.0  # a horizontal bar through the centre
    out = perturb_images("rotation", bar, 5, seed=0)  # 45 degrees
    top_right = out[:, 0, :16, 17:].sum(dim=(1, 2))
    top_left = out[:, 0, :16, :16].sum(dim=(1, 2))
    anticlockwise = top_right > top_left
    assert anticlockwise.any() and (~anticlockwise).any()


def test_translation_moves_the_centroid_by_the_level() -> None:
    dot = torch.zeros(6, 1, 50, 50)
    dot[:, :, 23:27, 23:27] = 1.0
    level = PERTURBATIONS.get("translation").level(5)
    out = perturb_images("translation", dot, 5, seed=0)

    def centroid(x: torch.Tensor) -> torch.Tensor:  # (B, 2) as (row, col)
        grid = torch.arange(50.0)
        mass = x.sum(dim=(1, 2, 3))
        return torch.stack([(x.sum(3)[:, 0] * grid).sum(1) / mass, (x.sum(2)[:, 0] * grid).sum(1) / mass], 1)

    shift = (centroid(out) - centroid(dot)).norm(dim=1)
    assert torch.allclose(shift, torch.full((6,), level * 50), atol=0.1)
    assert out.sum(dim=(1, 2, 3)).allclose(dot.sum(dim=(1, 2, 3)), atol=1e-3)  # nothing fell off the edge


def test_translation_matches_torchvision_affine_image_by_image() -> None:
    pixels = torch.rand(5, 3, 12, 17, generator=_gen())
    level = 0.2
    out = PERTURBATIONS.get("translation").fn(pixels, level, _gen(2))
    phi = 2 * math.pi * torch.rand(5, generator=_gen(2)).double()  # the same draws as the function
    for i in range(5):
        shift = [level * 17 * math.cos(phi[i].item()), level * 12 * math.sin(phi[i].item())]
        expected = TF.affine(
            pixels[i], angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0], interpolation=InterpolationMode.BILINEAR
        )
        assert torch.allclose(out[i], expected, atol=1e-5)


def test_scale_shrinks_about_the_centre() -> None:
    white = torch.ones(1, 1, 40, 40)
    factor = PERTURBATIONS.get("scale").level(5)
    out = perturb_images("scale", white, 5)
    assert out.mean().item() == pytest.approx(factor**2, abs=0.05)
    assert out[0, 0, 20, 20] == 1.0 and out[0, 0, 0, 0] == 0.0


def test_occlusion_paints_one_grey_square_per_image() -> None:
    black = torch.zeros(5, 3, 20, 20)
    level = PERTURBATIONS.get("occlusion").level(3)
    out = perturb_images("occlusion", black, 3, seed=0)
    side = round(level * 20)
    for image in out:
        patch = image[0] == 0.5
        rows, cols = patch.any(1).nonzero(), patch.any(0).nonzero()
        assert patch.sum().item() == side * side
        assert len(rows) == side and len(cols) == side  # one contiguous square
        assert torch.equal(image[0], image[2])
    assert len({tuple(img[0].nonzero()[0].tolist()) for img in out}) > 1  # placed at random


# -- text perturbations --------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEXT)
def test_text_severity_zero_is_the_identity(name: str) -> None:
    spec = PERTURBATIONS.get(name)
    for text in (SENTENCE, UNICODE_TEXT, "", "  spaced\n\nout  "):
        assert perturb_text(name, text, 0, seed=5) == text
        assert spec.fn(text, spec.levels[0], random.Random(5)) == text


@pytest.mark.parametrize("name", TEXT)
def test_text_same_seed_same_output_different_seed_different_output(name: str) -> None:
    first = perturb_text(name, SENTENCE, 3, seed=1)
    random.seed(99)  # the global RNG must play no part
    assert perturb_text(name, SENTENCE, 3, seed=1) == first
    assert first != SENTENCE
    assert len({perturb_text(name, SENTENCE, 3, seed=s) for s in range(2, 6)} | {first}) > 1


@pytest.mark.parametrize("name", TEXT)
@pytest.mark.parametrize("text", ["a", "!", "hi", " x ", "...?!", "🍕", "日本語", "a b", "\n\tok\n"])
def test_text_is_never_emptied(name: str, text: str) -> None:
    for seed in range(4):
        out = perturb_text(name, text, 5, seed=seed)
        assert isinstance(out, str)
        assert out.strip(), f"{name} emptied {text!r}"
    assert perturb_text(name, "", 5) == ""
    assert perturb_text(name, "   ", 5) == "   "


@pytest.mark.parametrize("name", TEXT)
def test_text_effect_grows_with_severity(name: str) -> None:
    def changed(out: str) -> int:  # characters that differ, plus any change of length
        return sum(a != b for a, b in zip(out, SENTENCE, strict=False)) + abs(len(out) - len(SENTENCE))

    effects = [changed(perturb_text(name, SENTENCE, s, seed=0)) for s in (1, 5)]
    assert 0 < effects[0] < effects[1], effects


@pytest.mark.parametrize("name", sorted(CHAR_LEVEL))
def test_char_level_edits_keep_emoji_and_cjk(name: str) -> None:
    allowed = (
        set(UNICODE_TEXT)
        | {c.swapcase() for c in UNICODE_TEXT}
        | set(string.ascii_letters + string.digits)
        | set(HOMOGLYPHS.values())
    )
    for severity in (1, 5):
        for seed in range(3):
            out = perturb_text(name, UNICODE_TEXT, severity, seed=seed)
            assert "🍕" in out and "日本語" in out and "👍🏽" in out
            assert set(out) <= allowed, set(out) - allowed


def test_char_swap_keeps_the_characters() -> None:
    out = perturb_text("char_swap", SENTENCE, 5, seed=0)
    assert sorted(out) == sorted(SENTENCE) and out != SENTENCE
    assert len(out.split()) == len(SENTENCE.split())  # swaps stay inside words


def test_char_insert_and_delete_change_the_length_by_the_level() -> None:
    n_letters = sum(c.isalnum() for c in SENTENCE)
    for name, sign in (("char_insert", 1), ("char_delete", -1)):
        level = PERTURBATIONS.get(name).level(5)
        out = perturb_text(name, SENTENCE, 5, seed=0)
        assert len(out) - len(SENTENCE) == sign * round(level * n_letters)
    deleted = perturb_text("char_delete", SENTENCE, 5, seed=0)
    it = iter(SENTENCE)
    assert all(ch in it for ch in deleted)  # a subsequence of the input


def test_keyboard_typos_are_qwerty_neighbours() -> None:
    out = perturb_text("keyboard_typo", SENTENCE, 5, seed=0)
    assert len(out) == len(SENTENCE)
    changes = [(a, b) for a, b in zip(SENTENCE, out, strict=True) if a != b]
    assert changes
    for original, typo in changes:
        assert typo.lower() in _QWERTY_NEIGHBOURS[original.lower()]
        assert typo.isupper() == original.isupper() or original.isdigit()


def test_word_dropout_drops_the_fraction_and_keeps_the_order() -> None:
    words = SENTENCE.split()
    level = PERTURBATIONS.get("word_dropout").level(5)
    out = perturb_text("word_dropout", SENTENCE, 5, seed=0).split()
    assert len(out) == len(words) - round(level * len(words))
    it = iter(words)
    assert all(w in it for w in out)
    assert perturb_text("word_dropout", "one\ntwo\nthree\nfour\nfive", 5, seed=0).count("\n") >= 1  # layout kept


def test_word_shuffle_moves_words_at_most_the_window() -> None:
    words = [f"w{i}" for i in range(40)]
    spec = PERTURBATIONS.get("word_shuffle")
    for severity in (1, 3, 5):
        out = perturb_text("word_shuffle", " ".join(words), severity, seed=0).split()
        assert sorted(out) == sorted(words) and out != words
        moves = [abs(out.index(w) - i) for i, w in enumerate(words)]
        assert max(moves) <= math.ceil(spec.level(severity))


def test_casing_only_flips_case_and_homoglyphs_only_swap_look_alikes() -> None:
    cased = perturb_text("casing", SENTENCE, 5, seed=0)
    assert cased.lower() == SENTENCE.lower() and cased != SENTENCE
    glyphs = perturb_text("homoglyphs", SENTENCE, 3, seed=0)
    assert len(glyphs) == len(SENTENCE) and glyphs != SENTENCE
    for a, b in zip(SENTENCE, glyphs, strict=True):
        assert a == b or HOMOGLYPHS[a] == b
        assert unicodedata.name(b).split()[0] in {"LATIN", "CYRILLIC", "GREEK"} or not b.isalpha()


def test_homoglyphs_are_nested_across_severities() -> None:
    def positions(severity: float) -> set[int]:
        out = perturb_text("homoglyphs", SENTENCE, severity, seed=4)
        return {i for i, (a, b) in enumerate(zip(SENTENCE, out, strict=True)) if a != b}

    assert positions(1) < positions(2.5) < positions(5)


def test_punctuation_removal_at_full_level_removes_every_mark() -> None:
    out = perturb_text("punctuation_removal", SENTENCE, 5, seed=0)  # level 1.0
    assert not any(unicodedata.category(c).startswith("P") for c in out)
    assert out == "".join(c for c in SENTENCE if not unicodedata.category(c).startswith("P"))
    assert perturb_text("punctuation_removal", "?!", 5) in {"?", "!"}


def test_text_bad_input_is_refused() -> None:
    with pytest.raises(TypeError, match="expected text as str"):
        PERTURBATIONS.get("char_swap").fn(b"bytes", 0.1, random.Random(0))
    with pytest.raises(ValueError, match="expected a level in"):
        PERTURBATIONS.get("homoglyphs").fn("abc", 1.5, random.Random(0))
