"""``python -m playground predict``: classify an image, a text or an audio clip (or translate, for a seq2seq model).

python -m playground predict --model efficientnet_lite0 --input cat.jpg --top-k 5 [--json]
python -m playground predict --model runs/lstm-bbc_news-... --text "Shares rose after the results" [--json]
python -m playground predict --model runs/transformer_seq2seq-reverse-... --text 12345 [--json]
"""

from __future__ import annotations

import argparse
from typing import Any

from playground.cli.common import (
    add_json_argument,
    add_model_argument,
    add_top_k_argument,
    check_top_k,
    print_result,
    read_input_file,
    top_k_from_probs,
    top_k_json,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``predict`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser("predict", help="classify an image, a text or an audio clip")
    add_model_argument(p)
    p.add_argument("--input", help="image file, audio clip (WAV, MP3, FLAC, OGG, Opus) or .txt file for a text model")
    p.add_argument("--text", help="text to classify (text models)")
    add_top_k_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Predict and print the ``top_k`` classes; returns the exit status (0).

    Raises:
        ValueError: not exactly one of ``--input`` / ``--text``, ``--top-k`` below 1, an unreadable
            file, an image for a text model or the other way round.
    """
    from playground.cli.common import load_model
    from playground.inspection.predict import predict_image, predict_text
    from playground.modalities.image.decode import decode_image
    from playground.modalities.text.clean import decode_text_file

    if (args.input is None) == (args.text is None):
        raise ValueError("give exactly one of --input FILE and --text TEXT")
    check_top_k(args.top_k)
    bundle = load_model(args.model)
    summary: dict[str, Any] = {"model": bundle.title}
    if bundle.modality == "seq2seq":
        return _run_seq2seq(bundle, args, summary)
    text_input = args.text
    if args.input is not None:
        source, data = read_input_file(args.input)
        summary["input"] = str(source)
        if bundle.modality == "text":
            text_input = decode_text_file(data, source.name)
        elif bundle.modality == "image":
            prediction = predict_image(bundle, decode_image(data, source.name), top_k=args.top_k)
        elif bundle.modality == "audio":
            prediction, summary["audio"] = _predict_audio(bundle, data, source.name, args.top_k)
        else:  # any other modality reads its files through its registry entry
            prediction = _predict_file(bundle, data, source.name, args.top_k)
    if text_input is not None:
        text_prediction = predict_text(bundle, text_input, top_k=args.top_k)
        prediction = text_prediction.prediction
        summary["tokens"] = text_prediction.encoded.tokens
        summary["num_dropped_tokens"] = text_prediction.encoded.num_dropped
    rows = top_k_json(prediction.top_k)
    text = "\n".join(f"{r['probability']:7.2%}  {r['label']} ({r['index']})" for r in rows)
    print_result({**summary, "top_k": rows}, args.json, text)
    return 0


def _predict_audio(bundle: Any, data: bytes, filename: str, top_k: int) -> tuple[Any, dict[str, Any]]:
    """A clip of any length and format: the prediction and the ``audio`` object of the JSON.

    Raises:
        ValueError: the file cannot be decoded (``AudioDecodeError``: the message names the formats that work).
    """
    from playground.inspection.predict import predict_audio
    from playground.modalities.audio.decode import decode_audio

    decoded = decode_audio(data, name=filename)
    result = predict_audio(bundle, decoded.waveform, decoded.sample_rate, top_k=top_k)
    windows = [
        {"start_s": round(float(start), 3), **top_k_from_probs(probs, bundle.labels, 1)[0]}
        for start, probs in zip(result.window_starts_s.tolist(), result.window_probs, strict=True)
    ]
    audio = {
        "seconds": round(decoded.duration_s, 3),
        "sample_rate": decoded.original_rate,
        "format": f"{decoded.format} {decoded.subtype}",
        "notes": list(decoded.notes),
        "padded": result.padded,
        "windows": windows,
    }
    return result.prediction, audio


def _predict_file(bundle: Any, data: bytes, filename: str, top_k: int) -> Any:
    """One input of a modality without a dedicated path, read by its ``read_inputs`` and predicted.

    Raises:
        ValueError: the modality reads no files, or the file holds other than one input.
    """
    from playground.core.modality import MODALITIES
    from playground.inspection.predict import predict_inputs

    read = MODALITIES.get(bundle.modality).read_inputs
    if read is None:
        raise ValueError(f"{bundle.modality} models take no input files here; use the app or the library")
    inputs = read(data, filename)
    if len(inputs) != 1:
        raise ValueError(f"{filename} holds {len(inputs)} inputs; predict takes one")
    return predict_inputs(bundle, inputs, top_k)[0]


def _run_seq2seq(bundle: Any, args: argparse.Namespace, summary: dict[str, Any]) -> int:
    """A seq2seq model translates ``--text`` (or the ``--input`` file): ``{model, source, output}``."""
    from playground.modalities.text.clean import decode_text_file
    from playground.training.seq2seq import translate

    text = args.text
    if args.input is not None:
        source, data = read_input_file(args.input)
        text = decode_text_file(data, source.name).strip()
    result = translate(bundle, text)
    print_result({**summary, "source": result.source, "output": result.output}, args.json, result.output)
    return 0
