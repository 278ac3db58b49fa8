"""Text perturbations: typos, word dropout and shuffling, casing, punctuation and homoglyphs.

Every function takes ``text`` (``str``), a ``level`` in the units of its entry and a
``random.Random`` (the only source of randomness: the same seed gives the same output), and returns
a ``str``. Pure Python; no tokenizer needed.

Rules shared by all of them:

* ``levels[0]`` returns the input unchanged.
* Character edits (swap, insert, delete, keyboard typo, casing, homoglyphs) touch only letters and
  digits of alphabetic scripts up to Cyrillic (code points below U+0530: Latin, Greek, Cyrillic).
  Emoji, CJK and other scripts are kept as they are (Python ``str`` indexes code points, so a
  surrogate pair is never split).
* Edits are nested: the positions to edit are a seeded shuffle, and a level takes a prefix of it,
  so with one seed everything changed at a lower level is also changed at a higher level.
* At a level above 0 at least one edit is made when there is anything to edit.
* The result is never empty (nor only whitespace) unless the input was.

Sources: character and word noise as in Belinkov & Bisk 2018, "Synthetic and Natural Noise Both
Break Neural Machine Translation", https://arxiv.org/abs/1711.02173, and TextAttack (Morris et al.
2020, https://arxiv.org/abs/2005.05909); local word shuffle from Lample et al. 2018, "Unsupervised
Machine Translation Using Monolingual Corpora Only", https://arxiv.org/abs/1711.00043; homoglyphs
from Unicode's confusables list, https://www.unicode.org/Public/security/latest/confusables.txt
(used as an attack by TextBugger, Li et al. 2019, https://arxiv.org/abs/1812.05271).
Word substitution by embedding neighbours is not here yet: no word embedding ships offline.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata

from playground.robustness.perturbations.base import register_perturbation

_EDITABLE_MAX_CODEPOINT = 0x052F  # Latin, IPA, Greek, Cyrillic; CJK, emoji and the rest stay intact

# QWERTY neighbours of each key (rows 1234567890 / qwertyuiop / asdfghjkl / zxcvbnm): the keys that touch it.
_QWERTY_NEIGHBOURS: dict[str, str] = {
    "1": "2q",
    "2": "13qw",
    "3": "24we",
    "4": "35er",
    "5": "46rt",
    "6": "57ty",
    "7": "68yu",
    "8": "79ui",
    "9": "80io",
    "0": "9op",
    "q": "12wa",
    "w": "23qeas",
    "e": "34wrsd",
    "r": "45etdf",
    "t": "56ryfg",
    "y": "67tugh",
    "u": "78yihj",
    "i": "89uojk",
    "o": "90ipkl",
    "p": "0ol",
    "a": "qwsz",
    "s": "weadzx",
    "d": "ersfxc",
    "f": "rtdgcv",
    "g": "tyfhvb",
    "h": "yugjbn",
    "j": "uihknm",
    "k": "iojlm",
    "l": "opk",
    "z": "asx",
    "x": "zsdc",
    "c": "xdfv",
    "v": "cfgb",
    "b": "vghn",
    "n": "bhjm",
    "m": "njk",
}

# Latin letter -> a Cyrillic or Greek letter that looks the same in most fonts (one code point each,
# so the length is kept). From Unicode's confusables.txt.
HOMOGLYPHS: dict[str, str] = {
    "a": "\u0430",  # CYRILLIC SMALL LETTER A
    "c": "\u0441",  # CYRILLIC SMALL LETTER ES
    "e": "\u0435",  # CYRILLIC SMALL LETTER IE
    "h": "\u04bb",  # CYRILLIC SMALL LETTER SHHA
    "i": "\u0456",  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    "j": "\u0458",  # CYRILLIC SMALL LETTER JE
    "o": "\u043e",  # CYRILLIC SMALL LETTER O
    "p": "\u0440",  # CYRILLIC SMALL LETTER ER
    "s": "\u0455",  # CYRILLIC SMALL LETTER DZE
    "v": "\u03bd",  # GREEK SMALL LETTER NU
    "x": "\u0445",  # CYRILLIC SMALL LETTER HA
    "y": "\u0443",  # CYRILLIC SMALL LETTER U
    "A": "\u0410",  # CYRILLIC CAPITAL LETTER A
    "B": "\u0412",  # CYRILLIC CAPITAL LETTER VE
    "C": "\u0421",  # CYRILLIC CAPITAL LETTER ES
    "E": "\u0415",  # CYRILLIC CAPITAL LETTER IE
    "H": "\u041d",  # CYRILLIC CAPITAL LETTER EN
    "I": "\u0406",  # CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I
    "J": "\u0408",  # CYRILLIC CAPITAL LETTER JE
    "K": "\u041a",  # CYRILLIC CAPITAL LETTER KA
    "M": "\u041c",  # CYRILLIC CAPITAL LETTER EM
    "N": "\u039d",  # GREEK CAPITAL LETTER NU
    "O": "\u041e",  # CYRILLIC CAPITAL LETTER O
    "P": "\u0420",  # CYRILLIC CAPITAL LETTER ER
    "S": "\u0405",  # CYRILLIC CAPITAL LETTER DZE
    "T": "\u0422",  # CYRILLIC CAPITAL LETTER TE
    "X": "\u0425",  # CYRILLIC CAPITAL LETTER HA
    "Y": "\u03a5",  # GREEK CAPITAL LETTER UPSILON
    "Z": "\u0396",  # GREEK CAPITAL LETTER ZETA
}

_WORD_SPLIT = re.compile(r"(\s+)")  # keeps the whitespace runs as separate items


# -- helpers ---------------------------------------------------------------------------------


def _check_text(text: str, level: float, low: float, high: float) -> None:
    """Raise unless ``text`` is a ``str`` and ``low <= level <= high``."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as str, got {type(text).__name__}")
    if not low <= level <= high:
        raise ValueError(f"expected a level in [{low:g}, {high:g}], got {level}")


