"""Gradient methods: Saliency, Input × Gradient, Integrated Gradients, GradientShap, DeepLift, Guided Backprop.

Thin wrappers over Captum's classes. Images and numeric sequences are attributed on the input
itself (images in raw ``[0, 1]`` pixel space). Text is attributed on the output of the token
embedding, since token ids have no gradient: Captum's ``Layer*`` variants of the same methods, with
the result summed over the embedding dimension afterwards (one number per token).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerDeepLift,
    LayerGradientShap,
    LayerGradientXActivation,
    LayerIntegratedGradients,
    Saliency,
)
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR
from torch import nn

from playground.explain.base import (
    MAX_IG_STEPS,
    ExplainParams,
    RawAttribution,
    Subject,
    global_rngs_seeded,
    register_method,
    relative_delta,
    seeded,
)
from playground.explain.baselines import image_baseline, make_baseline, resolve_baseline
from playground.explain.errors import MethodNotSupportedError
from playground.explain.perturbation import TokenPerturbationForward
from playground.explain.runtime import disable_inplace, find_embedding, has_recurrent
from playground.explain.safe_model import HookKind, prepare_for_hooks

GRADIENT_SHAP_SAMPLES = 20
RANDOM_BASELINE_DRAWS = 8  # GradientShap's baseline distribution for the random image baselines


def grad_input(subject: Subject) -> torch.Tensor:
    """The input as a fresh leaf that requires gradients (Captum would warn and set it itself)."""
    return subject.inputs.detach().clone().requires_grad_(True)


def baseline_for(subject: Subject, params: ExplainParams, salt: int = 0) -> tuple[torch.Tensor, str]:
    """``(baseline (1, ...) on the device, its name)`` for the subject's modality."""
    kind = resolve_baseline(subject.input_kind, params.baseline)
    base = make_baseline(subject.input_kind, subject.inputs, kind, seeded(params.seed, salt), subject.view.special_ids)
    return base, kind


def layer_forward_with(subject: Subject, layer: nn.Module, replacement: torch.Tensor) -> torch.Tensor:
    """Logits ``(K,)`` of the input with ``layer``'s output replaced by ``replacement`` (no grad).

    This is ``F(baseline)`` as a layer method's path integral sees it: for text, the baseline's
    embeddings with the input's own ids everywhere else (lengths, masks).
    """

    def substitute(_module: nn.Module, _inputs: Any, _output: Any) -> torch.Tensor:
        return replacement

    handle = layer.register_forward_hook(substitute)
    try:
        with torch.no_grad():
            logits: torch.Tensor = subject.net_for(subject.model)(subject.inputs)
    finally:
        handle.remove()
    return logits[0].float()


def _text_delta(subject: Subject, layer: nn.Module, attributions: torch.Tensor, base_ids: torch.Tensor) -> float:
    """``sum(attributions) - (F(x) - F(baseline))`` for a method on ``layer`` with baseline ids ``base_ids``."""
    with torch.no_grad():
        f_x = subject.net_for(subject.model)(subject.inputs)[0].float()
        base_out = layer(base_ids)
    f_b = layer_forward_with(subject, layer, base_out)
    t = subject.target
    return float(attributions.double().sum() - (f_x[t].double() - f_b[t].double()))


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


# -- Saliency --------------------------------------------------------------------------------------
@register_method(
    "saliency",
    title="Saliency",
    family="gradient",
    input_kinds=("pixels", "token_ids", "values"),
    source="Simonyan, Vedaldi & Zisserman 2014, https://arxiv.org/abs/1312.6034 (captum.attr.Saliency)",
    description="|∂ logit / ∂ input|: which input values the target's score is most sensitive to.",
)
def saliency(subject: Subject, params: ExplainParams) -> RawAttribution:
    subject.progress.expect(1)
    if subject.input_kind == "token_ids":
        layer = find_embedding(subject.model)
        grads = LayerGradientXActivation(subject.forward, layer, multiply_by_inputs=False).attribute(
            subject.inputs, target=subject.target
        )
        return RawAttribution(grads.abs(), details={"layer": "embedding", "reduce": "sum of |gradient| over E"})
    attributions = Saliency(subject.forward).attribute(grad_input(subject), target=subject.target, abs=True)
    return RawAttribution(attributions)


