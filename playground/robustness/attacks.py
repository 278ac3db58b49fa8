"""Adversarial attacks (FGSM, PGD) and the smallest flipping corruption, in raw pixel space.

Every attack here runs on :class:`PixelSpaceModel`: the bundle's model with its own normalization
*inside* the attacked function. Inputs, budgets and results all live on the ``[0, 1]`` scale of the
raw pixels (after resizing, before ``Normalize``), so ``ε = 8/255`` means what it says whatever
``mean``/``std`` the model was trained with, and every adversarial image is a valid image. (Attacks
that run on the normalized tensor, with their bounds in the wrong space, are the commonest complaint
about torchattacks, Foolbox and ART.)

The attacks themselves are Captum's (``captum.robust.FGSM``, ``PGD``, ``MinParamPerturbation``).
Captum's L2 PGD steps along the *sign* of the gradient and then projects onto the L2 ball (the
textbook L2 PGD steps along the normalized gradient); the default L2 step size accounts for that.

Sources:
    FGSM: Goodfellow et al. 2015, "Explaining and Harnessing Adversarial Examples",
    https://arxiv.org/abs/1412.6572.
    PGD: Madry et al. 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks",
    https://arxiv.org/abs/1706.06083.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from captum.robust import FGSM, PGD, MinParamPerturbation

from playground.core.device import model_device
from playground.modalities.image.pixel_space import PixelSpaceModel, check_pixels

if TYPE_CHECKING:
    from playground.bundle import Bundle

Method = Literal["fgsm", "pgd"]
Norm = Literal["Linf", "L2"]


@dataclass(frozen=True)
class AttackConfig:
    """An adversarial attack and its budget.

    The budget ``epsilon_255`` is in 1/255 units of the ``[0, 1]`` raw pixel scale (the CLI's
    ``--epsilon-255 8`` is ``epsilon_255=8``, i.e. ``ε = 8/255``), in the chosen norm:

    * ``"Linf"``: no pixel moves by more than ``ε`` (``max |x_adv - x| <= ε``).
    * ``"L2"``: the whole perturbation of one image, over all ``C·H·W`` values, has Euclidean
      length at most ``ε`` (``||x_adv - x||_2 <= ε``), also on the ``[0, 1]`` scale; e.g. the common
      MNIST L2 budget of 2.0 is ``epsilon_255=510``.

    Attributes:
        method: ``"fgsm"`` (one signed-gradient step of size ε; L∞ only) or ``"pgd"``.
        epsilon_255: the budget ε in 1/255 pixel units, >= 0.
        norm: ``"Linf"`` or ``"L2"`` (PGD only).
        steps: PGD iterations (Madry et al. use 40 on MNIST).
        step_size_255: PGD step per pixel in 1/255 units. Default (``None``): ``2.5·ε/steps`` for
            L∞ (Madry et al.); for L2, ``2.5·ε/(steps·√(C·H·W))``, so that each step, which Captum
            takes along the *sign* of the gradient, has an L2 length of ``2.5·ε/steps``.
        targeted: push towards ``target_class`` instead of away from the true class.
        target_class: the class index a targeted attack aims at.
        random_start: start PGD from a uniform random point of the ε-ball (seeded by ``seed``).
        seed: seed of the random start.
    """

    method: Method
    epsilon_255: float
    norm: Norm = "Linf"
    steps: int = 40
    step_size_255: float | None = None
    targeted: bool = False
    target_class: int | None = None
    random_start: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("fgsm", "pgd"):
            raise ValueError(f"method must be 'fgsm' or 'pgd', got {self.method!r}")
        if self.norm not in ("Linf", "L2"):
            raise ValueError(f"norm must be 'Linf' or 'L2', got {self.norm!r}")
        if self.method == "fgsm" and self.norm != "Linf":
            raise ValueError("FGSM is an L∞ attack (one signed-gradient step); use method='pgd' for L2")
        if not math.isfinite(self.epsilon_255) or self.epsilon_255 < 0:
            raise ValueError(f"epsilon_255 must be a finite number >= 0, got {self.epsilon_255}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.step_size_255 is not None and (not math.isfinite(self.step_size_255) or self.step_size_255 <= 0):
            raise ValueError(f"step_size_255 must be a positive number, got {self.step_size_255}")
        if self.targeted and self.target_class is None:
            raise ValueError("a targeted attack needs a target_class")
        if not self.targeted and self.target_class is not None:
            raise ValueError("target_class is only used by targeted attacks; set targeted=True")
        if self.target_class is not None and self.target_class < 0:
            raise ValueError(f"target_class must be a class index >= 0, got {self.target_class}")

    @property
    def epsilon(self) -> float:
        """ε on the ``[0, 1]`` pixel scale (``epsilon_255 / 255``)."""
        return self.epsilon_255 / 255.0

    def step_size(self, num_values: int) -> float:
        """PGD step per pixel on the ``[0, 1]`` scale for inputs of ``num_values = C·H·W`` values."""
        if self.step_size_255 is not None:
            return self.step_size_255 / 255.0
        step = 2.5 * self.epsilon / self.steps
        return step / math.sqrt(num_values) if self.norm == "L2" else step


@dataclass(frozen=True)
class AttackResult:
    """What an attack did to a batch.

    Attributes:
        config: the attack that ran.
        clean: ``(B, C, H, W)`` float32 in ``[0, 1]``: the input pixels.
        adversarial: ``(B, C, H, W)`` float32 in ``[0, 1]``: the attacked pixels.
        targets: ``(B,)`` int64: the labels the untargeted attack moved away from (the true
            labels, or the clean predictions when none were given).
        clean_probs: ``(B, K)`` float32 softmax probabilities on ``clean``.
        adv_probs: ``(B, K)`` float32 softmax probabilities on ``adversarial``.
        clean_pred: ``(B,)`` int64 argmax of ``clean_probs``.
        adv_pred: ``(B,)`` int64 argmax of ``adv_probs``.
        linf: ``(B,)`` float32 ``max |adversarial - clean|`` per image, on the ``[0, 1]`` scale.
        l2: ``(B,)`` float32 ``||adversarial - clean||_2`` per image, on the ``[0, 1]`` scale.
        success: ``(B,)`` bool: untargeted, the prediction changed (``adv_pred != clean_pred``);
            targeted, the prediction is the target class (also when it already was).
    """

    config: AttackConfig
    clean: torch.Tensor
    adversarial: torch.Tensor
    targets: torch.Tensor
    clean_probs: torch.Tensor
    adv_probs: torch.Tensor
    clean_pred: torch.Tensor
    adv_pred: torch.Tensor
    linf: torch.Tensor
    l2: torch.Tensor
    success: torch.Tensor

    @property
    def clean_accuracy(self) -> float:
        """Share of ``clean_pred == targets``."""
        return float((self.clean_pred == self.targets).float().mean())

    @property
    def adv_accuracy(self) -> float:
        """Share of ``adv_pred == targets`` (robust accuracy when ``targets`` are true labels)."""
        return float((self.adv_pred == self.targets).float().mean())

    @property
    def success_rate(self) -> float:
        """Share of ``success``."""
        return float(self.success.float().mean())


class _GradReadyFGSM(FGSM):
    """Captum's FGSM with two settings changed for pixel-space attacks; the step itself is Captum's.

    * ``zero_thresh = 0``: Captum leaves a pixel unchanged where ``|gradient| <= 1e-6``. The
      cross-entropy gradient of a confidently classified image is often smaller than that
      everywhere, so the attack would not move at all; with 0 the step is the textbook
      ``ε·sign(gradient)`` (``sign(0) = 0``).
    * Inputs that already require gradients: Captum's PGD detaches its iterate after every step and
      FGSM then turns gradients on itself with a ``UserWarning`` each time (40 for a 40-step PGD).
      Setting the flag on the detached leaf first does the same without the noise, and the step
      is taken without recording it for autograd.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zero_thresh = 0.0

    def perturb(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, tuple):
            inputs = tuple(t.detach().requires_grad_(True) for t in inputs)
        else:
            inputs = inputs.detach().requires_grad_(True)
        return super().perturb(inputs, *args, **kwargs)

    def _perturb(self, *args: Any, **kwargs: Any) -> Any:
        # The step itself needs no autograd record (the inputs now require gradients).
        with torch.no_grad():
            return super()._perturb(*args, **kwargs)


