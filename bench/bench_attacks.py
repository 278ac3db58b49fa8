"""Adversarial attack speed: the playground's ``attack`` (Captum FGSM / PGD) against plain PyTorch.

Both sides attack the same batch of MNIST validation digits with the same model (the shipped
LeNet-5 checkpoint), the same ε, step size and number of steps, in the same ``[0, 1]`` pixel space
with the model's normalization inside, and both report clean and adversarial predictions (what
anyone who runs an attack needs in order to say whether it worked). The plain side is the
textbook loop: input requires grad, cross-entropy, ``autograd.grad``, signed step, projection onto
the ε-ball, clamp to ``[0, 1]``. The playground adds input checks, Captum's per-step bookkeeping,
softmax probabilities and the perturbation norms. After one untimed warm-up of each, the repeats
alternate plain / playground so that a machine that gets busier slows both alike. Each call is
timed by the wall clock and by the process's CPU time; on a machine shared with other jobs the
CPU time (the work done) is the steadier of the two.

Usage::

    python bench/bench_attacks.py --batch-size 128 --epsilon 76.5 --repeats 10 [--threads 1]
    python bench/bench_attacks.py --json  # machine-readable output

The target is a ratio (playground time / plain time) of at most 1.1. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from playground.bundle import Bundle, load_bundle
from playground.core.device import describe_device, pick_device
from playground.data import load_dataset, split_dataset
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.robustness.attacks import AttackConfig, attack
from playground.robustness.sweep import sample_indices

CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "checkpoints" / "lenet5-mnist"


def plain_attack(
    net: PixelSpaceModel, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float, steps: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hand-written L∞ PGD from ``x`` (``steps=1, step_size=epsilon`` is FGSM).

    Returns ``(adversarial, clean_pred, adv_pred)``.
    """
    with torch.no_grad():
        clean_pred = net(x).argmax(dim=-1)
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(net(adv), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + step_size * grad.sign()
        adv = (x + (adv - x).clamp(-epsilon, epsilon)).clamp(0.0, 1.0)  # project, then stay an image
    with torch.no_grad():
        adv_pred = net(adv).argmax(dim=-1)
    return adv, clean_pred, adv_pred


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """``(wall seconds, CPU seconds of this process)`` for one call."""
    _sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def _summary(ours: list[float], plain: list[float]) -> dict[str, Any]:
    def ms(runs: list[float]) -> dict[str, Any]:
        return {"best": 1e3 * min(runs), "median": 1e3 * statistics.median(runs), "runs": [1e3 * t for t in runs]}

    return {
        "plain_ms": ms(plain),
        "playground_ms": ms(ours),
        # Best-of-N is the least disturbed by other load on the machine; the median is shown too.
        "ratio_best": min(ours) / min(plain),
        "ratio_median": statistics.median(ours) / statistics.median(plain),
    }


def bench_one(
    bundle: Bundle, x: torch.Tensor, y: torch.Tensor, config: AttackConfig, repeats: int, device: torch.device
) -> dict[str, Any]:
    net = PixelSpaceModel.from_bundle(bundle)
    epsilon = config.epsilon
    steps = 1 if config.method == "fgsm" else config.steps
    step = epsilon if config.method == "fgsm" else config.step_size(x[0].numel())

    def ours() -> object:
        return attack(bundle, x, y, config, batch_size=len(x))

    def plain() -> object:
        return plain_attack(net, x, y, epsilon, step, steps)

    ours()  # warm-up (allocator, kernels, lazy imports)
    plain()
    plain_t, ours_t = [], []
    for _ in range(repeats):
        plain_t.append(_time(plain, device))
        ours_t.append(_time(ours, device))
    # The two should agree: same attack, same model (robust accuracy of each).
    result = attack(bundle, x, y, config, batch_size=len(x))
    _, _, plain_pred = plain_attack(net, x, y, epsilon, step, steps)
    return {
        "attack": config.method if config.method == "fgsm" else f"pgd-{config.steps}",
        "steps": steps,
        "wall": _summary([w for w, _ in ours_t], [w for w, _ in plain_t]),
        # CPU time of the process: the work done, much less disturbed by other jobs on a busy machine.
        "cpu": _summary([c for _, c in ours_t], [c for _, c in plain_t]),
        "adv_accuracy_playground": result.adv_accuracy,
        "adv_accuracy_plain": float((plain_pred.cpu() == y.cpu()).float().mean()),
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epsilon", type=float, default=76.5, help="ε in 1/255 units (76.5 = 0.3, Madry et al.)")
    parser.add_argument("--pgd-steps", default="10,40", help="comma-separated PGD step counts")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = pick_device(args.device)
    bundle = load_bundle(CHECKPOINT)
    bundle.model.to(device)
    images, targets = split_dataset(load_dataset("mnist"), 0.1, seed=0).val_tensors()
    idx = sample_indices(len(images), args.batch_size, seed=0)
    x = bundle.preprocessing.pixels_from_batch(images[idx]).to(device)  # (B, 1, 28, 28) in [0, 1]
    y = targets[idx].to(device)
    configs = [AttackConfig("fgsm", args.epsilon)] + [
        AttackConfig("pgd", args.epsilon, steps=int(s)) for s in args.pgd_steps.split(",")
    ]
    rows = [bench_one(bundle, x, y, c, args.repeats, device) for c in configs]
    report: dict[str, object] = {
        "model": "lenet5-mnist (shipped checkpoint)",
        "batch_size": len(x),
        "epsilon_255": args.epsilon,
        "repeats": args.repeats,
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "attacks": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"LeNet-5 (lenet5-mnist), {len(x)} MNIST images per batch, ε = {args.epsilon:g}/255, "
            f"{args.repeats} repeats, {report['device']}"
        )
        print(
            f"{'attack':<9}{'clock':<6}{'plain ms':>10}{'(median)':>10}{'ours ms':>10}{'(median)':>10}"
            f"{'ratio':>8}{'(median)':>10}"
        )
        for r in rows:
            for clock in ("wall", "cpu"):
                t = r[clock]
                p, o = t["plain_ms"], t["playground_ms"]
                print(
                    f"{r['attack'] if clock == 'wall' else '':<9}{clock:<6}{p['best']:>10.1f}{p['median']:>10.1f}"
                    f"{o['best']:>10.1f}{o['median']:>10.1f}{t['ratio_best']:>8.3f}{t['ratio_median']:>10.3f}"
                )
        print("ratio = playground time / plain time, best-of-N and median (target <= 1.1)")
        accuracies = ", ".join(
            f"{r['attack']} {r['adv_accuracy_plain']:.3f} / {r['adv_accuracy_playground']:.3f}" for r in rows
        )
        print(f"robust accuracy on the batch, plain / playground: {accuracies}")
    return report


if __name__ == "__main__":
    main()
