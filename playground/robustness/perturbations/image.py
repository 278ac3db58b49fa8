"""Image corruptions: noise, blur, colour and compression, each with a severity 0–5.

Every function takes ``pixels`` ``(B, C, H, W)`` float in ``[0, 1]`` (raw pixels, before the model's
normalization; C is 1 or 3, any float dtype, any device), a ``level`` in the units of its entry and
a CPU ``torch.Generator`` (the only source of randomness: the same seed gives the same output), and
returns a new tensor of the same shape, dtype and device, in ``[0, 1]``. At its identity level
(``levels[0]``) each function returns an exact copy of its input.

Sizes are given for a 32-pixel image and scaled by ``min(H, W) / 32`` (blur σ, blur length, disk
radius), so that one severity looks alike on 28×28 MNIST and on a 224×224 photo. Severity 5 is
meant to be strong but not always destructive on both. The geometric corruptions (rotation,
translation, scale, occlusion) are in :mod:`playground.robustness.perturbations.image_geometry`,
registered after these.

The corruptions and their severity scale follow Hendrycks & Dietterich 2019, "Benchmarking Neural
Network Robustness to Common Corruptions and Perturbations", https://arxiv.org/abs/1903.12261
(ImageNet-C, CIFAR-10-C); the levels here are the playground's own, chosen for 28 px and 224 px inputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from playground.robustness.perturbations.base import register_perturbation

REFERENCE_SIZE = 32  # pixel sizes of the blurs are given for a 32 px image and scaled by min(H, W) / 32
JPEG_MAX_QUALITY = 100  # quality >= 100 means "not re-encoded" (the identity)


# -- helpers ---------------------------------------------------------------------------------


def _check_pixels(pixels: torch.Tensor) -> None:
    """Raise unless ``pixels`` is a ``(B, C, H, W)`` floating tensor."""
    if not isinstance(pixels, torch.Tensor):
        raise TypeError(f"expected pixels as a torch.Tensor, got {type(pixels).__name__}")
    if pixels.ndim != 4 or not pixels.is_floating_point():
        raise ValueError(f"expected (B, C, H, W) float pixels in [0, 1], got {tuple(pixels.shape)} {pixels.dtype}")


def _size_scale(pixels: torch.Tensor) -> float:
    """``min(H, W) / 32``: converts a size given for a 32 px image to this image."""
    return min(pixels.shape[-2:]) / REFERENCE_SIZE


def _uniform(generator: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform ``[0, 1)`` float32 draws on the generator's device (CPU), shape ``shape``."""
    return torch.rand(shape, generator=generator, device=generator.device)