class _SeededPGD(PGD):
    """Captum's PGD with its random start drawn from a seeded generator, on the input's device.

    Captum's ``_random_point`` draws from the global generator, and for L2 it builds the radii on
    the CPU, which fails for inputs on a GPU. This one draws the same distributions (uniform in the
    L∞ cube; uniform in the L2 ball: a Gaussian direction scaled by ``radius · U^(1/d)``) from a
    private CPU generator and moves them to the input's device.
    """

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    def _random_point(self, center: torch.Tensor, radius: float, norm: str, mask: Any) -> torch.Tensor:
        shape = center.shape  # (B, C, H, W)
        if norm == "Linf":
            offset = (torch.rand(shape, generator=self.generator) * 2 - 1) * radius
        elif norm == "L2":
            direction = F.normalize(torch.randn(shape, generator=self.generator).flatten(1), dim=1)  # (B, C·H·W)
            d = direction.shape[1]
            radii = torch.rand(shape[0], 1, generator=self.generator) ** (1.0 / d) * radius  # (B, 1)
            offset = (direction * radii).view(shape)
        else:
            raise ValueError(f"norm must be 'Linf' or 'L2', got {norm!r}")
        return center + offset.to(device=center.device, dtype=center.dtype) * mask


def _summed_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # (1,): the batch's summed cross-entropy; image i's gradient is that of its own loss. Captum's
    # default loss, -log(output), needs probabilities, not logits; and a (B,) loss would make it
    # call autograd.grad on B separate outputs, which costs more than the step on small models.
    return F.cross_entropy(logits, target, reduction="sum").reshape(1)


