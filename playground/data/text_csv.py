"""The user's own labelled texts: a CSV file with a text column and a label column, uploaded or on disk.

Reading, the same for training data (:func:`text_csv`), the UI's column picker (:func:`csv_columns`)
and batch prediction (:func:`read_text_csv`):

* at most :data:`MAX_CSV_BYTES`; binary files (NUL bytes outside UTF-16) are refused;
* encoding: UTF-16 with a byte-order mark, else UTF-8 (with or without a BOM), else Windows-1252;
* delimiter: the one of ``,`` ``;`` tab ``|`` that appears most often in the header line (``,`` when
  none does). Chosen by hand because ``csv.Sniffer`` guesses from the body, and free text is full
  of commas that fool it;
* parsed with pandas, every cell as a string (nothing becomes NaN); header names are stripped of
  surrounding spaces;
* every text goes through :func:`playground.modalities.text.clean.clean_text`; labels are stripped.

Rows are numbered from 1 for the first row under the header (messages and ``info`` use these
numbers). For training, rows whose text is empty after cleaning and rows without a label are
dropped and counted in ``info``. Classes are the distinct label strings, sorted (by number when
every label is an integer, so ``"2"`` comes before ``"10"``); a class with a single example is fine.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from playground.data.base import TextDataset, register_dataset
from playground.data.idx import reject_unknown_options
from playground.modalities.text.clean import EmptyTextError, clean_text

if TYPE_CHECKING:
    import pandas as pd

NAME = "text_csv"
SOURCE = "your CSV file (a text column and a label column)"
MAX_CSV_BYTES = 50 * 1024**2  # a CSV larger than 50 MiB is refused
MAX_CLASSES = 1000  # more distinct labels than this: probably not a label column
DELIMITERS = (",", ";", "\t", "|")
_OPTIONS = ("path", "csv_bytes", "text_column", "label_column")
_CACHE_SIZE = 2  # parsed uploads kept (cleaning 50 MiB of text takes seconds)


@dataclass(frozen=True)
class _Parsed:
    texts: tuple[str, ...]
    targets: torch.Tensor
    classes: tuple[str, ...]
    info: dict[str, Any]


_cache: OrderedDict[tuple[str, str, str], _Parsed] = OrderedDict()
_cache_lock = threading.Lock()


def _as_bytes(data: object, filename: str) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected {filename} as bytes, got {type(data).__name__}")
    raw = bytes(data)
    if not raw.strip():
        raise ValueError(f"{filename} is empty: expected a CSV file with a header row")
    if len(raw) > MAX_CSV_BYTES:
        raise ValueError(
            f"{filename} is {len(raw) / 2**20:.1f} MiB; CSV files up to {MAX_CSV_BYTES // 2**20} MiB are accepted"
        )
    return raw


def _decode(raw: bytes, filename: str) -> tuple[str, str]:
    """``(text, encoding)``; refuses binary files."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{filename} is not a readable CSV: it starts like UTF-16 but does not decode ({err})"
            ) from err
    if b"\x00" in raw:
        raise ValueError(f"{filename} is not a CSV file: it looks binary (it holds NUL bytes)")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "windows-1252"


def _delimiter(text: str) -> str:
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the earlier (",")
    return best if counts[best] > 0 else ","


def _read_frame(raw: bytes, filename: str, *, header_only: bool = False) -> tuple[pd.DataFrame, dict[str, str]]:
    import pandas as pd  # here, not at the top: pandas takes ~0.4 s to import, a first page view needs none of it

    text, encoding = _decode(raw, filename)
    sep = _delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            nrows=0 if header_only else None,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise ValueError(f"{filename} is not a readable CSV file ({err})") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.fillna(""), {"encoding": encoding, "delimiter": "tab" if sep == "\t" else sep}


