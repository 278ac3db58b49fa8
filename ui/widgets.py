"""Reusable widget groups for the pages (thin: widgets in, plain values out)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from playground.models import ModelSpec


def hparam_inputs(spec: ModelSpec, key: str) -> dict[str, Any]:
    """One widget per hyper-parameter of ``spec``, typed by its default value."""
    values: dict[str, Any] = {}
    if not spec.defaults:
        return values
    cols = st.columns(min(4, len(spec.defaults)))
    for i, (name, default) in enumerate(spec.defaults.items()):
        col = cols[i % len(cols)]
        widget_key = f"{key}_{spec.name}_{name}"
        if isinstance(default, bool):
            values[name] = col.checkbox(name, value=default, key=widget_key)
        elif isinstance(default, int):
            values[name] = int(col.number_input(name, value=default, min_value=1, step=1, key=widget_key))
        elif isinstance(default, float):
            values[name] = float(col.number_input(name, value=default, min_value=0.0, format="%g", key=widget_key))
        else:
            values[name] = col.text_input(name, value=str(default), key=widget_key)
    return values
