"""``python -m playground explain``: attribute one prediction from the command line.

    python -m playground explain --model efficientnet_lite0 --input cat.jpg --method integrated_gradients --json
    python -m playground explain --model runs/lstm-news --text "shares fell sharply" --method integrated_gradients
    python -m playground explain --model M --input cat.jpg --method grad_cam --out map.png
    python -m playground explain --model assets/checkpoints/audio_cnn-fsdd --input seven.mp3 \
        --method integrated_gradients --listen seven-explained [--json]

Images (``--input`` photo), text (``--text`` or a ``.txt`` file as ``--input``), numeric
sequences (``--input`` a ``.npy`` array of shape ``(T, F)``, raw values: the model's
standardization is applied) and audio (``--input`` a clip in any format the decoder reads; one
window of the model's length from ``--start`` seconds). ``--json`` prints the attribution shape,
summary numbers, the target and, where defined, the convergence delta; ``--out`` writes the map
over the image as a PNG; ``--listen`` writes what the most attributed time-frequency cells sound
like, and everything else, as two WAV files (:func:`playground.explain.audio.listen`).
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from playground.cli.common import (
    add_json_argument,
    add_model_argument,
    class_score,
    load_model,
    print_result,
    read_input_file,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``explain`` command to the CLI's subparsers (``cli.build_parser``'s ``sub``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "explain", help="attribute a prediction to the input (Captum methods: IG, Grad-CAM, SHAP, ...)"
    )
    add_model_argument(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--input",
        help="image file, .txt file (text models), .npy (T, F) array (sequence models) or audio clip (audio models)",
    )
    source.add_argument("--text", help="text to explain (text models)")
    p.add_argument("--method", required=True, help="attribution method, e.g. integrated_gradients, grad_cam, occlusion")
    p.add_argument("--target", type=int, default=None, help="class index to explain (default: the predicted class)")
    p.add_argument("--n-steps", type=int, default=50, help="Integrated Gradients steps (the first try)")
    p.add_argument(
        "--delta-tolerance",
        type=float,
        default=0.01,
        help="Integrated Gradients: raise the steps until |delta| / |F(x) - F(baseline)| is at most this "
        "(default 0.01; 0: exactly --n-steps)",
    )
    p.add_argument("--baseline", default=None, help="black, blurred, noise, uniform (images); pad, unk (text); zero")
    p.add_argument("--window", type=int, default=None, help="occlusion window (pixels, tokens or steps)")
    p.add_argument("--stride", type=int, default=None, help="occlusion stride")
    p.add_argument(
        "--n-samples", type=int, default=None, help="samples for LIME, Kernel SHAP, GradientShap, noise tunnels"
    )
    p.add_argument("--base-method", default="saliency", help="the gradient method inside a noise tunnel")
    p.add_argument("--n-segments", type=int, default=49, help="superpixels (images) or chunks of steps (sequences)")
    p.add_argument("--layer", default=None, help="Grad-CAM layer (module name; default: the last feature map)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mode", choices=["signed", "positive", "absolute"], default="signed", help="map shown by --out")
    p.add_argument("--out", help="write the map over the image as a PNG (image models; enlarged to at least 448 px)")
    p.add_argument("--start", type=float, default=0.0, help="audio: where the explained window starts, seconds")
    p.add_argument(
        "--listen",
        metavar="PREFIX",
        help="audio: write PREFIX-kept.wav (the most attributed cells only) and PREFIX-removed.wav (all but them)",
    )
    p.add_argument("--keep", type=float, default=0.2, help="--listen: share of the cells kept, in (0, 1] (default 0.2)")
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def _read_input(bundle: Any, args: argparse.Namespace) -> tuple[Any, list[str] | None]:
    """``(inputs, tokens or None)`` for the bundle's modality."""
    from playground.explain.base import ModelView

    modality = ModelView.from_bundle(bundle).modality
    if args.text is not None:
        if modality != "text":
            raise ValueError(f"--text is for text models; {bundle.title} takes {modality} input (use --input)")
        encoded = bundle.preprocessing.encode(args.text)
        return encoded.ids, list(encoded.tokens)
    source, data = read_input_file(args.input)
    if modality == "text":
        from playground.modalities.text.clean import decode_text_file

        encoded = bundle.preprocessing.encode(decode_text_file(data, source.name))
        return encoded.ids, list(encoded.tokens)
    if modality == "sequence":
        import torch

        if source.suffix.lower() != ".npy":
            raise ValueError(f"a sequence model takes a .npy array of shape (T, F); got {source.name}")
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{source.name} is not a plain .npy array ({exc})") from exc
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise ValueError(f"expected a numeric (T, F) array in {source.name}, got {array.dtype} {array.shape}")
        return bundle.preprocessing.normalize(torch.from_numpy(array.astype(np.float32))), None
    from playground.modalities.image.decode import decode_image

    image = decode_image(data, source.name)
    return bundle.preprocessing.pixels_from_pil(image), None  # (C, H, W) in [0, 1]