# -- Input × Gradient ------------------------------------------------------------------------------
@register_method(
    "input_x_gradient",
    title="Input × Gradient",
    family="gradient",
    input_kinds=("pixels", "token_ids", "values"),
    source="Shrikumar et al. 2016, https://arxiv.org/abs/1605.01713 (captum.attr.InputXGradient)",
    description="Input times gradient: a first-order estimate of each value's contribution (from zero).",
)
def input_x_gradient(subject: Subject, params: ExplainParams) -> RawAttribution:
    subject.progress.expect(1)
    if subject.input_kind == "token_ids":
        layer = find_embedding(subject.model)
        attributions = LayerGradientXActivation(subject.forward, layer, multiply_by_inputs=True).attribute(
            subject.inputs, target=subject.target
        )
        return RawAttribution(attributions, details={"layer": "embedding"})
    return RawAttribution(InputXGradient(subject.forward).attribute(grad_input(subject), target=subject.target))


#: Below this ``|convergence delta|`` (in logits) a map adds up, whatever ``F(x) − F(baseline)`` is:
#: when that difference is itself near 0, a relative delta measures rounding, and no number of steps
#: lowers it (the usual absolute floor of adaptive quadrature).
DELTA_ATOL = 1e-3


def adds_up(total: float, delta: float, tolerance: float | None) -> bool:
    """Whether attributions summing to ``total`` with convergence delta ``delta`` are complete enough.

    ``|δ| <= max(tolerance · |F(x) − F(baseline)|, DELTA_ATOL)`` with ``F(x) − F(baseline) = total − δ``;
    always true when ``tolerance`` is ``None`` (no check).
    """
    return tolerance is None or abs(delta) <= max(tolerance * abs(total - delta), DELTA_ATOL)


def next_n_steps(n_steps: int, total: float, delta: float, tolerance: float | None, spent: int = 0) -> int | None:
    """Text: the step count for the next Integrated Gradients try, or ``None`` when this one is good enough.

    Sundararajan et al. 2017 (https://arxiv.org/abs/1703.01365, section 3) check completeness and
    raise the steps until the attributions add up. The quadrature error falls roughly as
    ``1 / n_steps``, so the steps are scaled by ``relative delta / tolerance`` with a 25 % margin, at
    least doubled, at most :data:`MAX_IG_STEPS`. (Images and sequences split the path instead:
    :func:`split_path`.)

    Args:
        n_steps: the steps of the try just made.
        total: ``sum(attributions)`` of that try.
        delta: its convergence delta ``total − (F(x) − F(baseline))``.
        tolerance: the wanted relative delta, or ``None`` (no check: always ``None``).
        spent: the steps of all tries so far (``n_steps`` included): the next try gets what is left
            of :data:`MAX_IG_STEPS`, and none when that is less than ``2 * n_steps``.
    """
    budget = MAX_IG_STEPS - max(spent, n_steps)
    if tolerance is None or adds_up(total, delta, tolerance) or budget < 2 * n_steps:
        return None
    relative = relative_delta(total, delta)  # inf when F(x) = F(baseline): then just double
    wanted = math.ceil(n_steps * relative / tolerance * 1.25) if math.isfinite(relative) else 2 * n_steps
    return min(budget, max(2 * n_steps, wanted))


@dataclass
class PathSegment:
    """Integrated Gradients over the part ``[start, end]`` of the straight path (α from 0 to 1).

    Attributes:
        start, end: the part of the path, 0 <= start < end <= 1.
        attributions: ``(1, ...)`` in the input's shape: ``(x − b) ∫_start^end ∂F/∂x(b + α(x − b)) dα``.
        delta: Captum's convergence delta of the part: ``sum(attributions) − (F(end point) − F(start point))``.
    """

    start: float
    end: float
    attributions: torch.Tensor
    delta: float