def _editable(ch: str) -> bool:
    """A letter or digit of an alphabetic script (Latin, Greek, Cyrillic): a candidate for a typo."""
    return ch.isalnum() and ord(ch) <= _EDITABLE_MAX_CODEPOINT


def _count(level: float, n: int) -> int:
    """How many of ``n`` candidates a fraction ``level`` edits: ``round(level · n)``, at least 1 if level > 0."""
    if n == 0 or level <= 0:
        return 0
    return min(n, max(1, round(level * n)))


def _pick(candidates: list[int], level: float, rng: random.Random, limit: int | None = None) -> list[int]:
    """A seeded choice of ``_count(level, len(candidates))`` candidates (at most ``limit``).

    The candidates are shuffled once and a prefix is taken, so a higher level picks a superset.
    """
    order = list(candidates)
    rng.shuffle(order)
    k = _count(level, len(order))
    if limit is not None:
        k = min(k, max(0, limit))
    return order[:k]


def _non_space(text: str) -> int:
    """Number of non-whitespace characters."""
    return sum(not ch.isspace() for ch in text)


def _split_words(text: str) -> list[str]:
    """``"a  b c"`` -> ``["a", "  ", "b", " ", "c"]``: words at even places, whitespace runs at odd ones.

    A leading or trailing whitespace run gives an empty first or last word.
    """
    return _WORD_SPLIT.split(text)


# -- character typos -------------------------------------------------------------------------


@register_perturbation(
    "char_swap",
    modality="text",
    unit="fraction of swappable letter pairs swapped",
    levels=(0.0, 0.03, 0.06, 0.1, 0.15, 0.22),
    description="Swaps neighbouring letters inside words (typing too fast: 'teh').",
)
def char_swap(text: str, level: float, rng: random.Random) -> str:
    """Swap a fraction ``level`` of the adjacent, different letter pairs inside words.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the swappable pairs (two different editable characters
            side by side) that are swapped; 0 is the identity.
        rng: seeded source of the choices.

    Returns:
        The text with the same characters, some neighbours exchanged.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    chars = list(text)
    pairs = [
        i for i in range(len(chars) - 1) if _editable(chars[i]) and _editable(chars[i + 1]) and chars[i] != chars[i + 1]
    ]
    for i in sorted(_pick(pairs, level, rng)):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


@register_perturbation(
    "char_insert",
    modality="text",
    unit="fraction of letters followed by an inserted random letter",
    levels=(0.0, 0.03, 0.06, 0.1, 0.15, 0.22),
    description="Inserts stray letters after some letters ('helllo', 'wqord').",
)
def char_insert(text: str, level: float, rng: random.Random) -> str:
    """Insert a random ASCII letter (in the case of its left neighbour) after a fraction of the letters.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the editable characters that get a letter after them;
            0 is the identity.
        rng: seeded source of the positions and the letters.

    Returns:
        The text with some ASCII letters added.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    chosen = _pick([i for i, ch in enumerate(text) if _editable(ch)], level, rng)
    extra = {i: rng.choice(string.ascii_lowercase) for i in chosen}  # drawn in shuffle order: nested
    out = []
    for i, ch in enumerate(text):
        out.append(ch)
        if i in extra:
            out.append(extra[i].upper() if ch.isupper() else extra[i])
    return "".join(out)


