"""A page's figures in one zip for slides and notes: each as interactive HTML, plotly JSON and its data as CSV.

The HTML files open offline in any browser (they share one ``plotly.min.js`` in the zip, the copy
the plotly package ships) and their toolbar saves PNG or SVG. Server-side PNG/SVG rendering
(kaleido) needs a headless Chrome, which the app's install does not bring, so it is left out.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.core.csv_export import csv_bytes

README = """Figures of the Deep Learning Playground
page: {page}
model: {model}
made: {made}

Each figure is here three times:
  NN_name.html  the interactive chart (open it in a browser, offline; its camera button saves PNG or SVG)
  NN_name.json  the plotly figure (plotly.io.read_json / plotly.js Plotly.newPlot)
  NN_name.csv   the numbers it draws, one block per trace
"""


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name part: letters, digits, ``-`` and ``_`` only (``"Filters & maps"`` -> ``"Filters_maps"``)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return name[:limit] or "figure"


def trace_table(fig: go.Figure) -> bytes:
    """The figure's data as CSV: for each trace its name and type, then its ``x``/``y`` columns or its
    ``z`` matrix (rows as drawn). Traces with neither (images, shapes) are named only.
    """
    import pandas as pd  # pandas is imported where it is used (app start-up)

    blocks: list[pd.DataFrame] = []
    for i, trace in enumerate(fig.data):
        label = f"trace {i}: {trace.type}" + (f" {trace.name}" if getattr(trace, "name", None) else "")
        z = getattr(trace, "z", None)
        x, y = getattr(trace, "x", None), getattr(trace, "y", None)
        if z is not None and np.asarray(z).ndim == 2:
            matrix = pd.DataFrame(np.asarray(z, dtype=np.float64))
            matrix.insert(0, "trace", label)
            blocks.append(matrix)
        elif x is not None or y is not None:
            n = len(x) if x is not None else len(y)  # type: ignore[arg-type]
            columns = {"trace": [label] * n}
            if x is not None:
                columns["x"] = list(x)
            if y is not None:
                columns["y"] = list(y)
            blocks.append(pd.DataFrame(columns))
        else:
            blocks.append(pd.DataFrame({"trace": [label]}))
    table = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame({"trace": []})
    return csv_bytes(table)


def figure_pack(figures: Sequence[tuple[str, go.Figure]], *, page: str, model: str) -> bytes:
    """A zip of ``figures`` (``(name, figure)`` in the order drawn) with a README.

    Args:
        figures: the page's figures; names become file names (made safe).
        page: the page's title, for the README.
        model: the active model's title, for the README.

    Returns:
        The zip file's bytes (only the README, saying so, when the page drew no figure: the sidebar's
        button is there before the page has run).
    """
    from plotly.offline import get_plotlyjs  # the JS the plotly package ships: no network

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pack:
        made = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        readme = README.format(page=page, model=model, made=made)
        if not figures:
            readme += "\nThis page drew no charts when the pack was made.\n"
        pack.writestr("README.txt", readme)
        if figures:
            pack.writestr("plotly.min.js", get_plotlyjs())
        for i, (name, fig) in enumerate(figures, start=1):
            stem = f"{i:02d}_{safe_name(name)}"
            pack.writestr(f"{stem}.html", fig.to_html(include_plotlyjs="plotly.min.js", full_html=True))
            pack.writestr(f"{stem}.json", fig.to_json())
            pack.writestr(f"{stem}.csv", trace_table(fig))
    return buffer.getvalue()
