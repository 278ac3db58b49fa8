"""Noise tunnels around a gradient method: SmoothGrad, SmoothGrad² and VarGrad.

Each runs the base method on ``n_samples`` noisy copies of the input, ``x + N(0, σ²)`` with
``σ = stdev · (max(x) − min(x))``, and reports the mean of the attributions (SmoothGrad), the mean
of their squares (SmoothGrad²) or their variance (VarGrad). Text is not supported: Gaussian noise on
token ids has no meaning.

Sources: SmoothGrad: Smilkov et al. 2017, https://arxiv.org/abs/1706.03825; SmoothGrad² and
VarGrad: Adebayo et al. 2018, "Local Explanation Methods for Deep Neural Networks Lack
Sensitivity to Parameter Values", https://arxiv.org/abs/1810.03292 (``captum.attr.NoiseTunnel``).
"""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import DeepLift, GuidedBackprop, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency

from playground.explain.base import ExplainParams, RawAttribution, Subject, global_rngs_seeded, register_method
from playground.explain.errors import MethodNotSupportedError
from playground.explain.gradient import (
    baseline_for,
    deeplift_problems,
    grad_input,
    guided_backprop_problem,
    noise_scale,
    split_for_hooks,
)

NT_SAMPLES_DEFAULT = 25
#: The gradient methods a noise tunnel can wrap.
BASE_METHODS: tuple[str, ...] = ("saliency", "input_x_gradient", "integrated_gradients", "deeplift", "guided_backprop")


def _base(subject: Subject, params: ExplainParams) -> tuple[Any, dict[str, Any], int, dict[str, Any]]:
    """``(Captum attribution object, extra attribute() arguments, forward examples per sample, details)``."""
    name = params.base_method
    if name not in BASE_METHODS:
        raise ValueError(f"a noise tunnel wraps one of {', '.join(BASE_METHODS)}; got base_method={name!r}")
    if name == "saliency":
        return Saliency(subject.forward), {"abs": True}, 1, {}
    if name == "input_x_gradient":
        return InputXGradient(subject.forward), {}, 1, {}
    if name == "integrated_gradients":
        baseline, kind = baseline_for(subject, params)
        batch = subject.batch_size(params, params.n_steps)
        kwargs = {"baselines": baseline, "n_steps": params.n_steps, "internal_batch_size": batch}
        details = {"baseline": kind, "n_steps": params.n_steps, "batch_size": batch}
        return IntegratedGradients(subject.forward), kwargs, params.n_steps, details
    if name == "deeplift":
        problem = deeplift_problems(subject.model)
        if problem is not None:
            raise MethodNotSupportedError(problem)
        baseline, kind = baseline_for(subject, params)
        split_for_hooks(subject, "deeplift")
        return DeepLift(subject.forward), {"baselines": baseline}, 2, {"baseline": kind}
    problem = guided_backprop_problem(subject.model)
    if problem is not None:
        raise MethodNotSupportedError(problem)
    split_for_hooks(subject, "guided")
    return GuidedBackprop(subject.forward), {}, 1, {}


def _tunnel(subject: Subject, params: ExplainParams, nt_type: str) -> RawAttribution:
    if subject.input_kind == "token_ids":
        raise MethodNotSupportedError(
            "noise tunnels add Gaussian noise to the input, and token ids are discrete: there is no "
            "'slightly noisy' token; use integrated_gradients or a perturbation method for text"
        )
    method, kwargs, per_sample, details = _base(subject, params)
    n_samples = params.n_samples or NT_SAMPLES_DEFAULT
    sigma = noise_scale(subject, params)
    subject.progress.expect(n_samples * per_sample)
    # IG already batches its steps: one noisy sample at a time; otherwise batch the samples.
    wanted = 1 if params.base_method == "integrated_gradients" else n_samples

    def run(size: int) -> torch.Tensor:
        with global_rngs_seeded(params.seed, subject.device):  # Captum draws the noise from the global generator
            out: torch.Tensor = NoiseTunnel(method).attribute(
                grad_input(subject),
                nt_type=nt_type,
                nt_samples=n_samples,
                nt_samples_batch_size=size,
                stdevs=sigma,
                target=subject.target,
                **kwargs,
            )
        return out

    attributions, used = subject.with_oom_retry(run, subject.batch_size(params, wanted))
    details = {
        **details,
        "base_method": params.base_method,
        "n_samples": n_samples,
        "sigma": sigma,
        "nt_samples_batch_size": used,
    }
    return RawAttribution(attributions, None, None, details)


_COMMON: dict[str, Any] = {
    "family": "noise_tunnel",
    "input_kinds": ("pixels", "values"),
    "uses": ("base_method", "n_samples", "stdev", "n_steps", "baseline", "batch_size", "seed"),
    "slow": True,
}


@register_method(
    "smoothgrad",
    title="SmoothGrad",
    source="Smilkov et al. 2017, https://arxiv.org/abs/1706.03825 (captum.attr.NoiseTunnel, nt_type='smoothgrad')",
    description="The base method averaged over noisy copies of the input: less speckle.",
    **_COMMON,
)
def smoothgrad(subject: Subject, params: ExplainParams) -> RawAttribution:
    return _tunnel(subject, params, "smoothgrad")


@register_method(
    "smoothgrad_sq",
    title="SmoothGrad²",
    source="Adebayo et al. 2018, https://arxiv.org/abs/1810.03292 (captum.attr.NoiseTunnel, nt_type='smoothgrad_sq')",
    description="The mean of the squared attributions over noisy copies of the input.",
    **_COMMON,
)
def smoothgrad_sq(subject: Subject, params: ExplainParams) -> RawAttribution:
    return _tunnel(subject, params, "smoothgrad_sq")


@register_method(
    "vargrad",
    title="VarGrad",
    source="Adebayo et al. 2018, https://arxiv.org/abs/1810.03292 (captum.attr.NoiseTunnel, nt_type='vargrad')",
    description="The variance of the attributions over noisy copies of the input.",
    **_COMMON,
)
def vargrad(subject: Subject, params: ExplainParams) -> RawAttribution:
    return _tunnel(subject, params, "vargrad")
