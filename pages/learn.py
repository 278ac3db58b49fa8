"""Learn: the tutorial article the playground grew from, in its order, with the model's real numbers."""

import inspect

import pandas as pd
import streamlit as st
import torch

from playground.bundle import Bundle
from playground.figures.arithmetic import conv_step_figure, layer_input_figure, pool_step_figure
from playground.inspection.arithmetic import conv_step, max_pool_step, rnn_output_step
from playground.inspection.features import capture_input_output, conv_layers
from playground.models.seed_cnn import SeedCNN
from ui.charts import plotly_chart
from ui.links import link
from ui.pages import ensure_app_entry
from ui.state import (
    active_model,
    model_summary,
    open_example,
    session_memo,
    shipped_bundle,
    show_error,
    tensor_key,
)
from ui.widgets import input_image_picker

SHIPPED_CNN = "lenet5-mnist"
SHIPPED_RNN = "lstm-brackets"
MODEL_CHOICES = {"shipped": "LeNet-5 trained on MNIST (shipped)", "active": "the active model"}

ARTICLE_CNN = """import torch
import torch.nn as nn

class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 6 * 6, 128)   # fits one input size only
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))    # F was never imported
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 64 * 6 * 6)
        x = F.relu(self.fc1(x))
        return self.fc2(x)"""

#: The corrected CNN as the registry builds it: its own source, so the page cannot drift from the code.
SEED_CNN = "import torch.nn.functional as F   # the import the article forgot\n\n" + inspect.getsource(SeedCNN)

KERAS_LSTM = """model = Sequential([
    LSTM(128, return_sequences=True, input_shape=(100, 64)),
    LSTM(128),
    Dense(10, activation="softmax"),
])"""

TORCH_LSTM = """# the playground's twin: the registry's seed_lstm
nn.LSTM(input_size=64, hidden_size=128, num_layers=2, batch_first=True)
# the second layer's last hidden state h_T -> nn.Linear(128, 10) -> logits
# (softmax is in the loss, nn.CrossEntropyLoss, not in the model)"""

BERT = """from transformers import AutoTokenizer, AutoModel

tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
model = AutoModel.from_pretrained("bert-base-uncased", output_attentions=True)
outputs = model(**tokenizer("The cat sat on the mat.", return_tensors="pt"))"""


def cnn_for_lesson() -> Bundle:
    """The CNN of section 3.1: the active model when it is an image CNN with a max-pool and the
    person picks it, else the shipped LeNet-5."""
    active = active_model().bundle
    usable = active.modality == "image" and bool(conv_layers(active.model))
    options = list(MODEL_CHOICES) if usable else ["shipped"]
    choice = st.radio(
        "Model", options, format_func=MODEL_CHOICES.__getitem__, horizontal=True, key=link("l_model", choices=options)
    )
    return active if choice == "active" else shipped_bundle(SHIPPED_CNN)