def split_path(segments: list[PathSegment], total_steps: int, n_steps: int, tolerance: float | None) -> int | None:
    """Which segment to halve next (its index), or ``None`` when the attributions add up or the budget is spent.

    Why by hand: Captum integrates with a fixed number of evenly spread steps, but the gradient of a
    saturating network changes fastest in a short stretch of the path (for EfficientNet-Lite0 on a
    photo, between the black baseline and α ≈ 0.1), and more steps everywhere converge slowly and
    unevenly there (the cat, Gauss-Legendre: 11.5 % at 50 steps, 3.6 % at 300, 0.1 % at 600, over
    1 % at 716). Integrated Gradients is additive along the path, so the path is cut where the
    error is: the segment with the largest ``|delta|`` is halved and each half integrated with
    ``n_steps`` (adaptive quadrature; the same cat with the default 50 steps a part: 0.26 % after
    550 steps in 6 parts, 53 s, where raising the steps took 1,790 steps and 196 s).

    Args:
        segments: the segments so far, covering [0, 1].
        total_steps: the steps spent so far.
        n_steps: the steps of one segment.
        tolerance: the wanted relative convergence delta, or ``None`` (never split).
    """
    delta = sum(s.delta for s in segments)
    total = sum(float(s.attributions.double().sum()) for s in segments)
    if adds_up(total, delta, tolerance) or total_steps + 2 * n_steps > MAX_IG_STEPS:
        return None
    return max(range(len(segments)), key=lambda i: abs(segments[i].delta))


# -- Integrated Gradients --------------------------------------------------------------------------
@register_method(
    "integrated_gradients",
    title="Integrated Gradients",
    family="gradient",
    input_kinds=("pixels", "token_ids", "values"),
    source="Sundararajan, Taly & Yan 2017, https://arxiv.org/abs/1703.01365 (captum.attr.IntegratedGradients; "
    "text: LayerIntegratedGradients on the token embedding)",
    description="Gradients averaged on the straight path from a baseline to the input; they sum to "
    "F(input) − F(baseline) (completeness), up to the reported convergence delta. Where that delta is "
    "above the tolerance (1 % by default), it integrates again with more steps (images: only on the part of "
    "the path where the error is).",
    uses=("n_steps", "delta_tolerance", "baseline", "batch_size"),
    has_delta=True,
    slow=True,
)
def integrated_gradients(subject: Subject, params: ExplainParams) -> RawAttribution:
    baseline, kind = baseline_for(subject, params)
    if subject.input_kind == "token_ids":
        return _text_integrated_gradients(subject, params, baseline, kind)
    n_steps = params.n_steps
    batch = subject.batch_size(params, n_steps)
    ig = IntegratedGradients(subject.forward, multiply_by_inputs=True)
    x = subject.inputs.detach()

    def point(alpha: float) -> torch.Tensor:
        """``b + α(x − b)``; the ends exactly (no rounding: the input's logits are then reused)."""
        return baseline if alpha == 0 else x if alpha == 1 else baseline + alpha * (x - baseline)

    def integrate(start: float, end: float) -> tuple[PathSegment, int]:
        subject.progress.expect(n_steps + 2)  # the steps, then F at both ends for the delta
        low, high = point(start), point(end)

        def run(size: int) -> tuple[torch.Tensor, torch.Tensor]:
            out: tuple[torch.Tensor, torch.Tensor] = ig.attribute(
                high.clone().requires_grad_(True),
                baselines=low,
                target=subject.target,
                n_steps=n_steps,
                internal_batch_size=size,
                return_convergence_delta=True,
            )
            return out

        (attributions, delta), used = subject.with_oom_retry(run, batch)
        return PathSegment(start, end, attributions.detach(), float(delta.reshape(-1)[0])), used

    first, used = integrate(0.0, 1.0)  # one segment: exactly Captum's IG with n_steps
    segments, steps = [first], n_steps
    while (worst := split_path(segments, steps, n_steps, params.delta_tolerance)) is not None:
        part = segments.pop(worst)
        middle = (part.start + part.end) / 2
        halves = [integrate(part.start, middle)[0], integrate(middle, part.end)[0]]
        segments[worst:worst] = halves
        steps += 2 * n_steps
    attributions = torch.stack([s.attributions for s in segments]).sum(0)  # (1, ...): IG is additive on the path
    details: dict[str, Any] = {"baseline": kind, "n_steps": steps, "batch_size": used}
    if len(segments) > 1:
        details["path_segments"] = [(s.start, s.end) for s in segments]
    return RawAttribution(attributions, baseline, sum(s.delta for s in segments), details)


