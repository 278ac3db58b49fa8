"""``python -m playground attention``: every layer's and head's attention for one input.

    python -m playground attention --model minilm --text "The cat sat on the mat." --json
    python -m playground attention --model runs/vit_tiny-mnist-... --input digit.png --json
    python -m playground attention --model runs/transformer_seq2seq-reverse-... --text 12345 --json

Prints the tokens (text), or the class token and the patch grid (images), the attention
probabilities of the chosen layers and heads shaped ``(len(layers), len(heads), T, T)`` (by default
the last layer's every head, 23.5 MB for MiniLM at 512 tokens; its full 6 × 12 × 512 × 512 maps are ~120 MB
of JSON; ``--all`` gives them), the attention rollout through all layers (Abnar & Zuidema 2020) and
the check of the article's formula for one row against the model's own attention (``check``).
Seq2seq models add the decoder's output and its cross-attention ``(layers, heads, T_out, T_src)``.
The JSON is written on one line (``--json``). The same library path as the Attention page.
"""

from __future__ import annotations

import argparse
from typing import Any

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


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``attention`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "attention", help="attention maps (layers x heads x T x T), rollout and the formula check of a transformer"
    )
    add_model_argument(p, "registry name (minilm, vit_tiny, ...) or checkpoint folder")
    p.add_argument("--text", help="text for a text or seq2seq model")
    p.add_argument("--input", help="image file (image models) or .txt file (text models)")
    p.add_argument("--layers", default="last", help="layers to print: 'last' (default), 'all' or indices like 0,5")
    p.add_argument("--heads", default="all", help="heads to print: 'all' (default) or indices like 0,3")
    p.add_argument("--all", action="store_true", help="every layer and head (large: ~120 MB for MiniLM at 512 tokens)")
    add_decimals_argument(p, default=4)
    add_top_k_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def _rounded(tensor: Any, decimals: int) -> Any:
    return tensor.double().round(decimals=decimals).tolist()


def parse_indices(text: str, count: int, what: str, last: bool = False) -> list[int]:
    """``--layers`` / ``--heads`` as sorted indices in ``[0, count)``.

    Args:
        text: ``"all"``, ``"last"`` or comma-separated indices (negative ones count from the end).
        count: how many layers or heads the model has.
        what: ``"layers"`` or ``"heads"``, for the message.
        last: whether ``"last"`` is allowed.

    Raises:
        ValueError: an index that is not an integer or is outside the model's range, or nothing chosen.
    """
    if text == "all":
        return list(range(count))
    if text == "last" and last:
        return [count - 1]
    chosen = set()
    for part in text.split(","):
        try:
            index = int(part)
        except ValueError:
            raise ValueError(
                f"--{what} takes 'all'{', last' if last else ''} or indices like 0,2; got {text!r}"
            ) from None
        if not -count <= index < count:
            raise ValueError(f"--{what}: {index} is out of range; the model has {count} {what} (0 to {count - 1})")
        chosen.add(index % count)
    return sorted(chosen)


def run(args: argparse.Namespace) -> int:
    """Compute and print the attention; returns the exit status (0).

    Raises:
        ValueError: not exactly one of ``--text`` / ``--input``, a model without attention, an
            unreadable file.
    """
    from playground.inspection.attention import FORMULA_TOLERANCE, image_attention, rollout, text_attention
    from playground.modalities.image.decode import decode_image
    from playground.modalities.text.clean import decode_text_file

    if (args.text is None) == (args.input is None):
        raise ValueError("give exactly one of --text TEXT and --input FILE")
    check_decimals(args.decimals)
    check_top_k(args.top_k)
    bundle = load_model(args.model)
    summary: dict[str, Any] = {"model": bundle.title}
    if bundle.modality == "seq2seq":
        return _run_seq2seq(bundle, args, summary)
    if bundle.modality == "image":
        if args.input is None:
            raise ValueError(f"{bundle.title} takes images: give --input IMAGE")
        source, data = read_input_file(args.input)
        summary["input"] = str(source)
        maps = image_attention(bundle, decode_image(data, source.name))
        summary["patch_grid"] = list(maps.patch_grid or ())
        summary["patch_size"] = maps.patch_size
    else:
        if args.input is not None:
            source, data = read_input_file(args.input)
            summary["input"] = str(source)
            text = decode_text_file(data, source.name)
        else:
            text = args.text
        maps = text_attention(bundle, text)
        summary["num_dropped_tokens"] = maps.num_dropped
    probs = maps.attention_probs  # (L, H, T, T)
    layers = parse_indices("all" if args.all else args.layers, probs.shape[0], "layers", last=True)
    heads = parse_indices("all" if args.all else args.heads, probs.shape[1], "heads")
    rolled = rollout(probs)[-1]  # (T, T)
    layer, head = maps.num_layers - 1, 0
    formula = maps.formula(layer, head, query_index=0)
    summary.update(
        tokens=maps.tokens,
        top_k=top_k_from_probs(maps.logits.float().softmax(-1), maps.labels, args.top_k),
        shape=list(probs.shape),
        layers=layers,
        heads=heads,
        max_row_sum_error=float((probs.sum(-1) - 1).abs().max()),
        check=check_json(
            formula.max_abs_diff,
            formula.matches,
            tolerance=FORMULA_TOLERANCE,
            layer=layer,
            head=head,
            query_index=0,
        ),
        attention_probs=_rounded(probs[layers][:, heads], args.decimals),  # (len(layers), len(heads), T, T)
        rollout=_rounded(rolled, args.decimals),
    )
    lines = [
        f"{bundle.title}: {len(maps.tokens)} tokens, attention {tuple(probs.shape)} (layers, heads, T, T)",
        f"printed with --json: layers {layers}, heads {heads}",
        f"prediction: {maps.predicted}",
        f"rows sum to 1 within {summary['max_row_sum_error']:.1e}",
        f"formula check (layer {layer}, head {head}, token 0): max |diff| {formula.max_abs_diff:.1e} "
        + ("matches" if formula.matches else "DOES NOT MATCH"),
    ]
    print_result(summary, args.json, "\n".join(lines), compact=True)
    return 0


def _run_seq2seq(bundle: Any, args: argparse.Namespace, summary: dict[str, Any]) -> int:
    from playground.modalities.text.clean import decode_text_file
    from playground.training.seq2seq import translate

    if args.input is not None:
        source, data = read_input_file(args.input)
        text = decode_text_file(data, source.name).strip()
    else:
        text = args.text
    result = translate(bundle, text)
    summary.update(
        source_tokens=result.source_tokens,
        output=result.output,
        output_tokens=result.output_tokens,
        encoder_shape=list(result.encoder_attention.shape),
        cross_shape=list(result.cross_attention.shape),
        encoder_attention=_rounded(result.encoder_attention, args.decimals),
        decoder_attention=_rounded(result.decoder_attention, args.decimals),
        cross_attention=_rounded(result.cross_attention, args.decimals),
    )
    text_out = (
        f"{bundle.title}: {text!r} -> {result.output!r}\n"
        f"cross-attention {tuple(result.cross_attention.shape)} (layers, heads, T_out, T_src)"
    )
    print_result(summary, args.json, text_out, compact=True)
    return 0
