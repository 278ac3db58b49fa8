"""Command line for scripting and checking; the same library the app uses.

    python -m playground models [--json]
    python -m playground datasets [--json]
    python -m playground train --model lenet5 --dataset mnist --epochs 8 [--json]
    python -m playground train --model lstm --dataset bbc_news [--tokenizer word --vocab-size 20000 --max-length 128] [--json]
    python -m playground predict --model efficientnet_lite0 --input cat.jpg --top-k 5 [--json]
    python -m playground predict --model runs/lstm-bbc_news-... --text "Shares rose after the results" [--json]
    python -m playground robustness --model M --dataset mnist --perturbation gaussian_noise --severities 0,1,2,3,4,5 --samples 200
    python -m playground attack --model M --input digit.png --method pgd --epsilon 8 [--json]   (ε in 1/255 units)
    python -m playground rnn-states --model M --text "(()())" [--layer L] [--json]
    python -m playground explain --model M (--input FILE | --text "...") --method integrated_gradients [--json] [--out map.png]

Bad input ends with exit status 2 and one line starting with ``error:`` (no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from playground.cli import attention, explain, rnn_states
from playground.cli.common import EXIT_USAGE, _print, load_model, read_input_file


def cmd_models(args: argparse.Namespace) -> int:
    from playground.models import MODELS

    rows = []
    for name, spec in MODELS.items():
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "modality": spec.modality,
                "input": {"channels": spec.in_channels, "image_size": spec.image_size},
                "num_classes": spec.num_classes,
                "defaults": spec.defaults,
                "weights": list(spec.weights),
                "default_weights": spec.default_weights,
                "source": spec.source,
                "description": spec.description,
            }
        )
    text = "\n".join(f"{r['name']:<20} {r['family']:<6} {r['description']}" for r in rows)
    _print(rows, args.json, text)
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from playground.data import DATASETS

    rows = []
    for name, spec in DATASETS.items():
        rows.append(
            {
                "name": name,
                "modality": spec.modality,
                "num_classes": spec.num_classes,
                "channels": spec.channels,
                "image_size": spec.image_size,
                "offline": bool(spec.offline()),
                "source": spec.source,
                "description": spec.description,
            }
        )
    text = "\n".join(
        f"{r['name']:<15} {'offline' if r['offline'] else 'online only':<12} {r['description']}" for r in rows
    )
    _print(rows, args.json, text)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from playground.bundle.runs import new_run_folder
    from playground.data import load_dataset, split_dataset
    from playground.training import train
    from playground.training.setup import bundle_for_split, tokenizer_options_for, train_config_for

    if args.model == "transformer_seq2seq":
        return _train_seq2seq(args)
    options: dict[str, Any] = {}
    if args.data_path:
        data_path = Path(args.data_path)
        if data_path.suffix.lower() == ".zip" and data_path.is_file():
            options["zip_bytes"] = data_path.read_bytes()
        else:
            options["path"] = data_path
    dataset = load_dataset(args.dataset, **options)
    config = train_config_for(
        args.dataset,
        args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        device=args.device,
    )
    split = split_dataset(dataset, config.val_fraction, config.seed)
    tokenizer = tokenizer_options_for(
        args.dataset, kind=args.tokenizer, vocab_size=args.vocab_size, max_length=args.max_length
    )
    bundle = bundle_for_split(args.model, split, weights=args.weights, tokenizer=tokenizer, seed=config.seed)

    def on_epoch(record: Any) -> None:
        if not args.json:
            print(
                f"epoch {record.epoch}: train loss {record.train_loss:.4f} acc {record.train_accuracy:.3f} | "
                f"val loss {record.val_loss:.4f} acc {record.val_accuracy:.3f} | {record.samples_per_s:.0f} samples/s",
                file=sys.stderr,
            )

    result = train(bundle, split, config, on_epoch=on_epoch)
    out = Path(args.out) if args.out else new_run_folder(bundle)
    bundle.save(out)
    summary = {"checkpoint": str(out), **result.metrics}
    text = f"saved {out}\n" + "\n".join(f"{k}: {v}" for k, v in result.metrics.items())
    _print(summary, args.json, text)
    return 0


def _train_seq2seq(args: argparse.Namespace) -> int:
    """``train --model transformer_seq2seq --dataset reverse|sort|copy|add``: a string task, generated."""
    from playground.bundle.runs import new_run_folder
    from playground.modalities.seq2seq.tasks import TASKS
    from playground.training.seq2seq import train_seq2seq

    if args.dataset not in TASKS:
        raise ValueError(f"transformer_seq2seq trains on a string task: --dataset one of {', '.join(TASKS)}")

    def on_epoch(record: dict[str, Any]) -> None:
        if not args.json:
            print(
                f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} | val token acc "
                f"{record['val_token_accuracy']:.3f}, sequence acc {record['val_sequence_accuracy']:.3f}",
                file=sys.stderr,
            )

    bundle = train_seq2seq(
        args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed if args.seed is not None else 0,
        device=args.device or "auto",
        on_epoch=on_epoch,
    )
    out = Path(args.out) if args.out else new_run_folder(bundle)
    bundle.save(out)
    summary = {"checkpoint": str(out), **bundle.card.metrics}
    _print(summary, args.json, f"saved {out}\n" + "\n".join(f"{k}: {v}" for k, v in bundle.card.metrics.items()))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from playground.inspection.predict import predict_image, predict_text
    from playground.modalities.image.decode import decode_image
    from playground.modalities.text.clean import decode_text_file

    if (args.input is None) == (args.text is None):
        raise ValueError("give exactly one of --input FILE and --text TEXT")
    bundle = load_model(args.model)
    summary: dict[str, Any] = {"model": bundle.title}
    if bundle.modality == "seq2seq":
        from playground.training.seq2seq import translate

        if args.input is not None:
            source, data = read_input_file(args.input)
            args.text = decode_text_file(data, source.name).strip()
        result = translate(bundle, args.text)
        _print({**summary, "source": result.source, "output": result.output}, args.json, result.output)
        return 0
    if args.input is not None:
        source, data = read_input_file(args.input)
        summary["input"] = str(source)
        if bundle.modality == "text":
            text_input: str | None = decode_text_file(data, source.name)
        else:
            text_input = None
            prediction = predict_image(bundle, decode_image(data, source.name), top_k=args.top_k)
    else:
        text_input = args.text
    if text_input is not None:
        text_prediction = predict_text(bundle, text_input, top_k=args.top_k)
        prediction = text_prediction.prediction
        summary["tokens"] = text_prediction.encoded.tokens
        summary["num_dropped_tokens"] = text_prediction.encoded.num_dropped
    rows = [{"label": t.label, "index": t.index, "probability": t.probability} for t in prediction.top_k]
    text = "\n".join(f"{r['probability']:7.2%}  {r['label']} ({r['index']})" for r in rows)
    _print({**summary, "top_k": rows}, args.json, text)
    return 0


def _parse_severities(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--severities expects numbers separated by commas, got {text!r}") from None
    if not values:
        raise ValueError("--severities is empty")
    return values


def cmd_robustness(args: argparse.Namespace) -> int:
    from playground.data import load_dataset, split_dataset
    from playground.robustness.sweep import sample_indices, sweep

    if args.samples < 1:
        raise ValueError(f"--samples must be at least 1, got {args.samples}")
    bundle = load_model(args.model)
    dataset = load_dataset(args.dataset)
    if len(dataset.classes) != len(bundle.labels):
        raise ValueError(f"the model has {len(bundle.labels)} classes but {args.dataset} has {len(dataset.classes)}")
    images, targets = split_dataset(dataset, args.val_fraction, args.split_seed).val_tensors()
    keep = sample_indices(len(images), min(args.samples, len(images)), args.seed)
    perturbations = [p.strip() for p in args.perturbation.split(",") if p.strip()]

    def progress(done: int, total: int, message: str = "") -> None:
        if not args.json:
            print(f"\r{done}/{total} batches", end="", file=sys.stderr, flush=True)

    result = sweep(
        bundle,
        images[keep],
        targets[keep],
        perturbations,
        _parse_severities(args.severities),
        seed=args.seed,
        on_progress=progress,
    )
    if not args.json:
        print(file=sys.stderr)
    rows = result.to_rows()
    text = "\n".join(
        f"{r['perturbation']:<16} severity {r['severity']:>4g}  accuracy {r['accuracy']:.3f}  "
        f"confidence {r['mean_true_confidence']:.3f}  flip rate {r['flip_rate']:.3f}"
        for r in rows
    )
    summary = {
        "model": bundle.title,
        "dataset": args.dataset,
        "samples": result.n,
        "clean_accuracy": result.clean_accuracy,
        "points": rows,
    }
    _print(summary, args.json, f"clean accuracy {result.clean_accuracy:.3f} on {result.n} images\n{text}")
    return 0


def cmd_attack(args: argparse.Namespace) -> int:
    from playground.modalities.image.decode import decode_image
    from playground.robustness.attacks import AttackConfig, attack

    bundle = load_model(args.model)
    source, data = read_input_file(args.input)
    image = decode_image(data, source.name)
    pixels = bundle.image_preprocessing.pixels_from_pil(image).unsqueeze(0)  # (1, C, H, W) in [0, 1]
    config = AttackConfig(
        method=args.method,
        epsilon_255=args.epsilon,
        norm=args.norm,
        steps=args.steps,
        targeted=args.target is not None,
        target_class=args.target,
    )
    result = attack(bundle, pixels, None, config)
    if args.out:
        from PIL import Image

        from playground.figures.viz import to_display

        array = (to_display(result.adversarial[0]) * 255).round().astype("uint8")  # (H, W[, 3])
        Image.fromarray(array).save(args.out, format="PNG")
    clean, adv = int(result.clean_pred[0]), int(result.adv_pred[0])
    out = {
        "model": bundle.title,
        "method": args.method,
        "norm": args.norm,
        "epsilon_255": args.epsilon,
        "clean": {"label": bundle.labels[clean], "index": clean, "probability": float(result.clean_probs[0, clean])},
        "adversarial": {"label": bundle.labels[adv], "index": adv, "probability": float(result.adv_probs[0, adv])},
        "success": bool(result.success[0]),
        "linf_255": float(result.linf[0]) * 255,
        "l2": float(result.l2[0]),
        "output": args.out,
    }
    text = (
        f"{args.method} {args.norm} ε={args.epsilon:g}/255: {out['clean']['label']} → {out['adversarial']['label']} "
        f"({'success' if out['success'] else 'the model held'}; L∞ = {out['linf_255']:.2f}/255)"
    )
    _print(out, args.json, text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playground", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the model architectures")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("datasets", help="list the datasets and whether they are available offline")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("train", help="train a model on a dataset and save the checkpoint")
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-path", help="folder (or .zip) of class-named sub-folders (dataset 'folder')")
    p.add_argument("--weights", default=None, help="start from pretrained weights, e.g. imagenet")
    # Training settings default to the dataset's own (registry train_defaults), then TrainConfig's.
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=None)
    p.add_argument("--val-fraction", type=float, default=None)
    p.add_argument("--device", default=None, choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--tokenizer", choices=["word", "bpe", "wordpiece", "char"], default=None, help="text datasets")
    p.add_argument("--vocab-size", type=int, default=None, help="text datasets: most tokens to keep")
    p.add_argument("--max-length", type=int, default=None, help="text datasets: most tokens per text")
    p.add_argument("--out", help="checkpoint folder (default: runs/<model>-<dataset>-<time>)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="classify an image or a text")
    p.add_argument("--model", required=True, help="registry name or checkpoint folder")
    p.add_argument("--input", help="image file, or .txt file for a text model")
    p.add_argument("--text", help="text to classify (text models)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("robustness", help="accuracy under perturbations at several severities")
    p.add_argument("--model", required=True, help="registry name or checkpoint folder")
    p.add_argument("--dataset", required=True)
    p.add_argument("--perturbation", required=True, help="one or more names, separated by commas")
    p.add_argument("--severities", default="0,1,2,3,4,5")
    p.add_argument("--samples", type=int, default=200, help="validation images to use")
    p.add_argument("--val-fraction", type=float, default=0.1, help="the validation split (as in train)")
    p.add_argument("--split-seed", type=int, default=0, help="the split's seed (as in train)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_robustness)

    p = sub.add_parser("attack", help="FGSM / PGD adversarial attack on one image")
    p.add_argument("--model", required=True, help="registry name or checkpoint folder")
    p.add_argument("--input", required=True, help="image file")
    p.add_argument("--method", choices=["fgsm", "pgd"], default="pgd")
    p.add_argument("--epsilon", type=float, default=8.0, help="budget in 1/255 pixel units")
    p.add_argument("--norm", choices=["Linf", "L2"], default="Linf")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--target", type=int, default=None, help="class index for a targeted attack")
    p.add_argument("--out", help="write the adversarial image here (saved as PNG: lossless, keeps the attack)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_attack)

    # The commands with many options have their own modules.
    rnn_states.add_parser(sub)
    explain.add_parser(sub)
    attention.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError) as exc:
        message = " ".join(str(exc).split())  # one line
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