def attack(
    bundle: Bundle,
    pixels: torch.Tensor,
    targets: torch.Tensor | None,
    config: AttackConfig,
    *,
    batch_size: int = 128,
) -> AttackResult:
    """Attack a batch of images with FGSM or PGD, in the ``[0, 1]`` space of the raw pixels.

    The attacked function is :class:`PixelSpaceModel` (normalization inside), the loss is the
    cross-entropy (summed over the batch, so each image follows its own loss's gradient), and every
    iterate is clamped to ``[0, 1]``. Gradients are taken with respect to the input only; the
    model's parameters are left as they are, and the model runs in ``eval()`` mode (its previous
    mode is restored afterwards). PGD starts from the clean image unless ``random_start``.

    Args:
        bundle: the model to attack.
        pixels: ``(B, C, H, W)`` float32 in ``[0, 1]``, at the model's input size (from
            ``bundle.preprocessing.pixels_from_batch`` / ``pixels_from_pil``).
        targets: ``(B,)`` int64 true labels, or ``None`` to use the model's clean predictions.
        config: method and budget (ε in 1/255 units; see :class:`AttackConfig`).
        batch_size: images per forward/backward pass (memory bound).

    Returns:
        An :class:`AttackResult` with every tensor on the CPU.

    Raises:
        TypeError: if ``pixels`` is not a float tensor.
        ValueError: bad pixels, targets of the wrong shape or range, a target class the model does
            not have, or ``batch_size < 1``.
    """
    check_pixels(pixels, bundle.image_preprocessing)
    num_classes = len(bundle.labels)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if targets is not None:
        if targets.shape != (pixels.shape[0],) or targets.is_floating_point():
            raise ValueError(
                f"expected ({pixels.shape[0]},) integer targets, got {tuple(targets.shape)} {targets.dtype}"
            )
        if len(targets) and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
            raise ValueError(f"targets must be class indices in [0, {num_classes}), got {targets.tolist()[:10]}")
    if config.target_class is not None and config.target_class >= num_classes:
        raise ValueError(f"target_class must be in [0, {num_classes}), got {config.target_class}")

    net = PixelSpaceModel.from_bundle(bundle)
    device = model_device(bundle.model)
    was_training = bundle.model.training
    bundle.model.eval()
    try:
        parts = [
            _attack_batch(
                net,
                pixels[i : i + batch_size],
                None if targets is None else targets[i : i + batch_size],
                config,
                device,
            )
            for i in range(0, pixels.shape[0], batch_size)
        ]
    finally:
        bundle.model.train(was_training)
    fields = {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
    return AttackResult(config=config, **fields)


def _attack_batch(
    net: PixelSpaceModel,
    pixels: torch.Tensor,
    targets: torch.Tensor | None,
    config: AttackConfig,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    x = pixels.detach().to(device=device, dtype=torch.float32)  # (b, C, H, W)
    with torch.no_grad():
        clean_logits = net(x).float()  # (b, K)
    clean_pred = clean_logits.argmax(dim=-1)
    labels = clean_pred if targets is None else targets.to(device=device, dtype=torch.long)
    aim = (
        torch.full_like(labels, config.target_class) if config.targeted and config.target_class is not None else labels
    )

    if config.method == "fgsm":
        fgsm = _GradReadyFGSM(net, _summed_cross_entropy, lower_bound=0.0, upper_bound=1.0)
        adv = fgsm.perturb(x, epsilon=config.epsilon, target=aim, targeted=config.targeted).detach()
    else:
        pgd = _SeededPGD(net, _summed_cross_entropy, lower_bound=0.0, upper_bound=1.0, seed=config.seed)
        pgd.fgsm = _GradReadyFGSM(net, _summed_cross_entropy)
        adv = pgd.perturb(
            x,
            radius=config.epsilon,
            step_size=config.step_size(x[0].numel()),
            step_num=config.steps,
            target=aim,
            targeted=config.targeted,
            random_start=config.random_start,
            norm=config.norm,
        ).detach()

    with torch.no_grad():
        adv_logits = net(adv).float()  # (b, K)
    adv_pred = adv_logits.argmax(dim=-1)
    delta = (adv - x).flatten(1)  # (b, C·H·W)
    success = adv_pred == aim if config.targeted else adv_pred != clean_pred
    return {
        "clean": x.cpu(),
        "adversarial": adv.cpu(),
        "targets": labels.cpu(),
        "clean_probs": clean_logits.softmax(-1).cpu(),
        "adv_probs": adv_logits.softmax(-1).cpu(),
        "clean_pred": clean_pred.cpu(),
        "adv_pred": adv_pred.cpu(),
        "linf": delta.abs().amax(dim=1).cpu(),
        "l2": delta.norm(dim=1).cpu(),
        "success": success.cpu(),
    }


def min_flip_severity(
    bundle: Bundle,
    pixels: torch.Tensor,
    perturbation: str,
    *,
    seed: int = 0,
    max_severity: float = 5.0,
    step: float = 0.1,
) -> float | None:
    """The smallest severity of a registered image perturbation that changes the prediction.

    Captum's ``MinParamPerturbation`` walks the severities ``0, step, 2·step, ..., max_severity``
    in order (``mode="linear"``, evaluated a few at a time in one batch) and stops at the first one
    whose prediction differs from the clean prediction, so every smaller severity on that grid left
    the prediction as it was. The search runs over the integer grid index (Captum's own range
    excludes its upper end and accumulates float steps), mapped to ``index·step``.

    Args:
        bundle: the model.
        pixels: ``(1, C, H, W)`` float32 in ``[0, 1]`` at the model's input size.
        perturbation: name of a registered image perturbation (``playground.robustness.perturbations``).
        seed: the perturbation's seed (the same at every severity).
        max_severity: the largest severity tried, in ``(0, 5]``.
        step: the grid step, in ``(0, max_severity]``.

    Returns:
        The smallest flipping severity on the grid (in ``(0, max_severity]``), or ``None`` when no
        severity up to ``max_severity`` changes the prediction.

    Raises:
        TypeError: if ``pixels`` is not a float tensor.
        ValueError: unknown or non-image perturbation, bad pixels or a batch of more than one
            image, or a bad ``max_severity`` / ``step``.

    Source: Captum, ``captum.robust.MinParamPerturbation``.
    """
    import playground.robustness.perturbations  # noqa: F401  (registers the built-in perturbations)
    from playground.robustness.perturbations.base import perturb_images

    check_pixels(pixels, bundle.image_preprocessing)
    if pixels.shape[0] != 1:
        raise ValueError(f"expected one image (1, C, H, W), got a batch of {pixels.shape[0]}")
    if not 0.0 < max_severity <= 5.0:
        raise ValueError(f"max_severity must be in (0, 5], got {max_severity}")
    if not 0.0 < step <= max_severity:
        raise ValueError(f"step must be in (0, {max_severity}], got {step}")
    perturb_images(perturbation, pixels[:0], 0.0, seed)  # raises early on an unknown / text perturbation
    n_steps = math.floor(max_severity / step + 1e-9)

    def severity_of(index: int) -> float:
        return min(round(index * step, 10), max_severity)

    def perturb_at(inp: torch.Tensor, index: int) -> torch.Tensor:
        return perturb_images(perturbation, inp, severity_of(index), seed)

    net = PixelSpaceModel.from_bundle(bundle)
    device = model_device(bundle.model)
    was_training = bundle.model.training
    bundle.model.eval()
    try:
        with torch.no_grad():
            x = pixels.detach().float().cpu()
            clean_pred = int(net(x.to(device)).argmax(dim=-1))

            def forward(batch: torch.Tensor) -> torch.Tensor:
                out: torch.Tensor = net(batch.to(device)).float().cpu()
                return out

            def same_prediction(model_out: torch.Tensor, target: int) -> bool:
                return bool((model_out.argmax(dim=1) == target).all())

            search = MinParamPerturbation(
                forward_func=forward,
                attack=perturb_at,
                arg_name="index",
                arg_min=1,
                arg_max=n_steps + 1,  # Captum's range excludes its end
                arg_step=1,
                mode="linear",
                correct_fn=same_prediction,
            )
            _, index = search.evaluate(x, target=clean_pred, perturbations_per_eval=min(16, n_steps))
    finally:
        bundle.model.train(was_training)
    return None if index is None else severity_of(int(index))
