"""Adversarial attacks (FGSM, PGD) on an audio model's waveform, with ε as an amplitude.

The attacked function is the whole audio pipeline after the clip is fitted: waveform at the
model's rate and length → ``AudioPreprocessing.encode`` (torchaudio's mel spectrogram and dB
conversion, or MFCCs; differentiable) → standardization → model. The perturbation δ lives on the
waveform, on its full-scale ``[-1, 1]`` amplitude scale: ``ε = 0.01`` means no sample moves by
more than 1 % of full scale (-40 dBFS), and every adversarial clip stays within ``[-1, 1]``.
Its loudness relative to the clip is reported as a signal-to-noise ratio in dB.

The attack is written here rather than through :mod:`playground.robustness.attacks` (Captum's
FGSM / PGD on :class:`~playground.modalities.image.pixel_space.PixelSpaceModel`), which is bound
to image pixels in ``[0, 1]``; the steps are the same textbook ones (Captum's with
``zero_thresh = 0``).

Sources:
    FGSM: Goodfellow et al. 2015, "Explaining and Harnessing Adversarial Examples",
    https://arxiv.org/abs/1412.6572.
    PGD: Madry et al. 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks",
    https://arxiv.org/abs/1706.06083.
    Waveform attacks on audio classifiers: Carlini & Wagner 2018, "Audio Adversarial Examples:
    Targeted Attacks on Speech-to-Text", https://arxiv.org/abs/1801.01944 (who also measure δ in dB
    relative to the clip).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from playground.core.device import model_device
from playground.modalities.audio.clips import AudioClips
from playground.robustness.audio_sweep import audio_preprocessing

if TYPE_CHECKING:
    from playground.bundle import Bundle

WaveformMethod = Literal["fgsm", "pgd"]


@dataclass(frozen=True)
class WaveformAttackResult:
    """What an attack did to one clip.

    Attributes:
        method: ``"fgsm"`` or ``"pgd"``.
        epsilon: the L∞ budget on the ``[-1, 1]`` amplitude scale.
        steps: iterations (1 for FGSM).
        step_size: amplitude per step (``epsilon`` for FGSM).
        clean: ``(clip_samples,)`` float32: the clip as the model sees it (fitted: model rate and
            length, peak-normalized).
        adversarial: ``(clip_samples,)`` float32 in ``[-1, 1]``: ``clean + δ``.
        target: the class the attack moved away from (the true label, or the clean prediction).
        clean_probs: ``(K,)`` float32 softmax probabilities of ``clean``.
        adv_probs: ``(K,)`` float32 softmax probabilities of ``adversarial``.
        clean_pred: argmax of ``clean_probs``.
        adv_pred: argmax of ``adv_probs``: the new prediction.
        clean_loss: cross-entropy of ``clean`` for ``target`` (computed in float64 from the logits).
        adv_loss: cross-entropy of ``adversarial`` for ``target`` (likewise).
        linf: ``max |δ|``, <= ``epsilon``.
        snr_db: ``10·log10(Σ clean² / Σ δ²)``: how far below the clip δ is, in dB (``inf`` when δ = 0,
            ``-inf`` for a silent clip with δ ≠ 0).
    """

    method: WaveformMethod
    epsilon: float
    steps: int
    step_size: float
    clean: torch.Tensor
    adversarial: torch.Tensor
    target: int
    clean_probs: torch.Tensor
    adv_probs: torch.Tensor
    clean_pred: int
    adv_pred: int
    clean_loss: float
    adv_loss: float
    linf: float
    snr_db: float

    @property
    def success(self) -> bool:
        """The prediction changed."""
        return self.adv_pred != self.clean_pred

    @property
    def perturbation(self) -> torch.Tensor:
        """δ = ``adversarial - clean``, ``(clip_samples,)`` float32."""
        return self.adversarial - self.clean


def snr_db(clean: torch.Tensor, perturbation: torch.Tensor) -> float:
    """``10·log10(Σ clean² / Σ perturbation²)`` in dB (``inf`` for a zero perturbation)."""
    noise = float(perturbation.double().pow(2).sum())
    signal = float(clean.double().pow(2).sum())
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def _check_request(
    waveform: torch.Tensor,
    target: int | None,
    num_classes: int,
    method: str,
    epsilon: float,
    steps: int,
    step_size: float | None,
) -> None:
    """Refuse a waveform, target or attack setting :func:`attack_waveform` cannot use.

    Raises:
        ValueError: a waveform that is not a non-empty ``(L,)`` float tensor, a target outside
            ``[0, num_classes)``, an unknown method or a bad ε / steps / step size.
    """
    if not isinstance(waveform, torch.Tensor) or waveform.ndim != 1 or waveform.numel() == 0:
        raise ValueError(f"expected a non-empty (L,) waveform, got {getattr(waveform, 'shape', type(waveform))}")
    if not waveform.is_floating_point():
        raise ValueError(f"expected a float waveform, got {waveform.dtype}")
    if method not in ("fgsm", "pgd"):
        raise ValueError(f"method must be 'fgsm' or 'pgd', got {method!r}")
    if not (math.isfinite(epsilon) and 0.0 <= epsilon <= 2.0):
        raise ValueError(f"epsilon must be in [0, 2] (full scale is 1), got {epsilon}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if step_size is not None and not (math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size must be a positive number, got {step_size}")
    if target is not None and not 0 <= target < num_classes:
        raise ValueError(f"target must be a class index in [0, {num_classes}), got {target}")


def _sign_steps(
    x: torch.Tensor,
    gradient: Callable[[torch.Tensor], torch.Tensor],
    method: WaveformMethod,
    epsilon: float,
    steps: int,
    step_size: float | None,
) -> tuple[torch.Tensor, int, float]:
    """The FGSM step or the PGD steps from the fitted clip ``x`` ``(1, S)`` in ``[-1, 1]``.

    FGSM: ``x + ε · sign(∇)``; PGD: ``steps`` steps of ``step_size · sign(∇)`` (default
    ``2.5 · ε / steps``), each projected onto ``|δ| <= ε``. Every result is clamped to ``[-1, 1]``.

    Returns:
        The adversarial clip ``(1, S)`` (detached), the number of steps taken and the step size.
    """
    if method == "fgsm":
        n_steps, size = 1, epsilon
        adv = (x + epsilon * gradient(x).sign()).clamp(-1.0, 1.0)
    else:
        n_steps = steps
        size = step_size if step_size is not None else 2.5 * epsilon / steps
        adv = x.clone()
        for _ in range(steps):
            adv = adv + size * gradient(adv).sign()
            adv = torch.minimum(torch.maximum(adv, x - epsilon), x + epsilon).clamp(-1.0, 1.0)
    return adv.detach(), n_steps, size


def attack_waveform(
    bundle: Bundle,
    waveform: torch.Tensor,
    target: int | None = None,
    method: WaveformMethod = "fgsm",
    epsilon: float = 0.005,
    steps: int = 10,
    step_size: float | None = None,
) -> WaveformAttackResult:
    """Attack one clip with FGSM or L∞ PGD on its waveform (untargeted: away from ``target``).

    The clip is first fitted as the model's pipeline fits it (``fit_clips``: centred, cropped or
    zero-padded to ``clip_samples``, peak-normalized); the attack and the reported predictions run
    on that fitted clip through ``encode`` and the model, in ``eval()`` mode (restored afterwards).
    FGSM takes one step ``ε · sign(∇δ loss)``; PGD starts from the clean clip and takes ``steps``
    steps of ``step_size · sign(∇)``, each projected back onto ``|δ| <= ε`` and ``[-1, 1]``.
    Gradients are taken with respect to the waveform only; the model's parameters are untouched.

    Args:
        bundle: an audio model.
        waveform: ``(L,)`` float mono clip at the model's sample rate (``bundle.preprocessing.sample_rate``).
        target: the true class index, or ``None`` to use the model's clean prediction.
        method: ``"fgsm"`` or ``"pgd"``.
        epsilon: L∞ budget on the ``[-1, 1]`` amplitude scale, in ``[0, 2]``.
        steps: PGD iterations, >= 1 (FGSM ignores it).
        step_size: PGD amplitude per step; default ``2.5 · ε / steps`` (Madry et al.).

    Returns:
        A :class:`WaveformAttackResult` with every tensor on the CPU.

    Raises:
        ValueError: not an audio model, a waveform that is not a non-empty ``(L,)`` float tensor,
            a target out of range, an unknown method or a bad ε / steps / step size.
    """
    pre = audio_preprocessing(bundle)
    _check_request(waveform, target, len(bundle.labels), method, epsilon, steps, step_size)

    model = bundle.model
    device = model_device(model)
    fitted = pre.fit_clips(AudioClips.from_list([waveform.detach().cpu().float()], pre.sample_rate))  # (1, S)
    x = fitted.to(device)
    was_training = model.training
    model.eval()
    try:

        def logits_of(w: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = model(pre.encode(w)).float()
            return out

        with torch.no_grad():
            clean_logits = logits_of(x)  # (1, K)
        clean_pred = int(clean_logits.argmax(dim=-1))
        aim = clean_pred if target is None else int(target)
        label = torch.tensor([aim], device=device)

        def gradient(w: torch.Tensor) -> torch.Tensor:
            w = w.detach().requires_grad_(True)
            loss = F.cross_entropy(logits_of(w), label)
            (grad,) = torch.autograd.grad(loss, w)
            return grad

        adv, n_steps, size = _sign_steps(x, gradient, method, epsilon, steps, step_size)
        with torch.no_grad():
            adv_logits = logits_of(adv)
    finally:
        model.train(was_training)

    clean_cpu, adv_cpu = x[0].cpu(), adv[0].cpu()
    target_cpu = torch.tensor([aim])
    delta = adv_cpu - clean_cpu
    return WaveformAttackResult(
        method=method,
        epsilon=float(epsilon),
        steps=n_steps,
        step_size=float(size),
        clean=clean_cpu,
        adversarial=adv_cpu,
        target=aim,
        clean_probs=clean_logits[0].softmax(-1).cpu(),
        adv_probs=adv_logits[0].softmax(-1).cpu(),
        clean_pred=clean_pred,
        adv_pred=int(adv_logits.argmax(dim=-1)),
        clean_loss=float(F.cross_entropy(clean_logits.cpu().double(), target_cpu)),  # float64: a confident
        adv_loss=float(F.cross_entropy(adv_logits.cpu().double(), target_cpu)),  # model's loss is ~1e-7
        linf=float(delta.abs().max()),
        snr_db=snr_db(clean_cpu, delta),
    )


@dataclass(frozen=True)
class AmplitudePoint:
    """Robust accuracy of an audio model at one waveform budget.

    Attributes:
        epsilon: the L∞ budget on the ``[-1, 1]`` amplitude scale (0: the clean clips).
        accuracy: share of the clips still classified right, in [0, 1].
        mean_true_confidence: mean probability of the true class under the attack.
        flip_rate: share of clips whose prediction the attack changed (0 at ε = 0).
        median_snr_db: the median clip-to-perturbation ratio in dB (``None`` at ε = 0).
    """

    epsilon: float
    accuracy: float
    mean_true_confidence: float
    flip_rate: float
    median_snr_db: float | None


def amplitude_robust_accuracy(
    bundle: Bundle,
    clips: AudioClips,
    targets: torch.Tensor,
    epsilons: Sequence[float],
    *,
    method: WaveformMethod = "pgd",
    steps: int = 10,
    batch_size: int = 64,
    on_progress: Callable[[int, int, str], None] | None = None,
    stop_event: threading.Event | None = None,
) -> list[AmplitudePoint]:
    """Accuracy of an audio model on ``clips`` under the waveform attack at each ε (the audio twin of
    :func:`playground.robustness.robust_curve.robust_accuracy`).

    Each batch is attacked at once, untargeted, away from its true labels, with the same steps as
    :func:`attack_waveform`; ε = 0 is the clean accuracy, computed without an attack.

    Args:
        bundle: an audio model.
        clips: ``N`` clips (fitted here to the model's rate and window, as in :func:`attack_waveform`).
        targets: ``(N,)`` int64 true labels.
        epsilons: budgets on the amplitude scale, each in [0, 2].
        method, steps: the attack.
        batch_size: clips per forward/backward pass.
        on_progress: called as ``on_progress(done, total, message)`` after each (ε, batch).
        stop_event: set it to stop after the current ε (the points then hold the ε done).

    Raises:
        ValueError: not an audio model, no ε or no clips, mismatched targets, a bad ε / method / steps.
    """
    pre = audio_preprocessing(bundle)
    if not epsilons or len(clips) == 0 or targets.shape != (len(clips),):
        raise ValueError(f"expected at least one epsilon and one clip, and ({len(clips)},) targets")
    for eps in epsilons:
        _check_request(torch.zeros(1), None, len(bundle.labels), method, float(eps), steps, None)
    model = bundle.model
    device = model_device(model)
    fitted = pre.fit_clips(clips)  # (N, S) at the model's rate, peak-normalized
    batches = [(fitted[i : i + batch_size], targets[i : i + batch_size]) for i in range(0, len(clips), batch_size)]
    was_training = model.training
    model.eval()

    def logits_of(w: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = model(pre.encode(w.to(device))).float()
        return out

    try:
        with torch.no_grad():
            clean_pred = torch.cat([logits_of(x).argmax(-1).cpu() for x, _ in batches])  # (N,)
        points: list[AmplitudePoint] = []
        total, done = len(epsilons) * len(batches), 0
        for eps in epsilons:
            if stop_event is not None and stop_event.is_set():
                break
            probs, snrs = [], []
            for x, y in batches:
                x, label = x.to(device), y.to(device)
                if eps > 0:

                    def gradient(w: torch.Tensor, label: torch.Tensor = label) -> torch.Tensor:
                        w = w.detach().requires_grad_(True)
                        (grad,) = torch.autograd.grad(F.cross_entropy(logits_of(w), label), w)
                        return grad

                    adv, _, _ = _sign_steps(x, gradient, method, float(eps), steps, None)
                    snrs += [snr_db(c, a - c) for c, a in zip(x.cpu(), adv.cpu(), strict=True)]
                else:
                    adv = x
                with torch.no_grad():
                    probs.append(logits_of(adv).softmax(-1).cpu())
                done += 1
                if on_progress is not None:
                    on_progress(done, total, f"ε = {eps:g}")
            p = torch.cat(probs)  # (N, K)
            predicted = p.argmax(-1)
            finite = [s for s in snrs if math.isfinite(s)]
            points.append(
                AmplitudePoint(
                    epsilon=float(eps),
                    accuracy=float((predicted == targets).float().mean()),
                    mean_true_confidence=float(p.gather(1, targets.view(-1, 1)).mean()),
                    flip_rate=float((predicted != clean_pred).float().mean()),
                    median_snr_db=float(torch.tensor(finite).median()) if finite else None,
                )
            )
    finally:
        model.train(was_training)
    return points
