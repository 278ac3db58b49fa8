"""Command line for scripting and checking; the same library the app uses.

    python -m playground models [--json]
    python -m playground datasets [--json]
    python -m playground train --model lenet5 --dataset mnist --epochs 8 [--json]
    python -m playground predict --model efficientnet_lite0 --input cat.jpg --top-k 5 [--json]
    python -m playground robustness --model M --dataset mnist --perturbations gaussian_noise --severities 0,1,2 [--json]
    python -m playground attack --model M --input digit.png --method pgd --epsilon-255 8 [--json]
    python -m playground rnn-states --model M --text "(()())" [--layer L] [--json]
    python -m playground explain --model M (--input FILE | --text "...") --method integrated_gradients [--json]
    python -m playground attention --model minilm --text "The cat sat on the mat." [--json]

Each command lives in its own module (``playground/cli/<command>.py``) with an ``add_parser(sub)``;
``docs/cli.md`` documents the flags and the ``--json`` schema. Bad input ends with exit status 2 and
one line starting with ``error:`` (no traceback).
"""

from __future__ import annotations

import argparse
import sys

from playground.cli import attack, attention, explain, models, predict, rnn_states, robustness, train
from playground.cli.common import EXIT_USAGE

#: The command modules, in the order ``--help`` lists them.
COMMANDS = (models, train, predict, robustness, attack, rnn_states, explain, attention)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m playground`` parser: one sub-command per module in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="python -m playground", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
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
