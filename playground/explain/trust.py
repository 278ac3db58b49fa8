"""How far to trust an explanation: faithfulness and sanity checks.

* Convergence delta (Integrated Gradients, DeepLift): on :class:`~playground.explain.Explanation`
  itself (``convergence_delta``, ``relative_delta``).
* Infidelity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of Explanations",
  https://arxiv.org/abs/1901.09392; ``captum.metrics.infidelity``): how badly
  ``perturbation · attributions`` predicts the change of the target's logit under random
  perturbations. Lower is better.
* Max-sensitivity (same paper; ``captum.metrics.sensitivity_max``): how much the explanation
  changes when the input moves a little. Lower is better.
* Deletion and insertion curves (Petsiuk, Das & Saenko 2018, "RISE: Randomized Input Sampling for
  Explanation of Black-box Models", https://arxiv.org/abs/1806.07421): the target's probability as
  the most important pixels / tokens / steps are removed (deletion: a faithful map makes it fall
  fast, low area) or put back into an empty input (insertion: rise fast, high area).
* Model-parameter randomisation (Adebayo et al. 2018, "Sanity Checks for Saliency Maps",
  https://arxiv.org/abs/1810.03292): the map of a copy of the model with re-initialised weights
  next to the real one, with their Spearman rank correlation. A method that explains the *model*
  gives a low correlation; a high one means the map mostly shows the input (edges), not what the
  model learned.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from playground.core.device import model_device
from playground.explain.base import (
    PAD_ID,
    Explanation,
    ModelView,
    Progress,
    ProgressCallback,
    Subject,
    as_view,
    auto_batch_size,
    seeded,
)
from playground.explain.baselines import blur, text_baseline
from playground.explain.core import explain
from playground.explain.errors import ExplanationStopped, MethodNotSupportedError
from playground.explain.perturbation import TokenPerturbationForward

if TYPE_CHECKING:
    from playground.bundle import Bundle


def _subject(view: ModelView, explanation: Explanation, progress: Progress) -> Subject:
    if explanation.modality != view.modality:
        raise ValueError(f"the explanation is of a {explanation.modality} input, the model takes {view.modality}")
    inputs = explanation.inputs.unsqueeze(0).to(model_device(view.model))
    return Subject(view, inputs, explanation.target, progress)


def _scorer(subject: Subject) -> nn.Module:
    """Logits of a batch; for text, PAD ids count as removed tokens (the others close up)."""
    net = subject.net_for(subject.model)
    if subject.input_kind == "token_ids":
        net = TokenPerturbationForward(net, remove_pad=True)
    return subject.counting(net, capture=False)


def position_scores(explanation: Explanation) -> torch.Tensor:
    """One score per position that the curves and the rank correlation compare.

    Returns:
        ``(H, W)`` for images (summed over channels), ``(T,)`` for text, ``(T, F)`` for sequences.
    """
    a = explanation.attributions
    return a.sum(dim=0) if explanation.input_kind == "pixels" else a


# -- deletion / insertion --------------------------------------------------------------------------
@dataclass(frozen=True)
class DeletionInsertion:
    """The deletion and insertion curves of one explanation (Petsiuk et al. 2018).

    Attributes:
        fractions: ``S + 1`` shares of the positions (pixels, tokens, steps) changed, 0 to 1.
        deletion: the target's softmax probability after deleting the most important fraction
            (pixels set to black, tokens removed, steps set to zero).
        insertion: the probability after inserting the most important fraction into the empty
            input (a blurred image, no tokens, zeros).
        deletion_auc: area under ``deletion`` over ``fractions``, in [0, 1]; lower is better.
        insertion_auc: area under ``insertion``, in [0, 1]; higher is better.
        method: the explanation's method.
        target: the explained class.
    """

    fractions: tuple[float, ...]
    deletion: tuple[float, ...]
    insertion: tuple[float, ...]
    deletion_auc: float
    insertion_auc: float
    method: str
    target: int


def _order(scores: torch.Tensor, eligible: torch.Tensor, seed: int) -> torch.Tensor:
    """Ranks ``(N,)`` of the eligible positions, most important first; ties in a seeded random order.

    Ineligible positions (special tokens) get rank N: never changed.
    """
    n = scores.numel()
    permutation = torch.randperm(n, generator=seeded(seed))
    shuffled = scores.flatten()[permutation].double()
    shuffled = torch.where(eligible.flatten()[permutation], shuffled, torch.tensor(-math.inf, dtype=torch.float64))
    order = permutation[torch.argsort(-shuffled, stable=True)]  # most important first
    rank = torch.empty(n, dtype=torch.long)
    rank[order] = torch.arange(n)
    return torch.where(eligible.flatten(), rank, torch.full_like(rank, n))


def deletion_insertion(
    model: Bundle | ModelView,
    explanation: Explanation,
    *,
    n_steps: int = 50,
    batch_size: int | None = None,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> DeletionInsertion:
    """Deletion and insertion curves and their areas (Petsiuk et al. 2018, https://arxiv.org/abs/1806.07421).

    Positions are ranked by the explanation's score (images: summed over channels; ties in a
    seeded random order) and changed in ``n_steps`` equal shares. Images: deletion sets pixels to
    black, insertion starts from the input blurred with σ = side/20 px (both as in the paper).
    Text: deletion removes tokens, insertion starts from no tokens (special tokens stay).
    Sequences: steps are set to / start from zero.

    Args:
        model: the model that was explained.
        explanation: the result of :func:`~playground.explain.explain` on it.
        n_steps: number of shares (at most the number of positions), >= 1.
        batch_size: inputs per forward pass; ``None``: automatic.
        seed: the tie-breaking order.
        on_progress, stop_event: as :func:`~playground.explain.explain`.

    Returns:
        A :class:`DeletionInsertion`.

    Raises:
        ValueError: ``n_steps < 1`` or an explanation of another modality.
        ExplanationStopped: ``stop_event`` was set.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    view = as_view(model)
    progress = Progress(on_progress, stop_event)
    subject = _subject(view, explanation, progress)
    x = subject.inputs  # (1, ...)
    scores = position_scores(explanation)
    if view.input_kind == "token_ids":
        ids = x[0]
        eligible = text_baseline(ids[None], "pad", view.special_ids)[0] != ids  # ordinary tokens
        deleted = text_baseline(x, "pad", view.special_ids)  # (1, T): no tokens
        start = deleted
    elif view.input_kind == "pixels":
        eligible = torch.ones(scores.shape, dtype=torch.bool)
        deleted = torch.zeros_like(x)  # black
        start = blur(x)
    else:
        eligible = torch.ones(scores.shape[0], dtype=torch.bool)
        scores = scores.sum(dim=-1)  # (T, F) -> (T,): whole steps
        deleted = torch.zeros_like(x)
        start = deleted
    rank = _order(scores, eligible, seed).to(x.device)  # (N,)
    positions = int(eligible.sum())
    steps = max(1, min(n_steps, positions))
    counts = [round(k * positions / steps) for k in range(steps + 1)]
    forward = _scorer(subject)
    per_example = int(x.numel()) * (64 if view.input_kind == "token_ids" else 1)
    size = auto_batch_size(per_example, steps + 1, batch_size)
    progress.expect(2 * (steps + 1))

    def masks(chunk: list[int]) -> torch.Tensor:
        m = torch.stack([rank < c for c in chunk])  # (b, N)
        if view.input_kind == "pixels":
            return m.view(len(chunk), 1, *scores.shape)  # (b, 1, H, W)
        if view.input_kind == "values":
            return m.view(len(chunk), -1, 1)  # (b, T, 1)
        return m  # (b, T)

    def curve(source: torch.Tensor, target_input: torch.Tensor) -> list[float]:
        # Values where the mask is on come from target_input, elsewhere from source.
        probs: list[float] = []
        with torch.no_grad():
            for i in range(0, len(counts), size):
                m = masks(counts[i : i + size])
                batch = torch.where(m, target_input, source)
                p = forward(batch).float().softmax(dim=-1)[:, explanation.target]
                probs.extend(float(v) for v in p.cpu())
        return probs

    deletion = curve(x, deleted)
    insertion = curve(start, x)
    fractions = [c / positions for c in counts]
    progress.finish()
    return DeletionInsertion(
        fractions=tuple(fractions),
        deletion=tuple(deletion),
        insertion=tuple(insertion),
        deletion_auc=float(np.trapezoid(deletion, fractions)),
        insertion_auc=float(np.trapezoid(insertion, fractions)),
        method=explanation.method,
        target=explanation.target,
    )


