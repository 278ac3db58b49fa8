"""Free Spoken Digit Dataset (FSDD): 3,000 recordings of the spoken digits 0-9, 6 speakers, 8 kHz mono.

Each of the six speakers (george, jackson, lucas, nicolas, theo, yweweler) said every digit 50
times: 300 clips per digit, 500 per speaker, about 0.14-2.3 s each (median 0.42 s, 95 % under
0.67 s), trimmed of most silence. **All six speakers are male**, so a model trained on this set alone
generalises poorly to other voices (women's and children's above all).

Which copy is read:

1. By default the copy shipped with the project in ``assets/datasets/fsdd`` (one FLAC file per
   speaker and ``index.csv``; built losslessly from the WAVs by ``scripts/pack_fsdd.py``).
2. With ``download=True``: the WAV files under ``root/recordings``, downloaded first from the
   dataset's GitHub archive at the pinned commit when missing (:func:`download_fsdd`); the same
   folder is read without ``download`` when the shipped copy is missing.

Validation part (``val_indices``; :func:`~playground.data.split.split_dataset` keeps it):

* ``split="official"``: the dataset's own test split, the recordings with index 0-4 of each speaker
  and digit (300 clips, 30 per digit, 50 per speaker); the model trains on the other 2,700.
* ``split="speaker:<name>"``: every clip of one speaker (500); the model trains on the other five
  speakers, which measures how well it does on a voice it never heard.

Worth knowing: the speakers' recording levels differ a lot (theo's clips are about 13 times quieter,
by RMS, than jackson's); nicolas's are 8-bit audio stored as 16-bit (every sample a multiple of 256,
a DC offset of about -240); five of jackson's "6" clips reach full scale. Level, offset and
quantisation all give the speaker away, so normalise before reading much into speaker results.

Decoding all 3,000 clips takes about 0.2 s; it happens once per process (cached), and each load then
builds fresh tensors. Memory: the clips are zero-padded to the longest (2.28 s, 18,262 samples), so a
loaded dataset holds ``(3000, 18262)`` float32, 219 MB, of which 80 % is padding.

Source: Zohar Jackson et al., Free Spoken Digit Dataset,
https://github.com/Jakobovski/free-spoken-digit-dataset (commit 26eb9aaf76e81b692f806f9140c2d2777410d7a1),
CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); the shipped copy was converted to
FLAC, losslessly (attribution in ``assets/datasets/fsdd/README.md``).
"""

from __future__ import annotations

import csv
import functools
import re
import shutil
import tempfile
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf
import torch

from playground.data.audio import AudioDataset, duration_facts
from playground.data.base import DatasetUnavailableError, default_data_root, register_dataset
from playground.data.folder import check_archive_size, check_member, extract_to
from playground.data.idx import reject_unknown_options, require_reachable
from playground.modalities.audio.clips import AudioClips

NAME = "fsdd"
REPOSITORY = "https://github.com/Jakobovski/free-spoken-digit-dataset"
COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
URL = f"{REPOSITORY}/archive/{COMMIT}.zip"
SOURCE = f"{REPOSITORY} (commit {COMMIT[:7]}; Zohar Jackson et al.; CC BY-SA 4.0)"
LICENCE = "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)"
ATTRIBUTION = (
    f"Free Spoken Digit Dataset, Zohar Jackson et al., {REPOSITORY} (commit {COMMIT}), CC BY-SA 4.0; "
    "the shipped copy converted to FLAC, losslessly"
)
ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "datasets" / NAME
INDEX_FILE = "index.csv"
SAMPLE_RATE = 8000  # Hz
CLASSES = [str(d) for d in range(10)]
OFFICIAL_TEST_INDICES = 5  # recordings with index 0..4 are the dataset's own test split
MAX_DOWNLOAD_BYTES = 128 * 1024**2  # the archive at the pinned commit is far smaller
DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation, seconds
VOICES = (
    "all six speakers are male (accents: 2 USA, 2 German, 1 Belgian French, 1 Greek): a model trained "
    "on this set alone generalises poorly to other voices"
)
RECORDING_NOTES = (
    "levels differ a lot by speaker (theo about 13x quieter than jackson by RMS); nicolas is 8-bit audio "
    "stored as 16-bit with a DC offset of about -240; five of jackson's '6' clips are clipped"
)
_OPTIONS = ("split", "download")
_RECORDING = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")  # {digit}_{speaker}_{index}.wav
_ARCHIVE_MEMBER = re.compile(r"(?:[^/]+/)?recordings/(\d_[a-z]+_\d+\.wav)")  # top folder of a GitHub archive
_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Raw:
    """Every clip of one copy, in (speaker, digit, index) order; never handed out (tensors are shared)."""

    samples: torch.Tensor  # (S,) int16, the clips one after the other
    lengths: torch.Tensor  # (N,) int64 samples per clip
    digits: torch.Tensor  # (N,) int64
    indices: torch.Tensor  # (N,) int64 recording index (0..49)
    speakers: tuple[str, ...]  # N names


