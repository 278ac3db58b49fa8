"""Explanation speed and memory: the playground's ``explain`` against direct Captum calls.

Integrated Gradients (50 and 200 steps) and Grad-CAM on torchvision's ResNet-18 (random init: no
download) at 224×224, on ``assets/samples/cat.jpg``. Both sides get the same settings: raw pixels
in [0, 1] with the model's normalization inside the explained function (``PixelSpaceModel``), the
same target class, a black baseline, Captum's default Gauss-Legendre rule with the convergence
delta, ``internal_batch_size=16`` (what the playground picks for a 224×224 RGB input), and for
Grad-CAM ``LayerGradCam`` on ``layer4`` with ReLU and bilinear upsampling to 224×224. The pixels
are channels-last in memory as PIL decodes them, on both sides (a baseline in NCHW beside them
cost the playground ~10-20 % until its baselines kept the pixels' format).

The playground adds: input checks, a runtime copy of the model (shared weights, new modules), the
choice of the Grad-CAM layer (cached after the first call per model and input shape), progress
and stop checks on every forward pass, CUDA out-of-memory retries, and a result with the target's
probability.

Time: after one untimed warm-up of each, the repeats alternate direct / playground; best and
median seconds, by the wall clock and by the process's CPU time (the steadier of the two on a
machine shared with other jobs), and their ratios (target: playground / direct <= 1.1). Memory: one more
call of each while a thread samples the process's resident memory every millisecond (CPU), or
``torch.cuda.max_memory_allocated`` (CUDA); reported as the peak above the level before the call.
``--unbatched`` adds Captum's IG without ``internal_batch_size`` (all steps in one batch), the
setting that took +4.4 GB at 200 steps in the issue.

Usage::

    python bench/bench_explain.py [--repeats 3] [--steps 50,200] [--device auto] [--threads N] [--unbatched] [--json]

This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from playground.bundle import create_bundle
from playground.core.device import describe_device, pick_device
from playground.explain import ExplainParams, explain
from playground.modalities.image.decode import decode_image
from playground.modalities.image.pixel_space import PixelSpaceModel

CAT = Path(__file__).resolve().parents[1] / "assets" / "samples" / "cat.jpg"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    """Resident memory of this process in bytes (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(fn: Callable[[], object], device: torch.device) -> float:
    """Peak memory above the level before the call, in MiB (one call)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    before = _rss()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    peak = max(peak, _rss())
    return (peak - before) / 2**20


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """``(wall seconds, CPU seconds of this process)`` for one call."""
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def _summary(ours: list[float], direct: list[float]) -> dict[str, Any]:
    return {
        "direct_s": {"best": min(direct), "median": statistics.median(direct), "runs": direct},
        "playground_s": {"best": min(ours), "median": statistics.median(ours), "runs": ours},
        # Best-of-N is the least disturbed by other load on the machine; the median is shown too.
        "ratio_best": min(ours) / min(direct),
        "ratio_median": statistics.median(ours) / statistics.median(direct),
    }


def compare(
    name: str, ours: Callable[[], object], direct: Callable[[], object], repeats: int, device: torch.device
) -> dict[str, Any]:
    ours()  # warm-up: allocator, kernels, lazy imports, the Grad-CAM layer cache
    direct()
    ours_t, direct_t = [], []
    for _ in range(repeats):
        direct_t.append(timed(direct, device))
        ours_t.append(timed(ours, device))
    return {
        "case": name,
        "wall": _summary([w for w, _ in ours_t], [w for w, _ in direct_t]),
        # CPU time of the process: the work done, much less disturbed by other jobs on a busy machine.
        "cpu": _summary([c for _, c in ours_t], [c for _, c in direct_t]),
        "direct_peak_mib": peak_memory(direct, device),
        "playground_peak_mib": peak_memory(ours, device),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", default="50,200", help="comma-separated IG step counts")
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--unbatched", action="store_true", help="also run Captum's IG without internal batching")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    torch.manual_seed(0)
    bundle = create_bundle("resnet18", weights=None)  # 1000 classes, 224×224, random init
    bundle.model.to(device).eval()
    pixels = bundle.preprocessing.pixels_from_pil(decode_image(CAT.read_bytes(), CAT.name)).to(device)  # (3, 224, 224)
    x = pixels[None]  # (1, 3, 224, 224)
    net = PixelSpaceModel.from_bundle(bundle).eval()
    with torch.no_grad():
        target = int(net(x).argmax())

    rows = []
    for steps in [int(s) for s in args.steps.split(",") if s.strip()]:
        params = ExplainParams(n_steps=steps, delta_tolerance=None)  # exactly these steps, as Captum

        def ours(params: ExplainParams = params) -> object:
            return explain(bundle, pixels, "integrated_gradients", target=target, params=params)

        def direct(steps: int = steps, batch: int | None = 16) -> object:
            return IntegratedGradients(net).attribute(
                x.clone().requires_grad_(True),
                baselines=torch.zeros_like(x),
                target=target,
                n_steps=steps,
                internal_batch_size=batch,
                return_convergence_delta=True,
            )

        rows.append(compare(f"IG {steps} steps", ours, direct, args.repeats, device))
        if args.unbatched:
            rows[-1]["captum_unbatched_s"] = timed(lambda steps=steps: direct(steps, None), device)[0]
            rows[-1]["captum_unbatched_peak_mib"] = peak_memory(lambda steps=steps: direct(steps, None), device)

    def ours_cam() -> object:
        return explain(bundle, pixels, "grad_cam", target=target)

    def direct_cam() -> object:
        cam = LayerGradCam(net, bundle.model.layer4).attribute(x, target=target, relu_attributions=True)
        return LayerAttribution.interpolate(cam, (224, 224), interpolate_mode="bilinear")

    rows.append(compare("Grad-CAM", ours_cam, direct_cam, max(args.repeats, 5), device))
    first = explain(bundle, pixels, "grad_cam", target=target)
    report: dict[str, Any] = {
        "model": "resnet18 (torchvision, random init), 224x224, assets/samples/cat.jpg",
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "grad_cam_layer": first.details["layer"],
        "cases": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return report
    print(f"ResNet-18 (random init) at 224x224, target {target}, {report['device']}, best of {args.repeats}+")
    print(
        f"{'case':<14}{'clock':<6}{'direct s':>10}{'(median)':>10}{'ours s':>10}{'(median)':>10}{'ratio':>8}"
        f"{'(median)':>10}{'direct MiB':>12}{'ours MiB':>10}"
    )
    for r in rows:
        for clock in ("wall", "cpu"):
            t = r[clock]
            d, o = t["direct_s"], t["playground_s"]
            memory = f"{r['direct_peak_mib']:>12.0f}{r['playground_peak_mib']:>10.0f}" if clock == "wall" else ""
            print(
                f"{r['case'] if clock == 'wall' else '':<14}{clock:<6}{d['best']:>10.3f}{d['median']:>10.3f}"
                f"{o['best']:>10.3f}{o['median']:>10.3f}{t['ratio_best']:>8.3f}{t['ratio_median']:>10.3f}{memory}"
            )
        if "captum_unbatched_s" in r:
            print(
                f"{'':<14}Captum without internal_batch_size: {r['captum_unbatched_s']:.2f} s, "
                f"+{r['captum_unbatched_peak_mib']:.0f} MiB"
            )
    print("ratio = playground time / direct Captum time (target <= 1.1); MiB = peak above the level before the call")
    return report


if __name__ == "__main__":
    main()
