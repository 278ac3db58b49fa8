"""The explainers' shared plumbing: registry, parameters, results, the forward they all call.

Every method is a small function ``run(subject, params) -> RawAttribution`` registered as a
:class:`MethodSpec` in :data:`METHODS` (see ``gradient.py``, ``cam.py``, ``perturbation.py``,
``noise_tunnel.py``). What they share lives here, in the style of Captum's ``_core`` base classes:

* :class:`ModelView`: what an explainer needs of a model (module, modality, image normalization,
  labels), built from a :class:`~playground.bundle.Bundle` or by hand.
* :class:`Subject`: one explanation in progress: the runtime copy of the model, the input on the
  model's device, the target class, the counting forward (progress, stop, OOM retry).
* :class:`ExplainParams` (frozen: a cache key for the page) and :class:`Explanation` (the result).

Images are explained in raw pixel space: the model's ``Normalize`` runs inside the explained
function (:class:`~playground.modalities.image.pixel_space.PixelSpaceModel`), so baselines are real images (black,
blurred, noise, uniform) and the attributions line up with what the person sees. Text is explained
through the embedding layer (gradient methods) or by removing tokens (perturbation methods).

The model passed in is never changed: every method runs on a *runtime copy* that shares the
parameters and buffers (no weights are copied) but has its own modules, in ``eval()`` mode
(:mod:`playground.explain.runtime`). Hooks (Grad-CAM, DeepLift, guided
backprop, the embedding layer) therefore never touch a model that another page or thread is using.
"""

from __future__ import annotations

import gc
import math
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import torch
from torch import nn

from playground.core.device import is_out_of_memory, model_device
from playground.core.modality import INPUT_KINDS, MODALITIES, InputKind, Modality, explainable_modalities
from playground.core.progress import ProgressCallback
from playground.core.registry import Registry
from playground.explain.errors import ExplanationStopped
from playground.explain.runtime import COPIES, embedding_or_none
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.modalities.image.preprocessing import Preprocessing
from playground.modalities.text.tokenizer import PAD_ID, UNK_ID

if TYPE_CHECKING:
    from playground.bundle import Bundle

Family = Literal["gradient", "cam", "perturbation", "noise_tunnel", "attention"]
ImageBaseline = Literal["black", "blurred", "noise", "uniform"]
TextBaseline = Literal["pad", "unk"]
SequenceBaseline = Literal["zero"]
#: The baselines of each input kind, the default first (see ``ExplainParams.baseline``).
BASELINES: dict[InputKind, tuple[str, ...]] = {
    "pixels": ("black", "blurred", "noise", "uniform"),
    "token_ids": ("pad", "unk"),
    "values": ("zero",),
}
Segmentation = Literal["auto", "grid", "slic"]

__all__ = ["PAD_ID", "UNK_ID"]  # re-exported for the methods: the text tokenizers' [PAD] and [UNK] ids
#: Input values per forward batch that the automatic batch sizes aim at: 16 ImageNet-sized images.
#: The issue measured Captum IG with 200 steps on ResNet-18 at 224×224: +4.4 GB unbatched, +0.55 GB
#: with ``internal_batch_size=16``.
BATCH_VALUE_BUDGET = 16 * 3 * 224 * 224
MAX_AUTO_BATCH = 256
#: The most Integrated Gradients steps the convergence check may raise ``n_steps`` to.
MAX_IG_STEPS = 1024
#: The most superpixels / chunks a perturbation method may ask for (each is at least one forward pass).
MAX_SEGMENTS = 1000

# Captum announces on every DeepLift / guided backprop call that it sets (and later removes) hooks
# on the activations. Here they are always set on a private runtime copy, so the notice says nothing.
warnings.filterwarnings("ignore", message="Setting forward, backward hooks and attributes on non-linear")
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")


