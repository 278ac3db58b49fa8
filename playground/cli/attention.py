"""``python -m playground attention``: every layer's and head's attention for one input.

    python -m playground attention --model minilm --text "The cat sat on the mat." --json
    python -m playground attention --model runs/vit_tiny-mnist-... --input digit.png --json
    python -m playground attention --model runs/transformer_seq2seq-reverse-... --text 12345 --json

Prints the tokens (text), or the class token and the patch grid (images), the attention
probabilities shaped ``(layers, heads, T, T)``, the attention rollout (Abnar & Zuidema 2020) and the
check of the article's formula for one row. Seq2seq models add the decoder's output and its
cross-attention ``(layers, heads, T_out, T_src)``. The same library path as the Attention page.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``attention`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "attention", help="attention maps (layers x heads x T x T), rollout and the formula check of a transformer"
    )
    p.add_argument("--model", required=True, help="registry name (minilm, vit_tiny, ...) or checkpoint folder")
    p.add_argument("--text", help="text for a text or seq2seq model")
    p.add_argument("--input", help="image file (image models) or .txt file (text models)")
    p.add_argument("--decimals", type=int, default=5, help="rounding of the probabilities in the output")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)
    return p


def _rounded(tensor: Any, decimals: int) -> Any:
    return tensor.double().round(decimals=decimals).tolist()


def run(args: argparse.Namespace) -> int:
    """Compute and print the attention; returns the exit status (0).

    Raises:
        ValueError: not exactly one of ``--text`` / ``--input``, a model without attention, an
            unreadable file.
    """
    from playground.cli.common import _print, load_model, read_input_file
    from playground.inspection.attention import image_attention, rollout, text_attention
    from playground.modalities.image.decode import decode_image
    from playground.modalities.text.clean import decode_text_file

    if (args.text is None) == (args.input is None):
        raise ValueError("give exactly one of --text TEXT and --input FILE")
    if args.decimals < 0:
        raise ValueError(f"--decimals must be at least 0, got {args.decimals}")
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
        summary["num_dropped"] = maps.num_dropped
    probs = maps.attention_probs
    rolled = rollout(probs)[-1]  # (T, T)
    layer, head = maps.num_layers - 1, 0
    formula = maps.formula(layer, head, query_index=0)
    summary.update(
        tokens=maps.tokens,
        prediction=maps.predicted,
        shape=list(probs.shape),
        max_row_sum_error=float((probs.sum(-1) - 1).abs().max()),
        formula_check={
            "layer": layer,
            "head": head,
            "query_index": 0,
            "max_abs_diff": formula.max_abs_diff,
            "matches": formula.matches,
        },
        attention_probs=_rounded(probs, args.decimals),
        rollout=_rounded(rolled, args.decimals),
    )
    lines = [
        f"{bundle.title}: {len(maps.tokens)} tokens, attention {tuple(probs.shape)} (layers, heads, T, T)",
        f"prediction: {maps.predicted}",
        f"rows sum to 1 within {summary['max_row_sum_error']:.1e}",
        f"formula check (layer {layer}, head {head}, token 0): max |diff| {formula.max_abs_diff:.1e} "
        + ("matches" if formula.matches else "DOES NOT MATCH"),
    ]
    _print(summary, args.json, "\n".join(lines))
    return 0


def _run_seq2seq(bundle: Any, args: argparse.Namespace, summary: dict[str, Any]) -> int:
    from playground.cli.common import _print, read_input_file
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
    _print(summary, args.json, text_out)
    return 0
