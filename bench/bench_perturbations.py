"""Sweep throughput: image perturbations × severities 0..5 over a dataset sample, images per second.

This is the data side of a robustness sweep (the Robustness page and ``python -m playground
robustness``): every perturbation is applied at every severity to the same sample, in batches,
through the public ``perturb_images``. No model runs here, so the numbers say what the
perturbations themselves cost. Each perturbation gets one untimed warm-up call first; then each
(perturbation, severity, batch) is timed, and the best of ``--repeats`` sweeps is kept per
perturbation (the estimate least disturbed by other load on the machine).

Usage::

    python bench/bench_perturbations.py                      # 8 perturbations, 500 MNIST digits, CPU
    python bench/bench_perturbations.py --dataset shapes --image-size 64
    python bench/bench_perturbations.py --perturbations all --json

This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from playground.core.device import describe_device, pick_device
from playground.data import load_dataset
from playground.robustness.perturbations import image_perturbations, perturb_images

DEFAULT_PERTURBATIONS = (
    "gaussian_noise",
    "impulse_noise",
    "gaussian_blur",
    "motion_blur",
    "contrast",
    "jpeg",
    "pixelate",
    "rotation",
)
SEVERITIES = (0, 1, 2, 3, 4, 5)


def load_pixels(dataset: str, samples: int, image_size: int | None) -> torch.Tensor:
    """``(N, C, H, W)`` float32 in ``[0, 1]``: the first ``samples`` images of ``dataset``."""
    with tempfile.TemporaryDirectory() as root:  # an empty root: mnist is always the offline copy
        if dataset == "shapes":
            data = load_dataset("shapes", n=samples, image_size=image_size or 64)
        else:
            data = load_dataset(dataset, root=Path(root))
    if len(data) < samples:
        raise ValueError(f"{dataset} has {len(data)} images, fewer than --samples {samples}")
    return data.images[:samples].to(torch.float32) / 255  # (N, C, H, W)


def sweep(name: str, pixels: torch.Tensor, batch_size: int, device: torch.device) -> float:
    """Seconds to apply ``name`` at every severity to every batch of ``pixels``."""
    seconds = 0.0
    for severity in SEVERITIES:
        for start in range(0, len(pixels), batch_size):
            batch = pixels[start : start + batch_size].to(device)
            _sync(device)
            t0 = time.perf_counter()
            perturb_images(name, batch, severity, seed=start)
            _sync(device)
            seconds += time.perf_counter() - t0
    return seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist", help="mnist (28×28 grey) or shapes (colour)")
    parser.add_argument("--image-size", type=int, default=None, help="side of the shapes images (default 64)")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--perturbations", default=",".join(DEFAULT_PERTURBATIONS), help="comma-separated names, or 'all'"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = image_perturbations() if args.perturbations == "all" else args.perturbations.split(",")
    unknown = sorted(set(names) - set(image_perturbations()))
    if unknown:
        parser.error(f"unknown image perturbations {unknown}; known: {', '.join(image_perturbations())}")
    device = pick_device(args.device)
    pixels = load_pixels(args.dataset, args.samples, args.image_size)
    n_images = len(pixels) * len(SEVERITIES)  # images produced per sweep of one perturbation

    runs: dict[str, list[float]] = {}  # seconds per sweep, per perturbation
    for name in names:
        perturb_images(name, pixels[:8].to(device), 3)  # warm-up (kernel caches, lazy imports)
        runs[name] = [sweep(name, pixels, args.batch_size, device) for _ in range(args.repeats)]
    results = {
        name: {
            "seconds_best": min(seconds),
            "images_per_s": n_images / min(seconds),
            "runs_images_per_s": [n_images / s for s in seconds],
        }
        for name, seconds in runs.items()
    }
    total_seconds = sum(min(seconds) for seconds in runs.values())
    report: dict[str, object] = {
        "dataset": args.dataset,
        "image_shape": list(pixels.shape[1:]),
        "samples": len(pixels),
        "severities": list(SEVERITIES),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "perturbations": results,
        "overall_images_per_s": n_images * len(names) / total_seconds,
        "overall_seconds": total_seconds,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return report
    c, h, w = pixels.shape[1:]
    print(
        f"{len(names)} perturbations × {len(SEVERITIES)} severities × {len(pixels)} {args.dataset} images "
        f"({c}×{h}×{w}), batch {args.batch_size}, best of {args.repeats}, {describe_device(device)}"
    )
    print(f"{'perturbation':<16}{'images/s':>12}   runs")
    for name, seconds in runs.items():
        shown = ", ".join(f"{n_images / s:.0f}" for s in seconds)
        print(f"{name:<16}{n_images / min(seconds):>12.0f}   {shown}")
    print(f"{'overall':<16}{report['overall_images_per_s']:>12.0f}   ({total_seconds:.2f} s for the whole sweep)")
    return report


if __name__ == "__main__":
    main()
