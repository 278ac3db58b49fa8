"""Home: what the playground does and where to start."""

import streamlit as st

from ui.pages import ensure_app_entry

ensure_app_entry()
st.title("Deep Learning Playground")
st.markdown(
    "Pick a CNN, train it on real data with live curves, upload a photo for a prediction, and look "
    "inside the model — filters and feature maps. Everything works offline: the default model is "
    "**EfficientNet-Lite0** with real ImageNet weights, and the digit datasets ship with the install."
)

cols = st.columns(4)
steps = [
    (
        "pages/models.py",
        "1 · Models",
        "Choose an architecture, a pretrained model, a saved run or upload a checkpoint.",
    ),
    ("pages/train.py", "2 · Train", "Train on MNIST, Fashion-MNIST, shapes or your own images, with live curves."),
    ("pages/predict.py", "3 · Predict", "Upload photos or use the camera; see the top-k and what the model sees."),
    ("pages/features.py", "4 · Look inside", "Conv filters, feature maps of your image, per-channel statistics."),
]
for col, (page, label, text) in zip(cols, steps, strict=True):
    with col, st.container(border=True):
        st.page_link(page, label=label)
        st.caption(text)

st.subheader("The formulas behind it")
st.markdown("A convolution layer slides each filter over the input and sums the products:")
st.latex(r"y_{c,i,j} = b_c + \sum_{k}\sum_{u,v} W_{c,k,u,v}\, x_{k,\,i+u,\,j+v}")
st.markdown("followed by a non-linearity (ReLU) and a 2×2 max-pool that keeps the largest value of each window.")
