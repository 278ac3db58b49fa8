"""Rebuild the shipped audio samples and the synthetic ``spoken_words`` dataset.

Two outputs, chosen with ``--only`` (default: both):

``samples``
    The clips of ``assets/samples/audio`` catalogued in ``playground/modalities/audio/samples.py``
    and their section of ``assets/samples/LICENSES.md`` (everything from the heading
    ``## Audio samples`` on is rewritten; the image part above it is kept). Five recordings of the
    Free Spoken Digit Dataset's official test split (read from ``--fsdd``, by default
    ``../shared/datasets/fsdd/recordings`` next to the project), each saved in another upload format
    (WAV, MP3, FLAC, OGG/Vorbis, Opus), and three clips synthesised with eSpeak NG.

``spoken_words``
    ``assets/datasets/spoken_words/spoken_words.flac`` and ``index.csv``: the words "zero" .. "nine"
    spoken by eSpeak NG in :data:`VOICES` (20 voice variants) × :data:`SETTINGS` (3 rate / pitch
    pairs per voice), 600 clips, resampled from eSpeak's 22,050 Hz to 8,000 Hz (FSDD's rate) with
    the playground's sinc resampler, 16-bit, one after the other in one FLAC file. ``README.md`` in
    that folder is written by hand.

eSpeak NG (GPL-3.0-or-later) is NOT a dependency of the app. It comes with the ``espeakng-loader``
wheel (libespeak-ng 1.52.0 and its data, no system install); put it in a throwaway venv and pass
that venv to the script, which runs in the project's venv (soundfile 0.14, torch)::

    python3 -m venv /tmp/espeak-venv
    /tmp/espeak-venv/bin/pip install espeakng-loader==0.2.4
    .venv/bin/python scripts/make_audio_samples.py --espeak /tmp/espeak-venv

The library is driven through ``ctypes`` (``espeak_Initialize`` in synchronous mode,
``espeak_SetSynthCallback``, ``espeak_SetVoiceByName``, ``espeak_SetParameter``, ``espeak_Synth``).
eSpeak keeps state between utterances (the phase of its waveform generator, its random numbers), so
the same word said twice in one process gives different samples; every utterance is therefore
synthesised in a fresh worker process, with its random seed set (``espeak_ng_SetRandSeed``), which
makes the output deterministic: bit for bit for the WAV and FLAC files and ``spoken_words``; the
MP3 and Ogg encoders may differ in their bytes from run to run (Ogg stream serial numbers).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import multiprocessing
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a plain script from anywhere

DEFAULT_FSDD = REPO.parent / "shared" / "datasets" / "fsdd" / "recordings"
SPOKEN_WORDS_DIR = REPO / "assets" / "datasets" / "spoken_words"
SPOKEN_WORDS_RATE = 8000  # Hz, FSDD's rate
ESPEAK_RATE = 22050  # Hz, what eSpeak NG produces
AUDIO_HEADING = "## Audio samples (`audio/`)"
MAX_SAMPLES_BYTES = 512 * 1024
MAX_SPOKEN_WORDS_BYTES = 3 * 1024 * 1024

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# eSpeak NG voices of the spoken_words dataset: "<language>+<variant>". Ten female and ten male
# variants over seven English accents (en = British, en-us, en-gb-scotland, en-029 = Caribbean,
# en-gb-x-rp = received pronunciation, en-gb-x-gbclan = Lancastrian, en-gb-x-gbcwmd = West Midlands)
# and two synthesiser families (eSpeak's own and the Klatt synthesiser, "klatt*").
VOICES: tuple[str, ...] = (
    "en-us+f1",
    "en-us+f3",
    "en-us+f5",
    "en+f2",
    "en+f4",
    "en-gb-scotland+f3",
    "en-029+f1",
    "en-gb-x-rp+f5",
    "en-us+Annie",
    "en+belinda",
    "en-us+m1",
    "en-us+m3",
    "en-us+m7",
    "en+m2",
    "en+m4",
    "en-gb-scotland+m1",
    "en-029+m3",
    "en-gb-x-rp+m5",
    "en-gb-x-gbclan+m6",
    "en-gb-x-gbcwmd+klatt",
)
RATES = (130, 170, 210)  # words per minute (eSpeak's default is 175)
PITCHES = (30, 50, 70)  # eSpeak's base pitch, 0-100 (default 50)
PITCH_RANGE = 50  # eSpeak's pitch range, 0-100 (default 50)


def settings(voice_index: int) -> list[tuple[int, int]]:
    """The three (rate, pitch) pairs of voice ``voice_index``: every rate and every pitch once (a Latin square)."""
    return [(RATES[k], PITCHES[(k + voice_index) % len(PITCHES)]) for k in range(len(RATES))]


# -- eSpeak NG through ctypes -------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_ESPEAK_RATE, _ESPEAK_PITCH, _ESPEAK_RANGE = 1, 3, 4  # espeak_PARAMETER
RAND_SEED = 1  # espeak_ng_SetRandSeed before each utterance
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Espeak:
    """Where eSpeak NG is: the shared library and its ``espeak-ng-data`` folder."""

    library: Path
    data: Path


@dataclass(frozen=True)
class Utterance:
    """One thing to say: ``text`` in ``voice`` at ``rate`` words per minute and base ``pitch`` (0-100)."""

    text: str
    voice: str
    rate: int
    pitch: int
    pitch_range: int = PITCH_RANGE


def find_espeak(venv: Path | None) -> Espeak:
    """Locate ``espeakng_loader``'s library and data in ``venv``, or in this interpreter when ``None``."""
    if venv is None:
        try:
            import espeakng_loader  # type: ignore[import-not-found]
        except ImportError as exc:
            raise SystemExit(f"espeakng-loader is needed to synthesise speech; see the usage:\n{__doc__}") from exc
        return Espeak(Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path()))
    packages = sorted(venv.glob("lib/python3*/site-packages/espeakng_loader"))
    if not packages:
        raise SystemExit(f"no espeakng_loader package in {venv}; pip install espeakng-loader there first")
    package = packages[-1]
    return Espeak(package / "libespeak-ng.so", package / "espeak-ng-data")