def _text_integrated_gradients(
    subject: Subject, params: ExplainParams, baseline: torch.Tensor, kind: str
) -> RawAttribution:
    """LayerIntegratedGradients on the token embedding, with more steps until the delta is within the tolerance.

    (Captum's layer method takes its baseline as ids, not as a point in embedding space, so the
    path cannot be cut into segments as for images: the whole path gets more steps.)
    """
    layer = find_embedding(subject.model)
    forward = subject.forward_for(subject.model, capture=False)  # the hook changes what it computes
    method = LayerIntegratedGradients(forward, layer, multiply_by_inputs=True)
    tried: list[int] = []
    n_steps = params.n_steps
    while True:
        subject.progress.expect(n_steps + 1)  # the steps, and the baseline's embedding pass

        def run_text(size: int, steps: int = n_steps) -> torch.Tensor:
            out: torch.Tensor = method.attribute(
                subject.inputs, baselines=baseline, target=subject.target, n_steps=steps, internal_batch_size=size
            )
            return out

        attributions, used = subject.with_oom_retry(run_text, subject.batch_size(params, n_steps))
        delta = _text_delta(subject, layer, attributions, baseline)
        tried.append(n_steps)
        total = float(attributions.detach().double().sum())
        following = next_n_steps(n_steps, total, delta, params.delta_tolerance, spent=sum(tried))
        if following is None:
            break
        n_steps = following
    details: dict[str, Any] = {"baseline": kind, "n_steps": tried[-1], "batch_size": used, "layer": "embedding"}
    if len(tried) > 1:
        details["n_steps_tried"] = tried  # the convergence check raised the steps
    return RawAttribution(attributions, baseline, delta, details)


# -- GradientShap ----------------------------------------------------------------------------------
@register_method(
    "gradient_shap",
    title="GradientShap",
    family="gradient",
    input_kinds=("pixels", "token_ids", "values"),
    source="Lundberg & Lee 2017, https://arxiv.org/abs/1705.07874 (captum.attr.GradientShap: expected "
    "gradients at random points between baselines and the input)",
    description="SHAP values estimated by gradients at random points between baselines and the input.",
    uses=("baseline", "n_samples", "batch_size", "seed"),
    slow=True,
)
def gradient_shap(subject: Subject, params: ExplainParams) -> RawAttribution:
    kind = resolve_baseline(subject.input_kind, params.baseline)
    draws = RANDOM_BASELINE_DRAWS if kind in ("noise", "uniform") else 1
    if subject.input_kind == "pixels":
        baselines = image_baseline(subject.inputs, kind, seeded(params.seed), draws)
    else:
        baselines, _ = baseline_for(subject, params)
    n_samples = params.n_samples or GRADIENT_SHAP_SAMPLES
    batch = subject.batch_size(params, n_samples)
    subject.progress.expect(n_samples)
    if subject.input_kind == "token_ids":
        layer = find_embedding(subject.model)
        # Captum adds (zero) noise to the inputs, which turns the ids into floats: round them back.
        net = TokenPerturbationForward(subject.net_for(subject.model), remove_pad=False)
        method: Any = LayerGradientShap(subject.counting(net, capture=False), layer)
    else:
        method = GradientShap(subject.forward)

    def run(size: int) -> torch.Tensor:
        # Captum's GradientShap draws every sample in one batch from the global generator: draw
        # here in chunks of `size`, each from a seeded fork of it, and average (the same estimator).
        total: torch.Tensor | None = None
        for i, chunk in enumerate(_chunks(n_samples, size)):
            with global_rngs_seeded(params.seed * 1_000_003 + i, subject.device):
                x = subject.inputs if subject.input_kind == "token_ids" else grad_input(subject)
                part = method.attribute(x, baselines=baselines, n_samples=chunk, target=subject.target)
            part = part.detach() * (chunk / n_samples)
            total = part if total is None else total + part
        assert total is not None  # n_samples >= 1: at least one chunk
        return total

    attributions, used = subject.with_oom_retry(run, batch)
    details = {"baseline": kind, "baseline_draws": draws, "n_samples": n_samples, "batch_size": used}
    return RawAttribution(attributions, baselines[:1], None, details)


