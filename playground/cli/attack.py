"""``python -m playground attack``: an FGSM / PGD attack on one image or audio clip, or a word-level
attack on one text.

    python -m playground attack --model M --input digit.png --method pgd --epsilon-255 8 [--json] [--out adv.png]
    python -m playground attack --model assets/checkpoints/audio_cnn-fsdd --input seven.wav \
        --epsilon-amplitude 0.002 [--json] [--out adv.wav]

An image's budget ``--epsilon-255`` is in 1/255 pixel units (``8`` is ε = 8/255), in the ``--norm``
chosen. A clip's budget ``--epsilon-amplitude`` is an L∞ bound on the waveform's [-1, 1] amplitude
scale (:func:`playground.robustness.audio_attacks.attack_waveform`); the JSON gives the
perturbation's SNR in dB. A text model is attacked word by word (``--method word``: embedding
neighbours; ``--method char``: typos and homoglyphs; :func:`playground.robustness.text_attack.word_attack`)
within ``--max-queries`` model queries:

    python -m playground attack --model runs/lstm-bbc_news-<time> --text "Shares fell sharply." [--method char] [--json]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from playground.cli.common import (
    add_json_argument,
    add_model_argument,
    add_top_k_argument,
    check_top_k,
    load_model,
    print_result,
    read_input_file,
    top_k_from_probs,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``attack`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "attack", help="adversarial attack on one image or audio clip (FGSM / PGD) or one text (word / char)"
    )
    add_model_argument(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="image file, audio clip for an audio model, or .txt file for a text model")
    source.add_argument("--text", help="text to attack (text models)")
    p.add_argument(
        "--method",
        choices=["fgsm", "pgd", "word", "char"],
        default=None,
        help="fgsm or pgd (images, audio; default pgd); word or char (text; default word)",
    )
    p.add_argument("--max-queries", type=int, default=500, help="text: the budget of model queries")
    p.add_argument("--max-changed", type=float, default=0.3, help="text: the largest share of words changed")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epsilon-255", type=float, default=8.0, help="budget in 1/255 pixel units (default 8)")
    budget.add_argument(
        "--epsilon", dest="epsilon_255", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )  # the earlier name
    p.add_argument(
        "--epsilon-amplitude",
        type=float,
        default=0.002,
        help="audio: L∞ budget on the waveform's [-1, 1] amplitude scale (default 0.002)",
    )
    p.add_argument("--norm", choices=["Linf", "L2"], default="Linf", help="images: the norm of ε (audio: L∞ only)")
    p.add_argument("--steps", type=int, default=40, help="PGD iterations")
    p.add_argument("--target-class", type=int, default=None, help="class index for a targeted attack")
    add_top_k_argument(p)
    p.add_argument(
        "--out",
        help="write the adversarial input here: an image as PNG, a clip as WAV (both lossless: they keep the attack)",
    )
    add_json_argument(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Attack the image and print the predictions before and after; returns the exit status (0).

    Raises:
        ValueError: an unreadable image, a budget or class index out of range, ``--top-k`` below 1.
    """
    from playground.modalities.image.decode import decode_image
    from playground.robustness.attacks import AttackConfig, attack

    check_top_k(args.top_k)
    bundle = load_model(args.model)
    if bundle.modality == "text":
        return _attack_text(bundle, args)
    if args.text is not None:
        raise ValueError(f"--text is for text models; {bundle.title} takes {bundle.modality} input (use --input)")
    if args.method in ("word", "char"):
        raise ValueError(f"--method {args.method} attacks text models; use fgsm or pgd for {bundle.title}")
    args.method = args.method or "pgd"
    source, data = read_input_file(args.input)
    if bundle.modality == "audio":
        return _attack_audio(bundle, args, source, data)
    image = decode_image(data, source.name)
    pixels = bundle.image_preprocessing.pixels_from_pil(image).unsqueeze(0)  # (1, C, H, W) in [0, 1]
    config = AttackConfig(
        method=args.method,
        epsilon_255=args.epsilon_255,
        norm=args.norm,
        steps=args.steps,
        targeted=args.target_class is not None,
        target_class=args.target_class,
    )
    result = attack(bundle, pixels, None, config)
    if args.out:
        from PIL import Image

        from playground.figures.viz import to_display

        array = (to_display(result.adversarial[0]) * 255).round().astype("uint8")  # (H, W[, 3])
        Image.fromarray(array).save(args.out, format="PNG")
    out: dict[str, Any] = {
        "model": bundle.title,
        "input": str(source),
        "method": args.method,
        "norm": args.norm,
        "epsilon_255": args.epsilon_255,
        "steps": args.steps,
        "target_class": args.target_class,
        "clean": {"top_k": top_k_from_probs(result.clean_probs[0], bundle.labels, args.top_k)},
        "adversarial": {"top_k": top_k_from_probs(result.adv_probs[0], bundle.labels, args.top_k)},
        "success": bool(result.success[0]),
        "linf_255": float(result.linf[0]) * 255,
        "l2": float(result.l2[0]),
        "out": args.out,
    }
    clean, adv = out["clean"]["top_k"][0]["label"], out["adversarial"]["top_k"][0]["label"]
    text = (
        f"{args.method} {args.norm} ε={args.epsilon_255:g}/255: {clean} → {adv} "
        f"({'success' if out['success'] else 'the model held'}; L∞ = {out['linf_255']:.2f}/255)"
    )
    print_result(out, args.json, text)
    return 0


