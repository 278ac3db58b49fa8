"""The Train page's own-clips dataset (``audio_folder``): a zip of class folders, or clips recorded here.

"Record them here" is the classroom's "add my voice": name a few classes, record each a few
times with the microphone, and train on them, or fine-tune the shipped digit model on them. The
recordings live in this browser session only (a download keeps them); the run gets them as a zip
of class folders (``playground.data.audio_folder.clips_zip``), as an uploaded zip would be.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import streamlit as st

from playground.data import AudioDataset, load_dataset
from playground.data.audio_folder import clips_zip
from playground.modalities.audio.decode import READABLE_FORMATS
from ui.uploads import upload_limit_mb

SOURCES = {"zip": "A .zip of class folders", "record": "Record them here"}
RECORDINGS = "t_recordings"  # session-state key: {class name: [encoded clips]}
MIN_CLIPS = 3  # per class before a run can start: at least one goes to validation
DEFAULT_CLASSES = "yes, no"
_ZIP_FILE = "clips.zip"  # the name the run folder's data/ keeps the zip under


def _load(data: bytes) -> AudioDataset:
    """The dataset of a zip, decoded once per zip in this session (a rerun reuses it)."""
    digest = hashlib.sha256(data).hexdigest()
    held = st.session_state.get("audio_folder_dataset")
    if held is None or held[0] != digest:
        with st.spinner("Decoding the clips…"):
            loaded = load_dataset("audio_folder", zip_bytes=data)
        if not isinstance(loaded, AudioDataset):
            raise TypeError(f"audio_folder gave a {type(loaded).__name__}")
        st.session_state.audio_folder_dataset = (digest, loaded)
    dataset: AudioDataset = st.session_state.audio_folder_dataset[1]
    return dataset


def class_names(text: str) -> list[str]:
    """``"yes, no,  maybe"`` -> ``["yes", "no", "maybe"]``: names split at commas, trimmed, each once."""
    names = [n.strip() for n in text.split(",")]
    return list(dict.fromkeys(n for n in names if n))


def own_clips_source() -> tuple[AudioDataset | None, dict[str, Any], dict[str, bytes]]:
    """The own-clips dataset section; returns ``(dataset or None, run options, run files)``.

    Raises:
        ValueError: a zip or recordings the loader refuses (the page shows the message).
    """
    source = st.radio("Clips from", list(SOURCES), format_func=SOURCES.__getitem__, horizontal=True, key="t_clips_src")
    if source == "zip":
        upload = st.file_uploader(
            f"A .zip with one folder per class (e.g. yes/1.wav, no/1.mp3; {', '.join(READABLE_FORMATS)})",
            type=["zip"],
            key="t_audio_zip",
            max_upload_size=upload_limit_mb("zip"),
        )
        if upload is None:
            st.info("Upload a .zip: one folder per class, a few clips in each.")
            return None, {}, {}
        data = upload.getvalue()
    else:
        data = _recorded_zip()
        if data is None:
            return None, {}, {}
    return _load(data), {"files": {"zip_bytes": _ZIP_FILE}}, {_ZIP_FILE: data}


def _recorded_zip() -> bytes | None:
    """Recording widgets per class; the zip of the recordings once every class has enough of them."""
    names = class_names(st.text_input("Classes (separated by commas)", DEFAULT_CLASSES, key="t_rec_classes"))
    recordings: dict[str, list[bytes]] = st.session_state.setdefault(RECORDINGS, {})
    if len(names) < 2:
        st.info("Name at least two classes, e.g. yes, no.")
        return None
    st.caption(
        f"Record each class at least {MIN_CLIPS} times (about a second each; vary how you say it). "
        "The clips stay in this browser session: download them to keep them."
    )
    columns = st.columns(min(len(names), 4))
    for i, name in enumerate(names):
        with columns[i % len(columns)]:
            _record_class(name, recordings.setdefault(name, []))
    wanted = {n: recordings.get(n, []) for n in names}
    short = [n for n, clips in wanted.items() if len(clips) < MIN_CLIPS]
    if short:
        st.info(f"{', '.join(short)}: fewer than {MIN_CLIPS} clips so far.")
        return None
    data = clips_zip(wanted)
    st.download_button(
        "Download these clips (.zip)",
        data,
        file_name="my-clips.zip",
        mime="application/zip",
        icon=":material/download:",
        key="t_rec_download",
        on_click="ignore",
        help="A zip of class folders: upload it here later, or train on it with python -m playground train.",
    )
    return data


def _record_class(name: str, clips: list[bytes]) -> None:
    """One class: the microphone, the number of clips so far, the last one to hear and a way to undo it."""
    key = "t_rec_" + re.sub(r"\W", "_", name)
    st.markdown(f"**{name}** · {len(clips)} clip(s)")
    recorded = st.audio_input(f"Record “{name}”", key=f"{key}_mic", label_visibility="collapsed")
    if recorded is not None:
        data = recorded.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if st.session_state.get(f"{key}_last") != digest:  # a new recording (the widget keeps showing the last)
            clips.append(data)
            st.session_state[f"{key}_last"] = digest
            st.rerun()  # the count above is drawn before the widget: redraw it
    if clips and st.button("Remove the last clip", key=f"{key}_undo", icon=":material/undo:"):
        clips.pop()
        st.rerun()