def _raw_from_rows(rows: list[tuple[str, int, int, np.ndarray]]) -> _Raw:
    rows = sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    return _Raw(
        samples=torch.from_numpy(np.concatenate([r[3] for r in rows]).astype(np.int16, copy=False)),
        lengths=torch.tensor([len(r[3]) for r in rows], dtype=torch.int64),
        digits=torch.tensor([r[1] for r in rows], dtype=torch.int64),
        indices=torch.tensor([r[2] for r in rows], dtype=torch.int64),
        speakers=tuple(r[0] for r in rows),
    )


def _read_audio(path: Path) -> np.ndarray:
    """``(L,)`` int16 samples of a mono 8 kHz file, L >= 1.

    Raises:
        DatasetUnavailableError: the file cannot be read, or is not 8 kHz mono, or is empty.
    """
    try:
        data, rate = sf.read(str(path), dtype="int16", always_2d=True)  # (L, C)
    except (RuntimeError, OSError) as err:  # soundfile's LibsndfileError is a RuntimeError
        raise DatasetUnavailableError(f"{NAME}: cannot read {path}: {err}") from err
    if rate != SAMPLE_RATE or data.shape[1] != 1 or data.shape[0] == 0:
        raise DatasetUnavailableError(
            f"{NAME}: {path} must be non-empty {SAMPLE_RATE} Hz mono audio, got {rate} Hz, shape {data.shape}"
        )
    return np.ascontiguousarray(data[:, 0])


@functools.lru_cache(maxsize=1)
def _load_shipped(folder: str) -> _Raw:
    """Decode the packed copy: ``<speaker>.flac`` files and ``index.csv`` (see ``scripts/pack_fsdd.py``)."""
    base = Path(folder)
    try:
        with (base / INDEX_FILE).open(newline="") as handle:
            table = list(csv.DictReader(handle))
    except OSError as err:
        raise DatasetUnavailableError(f"{NAME}: cannot read {base / INDEX_FILE}: {err}") from err
    by_speaker: dict[str, list[dict[str, str]]] = {}
    for entry in table:
        by_speaker.setdefault(entry.get("speaker") or "", []).append(entry)
    rows: list[tuple[str, int, int, np.ndarray]] = []
    for speaker, entries in sorted(by_speaker.items()):
        decoded = _read_audio(base / f"{speaker}.flac")  # (L,) int16, the speaker's clips one after the other
        try:
            spans = [(int(e["start"]), int(e["length"]), int(e["digit"]), int(e["index"])) for e in entries]
        except (KeyError, TypeError, ValueError) as err:
            raise DatasetUnavailableError(f"{NAME}: {base / INDEX_FILE} has a bad row for {speaker!r} ({err})") from err
        if sum(length for _, length, _, _ in spans) != len(decoded) or any(
            start < 0 or length < 1 or start + length > len(decoded) for start, length, _, _ in spans
        ):
            raise DatasetUnavailableError(f"{NAME}: {base / INDEX_FILE} and {speaker}.flac disagree on the clips")
        rows.extend((speaker, digit, index, decoded[start : start + length]) for start, length, digit, index in spans)
    if not rows:
        raise DatasetUnavailableError(f"{NAME}: {base / INDEX_FILE} lists no clips")
    return _raw_from_rows(rows)