# -- DeepLift --------------------------------------------------------------------------------------
_ACTIVATION_MODULE = "torch.nn.modules.activation"
_NONLINEAR_POOLS = (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_LINEAR_ACTIVATION_CLASSES = (nn.MultiheadAttention, nn.Identity)
# Captum's rules, plus ReLU6, which split_for_hooks rewrites as two ReLUs (safe_model.ReLU6AsReLUs).
_DEEPLIFT_RULES = {*SUPPORTED_NON_LINEAR, nn.ReLU6}


def deeplift_problems(model: nn.Module) -> str | None:
    """Why Captum's DeepLift cannot explain ``model`` faithfully, or ``None`` when it can.

    DeepLift's rescale rule runs on nonlinearity *modules* hooked by Captum (ReLU, ELU, LeakyReLU,
    Sigmoid, Tanh, Softplus, MaxPool, Softmax; ReLU6 through its rewrite as two ReLUs). Recurrent
    layers compute their gates inside one fused operation; other activation modules (GELU, SiLU,
    Hardswish, ...) and functional calls (``F.relu`` in ``forward``) would silently be treated as
    linear.
    """
    if has_recurrent(model):
        return (
            "DeepLift needs every nonlinearity as its own module, but this model's recurrent layer "
            "(nn.RNN / nn.LSTM / nn.GRU) computes its sigmoid and tanh gates inside one fused operation"
        )
    types = {type(m) for m in model.modules()}
    unsupported = sorted(
        t.__name__
        for t in types
        if (t.__module__ == _ACTIVATION_MODULE or issubclass(t, _NONLINEAR_POOLS))
        and t not in _DEEPLIFT_RULES
        and not issubclass(t, _LINEAR_ACTIVATION_CLASSES)
    )
    if unsupported:
        return (
            f"this model uses {', '.join(unsupported)}, which Captum's DeepLift has no rule for "
            "(it supports ReLU, ELU, LeakyReLU, Sigmoid, Tanh, Softplus, MaxPool and Softmax) and would treat as linear"
        )
    if not any(t in _DEEPLIFT_RULES for t in types):
        return (
            "this model applies its nonlinearities as functions (e.g. F.relu inside forward), which "
            "DeepLift's module hooks cannot see; the result would be (input − baseline) × gradient, not DeepLift"
        )
    return None


def overlapping_max_pools(model: nn.Module) -> list[str]:
    """Names of max-pooling modules whose windows overlap (stride smaller than the kernel)."""
    names = []
    for name, m in model.named_modules():
        if isinstance(m, nn.MaxPool1d | nn.MaxPool2d | nn.MaxPool3d):
            kernel = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,)
            stride = m.stride if isinstance(m.stride, tuple) else (m.stride,)
            if any(s < k for s, k in zip(stride, kernel, strict=False)):
                names.append(name.removesuffix(".module"))
    return names


def split_for_hooks(subject: Subject, kind: HookKind) -> list[str]:
    """Prepare the runtime copy for DeepLift or guided backprop; returns the names of the modules changed.

    See :func:`playground.explain.safe_model.prepare_for_hooks` (one dry forward pass).

    Raises:
        MethodNotSupportedError: if the forward pass calls nonlinear functions (``F.relu`` ...) that
            the method's module hooks cannot reach.
    """
    subject.changed = True  # the copy is rewritten: never reuse it
    disable_inplace(subject.model)
    net = subject.net_for(subject.model)
    changed, functional = prepare_for_hooks(subject.model, lambda: net(subject.inputs), kind)
    if functional:
        title = "DeepLift" if kind == "deeplift" else "guided backprop"
        effect = (
            "treat it as linear, and the result would not be DeepLift"
            if kind == "deeplift"
            else "pass plain gradients through it"
        )
        raise MethodNotSupportedError(
            f"this model applies {', '.join(sorted(functional))} as a function (e.g. F.relu inside forward), "
            f"which {title}'s module hooks cannot see; it would {effect}"
        )
    return changed