#: The PNG's longer side is at least this many pixels (a 28×28 map is unreadable on a slide).
MIN_PNG_SIDE = 448


def overlay_png(pixels: Any, heat: Any, path: str) -> None:
    """Write ``heat`` (``(H, W)`` in [-1, 1]) over ``pixels`` (``(C, H, W)`` in [0, 1]) as a PNG.

    Red is positive, blue negative, the opacity follows ``|heat|``; the image underneath is dimmed.
    Small inputs are enlarged by a whole factor (nearest neighbour: every input pixel stays a crisp
    square) until the longer side reaches :data:`MIN_PNG_SIDE`.
    """
    from PIL import Image

    rgb = pixels.expand(3, -1, -1) if pixels.shape[0] == 1 else pixels  # (3, H, W)
    base = (0.25 + 0.5 * rgb.permute(1, 2, 0).numpy()).clip(0, 1)  # (H, W, 3), dimmed
    h = heat.numpy()[..., None]  # (H, W, 1)
    color = np.where(h >= 0, np.array([0.85, 0.1, 0.1]), np.array([0.1, 0.25, 0.9]))  # (H, W, 3)
    alpha = 0.85 * np.abs(h)
    out = base * (1 - alpha) + color * alpha
    image = Image.fromarray((out * 255).round().astype(np.uint8))
    scale = max(1, -(-MIN_PNG_SIDE // max(image.size)))  # ceil: 28 px -> x16 = 448 px; 224 px -> x2
    image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST).save(path, format="PNG")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def run(args: argparse.Namespace) -> int:
    """Run ``explain``; returns the exit status (errors are raised as ValueError for the CLI's main)."""
    from playground.explain import ExplainParams, display_map, explain

    if not 0 <= args.delta_tolerance < 1:
        raise ValueError(f"--delta-tolerance must be in [0, 1) (0 turns the check off), got {args.delta_tolerance}")
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise ValueError(f"--out: the folder {Path(args.out).resolve().parent} does not exist")
    bundle = load_model(args.model)
    if (args.listen or args.start) and bundle.modality != "audio":
        raise ValueError(f"--listen and --start are for audio models; {bundle.title} takes {bundle.modality} input")
    if not 0 < args.keep <= 1:
        raise ValueError(f"--keep must be in (0, 1], got {args.keep}")
    if args.listen and not Path(args.listen).resolve().parent.is_dir():
        raise ValueError(f"--listen: the folder {Path(args.listen).resolve().parent} does not exist")
    params = ExplainParams(
        n_steps=args.n_steps,
        delta_tolerance=args.delta_tolerance or None,
        baseline=args.baseline,
        window=args.window,
        stride=args.stride,
        n_samples=args.n_samples,
        base_method=args.base_method,
        n_segments=args.n_segments,
        layer=args.layer,
        seed=args.seed,
    )

    def progress(done: int, total: int, message: str) -> None:
        if not args.json:
            print(f"\r{args.method}: {done}/{total}", end="", file=sys.stderr, flush=True)

    tokens: list[str] | None = None
    audio: dict[str, Any] | None = None
    if bundle.modality == "audio":
        result, audio = _explain_audio(bundle, args, params, progress)
    else:
        inputs, tokens = _read_input(bundle, args)
        result = explain(bundle, inputs, args.method, target=args.target, params=params, on_progress=progress)
    if not args.json:
        print(file=sys.stderr)
    if args.out:
        if result.modality != "image":
            raise ValueError("--out draws the map over an image; for text and sequences use --json")
        overlay_png(result.inputs, display_map(result.attributions, args.mode), args.out)
    a = result.attributions.double()
    out: dict[str, Any] = {
        "model": bundle.title,
        "method": result.method,
        "modality": result.modality,
        "target": class_score(result.label, result.target, result.probability),
        "shape": list(result.attributions.shape),
        "summary": {
            "sum": float(a.sum()),
            "min": float(a.min()),
            "max": float(a.max()),
            "mean_abs": float(a.abs().mean()),
        },
        "convergence_delta": result.convergence_delta,
        "relative_delta": result.relative_delta if result.relative_delta not in (None, float("inf")) else None,
        "params": asdict(params),
        "details": _jsonable(dict(result.details)),
        "seconds": result.seconds,
        "out": args.out,
    }
    if result.convergence_delta is not None:
        out["completeness"] = {"sum": result.total, "output_difference": result.total - result.convergence_delta}
    if tokens is not None:
        order = a.abs().argsort(descending=True)[:10].tolist()
        out["top_tokens"] = [{"token": tokens[i], "position": i, "attribution": float(a[i])} for i in order]
    if audio is not None:
        out["audio"] = audio
    text = (
        f"{result.method} for {result.label or result.target} (p = {result.probability:.3f}): attributions "
        f"{tuple(result.attributions.shape)}, sum {out['summary']['sum']:+.4g}"
    )
    if result.convergence_delta is not None:
        text += f", convergence delta {result.convergence_delta:+.3g} ({(result.relative_delta or 0) * 100:.2f}% of F(x) − F(baseline))"
    if tokens is not None:
        text += "\n" + "\n".join(f"{t['attribution']:+.4f}  {t['token']}" for t in out["top_tokens"])
    if args.out:
        text += f"\nwrote {args.out}"
    if audio is not None:
        text += (
            f"\nwindow {audio['start_s']:g}–{audio['start_s'] + audio['window_s']:g} s; most attributed moments: "
            + ", ".join(f"{m['time_s']:.2f} s ({m['attribution']:+.3g})" for m in audio["top_times"][:5])
        )
        text += "".join(
            f"\nwrote {w['path']}: the model hears {w['heard']['label']} (p = {w['heard']['probability']:.3f})"
            for w in audio["listen"].values()
        )
    print_result(out, args.json, text)
    return 0


def _explain_audio(bundle: Any, args: argparse.Namespace, params: Any, progress: Any) -> tuple[Any, dict[str, Any]]:
    """An audio clip's window explained (:func:`playground.explain.audio.explain_audio`): the
    explanation and the ``audio`` object of the JSON; with ``--listen`` the two WAV files written.

    Raises:
        ValueError: ``--text`` or ``--out`` (not for audio), an unreadable clip, a start past its end.
    """
    import torch

    from playground.explain.audio import explain_audio, heard_probabilities, listen
    from playground.modalities.audio.decode import decode_audio, wav_bytes

    if args.text is not None:
        raise ValueError(f"--text is for text models; {bundle.title} takes audio input (use --input)")
    if args.out:
        raise ValueError("--out draws the map over an image; for audio use --listen PREFIX or --json")
    source, data = read_input_file(args.input)
    decoded = decode_audio(data, name=source.name)
    heard = explain_audio(
        bundle,
        decoded.waveform,
        decoded.sample_rate,
        args.method,
        start_s=args.start,
        target=args.target,
        params=params,
        on_progress=progress,
    )
    pre = bundle.preprocessing
    order = heard.curve.abs().argsort(descending=True)[:10].tolist()  # the frames that mattered most
    written: dict[str, dict[str, Any]] = {}
    if args.listen:
        kept, removed = listen(heard.waveform, heard.explanation.attributions, pre, keep_fraction=args.keep)
        with torch.no_grad():
            probs = heard_probabilities(bundle, torch.stack([kept, removed]))  # (2, K): what the model hears in each
        for (name, clip), p in zip((("kept", kept), ("removed", removed)), probs, strict=True):
            path = f"{args.listen}-{name}.wav"
            Path(path).write_bytes(wav_bytes(clip, pre.sample_rate))
            written[name] = {
                "path": path,
                "heard": class_score(bundle.labels[int(p.argmax())], int(p.argmax()), float(p.max())),
            }
    audio = {
        "seconds": round(decoded.duration_s, 3),
        "notes": list(decoded.notes),
        "start_s": heard.start_s,
        "window_s": pre.clip_samples / pre.sample_rate,
        "top_times": [
            {"time_s": round(heard.start_s + float(heard.times_s[i]), 4), "attribution": float(heard.curve[i])}
            for i in order
        ],
        "keep": args.keep,
        "listen": written,
    }
    return heard.explanation, audio