# -- infidelity and sensitivity --------------------------------------------------------------------
def infidelity_score(
    model: Bundle | ModelView,
    explanation: Explanation,
    *,
    n_perturb_samples: int = 32,
    noise_std: float = 0.1,
    drop_probability: float = 0.25,
    normalize: bool = True,
    seed: int = 0,
    batch_size: int | None = None,
) -> float:
    """Captum's infidelity of an explanation (Yeh et al. 2019, https://arxiv.org/abs/1901.09392).

    ``E_I[(I · attributions − (F(x) − F(x − I)))²]`` over random perturbations ``I``, on the
    target's logit. Images and sequences: Gaussian noise ``N(0, σ²)``, ``σ = noise_std`` on the
    [0, 1] pixel scale (times the value range for sequences); images stay in [0, 1] (``I`` is
    the change after clipping). Text: each ordinary token is removed with probability
    ``drop_probability`` (``I`` is 1 on the removed tokens), the "square removal" of the paper.

    Args:
        model: the model that was explained.
        explanation: its explanation.
        n_perturb_samples: number of perturbations, >= 1.
        noise_std: σ of the noise.
        drop_probability: share of tokens removed, in (0, 1).
        normalize: scale the attributions by the least-squares factor first (Captum's
            ``normalize=True``), so maps that differ only in scale score the same; recommended
            for comparing methods.
        seed: seed of the perturbations.
        batch_size: perturbed inputs per forward pass; ``None``: automatic.

    Returns:
        The infidelity, >= 0; lower is better.

    Raises:
        ValueError: bad settings or an explanation of another modality.
    """
    from captum.metrics import infidelity

    if n_perturb_samples < 1:
        raise ValueError(f"n_perturb_samples must be >= 1, got {n_perturb_samples}")
    if not 0 < drop_probability < 1:
        raise ValueError(f"drop_probability must be in (0, 1), got {drop_probability}")
    if not noise_std > 0:
        raise ValueError(f"noise_std must be > 0, got {noise_std}")
    view = as_view(model)
    subject = _subject(view, explanation, Progress(None, None))
    forward = _scorer(subject)
    generator = seeded(seed)
    x = subject.inputs
    sigma = noise_std * (subject.value_range() if view.input_kind == "values" else 1.0)

    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if view.input_kind == "token_ids":
            removable = text_baseline(inputs, "pad", view.special_ids) != inputs  # (n, T)
            drop = (torch.rand(inputs.shape, generator=generator) < drop_probability).to(inputs.device) & removable
            return drop.float(), torch.where(drop, torch.full_like(inputs, PAD_ID), inputs)
        noise = torch.randn(inputs.shape, generator=generator).to(inputs.device, inputs.dtype) * sigma
        perturbed = inputs - noise
        if view.input_kind == "pixels":
            perturbed = perturbed.clamp(0.0, 1.0)
        return inputs - perturbed, perturbed

    attributions = explanation.attributions.unsqueeze(0).to(x.device)
    per_example = int(x.numel()) * (64 if view.input_kind == "token_ids" else 1)
    size = auto_batch_size(per_example, n_perturb_samples, batch_size)
    with torch.no_grad():
        score = infidelity(
            forward,
            perturb,
            x,
            attributions,
            target=explanation.target,
            n_perturb_samples=n_perturb_samples,
            max_examples_per_batch=size,
            normalize=normalize,
        )
    return float(score.reshape(-1)[0])