@register_perturbation(
    "char_delete",
    modality="text",
    unit="fraction of letters deleted",
    levels=(0.0, 0.03, 0.06, 0.1, 0.15, 0.22),
    description="Deletes some letters ('helo', 'wrd').",
)
def char_delete(text: str, level: float, rng: random.Random) -> str:
    """Delete a fraction ``level`` of the letters and digits, always keeping at least one character.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the editable characters deleted; 0 is the identity.
        rng: seeded source of the positions.

    Returns:
        The text with some letters removed; not empty (or only whitespace) unless the input was.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    chosen = set(_pick([i for i, ch in enumerate(text) if _editable(ch)], level, rng, limit=_non_space(text) - 1))
    return "".join(ch for i, ch in enumerate(text) if i not in chosen)


@register_perturbation(
    "keyboard_typo",
    modality="text",
    unit="fraction of letters and digits replaced by a QWERTY neighbour",
    levels=(0.0, 0.03, 0.06, 0.1, 0.15, 0.22),
    description="Hits a neighbouring key on a QWERTY keyboard instead of the right one ('hellp').",
)
def keyboard_typo(text: str, level: float, rng: random.Random) -> str:
    """Replace a fraction ``level`` of the ASCII letters and digits by a neighbouring QWERTY key.

    The case of a letter is kept. Only characters on the QWERTY letter and digit rows are candidates.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the candidate characters replaced; 0 is the identity.
        rng: seeded source of the positions and the neighbours.

    Returns:
        The text, the same length, with some ASCII characters changed.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    chars = list(text)
    candidates = [i for i, ch in enumerate(chars) if ch.lower() in _QWERTY_NEIGHBOURS and ch.isascii()]
    for i in _pick(candidates, level, rng):
        typo = rng.choice(_QWERTY_NEIGHBOURS[chars[i].lower()])
        chars[i] = typo.upper() if chars[i].isupper() else typo
    return "".join(chars)


# -- words -----------------------------------------------------------------------------------


