"""Attention: every layer's and head's attention of the active transformer, on your text or image.

The maps come from ``playground.inspection.attention`` (read from the model's own forward pass, rows summing
to 1), the figures from ``playground.figures.attention``. Seq2seq models add the decoder's
cross-attention as it writes its answer.
"""

from __future__ import annotations

import hashlib
import html

import pandas as pd
import streamlit as st
import torch

from playground.bundle import Bundle
from playground.figures.attention import (
    attention_heatmap,
    cross_attention_figure,
    formula_figure,
    formula_table,
    head_summary_figure,
    head_view,
    image_overlay,
    model_view,
    rollout_bars,
)
from playground.inspection.attention import (
    AttentionMaps,
    NoAttentionError,
    audio_attention,
    class_token_map,
    head_summaries,
    image_attention,
    rollout,
    supports_attention,
    text_attention,
)
from playground.inspection.predict import untrained_head
from ui.audio import audio_input_picker
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry, lesson_link
from ui.state import active_model, session_memo, show_error
from ui.transformers import import_model_code, offer_transformers
from ui.widgets import input_image_picker, seq2seq_source, shorten, text_input_picker

LONG_INPUT = 64  # tokens: longer inputs get a window for the token-level views
VIEWS = {
    "model": "Model view (all layers × heads)",
    "head": "Head view (token links)",
    "heatmap": "One head, tokens on both axes",
    "summaries": "Heads compared",
    "rollout": "Rollout",
    "formula": "The formula, with the numbers",
}


def _maps_for(bundle: Bundle, key: tuple[object, ...], compute: object) -> AttentionMaps:
    """The attention maps of this model and input, computed once and kept while they stay the same.

    Kept in session state (one entry) rather than ``st.cache_data``: the maps hold the model's
    forward pass for the formula view, which should not be pickled on every rerun.
    """
    held = st.session_state.get("_attention_maps")
    if held is not None and held[0] == key and held[1] is bundle.model:
        maps: AttentionMaps = held[2]
        return maps
    with st.spinner("Running the model and reading every layer's attention…"):
        maps = compute()  # type: ignore[operator]
    st.session_state._attention_maps = (key, bundle.model, maps)
    return maps


def _token_window(n_tokens: int) -> tuple[int, int]:
    """A window of tokens for the token-level views of long inputs (all tokens for short ones)."""
    if n_tokens <= LONG_INPUT:
        return 0, n_tokens
    start, stop = st.slider(
        f"Token window (of {n_tokens}; the model view shows all of them, averaged down)",
        0,
        n_tokens,
        (0, LONG_INPUT),
        key=link("at_window", choices=range(n_tokens + 1), kind=list),
    )
    start = min(int(start), n_tokens - 1)  # both handles at the end still leave one token
    return start, max(int(stop), start + 1)


def _layer_head(
    maps: AttentionMaps, *, allow_mean: bool = True, all_label: str = "mean over heads"
) -> tuple[int, int | None]:
    c1, c2 = st.columns(2)
    layer = int(
        c1.selectbox(
            "Layer",
            range(maps.num_layers),
            index=maps.num_layers - 1,
            format_func=lambda i: f"layer {i}",
            key=link("at_layer", choices=range(maps.num_layers)),
        )
    )
    heads: list[int | None] = [None] if allow_mean else []
    heads += list(range(maps.num_heads))
    head = c2.selectbox(
        "Head",
        heads,
        format_func=lambda h: all_label if h is None else f"head {h}",
        key=link(f"at_head_{all_label[:4]}" if allow_mean else "at_head_only", choices=heads),
    )
    return layer, head


def _matrix(maps: AttentionMaps, layer: int, head: int | None) -> torch.Tensor:
    probs = maps.attention_probs[layer]  # (H, T, T)
    return probs.mean(dim=0) if head is None else probs[head]


