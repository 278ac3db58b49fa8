"""Helpers shared by the AppTest modules: no exception or error box, and plotly figures as data."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest


def assert_clean(at: AppTest) -> None:
    """No exception and no ``st.error`` box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def chart(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure (as JSON) of the one ``st.plotly_chart`` with widget key ``key``."""
    found = [c for c in at.get("plotly_chart") if c.key == key]
    assert len(found) == 1, [c.key for c in at.get("plotly_chart")]
    figure: dict[str, Any] = json.loads(found[0].proto.spec)
    return figure


def captions(at: AppTest, key: str) -> list[str]:
    """The captions (layout annotations) of the chart with widget key ``key``: one per image of an image grid."""
    return [a["text"] for a in chart(at, key)["layout"].get("annotations", [])]


def plotly_array(value: object) -> np.ndarray:
    """A plotly array from its JSON: a list, or plotly's base64 typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value, dtype=float)