# -- parameters and results ----------------------------------------------------------------------
@dataclass(frozen=True)
class ExplainParams:
    """Settings of an explanation; every field has a default that works, unused fields are ignored.

    Frozen and hashable, so a page can cache results per ``(model version, input, method, params)``.

    Attributes:
        n_steps: integration steps of Integrated Gradients (Captum's Gauss-Legendre rule), >= 1:
            the first try when ``delta_tolerance`` is set.
        delta_tolerance: Integrated Gradients' completeness check, as a share in (0, 1): when the
            relative convergence delta ``|δ| / |F(x) − F(baseline)|`` is above it (and ``|δ|`` above
            ``gradient.DELTA_ATOL``, 1e-3 logits), images and sequences cut the path where the
            error is and integrate the parts with ``n_steps`` each (``gradient.split_path``), text
            runs again with more steps (``gradient.next_n_steps``); at most :data:`MAX_IG_STEPS`
            steps in all. Sundararajan et al. 2017 (section 3) advise checking that the
            attributions add up; ``None``: exactly ``n_steps``, whatever the delta.
        baseline: the reference input. Images: ``"black"`` (all 0), ``"blurred"`` (Gaussian blur of
            the input, σ = side/20 px), ``"noise"`` (input + N(0, 0.1²), clipped to [0, 1]),
            ``"uniform"`` (uniform random pixels in [0, 1]); the four of Sturmfels et al. 2020,
            https://distill.pub/2020/attribution-baselines/. Text: ``"pad"`` (gradient methods:
            the PAD embedding at every position; perturbation methods: the token is removed) or
            ``"unk"`` (the token becomes [UNK]). Sequences: ``"zero"`` (the standardized mean).
            ``None``: black / pad / zero.
        window: occlusion window: pixels (side of a square) for images, tokens for text, steps for
            sequences, frames for audio ``(C, F, T)`` (patches of F/10 bands x ``window`` frames);
            ``None``: side/8 (at least 2) for images, 1 token, T/10 steps or frames.
        stride: occlusion stride in the same unit; ``None``: half the window (at least 1).
        n_samples: samples for LIME / Kernel SHAP (default 200), GradientShap (20) and the noise
            tunnel (25); ``None``: those defaults.
        stdev: noise of the noise tunnel and GradientShap as a share of the input's value range
            (SmoothGrad's "noise level", Smilkov et al. 2017 recommend 0.10-0.20), >= 0.
        base_method: the gradient method inside SmoothGrad / SmoothGrad² / VarGrad.
        n_segments: superpixels for images (a grid of about that many cells, or SLIC), chunks of
            steps for sequences and time-frequency patches for audio (about sqrt(n) divisions of
            each axis), used by feature ablation, LIME and Kernel SHAP; text uses tokens.
        segmentation: ``"slic"`` (scikit-image's SLIC, Achanta et al. 2012), ``"grid"`` (square
            cells), ``"auto"`` (SLIC when scikit-image is installed, else the grid).
        layer: the layer Grad-CAM reads, by module name (e.g. ``"layer4"``); ``None``: the last
            module (in execution order) that outputs a spatial feature map and runs once.
        batch_size: examples per forward pass for the expanded inputs (IG steps, perturbations,
            noise samples); ``None``: chosen from the input size (:func:`auto_batch_size`).
        seed: seed of every random draw (noise baselines, LIME / SHAP samples, noise tunnel).
    """

    n_steps: int = 50
    delta_tolerance: float | None = 0.01
    baseline: str | None = None
    window: int | None = None
    stride: int | None = None
    n_samples: int | None = None
    stdev: float = 0.15
    base_method: str = "saliency"
    n_segments: int = 49
    segmentation: Segmentation = "auto"
    layer: str | None = None
    batch_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_steps", "n_segments"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.n_segments > MAX_SEGMENTS:
            raise ValueError(
                f"n_segments must be at most {MAX_SEGMENTS} (one forward pass each), got {self.n_segments}"
            )
        for name in ("window", "stride", "n_samples", "batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")
        if not isinstance(self.stdev, int | float) or not math.isfinite(self.stdev) or self.stdev < 0:
            raise ValueError(f"stdev must be a finite number >= 0, got {self.stdev!r}")
        tolerance = self.delta_tolerance
        if tolerance is not None and (
            isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 < tolerance < 1
        ):
            raise ValueError(f"delta_tolerance must be a share in (0, 1) or None, got {tolerance!r}")
        if self.segmentation not in ("auto", "grid", "slic"):
            raise ValueError(f"segmentation must be 'auto', 'grid' or 'slic', got {self.segmentation!r}")
        known = {b for values in BASELINES.values() for b in values}
        if self.baseline is not None and self.baseline not in known:
            raise ValueError(f"unknown baseline {self.baseline!r}; known: {', '.join(sorted(known))}")