@register_method(
    "deeplift",
    title="DeepLift",
    family="gradient",
    input_kinds=("pixels", "token_ids", "values"),
    source="Shrikumar, Greenside & Kundaje 2017, https://arxiv.org/abs/1704.02685 (captum.attr.DeepLift, "
    "rescale rule; text: LayerDeepLift on the embedding)",
    description="Contributions relative to a baseline, propagated layer by layer with the rescale rule; "
    "they sum to F(input) − F(baseline).",
    uses=("baseline",),
    has_delta=True,
)
def deeplift(subject: Subject, params: ExplainParams) -> RawAttribution:
    problem = deeplift_problems(subject.model)
    if problem is not None:
        raise MethodNotSupportedError(problem)
    baseline, kind = baseline_for(subject, params)
    split = split_for_hooks(subject, "deeplift")  # reused ReLUs (torchvision ResNets) get one copy per use
    subject.progress.expect(2)
    details: dict[str, Any] = {"baseline": kind, "split_modules": split}
    overlapping = overlapping_max_pools(subject.model)
    if overlapping:
        details["note"] = (
            f"max-pooling with overlapping windows ({', '.join(overlapping)}): Captum's MaxPool rule routes "
            "contributions through max-unpooling, which keeps one of two windows that share a maximum, so "
            "the attributions do not sum exactly to F(input) − F(baseline); see the convergence delta"
        )
    if subject.input_kind == "token_ids":
        layer = find_embedding(subject.model)
        forward = subject.forward_for(subject.model, capture=False)
        attributions = LayerDeepLift(forward, layer, multiply_by_inputs=True).attribute(
            subject.inputs, baselines=baseline, target=subject.target
        )
        delta = _text_delta(subject, layer, attributions, baseline)
        return RawAttribution(attributions, baseline, delta, {**details, "layer": "embedding"})
    attributions, delta = DeepLift(subject.forward, multiply_by_inputs=True).attribute(
        grad_input(subject), baselines=baseline, target=subject.target, return_convergence_delta=True
    )
    return RawAttribution(attributions, baseline, float(delta.reshape(-1)[0]), details)


# -- Guided Backprop -------------------------------------------------------------------------------
def guided_backprop_problem(model: nn.Module) -> str | None:
    """Why guided backprop does not apply to ``model``, or ``None``."""
    if any(isinstance(m, nn.ReLU | nn.ReLU6) for m in model.modules()):
        return None
    activations = sorted({type(m).__name__ for m in model.modules() if type(m).__module__ == _ACTIVATION_MODULE})
    if has_recurrent(model):
        found = "its nonlinearities are built into a recurrent layer"
    elif activations:
        found = f"its activations are {', '.join(activations)}"
    else:
        found = "it applies its nonlinearities as functions, such as F.relu inside forward"
    return (
        f"guided backprop changes the backward pass of ReLU modules, and this model has none ({found}); "
        "it would return the plain gradient"
    )


def guided_attribute(subject: Subject, make: Callable[[nn.Module], Any], **kwargs: Any) -> torch.Tensor:
    """Run a guided method (``make(forward)`` -> Captum object) on the split runtime copy."""
    problem = guided_backprop_problem(subject.model)
    if problem is not None:
        raise MethodNotSupportedError(problem)
    split_for_hooks(subject, "guided")
    out: torch.Tensor = make(subject.forward).attribute(grad_input(subject), target=subject.target, **kwargs)
    return out


@register_method(
    "guided_backprop",
    title="Guided Backprop",
    family="gradient",
    input_kinds=("pixels", "values"),
    source="Springenberg et al. 2015, https://arxiv.org/abs/1412.6806 (captum.attr.GuidedBackprop)",
    description="The gradient with negative signals stopped at every ReLU on the way back: sharp, "
    "but known to ignore the model's upper layers (Adebayo et al. 2018).",
)
def guided_backprop(subject: Subject, params: ExplainParams) -> RawAttribution:
    subject.progress.expect(1)
    return RawAttribution(guided_attribute(subject, GuidedBackprop))


def noise_scale(subject: Subject, params: ExplainParams) -> float:
    """σ of the input noise: ``params.stdev`` times the input's value range."""
    sigma = params.stdev * subject.value_range()
    return sigma if math.isfinite(sigma) else 0.0