def _attack_audio(bundle: Any, args: argparse.Namespace, source: Any, data: bytes) -> int:
    """Attack the clip's first window on its waveform; print the predictions before and after.

    Raises:
        ValueError: an unreadable clip, ``--norm L2`` or ``--target-class`` (the waveform attack is
            untargeted L∞), a budget or step count out of range.
    """
    from playground.modalities.audio.decode import decode_audio, wav_bytes
    from playground.robustness.audio_attacks import attack_waveform
    from playground.robustness.audio_sweep import audio_preprocessing

    if args.norm != "Linf" or args.target_class is not None:
        raise ValueError("an audio model is attacked untargeted in L∞ on its waveform: drop --norm L2 / --target-class")
    pre = audio_preprocessing(bundle)
    decoded = decode_audio(data, name=source.name)
    waveform = decoded.waveform
    if decoded.sample_rate != pre.sample_rate:
        from playground.modalities.audio.resample import resample

        waveform = resample(waveform, decoded.sample_rate, pre.sample_rate)  # (L',) at the model's rate
    result = attack_waveform(
        bundle, waveform, None, method=args.method, epsilon=args.epsilon_amplitude, steps=args.steps
    )
    if args.out:
        Path(args.out).write_bytes(wav_bytes(result.adversarial, pre.sample_rate))
    out: dict[str, Any] = {
        "model": bundle.title,
        "input": str(source),
        "method": args.method,
        "norm": "Linf",
        "epsilon_amplitude": result.epsilon,
        "steps": result.steps,
        "clean": {"top_k": top_k_from_probs(result.clean_probs, bundle.labels, args.top_k)},
        "adversarial": {"top_k": top_k_from_probs(result.adv_probs, bundle.labels, args.top_k)},
        "success": result.adv_pred != result.clean_pred,
        "linf_amplitude": result.linf,
        "snr_db": result.snr_db if math.isfinite(result.snr_db) else None,  # None: no change (JSON has no inf)
        "out": args.out,
    }
    clean, adv = out["clean"]["top_k"][0]["label"], out["adversarial"]["top_k"][0]["label"]
    text = (
        f"{args.method} L∞ ε={result.epsilon:g} (amplitude): {clean} → {adv} "
        f"({'success' if out['success'] else 'the model held'}; SNR {result.snr_db:.1f} dB)"
    )
    print_result(out, args.json, text)
    return 0


def _attack_text(bundle: Any, args: argparse.Namespace) -> int:
    """A word-level (or character-level) attack on a text; print the texts and the predictions.

    Raises:
        ValueError: ``--method`` fgsm / pgd, an unreadable file, a text with nothing to attack, bad budgets.
    """
    from playground.modalities.text.clean import decode_text_file
    from playground.robustness.text_attack import AttackMode, word_attack

    method: AttackMode = "char" if args.method == "char" else "word"
    if args.method not in (None, "word", "char"):
        raise ValueError(f"a text model is attacked with --method word or char, not {args.method}")
    if args.out:
        raise ValueError("--out writes an image or a clip; a text attack prints its text (--json has it too)")
    text, source = args.text, None
    if text is None:
        path, data = read_input_file(args.input)
        text, source = decode_text_file(data, path.name), str(path)
    result = word_attack(bundle, text, mode=method, max_queries=args.max_queries, max_changed=args.max_changed)
    out: dict[str, Any] = {
        "model": bundle.title,
        "input": source,
        "method": method,
        "clean": {"top_k": top_k_from_probs(result.original_probs, bundle.labels, args.top_k)},
        "adversarial": {"top_k": top_k_from_probs(result.adversarial_probs, bundle.labels, args.top_k)},
        "success": result.success,
        "text": result.original,
        "adversarial_text": result.adversarial,
        "changes": [
            {"position": c.position, "original": c.original, "replacement": c.replacement, "similarity": c.similarity}
            for c in result.changes
        ],
        "words": result.words,
        "queries": result.queries,
    }
    clean, adv = out["clean"]["top_k"][0]["label"], out["adversarial"]["top_k"][0]["label"]
    swaps = ", ".join(f"{c.original} → {c.replacement}" for c in result.changes) or "none"
    text_out = (
        f"{method} attack: {clean} → {adv} ({'success' if result.success else 'the model held'}; "
        f"{len(result.changes)} of {result.words} words changed, {result.queries} queries)\n"
        f"changes: {swaps}\n{result.adversarial}"
    )
    print_result(out, args.json, text_out)
    return 0
