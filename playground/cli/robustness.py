"""``python -m playground robustness``: accuracy under perturbations at several severities.

    python -m playground robustness --model M --dataset mnist --perturbations gaussian_noise,rotation \\
        --severities 0,1,2,3,4,5 --samples 200 [--json]
    python -m playground robustness --model M --dataset mnist --attack pgd --epsilons 0,2,4,8,16 [--norm L2] [--json]
    python -m playground robustness --model assets/checkpoints/audio_cnn-fsdd --dataset fsdd \
        --perturbations white_noise,reverb --samples 200 [--json]

The images (or clips) are a sample of the validation split that ``train`` uses (``--val-fraction``,
``--split-seed``; a dataset's own test split, such as FSDD's, where it has one). An audio model on
an audio dataset is swept with the audio perturbations
(:func:`playground.robustness.audio_sweep.audio_sweep`); each row gives the severity's level too
(``level``, ``unit``: e.g. an SNR in dB).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from playground.cli.common import add_json_argument, add_model_argument, load_model, print_result

IMAGE_EPSILONS = "0,2,4,8,16"  # 1/255 pixel units
AUDIO_EPSILONS = "0,0.0005,0.001,0.002,0.005"  # amplitude: 0.002 is about 40 dB below a full-scale clip


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``robustness`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "robustness", help="accuracy under perturbations at several severities"
    )
    add_model_argument(p)
    p.add_argument("--dataset", required=True)
    perturbations = p.add_mutually_exclusive_group(required=True)
    perturbations.add_argument("--perturbations", help="one or more perturbation names, separated by commas")
    perturbations.add_argument(
        "--attack", choices=["fgsm", "pgd"], help="instead of perturbations: robust accuracy under this attack"
    )
    perturbations.add_argument(  # the earlier name
        "--perturbation", dest="perturbations", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    p.add_argument("--severities", default="0,1,2,3,4,5", help="severities (0-5), separated by commas")
    p.add_argument(
        "--epsilons",
        default=None,
        help="--attack: budgets ε separated by commas; images in 1/255 (default 0,2,4,8,16), audio on the "
        "waveform's [-1, 1] amplitude scale (default 0,0.0005,0.001,0.002,0.005)",
    )
    p.add_argument("--norm", choices=["Linf", "L2"], default="Linf", help="--attack: the norm of ε (PGD)")
    p.add_argument("--steps", type=int, default=20, help="--attack pgd: iterations")
    p.add_argument("--samples", type=int, default=200, help="validation images to use")
    p.add_argument("--val-fraction", type=float, default=0.1, help="the validation split (as in train)")
    p.add_argument("--split-seed", type=int, default=0, help="the split's seed (as in train)")
    p.add_argument("--seed", type=int, default=0)
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def parse_severities(text: str, flag: str = "--severities") -> list[float]:
    """``"0,1,2"`` -> ``[0.0, 1.0, 2.0]`` (``flag`` names the option in the error).

    Raises:
        ValueError: a value that is not a number, or none at all.
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{flag} expects numbers separated by commas, got {text!r}") from None
    if not values:
        raise ValueError(f"{flag} is empty")
    return values


def run(args: argparse.Namespace) -> int:
    """Sweep the perturbations and print one point per (perturbation, severity); returns the exit status (0).

    Raises:
        ValueError: ``--samples`` below 1, a model whose classes differ from the dataset's, an
            unknown perturbation or severity.
    """
    from playground.data import load_dataset, split_dataset
    from playground.robustness.sweep import sample_indices, sweep

    if args.samples < 1:
        raise ValueError(f"--samples must be at least 1, got {args.samples}")
    bundle = load_model(args.model)
    dataset = load_dataset(args.dataset)
    if len(dataset.classes) != len(bundle.labels):
        raise ValueError(f"the model has {len(bundle.labels)} classes but {args.dataset} has {len(dataset.classes)}")
    if bundle.modality == "audio":
        return _run_audio(args, bundle, dataset)
    images, targets = split_dataset(dataset, args.val_fraction, args.split_seed).val_tensors()
    keep = sample_indices(len(images), min(args.samples, len(images)), args.seed)
    if args.attack is not None:
        return _run_attacks(args, bundle, images[keep], targets[keep])
    perturbations = [p.strip() for p in args.perturbations.split(",") if p.strip()]
    result = sweep(
        bundle,
        images[keep],
        targets[keep],
        perturbations,
        parse_severities(args.severities),
        seed=args.seed,
        on_progress=_progress(args),
    )
    if not args.json:
        print(file=sys.stderr)
    return _print_sweep(args, bundle, result, result.to_rows(), "images")


def _print_sweep(args: argparse.Namespace, bundle: Any, result: Any, rows: list[dict[str, Any]], what: str) -> int:
    """Print a sweep's points (text, or the JSON summary); returns the exit status (0)."""
    text = "\n".join(
        f"{r['perturbation']:<16} severity {r['severity']:>4g}  accuracy {r['accuracy']:.3f}  "
        f"confidence {r['mean_true_confidence']:.3f}  flip rate {r['flip_rate']:.3f}"
        + (f"  (level {r['level']:g}: {r['unit']})" if "level" in r else "")
        for r in rows
    )
    summary = {
        "model": bundle.title,
        "dataset": args.dataset,
        "samples": result.n,
        "clean_accuracy": result.clean_accuracy,
        "points": rows,
    }
    print_result(summary, args.json, f"clean accuracy {result.clean_accuracy:.3f} on {result.n} {what}\n{text}")
    return 0


def _progress(args: argparse.Namespace) -> Any:
    """The sweep's progress callback: a counter on stderr (nothing with ``--json``)."""

    def progress(done: int, total: int, message: str = "") -> None:
        if not args.json:
            print(f"\r{done}/{total} batches", end="", file=sys.stderr, flush=True)

    return progress