def show_views(maps: AttentionMaps, bundle: Bundle) -> None:
    """Every view of one input's attention; the person picks which."""
    tokens = maps.tokens
    n = len(tokens)
    audio = bundle.modality == "audio"  # patches of a spectrogram: drawn with the lowest bands at the bottom
    view = st.radio(
        "View", list(VIEWS), format_func=VIEWS.__getitem__, horizontal=True, key=link("at_view", choices=list(VIEWS))
    )

    if view == "model":
        layers, heads = list(range(maps.num_layers)), list(range(maps.num_heads))
        if maps.num_layers * maps.num_heads > 24:  # a big grid: let the person narrow it down
            c1, c2 = st.columns(2)
            layers = (
                c1.multiselect(
                    "Layers",
                    layers,
                    default=layers,
                    key=link(f"at_mv_layers_{maps.num_layers}", choices=layers, kind=list),
                )
                or layers
            )
            heads = (
                c2.multiselect(
                    "Heads", heads, default=heads, key=link(f"at_mv_heads_{maps.num_heads}", choices=heads, kind=list)
                )
                or heads
            )
        fig = model_view(maps.attention_probs, tokens, layers=layers, heads=heads)
        plotly_chart(fig, key="at_model_view", filename="model_view")
        st.caption(
            "Each small map is one head: rows are the tokens that look (queries), columns the tokens they "
            "look at (keys). Diagonal stripes are positional heads; a bright column is a token everyone "
            "attends to (often [CLS] or [SEP])."
        )
    elif view == "head":
        layer, head = _layer_head(maps, all_label="all heads")
        start, stop = _token_window(n)
        min_weight = st.slider(
            "Hide links weaker than", 0.01, 0.5, 0.05, 0.01, key=link("at_min_weight", bounds=(0.01, 0.5), kind=float)
        )
        heads = None if head is None else [head]
        fig = head_view(maps.attention_probs[layer], tokens, heads=heads, window=(start, stop), min_weight=min_weight)
        plotly_chart(fig, key="at_head_view", filename=f"head_view_layer{layer}")
        st.caption("Left: the token that looks; right: the token it looks at. Click a head in the legend to hide it.")
    elif view == "heatmap":
        layer, head = _layer_head(maps)
        start, stop = _token_window(n)
        matrix = _matrix(maps, layer, head)
        title = f"layer {layer}, " + ("mean over heads" if head is None else f"head {head}")
        fig = attention_heatmap(matrix, tokens, title=title, window=(start, stop))
        plotly_chart(fig, key="at_heatmap", filename="attention_heatmap")
    elif view == "summaries":
        summaries = session_memo(  # once per result: a display change of another view does not redo it
            "at_summaries",
            None,
            lambda: head_summaries(
                maps.attention_probs,
                maps.special,
                patch_grid=maps.patch_grid,
                patch_size=maps.patch_size,
                num_prefix=maps.num_prefix,
            ),
            anchor=maps,
        )
        plotly_chart(head_summary_figure(summaries), key="at_summaries", filename="head_summaries")
        st.caption(
            "Entropy near 0: the head looks at one token; near log T: it spreads evenly. Small mean distance: a "
            "local or positional head. A high share on special tokens: a 'no-op' head parking its attention on "
            "[CLS] / [SEP] (Clark et al. 2019)."
        )
    elif view == "rollout":
        fusions = ["mean", "max", "min"]
        fusion = st.radio("Heads combined by", fusions, horizontal=True, key=link("at_fusion", choices=fusions))
        # (L, T, T), once per result and fusion: the depth slider and the token window only redraw
        rolled = session_memo(
            "at_rollout", fusion, lambda: rollout(maps.attention_probs, head_fusion=fusion), anchor=maps
        )
        depth = int(
            st.slider(
                "Rolled out up to layer",
                0,
                maps.num_layers - 1,
                maps.num_layers - 1,
                key=link("at_rollout_depth", bounds=(0, maps.num_layers - 1), kind=int),
            )
        )
        if maps.patch_grid is not None:
            c1, c2 = st.columns(2)
            raw = _matrix(maps, depth, None)
            plotly_chart(
                image_overlay(
                    maps.pixels,
                    class_token_map(maps, raw),
                    title=f"raw: [CLS] → patches, layer {depth}",
                    row_zero_at_bottom=audio,
                ),
                key="at_raw_overlay",
                filename="cls_attention",
                where=c1,
            )
            plotly_chart(
                image_overlay(
                    maps.pixels,
                    class_token_map(maps, rolled[depth]),
                    title=f"rollout up to layer {depth}",
                    row_zero_at_bottom=audio,
                ),
                key="at_rollout_overlay",
                filename="rollout",
                where=c2,
            )
            if audio:
                st.caption(
                    "Over the log-mel spectrogram the model heard: time to the right, the lowest mel bands at the "
                    "bottom; each cell is one patch, and its colour how much the class token takes from it."
                )
        else:
            received = rolled[depth].mean(dim=0)  # (T,): how much of each input token reaches the top, on average
            plotly_chart(rollout_bars(received, tokens), key="at_rollout_bars", filename="rollout")
            start, stop = _token_window(n)
            fig = attention_heatmap(rolled[depth], tokens, title=f"rollout up to layer {depth}", window=(start, stop))
            plotly_chart(fig, key="at_rollout_heatmap", filename="rollout_heatmap")
        st.caption(
            "Rollout (Abnar & Zuidema 2020) follows attention through the residual stream: each layer's "
            "head-averaged map is mixed half-and-half with the identity and the layers are multiplied. "
            "Raw maps show where one layer looks; rollout, where the information came from."
        )
    else:
        layer, head = _layer_head(maps, allow_mean=False)
        query = int(
            st.selectbox(
                "Query token i",
                range(n),
                format_func=lambda i: f"{i}: {tokens[i]}",
                key=link("at_query", choices=range(n)),
            )
        )
        formula = maps.formula(layer, int(head or 0), query)
        st.latex(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V")
        q_text = ", ".join(f"{v:.3f}" for v in formula.query[:8].tolist())
        more = "…" if formula.query.numel() > 8 else ""
        st.caption(
            f"q_{query} for “{shorten(tokens[query], 30)}” = [{q_text}{more}] (d_k = {formula.query.numel()}, "
            f"√d_k = {formula.scale:.3f}); one key k_j per token; score_j = q·k_j / √d_k; the softmax of the "
            "scores is the attention row."
        )
        plotly_chart(formula_figure(formula, tokens), key="at_formula", filename="formula")
        st.dataframe(pd.DataFrame(formula_table(formula, tokens)), hide_index=True)
        if formula.matches:
            st.success(
                f"The recomputed row equals the model's own attention (max |diff| = {formula.max_abs_diff:.1e}).",
                icon=":material/check_circle:",
            )
        else:
            st.warning(
                f"The recomputed row differs from the model's by up to {formula.max_abs_diff:.1e}.",
                icon=":material/warning:",
            )


def seq2seq_section(bundle: Bundle) -> None:
    """The seq2seq model's answer and its cross-attention (decoder steps × source characters)."""
    result = seq2seq_source(bundle, key="at_s2s_text")
    if result is None:
        return
    st.markdown(f"**{html.escape(result.source)}** → **{html.escape(result.output) or '(nothing)'}**")
    layers, heads = int(result.cross_attention.shape[0]), int(result.cross_attention.shape[1])
    c1, c2 = st.columns(2)
    layer = int(
        c1.selectbox("Decoder layer", range(layers), index=layers - 1, key=link("at_s2s_layer", choices=range(layers)))
    )
    head = c2.selectbox(
        "Head",
        [None, *range(heads)],
        format_func=lambda h: "mean over heads" if h is None else f"head {h}",
        key=link("at_s2s_head", choices=[None, *range(heads)]),
    )

    def pick(attention: torch.Tensor) -> torch.Tensor:
        return attention[layer].mean(dim=0) if head is None else attention[layer, head]

    plotly_chart(
        cross_attention_figure(
            pick(result.cross_attention),
            result.output_tokens,
            result.source_tokens,
            title=f"cross-attention, decoder layer {layer}",
        ),
        key="at_cross",
        filename="cross_attention",
    )
    st.caption(
        "Each row is one step of the decoder writing its answer; the columns are the source characters. "
        "For 'reverse' a trained model draws the anti-diagonal: step i reads the i-th character from the end."
    )
    c1, c2 = st.columns(2)
    plotly_chart(
        attention_heatmap(
            pick(result.decoder_attention),
            result.output_tokens,  # step t writes output t ...
            ["[BOS]", *result.output_tokens[:-1]],  # ... reading the decoder inputs up to t: [BOS] and its own outputs
            title="decoder self-attention (causal)",
        ),
        key="at_dec_self",
        filename="decoder_self_attention",
        where=c1,
    )
    enc_layer = min(layer, int(result.encoder_attention.shape[0]) - 1)
    enc = result.encoder_attention[enc_layer]
    plotly_chart(
        attention_heatmap(
            enc.mean(dim=0) if head is None else enc[head], result.source_tokens, title=f"encoder layer {enc_layer}"
        ),
        key="at_enc_self",
        filename="encoder_self_attention",
        where=c2,
    )


# ---------------------------------------------------------------- page

ensure_app_entry()
st.title("Attention")
st.caption(
    "The article's Attention(Q, K, V) = softmax(QKᵀ / √d_k) V on your own input: every layer and head of the "
    "active transformer, how attention flows through the layers, and one row recomputed by hand."
)
lesson_link("3.3 self-attention and cross-attention")
# Keep the view settings while a run does not draw them (e.g. while a new model loads): Streamlit
# drops the state of widgets a run does not render ("retain statefulness when changing pages").
for _key in ("at_view", "at_fusion", "at_min_weight"):
    if _key in st.session_state:
        st.session_state[_key] = st.session_state[_key]
bundle = active_model().bundle

if bundle.modality == "seq2seq":
    seq2seq_section(bundle)
    st.stop()

if not supports_attention(bundle.model):
    st.info(
        f"The active model, **{bundle.title}**, has no attention layers. Load a transformer below, or train "
        "**transformer_encoder** on a text dataset, **vit_tiny** on MNIST or **transformer_seq2seq** on a string task "
        "on the Train page.",
        icon=":material/info:",
    )
    offer_transformers(key="at_offer")
    import_model_code()  # the page is drawn: MiniLM's model code loads while the user reads it
    st.stop()

st.subheader("Input")
try:
    if bundle.modality == "image":
        image, name = input_image_picker(bundle, key="at_image")
        digest = hashlib.sha256(image.tobytes()).hexdigest()  # the whole image: a prefix of its bytes could collide
        maps = _maps_for(bundle, ("image", image.size, digest), lambda: image_attention(bundle, image))
    elif bundle.modality == "text":
        text = text_input_picker(bundle, key="at_input")
        if text is None:
            st.stop()
        maps = _maps_for(bundle, ("text", text), lambda: text_attention(bundle, text))
    elif bundle.modality == "audio":
        picked = audio_input_picker("at_audio")
        if picked is None:
            st.stop()
        decoded, name = picked
        digest = hashlib.sha256(decoded.waveform.numpy().tobytes()).hexdigest()
        maps = _maps_for(
            bundle,
            ("audio", decoded.sample_rate, digest),
            lambda: audio_attention(bundle, decoded.waveform, decoded.sample_rate),
        )
        rows, cols = maps.patch_grid or (0, 0)
        st.caption(
            f"Each token is a patch of the log-mel spectrogram: {rows} groups of mel bands (f0 the lowest) × {cols} "
            "groups of frames (t0 the first), after the class token [CLS]."
        )
    else:
        st.info(f"{bundle.title} takes numeric sequences; the Attention page shows text, image and audio transformers.")
        st.stop()
except (NoAttentionError, ValueError, TypeError) as exc:
    show_error(exc, "read the attention")
    st.stop()

layers, heads, n = maps.num_layers, maps.num_heads, len(maps.tokens)
pred = maps.logits.softmax(-1)
prediction = (
    "untrained classification head (train it on the Train page)"
    if untrained_head(bundle)
    else f"prediction **{html.escape(maps.predicted)}** ({float(pred.max()):.1%})"
)
st.caption(
    f"{n} tokens · {layers} layers × {heads} heads · attention shaped ({layers}, {heads}, {n}, {n}) · {prediction}"
)
if maps.num_dropped:
    st.warning(
        f"The text is longer than the model takes: {maps.num_dropped} token(s) at the end were dropped.",
        icon=":material/content_cut:",
    )
show_views(maps, bundle)
with st.expander("Look at another transformer"):
    offer_transformers(key="at_switch")
