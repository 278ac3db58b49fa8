"""Explain one input: check it, pick the target, run a registered method, package the result.

:func:`explain` is the one entry point (the page and the CLI call it); :func:`explain_methods`
runs several methods on the same input for a comparison grid; :func:`explain_work` wraps an
explanation for a :class:`~playground.runner.jobs.BackgroundJob` (progress, Stop).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from playground.core.device import is_out_of_memory, model_device
from playground.core.modality import MODALITIES, explainable_modalities
from playground.explain import cam, gradient, noise_tunnel, perturbation, rollout  # noqa: F401  (registers the methods)
from playground.explain.base import (
    METHODS,
    PAD_ID,
    ExplainParams,
    Explanation,
    ModelView,
    Progress,
    ProgressCallback,
    Subject,
    as_view,
)
from playground.explain.errors import ExplanationStopped, MethodNotSupportedError
from playground.explain.runtime import backward_ready, embedding_or_none
from playground.modalities.image.pixel_space import check_pixels

if TYPE_CHECKING:
    from playground.bundle import Bundle
    from playground.runner.jobs import Work


def check_inputs(view: ModelView, inputs: torch.Tensor) -> torch.Tensor:
    """Check one input against the view's modality and add the batch dimension.

    Args:
        view: the model.
        inputs: images ``(C, H, W)`` or ``(1, C, H, W)`` float32 pixels in [0, 1] (at the
            preprocessing's size when the view has one); text ``(T,)`` or ``(1, T)`` int64 token
            ids (at least one that is not PAD); sequences ``(T, F)`` or ``(1, T, F)`` float32.

    Returns:
        The input with a batch dimension of 1 (float32 for images and sequences).

    Raises:
        TypeError: a non-tensor or the wrong dtype.
        ValueError: a wrong shape, a batch of more than one, non-finite values, pixels outside
            [0, 1], or ids out of the vocabulary.
    """
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"expected a tensor input, got {type(inputs).__name__}")
    hooks = MODALITIES.get(view.modality).explain
    if hooks is None:
        raise ValueError(f"{view.modality} models cannot be explained")
    ndim, shapes = hooks.input_rank, hooks.input_shape
    if inputs.ndim == ndim:
        inputs = inputs.unsqueeze(0)
    if inputs.ndim != ndim + 1 or inputs.shape[0] != 1:
        raise ValueError(
            f"expected one {view.modality} input of shape {shapes} (or a batch of 1), got shape {tuple(inputs.shape)}"
        )
    if inputs.numel() == 0:
        raise ValueError(f"expected a non-empty {view.modality} input, got shape {tuple(inputs.shape)}")
    if view.input_kind == "token_ids":
        if inputs.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"expected token ids as int64, got {inputs.dtype}")
        inputs = inputs.long()
        if int(inputs.min()) < 0:
            raise ValueError(f"token ids must be >= 0, got {int(inputs.min())}")
        if not bool((inputs != PAD_ID).any()):
            raise ValueError("the text has no tokens (only PAD ids); give some text")
        embedding = embedding_or_none(view.model)
        size = getattr(embedding, "num_embeddings", None)
        if isinstance(size, int) and int(inputs.max()) >= size:
            raise ValueError(f"token id {int(inputs.max())} is outside the model's vocabulary of {size}")
        return inputs
    if not inputs.is_floating_point():
        raise TypeError(f"expected float32 {view.modality} values, got {inputs.dtype}")
    inputs = inputs.detach().float()
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError(f"the {view.modality} input holds NaN or infinite values")
    if view.input_kind == "pixels" and view.preprocessing is not None:
        check_pixels(inputs, view.preprocessing)
    return inputs


def explain(
    model: Bundle | ModelView,
    inputs: torch.Tensor,
    method: str,
    *,
    target: int | None = None,
    params: ExplainParams | None = None,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
) -> Explanation:
    """Attribute the model's score for ``target`` to the parts of one input.

    Args:
        model: a :class:`~playground.bundle.Bundle` or a :class:`ModelView`; it is not changed
            (the method runs on a runtime copy that shares its weights).
        inputs: one input (see :func:`check_inputs`): image pixels ``(C, H, W)`` in [0, 1],
            token ids ``(T,)`` int64, or numeric values ``(T, F)`` float32.
        method: a name from :data:`~playground.explain.METHODS` (``methods_for(modality)`` lists them).
        target: the class index to explain; ``None``: the predicted class.
        params: method settings (defaults: :class:`ExplainParams()`).
        on_progress: called as ``on_progress(done, total, message)`` with forward-pass examples evaluated.
        stop_event: when set, the explanation stops at its next forward pass.

    Returns:
        An :class:`Explanation` (attributions in the input's shape, on the CPU).

    Raises:
        ValueError: an unknown method, a bad input or target.
        TypeError: inputs of the wrong type.
        MethodNotSupportedError: the method cannot run on this model or modality (the message says why).
        ExplanationStopped: ``stop_event`` was set.
        torch.cuda.OutOfMemoryError: the GPU ran out of memory even with a batch of 1.
    """
    spec = METHODS.get(method)
    view = as_view(model)
    params = ExplainParams() if params is None else params
    if not isinstance(params, ExplainParams):
        raise TypeError(f"expected ExplainParams, got {type(params).__name__}")
    if not spec.supports(view.modality):
        raise MethodNotSupportedError(
            f"{spec.title} explains {' and '.join(explainable_modalities(spec.input_kinds))} inputs; this is a {view.modality} model"
        )
    x = check_inputs(view, inputs)
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
        raise TypeError(f"target must be a class index (int), got {type(target).__name__}")
    if target is not None and view.labels and not 0 <= target < len(view.labels):
        raise ValueError(f"target must be a class index in [0, {len(view.labels)}), got {target}")
    progress = Progress(on_progress, stop_event)
    progress.check_stop()
    start = time.perf_counter()
    device = model_device(view.model)
    x = x.to(device)
    logits: torch.Tensor | None = None
    subject = Subject(view, x, -1, progress)
    if target is None or not view.labels:  # the prediction, or the number of classes to check against
        with torch.no_grad():
            logits = subject.net_for(subject.model)(subject.inputs)[0].float()
        target = int(logits.argmax()) if target is None else target
        if not 0 <= target < logits.shape[-1]:
            raise ValueError(f"target must be a class index in [0, {logits.shape[-1]}), got {target}")
    subject.target = target
    try:
        with backward_ready(subject.model, device):
            raw = spec.run(subject, params)
    except (MethodNotSupportedError, ExplanationStopped, ValueError, TypeError):
        raise
    except RuntimeError as exc:
        if is_out_of_memory(exc):
            raise
        raise MethodNotSupportedError(
            f"{spec.title} could not run on this model ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
        ) from exc
    attributions = raw.attributions.detach()
    if view.input_kind == "token_ids" and attributions.ndim == 3:
        attributions = attributions.sum(dim=-1)  # (1, T, E) -> (1, T): one number per token
    attributions = attributions[0].float().cpu()
    if logits is None:
        logits = subject.input_logits()
    if logits is None:
        with torch.no_grad():
            logits = subject.net_for(subject.model)(subject.inputs)[0].float()
    subject.release()  # last use of the runtime copy: another explanation may take it now
    probability = float(logits.softmax(dim=-1)[target])
    seconds = time.perf_counter() - start
    progress.finish()
    return Explanation(
        method=spec.name,
        modality=view.modality,
        attributions=attributions,
        inputs=x[0].detach().cpu(),
        baseline=None if raw.baseline is None else raw.baseline[0].detach().cpu(),
        target=target,
        label=view.labels[target] if target < len(view.labels) else "",
        probability=probability,
        params=params,
        details=dict(raw.details),
        convergence_delta=raw.delta,
        seconds=seconds,
    )


def explain_methods(
    model: Bundle | ModelView,
    inputs: torch.Tensor,
    methods: Sequence[str],
    *,
    target: int | None = None,
    params: ExplainParams | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> dict[str, Explanation | MethodNotSupportedError]:
    """Several methods on the same input and target, for a comparison grid.

    A method that does not apply gives its :class:`MethodNotSupportedError` (the reason) instead
    of a result; the others still run.

    Args:
        model, inputs, target, params, stop_event: as :func:`explain` (``target=None`` picks the
            predicted class once, so every method explains the same class).
        methods: registry names.
        on_progress: ``on_progress(method index, number of methods, method name)`` before each.

    Returns:
        ``{method: Explanation or MethodNotSupportedError}`` in the order given.

    Raises:
        ExplanationStopped: ``stop_event`` was set.
        ValueError / TypeError: as :func:`explain` (unknown names, bad input).
    """
    for name in methods:
        METHODS.get(name)  # unknown names fail before any work
    view = as_view(model)
    if target is None:
        x = check_inputs(view, inputs).to(model_device(view.model))
        subject = Subject(view, x, -1, Progress(None, stop_event))
        with torch.no_grad():
            target = int(subject.net_for(subject.model)(subject.inputs)[0].argmax())
        subject.release()
    results: dict[str, Explanation | MethodNotSupportedError] = {}
    for i, name in enumerate(methods):
        if on_progress is not None:
            on_progress(i, len(methods), name)
        try:
            results[name] = explain(view, inputs, name, target=target, params=params, stop_event=stop_event)
        except MethodNotSupportedError as exc:
            results[name] = exc
    if on_progress is not None:
        on_progress(len(methods), len(methods), "done")
    return results


def explain_work(
    model: Bundle | ModelView,
    inputs: torch.Tensor,
    method: str,
    *,
    target: int | None = None,
    params: ExplainParams | None = None,
) -> Work[Explanation | None]:
    """:func:`explain` as the work of a :class:`~playground.runner.jobs.BackgroundJob`.

    The job reports ``(done, total, method)`` (examples evaluated) and returns ``None`` when stopped (its status is then
    ``"stopped"``); other errors end the job as ``"failed"`` with the exception kept.

    Example::

        job = BackgroundJob(explain_work(bundle, pixels, "occlusion"), name="occlusion").start()
    """

    def work(on_progress: ProgressCallback, stop_event: threading.Event) -> Explanation | None:
        try:
            return explain(
                model,
                inputs,
                method,
                target=target,
                params=params,
                on_progress=lambda done, total, _: on_progress(done, total, method),
                stop_event=stop_event,
            )
        except ExplanationStopped:
            return None

    return work
