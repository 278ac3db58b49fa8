"""The user's own sound clips: one sub-folder per class, from a folder on disk or an uploaded .zip.

Expected layout (the image ``folder`` dataset's, with audio files)::

    my_words/                <- ``path``, or the top of the zip
        yes/  1.wav 2.mp3 ...
        no/   1.flac ...

The class folders may sit one level down (a zip of the single folder ``my_words/``). Audio files are
found by suffix (:data:`AUDIO_SUFFIXES`), also in sub-folders of a class folder; hidden files and
folders are ignored. Each file is decoded by :func:`playground.modalities.audio.decode.decode_audio`
(its content decides the format, not its name), mixed to mono and resampled to ``sample_rate``.
Clips longer than :data:`MAX_CLIP_S` keep their first :data:`MAX_CLIP_S` seconds (a keyword spotter
hears one second at a time); files that do not decode are skipped and listed in ``info``. Zip
uploads go through the image folder's checks (:func:`playground.data.folder.extract_zip`: zip slip,
symlinks, encryption, member count and uncompressed size).

The Train page's "Record your own clips" builds such a zip from the microphone (:func:`clips_zip`),
so a class can be trained, or the shipped digit model fine-tuned, on the user's own voice.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from playground.data.audio import AudioDataset, duration_facts
from playground.data.base import register_dataset
from playground.data.folder import class_folders_source, find_class_root, has_suffix, is_hidden, visible_children
from playground.data.idx import reject_unknown_options
from playground.modalities.audio.clips import AudioClips
from playground.modalities.audio.decode import AudioDecodeError, decode_audio, wav_bytes
from playground.modalities.audio.rates import check_rate

NAME = "audio_folder"
SOURCE = "your sound clips (one folder per class)"
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".au")
MAX_CLIP_S = 10.0  # seconds kept of each clip
MAX_TOTAL_SAMPLES = 100 * 1024**2  # N × L float32 samples held in memory (400 MiB)
_OPTIONS = ("path", "zip_bytes", "sample_rate")
_LAYOUT = (
    "expected one sub-folder per class with at least one audio file (WAV, FLAC, MP3, OGG, Opus) in each, "
    "and at least 2 classes, e.g. yes/1.wav, yes/2.wav, no/1.wav (the class folders may sit inside one top folder)"
)


@functools.lru_cache(maxsize=2)
def _decode_all(
    samples: tuple[tuple[str, int], ...], class_root: str, sample_rate: int, fingerprint: str
) -> tuple[list[torch.Tensor], list[int], tuple[str, ...], tuple[str, ...]]:
    """Decode every file; ``fingerprint`` (sizes and mtimes) keys the cache on the files' contents.

    Returns:
        ``(clips, targets, skipped, cut)``: ``(L_i,)`` float32 clips at ``sample_rate``, their class
        indices, the files that did not decode and those cut to :data:`MAX_CLIP_S`.
    """
    clips: list[torch.Tensor] = []
    targets: list[int] = []
    skipped: list[str] = []
    cut: list[str] = []
    limit = round(MAX_CLIP_S * sample_rate)
    for path, target in samples:
        rel = Path(path).relative_to(class_root).as_posix()
        try:
            decoded = decode_audio(Path(path).read_bytes(), target_rate=sample_rate, name=rel)
        except AudioDecodeError:
            skipped.append(rel)
            continue
        waveform = decoded.waveform
        if waveform.numel() > limit:
            waveform = waveform[:limit].clone()
            cut.append(rel)
        clips.append(waveform)
        targets.append(target)
    return clips, targets, tuple(skipped), tuple(cut)


@register_dataset(
    NAME,
    modality="audio",
    num_classes=None,
    description=(
        "Your own sound clips: a .zip (or folder) with one sub-folder per class, or clips you record on the "
        "Train page. Resampled to one rate; a clip keeps its first 10 s."
    ),
    source=SOURCE,
    offline=lambda: True,
    train_defaults={"epochs": 30, "batch_size": 16, "lr": 1e-3, "schedule": "cosine", "augment_audio": True},
)
def audio_folder(
    root: Path | None = None,
    *,
    path: str | Path | None = None,
    zip_bytes: bytes | None = None,
    sample_rate: int = 16000,
    **unknown: object,
) -> AudioDataset:
    """Load class-named folders of sound clips, from ``path`` or from the bytes of a .zip.

    Args:
        root: where zip uploads are extracted (``root/uploads/zip-<sha256[:16]>``);
            default ``default_data_root() / "audio_folder"``.
        path: a folder holding one sub-folder per class (or one folder that holds them).
        zip_bytes: the bytes of a .zip with the same layout; give ``path`` or ``zip_bytes``, not both.
        sample_rate: Hz every clip is resampled to, in [1000, 384000] (the model resamples again to
            its own rate).

    Returns:
        An :class:`~playground.data.audio.AudioDataset`: ``clips`` mono float32 in [-1, 1] at
        ``sample_rate``, zero-padded to the longest; ``classes`` the folder names, sorted; no fixed
        validation part (the split draws a stratified one). ``info`` holds ``skipped`` /
        ``n_skipped`` (files that did not decode), ``cut`` (files longer than :data:`MAX_CLIP_S`),
        ``ignored_folders`` and the clips' ``durations_s``.

    Raises:
        ValueError: unknown options, neither or both of ``path`` / ``zip_bytes``, a bad or unsafe zip,
            fewer than 2 classes with audio, a class whose files all fail to decode, a bad rate, or
            more samples than :data:`MAX_TOTAL_SAMPLES`.
        TypeError: ``zip_bytes`` not bytes.
    """
    reject_unknown_options(NAME, unknown, _OPTIONS)
    rate = check_rate(sample_rate, f"{NAME}: sample_rate")
    top, where = class_folders_source(NAME, root, path, zip_bytes, AUDIO_SUFFIXES)

    class_root = find_class_root(top, AUDIO_SUFFIXES)
    class_dirs, _ = visible_children(class_root, AUDIO_SUFFIXES)
    found: list[tuple[str, int]] = []
    classes: list[str] = []
    ignored: list[str] = []
    for folder in class_dirs:  # sorted; every audio file below a class folder, sorted, hidden ones left out
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and has_suffix(p.name, AUDIO_SUFFIXES)
            and not any(is_hidden(part) for part in p.relative_to(class_root).parts)
        )
        if not files:
            ignored.append(folder.name)
            continue
        found += [(str(p), len(classes)) for p in files]
        classes.append(folder.name)
    if len(classes) < 2:
        raise ValueError(f"{NAME}: found {len(classes)} class folder(s) with audio ({classes}) in {where}; {_LAYOUT}")
    stats = [f"{p}|{(s := Path(p).stat()).st_size}|{s.st_mtime_ns}" for p, _ in found]
    fingerprint = hashlib.sha256("\n".join(stats).encode()).hexdigest()
    clips, targets, skipped, cut = _decode_all(tuple(found), str(class_root), rate, fingerprint)

    per_class = torch.bincount(torch.tensor(targets, dtype=torch.int64), minlength=len(classes)).tolist()
    empty = [c for c, k in zip(classes, per_class, strict=True) if k == 0]
    if empty:
        raise ValueError(
            f"{NAME}: no file in class folder(s) {empty} could be decoded (skipped: {list(skipped[:10])}); {_LAYOUT}"
        )
    longest = max(c.numel() for c in clips)
    if len(clips) * longest > MAX_TOTAL_SAMPLES:
        raise ValueError(
            f"{NAME}: {len(clips)} clips of up to {longest / rate:.1f} s need more than "
            f"{MAX_TOTAL_SAMPLES * 4 / 2**20:.0f} MiB; use fewer or shorter clips"
        )
    batch = AudioClips.from_list(clips, rate)  # (N, L) zero-padded, fresh tensors (the cache keeps its own)
    return AudioDataset(
        name=NAME,
        clips=batch,
        targets=torch.tensor(targets, dtype=torch.int64),
        classes=classes,
        source=SOURCE,
        info={
            "copy": where,
            "folder": str(class_root),
            "sample_rate": rate,
            "per_class": dict(zip(classes, per_class, strict=True)),
            "skipped": list(skipped[:10]),
            "n_skipped": len(skipped),
            "cut": list(cut[:10]),
            "ignored_folders": ignored,
            "durations_s": duration_facts(batch.lengths, rate),
        },
    )


def clips_zip(recordings: Mapping[str, Sequence[bytes]]) -> bytes:
    """Recorded clips as the zip :func:`audio_folder` reads: ``<class>/<n>.wav`` for each class.

    Args:
        recordings: class name -> encoded clips (any format the decoder reads, e.g. the microphone's
            WAV); each clip is decoded and written back as 16-bit PCM WAV at its own rate, so a
            recording that does not decode is refused here rather than when training.

    Returns:
        The bytes of a .zip (deflated).

    Raises:
        ValueError: a class name that is empty, hidden or holds a path separator; a class without
            clips; a clip that does not decode (the message names the class and the clip).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, clips in recordings.items():
            if not name.strip() or is_hidden(name) or any(c in name for c in "/\\") or name in (".", ".."):
                raise ValueError(f"{name!r} cannot name a class folder: use letters, digits, spaces or '-' / '_'")
            if not clips:
                raise ValueError(f"class {name!r} has no clips yet")
            for i, data in enumerate(clips, start=1):
                try:
                    decoded = decode_audio(data, name=f"{name} #{i}")
                except AudioDecodeError as exc:
                    raise ValueError(f"class {name!r}, clip {i}: {exc}") from exc
                zf.writestr(f"{name}/{i:03d}.wav", wav_bytes(decoded.waveform, decoded.sample_rate))
    return out.getvalue()
