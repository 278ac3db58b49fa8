"""Tables as CSV for download, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets; a predictions table echoes the user's own texts,
so an uploaded ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` would run on whoever opens the download.
Such text cells get a leading ``'``, which spreadsheets show as plain text (OWASP, "CSV Injection":
https://owasp.org/www-community/attacks/CSV_Injection). Numbers stay numbers: only text is changed.
pandas writes the CSV; this module only neutralises the cells first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula; else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(table: pd.DataFrame) -> bytes:
    """``table`` as UTF-8 CSV (no index, CRLF line ends), every formula-like text cell and column name neutralised.

    Args:
        table: any DataFrame; its numeric columns are written as they are.

    Returns:
        The CSV file's bytes.
    """
    import pandas as pd  # here, not at the top: pandas takes ~0.4 s to import, a first page view needs none of it

    safe = table.copy()
    safe.columns = [neutralize_cell(str(c)) for c in safe.columns]
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralize_cell)
    # RFC 4180 line ends: with "\r\n" as the terminator the csv writer quotes any cell holding a "\r"
    # or a "\n"; with pandas' default "\n" a lone "\r" in a user's text would split the row.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
