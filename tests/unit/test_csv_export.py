"""CSV downloads are safe to open in a spreadsheet: formula-like text gets a leading quote."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pandas as pd

from playground.core.csv_export import csv_bytes

ROOT = Path(__file__).resolve().parents[2]
# OWASP's examples and the ones measured on the Predict page's download
PAYLOADS = [
    '=HYPERLINK("http://evil.example","click")',
    "=1+1",
    "@SUM(1)",
    "=cmd|' /C calc'!A0",
    "+1",
    "-2+3",
    "\t=1",
    "\r=1",
]


def test_formula_cells_are_quoted_and_everything_else_is_kept() -> None:
    table = pd.DataFrame(
        {
            "text": [*PAYLOADS, "a fine film", "it's -great-", ""],
            "probability": [-0.5] + [0.25] * (len(PAYLOADS) + 2),
            "=label": ["x"] * (len(PAYLOADS) + 3),
        }
    )
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8"), newline="")))
    assert rows[0] == ["text", "probability", "'=label"]
    texts = [r[0] for r in rows[1:]]
    assert texts[: len(PAYLOADS)] == ["'" + p for p in PAYLOADS]
    assert all(t.startswith("'") and t[1:2] in "=+-@\t\r" for t in texts[: len(PAYLOADS)])
    assert texts[len(PAYLOADS) :] == ["a fine film", "it's -great-", ""]  # plain text as it was
    assert rows[1][1] == "-0.5" and rows[2][1] == "0.25"  # numbers stay numbers, negative ones too
    assert table["text"].iloc[0] == PAYLOADS[0]  # the caller's table is not changed


def test_pages_write_csv_only_through_csv_bytes() -> None:
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "to_csv":
                raise AssertionError(f"{path.name}:{node.lineno}: .to_csv() in a page; use csv_bytes(table)")
