"""Reference inputs ("baselines") for Integrated Gradients, DeepLift, GradientShap and the perturbations.

Images: the four baselines compared by Sturmfels, Lundberg & Lee 2020, "Visualizing the Impact of
Feature Attribution Baselines", https://distill.pub/2020/attribution-baselines/, all as raw
``[0, 1]`` pixels (the explained function normalizes inside), so each one is an image a person
could look at:

* ``"black"``: every pixel 0 (the baseline of the IG paper);
* ``"blurred"``: the input under a Gaussian blur of σ = side/20 pixels (Fong & Vedaldi 2017,
  https://arxiv.org/abs/1704.03296; also Petsiuk et al.'s insertion start);
* ``"noise"``: the input plus Gaussian noise N(0, 0.1²), clipped to [0, 1];
* ``"uniform"``: independent uniform random pixels in [0, 1].

Text: every token that is not PAD or a special token (CLS / SEP, when the tokenizer has them)
becomes ``PAD_ID`` (``"pad"``) or ``UNK_ID`` (``"unk"``). Numeric sequences: ``"zero"``, the
standardized mean.
"""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF

from playground.core.modality import InputKind, explainable_modalities
from playground.explain.base import BASELINES, PAD_ID, UNK_ID
from playground.explain.errors import MethodNotSupportedError

NOISE_STD = 0.1  # σ of the "noise" baseline, on the [0, 1] pixel scale
BLUR_FRACTION = 1 / 20  # σ of the "blurred" baseline as a share of the image side


def default_baseline(kind: InputKind) -> str:
    """The default baseline of an input kind: ``"black"``, ``"pad"`` or ``"zero"``."""
    return BASELINES[kind][0]


def resolve_baseline(kind: InputKind, baseline: str | None) -> str:
    """The baseline name to use for inputs of ``kind``.

    Raises:
        MethodNotSupportedError: if the baseline does not apply to the kind (e.g. ``"pad"`` for an image).
    """
    if baseline is None:
        return default_baseline(kind)
    if baseline not in BASELINES[kind]:
        described = " or ".join(explainable_modalities((kind,)))
        raise MethodNotSupportedError(
            f"baseline {baseline!r} does not apply to {described} inputs; use one of {', '.join(BASELINES[kind])}"
        )
    return baseline


def blur(pixels: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """Gaussian blur of ``(B, C, H, W)`` pixels, σ = side/20 pixels by default (kernel ≈ 6σ+1, odd)."""
    side = min(pixels.shape[-2:])
    sigma = max(0.5, side * BLUR_FRACTION) if sigma is None else sigma
    kernel = 2 * int(3 * sigma) + 1
    largest = 2 * ((side - 1) // 2) + 1  # reflect padding needs a kernel no larger than the image
    kernel = max(1, min(kernel, largest))
    return TF.gaussian_blur(pixels, kernel_size=[kernel, kernel], sigma=[sigma, sigma])


def image_baseline(pixels: torch.Tensor, kind: str, generator: torch.Generator, count: int = 1) -> torch.Tensor:
    """A baseline image (or ``count`` draws of a random one) for ``(1, C, H, W)`` pixels.

    Args:
        pixels: ``(1, C, H, W)`` float32 in [0, 1].
        kind: ``"black"``, ``"blurred"``, ``"noise"`` or ``"uniform"``.
        generator: a CPU generator (the draws are the same on every device).
        count: how many baselines; the deterministic kinds repeat the same one.

    Returns:
        ``(count, C, H, W)`` float32 in [0, 1] on ``pixels``' device.

    Raises:
        ValueError: for an unknown kind.
    """
    shape = (count, *pixels.shape[1:])
    if kind == "black":
        base = torch.zeros(shape, dtype=pixels.dtype, device=pixels.device)
    elif kind == "blurred":
        base = blur(pixels).expand(shape).clone()
    elif kind == "noise":
        noise = torch.randn(shape, generator=generator).to(pixels.device, pixels.dtype) * NOISE_STD
        base = (pixels + noise).clamp(0.0, 1.0)
    elif kind == "uniform":
        base = torch.rand(shape, generator=generator).to(pixels.device, pixels.dtype)
    else:
        raise ValueError(f"unknown image baseline {kind!r}; known: {', '.join(BASELINES['pixels'])}")
    # Pixels decoded from PIL are channels-last in memory (HWC under a CHW view). Captum's path
    # points take the memory format of input and baseline; a mismatched pair falls back to NCHW,
    # which made IG on ResNet-18 ~20 % slower on the CPU here (bench/bench_explain.py). So the
    # baseline keeps the pixels' format.
    channels_last = pixels.is_contiguous(memory_format=torch.channels_last) and not pixels.is_contiguous()
    return base.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def text_baseline(ids: torch.Tensor, kind: str, special_ids: tuple[int, ...] = ()) -> torch.Tensor:
    """``(1, T)`` ids with every ordinary token replaced by PAD (``"pad"``) or UNK (``"unk"``).

    PAD positions and ``special_ids`` (e.g. CLS / SEP) are kept as they are.
    """
    if kind not in BASELINES["token_ids"]:
        raise ValueError(f"unknown text baseline {kind!r}; known: {', '.join(BASELINES['token_ids'])}")
    keep = ids == PAD_ID
    for special in special_ids:
        keep |= ids == special
    fill = PAD_ID if kind == "pad" else UNK_ID
    return torch.where(keep, ids, torch.full_like(ids, fill))


def make_baseline(
    input_kind: InputKind,
    inputs: torch.Tensor,
    kind: str,
    generator: torch.Generator,
    special_ids: tuple[int, ...] = (),
) -> torch.Tensor:
    """The baseline ``kind`` of ``inputs`` (batch of 1) for any input kind, same shape and dtype."""
    if input_kind == "pixels":
        return image_baseline(inputs, kind, generator)
    if input_kind == "token_ids":
        return text_baseline(inputs, kind, special_ids)
    if kind != "zero":
        raise ValueError(f"unknown baseline {kind!r} for numeric values; known: zero")
    return torch.zeros_like(inputs)
