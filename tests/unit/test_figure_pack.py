"""The figure pack: each figure as HTML, JSON and CSV, offline, with the numbers it draws."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import plotly.graph_objects as go

from playground.figures.pack import figure_pack, safe_name


def test_a_pack_holds_every_figure_three_ways_and_its_numbers() -> None:
    bars = go.Figure(go.Bar(x=["cat", "=cmd|' /C calc'!A0"], y=[0.9, 0.1], name="top-k"))
    heat = go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3)))
    data = figure_pack([("p_topk", bars), ("f maps/1", heat)], page="Predict", model="lenet5 · mnist")
    with zipfile.ZipFile(io.BytesIO(data)) as pack:
        names = sorted(pack.namelist())
        assert names == sorted(
            ["README.txt", "plotly.min.js"]
            + [f"01_p_topk.{e}" for e in ("html", "json", "csv")]
            + [f"02_f_maps_1.{e}" for e in ("html", "json", "csv")]
        )
        assert "page: Predict" in pack.read("README.txt").decode()
        html = pack.read("01_p_topk.html").decode()
        assert 'src="plotly.min.js"' in html and "cdn.plot.ly" not in html  # offline
        z = json.loads(pack.read("02_f_maps_1.json"))["data"][0]["z"]  # plotly's typed-array form
        shape = tuple(int(n) for n in z["shape"].split(","))
        decoded = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
        np.testing.assert_array_equal(decoded, np.arange(6.0).reshape(2, 3))
        bar_csv = pack.read("01_p_topk.csv").decode().splitlines()
        assert bar_csv[0] == "trace,x,y" and bar_csv[1] == "trace 0: bar top-k,cat,0.9"
        assert bar_csv[2].startswith("trace 0: bar top-k,'=cmd")  # a formula-like label is neutralised
        heat_csv = pack.read("02_f_maps_1.csv").decode().splitlines()
        assert heat_csv[1:] == ["trace 0: heatmap,0.0,1.0,2.0", "trace 0: heatmap,3.0,4.0,5.0"]
    assert safe_name("Filters & feature maps") == "Filters_feature_maps" and safe_name("…") == "figure"
    with zipfile.ZipFile(io.BytesIO(figure_pack([], page="Home", model="x"))) as empty:
        assert empty.namelist() == ["README.txt"] and "drew no charts" in empty.read("README.txt").decode()
