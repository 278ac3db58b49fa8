"""Perturbation methods: Occlusion, Feature Ablation, LIME and Kernel SHAP.

They switch parts of the input to the baseline and watch the target's logit; no gradients are
needed, so they work on any model, at the cost of many forward passes (batched by
``perturbations_per_eval``). Images are perturbed in raw pixel space with the chosen baseline image
(black by default); feature ablation, LIME and Kernel SHAP use superpixels
(:mod:`playground.explain.segmentation`). Text is perturbed token by token: with the ``"pad"``
baseline a token is *removed* (the remaining tokens close up, so a recurrent model that counts
its non-PAD tokens as the length reads a shorter text rather than a gap); with ``"unk"`` it
becomes [UNK]. Numeric sequences are perturbed in chunks of steps set to zero, audio inputs
``(C, F, T)`` in time-frequency patches (bands x frames) set to zero.

Sources: Occlusion: Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901 (``captum.attr.Occlusion``);
feature ablation: ``captum.attr.FeatureAblation``; LIME: Ribeiro, Singh & Guestrin 2016,
https://arxiv.org/abs/1602.04938 (``captum.attr.Lime``); Kernel SHAP: Lundberg & Lee 2017,
https://arxiv.org/abs/1705.07874 (``captum.attr.KernelShap``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from captum._utils.models.linear_model import SkLearnRidge
from captum.attr import FeatureAblation, KernelShap, Lime, Occlusion
from torch import nn

from playground.explain.base import (
    PAD_ID,
    CountingForward,
    ExplainParams,
    RawAttribution,
    Subject,
    global_rngs_seeded,
    register_method,
    seeded,
)
from playground.explain.baselines import make_baseline, resolve_baseline
from playground.explain.errors import MethodNotSupportedError
from playground.explain.segmentation import image_segments, patch_segments, step_segments

SAMPLES_DEFAULT = 200  # LIME / Kernel SHAP samples
LIME_KERNEL_WIDTH = 0.25  # LIME's own default for images and text (cosine distance of the on/off vector)


def compact_tokens(ids: torch.Tensor) -> torch.Tensor:
    """Move the PAD ids of each row to its end, keeping the other tokens' order: PAD now means "removed".

    Args:
        ids: ``(B, T)`` int64.

    Returns:
        ``(B, T)`` int64, right-padded.
    """
    steps = ids.shape[1]
    order = (ids == PAD_ID).long() * steps + torch.arange(steps, device=ids.device)  # (B, T): pads last, stable
    return ids.gather(1, order.argsort(dim=1))


class TokenPerturbationForward(nn.Module):
    """The text model for perturbation methods: rounds Captum's float mixes back to ids, removes PADs.

    Captum builds perturbed inputs as ``x·(1 − mask) + baseline·mask``, in float for LIME and
    Kernel SHAP; the ids are exact small integers, so rounding recovers them.
    """

    def __init__(self, net: nn.Module, *, remove_pad: bool) -> None:
        super().__init__()
        self.net = net
        self.remove_pad = remove_pad

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.is_floating_point():
            ids = ids.round().long()
        if self.remove_pad:
            ids = compact_tokens(ids)
        out: torch.Tensor = self.net(ids)
        return out


def perturbation_forward(subject: Subject, kind: str) -> CountingForward:
    """The counting forward for perturbation methods (the token wrapper for text)."""
    if subject.input_kind != "token_ids":
        return subject.forward
    return subject.counting(TokenPerturbationForward(subject.net_for(subject.model), remove_pad=kind == "pad"))


def perturbation_baseline(subject: Subject, params: ExplainParams) -> tuple[torch.Tensor, str]:
    """``(baseline (1, ...) in the input's shape and dtype, its name)``."""
    kind = resolve_baseline(subject.input_kind, params.baseline)
    base = make_baseline(subject.input_kind, subject.inputs, kind, seeded(params.seed), subject.view.special_ids)
    return base, kind


def feature_groups(subject: Subject, params: ExplainParams) -> tuple[torch.Tensor, int, dict[str, Any]]:
    """``(feature_mask broadcastable to the input, number of groups, details)``.

    Images: superpixels ``(1, 1, H, W)``; text: one group per token ``(1, T)``; sequences: chunks of
    steps ``(1, T, 1)``; values of rank 3 ``(C, F, T)`` (audio: bands x frames): a grid of about
    ``n_segments`` time-frequency patches ``(1, 1, F, T)`` (:func:`~playground.explain.segmentation.patch_segments`).
    """
    x = subject.inputs
    if subject.input_kind == "values" and x.ndim == 4:
        labels = patch_segments(x.shape[2], x.shape[3], params.n_segments).to(x.device)
        groups = int(labels.max()) + 1
        return labels[None, None], groups, {"segments": groups, "segmentation": "patches"}
    if subject.input_kind == "pixels":
        labels, used = image_segments(x[0].detach().cpu(), params.n_segments, params.segmentation)
        mask = labels.to(x.device)[None, None]  # (1, 1, H, W)
        return mask, int(labels.max()) + 1, {"segmentation": used, "segments": int(labels.max()) + 1}
    if subject.input_kind == "token_ids":
        steps = x.shape[1]
        return torch.arange(steps, device=x.device)[None], steps, {"segments": steps, "segmentation": "tokens"}
    labels = step_segments(x.shape[1], params.n_segments).to(x.device)
    groups = int(labels.max()) + 1
    return labels[None, :, None], groups, {"segments": groups, "segmentation": "steps"}


# -- Occlusion -------------------------------------------------------------------------------------
def occlusion_window(subject: Subject, params: ExplainParams) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """``(sliding window shape, strides, number of windows)`` without the batch dimension.

    Values of rank 3 ``(C, F, T)`` (audio) are occluded in time-frequency patches of ``F/10`` rows
    (bands) by ``window`` columns (frames; default ``T/10``): 4 mel bands x 10 frames for a 40 x 101
    log-mel input, 800 samples of a 1 s waveform at 8 kHz; the rows' stride is half a patch.
    """
    x = subject.inputs
    if subject.input_kind == "values" and x.ndim == 4:
        channels, rows, columns = x.shape[1:]
        bands = max(1, rows // 10)
        frames = min(params.window or max(1, columns // 10), columns)
        band_stride = max(1, bands // 2)
        frame_stride = params.stride or max(1, frames // 2)
        count = (math.ceil((rows - bands) / band_stride) + 1) * (math.ceil((columns - frames) / frame_stride) + 1)
        return (channels, bands, frames), (channels, band_stride, frame_stride), count
    if subject.input_kind == "pixels":
        channels, height, width = x.shape[1:]
        side = min(height, width)
        window = min(params.window or max(2, side // 8), side)
        stride = params.stride or max(1, window // 2)
        count = (math.ceil((height - window) / stride) + 1) * (math.ceil((width - window) / stride) + 1)
        return (channels, window, window), (channels, stride, stride), count
    steps = x.shape[1]
    default = 1 if subject.input_kind == "token_ids" else max(1, steps // 10)
    window = min(params.window or default, steps)
    stride = params.stride or max(1, window // 2)
    count = math.ceil((steps - window) / stride) + 1
    if subject.input_kind == "token_ids":
        return (window,), (stride,), count
    features = x.shape[2]
    return (window, features), (stride, features), count


@register_method(
    "occlusion",
    title="Occlusion",
    family="perturbation",
    input_kinds=("pixels", "token_ids", "values"),
    source="Zeiler & Fergus 2014, https://arxiv.org/abs/1311.2901 (captum.attr.Occlusion)",
    description="Slide a patch of baseline over the input; each value gets the mean drop of the score "
    "over the patches that covered it.",
    uses=("window", "stride", "baseline", "batch_size"),
    slow=True,
)
def occlusion(subject: Subject, params: ExplainParams) -> RawAttribution:
    baseline, kind = perturbation_baseline(subject, params)
    window, strides, count = occlusion_window(subject, params)
    forward = perturbation_forward(subject, kind)
    subject.progress.expect(count + 1)
    method = Occlusion(forward)

    def run(size: int) -> torch.Tensor:
        out: torch.Tensor = method.attribute(
            subject.inputs,
            sliding_window_shapes=window,
            strides=strides,
            baselines=baseline,
            target=subject.target,
            perturbations_per_eval=size,
        )
        return out

    attributions, used = subject.with_oom_retry(run, subject.batch_size(params, count))
    details = {"baseline": kind, "window": window, "strides": strides, "windows": count, "batch_size": used}
    return RawAttribution(attributions.float(), baseline, None, details)


# -- Feature Ablation ------------------------------------------------------------------------------
@register_method(
    "feature_ablation",
    title="Feature Ablation",
    family="perturbation",
    input_kinds=("pixels", "token_ids", "values"),
    source="captum.attr.FeatureAblation (superpixels: Achanta et al. 2012, https://doi.org/10.1109/TPAMI.2012.120)",
    description="Set one group at a time (superpixel, token, chunk of steps) to the baseline; its "
    "attribution is the drop in the score.",
    uses=("n_segments", "segmentation", "baseline", "batch_size"),
    slow=True,
)
def feature_ablation(subject: Subject, params: ExplainParams) -> RawAttribution:
    baseline, kind = perturbation_baseline(subject, params)
    mask, groups, details = feature_groups(subject, params)
    forward = perturbation_forward(subject, kind)
    subject.progress.expect(groups + 1)
    method = FeatureAblation(forward)

    def run(size: int) -> torch.Tensor:
        out: torch.Tensor = method.attribute(
            subject.inputs, baselines=baseline, target=subject.target, feature_mask=mask, perturbations_per_eval=size
        )
        return out

    attributions, used = subject.with_oom_retry(run, subject.batch_size(params, groups))
    return RawAttribution(attributions.float(), baseline, None, {**details, "baseline": kind, "batch_size": used})


# -- LIME and Kernel SHAP --------------------------------------------------------------------------
def lime_similarity(_original: Any, _perturbed: Any, sample: torch.Tensor, **_kwargs: Any) -> torch.Tensor:
    """LIME's sample weight: ``exp(−d²/0.25²)`` with ``d`` the cosine distance of the on/off vector to all-on.

    LIME's reference implementation weighs image and text samples this way (``kernel_width=0.25``
    on the cosine distance of the binary representation); Captum's default measures the distance
    between the raw inputs instead, which means nothing for token ids.
    """
    on = sample.float().reshape(-1)
    distance = 1.0 - torch.sqrt(on.sum().clamp(min=0) / max(1, on.numel()))  # 1 − cos(1, z) for binary z
    return torch.exp(-(distance**2) / LIME_KERNEL_WIDTH**2)


def _surrogate(subject: Subject, params: ExplainParams, make: Any, name: str) -> RawAttribution:
    baseline, kind = perturbation_baseline(subject, params)
    mask, groups, details = feature_groups(subject, params)
    if groups < 2 and make is KernelShap:
        # Captum's Shapley kernel divides by C(groups, k) for 0 < k < groups: with one group there is
        # no coalition to sample, and it fails with a NaN distribution.
        where = f"{details.get('segmentation', 'the')} segmentation" if subject.input_kind == "pixels" else "the input"
        raise MethodNotSupportedError(
            f"Kernel SHAP needs at least 2 feature groups, but {where} gave {groups}; ask for more segments "
            "(or segmentation='grid', which always makes the number asked for)"
        )
    forward = perturbation_forward(subject, kind)
    n_samples = params.n_samples or SAMPLES_DEFAULT
    subject.progress.expect(n_samples + 1)
    method = make(forward)

    def run(size: int) -> torch.Tensor:
        with global_rngs_seeded(params.seed, subject.device):  # Captum samples from the global generator
            out: torch.Tensor = method.attribute(
                subject.inputs,
                baselines=baseline,
                target=subject.target,
                feature_mask=mask,
                n_samples=n_samples,
                perturbations_per_eval=size,
                return_input_shape=True,
            )
        return out

    attributions, used = subject.with_oom_retry(run, subject.batch_size(params, n_samples))
    details = {**details, "baseline": kind, "n_samples": n_samples, "batch_size": used, "surrogate": name}
    return RawAttribution(attributions.float(), baseline, None, details)


@register_method(
    "lime",
    title="LIME",
    family="perturbation",
    input_kinds=("pixels", "token_ids", "values"),
    source="Ribeiro, Singh & Guestrin 2016, https://arxiv.org/abs/1602.04938 (captum.attr.Lime, ridge surrogate)",
    description="Fit a weighted linear model to the scores of random on/off masks of superpixels or tokens.",
    uses=("n_samples", "n_segments", "segmentation", "baseline", "batch_size", "seed"),
    slow=True,
)
def lime(subject: Subject, params: ExplainParams) -> RawAttribution:
    # Ridge (alpha 1), LIME's own surrogate: Captum's default Lasso (alpha 0.01) sets most weights of
    # small logit changes to exactly 0.
    return _surrogate(
        subject,
        params,
        lambda f: Lime(f, interpretable_model=SkLearnRidge(alpha=1.0), similarity_func=lime_similarity),
        "ridge(alpha=1)",
    )


@register_method(
    "kernel_shap",
    title="Kernel SHAP",
    family="perturbation",
    input_kinds=("pixels", "token_ids", "values"),
    source="Lundberg & Lee 2017, https://arxiv.org/abs/1705.07874 (captum.attr.KernelShap)",
    description="Shapley values of superpixels or tokens, estimated by a linear model with the Shapley kernel.",
    uses=("n_samples", "n_segments", "segmentation", "baseline", "batch_size", "seed"),
    slow=True,
)
def kernel_shap(subject: Subject, params: ExplainParams) -> RawAttribution:
    return _surrogate(subject, params, KernelShap, "shapley kernel")
