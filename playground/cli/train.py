"""``python -m playground train``: train a model on a dataset and save the checkpoint.

    python -m playground train --model lenet5 --dataset mnist --epochs 8 [--json]
    python -m playground train --model lstm --dataset bbc_news [--tokenizer word --vocab-size 20000 --max-length 128] [--json]
    python -m playground train --model transformer_seq2seq --dataset reverse [--json]
    python -m playground train --model audio_cnn --dataset fsdd [--dataset-option split=speaker:george] [--json]

Training settings left out default to the dataset's own (registry ``train_defaults``), then
:class:`~playground.training.config.TrainConfig`'s. Progress goes to stderr, one line per epoch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from playground.cli.common import add_json_argument, print_result


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train", help="train a model on a dataset and save the checkpoint"
    )
    p.add_argument("--model", required=True, help="registry name of the architecture")
    p.add_argument("--dataset", required=True)
    p.add_argument("--data-path", help="folder of class-named sub-folders (datasets 'folder' and 'audio_folder')")
    p.add_argument(
        "--dataset-option",
        action="append",
        metavar="KEY=VALUE",
        help="a loader option, repeatable, e.g. split=speaker:george (dataset fsdd)",
    )
    p.add_argument(
        "--hparam",
        action="append",
        metavar="KEY=VALUE",
        help="a model hyper-parameter, repeatable, e.g. channels=32 or features=mfcc",
    )
    p.add_argument("--weights", default=None, help="start from pretrained weights, e.g. imagenet")
    # Training settings default to the dataset's own (registry train_defaults), then TrainConfig's.
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=None)
    p.add_argument("--val-fraction", type=float, default=None)
    p.add_argument(
        "--augment-audio",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="audio datasets: shift, gain, noise and SpecAugment masks (default: the dataset's)",
    )
    p.add_argument("--device", default=None, choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--tokenizer", choices=["word", "bpe", "wordpiece", "char"], default=None, help="text datasets")
    p.add_argument("--vocab-size", type=int, default=None, help="text datasets: most tokens to keep")
    p.add_argument("--max-length", type=int, default=None, help="text datasets: most tokens per text")
    p.add_argument("--out", help="checkpoint folder (default: runs/<model>-<dataset>-<time>)")
    p.add_argument(
        "--nproc-per-node",
        type=int,
        default=1,
        help="processes on this machine: above 1, data-parallel (torchrun, DDP)",
    )
    p.add_argument("--nnodes", type=int, default=1, help="machines in a data-parallel run")
    p.add_argument("--node-rank", type=int, default=0, help="this machine's index, 0 .. nnodes - 1")
    p.add_argument("--rdzv-endpoint", default=None, help="host:port of node 0, for a run on several machines")
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Train, save the checkpoint and print its folder and metrics; returns the exit status (0).

    The run goes through the same :class:`~playground.runner.spec.RunSpec` and
    :func:`~playground.runner.execute.execute` as a worker process, in this process.

    Raises:
        ValueError: an unknown model or dataset, a dataset that is not available, a setting out of range.
    """
    from playground.bundle.runs import new_run_folder
    from playground.runner.execute import execute

    spec = _spec(args)
    if spec.world_size > 1:
        return _run_distributed(spec, args)
    outcome = execute(spec, on_epoch=None if args.json else _print_epoch)
    out = Path(args.out) if args.out else new_run_folder(outcome.bundle)
    outcome.bundle.save(out)
    _print_summary(out, outcome.metrics, args.json)
    return 0


def _spec(args: argparse.Namespace) -> Any:
    """The :class:`~playground.runner.spec.RunSpec` the flags ask for (defaults filled in)."""
    from playground.cli.common import key_values
    from playground.modalities.seq2seq.tasks import TASKS
    from playground.runner.spec import SEQ2SEQ_MODEL, RunSpec

    settings = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    settings["device"] = args.device
    distributed = {
        "nproc_per_node": args.nproc_per_node,
        "nnodes": args.nnodes,
        "node_rank": args.node_rank,
        "rdzv_endpoint": args.rdzv_endpoint,
    }
    if args.model == SEQ2SEQ_MODEL:
        if args.dataset not in TASKS:
            raise ValueError(f"transformer_seq2seq trains on a string task: --dataset one of {', '.join(TASKS)}")
        return RunSpec.resolve(args.model, args.dataset, nproc_per_node=args.nproc_per_node, **settings)
    return RunSpec.resolve(
        args.model,
        args.dataset,
        weights=args.weights,
        tokenizer={"kind": args.tokenizer, "vocab_size": args.vocab_size, "max_length": args.max_length},
        hparams=key_values(args.hparam, "--hparam"),
        dataset_options={
            **key_values(args.dataset_option, "--dataset-option"),
            **({"path": args.data_path} if args.data_path else {}),
        },
        optimizer=args.optimizer,
        val_fraction=args.val_fraction,
        augment_audio=args.augment_audio,
        **distributed,
        **settings,
    )


def _run_distributed(spec: Any, args: argparse.Namespace) -> int:
    """A data-parallel run: torchrun starts the worker's processes in the foreground; rank 0 writes a run folder.

    Raises:
        ValueError: the run failed (the message holds the error and the log's last lines).
    """
    import subprocess
    import time

    from playground.bundle import default_runs_dir, load_bundle
    from playground.runner.folder import LOG_FILE, RunFolder
    from playground.runner.launcher import worker_command

    run = RunFolder.create(default_runs_dir(), spec)
    run.write_status("running", pid=None)
    printed = 0
    with open(run.path / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(worker_command(run), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while proc.poll() is None:
            time.sleep(0.5)
            epochs = run.epochs()
            for record in epochs[printed:]:
                if not args.json:
                    _print_epoch(record, None)
            printed = len(epochs)
    if spec.node_rank > 0:  # the global rank 0, on node 0, writes the run folder and the checkpoint
        if proc.returncode != 0:
            raise ValueError(f"this node's processes failed (exit status {proc.returncode}):\n{run.log_tail()}")
        print_result({"checkpoint": ""}, args.json, f"node {spec.node_rank} done; node 0 holds the checkpoint")
        return 0
    state = run.status()
    checkpoint = run.checkpoint()
    if state.get("status") not in ("done", "stopped") or checkpoint is None:
        raise ValueError(f"the data-parallel run failed ({state.get('error', 'no final status')}):\n{run.log_tail()}")
    if args.out:
        load_bundle(checkpoint).save(Path(args.out))
        checkpoint = Path(args.out)
    _print_summary(checkpoint, dict(state.get("metrics") or {}), args.json)
    return 0


def _print_epoch(record: dict[str, Any], bundle: Any) -> None:
    """One line per epoch on stderr (classification or seq2seq records)."""
    if "val_accuracy" in record:
        line = (
            f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} acc {record['train_accuracy']:.3f} | "
            f"val loss {record['val_loss']:.4f} acc {record['val_accuracy']:.3f} | {record['samples_per_s']:.0f} samples/s"
        )
    else:
        line = (
            f"epoch {record['epoch']}: train loss {record['train_loss']:.4f} | val token acc "
            f"{record['val_token_accuracy']:.3f}, sequence acc {record['val_sequence_accuracy']:.3f}"
        )
    print(line, file=sys.stderr)


def _print_summary(folder: Path, metrics: dict[str, Any], as_json: bool) -> None:
    """``{"checkpoint": folder, **metrics}``."""
    text = f"saved {folder}\n" + "\n".join(f"{k}: {v}" for k, v in metrics.items())
    print_result({"checkpoint": str(folder), **metrics}, as_json, text)