def _check_voice(espeak: Espeak, voice: str) -> None:
    """eSpeak ignores an unknown ``+variant`` silently; refuse it here instead."""
    _, _, variant = voice.partition("+")
    if variant and not (espeak.data / "voices" / "!v" / variant).is_file():
        raise SystemExit(f"eSpeak NG has no voice variant {variant!r} (in {voice!r})")


def _synthesise_here(espeak: Espeak, utterance: Utterance) -> np.ndarray:
    """``(L,)`` int16 at 22,050 Hz. Runs in a fresh process (see the module docstring)."""
    lib = ctypes.CDLL(str(espeak.library))
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(espeak.data).encode(), 0)
    if rate != ESPEAK_RATE:
        raise RuntimeError(f"espeak_Initialize returned {rate}, expected {ESPEAK_RATE} Hz")
    chunks: list[np.ndarray] = []

    def collect(wav: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None) -> int:
        if wav and count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # go on

    callback = _CALLBACK(collect)
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_ng_SetRandSeed(RAND_SEED)  # its noise sources draw from rand(); fix them
    if lib.espeak_SetVoiceByName(utterance.voice.encode()) != 0:
        raise RuntimeError(f"eSpeak NG does not know the voice {utterance.voice!r}")
    for parameter, value in (
        (_ESPEAK_RATE, utterance.rate),
        (_ESPEAK_PITCH, utterance.pitch),
        (_ESPEAK_RANGE, utterance.pitch_range),
    ):
        if lib.espeak_SetParameter(parameter, value, 0) != 0:
            raise RuntimeError(f"espeak_SetParameter({parameter}, {value}) failed")
    text = utterance.text.encode()
    if lib.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None) != 0:
        raise RuntimeError(f"espeak_Synth failed for {utterance}")
    lib.espeak_Synchronize()
    if not chunks:
        raise RuntimeError(f"eSpeak NG produced no audio for {utterance}")
    return np.concatenate(chunks).astype(np.int16)


def _worker(job: tuple[Espeak, Utterance]) -> np.ndarray:
    return _synthesise_here(*job)


def synthesise(espeak: Espeak, utterances: list[Utterance], processes: int | None = None) -> list[np.ndarray]:
    """Each utterance as ``(L,)`` int16 at 22,050 Hz, each in a fresh forked process (deterministic)."""
    for voice in sorted({u.voice for u in utterances}):
        _check_voice(espeak, voice)
    context = multiprocessing.get_context("fork")  # the parent never loads eSpeak, so each child starts clean
    with context.Pool(processes=processes, maxtasksperchild=1) as pool:
        return pool.map(_worker, [(espeak, u) for u in utterances], chunksize=1)


# -- the shipped samples ------------------------------------------------------------------------

# sample name -> FSDD recording (index 0-4: the official test split)
FSDD_CLIPS: dict[str, str] = {
    "seven_jackson": "7_jackson_0.wav",
    "three_theo": "3_theo_1.wav",
    "zero_george": "0_george_2.wav",
    "five_lucas": "5_lucas_3.wav",
    "nine_yweweler": "9_yweweler_4.wav",
}
# sample name -> utterances joined by silence; the voices must match the catalogue's sources.
SYNTHETIC_CLIPS: dict[str, list[Utterance]] = {
    "seven_espeak_f3": [Utterance("seven", "en-us+f3", 150, 60)],
    "three_espeak_f3": [Utterance("three", "en-us+f3", 150, 60)],
    "one_four_nine_espeak_f5": [Utterance(word, "en+f5", 140, 55) for word in ("one", "four", "nine")],
}
LEAD_S, GAP_S, TAIL_S = 0.5, 1.2, 0.8  # silence around and between the words of a several-word clip