@dataclass(frozen=True, eq=False)
class Explanation:
    """One attribution map and how it was made.

    Attributes:
        method: registry name of the method.
        modality: the input's modality (``"image"``, ``"text"``, ``"sequence"``, a plug-in's).
        attributions: float32 on the CPU, in the input's shape: ``(C, H, W)`` for images (pixel
            space; Grad-CAM's map is repeated over the channels), ``(T,)`` per token for text
            (summed over the embedding dimension), ``(T, F)`` for numeric sequences. Positive values
            push the target's logit up.
        inputs: the explained input on the CPU, without a batch dimension: ``(C, H, W)`` float32
            pixels in [0, 1], ``(T,)`` int64 token ids or ``(T, F)`` float32 values.
        baseline: the reference input in the same shape (``None`` for methods without one).
        target: the explained class index.
        label: its name (``""`` when the model has no labels).
        probability: softmax probability of ``target`` on ``inputs``, in [0, 1].
        params: the settings as given.
        details: the values actually used (resolved baseline, batch size, layer, segments, ...).
        convergence_delta: ``sum(attributions) - (F(x) - F(baseline))`` on the target's logit, for
            the methods that satisfy completeness (Integrated Gradients, DeepLift); else ``None``.
        seconds: wall-clock time of the attribution, in seconds.
    """

    method: str
    modality: Modality
    attributions: torch.Tensor
    inputs: torch.Tensor
    baseline: torch.Tensor | None
    target: int
    label: str
    probability: float
    params: ExplainParams
    details: Mapping[str, Any] = field(default_factory=dict)
    convergence_delta: float | None = None
    seconds: float = 0.0

    @property
    def input_kind(self) -> InputKind:
        """The modality's :data:`~playground.core.modality.InputKind` (``"pixels"``, ``"token_ids"``, ``"values"``)."""
        return MODALITIES.get(self.modality).input_kind

    @property
    def total(self) -> float:
        """``sum(attributions)``."""
        return float(self.attributions.double().sum())

    @property
    def relative_delta(self) -> float | None:
        """``|delta| / |F(x) - F(baseline)|`` (``F(x) - F(baseline) = sum - delta``); ``None`` without a delta."""
        if self.convergence_delta is None:
            return None
        return relative_delta(self.total, self.convergence_delta)


def relative_delta(total: float, delta: float) -> float:
    """``|delta| / |F(x) − F(baseline)|`` from ``total = sum(attributions)`` and ``delta = total − (F(x) − F(baseline))``.

    ``inf`` when ``F(x) = F(baseline)`` and the delta is not 0; 0 when both are 0.
    """
    difference = total - delta
    if difference == 0:
        return 0.0 if delta == 0 else math.inf
    return abs(delta) / abs(difference)


@dataclass(frozen=True, eq=False)
class RawAttribution:
    """What a method's ``run`` returns to :func:`~playground.explain.explain_model`.

    Attributes:
        attributions: with a batch dimension of 1, in the input's shape, or ``(1, T, E)`` on the
            embedding layer for text (summed over E afterwards).
        baseline: the baseline input (batch of 1) or ``None``.
        delta: the convergence delta, or ``None``.
        details: resolved settings to record.
    """

    attributions: torch.Tensor
    baseline: torch.Tensor | None = None
    delta: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


Runner = Callable[["Subject", ExplainParams], RawAttribution]


