"""Attention figures: model view pooling, numeric token axes, head-view links, formula check, page size."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from playground.bundle import create_bundle, create_bundle_from_preprocessing
from playground.figures.attention import (
    FORMULA_COLUMNS,
    HEAD_VIEW_WINDOW,
    MAX_TICKS,
    attention_heatmap,
    cross_attention_figure,
    default_figures,
    figure_bytes,
    formula_figure,
    formula_table,
    head_summary_figure,
    head_view,
    image_overlay,
    model_view,
    pooled,
    rollout_bars,
)
from playground.inspection.attention import head_summaries, image_attention, rollout, text_attention
from playground.inspection.attention.core import class_token_map
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import TokenizerOptions, train_tokenizer


def _softmax_maps(*shape: int, seed: int = 0, sharpness: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(*shape, generator=g) * sharpness, dim=-1)


def _segments(fig, head: int) -> list[tuple[int, int]]:
    """The (query, key) links the head view drew for ``head`` (y positions relative to the window)."""
    links = []
    for trace in fig.data:
        if trace.mode == "lines" and trace.legendgroup == f"head {head}" and trace.x is not None and len(trace.x):
            y = np.asarray(trace.y, dtype=float)
            assert np.isnan(y[2::3]).all()  # segment, gap, segment...
            links += [(int(q), int(k)) for q, k in zip(y[0::3], y[1::3], strict=True)]
    return sorted(links)


def test_model_view_has_one_panel_per_layer_and_head_with_the_input_values() -> None:
    probs = _softmax_maps(2, 3, 5, 5)
    fig = model_view(probs, list("abcde"))
    assert [t.type for t in fig.data] == ["heatmap"] * 6
    for n, trace in enumerate(fig.data):
        np.testing.assert_allclose(np.asarray(trace.z), probs[n // 3, n % 3].numpy(), rtol=1e-6)
    assert [a.text for a in fig.layout.annotations] == ["L0 H0", "L0 H1", "L0 H2", "L1 H0", "L1 H1", "L1 H2"]
    assert len({t.xaxis for t in fig.data}) == 6  # six panels
    for trace in fig.data:  # square cells: each panel's y axis is scaled to its x axis, 1:1
        y_axis = fig.layout["yaxis" + trace.yaxis[1:]]
        assert y_axis.scaleanchor == trace.xaxis and (y_axis.scaleratio or 1) == 1
    assert "downsampled" not in fig.layout.title.text
    subset = model_view(probs, list("abcde"), layers=[1], heads=[2, 0])
    assert [a.text for a in subset.layout.annotations] == ["L1 H2", "L1 H0"]
    np.testing.assert_allclose(np.asarray(subset.data[1].z), probs[1, 0].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="heads must be in"):
        model_view(probs, list("abcde"), heads=[3])
    with pytest.raises(ValueError, match="5 tokens"):
        model_view(probs, list("abcd"))


def test_pooling_averages_blocks_and_a_short_last_block_over_its_own_cells() -> None:
    m = np.arange(25, dtype=np.float32).reshape(5, 5)
    out, k = pooled(m, max_side=2)  # k = ceil(5 / 2) = 3: blocks [0:3] and [3:5]
    assert k == 3 and out.shape == (2, 2)
    np.testing.assert_allclose(out, [[m[:3, :3].mean(), m[:3, 3:].mean()], [m[3:, :3].mean(), m[3:, 3:].mean()]])
    rect = np.arange(70, dtype=np.float32).reshape(7, 10)
    out, k = pooled(rect, max_side=3)  # k = ceil(10 / 3) = 4: rows [0:4] [4:7], columns [0:4] [4:8] [8:10]
    assert k == 4 and out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(rect[4:7, 8:10].mean()) and out[0, 1] == pytest.approx(rect[:4, 4:8].mean())
    same, one = pooled(m, max_side=5)
    assert one == 1 and same is m
    # A long input in the model view: 64 tokens at max_side 16 -> 4x4 blocks, said in the title.
    probs = _softmax_maps(1, 2, 64, 64, seed=1)
    fig = model_view(probs, [f"t{i}" for i in range(64)], max_side=16)
    z = np.asarray(fig.data[1].z)
    assert z.shape == (16, 16)
    expected = probs[0, 1].reshape(16, 4, 16, 4).mean(dim=(1, 3))  # (16, 16): mean of each 4x4 block
    np.testing.assert_allclose(z, expected.numpy(), rtol=1e-5)
    np.testing.assert_allclose(z.sum(axis=1), 1 / 4, rtol=1e-5)  # a block of rows summing to 1, spread over 4 x 4 cells
    assert "downsampled 4×" in fig.layout.title.text and "64 → 16" in fig.layout.title.text


def test_heatmap_keeps_repeated_tokens_apart_and_escapes_them() -> None:
    tokens = ["the", "<b>", "cat", "the"]
    probs = _softmax_maps(4, 4)
    fig = attention_heatmap(probs, tokens, title="L0 <i>")
    trace = fig.data[0]
    assert np.asarray(trace.z).shape == (4, 4)  # both "the" rows stay
    assert list(trace.y) == [0, 1, 2, 3] and list(fig.layout.yaxis.tickvals) == [0, 1, 2, 3]
    assert list(fig.layout.yaxis.ticktext) == ["the", "&lt;b&gt;", "cat", "the"]
    assert "<b>" not in json.dumps(list(fig.layout.xaxis.ticktext))
    assert fig.layout.title.text == "L0 &lt;i&gt;"
    assert trace.customdata[0][3] == "the #0 → the #3" and trace.customdata[1][0] == "&lt;b&gt; #1 → the #0"
    window = attention_heatmap(probs, tokens, window=(1, 3))
    np.testing.assert_allclose(np.asarray(window.data[0].z), probs[1:3, 1:3].numpy(), rtol=1e-6)
    assert list(window.data[0].x) == [1, 2]


def test_long_heatmap_keeps_every_cell_but_fewer_labels_and_sends_float32_binary() -> None:
    t = 200
    probs = _softmax_maps(t, t)
    fig = attention_heatmap(probs, [f"w{i % 7}" for i in range(t)])
    assert np.asarray(fig.data[0].z).shape == (t, t)
    ticks = list(fig.layout.xaxis.tickvals)
    assert len(ticks) <= MAX_TICKS and ticks[:3] == [0, 4, 8]  # every 4th label of 200
    z_json = json.loads(fig.to_json())["data"][0]["z"]
    assert z_json["dtype"] == "f4" and "bdata" in z_json  # binary base64, not a list of numbers
    assert fig.data[0].customdata is None and "#%{y}" in fig.data[0].hovertemplate  # positions only
    with pytest.raises(ValueError, match="window"):
        attention_heatmap(probs, [str(i) for i in range(t)], window=(5, 300))


def test_head_view_draws_only_links_at_or_above_min_weight_inside_the_window() -> None:
    attn = torch.tensor(
        [
            [[0.90, 0.05, 0.04, 0.01], [0.01, 0.01, 0.97, 0.01], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5]],
            [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.4, 0.01, 0.01, 0.58], [0.01, 0.01, 0.01, 0.97]],
        ]
    )  # (H=2, T=4, T=4)
    tokens = ["[CLS]", "the", "<b>", "the"]
    fig = head_view(attn, tokens, min_weight=0.02)
    expected = [sorted((q, k) for q in range(4) for k in range(4) if attn[h, q, k] >= 0.02) for h in range(2)]
    assert _segments(fig, 0) == expected[0] and len(expected[0]) == 10
    assert _segments(fig, 1) == expected[1] and len(expected[1]) == 5
    # Stronger links are more opaque and wider; each head one colour, one legend entry.
    h0 = [t for t in fig.data if t.legendgroup == "head 0"]
    style: dict[tuple[int, int], tuple[float, float]] = {}  # (query, key) -> (opacity, width) of its trace
    for t in h0:
        y = np.asarray(t.y, dtype=float)
        style |= {(int(q), int(k)): (t.opacity, t.line.width) for q, k in zip(y[0::3], y[1::3], strict=True)}
    by_weight = sorted(style, key=lambda qk: float(attn[0, qk[0], qk[1]]))
    assert [style[qk] for qk in by_weight] == sorted(style.values())  # never fainter for a stronger link
    assert style[(1, 2)] > style[(2, 0)] > style[(0, 1)]  # 0.97 > 0.25 > 0.05: three different levels
    assert len({t.line.color for t in h0}) == 1 and [bool(t.showlegend) for t in h0] == [True, False, False, False]
    assert h0[0].opacity == max(t.opacity for t in h0)  # the legend shows the opaque line
    # A window shows only its tokens and the links among them (positions relative to the window).
    win = head_view(attn, tokens, window=(1, 3), min_weight=0.02)
    assert _segments(win, 0) == [(0, 1), (1, 0), (1, 1)]  # the -> <b> 0.97, <b> -> the / <b> 0.25; not 0.01
    assert _segments(win, 1) == []
    texts = [t for t in win.data if t.mode == "text"]
    assert list(texts[0].text) == ["the", "&lt;b&gt;"] and list(texts[1].y) == [0, 1]
    top1 = head_view(attn, tokens, min_weight=0.02, top_k=1)
    assert _segments(top1, 0) == [(0, 0), (1, 2), (2, 0), (2, 1), (2, 2), (2, 3), (3, 2), (3, 3)]  # ties kept
    assert len(fig.data) < 20  # a trace per (head, level), not per link


def test_head_view_limits_long_inputs_to_a_window() -> None:
    t = 150
    fig = head_view(_softmax_maps(3, t, t), [f"w{i}" for i in range(t)])
    texts = [tr for tr in fig.data if tr.mode == "text"]
    assert len(texts[0].text) == HEAD_VIEW_WINDOW and f"tokens 0–{HEAD_VIEW_WINDOW - 1} of {t}" in fig.layout.title.text
    assert all(max(q, k) < HEAD_VIEW_WINDOW for h in range(3) for q, k in _segments(fig, h))
    with pytest.raises(ValueError, match="min_weight"):
        head_view(_softmax_maps(1, 4, 4), list("abcd"), min_weight=0.0)


def _text_maps():
    texts = ["the cat sat on the mat", "a dog barked at the cat", "the mat <b> was red"]
    tokenizer = train_tokenizer(texts, TokenizerOptions(kind="word", vocab_size=200, max_length=512))
    torch.manual_seed(0)
    bundle = create_bundle_from_preprocessing("transformer_encoder", TextPreprocessing(tokenizer, 512), ["a", "b"])
    return text_attention(bundle, "the cat sat on the mat <b>")


def test_formula_figure_and_table_show_the_model_row_recomputed() -> None:
    maps = _text_maps()
    formula = maps.formula(layer=1, head=0, query_index=1)
    fig = formula_figure(formula, maps.tokens)
    title = fig.layout.title.text
    assert "✓ matches" in title and "max |diff| = " in title and "“cat” #1" in title
    bars, probs, model = fig.data
    np.testing.assert_allclose(np.asarray(bars.y), formula.scores.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model.y), maps.attention_probs[1, 0, 1].numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(probs.y), np.asarray(model.y), atol=1e-5)
    assert "&lt;" in "".join(fig.layout.xaxis2.ticktext)  # the "<" token, escaped
    rows = formula_table(formula, maps.tokens)
    assert len(rows) == len(maps.tokens) and tuple(rows[0]) == FORMULA_COLUMNS
    assert [r["token"] for r in rows] == maps.tokens  # raw text in a dataframe
    exp = np.array([r["exp(s − max s)"] for r in rows])
    np.testing.assert_allclose([r["softmax"] for r in rows], exp / exp.sum(), rtol=1e-12)
    np.testing.assert_allclose([r["q·k / √d_k"] for r in rows], [r["q·k"] / formula.scale for r in rows], rtol=1e-12)
    assert max(abs(r["softmax"] - r["model"]) for r in rows) < 1e-5
    broken = dataclasses.replace(formula, model_probs=formula.model_probs.roll(1))
    assert "✗ differs" in formula_figure(broken, maps.tokens).layout.title.text


def test_image_overlay_covers_the_image_patch_by_patch() -> None:
    torch.manual_seed(0)
    bundle = create_bundle("vit_tiny", weights=None)  # 28x28 grey, 4-pixel patches: a 7x7 grid
    maps = image_attention(bundle, torch.rand(1, 28, 28))
    grid = class_token_map(maps, rollout(maps.attention_probs)[-1])  # (7, 7)
    assert maps.pixels is not None
    fig = image_overlay(maps.pixels, grid, title="rollout of [CLS] <x>", opacity=0.4)
    image, heat = fig.data
    assert np.asarray(image.z).shape == (28, 28, 3)
    np.testing.assert_allclose(np.asarray(heat.z), grid.numpy(), rtol=1e-6)
    assert heat.x0 - heat.dx / 2 == -0.5 and heat.x0 + (7 - 0.5) * heat.dx == 27.5  # cells span the image
    assert heat.y0 - heat.dy / 2 == -0.5 and heat.dx == 4 and heat.opacity == 0.4
    assert fig.layout.title.text == "rollout of [CLS] &lt;x&gt;"
    with pytest.raises(ValueError, match="opacity"):
        image_overlay(maps.pixels, grid, opacity=1.5)


def test_summaries_cross_attention_and_rollout_figures_show_their_values() -> None:
    probs = _softmax_maps(3, 4, 6, 6)
    special = [True, False, False, False, False, True]
    summaries = head_summaries(probs, special)
    fig = head_summary_figure(summaries)
    assert len(fig.data) == 3
    np.testing.assert_allclose(np.asarray(fig.data[0].z), summaries.entropy.numpy(), rtol=1e-6)
    assert fig.data[0].zmax == pytest.approx(math.log(6)) and fig.data[2].zmax == 1.0
    assert f"log T = {math.log(6):.2f}" in fig.layout.annotations[0].text
    assert len({t.colorbar.x for t in fig.data}) == 3  # a colour bar beside each map
    cross = _softmax_maps(3, 5)
    cfig = cross_attention_figure(cross, ["le", "chat", "</s>"], ["the", "cat", "sat", "<pad>", "</s>"])
    assert np.asarray(cfig.data[0].z).shape == (3, 5) and cfig.layout.yaxis.title.text.startswith("decoder step")
    assert "&lt;pad&gt;" in cfig.layout.xaxis.ticktext
    row = rollout(probs)[-1][0]
    bars = rollout_bars(row, ["[CLS]", "a", "<b>", "a", "c", "[SEP]"])
    np.testing.assert_allclose(np.asarray(bars.data[0].y), row.numpy(), rtol=1e-6)
    assert list(bars.layout.xaxis.ticktext)[2] == "&lt;b&gt;"
    with pytest.raises(ValueError, match="6 tokens"):
        rollout_bars(row, ["a"])


def test_default_figures_at_512_tokens_stay_under_10_mb() -> None:
    t = 512
    probs = _softmax_maps(6, 12, t, t, sharpness=4.0)
    tokens = ["[CLS]"] + [f"w{i % 97}" for i in range(t - 2)] + ["[SEP]"]
    summaries = head_summaries(probs, [tok in ("[CLS]", "[SEP]") for tok in tokens])
    figs = default_figures(probs, tokens, summaries, rollout(probs)[-1][0])
    assert set(figs) == {"model_view", "head_view", "head_heatmap", "mean_heatmap", "head_summaries", "rollout"}
    sizes = {name: figure_bytes(fig) for name, fig in figs.items()}
    assert sum(sizes.values()) < 10_000_000, sizes
    assert sizes["model_view"] < 1_000_000  # 72 panels of 32 x 32, not of 512 x 512
    assert np.asarray(figs["head_heatmap"].data[0].z).shape == (t, t)  # every cell of the chosen head
    assert figure_bytes(figs["rollout"]) == len(figs["rollout"].to_json())


def test_an_overlay_can_put_row_zero_at_the_bottom_for_a_spectrogram() -> None:
    pixels, grid = np.zeros((1, 40, 100)), np.arange(50, dtype=np.float32).reshape(5, 10)
    image = image_overlay(pixels, grid)
    spectrogram = image_overlay(pixels, grid, row_zero_at_bottom=True)
    assert list(image.layout.yaxis.range) == [39.5, -0.5]  # an image: row 0 at the top
    assert list(spectrogram.layout.yaxis.range) == [-0.5, 39.5]  # the lowest band at the bottom
    assert np.array_equal(spectrogram.data[1].z, image.data[1].z)  # the same data: only the axis turns