# extension -> soundfile (format, subtype)
FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
    ".ogg": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
}


def _write(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write ``(L,)`` int16 ``samples`` in the format that ``path``'s extension names."""
    fmt, subtype = FORMATS[path.suffix]
    if fmt in ("WAV", "FLAC"):
        sf.write(str(path), samples, rate, format=fmt, subtype=subtype)
    else:  # lossy encoders take floats; default quality, MP3 as variable bitrate
        mode = "VARIABLE" if fmt == "MP3" else None
        sf.write(str(path), samples.astype(np.float32) / 32768.0, rate, format=fmt, subtype=subtype, bitrate_mode=mode)
    info = sf.info(str(path))
    if (info.format, info.subtype) != (fmt, subtype):
        raise SystemExit(f"{path.name}: wrote {info.format}/{info.subtype}, expected {fmt}/{subtype}")


def _join(words: list[np.ndarray], rate: int) -> np.ndarray:
    silence = [np.zeros(round(s * rate), dtype=np.int16) for s in (LEAD_S, GAP_S, TAIL_S)]
    if len(words) == 1:
        return words[0]
    parts = [silence[0]]
    for i, word in enumerate(words):
        parts += [word, silence[1] if i < len(words) - 1 else silence[2]]
    return np.concatenate(parts)


def audio_licenses_markdown() -> str:
    """The audio section of ``assets/samples/LICENSES.md`` (from :data:`AUDIO_HEADING` on)."""
    from playground.modalities.audio.samples import list_audio_samples

    lines = [
        AUDIO_HEADING,
        "",
        "Generated by `scripts/make_audio_samples.py` from the catalogue in "
        "`playground/modalities/audio/samples.py`; edit those, not this section.",
        "",
        "| File | Says | Author | Licence | Source |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| `audio/{s.path.name}` | {s.title} | {s.author} | {s.licence} | {s.source} |" for s in list_audio_samples()
    ]
    lines += [
        "",
        "Notes:",
        "",
        "- FSDD: Free Spoken Digit Dataset, Zohar Jackson et al., "
        "https://github.com/Jakobovski/free-spoken-digit-dataset (commit "
        "26eb9aaf76e81b692f806f9140c2d2777410d7a1), licensed under the Creative Commons "
        "Attribution-ShareAlike 4.0 International licence (https://creativecommons.org/licenses/by-sa/4.0/). "
        "The five clips are recordings with index 0–4, the dataset's own test split. Changes: the WAV is "
        "unchanged; the FLAC is lossless; the MP3, OGG/Vorbis and Opus files are lossy re-encodings by "
        "libsndfile 1.2.2 (soundfile 0.14.0) at default quality (MP3: variable bitrate). These files are shared under the same "
        "licence, CC BY-SA 4.0.",
        "- Synthetic clips: synthesised for this project with eSpeak NG 1.52.0 "
        "(https://github.com/espeak-ng/espeak-ng, from the `espeakng-loader` 0.2.4 wheel), a formant "
        "synthesiser with no recorded voice inside. eSpeak NG is licensed under the GNU GPL 3.0 or later; "
        "the GPL covers the program, not the audio it outputs, which belongs to whoever runs it. The "
        "project dedicates these clips to the public domain (CC0 1.0). Settings are in the Source column "
        "(voice `language+variant`, rate in words per minute, pitch and pitch range on eSpeak's 0–100 "
        "scale); audio at eSpeak's native 22,050 Hz, not resampled or normalised.",
        "",
    ]
    return "\n".join(lines)


def make_samples(espeak: Espeak, fsdd: Path) -> None:
    """Write every catalogued audio sample and the audio section of ``LICENSES.md``."""
    from playground.modalities.audio.samples import AUDIO_SAMPLES_DIR, LICENSES_PATH, list_audio_samples

    samples = list_audio_samples()
    names = {s.name for s in samples}
    mismatch = sorted(names ^ (set(FSDD_CLIPS) | set(SYNTHETIC_CLIPS)))
    if mismatch:
        raise SystemExit(f"the catalogue and this script disagree on: {', '.join(mismatch)}")
    for sample in samples:
        for utterance in SYNTHETIC_CLIPS.get(sample.name, []):
            if utterance.voice not in sample.source:
                raise SystemExit(f"{sample.name}: the catalogue's source does not name voice {utterance.voice}")
    synthetic = {name: synthesise(espeak, utterances) for name, utterances in SYNTHETIC_CLIPS.items()}
    AUDIO_SAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    total = 0
    for sample in samples:
        target = AUDIO_SAMPLES_DIR / sample.path.name
        if sample.name in FSDD_CLIPS:
            source = fsdd / FSDD_CLIPS[sample.name]
            if int(source.stem.rsplit("_", 1)[1]) > 4:
                raise SystemExit(f"{source.name} is not in FSDD's official test split (index 0-4)")
            if target.suffix == ".wav":
                shutil.copyfile(source, target)  # unchanged
            else:
                data, rate = sf.read(str(source), dtype="int16")
                _write(target, data, rate)
        else:
            _write(target, _join(synthetic[sample.name], ESPEAK_RATE), ESPEAK_RATE)
        total += target.stat().st_size
        print(f"wrote {target.relative_to(REPO)} ({target.stat().st_size} bytes)")
    if total > MAX_SAMPLES_BYTES:
        raise SystemExit(f"the audio samples total {total} bytes; keep them under {MAX_SAMPLES_BYTES}")
    text = LICENSES_PATH.read_text(encoding="utf-8") if LICENSES_PATH.is_file() else ""
    head = text.split(AUDIO_HEADING, 1)[0].rstrip("\n")
    LICENSES_PATH.write_text((head + "\n\n" if head else "") + audio_licenses_markdown(), encoding="utf-8")
    print(f"wrote the audio section of {LICENSES_PATH.relative_to(REPO)}; audio samples total {total} bytes")


# -- the spoken_words dataset -------------------------------------------------------------------

INDEX_COLUMNS = ("voice", "digit", "word", "rate", "pitch", "start", "length")


def make_spoken_words(espeak: Espeak, out: Path) -> None:
    """Write ``spoken_words.flac`` and ``index.csv`` into ``out``, then read them back to check."""
    import torch

    from playground.modalities.audio.resample import resample

    rows: list[tuple[str, int, str, int, int]] = []  # voice, digit, word, rate, pitch
    for v, voice in enumerate(VOICES):
        for digit, word in enumerate(DIGIT_WORDS):
            rows += [(voice, digit, word, rate, pitch) for rate, pitch in settings(v)]
    clips = synthesise(espeak, [Utterance(word, voice, rate, pitch) for voice, _, word, rate, pitch in rows])
    parts: list[np.ndarray] = []
    index: list[tuple[str, int, str, int, int, int, int]] = []
    start = 0
    for row, clip in zip(rows, clips, strict=True):
        x = torch.from_numpy(clip.astype(np.float32) / 32768.0)  # (L,) at 22,050 Hz
        y = resample(x, ESPEAK_RATE, SPOKEN_WORDS_RATE).clamp(-1.0, 32767 / 32768)  # (L',) at 8 kHz
        samples = torch.round(y * 32768.0).to(torch.int16).numpy()
        index.append((*row, start, len(samples)))
        parts.append(samples)
        start += len(samples)
    out.mkdir(parents=True, exist_ok=True)
    flac = out / "spoken_words.flac"
    everything = np.concatenate(parts)
    sf.write(str(flac), everything, SPOKEN_WORDS_RATE, format="FLAC", subtype="PCM_16", compression_level=1.0)
    with (out / "index.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(INDEX_COLUMNS)
        writer.writerows(index)
    decoded, rate = sf.read(str(flac), dtype="int16")
    if rate != SPOKEN_WORDS_RATE or not np.array_equal(decoded, everything):
        raise SystemExit(f"{flac.name} does not read back as written")
    size = flac.stat().st_size + (out / "index.csv").stat().st_size
    seconds = np.array([length for *_, length in index]) / SPOKEN_WORDS_RATE
    print(
        f"wrote {len(index)} clips ({len(VOICES)} voices) to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}: "
        f"{size} bytes; clip durations {seconds.min():.2f}-{seconds.max():.2f} s (median {np.median(seconds):.2f} s)"
    )
    if size > MAX_SPOKEN_WORDS_BYTES:
        raise SystemExit(f"spoken_words takes {size} bytes; keep it under {MAX_SPOKEN_WORDS_BYTES}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--espeak", type=Path, default=None, help="a venv with espeakng-loader installed")
    parser.add_argument("--fsdd", type=Path, default=DEFAULT_FSDD, help="FSDD's recordings/ folder")
    parser.add_argument("--only", choices=("samples", "spoken_words"), default=None, help="build one output only")
    parser.add_argument("--out", type=Path, default=SPOKEN_WORDS_DIR, help="the spoken_words folder")
    args = parser.parse_args(argv)
    espeak = find_espeak(args.espeak)
    if args.only in (None, "samples"):
        make_samples(espeak, args.fsdd)
    if args.only in (None, "spoken_words"):
        make_spoken_words(espeak, args.out)


if __name__ == "__main__":
    main()