def _wav_files(folder: Path) -> list[Path]:
    """The ``{digit}_{speaker}_{index}.wav`` files directly in ``folder``, sorted (none if it is missing)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _RECORDING.fullmatch(p.name) and p.is_file())


@functools.lru_cache(maxsize=2)
def _load_wavs_cached(folder: str, fingerprint: tuple[tuple[str, int, int], ...]) -> _Raw:
    rows: list[tuple[str, int, int, np.ndarray]] = []
    for name, _, _ in fingerprint:
        match = _RECORDING.fullmatch(name)
        assert match is not None  # _wav_files keeps matching names only
        rows.append((match[2], int(match[1]), int(match[3]), _read_audio(Path(folder) / name)))
    return _raw_from_rows(rows)


def _load_wavs(folder: Path) -> _Raw:
    """Read every recording in ``folder`` (cached until a file is added, removed or rewritten)."""
    files = _wav_files(folder)
    if not files:
        raise DatasetUnavailableError(f"{NAME}: no {{digit}}_{{speaker}}_{{index}}.wav files in {folder}")
    stats = [(p.name, p.stat()) for p in files]
    return _load_wavs_cached(str(folder), tuple((name, st.st_size, st.st_mtime_ns) for name, st in stats))


def shipped_available() -> bool:
    """Whether the copy shipped in ``assets/datasets/fsdd`` is there (index and FLAC files)."""
    return (ASSETS_DIR / INDEX_FILE).is_file() and any(ASSETS_DIR.glob("*.flac"))


# -- download -----------------------------------------------------------------------------------


def extract_recordings(archive: Path | IO[bytes], dest: Path) -> int:
    """Extract the ``recordings/*.wav`` files of an FSDD zip (e.g. GitHub's archive) into ``dest``.

    Every member is checked before anything is written, with the limits of the uploaded-zip
    extraction in :mod:`playground.data.folder`: absolute paths, ``..`` (zip slip), symbolic links
    and encrypted members refuse the archive, as do more than ``MAX_FILES`` members or more than
    ``MAX_UNCOMPRESSED_BYTES`` uncompressed bytes (declared, and actual while reading). Only members
    ``[<top>/]recordings/{digit}_{speaker}_{index}.wav`` are extracted, flat into ``dest``, which is
    created whole (renamed into place when complete).

    Returns:
        The number of recordings extracted.

    Raises:
        ValueError: not a valid zip, an unsafe or too large archive, or two recordings with one name.
        DatasetUnavailableError: the archive holds no recordings.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise ValueError(f"{NAME}: not a valid zip archive ({err})") from err
    with zf:
        infos = zf.infolist()
        check_archive_size(infos)
        members: list[tuple[zipfile.ZipInfo, str]] = []
        seen: set[str] = set()
        for info in infos:
            name = check_member(info)  # every member, so one bad entry refuses the archive
            match = _ARCHIVE_MEMBER.fullmatch(name)
            if info.is_dir() or match is None:
                continue
            if match[1] in seen:
                raise ValueError(f"refusing the zip: two members are named {match[1]!r}")
            seen.add(match[1])
            members.append((info, match[1]))
        if not members:
            raise DatasetUnavailableError(
                f"{NAME}: the archive holds no recordings/{{digit}}_{{speaker}}_{{index}}.wav"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=dest.parent))
        try:
            extract_to(zf, members, partial)
            try:
                partial.rename(dest)
            except OSError:
                if not _wav_files(dest):
                    raise
                shutil.rmtree(partial)  # another process extracted the recordings first
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)  # cleanup only; the original error propagates
            raise
    return len(members)


def download_fsdd(root: Path | None = None, *, url: str = URL, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download the dataset's archive and extract its WAV recordings into ``root / "recordings"``.

    Nothing is downloaded when that folder already holds recordings. The archive goes to a
    temporary file under ``root`` (deleted afterwards) and is extracted by :func:`extract_recordings`.

    Args:
        root: the dataset's folder; default ``default_data_root() / "fsdd"``.
        url: an ``http(s)://`` or ``file://`` URL of the zip; default GitHub's archive at :data:`COMMIT`.
        timeout: seconds allowed for each network operation.

    Returns:
        The folder holding the ``{digit}_{speaker}_{index}.wav`` files.

    Raises:
        DatasetUnavailableError: offline, the download failed, it exceeded :data:`MAX_DOWNLOAD_BYTES`,
            or the archive holds no recordings.
        ValueError: a URL of another scheme, or an invalid or unsafe archive.
    """
    root = Path(root) if root is not None else default_data_root() / NAME
    dest = root / "recordings"
    if _wav_files(dest):
        return dest
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("http", "https"):
        require_reachable(url, NAME)  # fail fast (3 s) on an offline machine
    elif scheme != "file":
        raise ValueError(f"{NAME}: expected an http(s):// or file:// URL, got {url!r}")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=root, prefix=".fsdd-", suffix=".zip") as archive:
        size = 0
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise DatasetUnavailableError(
                            f"{NAME}: the download from {url} exceeds {MAX_DOWNLOAD_BYTES / 2**20:.0f} MiB; refusing it"
                        )
                    archive.write(chunk)
        except OSError as err:  # URLError, HTTPError and timeouts are OSErrors
            raise DatasetUnavailableError(f"{NAME}: the download from {url} failed: {err}") from err
        archive.seek(0)
        extract_recordings(archive, dest)
    return dest


# -- the loader ---------------------------------------------------------------------------------


def _clips(raw: _Raw) -> AudioClips:
    """Fresh ``(N, L)`` float32 waveforms in [-1, 1) (int16 / 32768), zero-padded to the longest clip."""
    width = int(raw.lengths.max())
    inside = torch.arange(width) < raw.lengths[:, None]  # (N, L) bool; row-major order = clip order
    waveforms = torch.zeros(len(raw.lengths), width, dtype=torch.float32)
    waveforms[inside] = raw.samples.to(torch.float32) / 32768.0
    return AudioClips(waveforms, raw.lengths.clone(), SAMPLE_RATE)


def _check_split(split: object) -> str:
    if not isinstance(split, str) or not (split == "official" or split.startswith("speaker:")):
        raise ValueError(f"{NAME}: split must be 'official' or 'speaker:<name>', got {split!r}")
    return split


def _val_indices(raw: _Raw, split: str) -> tuple[torch.Tensor, str]:
    """``(n_val,)`` int64 sorted indices of the validation part and a sentence that says which."""
    speakers = sorted(set(raw.speakers))
    if split == "official":
        val = (raw.indices < OFFICIAL_TEST_INDICES).nonzero().flatten()
        rule = "the dataset's own test split: recordings with index 0-4 of each speaker and digit"
    else:
        speaker = split.removeprefix("speaker:")
        if speaker not in speakers:
            valid = ["official", *(f"speaker:{s}" for s in speakers)]
            raise ValueError(f"{NAME}: unknown split {split!r}; valid splits: {valid}")
        val = torch.tensor([s == speaker for s in raw.speakers]).nonzero().flatten()
        rule = f"every clip of {speaker}; the model trains on the other {len(speakers) - 1} speakers"
    if len(val) in (0, len(raw.lengths)):
        raise DatasetUnavailableError(
            f"{NAME}: split {split!r} leaves an empty training or validation part in this copy ({len(raw.lengths)} clips)"
        )
    return val, rule


@register_dataset(
    NAME,
    modality="audio",
    num_classes=len(CLASSES),
    description=(
        "Free Spoken Digit Dataset: 3,000 clips of the spoken digits 0–9 by 6 speakers (50 of each "
        "digit per speaker), 8 kHz mono, about 0.4 s each. All six speakers are male: a model trained on "
        "it alone generalises poorly to other voices. Validation: the official 300-clip test split or one "
        "held-out speaker. Ships with the project (FLAC, lossless). CC BY-SA 4.0."
    ),
    source=SOURCE,
    offline=shipped_available,
    train_defaults={"epochs": 20, "batch_size": 64, "lr": 1e-3, "schedule": "cosine", "augment_audio": True},
)
def fsdd(
    root: Path | None = None, *, split: str = "official", download: bool = False, **unknown: object
) -> AudioDataset:
    """Load the Free Spoken Digit Dataset.

    Args:
        root: folder of a WAV copy (``root / "recordings" / "{digit}_{speaker}_{index}.wav"``) and
            where a download goes; default ``default_data_root() / "fsdd"``. Unused while the
            shipped copy is read.
        split: the validation part (``val_indices``): ``"official"`` (the recordings with index
            0-4: 300 clips, 30 per digit) or ``"speaker:<name>"`` (every clip of that speaker; the
            model trains on the others), e.g. ``"speaker:theo"``.
        download: read the WAV copy under ``root``, downloading it from GitHub first when missing
            (needs the network), instead of the shipped FLAC copy.

    Returns:
        ``clips``: ``waveforms (N, L)`` float32 in [-1, 1) zero-padded to the longest clip,
        ``lengths (N,)`` int64, 8,000 Hz; ``targets (N,)`` int64 digits 0-9 (classes ``"0"``..``"9"``);
        ``speakers`` (N names); ``val_indices`` ``(n_val,)`` int64 sorted. Clips are ordered by
        speaker, digit, recording index. ``info`` names the copy, the licence and attribution, the
        speakers and their clip counts, the split rule and the clip durations in seconds.

    Raises:
        ValueError: unknown options, or an unknown split (the message lists the valid ones).
        TypeError: ``download`` is not a bool.
        DatasetUnavailableError: no copy can be read (the shipped files missing and nothing under
            ``root``), or the download failed.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    if not isinstance(download, bool):
        raise TypeError(f"{NAME}: download must be a bool, got {type(download).__name__}")
    split = _check_split(split)
    root = Path(root) if root is not None else default_data_root() / NAME
    if download:
        folder = download_fsdd(root, url=URL)
        raw, copy = _load_wavs(folder), f"WAV files in {folder}"
    elif shipped_available():
        raw, copy = _load_shipped(str(ASSETS_DIR)), f"shipped FLAC copy in {ASSETS_DIR} (lossless)"
    elif _wav_files(root / "recordings"):
        raw, copy = _load_wavs(root / "recordings"), f"WAV files in {root / 'recordings'}"
    else:
        raise DatasetUnavailableError(
            f"{NAME}: the shipped copy ({ASSETS_DIR}) is missing and {root / 'recordings'} holds no recordings; "
            f"restore the assets (scripts/pack_fsdd.py) or pass download=True to fetch them from {REPOSITORY}"
        )
    val, rule = _val_indices(raw, split)
    speakers = sorted(set(raw.speakers))
    info = {
        "copy": copy,
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "speakers": speakers,
        "clips_per_speaker": {s: raw.speakers.count(s) for s in speakers},
        "voices": VOICES,
        "recording_notes": RECORDING_NOTES,
        "split": split,
        "validation": rule,
        "n_val": len(val),
        "duration_s": duration_facts(raw.lengths, SAMPLE_RATE),
    }
    return AudioDataset(
        name=NAME,
        clips=_clips(raw),
        targets=raw.digits.clone(),
        classes=list(CLASSES),
        speakers=list(raw.speakers),
        val_indices=val,
        source=SOURCE,
        info=info,
    )
