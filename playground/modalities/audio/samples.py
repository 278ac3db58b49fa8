"""The audio clips shipped in ``assets/samples/audio``, to try the audio pages offline.

Two kinds:

* ``"fsdd"``: five recordings of the Free Spoken Digit Dataset's **official test split** (recording
  index 0-4, never trained on with ``split="official"``), five speakers, five digits, each saved in a
  different upload format (WAV, MP3, FLAC, OGG/Vorbis, Opus) to show that every readable format
  decodes. CC BY-SA 4.0.
* ``"synthetic"``: digits spoken by eSpeak NG 1.52 (a formant synthesiser) in female voice variants,
  a voice unlike FSDD's six male speakers, at eSpeak's native 22,050 Hz; one of them is a long clip of
  several digits with pauses, for the predictions-over-time view.

``scripts/make_audio_samples.py`` writes the files and their section of ``assets/samples/LICENSES.md``
from the table below; edit the table, then rerun the script.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from playground.modalities.audio.decode import DecodedAudio, decode_audio

AUDIO_SAMPLES_DIR = Path(__file__).resolve().parents[3] / "assets" / "samples" / "audio"
LICENSES_PATH = AUDIO_SAMPLES_DIR.parent / "LICENSES.md"

AudioSampleKind = Literal["fsdd", "synthetic"]

_FSDD_AUTHOR = "Zohar Jackson et al. (Free Spoken Digit Dataset)"
_FSDD_LICENCE = "CC BY-SA 4.0"
_FSDD_SOURCE = "https://github.com/Jakobovski/free-spoken-digit-dataset (commit 26eb9aa), recordings/"
_ESPEAK_AUTHOR = "generated with eSpeak NG 1.52.0 (espeakng-loader 0.2.4)"
_ESPEAK_LICENCE = "CC0 1.0 (synthesised output; eSpeak NG itself is GPL-3.0-or-later)"


@dataclass(frozen=True)
class AudioSample:
    """One shipped audio clip.

    Attributes:
        name: short key, the file name without its extension, e.g. ``"seven_jackson"``.
        path: absolute path of the file.
        title: what is said and by whom, for a caption.
        kind: ``"fsdd"`` (a real FSDD recording) or ``"synthetic"`` (eSpeak NG).
        author: who recorded or made it.
        licence: licence of the file, e.g. ``"CC BY-SA 4.0"``.
        source: where it comes from (dataset file, or the synthesiser and its settings).
        label: the spoken digit as a class name of the ``fsdd`` / ``spoken_words`` datasets
            (``"7"``); ``None`` for a clip of several digits.
        sequence: the digits said, in order (``("1", "4", "9")``); ``(label,)`` for one digit.
        sample_rate: Hz of the waveform :func:`load_audio_sample` gives without a target rate (the
            rate the file decodes at).
    """

    name: str
    path: Path
    title: str
    kind: AudioSampleKind
    author: str
    licence: str
    source: str
    label: str | None
    sequence: tuple[str, ...]
    sample_rate: int


# file, title, kind, author, licence, source, sequence, decoded sample rate
_TABLE: tuple[tuple[str, str, AudioSampleKind, str, str, str, tuple[str, ...], int], ...] = (
    (
        "seven_jackson.wav",
        "“Seven”, jackson (FSDD test split), WAV 16-bit",
        "fsdd",
        _FSDD_AUTHOR,
        _FSDD_LICENCE,
        f"{_FSDD_SOURCE}7_jackson_0.wav, unchanged (8 kHz 16-bit WAV)",
        ("7",),
        8000,
    ),
    (
        "three_theo.mp3",
        "“Three”, theo (FSDD test split), MP3",
        "fsdd",
        _FSDD_AUTHOR,
        _FSDD_LICENCE,
        f"{_FSDD_SOURCE}3_theo_1.wav, encoded as MP3 (8 kHz, VBR)",
        ("3",),
        8000,
    ),
    (
        "zero_george.flac",
        "“Zero”, george (FSDD test split), FLAC",
        "fsdd",
        _FSDD_AUTHOR,
        _FSDD_LICENCE,
        f"{_FSDD_SOURCE}0_george_2.wav, as FLAC (lossless)",
        ("0",),
        8000,
    ),
    (
        "five_lucas.ogg",
        "“Five”, lucas (FSDD test split), OGG/Vorbis",
        "fsdd",
        _FSDD_AUTHOR,
        _FSDD_LICENCE,
        f"{_FSDD_SOURCE}5_lucas_3.wav, encoded as OGG/Vorbis (8 kHz)",
        ("5",),
        8000,
    ),
    (
        "nine_yweweler.opus",
        "“Nine”, yweweler (FSDD test split), Opus",
        "fsdd",
        _FSDD_AUTHOR,
        _FSDD_LICENCE,
        f"{_FSDD_SOURCE}9_yweweler_4.wav, encoded as OGG/Opus (8 kHz)",
        ("9",),
        8000,
    ),
    (
        "seven_espeak_f3.wav",
        "“Seven”, synthetic female voice (eSpeak NG), WAV 16-bit",
        "synthetic",
        _ESPEAK_AUTHOR,
        _ESPEAK_LICENCE,
        "eSpeak NG voice en-us+f3, rate 150 wpm, pitch 60, range 50; 22,050 Hz 16-bit WAV",
        ("7",),
        22050,
    ),
    (
        "three_espeak_f3.mp3",
        "“Three”, synthetic female voice (eSpeak NG), MP3",
        "synthetic",
        _ESPEAK_AUTHOR,
        _ESPEAK_LICENCE,
        "eSpeak NG voice en-us+f3, rate 150 wpm, pitch 60, range 50; 22,050 Hz MP3 (VBR)",
        ("3",),
        22050,
    ),
    (
        "one_four_nine_espeak_f5.flac",
        "“One … four … nine”, synthetic female voice (eSpeak NG), 5 s, FLAC",
        "synthetic",
        _ESPEAK_AUTHOR,
        _ESPEAK_LICENCE,
        "eSpeak NG voice en+f5, rate 140 wpm, pitch 55, range 50; each digit synthesised alone, "
        "with 0.5 s of silence before, 1.2 s between and 0.8 s after; 22,050 Hz 16-bit FLAC",
        ("1", "4", "9"),
        22050,
    ),
)


def list_audio_samples(kind: AudioSampleKind | None = None) -> list[AudioSample]:
    """The shipped audio samples, in a fixed order (FSDD clips first).

    Args:
        kind: only samples of this kind (``"fsdd"`` or ``"synthetic"``); ``None`` for all.

    Raises:
        ValueError: if ``kind`` is not ``"fsdd"``, ``"synthetic"`` or ``None``.
    """
    if kind not in ("fsdd", "synthetic", None):
        raise ValueError(f"kind must be 'fsdd', 'synthetic' or None, got {kind!r}")
    samples = [
        AudioSample(
            name=Path(file).stem,
            path=AUDIO_SAMPLES_DIR / file,
            title=title,
            kind=sample_kind,
            author=author,
            licence=licence,
            source=source,
            label=sequence[0] if len(sequence) == 1 else None,
            sequence=sequence,
            sample_rate=rate,
        )
        for file, title, sample_kind, author, licence, source, sequence, rate in _TABLE
    ]
    return [s for s in samples if kind is None or s.kind == kind]


def get_audio_sample(name: str) -> AudioSample:
    """The :class:`AudioSample` called ``name``.

    Raises:
        ValueError: if there is no such sample (the message lists the known names).
    """
    samples = list_audio_samples()
    for sample in samples:
        if sample.name == name:
            return sample
    raise ValueError(f"unknown audio sample {name!r}; known samples: {', '.join(s.name for s in samples)}")


def load_audio_sample(name: str, *, target_rate: int | None = None) -> DecodedAudio:
    """Decode the shipped sample ``name`` with :func:`decode_audio`, as an upload would be.

    Raises:
        ValueError: if there is no such sample.
        FileNotFoundError: if its file is missing (rebuild with ``scripts/make_audio_samples.py``).
        AudioDecodeError: if the file is damaged.
    """
    sample = get_audio_sample(name)
    return decode_audio(sample.path.read_bytes(), target_rate=target_rate, name=sample.path.name)
