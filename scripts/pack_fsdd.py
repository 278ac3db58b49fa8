"""Pack the Free Spoken Digit Dataset's 3,000 WAV recordings into ``assets/datasets/fsdd``, losslessly.

Input: a copy of the dataset's ``recordings/`` folder (``{digit}_{speaker}_{index}.wav``, 8 kHz mono
16-bit PCM), by default ``../shared/datasets/fsdd`` next to the project (or the folder given as the
first argument; its ``recordings/`` sub-folder is used when there is one).

Output, in ``--out`` (default ``assets/datasets/fsdd``):

* ``<speaker>.flac``, one per speaker: that speaker's 500 clips one after the other (digit 0..9,
  then index 0..49), as 16-bit FLAC at the highest compression level. FLAC is lossless: decoded to
  int16, the samples are the WAVs' exactly. One file per speaker instead of 3,000 small files saves
  the per-file FLAC header (about 190 bytes a clip; 11.1 MB in all against 11.7 MB as 3,000 files
  and 12.0 MB as a zip of them) and decodes in about 0.2 s.
* ``index.csv``: one row per clip, ``file,speaker,digit,index,start,length`` (``file`` the original
  WAV name, ``start`` and ``length`` in samples within ``<speaker>.flac``).

After writing, every clip is decoded from the FLAC files and compared with its WAV sample for
sample; any difference stops the script with an error. The output is deterministic for a given
libsndfile / libFLAC (soundfile 0.14.0 with libsndfile 1.2.2 wrote the shipped files).

``README.md`` (the attribution) and ``LICENSE`` in the same folder are written by hand, not by this
script.

Usage::

    .venv/bin/python scripts/pack_fsdd.py [SOURCE] [--out assets/datasets/fsdd]

Source: https://github.com/Jakobovski/free-spoken-digit-dataset (CC BY-SA 4.0, Zohar Jackson et al.).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "datasets" / "fsdd"
DEFAULT_OUT = REPO / "assets" / "datasets" / "fsdd"
SAMPLE_RATE = 8000
INDEX_COLUMNS = ("file", "speaker", "digit", "index", "start", "length")
_NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav")


def _read_wav(path: Path) -> np.ndarray:
    """``(L,)`` int16 samples of a mono 8 kHz 16-bit WAV; anything else stops the script."""
    info = sf.info(str(path))
    if (info.samplerate, info.channels, info.subtype) != (SAMPLE_RATE, 1, "PCM_16"):
        raise SystemExit(
            f"{path}: expected 8000 Hz mono PCM_16, got {info.samplerate} Hz {info.channels} ch {info.subtype}"
        )
    data, _ = sf.read(str(path), dtype="int16")
    return np.asarray(data, dtype=np.int16)


def pack(source: Path, out: Path) -> dict[str, int]:
    """Write the FLAC files and ``index.csv`` into ``out``; returns each written file's size in bytes."""
    recordings = source / "recordings" if (source / "recordings").is_dir() else source
    clips: dict[str, list[tuple[int, int, Path]]] = defaultdict(list)  # speaker -> (digit, index, path)
    for path in sorted(recordings.glob("*.wav")):
        match = _NAME.fullmatch(path.name)
        if match is None:
            raise SystemExit(f"{path}: not named {{digit}}_{{speaker}}_{{index}}.wav")
        clips[match[2]].append((int(match[1]), int(match[3]), path))
    if not clips:
        raise SystemExit(f"no {{digit}}_{{speaker}}_{{index}}.wav files in {recordings}")
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, int, int, int, int]] = []
    sizes: dict[str, int] = {}
    for speaker in sorted(clips):
        parts: list[np.ndarray] = []
        start = 0
        for digit, index, path in sorted(clips[speaker]):
            samples = _read_wav(path)
            rows.append((path.name, speaker, digit, index, start, len(samples)))
            parts.append(samples)
            start += len(samples)
        flac = out / f"{speaker}.flac"
        sf.write(str(flac), np.concatenate(parts), SAMPLE_RATE, format="FLAC", subtype="PCM_16", compression_level=1.0)
        sizes[flac.name] = flac.stat().st_size
    with (out / "index.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(INDEX_COLUMNS)
        writer.writerows(rows)
    sizes["index.csv"] = (out / "index.csv").stat().st_size
    verify(recordings, out)
    return sizes


def verify(recordings: Path, out: Path) -> int:
    """Decode every clip of ``out`` and compare it with its WAV in ``recordings``; returns the clip count.

    Raises:
        SystemExit: a clip differs, a WAV is missing, or a FLAC file holds samples no row accounts for.
    """
    with (out / "index.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_speaker: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_speaker[row["speaker"]].append(row)
    for speaker, speaker_rows in by_speaker.items():
        decoded, rate = sf.read(str(out / f"{speaker}.flac"), dtype="int16")
        if rate != SAMPLE_RATE or decoded.ndim != 1:
            raise SystemExit(f"{speaker}.flac: expected 8000 Hz mono, got {rate} Hz shape {decoded.shape}")
        if sum(int(r["length"]) for r in speaker_rows) != len(decoded):
            raise SystemExit(f"{speaker}.flac: {len(decoded)} samples, the index accounts for a different number")
        for row in speaker_rows:
            start, length = int(row["start"]), int(row["length"])
            if not np.array_equal(decoded[start : start + length], _read_wav(recordings / row["file"])):
                raise SystemExit(f"{row['file']}: the FLAC copy differs from the WAV")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "source", nargs="?", type=Path, default=DEFAULT_SOURCE, help="the FSDD copy (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        raise SystemExit(f"{args.source} is not a folder; pass the FSDD copy (with recordings/) as the first argument")
    sizes = pack(args.source, args.out)
    for name, size in sizes.items():
        print(f"{name:<16} {size:>10,d} bytes")
    print(f"{'total':<16} {sum(sizes.values()):>10,d} bytes; every clip verified bit-exact against its WAV")
    return 0


if __name__ == "__main__":
    sys.exit(main())
