"""Predict: classify uploaded, camera or sample images with the active model."""

import streamlit as st

from playground.imageio import ImageDecodeError, decode_image, list_samples
from playground.predict import predict_images
from playground.viz import to_display, topk_bar
from ui.pages import ensure_app_entry
from ui.state import active_model, set_current_image, show_error

ensure_app_entry()
st.title("Predict")
active = active_model()
bundle = active.bundle
st.caption(f"Model: **{bundle.title}** · {bundle.card.num_classes} classes")

source = st.radio("Image source", ["Sample photo", "Upload", "Camera"], horizontal=True, key="predict_source")
top_k = st.slider("Top-k", 1, min(10, bundle.card.num_classes), min(5, bundle.card.num_classes), key="predict_top_k")

images, names, errors = [], [], []
if source == "Sample photo":
    samples = list_samples()
    titles = {s.name: s.title for s in samples}
    # A digit model gets a digit first, a photo model a photo.
    wanted = "digit" if bundle.card.in_channels == 1 else "photo"
    first = next((i for i, s in enumerate(samples) if s.kind == wanted), 0)
    chosen = st.selectbox(
        "Sample", list(titles), index=first, format_func=lambda n: titles[n], key=f"predict_sample_{wanted}"
    )
    sample = next(s for s in samples if s.name == chosen)
    images.append(decode_image(sample.path.read_bytes(), sample.path.name))
    names.append(sample.title)
    st.caption(f"{sample.title} — {sample.author}, {sample.licence}. Source: {sample.source}")
    if sample.kind == "digit" and bundle.card.dataset == "mnist":
        st.caption("This digit comes from the same 5,000 MNIST digits the model may have trained on.")
elif source == "Upload":
    uploads = st.file_uploader(
        "Images (PNG, JPEG, GIF, WebP, BMP, TIFF)",
        type=["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"],
        accept_multiple_files=True,
        key="predict_uploads",
    )
    for upload in uploads or []:
        try:
            images.append(decode_image(upload.getvalue(), upload.name))
            names.append(upload.name)
        except ImageDecodeError as exc:
            errors.append(str(exc))
else:
    shot = st.camera_input("Take a photo", key="predict_camera")
    if shot is not None:
        try:
            images.append(decode_image(shot.getvalue(), "camera photo"))
            names.append("camera photo")
        except ImageDecodeError as exc:
            errors.append(str(exc))

for message in errors:
    st.error(message, icon=":material/broken_image:")

if not images:
    st.info("Pick a sample, upload images or take a photo to get a prediction.")
    st.stop()

set_current_image(images[-1], names[-1])  # the Filters page looks at the last image
try:
    predictions = predict_images(bundle, images, top_k=top_k)
except (ValueError, RuntimeError) as exc:
    show_error(exc, "run the model on this image")
    st.stop()

for i, (name, image, prediction) in enumerate(zip(names, images, predictions, strict=True)):
    with st.container(border=True):
        best = prediction.top_k[0]
        st.subheader(f"{name}: {best.label} ({best.probability:.1%})")
        left, middle, right = st.columns([1, 1, 2])
        try:
            left.image(image, caption=f"original · {image.width}×{image.height}", width="stretch")
        except ValueError:  # e.g. 20000×1: too thin for Streamlit to draw a thumbnail
            left.caption(f"original · {image.width}×{image.height} (too thin to draw)")
        seen = to_display(prediction.pixels)  # (H, W[, 3]) in [0, 1]
        middle.image(
            seen,
            caption=f"what the model sees · {seen.shape[1]}×{seen.shape[0]}",
            width="stretch",
            clamp=True,
        )
        right.plotly_chart(topk_bar(prediction.top_k), key=f"topk_{i}")
