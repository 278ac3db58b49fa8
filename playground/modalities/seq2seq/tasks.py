"""Synthetic string-to-string tasks, their character vocabulary and the model's preprocessing.

Four tasks small enough to train on a laptop CPU in seconds, chosen so the encoder-decoder's
cross-attention (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762, section 3.2.3) has a shape
a person can predict before looking:

* ``reverse``: ``"1234" -> "4321"``: output position ``i`` should look at source position
  ``n - 1 - i`` (an anti-diagonal);
* ``sort``: ``"3142" -> "1234"``: each output looks for the smallest source digit not yet written;
* ``copy``: ``"1234" -> "1234"``: a diagonal;
* ``add``: ``"123+45" -> "168"``: digits aligned from the right, with carries.

Every character is one token, so the attention maps are indexed by the characters themselves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

Task = Literal["reverse", "sort", "copy", "add"]
TASKS: tuple[Task, ...] = ("reverse", "sort", "copy", "add")

PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN)  # their order fixes the ids below
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
CHARACTERS = "0123456789abcdefghijklmnopqrstuvwxyz+"
DIGITS = "0123456789"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Seq2SeqVocab:
    """One token per character, after four special tokens.

    Ids: ``[PAD]`` = 0, ``[UNK]`` = 1, ``[BOS]`` = 2 (starts every decoder input), ``[EOS]`` = 3
    (ends every target), then ``characters`` in order (by default digits, ``a``-``z`` and ``+``:
    41 tokens in all).

    Attributes:
        characters: the single characters the vocabulary holds, each once.

    Raises:
        ValueError: empty ``characters``, a repeated character, or one that is whitespace.
    """

    characters: str = CHARACTERS
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.characters, str) or not self.characters:
            raise ValueError(f"expected a non-empty string of characters, got {self.characters!r}")
        repeated = sorted({c for c in self.characters if self.characters.count(c) > 1})
        if repeated:
            raise ValueError(f"each character may appear once in the vocabulary; repeated: {repeated}")
        if any(c.isspace() for c in self.characters):
            raise ValueError("the vocabulary cannot hold whitespace characters")
        index = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(self.characters)}
        object.__setattr__(self, "_index", index)

    @property
    def tokens(self) -> list[str]:
        """All V tokens, index-aligned with the ids (the model's output labels)."""
        return [*SPECIAL_TOKENS, *self.characters]

    @property
    def size(self) -> int:
        """V, the number of token ids."""
        return len(SPECIAL_TOKENS) + len(self.characters)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` the vocabulary lacks, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index))

    def encode(self, text: str) -> list[int]:
        """Character ids of ``text`` (no ``[BOS]`` / ``[EOS]``); unknown characters become ``[UNK]`` (1).

        Raises:
            TypeError: ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise TypeError(f"expected a string, got {type(text).__name__}")
        return [self._index.get(c, UNK_ID) for c in text]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """The text of an id row: stops at the first ``[EOS]``, skips ``[PAD]`` and ``[BOS]``.

        ``[UNK]`` comes back as ``"?"``.

        Raises:
            ValueError: an id outside ``[0, V)``.
        """
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        out = []
        for i in values:
            i = int(i)
            if not 0 <= i < self.size:
                raise ValueError(f"token id {i} is outside the vocabulary [0, {self.size})")
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            out.append("?" if i == UNK_ID else self.characters[i - len(SPECIAL_TOKENS)])
        return "".join(out)

    def token(self, i: int) -> str:
        """The token string of id ``i`` (``"[EOS]"``, ``"7"``, ...)."""
        return self.tokens[int(i)]


def _check_lengths(task: str, min_length: int, max_length: int) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    for name, value in (("min_length", min_length), ("max_length", max_length)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if task == "add":  # sizes come from max_length alone (operands of 1 to max_length // 2 digits)
        if max_length < 2:
            raise ValueError(f"the add task needs max_length >= 2 (one digit per operand), got {max_length}")
    elif min_length > max_length:
        raise ValueError(f"min_length ({min_length}) must not exceed max_length ({max_length})")


def task_lengths(task: str, max_length: int) -> tuple[int, int]:
    """The longest source and target a task makes with ``max_length`` (targets without ``[EOS]``).

    ``add`` takes two operands of up to ``max_length // 2`` digits each, so its sources can be
    ``2 * (max_length // 2) + 1`` characters long and its sums one digit longer than an operand.

    Raises:
        ValueError: an unknown task or ``max_length < 1``.
    """
    _check_lengths(task, 1, max_length)
    if task == "add":
        digits = max_length // 2
        return 2 * digits + 1, digits + 1
    return max_length, max_length


def make_examples(
    task: str,
    n: int,
    *,
    min_length: int = 3,
    max_length: int = 8,
    alphabet: str = DIGITS,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Generate ``n`` (source, target) pairs of a task, reproducibly.

    Source lengths are uniform in ``[min_length, max_length]`` with characters drawn uniformly
    from ``alphabet``. ``add`` ignores ``min_length`` and ``alphabet``: its operands are integers
    of 1 to ``max_length // 2`` digits (no leading zeros), e.g. ``("123+45", "168")``.

    Args:
        task: one of :data:`TASKS`.
        n: how many pairs, ``>= 0``.
        min_length: shortest source (not ``add``).
        max_length: longest source (``add``: twice the longest operand, rounded down to even).
        alphabet: characters of the sources; each must be in the default vocabulary.
        seed: the same seed gives the same pairs.

    Returns:
        ``n`` pairs ``(source, target)`` of non-empty strings.

    Raises:
        ValueError: an unknown task, bad lengths, a negative ``n``, or an empty alphabet /
            one with characters outside the vocabulary.
    """
    _check_lengths(task, min_length, max_length)
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not alphabet:
        raise ValueError("alphabet must hold at least one character")
    outside = Seq2SeqVocab().unknown(alphabet)
    if outside:
        raise ValueError(f"alphabet has characters outside the vocabulary: {outside}; allowed: {CHARACTERS!r}")
    rng = random.Random(seed)
    examples: list[tuple[str, str]] = []
    for _ in range(n):
        if task == "add":
            a, b = (_random_number(rng, rng.randint(1, max_length // 2)) for _ in range(2))
            examples.append((f"{a}+{b}", str(a + b)))
            continue
        source = "".join(rng.choice(alphabet) for _ in range(rng.randint(min_length, max_length)))
        if task == "reverse":
            target = source[::-1]
        elif task == "sort":
            target = "".join(sorted(source))
        else:  # copy
            target = source
        examples.append((source, target))
    return examples


def _random_number(rng: random.Random, digits: int) -> int:
    """A uniform integer with exactly ``digits`` digits (``0``-``9`` for one digit)."""
    return rng.randint(0, 9) if digits == 1 else rng.randint(10 ** (digits - 1), 10**digits - 1)


@dataclass(frozen=True)
class Seq2SeqPreprocessing:
    """Input specification of a sequence-to-sequence model: its vocabulary and length limits.

    Sources are the characters' ids alone; decoder inputs start with ``[BOS]`` and targets end
    with ``[EOS]`` (teacher forcing: ``tgt_in[:, t+1] == tgt_out[:, t]``). Stored in ``card.json``
    like :class:`~playground.modalities.text.preprocessing.TextPreprocessing`, without extra files.

    Attributes:
        vocab: the character vocabulary.
        max_source_length: the most characters a source may have.
        max_target_length: the most characters a target may have (without ``[EOS]``).

    Raises:
        ValueError: a length that is not a positive integer.
    """

    vocab: Seq2SeqVocab
    max_source_length: int
    max_target_length: int

    kind = "seq2seq"

    def __post_init__(self) -> None:
        for name in ("max_source_length", "max_target_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def vocab_size(self) -> int:
        """V, the number of token ids."""
        return self.vocab.size

    def _check(self, text: str, what: str, limit: int) -> None:
        if not isinstance(text, str):
            raise TypeError(f"expected the {what} as a string, got {type(text).__name__}")
        if not text:
            raise ValueError(f"the {what} is empty; type at least one character")
        outside = self.vocab.unknown(text)
        if outside:
            shown = ", ".join(repr(c) for c in outside[:10])
            raise ValueError(
                f"the {what} has characters this model does not know: {shown}; it knows {self.vocab.characters!r}"
            )
        if len(text) > limit:
            raise ValueError(f"the {what} has {len(text)} characters; this model takes at most {limit}")

    def encode_source(self, text: str) -> tuple[torch.Tensor, list[str]]:
        """One source text as the encoder sees it.

        Returns:
            ``(ids (S,) int64, tokens)``, one id and one token per character, ``S = len(text)``.

        Raises:
            TypeError: ``text`` is not a string.
            ValueError: empty text, characters outside the vocabulary (listed), or more than
                ``max_source_length`` characters.
        """
        self._check(text, "source", self.max_source_length)
        return torch.tensor(self.vocab.encode(text), dtype=torch.int64), list(text)

    def encode_batch(self, pairs: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token ids of (source, target) pairs for teacher-forced training.

        Args:
            pairs: B ``(source, target)`` strings.

        Returns:
            ``(src (B, S), tgt_in (B, T), tgt_out (B, T))``, int64, right-padded with ``PAD_ID``
            (0); ``S`` is the longest source, ``T`` the longest target plus one; each ``tgt_in``
            row is ``[BOS] + target`` and each ``tgt_out`` row ``target + [EOS]``.

        Raises:
            ValueError: no pairs, or a source / target that :meth:`encode_source` would refuse.
        """
        if not pairs:
            raise ValueError("expected at least one (source, target) pair, got none")
        for source, target in pairs:
            self._check(source, "source", self.max_source_length)
            self._check(target, "target", self.max_target_length)
        b = len(pairs)
        s = max(len(source) for source, _ in pairs)
        t = max(len(target) for _, target in pairs) + 1
        src = torch.full((b, s), PAD_ID, dtype=torch.int64)  # (B, S)
        tgt_in = torch.full((b, t), PAD_ID, dtype=torch.int64)  # (B, T)
        tgt_out = torch.full((b, t), PAD_ID, dtype=torch.int64)  # (B, T)
        for i, (source, target) in enumerate(pairs):
            src[i, : len(source)] = torch.tensor(self.vocab.encode(source))
            ids = self.vocab.encode(target)
            tgt_in[i, : len(ids) + 1] = torch.tensor([BOS_ID, *ids])
            tgt_out[i, : len(ids) + 1] = torch.tensor([*ids, EOS_ID])
        return src, tgt_in, tgt_out

    def model_input(self, inputs: list[str]) -> torch.Tensor:
        """B source strings -> ``(B, S)`` int64 ids right-padded with PAD_ID (the encoder's input)."""
        rows = [self.encode_source(text)[0] for text in inputs]
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD_ID)  # (B, S)

    def example_input(self) -> torch.Tensor:
        """``(1, S)`` int64 ids of a source of the longest length: its first character, repeated."""
        first = EOS_ID + 1  # the ids after the special tokens are the characters
        return torch.full((1, self.max_source_length), first, dtype=torch.int64)  # (1, S)

    def model_sizes(self) -> dict[str, Any]:
        """The builder's size arguments: ``{"vocab_size": V, "input_size": None}`` (and V outputs)."""
        return {"vocab_size": self.vocab_size, "input_size": None}

    # -- (de)serialisation for card.json ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description for ``card.json``."""
        return {
            "kind": self.kind,
            "characters": self.vocab.characters,
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
        }

    def files(self) -> dict[str, bytes]:
        """Extra files saved beside ``card.json``: none (the vocabulary is in the card)."""
        return {}

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes] | None = None) -> Seq2SeqPreprocessing:
        """Rebuild from :meth:`to_dict` output (``files`` is accepted for symmetry and unused).

        Raises:
            ValueError: a missing or invalid field.
        """
        try:
            if data.get("kind", cls.kind) != cls.kind:
                raise ValueError(f"expected kind {cls.kind!r}, got {data.get('kind')!r}")
            return cls(Seq2SeqVocab(str(data["characters"])), data["max_source_length"], data["max_target_length"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"invalid seq2seq preprocessing entry in card.json ({exc})") from exc


def preprocessing_for(task: str, max_length: int) -> Seq2SeqPreprocessing:
    """The preprocessing sized for a task's longest source and target (see :func:`task_lengths`).

    Raises:
        ValueError: an unknown task or a bad ``max_length``.
    """
    max_source, max_target = task_lengths(task, max_length)
    return Seq2SeqPreprocessing(Seq2SeqVocab(), max_source, max_target)
