"""Compare: two models side by side on the same input (predictions and one attribution method)."""

import streamlit as st
import torch
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from playground.bundle import Bundle
from playground.bundle.runs import checkpoint_folders, list_checkpoints
from playground.explain import METHODS, Explanation, MethodNotSupportedError, display_map, explain, methods_for
from playground.figures.explain import overlay_figure, token_bar_figure
from playground.figures.viz import topk_bar
from playground.inspection.predict import predict_image, predict_text
from playground.models import MODELS
from ui.charts import plotly_chart
from ui.links import checkpoint_name, link, model_link
from ui.pages import ensure_app_entry
from ui.state import DEFAULT_MODEL, active_model, model_from_link, session_memo, show_error, tensor_key
from ui.widgets import input_image_picker, text_input_picker

TOP_K = 5


def candidates(modality: str) -> dict[str, str]:
    """Models that take ``modality``: link text -> label (saved runs and shipped checkpoints, and the
    offline pretrained default for images)."""
    found: dict[str, str] = {}
    if modality == "image":
        found[model_link("pretrained", DEFAULT_MODEL)] = f"{DEFAULT_MODEL} (pretrained, ImageNet)"
    for info in list_checkpoints(checkpoint_folders()):
        if info.architecture in MODELS.names() and MODELS.get(info.architecture).modality == modality:
            found[model_link("checkpoint", checkpoint_name(info.path))] = f"{info.title} ({checkpoint_name(info.path)})"
    return found


def explained(bundle: Bundle, inputs: torch.Tensor, method: str, slot: str) -> Explanation | str:
    """The explanation (or why the method does not apply), kept while model, input and method stay."""

    def run() -> Explanation | str:
        try:
            return explain(bundle, inputs, method)
        except MethodNotSupportedError as exc:
            return str(exc)

    return session_memo(slot, (tensor_key(inputs), method), run, anchor=bundle.model)


def show_side(
    where: DeltaGenerator,
    name: str,
    bundle: Bundle,
    given: Image.Image | str,
    inputs: torch.Tensor,
    tokens: list[str],
    method: str,
) -> None:
    """One model's column: its top-k and its attribution map for its own top class.

    ``given``: the image or text as the person gave it; ``inputs``: this model's own input made from
    it (``(C, H, W)`` pixels in [0, 1] at its size, or ``(T,)`` ids of its tokenizer, ``tokens``).
    """
    with where:
        st.markdown(f"**{name}: {bundle.title}**")
        try:
            if isinstance(given, Image.Image):
                prediction = predict_image(bundle, given, top_k=TOP_K)
            else:
                prediction = predict_text(bundle, given, top_k=TOP_K).prediction
        except (ValueError, RuntimeError) as exc:
            show_error(exc, f"run {bundle.title}")
            return
        best = prediction.top_k[0]
        st.subheader(f"{best.label} ({best.probability:.1%})")
        plotly_chart(topk_bar(prediction.top_k), key=f"cmp_topk_{name}")
        result = explained(bundle, inputs, method, f"compare_{name}")
        if isinstance(result, str):
            st.info(f"{METHODS.get(method).title} does not apply to {bundle.title}: {result}", icon=":material/block:")
        elif bundle.modality == "image":
            heat = display_map(result.attributions, "signed")  # (H, W)
            plotly_chart(
                overlay_figure(result.inputs, heat, "signed", 0.6, f"{METHODS.get(method).title} for {result.label}"),
                key=f"cmp_map_{name}",
            )
        else:
            plotly_chart(token_bar_figure(tokens, result.attributions, title="Top tokens"), key=f"cmp_tokens_{name}")


ensure_app_entry()
st.title("Compare")
st.caption(
    "Two models on the same input: their predictions and where each one looked, with one attribution method. "
    "(Several methods on one model: the Explain page's **Compare methods**.)"
)
a = active_model()
modality = a.bundle.modality
if modality not in ("image", "text"):
    st.info(
        f"The active model takes {modality} input; Compare shows image and text classifiers. Pick one on the Models page.",
        icon=":material/info:",
    )
    st.stop()
options = {k: v for k, v in candidates(modality).items() if k != a.link}
if not options:
    st.info(f"There is no other {modality} model to compare with: train one on the Train page.", icon=":material/info:")
    st.stop()
picked = st.selectbox(
    f"Compare {a.bundle.title} (the active model) with",
    list(options),
    format_func=options.__getitem__,
    key=link("cmp_model", choices=list(options)),
)
try:
    b_bundle = session_memo("compare_model", picked, lambda: model_from_link(picked).bundle)
except (ValueError, OSError, RuntimeError) as exc:
    show_error(exc, f"load {picked}")
    st.stop()
methods = [m for m in methods_for(modality) if not METHODS.get(m).slow]  # quick ones: two models run them
method = st.selectbox(
    "Attribution method",
    methods,
    index=methods.index("saliency") if "saliency" in methods else 0,
    format_func=lambda m: METHODS.get(m).title,
    key=link("cmp_method", choices=methods),
)

tokens_a: list[str] = []
tokens_b: list[str] = []
if modality == "image":
    image, image_name = input_image_picker(a.bundle, key="cmp_input")
    given: Image.Image | str = image
    inputs_a = a.bundle.image_preprocessing.pixels_from_pil(image)  # (C, H, W) in [0, 1] at A's size
    inputs_b = b_bundle.image_preprocessing.pixels_from_pil(image)  # at B's own size and channels
else:
    text = text_input_picker(a.bundle, key="cmp_text")
    if text is None:
        st.stop()
    given = text
    encoded_a, encoded_b = a.bundle.preprocessing.encode(text), b_bundle.preprocessing.encode(text)
    inputs_a, inputs_b = torch.as_tensor(encoded_a.ids), torch.as_tensor(encoded_b.ids)  # (T,) each tokenizer's
    tokens_a, tokens_b = list(encoded_a.tokens), list(encoded_b.tokens)

left, right = st.columns(2)
show_side(left, "A", a.bundle, given, inputs_a, tokens_a, method)
show_side(right, "B", b_bundle, given, inputs_b, tokens_b, method)