def _column(frame: pd.DataFrame, column: object, role: str, filename: str) -> list[str]:
    if not isinstance(column, str):
        raise TypeError(f"the {role} column must be given by its name (a string), got {type(column).__name__}")
    if column not in frame.columns:
        raise ValueError(f"{filename} has no column {column!r} for the {role}; its columns are {list(frame.columns)}")
    return [str(v) for v in frame[column].tolist()]


def csv_columns(data: bytes, filename: str = "upload.csv") -> list[str]:
    """The column names of a CSV file, in file order (for a column picker).

    Args:
        data: the file's bytes.
        filename: shown in error messages.

    Returns:
        The header's column names, stripped of surrounding spaces.

    Raises:
        TypeError: ``data`` is not bytes.
        ValueError: empty, too large, binary or unparsable file.
    """
    frame, _ = _read_frame(_as_bytes(data, filename), filename, header_only=True)
    return list(frame.columns)


def read_text_csv(data: bytes, text_column: str, filename: str = "upload.csv") -> list[str | None]:
    """The texts of one column of a CSV file, for batch prediction, one entry per row.

    Rows are kept in file order and none is dropped: ``result[i]`` is row ``i + 1`` (the first row
    under the header is row 1), cleaned with :func:`~playground.modalities.text.clean.clean_text`, or ``None``
    when that row's text is empty after cleaning (report those rows; do not predict them).

    Args:
        data: the file's bytes.
        text_column: the name of the column holding the texts.
        filename: shown in error messages.

    Returns:
        One cleaned text or ``None`` per data row.

    Raises:
        TypeError: ``data`` is not bytes or ``text_column`` not a string.
        ValueError: empty, too large, binary or unparsable file; no such column (the message lists
            the columns there are); no data rows.
    """
    frame, _ = _read_frame(_as_bytes(data, filename), filename)
    values = _column(frame, text_column, "text", filename)
    if not values:
        raise ValueError(f"{filename} has a header but no rows")
    texts: list[str | None] = []
    for value in values:
        try:
            texts.append(clean_text(value))
        except EmptyTextError:
            texts.append(None)
    return texts


def _sorted_labels(labels: set[str]) -> list[str]:
    try:
        return sorted(labels, key=int)
    except ValueError:
        return sorted(labels)


def _parse(raw: bytes, filename: str, text_column: str, label_column: str) -> _Parsed:
    if text_column == label_column:
        raise ValueError(f"the text and label columns must differ, got {text_column!r} for both")
    frame, fmt = _read_frame(raw, filename)
    values = _column(frame, text_column, "text", filename)
    labels = [v.strip() for v in _column(frame, label_column, "label", filename)]
    if not values:
        raise ValueError(f"{filename} has a header but no rows")
    texts: list[str] = []
    kept_labels: list[str] = []
    empty_rows: list[int] = []
    unlabelled_rows: list[int] = []
    for row, (value, label) in enumerate(zip(values, labels, strict=True), start=1):
        if not label:
            unlabelled_rows.append(row)
            continue
        try:
            texts.append(clean_text(value))
        except EmptyTextError:
            empty_rows.append(row)
            continue
        kept_labels.append(label)
    classes = _sorted_labels(set(kept_labels))
    dropped = f"{len(empty_rows)} row(s) with empty text and {len(unlabelled_rows)} without a label were dropped"
    if len(classes) > MAX_CLASSES:
        raise ValueError(
            f"column {label_column!r} of {filename} has {len(classes)} distinct labels (at most {MAX_CLASSES}): "
            "is it really the label column?"
        )
    if len(classes) < 2:
        raise ValueError(
            f"training needs at least 2 classes, but column {label_column!r} of {filename} has "
            f"{len(classes)} ({classes}); {dropped}"
        )
    index = {name: i for i, name in enumerate(classes)}
    info = {
        "copy": filename,
        "text_column": text_column,
        "label_column": label_column,
        "columns": list(frame.columns),
        **fmt,
        "n_rows": len(values),
        "n_empty_dropped": len(empty_rows),
        "empty_rows": empty_rows[:10],
        "n_unlabelled_dropped": len(unlabelled_rows),
        "unlabelled_rows": unlabelled_rows[:10],
    }
    targets = torch.tensor([index[label] for label in kept_labels], dtype=torch.int64)
    return _Parsed(tuple(texts), targets, tuple(classes), info)


