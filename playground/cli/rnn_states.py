"""``python -m playground rnn-states``: hidden states, cell states and gates of a recurrent model.

    python -m playground rnn-states --model runs/lstm-brackets-... --text "(()())" --json
    python -m playground rnn-states --model M --input review.txt [--layer 0] [--json]
    python -m playground rnn-states --model M --example 3        (a dataset example; numeric sequences too)

Prints the tokens the model saw, per layer and direction the hidden states, the gates and (LSTM) the
cell states as ``(T, H)`` lists, the ``top_k`` classes, and the largest difference between the
recomputed states and PyTorch's own forward pass (:func:`playground.inspection.rnn.check_states`).
The same library code path as the RNN-states page.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from playground.cli.common import (
    add_decimals_argument,
    add_json_argument,
    add_model_argument,
    add_top_k_argument,
    check_decimals,
    check_json,
    check_top_k,
    load_model,
    print_result,
    read_input_file,
    top_k_from_probs,
)

if TYPE_CHECKING:
    import torch

    from playground.bundle import Bundle
    from playground.inspection.rnn import RecurrentStates


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``rnn-states`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "rnn-states", help="hidden states, gates and cell states of an RNN / LSTM / GRU, step by step"
    )
    add_model_argument(p, "checkpoint folder (a text model brings its tokenizer) or registry name")
    p.add_argument("--text", help="text to run through the model (text models)")
    p.add_argument("--input", help=".txt file to run through the model (text models)")
    p.add_argument("--example", type=int, default=None, help="index of an example of the model's training dataset")
    p.add_argument("--layer", type=int, action="append", default=None, help="only this layer (repeatable)")
    add_decimals_argument(p, default=6)
    add_top_k_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Compute and print the states; returns the exit status (0).

    Raises:
        ValueError: not exactly one of ``--text`` / ``--input`` / ``--example``, a model that is not
            recurrent, an unreadable file, a layer out of range.
    """
    from playground.inspection.rnn import check_states, is_recurrent, states_for_text
    from playground.modalities.text.clean import decode_text_file

    given = [name for name in ("text", "input", "example") if getattr(args, name) is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of --text TEXT, --input FILE.txt and --example N")
    bundle = load_model(args.model)
    if not is_recurrent(bundle):
        raise ValueError(
            f"{bundle.title} is not a recurrent text or sequence model; train one first, e.g. "
            "python -m playground train --model lstm --dataset brackets"
        )
    check_decimals(args.decimals)
    check_top_k(args.top_k)
    summary: dict[str, Any] = {"model": bundle.title}
    if args.example is not None:
        states = _example_states(bundle, args.example)
        summary["example"] = args.example
    elif bundle.modality != "text":
        raise ValueError(f"{bundle.title} takes numeric sequences, not text: use --example N")
    elif args.input is not None:
        source, data = read_input_file(args.input)
        summary["input"] = str(source)
        states = states_for_text(bundle, decode_text_file(data, source.name))
    else:
        states = states_for_text(bundle, args.text)
    if args.layer is not None:
        bad = [k for k in args.layer if not 0 <= k < states.num_layers]
        if bad:
            raise ValueError(f"--layer must be in [0, {states.num_layers - 1}], got {bad}")
    check = check_states(bundle.model, states)
    probs = _probabilities(bundle, states)
    out = {
        **summary,
        **states.to_dict(args.layer, args.decimals),
        "top_k": top_k_from_probs(probs, bundle.labels, args.top_k),
        "check": check_json(
            check.max_abs_diff,
            check.ok,
            tolerance=check.tolerance,
            device=check.device,
            output_diff=check.output_diff,
            final_state_diff=check.final_state_diff,
            layers_diff=check.layers_diff,
        ),
    }
    best = int(probs.argmax())
    lines = [
        f"{bundle.title}: {states.cell}, {states.num_layers} layer(s) x {states.num_directions} direction(s) "
        f"x {states.hidden_size} units",
        f"{states.steps} tokens: {' '.join(states.tokens)}"
        + (f"  ({states.num_dropped} dropped)" if states.num_dropped else ""),
        *(
            f"{s.name}: hidden_state {tuple(s.hidden_state.shape)}"
            + (f", cell_state {tuple(s.cell_state.shape)}" if s.cell_state is not None else "")
            + (f", gates {', '.join(s.gates)}" if s.gates else "")
            for s in states.layers
            if args.layer is None or s.layer in args.layer
        ),
        f"prediction: {bundle.labels[best]} ({float(probs[best]):.1%})",
        f"{'matches' if check.ok else 'DIFFERS FROM'} PyTorch on {check.device}: max |diff| = {check.max_abs_diff:.2e}",
    ]
    print_result(out, args.json, "\n".join(lines))
    return 0


def _example_states(bundle: Bundle, index: int) -> RecurrentStates:
    from playground.data import SequenceDataset, TextDataset, load_dataset
    from playground.inspection.rnn import states_for_sequence, states_for_text

    name = bundle.card.dataset
    if not name:
        raise ValueError(f"{bundle.title} records no training dataset; use --text or --input")
    dataset = load_dataset(name)
    if not 0 <= index < len(dataset):
        raise ValueError(f"--example must be in [0, {len(dataset) - 1}] for {name}, got {index}")
    if isinstance(dataset, TextDataset):
        return states_for_text(bundle, dataset.texts[index])
    if isinstance(dataset, SequenceDataset):
        return states_for_sequence(bundle, dataset.values[index])
    raise ValueError(f"{name} is not a text or sequence dataset")


def _probabilities(bundle: Bundle, states: RecurrentStates) -> torch.Tensor:
    """``(K,)`` float32 softmax probabilities of the model on the states' input, on the CPU."""
    import torch

    from playground.core.device import model_device

    with torch.no_grad():
        x = states.model_input.unsqueeze(0).to(model_device(bundle.model))  # (1, T) or (1, T, F)
        return bundle.model.eval()(x).float().softmax(dim=-1)[0].cpu()
