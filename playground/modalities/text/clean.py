"""Text input: decode uploaded bytes and clean what a person typed, before any tokenizer sees it.

Cleaning is deliberately small, so that every view can show exactly what the model saw:

* Unicode NFC (composed characters: "é" is one code point whether it was typed or pasted);
* control characters (Unicode category ``Cc``: NUL, BEL, ESC, ...) removed; tabs and line breaks
  become single spaces, runs of spaces collapse, the ends are stripped;
* everything else is kept: emoji (with their zero-width joiners), CJK, right-to-left scripts and
  their direction marks (category ``Cf``).

Empty or whitespace-only text is refused with a clear message.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

MAX_TEXT_FILE_BYTES = 5 * 1024 * 1024  # a .txt upload larger than 5 MiB is refused
_SPACES = re.compile(r"\s+")


class EmptyTextError(ValueError):
    """The text is empty, or nothing is left of it after cleaning."""


def clean_text(text: str) -> str:
    """NFC-normalize, drop control characters, collapse whitespace.

    Args:
        text: any string.

    Returns:
        The cleaned text (never empty).

    Raises:
        TypeError: if ``text`` is not a string.
        EmptyTextError: if nothing but whitespace / control characters is left.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected text as a string, got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text)
    # Whitespace controls (\t \n \r ...) are word breaks: make them spaces; drop the other controls.
    kept = "".join(
        " " if ch.isspace() else ch for ch in text if not (unicodedata.category(ch) == "Cc" and not ch.isspace())
    )
    kept = _SPACES.sub(" ", kept).strip()
    if not kept:
        raise EmptyTextError("the text is empty (or only whitespace / control characters): type or upload some text")
    return kept


def decode_text_file(data: bytes, filename: str = "upload.txt") -> str:
    """Decode an uploaded plain-text file.

    UTF-8 (with or without a byte-order mark) and UTF-16 with a byte-order mark are read as such;
    anything else that is not valid UTF-8 is read as Windows-1252 (the usual "Latin-1" of files
    saved on Windows), which decodes every byte.

    Args:
        data: the file's bytes.
        filename: shown in error messages.

    Returns:
        The decoded text (not yet cleaned: see :func:`clean_text`).

    Raises:
        ValueError: an empty file, a file over :data:`MAX_TEXT_FILE_BYTES`, or a binary file
            (NUL bytes outside UTF-16).
    """
    if not data:
        raise ValueError(f"{filename} is empty")
    if len(data) > MAX_TEXT_FILE_BYTES:
        raise ValueError(
            f"{filename} is {len(data) / 2**20:.1f} MiB; text files up to {MAX_TEXT_FILE_BYTES // 2**20} MiB are accepted"
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise ValueError(f"{filename} looks like a binary file, not text (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