def convolution_lesson(bundle: Bundle, x: torch.Tensor, x_key: str) -> None:
    """Pick a conv layer and an output position; recompute its value from the window and the kernel."""
    layers = [name for name, _ in conv_layers(bundle.model)]
    c1, c2, c3, c4 = st.columns(4)
    name = c1.selectbox("Conv layer", layers, key=link("l_conv", choices=layers))
    conv = dict(conv_layers(bundle.model))[name]
    layer_in, layer_out = session_memo(
        "learn_conv", (name, x_key), lambda: capture_input_output(bundle.model, x, name), anchor=bundle.model
    )
    c_out, h_out, w_out = layer_out.shape[1:]
    channel = int(
        c2.number_input("Output channel c", 0, c_out - 1, 0, key=link("l_c", bounds=(0, c_out - 1), kind=int))
    )
    row = int(c3.slider("Row i", 0, h_out - 1, h_out // 2, key=link("l_i", bounds=(0, h_out - 1), kind=int)))
    col = int(c4.slider("Column j", 0, w_out - 1, w_out // 2, key=link("l_j", bounds=(0, w_out - 1), kind=int)))
    step = conv_step(conv, layer_in[0], layer_out[0], channel, row, col)

    n_in = step.window.shape[0]
    k = 0
    if n_in > 1:
        k = int(st.slider("Input channel shown", 0, n_in - 1, 0, key=link("l_k", bounds=(0, n_in - 1), kind=int)))
    left, right = st.columns([1, 2])
    kh, kw = conv.kernel_size
    dh, dw = conv.dilation
    plotly_chart(
        layer_input_figure(
            layer_in[0, step.in_channels.start + k], step.top_left, (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        ),
        key="l_conv_input",
        where=left,
    )
    plotly_chart(conv_step_figure(step, k), key="l_conv_step", where=right)
    partial = " + ".join(f"{float(p.sum()):.3f}" for p in step.products[:8])
    more = " + …" if n_in > 8 else ""
    top, first = step.top_left  # the window's first input row and column (negative: in the zero padding)
    st.latex(
        rf"y_{{{channel},{row},{col}}} = b_{{{channel}}} + \sum_k \sum_{{u,v}} W_{{{channel},k,u,v}}\,"
        rf" x_{{k,\,({top})+{dh if dh > 1 else ''}u,\,({first})+{dw if dw > 1 else ''}v}}"
        rf" = {step.bias:.3f} + ({partial}{more}) = {step.value:.4f}"
    )
    st.caption(
        f"The sum runs over {n_in} input channel(s) × {kh}×{kw} kernel positions"
        f"{f' (stride {conv.stride}, padding {conv.padding})' if conv.stride != (1, 1) or conv.padding != (0, 0) else ''}; "
        "the window is in the layer's own input: the normalized image for a first layer."
    )
    if step.matches:
        st.success(
            f"Recomputed {step.value:.5f}; the model computed {step.model_value:.5f} (|diff| = {step.abs_diff:.1e}).",
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            f"Recomputed {step.value:.5f}, but the model computed {step.model_value:.5f}.", icon=":material/warning:"
        )


def pooling_lesson(bundle: Bundle, x: torch.Tensor, x_key: str) -> None:
    """A 2×2 (or the model's own) max-pool: its window and the largest value, checked."""
    pools = [name for name, m in bundle.model.named_modules() if isinstance(m, torch.nn.MaxPool2d)]
    if not pools:
        st.info(f"{bundle.title} has no max-pool layer (it downsamples with strided convolutions).")
        return
    c1, c2, c3, c4 = st.columns(4)
    name = c1.selectbox("Pool layer", pools, key=link("l_pool", choices=pools))
    pool = dict(bundle.model.named_modules())[name]
    pool_in, pool_out = session_memo(
        "learn_pool", (name, x_key), lambda: capture_input_output(bundle.model, x, name), anchor=bundle.model
    )
    c_out, h_out, w_out = pool_out.shape[1:]
    channel = int(c2.number_input("Channel", 0, c_out - 1, 0, key=link("l_pc", bounds=(0, c_out - 1), kind=int)))
    row = int(c3.slider("Row", 0, h_out - 1, h_out // 2, key=link("l_pi", bounds=(0, h_out - 1), kind=int)))
    col = int(c4.slider("Column", 0, w_out - 1, w_out // 2, key=link("l_pj", bounds=(0, w_out - 1), kind=int)))
    step = max_pool_step(pool, pool_in[0], pool_out[0], channel, row, col)
    left, right = st.columns([1, 2])
    plotly_chart(pool_step_figure(step), key="l_pool_step", where=left)
    with right:
        st.markdown(
            f"The pool's input is the feature map after ReLU. Window at rows {step.top_left[0]}–"
            f"{step.top_left[0] + step.window.shape[0] - 1}, columns {step.top_left[1]}–"
            f"{step.top_left[1] + step.window.shape[1] - 1} of channel {channel}: it keeps the largest value and "
            "drops the rest, halving the map's height and width."
        )
        if step.matches:
            st.success(
                f"max = {step.value:.5f}; the model's output is {step.model_value:.5f}.", icon=":material/check_circle:"
            )
        else:
            st.warning(
                f"max = {step.value:.5f}, the model's output is {step.model_value:.5f}.", icon=":material/warning:"
            )


def rnn_output_lesson() -> None:
    """``y = g(W_hy h + b_y)`` for the shipped bracket LSTM on a typed string, number by number."""
    bundle = shipped_bundle(SHIPPED_RNN)
    text = st.text_input(
        "A string of brackets for the shipped LSTM (it says whether they are balanced)",
        "(()(()))",
        max_chars=64,
        key=link("l_rnn_text"),
    )
    try:
        ids = bundle.preprocessing.encode(text).ids  # (T,) int64
        step = rnn_output_step(bundle.model, ids)
    except ValueError as exc:
        show_error(exc, "read this string")
        return
    read = {"last": "the last step's h_T", "max": "the largest value of each unit over the steps (max-pooling)"}
    st.markdown(
        f"This model reads h as {read.get(step.pooling, step.pooling)}: {step.features.numel()} numbers. "
        "Each class's logit is one row of W_hy times h, plus its bias; g is the softmax."
    )
    rows = [
        {
            "class": label,
            "W_hy[k] · h": float(step.weight[k] @ step.features),
            "b_y[k]": float(step.bias[k]),
            "logit (recomputed)": float(step.logits[k]),
            "logit (the model's)": float(step.model_logits[k]),
            "g = softmax": float(step.probs[k]),
        }
        for k, label in enumerate(bundle.labels)
    ]
    st.dataframe(
        pd.DataFrame(rows), hide_index=True, column_config={"g = softmax": st.column_config.NumberColumn(format="%.3f")}
    )
    if step.matches:
        st.success(
            f"The recomputed logits equal the model's (max |diff| = {step.max_abs_diff:.1e}).",
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            f"The recomputed logits differ from the model's by {step.max_abs_diff:.1e}.", icon=":material/warning:"
        )


ensure_app_entry()
st.title("Learn")
st.markdown(
    "The playground grew out of a tutorial article on large models. This page walks it in its order: each "
    "step is a few lines, then the article's formula with a real model's numbers, then a link to the page "
    "that goes deeper."
)

st.header("3.1 Convolution and max-pooling")
st.markdown(
    "A convolution layer slides each filter (kernel) over its input. At every output position it multiplies "
    "the input values under the kernel by the kernel's weights, sums the products and adds the filter's bias. "
    "Pick a position: the numbers below are the model's own."
)
bundle = cnn_for_lesson()
image, image_name = input_image_picker(bundle, key="l_input")
pixels = bundle.image_preprocessing.pixels_from_pil(image)  # (C, H, W) in [0, 1]
x = bundle.image_preprocessing.normalize(pixels).unsqueeze(0)  # (1, C, H, W), the model's input
x_key = tensor_key(x)
convolution_lesson(bundle, x, x_key)
st.subheader("Max-pooling")
pooling_lesson(bundle, x, x_key)
st.page_link("pages/features.py", label="Every filter and feature map of a layer", icon=":material/grid_view:")

st.header("3.2 The RNN update")
st.markdown(
    "A recurrent network reads a sequence one step at a time and carries a hidden state: the new state mixes "
    "the previous one with the current input, and the output is read from the state."
)
st.latex(r"h_t = f(W_{hh}\, h_{t-1} + W_{xh}\, x_t + b_h) \qquad y_t = g(W_{hy}\, h_t + b_y)")
rnn_output_lesson()
st.markdown(
    "The RNN states page recomputes every hidden state, gate and cell state of an LSTM from its weights and "
    "checks them against PyTorch."
)
if st.button("Open an LSTM reading brackets, step by step", icon=":material/timeline:", key="l_open_rnn"):
    open_example("pages/rnn_states.py", "checkpoint:lstm-brackets", {"rs_input_text": "(()(()))"})

st.header("3.3 Self-attention and cross-attention")
st.latex(r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V")
st.markdown(
    "Every token (or image patch) asks a query of every other token's key; the softmax of the scaled scores "
    "weighs their values. In cross-attention the queries come from the decoder and the keys and values "
    "from the encoder."
)
c1, c2 = st.columns(2)
if c1.button("One attention row recomputed, on the MNIST ViT", icon=":material/hub:", key="l_open_attention"):
    open_example("pages/attention.py", "checkpoint:vit_tiny-mnist", {"at_view": "formula"})
c2.page_link(
    "pages/train.py",
    label="Cross-attention: train a small translator on a string task",
    icon=":material/model_training:",
    query_params={"t_modality": "seq2seq"},
)

st.header("4.1 The article's CNN in PyTorch")
st.caption("As the article prints it:")
st.code(ARTICLE_CNN, language="python")
st.caption("Corrected, as the playground's `seed_cnn`:")
st.code(SEED_CNN, language="python")
side = int(st.number_input("Input height and width (px)", 4, 512, 32, key=link("l_side", bounds=(4, 512), kind=int)))
flatten = 64 * (side // 4) ** 2
fits = flatten == 64 * 6 * 6
st.markdown(
    f"Two 2×2 pools take {side}×{side} to {side // 4}×{side // 4}, so the first linear layer needs "
    f"**64 × {side // 4} × {side // 4} = {flatten:,}** inputs. The article hard-codes 64 × 6 × 6 = 2,304: "
    + ("it fits this size." if fits else "**it fails at this size** (it fits 24–27 px only).")
    + " It also calls `F.relu` without importing `torch.nn.functional as F`. The registry's `seed_cnn` computes "
    "the size from the input instead."
)
st.page_link(
    "pages/models.py",
    label="Build seed_cnn on the Models page",
    icon=":material/account_tree:",
    query_params={"m_arch": "seed_cnn"},
)

st.header("4.2 The article's LSTM in Keras, and its PyTorch twin")
st.code(KERAS_LSTM, language="python")
st.code(TORCH_LSTM, language="python")
st.page_link(
    "pages/train.py",
    label="Train seed_lstm on numeric sequences",
    icon=":material/model_training:",
    query_params={"t_modality": "sequence", "t_arch": "seed_lstm"},
)

st.header("4.3 BERT")
st.code(BERT, language="python")
st.markdown(
    "`bert-base-uncased` needs a download (440 MB). Offline, the playground ships MiniLM, a 6-layer BERT with "
    "the same tokenizer: its attention heads are on the Attention page."
)
if st.button("Open MiniLM's attention", icon=":material/hub:", key="l_open_minilm"):
    open_example("pages/attention.py", "pretrained:minilm", {"at_input_text": "The cat sat on the mat."})

st.header("7. The open problems, measured here")
active = active_model().bundle
summary = model_summary(active)
problems = [
    (
        "Compute",
        f"{active.title}: {summary.total_params:,} parameters, {summary.flops / 1e9:.2f} GFLOPs per input.",
        "pages/models.py",
        "Parameters and FLOPs layer by layer",
    ),
    (
        "Data",
        "Accuracy depends on what the model saw: class balance, and accuracy on a speaker it never heard.",
        "pages/train.py",
        "Train, with the validation part you choose",
    ),
    (
        "Interpretability",
        "An attribution map should add up to the prediction (completeness) and survive sanity checks.",
        "pages/explain.py",
        "Explain, with completeness and sanity checks",
    ),
    (
        "Robustness",
        "Accuracy under noise, blur and attacks, summed as the mean corruption error (mCE).",
        "pages/robustness.py",
        "Robustness sweeps and attacks",
    ),
]
for column, (title, text, page, label) in zip(st.columns(4), problems, strict=True):
    with column, st.container(border=True):
        st.markdown(f"**{title}**")
        st.caption(text)
        st.page_link(page, label=label)
