"""Home: what the playground does, every page in a line, and where to start."""

import streamlit as st

from ui.pages import ensure_app_entry

ensure_app_entry()
st.title("Deep Learning Playground")
st.markdown(
    "Pick a CNN, an RNN or a Transformer; train it on real data with live curves or load a pretrained one; "
    "give it images, audio, text or numeric sequences; look inside it and ask why it answered as it did. "
    "Everything works offline: the default model is **EfficientNet-Lite0** with real ImageNet weights, and "
    "the datasets of the Train page ship with the install."
)
st.markdown(
    "It grew out of a tutorial article on large models (convolution and pooling, the RNN update, "
    "self-attention, three code examples and four open problems): the **Learn** page walks it in its "
    "order, with a real model's numbers."
)

PAGES_IN_ORDER = [
    ("pages/learn.py", "Learn", "The article step by step: a convolution and a max-pool recomputed by hand."),
    ("pages/models.py", "Models", "Build an architecture, load pretrained weights, a saved run or a checkpoint."),
    ("pages/train.py", "Train", "Images, text, audio, sequences or string tasks, with live curves."),
    ("pages/runs.py", "Runs", "Every training run: live curves, compare, stop, use, download."),
    ("pages/predict.py", "Predict", "Photos, the camera, audio clips, the microphone, typed text."),
    ("pages/features.py", "Filters & feature maps", "What each conv filter looks for and what it finds."),
    ("pages/rnn_states.py", "RNN states", "Hidden states and gates over time, recomputed from the weights."),
    ("pages/attention.py", "Attention", "Every layer and head, rollout, one row of the formula."),
    ("pages/explain.py", "Explain", "Which parts of the input made the decision, and how far to trust it."),
    ("pages/compare.py", "Compare", "Two models on the same input: predictions and attribution maps."),
    ("pages/robustness.py", "Robustness", "Noise, blur, attacks: how accuracy falls, with units."),
]
for row in range(0, len(PAGES_IN_ORDER), 4):
    for col, (page, label, text) in zip(st.columns(4), PAGES_IN_ORDER[row : row + 4], strict=False):
        with col, st.container(border=True):
            st.page_link(page, label=label)
            st.caption(text)

st.subheader("In a classroom")
st.markdown(
    "Turn on **Presentation mode** in the sidebar (or add `?present=1` to the address) for larger text and "
    "charts that read on a projector; each page's controls fold away except the ones you pin in its "
    "**Controls** bar. Light or dark: the ⋮ menu at the top right (both read on a projector). "
    "The address bar always holds the page's view (model, input, settings and pins): copy it, or use "
    "**Share this view** in the sidebar, and a student who opens it sees the same "
    "thing. **Figure pack** downloads every chart of a page for your slides."
)
