"""What a text model expects: cleaning, its tokenizer and a length limit.

``TextPreprocessing`` turns text into the ``(B, T)`` int64 token ids a text model takes
(right-padded with ``PAD_ID`` = 0), and keeps the tokens so every view can show exactly what the
model saw. It plays the role that :class:`~playground.modalities.image.preprocessing.Preprocessing` plays for images
and is stored the same way in ``card.json``, with the tokenizer beside it as ``tokenizer.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from playground.modalities.text.clean import clean_text
from playground.modalities.text.tokenizer import PAD_ID, UNK_ID, StoredTokenizerKind, TextTokenizer

TOKENIZER_FILE = "tokenizer.json"
EXAMPLE_LENGTH = 32  # tokens of the example input the layer table is computed for


@dataclass(frozen=True)
class EncodedText:
    """One text as the model sees it.

    Attributes:
        text: the cleaned text (see :func:`~playground.modalities.text.clean.clean_text`).
        tokens: the T tokens the model sees, in order (``T <= max_length``).
        ids: ``(T,)`` int64 token ids, ``T >= 1``.
        num_dropped: tokens cut off the end because the text is longer than ``max_length``.
    """

    text: str
    tokens: list[str]
    ids: torch.Tensor
    num_dropped: int

    @property
    def truncated(self) -> bool:
        """Whether tokens were dropped."""
        return self.num_dropped > 0


@dataclass(frozen=True)
class TextPreprocessing:
    """Input specification of a text model.

    Attributes:
        tokenizer: the model's tokenizer (``[PAD]`` = 0; ``[UNK]`` = 1 for trained ones, the
            model's own id for a :class:`~playground.modalities.text.tokenizer.PretrainedTokenizer`).
        max_length: the most tokens the model sees per text; the rest is dropped (and counted).
    """

    tokenizer: TextTokenizer
    max_length: int

    kind = "text"

    def __post_init__(self) -> None:
        if not isinstance(self.max_length, int) or self.max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {self.max_length!r}")

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self.tokenizer.vocab_size

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids the tokenizer adds around every text (``[CLS]`` / ``[SEP]`` of a pretrained model; none
        for trained tokenizers): an attribution baseline keeps them (``explain.base.ModelView``)."""
        return self.tokenizer.special_ids

    def unknown_fraction(self, encoded: EncodedText) -> float:
        """The share of ``encoded``'s tokens that the tokenizer does not know (its unknown id), in [0, 1].

        Near 1 means the text is not in the language or alphabet the model was trained on (a
        sentence given to a bracket model becomes a row of ``[UNK]``): its predictions and
        attributions say little.
        """
        return float((encoded.ids == self.tokenizer.unk_id).float().mean())

    def encode(self, text: str) -> EncodedText:
        """Clean, tokenize and truncate one text a person gave.

        A pretrained tokenizer (kind ``"pretrained"``) adds the model's special tokens
        (``[CLS] ... [SEP]``); truncation then keeps the closing one and ``num_dropped`` counts the
        text tokens cut off.

        Raises:
            TypeError: ``text`` is not a string.
            EmptyTextError: nothing is left after cleaning.
            ValueError: the tokenizer finds no token in it.
        """
        cleaned = clean_text(text)
        tokens, ids, dropped = self.tokenizer.encode(cleaned, self.max_length)
        return EncodedText(cleaned, tokens, torch.tensor(ids, dtype=torch.int64), dropped)

    def encode_batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids of many texts, right-padded to the longest.

        Texts are expected clean (datasets are cleaned when loaded); one that gives no token
        becomes a single ``[UNK]`` so every length is at least 1. A pretrained tokenizer adds its
        special tokens (``[CLS] ... [SEP]``) to every row, as :meth:`encode` does.

        Args:
            texts: B strings.

        Returns:
            ``(ids (B, T) int64 padded with PAD_ID, lengths (B,) int64)``, ``T = max(lengths)``.

        Raises:
            ValueError: if ``texts`` is empty.
        """
        if not texts:
            raise ValueError("expected at least one text, got none")
        rows = self.tokenizer.encode_batch(list(texts), self.max_length)
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.int64)
        ids = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.int64)  # (B, T)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
        return ids, lengths

    def model_input(self, inputs: list[str]) -> torch.Tensor:
        """B texts (a dataset part) -> ``(B, T)`` int64 token ids padded with PAD_ID (:meth:`encode_batch`)."""
        return self.encode_batch(inputs)[0]

    def example_input(self) -> torch.Tensor:
        """``(1, T)`` int64 ids of ``[UNK]``, ``T = min(max_length, EXAMPLE_LENGTH)``: any non-padding
        id gives the layer table the same shapes."""
        return torch.full((1, min(self.max_length, EXAMPLE_LENGTH)), UNK_ID, dtype=torch.int64)  # (1, T)

    def model_sizes(self) -> dict[str, Any]:
        """The builder's size arguments: ``{"vocab_size": V, "input_size": None}``."""
        return {"vocab_size": self.vocab_size, "input_size": None}

    def tokens_of(self, ids: torch.Tensor) -> list[str]:
        """Tokens of a ``(T,)`` id row, padding left out."""
        return [self.tokenizer.id_to_token(i) for i in ids.tolist() if i != PAD_ID]

    # -- (de)serialisation for card.json + tokenizer.json ------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description for ``card.json`` (the tokenizer itself goes to :meth:`files`)."""
        return {"kind": self.kind, "max_length": self.max_length, "tokenizer": self.tokenizer.kind}

    def files(self) -> dict[str, bytes]:
        """Extra files saved beside ``card.json``: ``{"tokenizer.json": ...}``."""
        return {TOKENIZER_FILE: self.tokenizer.to_json().encode("utf-8")}

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes] | None = None) -> TextPreprocessing:
        """Rebuild from :meth:`to_dict` and :meth:`files` output.

        Raises:
            ValueError: a missing field, or a missing / invalid ``tokenizer.json``.
        """
        if not files or TOKENIZER_FILE not in files:
            raise ValueError(f"a text model needs its {TOKENIZER_FILE} beside card.json")
        try:
            kind: StoredTokenizerKind = data["tokenizer"]
            max_length = int(data["max_length"])
            text = files[TOKENIZER_FILE].decode("utf-8")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"invalid text preprocessing entry in card.json ({exc})") from exc
        return cls(TextTokenizer.from_json(text, kind), max_length)