@dataclass(frozen=True)
class MethodSpec:
    """One attribution method.

    Attributes:
        name: registry key, e.g. ``"integrated_gradients"``.
        title: display name.
        family: ``"gradient"``, ``"cam"``, ``"perturbation"``, ``"noise_tunnel"`` or ``"attention"``.
        input_kinds: the input kinds it can explain (``"pixels"``, ``"token_ids"``, ``"values"``).
        source: the paper (with a link) and the Captum class used.
        description: one sentence for the UI.
        run: ``run(subject, params) -> RawAttribution``; raises :class:`MethodNotSupportedError`.
        uses: the :class:`ExplainParams` fields it reads (for the UI's widgets).
        has_delta: whether it reports a convergence delta.
        slow: whether it evaluates the model many times (show progress and a Stop button).
    """

    name: str
    title: str
    family: Family
    input_kinds: tuple[InputKind, ...]
    source: str
    description: str
    run: Runner
    uses: tuple[str, ...] = ()
    has_delta: bool = False
    slow: bool = False

    def supports(self, modality: str) -> bool:
        """Whether the method explains inputs of ``modality`` (a registered modality's name)."""
        return modality in explainable_modalities(self.input_kinds)


METHODS: Registry[MethodSpec] = Registry("attribution method")


def register_method(name: str, **spec: Any) -> Callable[[Runner], Runner]:
    """Decorator that registers ``run`` as :class:`MethodSpec` ``name`` and returns it unchanged.

    Raises:
        ValueError: if ``name`` is already registered or an input kind is unknown.
    """

    def decorator(run: Runner) -> Runner:
        unknown = set(spec.get("input_kinds", ())) - set(INPUT_KINDS)
        if unknown:
            raise ValueError(f"unknown input kinds {sorted(unknown)}; known: {', '.join(INPUT_KINDS)}")
        METHODS.add(name, MethodSpec(name=name, run=run, **spec))
        return run

    return decorator


def methods_for(modality: str) -> list[str]:
    """Names of the registered methods that support ``modality``, in registration order."""
    return [name for name, spec in METHODS.items() if spec.supports(modality)]


def baselines_for(modality: str) -> tuple[str, ...]:
    """The baselines that apply to ``modality``'s inputs, the default first.

    Raises:
        ValueError: an unknown modality.
    """
    return BASELINES[MODALITIES.get(modality).input_kind]


# -- the model -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ModelView:
    """What the explainers need of a model.

    Attributes:
        model: maps model inputs to ``(B, K)`` logits: normalized ``(B, C, H, W)`` float32 images,
            ``(B, T)`` int64 token ids (right-padded with ``PAD_ID``) or ``(B, T, F)`` float32.
        modality: a registered modality's name (``"image"``, ``"text"``, ``"sequence"``, a plug-in's).
        preprocessing: for images, the normalization that runs inside the explained function
            (inputs are then raw ``[0, 1]`` pixels); ``None`` feeds inputs to ``model`` unchanged.
        labels: class names (may be empty).
        special_ids: token ids that a text baseline keeps (e.g. CLS / SEP), besides PAD.
    """

    model: nn.Module
    modality: Modality
    preprocessing: Preprocessing | None = None
    labels: tuple[str, ...] = ()
    special_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.model, nn.Module):
            raise TypeError(f"expected an nn.Module, got {type(self.model).__name__}")
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {', '.join(MODALITIES)}, got {self.modality!r}")

    @property
    def input_kind(self) -> InputKind:
        """What the model's input is, which decides how it is explained (see :data:`~playground.core.modality.InputKind`)."""
        return MODALITIES.get(self.modality).input_kind

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> ModelView:
        """The view of a bundle: its modality from the card (``"image"`` when the card has none)."""
        modality = getattr(bundle.card, "modality", "image") or "image"
        explainable = explainable_modalities()
        if modality not in explainable:
            raise ValueError(f"cannot explain a {modality!r} model yet; explainable: {', '.join(explainable)}")
        preprocessing = bundle.preprocessing if isinstance(bundle.preprocessing, Preprocessing) else None
        special = tuple(int(i) for i in getattr(bundle.preprocessing, "special_ids", ()) or ())
        return cls(bundle.model, modality, preprocessing, tuple(bundle.labels), special)


