"""``python -m playground attack``: an FGSM / PGD adversarial attack on one image.

    python -m playground attack --model M --input digit.png --method pgd --epsilon-255 8 [--json] [--out adv.png]

The budget ``--epsilon-255`` is in 1/255 pixel units (``8`` is ε = 8/255), in the ``--norm`` chosen.
"""

from __future__ import annotations

import argparse
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
    p: argparse.ArgumentParser = subparsers.add_parser("attack", help="FGSM / PGD adversarial attack on one image")
    add_model_argument(p)
    p.add_argument("--input", required=True, help="image file")
    p.add_argument("--method", choices=["fgsm", "pgd"], default="pgd")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--epsilon-255", type=float, default=8.0, help="budget in 1/255 pixel units (default 8)")
    budget.add_argument(
        "--epsilon", dest="epsilon_255", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )  # the earlier name
    p.add_argument("--norm", choices=["Linf", "L2"], default="Linf")
    p.add_argument("--steps", type=int, default=40, help="PGD iterations")
    p.add_argument("--target-class", type=int, default=None, help="class index for a targeted attack")
    add_top_k_argument(p)
    p.add_argument("--out", help="write the adversarial image here (saved as PNG: lossless, keeps the attack)")
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
    source, data = read_input_file(args.input)
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
