"""Tokenizers trained on a dataset's training split, with the Hugging Face ``tokenizers`` library.

Four kinds, all with ``[PAD]`` at id 0 and ``[UNK]`` at id 1:

* ``"word"``: one id per word or punctuation mark (``WordLevel``); unseen words become ``[UNK]``.
* ``"bpe"``: byte-pair encoding (Sennrich et al. 2016, https://arxiv.org/abs/1508.07909) over
  words marked with ``▁`` at their start (``Metaspace``, as SentencePiece does), so unseen words
  split into known pieces.
* ``"wordpiece"``: BERT's WordPiece (Schuster & Nakajima 2012; continuation pieces start ``##``).
* ``"char"``: one id per character, spaces included (for brackets, parity, ...).

Word, BPE and WordPiece first apply BERT's normalizer (lower-casing optional, accents kept; control
characters were removed by ``clean_text`` already, and emoji joiners stay), which also puts spaces
around CJK characters so each becomes a token instead of one unknown run. The whole
tokenizer serialises to one JSON string (``tokenizer.json``) saved in the checkpoint folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

TokenizerKind = Literal["word", "bpe", "wordpiece", "char"]
PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1
SPECIAL_TOKENS = [PAD_TOKEN, UNK_TOKEN]  # their order fixes PAD_ID and UNK_ID
MAX_VOCAB_SIZE = 200_000


@dataclass(frozen=True)
class TokenizerOptions:
    """How to build a tokenizer for a text dataset.

    Attributes:
        kind: ``"word"``, ``"bpe"``, ``"wordpiece"`` or ``"char"`` (see the module docstring).
        vocab_size: the most tokens to keep, special tokens included (the most frequent first);
            in ``[3, 200000]``. Character vocabularies are usually far smaller.
        max_length: the most tokens a model sees per text; longer texts are truncated (the end is
            dropped and the number of dropped tokens reported).
        lowercase: lower-case before tokenizing (not for ``"char"``).
        min_frequency: a token must occur this often in the training texts to be kept.

    Raises:
        ValueError: on construction, for a value out of range.
    """

    kind: TokenizerKind = "word"
    vocab_size: int = 20_000
    max_length: int = 256
    lowercase: bool = True
    min_frequency: int = 1

    def __post_init__(self) -> None:
        if self.kind not in get_args(TokenizerKind):
            raise ValueError(f"tokenizer kind must be one of {get_args(TokenizerKind)}, got {self.kind!r}")
        if not isinstance(self.vocab_size, int) or not 3 <= self.vocab_size <= MAX_VOCAB_SIZE:
            raise ValueError(f"vocab_size must be an integer in [3, {MAX_VOCAB_SIZE}], got {self.vocab_size!r}")
        if not isinstance(self.max_length, int) or not 1 <= self.max_length <= 100_000:
            raise ValueError(f"max_length must be an integer in [1, 100000], got {self.max_length!r}")
        if not isinstance(self.min_frequency, int) or self.min_frequency < 1:
            raise ValueError(f"min_frequency must be a positive integer, got {self.min_frequency!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TextTokenizer:
    """A trained ``tokenizers.Tokenizer`` with the playground's conventions (PAD 0, UNK 1).

    Args:
        tokenizer: a Hugging Face ``tokenizers.Tokenizer`` whose vocabulary has ``[PAD]`` at 0 and
            ``[UNK]`` at 1.
        kind: what it is (for display and the card).

    Raises:
        ValueError: if the special tokens are not where they must be.
    """

    def __init__(self, tokenizer: Tokenizer, kind: TokenizerKind) -> None:
        if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID or tokenizer.token_to_id(UNK_TOKEN) != UNK_ID:
            raise ValueError(f"a tokenizer here needs {PAD_TOKEN} at id {PAD_ID} and {UNK_TOKEN} at id {UNK_ID}")
        self.tokenizer = tokenizer
        self.kind = kind

    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return int(self.tokenizer.get_vocab_size(with_added_tokens=True))

    def tokenize(self, text: str) -> tuple[list[str], list[int]]:
        """Tokens and ids of ``text`` (no truncation, no padding, no special tokens added)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.tokens), list(encoding.ids)

    def id_to_token(self, token_id: int) -> str:
        """The token of ``token_id``; ``"[UNK]"`` for an id outside the vocabulary."""
        token = self.tokenizer.id_to_token(int(token_id))
        return token if token is not None else UNK_TOKEN

    def to_json(self) -> str:
        """The whole tokenizer (model, normalizer, pre-tokenizer, vocabulary) as JSON."""
        return str(self.tokenizer.to_str())

    @classmethod
    def from_json(cls, text: str, kind: TokenizerKind) -> TextTokenizer:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError: if ``text`` is not a tokenizer's JSON.
        """
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as exc:  # the Rust side raises a bare Exception for any parse error
            raise ValueError(f"tokenizer.json is not a valid tokenizer ({exc})") from exc
        return cls(tokenizer, kind)


def train_tokenizer(texts: Iterable[str], options: TokenizerOptions) -> TextTokenizer:
    """Build a tokenizer of ``options.kind`` from training texts.

    Args:
        texts: the training split's texts (already cleaned).
        options: kind, vocabulary size, lower-casing, minimum frequency.

    Returns:
        A :class:`TextTokenizer` with ``[PAD]`` at 0 and ``[UNK]`` at 1.

    Raises:
        ValueError: if ``texts`` is empty.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("cannot train a tokenizer on no texts")
    kind = options.kind
    tokenizer: Tokenizer
    trainer: trainers.Trainer
    if kind == "char":
        tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # every character
        trainer = trainers.WordLevelTrainer(
            vocab_size=options.vocab_size,
            min_frequency=options.min_frequency,
            special_tokens=SPECIAL_TOKENS,
            show_progress=False,
        )
    else:
        bert_normalizer = normalizers.BertNormalizer(
            clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=options.lowercase
        )
        tokenizer_model: models.Model
        if kind == "word":
            tokenizer_model = models.WordLevel(unk_token=UNK_TOKEN)
            pre: pre_tokenizers.PreTokenizer = pre_tokenizers.BertPreTokenizer()
            trainer = trainers.WordLevelTrainer(
                vocab_size=options.vocab_size,
                min_frequency=options.min_frequency,
                special_tokens=SPECIAL_TOKENS,
                show_progress=False,
            )
        elif kind == "bpe":
            tokenizer_model = models.BPE(unk_token=UNK_TOKEN)
            # Split on whitespace first: the CJK spacing above must not leave lone "▁" tokens.
            pre = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()])
            trainer = trainers.BpeTrainer(
                vocab_size=options.vocab_size,
                min_frequency=options.min_frequency,
                special_tokens=SPECIAL_TOKENS,
                show_progress=False,
            )
        else:  # wordpiece
            tokenizer_model = models.WordPiece(unk_token=UNK_TOKEN)
            pre = pre_tokenizers.BertPreTokenizer()
            trainer = trainers.WordPieceTrainer(
                vocab_size=options.vocab_size,
                min_frequency=options.min_frequency,
                special_tokens=SPECIAL_TOKENS,
                show_progress=False,
            )
        tokenizer = Tokenizer(tokenizer_model)
        tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), bert_normalizer])
        tokenizer.pre_tokenizer = pre
        if kind == "bpe":
            tokenizer.decoder = decoders.Metaspace()
        elif kind == "wordpiece":
            tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return TextTokenizer(tokenizer, kind)