def as_view(model: Bundle | ModelView) -> ModelView:
    """A :class:`ModelView` of a bundle or view.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(model, ModelView):
        return model
    if hasattr(model, "model") and hasattr(model, "card") and hasattr(model, "preprocessing"):
        return ModelView.from_bundle(model)
    raise TypeError(f"expected a Bundle or a ModelView, got {type(model).__name__}")


def auto_batch_size(values_per_example: int, wanted: int, requested: int | None = None) -> int:
    """Examples per forward pass for an expanded input (IG steps, perturbations, noise samples).

    Args:
        values_per_example: numel of one input, e.g. ``3*224*224``.
        wanted: how many examples there are in all (no point in a larger batch).
        requested: an explicit choice, which wins (still capped at ``wanted``).

    Returns:
        ``min(wanted, BATCH_VALUE_BUDGET // values_per_example, 256)``, at least 1: 16 for a
        224×224 RGB image.
    """
    if requested is not None:
        return max(1, min(requested, wanted))
    fits = BATCH_VALUE_BUDGET // max(1, values_per_example)
    return max(1, min(wanted, fits, MAX_AUTO_BATCH))


T = TypeVar("T")


# -- one explanation in progress -----------------------------------------------------------------
class CountingForward(nn.Module):
    """The explained function, counting what it evaluates: progress, stop and the input's logits.

    ``forward(x)`` runs ``net(x)``; before that it checks the stop event (raising
    :class:`ExplanationStopped` lets Captum's own ``finally`` blocks remove their hooks) and after
    it reports progress. When a batch starts with the unmodified input (Captum's convergence delta,
    DeepLift, Grad-CAM, saliency ...), its logits are kept, so the target's probability costs no
    extra forward pass.

    Args:
        net: raw pixels / ids / values in, ``(B, K)`` logits out.
        inputs: the explained input, batch of 1, on the model's device.
        capture: look for the input's logits (off when a layer hook changes what ``net`` computes).
    """

    def __init__(self, net: nn.Module, inputs: torch.Tensor, progress: Progress, *, capture: bool = True) -> None:
        super().__init__()
        self.net = net
        self._inputs = inputs
        self._progress = progress
        self.capture = capture
        self.input_logits: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._progress.check_stop()
        out: torch.Tensor = self.net(x)
        if (
            self.capture
            and self.input_logits is None
            and x.dtype == self._inputs.dtype
            and x.shape[1:] == self._inputs.shape[1:]
            and torch.equal(x[0], self._inputs[0])
        ):
            self.input_logits = out[0].detach().float()
        self._progress.add(x.shape[0])
        return out


@contextmanager
def global_rngs_seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's and NumPy's global generators for a block, then restore them.

    Captum draws its random samples from the global generators (NoiseTunnel, LIME and Kernel SHAP
    from torch's; GradientShap its points and baselines from NumPy's), so this is how a seed
    reaches them. Another thread drawing from the same generators meanwhile would disturb both.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    state = np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(state)


def seeded(seed: int, salt: int = 0) -> torch.Generator:
    """A CPU generator seeded with ``seed + salt``, for reproducible draws on any device."""
    return torch.Generator(device="cpu").manual_seed(int(seed) + salt)


class Progress:
    """Counts evaluated examples against the expected total; checks the stop event."""

    def __init__(self, on_progress: ProgressCallback | None, stop_event: threading.Event | None) -> None:
        self._on_progress = on_progress
        self._stop_event = stop_event
        self.done = 0
        self.total = 0

    def expect(self, total: int) -> None:
        """Add ``total`` examples to the expected work."""
        self.total += max(0, int(total))
        self._report()

    def add(self, n: int) -> None:
        self.done += n
        self._report()

    def check_stop(self) -> None:
        """Raise :class:`ExplanationStopped` when the stop event is set."""
        if self._stop_event is not None and self._stop_event.is_set():
            raise ExplanationStopped("the explanation was stopped")

    def finish(self) -> None:
        self.done = self.total = max(self.total, self.done, 1)
        self._report()

    def _report(self) -> None:
        if self._on_progress is not None:
            total = max(self.total, 1)
            self._on_progress(min(self.done, total), total, "examples evaluated")


class Subject:
    """One explanation in progress: the model's runtime copy, the input, the target, the forward.

    Method runners read what they need from here and call Captum with ``subject.forward`` (or
    with a forward around a model of their own, :meth:`forward_for`).

    Attributes:
        view: the model as given.
        model: the runtime copy (:func:`runtime_copy`).
        inputs: ``(1, ...)`` on the model's device (pixels, ids or values).
        modality: the view's modality.
        target: the explained class.
        device: where the model lives.
        progress: progress and stop.
        forward: the counting forward around the runtime copy (normalization inside for images).
    """

    def __init__(
        self,
        view: ModelView,
        inputs: torch.Tensor,
        target: int,
        progress: Progress,
    ) -> None:
        self.view = view
        self.modality: Modality = view.modality
        self.input_kind: InputKind = view.input_kind
        self.model = COPIES.acquire(view.model)
        self.changed = False  # set when a method rewrites the copy (then it is not reused)
        self.device = model_device(view.model)
        self.inputs = inputs.to(self.device)
        self.target = target
        self.progress = progress
        self.forwards: list[CountingForward] = []
        self.forward = self.forward_for(self.model)

    # -- building forwards ----------------------------------------------------------------------
    def net_for(self, model: nn.Module) -> nn.Module:
        """``model`` as the explained function: with its normalization inside for images."""
        if self.input_kind == "pixels" and self.view.preprocessing is not None:
            return PixelSpaceModel(model, self.view.preprocessing)
        return model

    def counting(self, net: nn.Module, *, capture: bool = True) -> CountingForward:
        """A :class:`CountingForward` around the explained function ``net``, remembered in ``forwards``."""
        forward = CountingForward(net, self.inputs, self.progress, capture=capture)
        self.forwards.append(forward)
        return forward

    def forward_for(self, model: nn.Module, *, capture: bool = True) -> CountingForward:
        """A :class:`CountingForward` around ``model`` (normalization inside for images)."""
        return self.counting(self.net_for(model), capture=capture)

    def release(self) -> None:
        """Hand the runtime copy back for reuse (call once, after a run that finished normally)."""
        if not self.changed:
            COPIES.release(self.view.model, self.model)

    def input_logits(self) -> torch.Tensor | None:
        """``(K,)`` logits of the unmodified input if any forward has seen it, else ``None``."""
        for forward in self.forwards:
            if forward.input_logits is not None:
                return forward.input_logits
        return None

    # -- sizes ----------------------------------------------------------------------------------
    @property
    def values_per_example(self) -> int:
        """numel of one input (for text: tokens × embedding size, what the expanded batch holds)."""
        if self.input_kind == "token_ids":
            embedding = embedding_or_none(self.model)
            width = embedding.embedding_dim if isinstance(embedding, nn.Embedding) else 64
            return int(self.inputs.numel()) * int(width)
        return int(self.inputs.numel())

    def batch_size(self, params: ExplainParams, wanted: int) -> int:
        """:func:`auto_batch_size` for this input (``params.batch_size`` wins)."""
        return auto_batch_size(self.values_per_example, wanted, params.batch_size)

    def value_range(self) -> float:
        """``max - min`` of the input (1 when constant): the scale of noise and of SmoothGrad's σ."""
        span = float(self.inputs.max() - self.inputs.min()) if self.inputs.is_floating_point() else 1.0
        return span if span > 0 else 1.0

    # -- running --------------------------------------------------------------------------------
    def with_oom_retry(self, run: Callable[[int], T], batch: int) -> tuple[T, int]:
        """``run(batch)``; on accelerator out-of-memory, free the cache and retry with half the batch.

        Returns:
            ``(result, the batch size that worked)``.

        Raises:
            The out-of-memory error itself when even a batch of 1 does not fit.
        """
        while True:
            try:
                return run(batch), batch
            except RuntimeError as exc:
                if not is_out_of_memory(exc) or batch <= 1:
                    raise
                del exc  # drop the traceback's references to the failed batch before freeing
                gc.collect()
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                elif self.device.type == "mps":
                    torch.mps.empty_cache()
                batch = max(1, batch // 2)