def _run_audio(args: argparse.Namespace, bundle: Any, dataset: Any) -> int:
    """An audio model on an audio dataset: the audio perturbations swept on validation clips; each
    row also gives the severity's ``level`` and its ``unit`` (an SNR in dB, a gain in dB, ...).

    With ``--attack``: robust accuracy at each ε on the waveform's amplitude scale
    (:func:`playground.robustness.audio_attacks.amplitude_robust_accuracy`), each row with the
    median SNR of its perturbations.

    Raises:
        ValueError: a dataset that is not audio, an unknown or non-audio perturbation, a severity
            outside [0, 5], an ε outside [0, 2] or ``--norm L2`` with ``--attack``.
    """
    from playground.data import AudioDataset
    from playground.robustness.audio_sweep import audio_sweep, validation_clips
    from playground.robustness.perturbations.base import PERTURBATIONS

    if not isinstance(dataset, AudioDataset):
        raise ValueError(f"{bundle.title} is an audio model but {args.dataset} is not an audio dataset")
    clips, targets = validation_clips(
        dataset, args.samples, args.seed, val_fraction=args.val_fraction, split_seed=args.split_seed
    )
    if args.attack is not None:
        return _run_audio_attacks(args, bundle, clips, targets)
    perturbations = [p.strip() for p in args.perturbations.split(",") if p.strip()]
    result = audio_sweep(
        bundle,
        clips,
        targets,
        perturbations,
        parse_severities(args.severities),
        seed=args.seed,
        on_progress=_progress(args),
    )
    if not args.json:
        print(file=sys.stderr)
    rows = result.to_rows()
    for row in rows:  # the registry knows every name the sweep accepted
        spec = PERTURBATIONS.get(row["perturbation"])
        row["level"], row["unit"] = spec.level(row["severity"]), spec.unit
    return _print_sweep(args, bundle, result, rows, "clips")


def _run_audio_attacks(args: argparse.Namespace, bundle: Any, clips: Any, targets: Any) -> int:
    """``--attack`` on an audio model: one row per ε (amplitude), in the sweep's schema."""
    from playground.robustness.audio_attacks import amplitude_robust_accuracy

    if args.norm != "Linf":
        raise ValueError("an audio model is attacked in L∞ on its waveform: drop --norm L2")
    epsilons = sorted({0.0, *parse_severities(args.epsilons or AUDIO_EPSILONS, "--epsilons")})
    points = amplitude_robust_accuracy(
        bundle, clips, targets, epsilons, method=args.attack, steps=args.steps, on_progress=_progress(args)
    )
    if not args.json:
        print(file=sys.stderr)
    name = f"{args.attack} Linf"
    rows: list[dict[str, Any]] = [
        {
            "model": bundle.title,
            "perturbation": name,
            "severity": p.epsilon,
            "accuracy": p.accuracy,
            "mean_true_confidence": p.mean_true_confidence,
            "flip_rate": p.flip_rate,
            "n": len(clips),
            "level": p.epsilon,
            "unit": "L∞ budget on the waveform's [-1, 1] amplitude scale",
            "median_snr_db": p.median_snr_db,
        }
        for p in points
    ]
    text = "\n".join(
        f"{name} ε {r['severity']:>7g}  accuracy {r['accuracy']:.3f}"
        + (f"  (median SNR {r['median_snr_db']:.1f} dB)" if r["median_snr_db"] is not None else "")
        for r in rows
    )
    summary = {
        "model": bundle.title,
        "dataset": args.dataset,
        "samples": len(clips),
        "clean_accuracy": points[0].accuracy,
        "points": rows,
    }
    print_result(summary, args.json, f"clean accuracy {points[0].accuracy:.3f} on {len(clips)} clips\n{text}")
    return 0


def _run_attacks(args: argparse.Namespace, bundle: Any, images: Any, targets: Any) -> int:
    """``--attack``: robust accuracy at each ε (:mod:`playground.robustness.robust_curve`), printed with
    the corruption sweep's schema: the attack and its norm as the ``perturbation``, ε in 1/255 as the
    ``severity``; ``clean_accuracy`` is the ε = 0 point (measured first, whether asked for or not)."""
    from playground.robustness.robust_curve import robust_accuracy

    epsilons = sorted({0.0, *parse_severities(args.epsilons or IMAGE_EPSILONS, "--epsilons")})
    pixels = bundle.image_preprocessing.pixels_from_batch(images)  # (n, C, H, W) in [0, 1]

    def progress(done: int, total: int, message: str = "") -> None:
        if not args.json:
            print(f"\r{done}/{total} budgets: {message}", end="", file=sys.stderr, flush=True)

    curve = robust_accuracy(
        bundle, pixels, targets, epsilons, method=args.attack, norm=args.norm, steps=args.steps, on_progress=progress
    )
    if not args.json:
        print(file=sys.stderr)
    name = f"{args.attack} {args.norm}"
    rows = [
        {
            "model": bundle.title,
            "perturbation": name,
            "severity": p.epsilon_255,
            "accuracy": p.accuracy,
            "mean_true_confidence": p.mean_true_confidence,
            "flip_rate": p.flip_rate,
            "n": curve.n,
        }
        for p in curve.points
    ]
    clean = curve.points[0].accuracy  # ε = 0
    text = "\n".join(f"{name} ε {r['severity']:>5g}/255  accuracy {r['accuracy']:.3f}" for r in rows)
    summary = {
        "model": bundle.title,
        "dataset": args.dataset,
        "samples": curve.n,
        "clean_accuracy": clean,
        "points": rows,
    }
    print_result(summary, args.json, f"clean accuracy {clean:.3f} on {curve.n} images\n{text}")
    return 0