def _parse_cached(raw: bytes, filename: str, text_column: str, label_column: str) -> _Parsed:
    """:func:`_parse`, keyed by the bytes' SHA-256 (not by the bytes, so no upload is kept alive)."""
    key = (hashlib.sha256(raw).hexdigest(), text_column, label_column)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is not None:
        return _Parsed(hit.texts, hit.targets, hit.classes, {**hit.info, "copy": filename})
    parsed = _parse(raw, filename, text_column, label_column)
    with _cache_lock:
        _cache[key] = parsed
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return parsed


@register_dataset(
    NAME,
    modality="text",
    num_classes=None,
    description=(
        "Your own labelled texts: a CSV file (up to 50 MiB, UTF-8 or Windows-1252, comma/semicolon/tab "
        "separated) with a text column and a label column."
    ),
    source=SOURCE,
    offline=lambda: True,
    train_defaults={"epochs": 8, "lr": 2e-3, "batch_size": 32},
    tokenizer_defaults={"kind": "word", "vocab_size": 10000, "max_length": 128, "lowercase": True},
)
def text_csv(
    root: Path | None = None,
    *,
    path: str | Path | None = None,
    csv_bytes: bytes | None = None,
    text_column: str = "text",
    label_column: str = "label",
    **unknown: object,
) -> TextDataset:
    """Load labelled texts from a CSV file given as ``path`` or as the bytes of an upload.

    Args:
        root: unused (nothing is written).
        path: a ``.csv`` file on disk.
        csv_bytes: the bytes of an uploaded CSV file; give ``path`` or ``csv_bytes``, not both.
        text_column: name of the column with the texts.
        label_column: name of the column with the labels (any strings; numbers are read as text).

    Returns:
        ``texts`` (N cleaned texts), ``targets (N,)`` int64; ``classes`` the distinct labels, sorted.
        ``info`` counts the rows dropped for an empty text or a missing label and names the first
        10 of each (row 1 = the first row under the header), and records encoding and delimiter.

    Raises:
        ValueError: unknown options; neither or both of ``path`` / ``csv_bytes``; a missing file; an
            empty, too large, binary or unparsable file; a missing column (the message lists the
            columns there are); the same column for text and labels; fewer than 2 classes or more
            than :data:`MAX_CLASSES`.
        TypeError: ``csv_bytes`` not bytes, or a column name not a string.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    for role, column in (("text", text_column), ("label", label_column)):
        if not isinstance(column, str):
            raise TypeError(f"{NAME}: {role}_column must be a column name (a string), got {type(column).__name__}")
    if csv_bytes is not None and path is None:
        filename = "the uploaded CSV"
        raw = _as_bytes(csv_bytes, filename)
    elif path is not None and csv_bytes is None:
        file = Path(path)
        if not file.is_file():
            raise ValueError(f"{NAME}: expected a CSV file, got {str(file)!r} (not a file)")
        filename = file.name
        if file.stat().st_size > MAX_CSV_BYTES:  # before reading a huge file
            raise ValueError(
                f"{filename} is {file.stat().st_size / 2**20:.1f} MiB; CSV files up to "
                f"{MAX_CSV_BYTES // 2**20} MiB are accepted"
            )
        raw = _as_bytes(file.read_bytes(), filename)
    else:
        raise ValueError(f"{NAME}: give exactly one of path= (a CSV file) or csv_bytes= (an uploaded CSV)")
    parsed = _parse_cached(raw, filename, text_column, label_column)
    return TextDataset(
        name=NAME,
        texts=list(parsed.texts),
        targets=parsed.targets.clone(),
        classes=list(parsed.classes),
        source=SOURCE,
        info=dict(parsed.info),
    )