def sensitivity_score(
    model: Bundle | ModelView,
    explanation: Explanation,
    *,
    n_perturb_samples: int = 8,
    radius: float = 0.02,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> float:
    """Captum's max-sensitivity of the explanation's method at its input (Yeh et al. 2019).

    ``max ||Φ(x + δ) − Φ(x)|| / ||Φ(x)||`` (Frobenius norms) over ``n_perturb_samples`` random
    ``δ`` uniform in ``[−radius, radius]`` per value (on the [0, 1] pixel scale for images, which
    stay in [0, 1]; times the value range for sequences). Reruns the method with the same
    settings and target ``n_perturb_samples + 1`` times.

    Returns:
        The max-sensitivity, >= 0; lower is better.

    Raises:
        MethodNotSupportedError: for text (token ids cannot move a little).
        ExplanationStopped: ``stop_event`` was set.
    """
    from captum.metrics import sensitivity_max

    view = as_view(model)
    if view.input_kind == "token_ids":
        raise MethodNotSupportedError("sensitivity needs inputs that can move a little; token ids cannot")
    if n_perturb_samples < 1 or not radius > 0:
        raise ValueError(f"expected n_perturb_samples >= 1 and radius > 0, got {n_perturb_samples}, {radius}")
    generator = seeded(seed)
    x = explanation.inputs.unsqueeze(0)
    span = float(x.max() - x.min()) or 1.0
    scale = radius * (span if view.input_kind == "values" else 1.0)
    runs = {"done": 0}
    total = n_perturb_samples + 1

    def perturb(inputs: torch.Tensor, perturb_radius: float) -> torch.Tensor:
        noise = (torch.rand(inputs.shape, generator=generator) * 2 - 1) * perturb_radius
        moved = inputs + noise.to(inputs.device, inputs.dtype)
        return moved.clamp(0.0, 1.0) if view.input_kind == "pixels" else moved

    def explanation_func(
        inputs: torch.Tensor | tuple[torch.Tensor, ...], target: int
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        # Captum passes the unperturbed input as a 1-tuple and then iterates over what comes back:
        # answer a tuple with a tuple (a bare tensor would be iterated row by row).
        as_tuple = isinstance(inputs, tuple)
        if isinstance(inputs, tuple):
            (inputs,) = inputs
        maps = []
        for row in inputs:
            if stop_event is not None and stop_event.is_set():
                raise ExplanationStopped("the sensitivity check was stopped")
            result = explain(view, row, explanation.method, target=target, params=explanation.params)
            maps.append(result.attributions)
            runs["done"] += 1
            if on_progress is not None:
                on_progress(min(runs["done"], total), total, "explanations of moved copies")
        stacked = torch.stack(maps)
        return (stacked,) if as_tuple else stacked

    score = sensitivity_max(
        explanation_func,
        x,
        perturb_func=perturb,
        perturb_radius=scale,
        n_perturb_samples=n_perturb_samples,
        target=explanation.target,
    )
    return float(score.reshape(-1)[0])


# -- model-parameter randomisation -----------------------------------------------------------------
def parameter_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters, in registration order (input side first)."""
    return [name for name, m in model.named_modules() if next(m.parameters(recurse=False), None) is not None]


def randomize_model(
    model: nn.Module, top_layers: int | None = None, seed: int = 0
) -> tuple[nn.Module, tuple[str, ...]]:
    """A copy of ``model`` with the weights of its top layers re-initialised (the original is untouched).

    Args:
        model: the trained model.
        top_layers: how many parameter-owning modules to re-initialise, counted from the output
            (Adebayo et al.'s cascading randomisation, one step); ``None``: all of them.
        seed: seed of the new weights.

    Returns:
        ``(randomized copy in eval mode, the names of the re-initialised modules, top first)``.

    Raises:
        ValueError: ``top_layers < 1`` or a model without parameters.
    """
    names = parameter_layers(model)
    if not names:
        raise ValueError("the model has no parameters to randomise")
    if top_layers is not None and top_layers < 1:
        raise ValueError(f"top_layers must be >= 1 or None, got {top_layers}")
    chosen = names[::-1] if top_layers is None else names[::-1][:top_layers]
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for name in chosen:
            module = clone.get_submodule(name)
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
            else:  # a custom module without its own initialiser
                for p in module.parameters(recurse=False):
                    p.normal_(0.0, 0.02)
    return clone.eval(), tuple(chosen)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two maps of the same shape (``scipy.stats.spearmanr``).

    Returns:
        ρ in [-1, 1]; 1.0 for identical maps; NaN when either map is constant (undefined).

    Raises:
        ValueError: if the shapes differ.
    """
    from scipy.stats import spearmanr

    if a.shape != b.shape:
        raise ValueError(f"expected maps of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    x, y = a.detach().double().flatten().cpu(), b.detach().double().flatten().cpu()
    if torch.equal(x, y):
        return 1.0
    if bool((x == x[0]).all()) or bool((y == y[0]).all()):
        return math.nan
    return float(spearmanr(x.numpy(), y.numpy()).statistic)


@dataclass(frozen=True, eq=False)
class RandomizationCheck:
    """The model-parameter randomisation test (Adebayo et al. 2018, https://arxiv.org/abs/1810.03292).

    Attributes:
        original: the explanation of the trained model.
        randomized: the same method, settings, input and target on the randomised copy.
        layers: the re-initialised modules, top first.
        rank_correlation: Spearman's ρ of the absolute maps (the paper's main measure); low
            (near 0) passes the check. NaN when a map is constant.
        rank_correlation_signed: the same without the absolute value.
    """

    original: Explanation
    randomized: Explanation
    layers: tuple[str, ...]
    rank_correlation: float
    rank_correlation_signed: float


def randomization_check(
    model: Bundle | ModelView,
    explanation: Explanation,
    *,
    top_layers: int | None = None,
    seed: int = 0,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> RandomizationCheck:
    """Explain a copy of the model with re-initialised weights and compare the maps.

    Args:
        model: the trained model that ``explanation`` explains.
        explanation: its explanation.
        top_layers: re-initialise only this many layers from the top (cascading randomisation);
            ``None``: all layers.
        seed: seed of the new weights.
        on_progress, stop_event: for the second explanation.

    Returns:
        A :class:`RandomizationCheck`.

    Raises:
        MethodNotSupportedError: as :func:`~playground.explain.explain` on the copy.
    """
    view = as_view(model)
    randomized_model, layers = randomize_model(view.model, top_layers, seed)
    randomized_model.to(model_device(view.model))
    randomized_view = replace(view, model=randomized_model)
    randomized = explain(
        randomized_view,
        explanation.inputs,
        explanation.method,
        target=explanation.target,
        params=explanation.params,
        on_progress=on_progress,
        stop_event=stop_event,
    )
    a, b = position_scores(explanation), position_scores(randomized)
    return RandomizationCheck(
        original=explanation,
        randomized=randomized,
        layers=layers,
        rank_correlation=rank_correlation(a.abs(), b.abs()),
        rank_correlation_signed=rank_correlation(a, b),
    )


__all__ = [
    "DeletionInsertion",
    "RandomizationCheck",
    "deletion_insertion",
    "infidelity_score",
    "parameter_layers",
    "position_scores",
    "randomization_check",
    "randomize_model",
    "rank_correlation",
    "sensitivity_score",
]