def _depthwise_conv(pixels: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel with the same 2-D ``kernel`` ``(kh, kw)`` (odd sides, sums to 1).

    The border is padded by replicating edge pixels, so a blur does not darken the edges.
    """
    c = pixels.shape[1]
    kh, kw = kernel.shape
    weight = kernel.to(pixels).expand(c, 1, kh, kw)  # (C, 1, kh, kw), one filter per channel
    padded = F.pad(pixels, (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")  # (B, C, H+kh-1, W+kw-1)
    return F.conv2d(padded, weight, groups=c)  # (B, C, H, W)


# -- noise -----------------------------------------------------------------------------------


@register_perturbation(
    "gaussian_noise",
    modality="image",
    unit="σ of additive Gaussian noise on the [0, 1] pixel scale",
    levels=(0.0, 0.08, 0.12, 0.18, 0.26, 0.38),
    description="Adds independent Gaussian noise to every pixel and channel (sensor noise in low light).",
)
def gaussian_noise(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Add ``N(0, level²)`` noise to every pixel and channel, then clip to ``[0, 1]``.

    torchvision's ``v2.functional.gaussian_noise`` draws from the global RNG and takes no generator,
    so the noise is drawn here from ``generator`` (on the CPU, so a seed gives the same noise on
    every device).

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: σ on the ``[0, 1]`` pixel scale; 0 is the identity.
        generator: source of the noise.

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a negative σ.
    """
    _check_pixels(pixels)
    if level < 0:
        raise ValueError(f"expected σ >= 0, got {level}")
    if level == 0:
        return pixels.clone()
    noise = torch.randn(pixels.shape, generator=generator, device=generator.device, dtype=pixels.dtype)
    return (pixels + level * noise.to(pixels.device)).clamp(0.0, 1.0)


@register_perturbation(
    "shot_noise",
    modality="image",
    unit="1 / photons per unit intensity (0 = no noise; 0.1 = 10 photons for a white pixel)",
    levels=(0.0, 0.02, 0.04, 0.08, 0.16, 0.3),
    description="Poisson (photon counting) noise: stronger in bright areas, as in a camera sensor.",
)
def shot_noise(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Poisson noise: ``Poisson(x · n) / n`` with ``n = 1 / level`` photons per unit intensity.

    The level is the inverse photon count (ImageNet-C counts photons, 60 down to 3) so that 0 is the
    identity and linear interpolation between severities stays finite; the noise σ at intensity x
    is ``sqrt(x · level)``.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: ``1 / photons`` per unit intensity; 0 is the identity.
        generator: source of the Poisson draws.

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a negative level.
    """
    _check_pixels(pixels)
    if level < 0:
        raise ValueError(f"expected 1 / photons >= 0, got {level}")
    if level == 0:
        return pixels.clone()
    photons = pixels.detach().to(generator.device).clamp(0.0, 1.0) / level  # expected photon counts
    counts = torch.poisson(photons, generator=generator)
    return (counts * level).to(pixels.device).clamp(0.0, 1.0)


@register_perturbation(
    "impulse_noise",
    modality="image",
    unit="fraction of pixel values set to 0 or 1 (salt and pepper)",
    levels=(0.0, 0.03, 0.06, 0.1, 0.17, 0.27),
    description="Salt-and-pepper noise: a fraction of pixel values turn black or white (bit errors).",
)
def impulse_noise(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Set a fraction ``level`` of the values to 0 (half of them) or 1 (the other half).

    Each channel value is hit independently, as in ImageNet-C (``skimage.util.random_noise(mode="s&p")``
    on the RGB array), so on colour images the specks are coloured. Draws are nested: with one seed,
    the values hit at a lower level are also hit at every higher level.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: fraction of values hit, in ``[0, 1]``; 0 is the identity.
        generator: source of the positions.

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a level outside ``[0, 1]``.
    """
    _check_pixels(pixels)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"expected a fraction in [0, 1], got {level}")
    if level == 0:
        return pixels.clone()
    u = _uniform(generator, *pixels.shape).to(pixels.device)  # (B, C, H, W)
    out = pixels.clamp(0.0, 1.0)  # a copy
    out[u < level / 2] = 0.0  # pepper
    out[u > 1.0 - level / 2] = 1.0  # salt
    return out


# -- blur ------------------------------------------------------------------------------------


@register_perturbation(
    "gaussian_blur",
    modality="image",
    unit="σ in pixels of a 32 px image (scaled by min(H, W) / 32)",
    levels=(0.0, 0.4, 0.6, 0.8, 1.0, 1.2),
    description="Gaussian blur, as from an out-of-focus or low-quality lens.",
)
def gaussian_blur(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian blur with σ = ``level · min(H, W) / 32`` pixels (torchvision ``gaussian_blur``).

    The kernel spans ±3σ (odd size, at most ``2 · min(H, W) - 1`` for the reflect padding).

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: σ in pixels of a 32 px image; 0 is the identity.
        generator: unused (the blur is deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a negative σ.
    """
    _check_pixels(pixels)
    if level < 0:
        raise ValueError(f"expected σ >= 0, got {level}")
    if level == 0:
        return pixels.clone()
    sigma = level * _size_scale(pixels)
    max_size = 2 * min(pixels.shape[-2:]) - 1  # reflect padding needs kernel // 2 < side
    size = min(2 * math.ceil(3 * sigma) + 1, max_size)
    return TF.gaussian_blur(pixels, kernel_size=[size, size], sigma=[sigma, sigma]).clamp(0.0, 1.0)


@register_perturbation(
    "motion_blur",
    modality="image",
    unit="blur length in pixels of a 32 px image (scaled by min(H, W) / 32), horizontal",
    levels=(0.0, 1.5, 2.5, 3.5, 5.0, 6.5),
    description="Horizontal motion blur: the camera moved sideways while the shutter was open.",
)
def motion_blur(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Average along a horizontal segment of length ``L = level · min(H, W) / 32`` pixels.

    Written by hand because torchvision has no motion blur. The kernel is a centred 1 × k line
    whose taps are the overlap of each pixel with a segment of length ``L + 1`` (the motion
    convolved with the pixel's own width), normalised to sum to 1: ``L = 0`` is the identity,
    ``L = 1`` gives ``[1/4, 1/2, 1/4]``, and fractional lengths blend smoothly.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: blur length in pixels of a 32 px image; 0 is the identity.
        generator: unused (the blur is deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a negative length.
    """
    _check_pixels(pixels)
    if level < 0:
        raise ValueError(f"expected a length >= 0, got {level}")
    if level == 0:
        return pixels.clone()
    half = (level * _size_scale(pixels) + 1) / 2  # half-width of the covered segment, in pixels
    radius = math.ceil(half - 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = ((half - (x.abs() - 0.5)).clamp(0.0, 1.0)).to(pixels.dtype)  # overlap of [x-.5, x+.5] with the segment
    kernel = (taps / taps.sum()).view(1, -1)  # (1, k)
    return _depthwise_conv(pixels, kernel).clamp(0.0, 1.0)


@register_perturbation(
    "defocus_blur",
    modality="image",
    unit="disk radius in pixels of a 32 px image (scaled by min(H, W) / 32)",
    levels=(0.0, 0.4, 0.7, 1.0, 1.4, 1.8),
    description="Defocus blur: every point spreads into a disk, as with a lens focused elsewhere.",
)
def defocus_blur(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Average over a disk of radius ``r = level · min(H, W) / 32`` pixels.

    Written by hand because torchvision has no disk (defocus) kernel. The taps are
    ``clamp(r + 1 - d, 0, 1)`` with ``d`` the distance to the centre: 1 inside the disk, falling to
    0 over one pixel outside it (an anti-aliased edge, so fractional radii blend smoothly and
    ``r = 0`` is the identity), normalised to sum to 1. ImageNet-C uses the same disk kernel.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: disk radius in pixels of a 32 px image; 0 is the identity.
        generator: unused (the blur is deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a negative radius.
    """
    _check_pixels(pixels)
    if level < 0:
        raise ValueError(f"expected a radius >= 0, got {level}")
    if level == 0:
        return pixels.clone()
    r = level * _size_scale(pixels)
    k = math.ceil(r + 1)  # taps beyond r + 1 are 0
    x = torch.arange(-k, k + 1, dtype=torch.float64)
    d = torch.sqrt(x.view(-1, 1) ** 2 + x.view(1, -1) ** 2)  # (2k+1, 2k+1) distances to the centre
    taps = (r + 1 - d).clamp(0.0, 1.0).to(pixels.dtype)
    return _depthwise_conv(pixels, taps / taps.sum()).clamp(0.0, 1.0)


# -- colour ----------------------------------------------------------------------------------


@register_perturbation(
    "brightness",
    modality="image",
    unit="amount added to every pixel on the [0, 1] scale",
    levels=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    description="Brightens the image by adding a constant to every pixel (overexposure).",
)
def brightness(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Add ``level`` to every pixel and clip (ImageNet-C adds 0.1–0.5 to HSV value, much the same).

    Additive rather than torchvision's multiplicative ``adjust_brightness``: a factor leaves a black
    background black (MNIST would barely change) while an offset brightens every image alike.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: offset on the ``[0, 1]`` scale, in ``[-1, 1]`` (negative darkens); 0 is the identity.
        generator: unused (deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or an offset outside ``[-1, 1]``.
    """
    _check_pixels(pixels)
    if not -1.0 <= level <= 1.0:
        raise ValueError(f"expected an offset in [-1, 1], got {level}")
    if level == 0:
        return pixels.clone()
    return (pixels + level).clamp(0.0, 1.0)


@register_perturbation(
    "contrast",
    modality="image",
    unit="contrast factor (1 = original, 0 = flat grey at the image's mean)",
    levels=(1.0, 0.6, 0.45, 0.3, 0.2, 0.12),
    description="Lowers contrast by blending each image with its mean grey level (fog, glare, a dull screen).",
)
def contrast(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """``factor · x + (1 - factor) · mean(gray(x))`` per image (torchvision ``adjust_contrast``).

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``, C in {1, 3}.
        level: contrast factor >= 0; 1 is the identity.
        generator: unused (deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a negative factor.
    """
    _check_pixels(pixels)
    if level < 0:
        raise ValueError(f"expected a factor >= 0, got {level}")
    if level == 1.0:
        return pixels.clone()
    return TF.adjust_contrast(pixels, level).clamp(0.0, 1.0)


@register_perturbation(
    "saturation",
    modality="image",
    unit="saturation factor (1 = original, > 1 = more vivid colours)",
    levels=(1.0, 1.5, 2.0, 3.0, 4.5, 6.0),
    description="Oversaturates colours (a badly tuned camera or screen); no effect on grey images.",
)
def saturation(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Scale colour saturation by ``level`` (torchvision ``adjust_saturation``).

    Grey (1-channel) images have no colour, so for C = 1 this is the identity at every level.
    ImageNet-C's strongest saturation severities also oversaturate (factors 2, 5, 20).

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``, C in {1, 3}.
        level: saturation factor >= 0 (0 = grey, 1 = identity).
        generator: unused (deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels, C not in {1, 3}, or a negative factor.
    """
    _check_pixels(pixels)
    if pixels.shape[1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {pixels.shape[1]}")
    if level < 0:
        raise ValueError(f"expected a factor >= 0, got {level}")
    if level == 1.0 or pixels.shape[1] == 1:
        return pixels.clone()
    return TF.adjust_saturation(pixels, level).clamp(0.0, 1.0)


# -- compression -----------------------------------------------------------------------------


@register_perturbation(
    "jpeg",
    modality="image",
    unit="JPEG quality (100 = original, not re-encoded; lower = stronger compression)",
    levels=(100.0, 40.0, 25.0, 15.0, 10.0, 6.0),
    description="Re-encodes the image as a JPEG of lower quality (blocky 8×8 artefacts, colour bleeding).",
)
def jpeg(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Round-trip each image through JPEG at quality ``round(level)`` (torchvision ``jpeg``).

    The pixels are rounded to uint8 on the CPU, encoded and decoded image by image, then scaled back
    to ``[0, 1]``. Quality 100 and above is the identity (nothing is re-encoded), because even
    quality-100 JPEG is lossy.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``, C in {1, 3}.
        level: JPEG quality in ``[1, 100]``; 100 is the identity.
        generator: unused (deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels, C not in {1, 3}, or a quality outside ``[1, 100]``.
    """
    _check_pixels(pixels)
    if pixels.shape[1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {pixels.shape[1]}")
    if not 1.0 <= level <= JPEG_MAX_QUALITY:
        raise ValueError(f"expected a JPEG quality in [1, 100], got {level}")
    quality = round(level)
    if quality >= JPEG_MAX_QUALITY:
        return pixels.clone()
    as_uint8 = (pixels.detach().cpu().clamp(0.0, 1.0) * 255).round().to(torch.uint8)  # (B, C, H, W)
    decoded = TF.jpeg(as_uint8, quality=quality)
    return (decoded.to(pixels.dtype) / 255).to(pixels.device)


@register_perturbation(
    "pixelate",
    modality="image",
    unit="downscale factor (1 = original; 4 = a quarter of the resolution)",
    levels=(1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
    description="Lowers the resolution and blows it back up with square pixels (a zoomed-in thumbnail).",
)
def pixelate(pixels: torch.Tensor, level: float, generator: torch.Generator) -> torch.Tensor:
    """Downscale by ``level`` to block means, then upscale back with nearest neighbours (a mosaic).

    The downscale averages each block (PyTorch's ``"area"`` mode, the box filter ImageNet-C uses;
    torchvision's tensor ``resize`` has no box filter, and its anti-aliased bilinear mixes
    neighbouring blocks).

    The upscale is ``NEAREST_EXACT`` (pixel-centre aligned): plain ``NEAREST`` shifts the blocks by up
    to half a pixel at non-integer factors, so a factor of 1.5 could differ more from the original
    than a factor of 2.

    Args:
        pixels: ``(B, C, H, W)`` float in ``[0, 1]``.
        level: downscale factor >= 1 (the small image is ``round(H / level) × round(W / level)``,
            at least 1 × 1); 1 is the identity.
        generator: unused (deterministic).

    Returns:
        ``(B, C, H, W)``, same dtype and device, in ``[0, 1]``.

    Raises:
        ValueError: bad pixels or a factor below 1.
    """
    _check_pixels(pixels)
    if level < 1.0:
        raise ValueError(f"expected a downscale factor >= 1, got {level}")
    h, w = pixels.shape[-2:]
    small = [max(1, round(h / level)), max(1, round(w / level))]
    if level == 1.0 or small == [h, w]:
        return pixels.clone()
    down = F.interpolate(pixels, size=small, mode="area")  # (B, C, h', w') block means
    up = TF.resize(down, [h, w], interpolation=InterpolationMode.NEAREST_EXACT)  # (B, C, H, W)
    return up.clamp(0.0, 1.0)