@register_perturbation(
    "word_dropout",
    modality="text",
    unit="fraction of words dropped",
    levels=(0.0, 0.05, 0.1, 0.2, 0.3, 0.4),
    description="Drops whole words (skimming, a lost packet, a careless edit).",
)
def word_dropout(text: str, level: float, rng: random.Random) -> str:
    """Drop a fraction ``level`` of the whitespace-separated words, keeping at least one.

    A dropped word takes the whitespace before it with it (the one after it, for the first word), so
    the remaining layout (line breaks, double spaces) is kept.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the words dropped; 0 is the identity.
        rng: seeded source of the choice.

    Returns:
        The text with some words removed; at least one word is left.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    items = _split_words(text)
    words = [i for i in range(0, len(items), 2) if items[i]]
    dropped = set(_pick(words, level, rng, limit=len(words) - 1))
    out: list[str] = []
    for i in range(0, len(items), 2):
        space_before = items[i - 1] if i > 0 else ""
        if i in dropped:
            continue
        if out or not items[i]:  # a leading whitespace run is kept; between words, one run each
            out.append(space_before)
        out.append(items[i])
    return "".join(out)


@register_perturbation(
    "word_shuffle",
    modality="text",
    unit="the farthest a word moves, in words",
    levels=(0.0, 1.0, 2.0, 3.0, 4.0, 6.0),
    description="Shuffles words locally: each word moves at most a few places ('quick the fox brown').",
)
def word_shuffle(text: str, level: float, rng: random.Random) -> str:
    """Local shuffle: sort the words by ``index + U(0, level + 1)`` (Lample et al. 2018).

    A word moves at most ``ceil(level)`` places; 0 is the identity. If the draw moves nothing, one
    random pair of neighbouring words is swapped, so a level above 0 always changes a text of two or
    more words. The
    whitespace between words stays where it was.

    Args:
        text: any string.
        level: the largest displacement, in words, >= 0; 0 is the identity.
        rng: seeded source of the keys.

    Returns:
        The same words in a locally shuffled order.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: a negative ``level``.
    """
    _check_text(text, level, 0.0, float("inf"))
    if level == 0:
        return text
    items = _split_words(text)
    slots = [i for i in range(0, len(items), 2) if items[i]]
    keys = [n + rng.uniform(0.0, level + 1.0) for n in range(len(slots))]
    order = sorted(range(len(slots)), key=keys.__getitem__)
    if len(slots) > 1 and order == sorted(order):  # nothing moved: swap one neighbouring pair (rule: >= 1 edit)
        i = rng.randrange(len(slots) - 1)
        order[i], order[i + 1] = order[i + 1], order[i]
    words = [items[i] for i in slots]
    for slot, source in zip(slots, order, strict=True):
        items[slot] = words[source]
    return "".join(items)


# -- surface form ----------------------------------------------------------------------------


@register_perturbation(
    "casing",
    modality="text",
    unit="fraction of letters whose case is flipped",
    levels=(0.0, 0.05, 0.1, 0.2, 0.35, 0.5),
    description="Flips the case of random letters ('HeLlo WoRld').",
)
def casing(text: str, level: float, rng: random.Random) -> str:
    """Swap the case of a fraction ``level`` of the letters that have a one-letter other case.

    Letters whose other case is longer (``ß`` -> ``SS``) are left alone, so the length is kept.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the cased letters flipped; 0 is the identity.
        rng: seeded source of the positions.

    Returns:
        The text, the same length, with some letters in the other case.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    chars = list(text)
    candidates = [i for i, ch in enumerate(chars) if _editable(ch) and len(ch.swapcase()) == 1 and ch.swapcase() != ch]
    for i in _pick(candidates, level, rng):
        chars[i] = chars[i].swapcase()
    return "".join(chars)


@register_perturbation(
    "punctuation_removal",
    modality="text",
    unit="fraction of punctuation marks removed",
    levels=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    description="Removes punctuation marks (chat style: 'im here dont worry').",
)
def punctuation_removal(text: str, level: float, rng: random.Random) -> str:
    """Remove a fraction ``level`` of the punctuation characters (Unicode categories ``P*``).

    Text that is only punctuation keeps one mark, so the result is not empty.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the punctuation removed; 0 is the identity.
        rng: seeded source of the positions.

    Returns:
        The text with some punctuation removed.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    marks = [i for i, ch in enumerate(text) if unicodedata.category(ch).startswith("P")]
    chosen = set(_pick(marks, level, rng, limit=_non_space(text) - 1))
    return "".join(ch for i, ch in enumerate(text) if i not in chosen)


@register_perturbation(
    "homoglyphs",
    modality="text",
    unit="fraction of replaceable Latin letters swapped for Cyrillic/Greek look-alikes",
    levels=(0.0, 0.1, 0.2, 0.35, 0.5, 0.75),
    description="Replaces Latin letters with identical-looking Cyrillic or Greek ones: looks the same, reads differently.",
)
def homoglyphs(text: str, level: float, rng: random.Random) -> str:
    """Replace a fraction ``level`` of the letters in :data:`HOMOGLYPHS` by their look-alike.

    Args:
        text: any string.
        level: fraction in ``[0, 1]`` of the replaceable letters replaced; 0 is the identity.
        rng: seeded source of the positions.

    Returns:
        The text, the same length, that looks the same but has other code points.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``level`` outside ``[0, 1]``.
    """
    _check_text(text, level, 0.0, 1.0)
    chars = list(text)
    for i in _pick([i for i, ch in enumerate(chars) if ch in HOMOGLYPHS], level, rng):
        chars[i] = HOMOGLYPHS[chars[i]]
    return "".join(chars)
