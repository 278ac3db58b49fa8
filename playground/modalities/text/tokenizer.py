"""Tokenizers trained on a dataset's training split, with the Hugging Face ``tokenizers`` library.

Four kinds, all with ``[PAD]`` at id 0 and ``[UNK]`` at id 1:

* ``"word"``: one id per word or punctuation mark (``WordLevel``); unseen words become ``[UNK]``.
* ``"bpe"``: byte-pair encoding (Sennrich et al. 2016, https://arxiv.org/abs/1508.07909) over
  words marked with ``▁`` at their start (``Metaspace``, as SentencePiece does), so unseen words
  split into known pieces.
* ``"wordpiece"``: BERT's WordPiece (Schuster & Nakajima 2012; continuation pieces start ``##``).
* ``"char"``: one id per character, spaces included (for brackets, parity, ...).

A fifth kind, ``"pretrained"`` (:class:`PretrainedTokenizer`), is not trained here: it is a
pretrained model's own ``tokenizer.json`` (BERT's WordPiece for ``minilm``, ``bert-base-uncased``,
...), which adds the model's special tokens (``[CLS] ... [SEP]``) and keeps the model's ids; only
its ``[PAD]`` must be id 0, as everywhere here.

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

TokenizerKind = Literal["word", "bpe", "wordpiece", "char"]  # the kinds train_tokenizer makes
StoredTokenizerKind = TokenizerKind | Literal["pretrained"]  # what a TextTokenizer (and card.json) can hold
PRETRAINED: Literal["pretrained"] = "pretrained"
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

    kind: StoredTokenizerKind

    def __init__(self, tokenizer: Tokenizer, kind: TokenizerKind) -> None:
        if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID or tokenizer.token_to_id(UNK_TOKEN) != UNK_ID:
            raise ValueError(f"a tokenizer here needs {PAD_TOKEN} at id {PAD_ID} and {UNK_TOKEN} at id {UNK_ID}")
        self.tokenizer = tokenizer
        self.kind = kind

    @property
    def unk_id(self) -> int:
        """The id unknown text maps to (:data:`UNK_ID` here; the model's own for pretrained tokenizers)."""
        return UNK_ID

    @property
    def special_ids(self) -> tuple[int, ...]:
        """Ids that :meth:`encode` adds around every text (none here; ``[CLS]`` / ``[SEP]`` for BERT's)."""
        return ()

    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return int(self.tokenizer.get_vocab_size(with_added_tokens=True))

    def tokenize(self, text: str) -> tuple[list[str], list[int]]:
        """Tokens and ids of ``text`` (no truncation, no padding, no special tokens added)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.tokens), list(encoding.ids)

    def encode(self, text: str, max_length: int) -> tuple[list[str], list[int], int]:
        """Tokens and ids of one text as the model sees it, cut to ``max_length``.

        Returns:
            ``(tokens, ids, num_dropped)``: at most ``max_length`` tokens, and how many were cut off
            the end.

        Raises:
            ValueError: the text gives no token.
        """
        tokens, ids = self.tokenize(text)
        if not ids:
            raise ValueError("the tokenizer found no tokens in this text")
        return tokens[:max_length], ids[:max_length], max(0, len(ids) - max_length)

    def encode_batch(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Ids of many texts, each cut to ``max_length``; a text with no token becomes ``[UNK]``."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.ids[:max_length]) or [UNK_ID] for e in encodings]

    def id_to_token(self, token_id: int) -> str:
        """The token of ``token_id``; ``"[UNK]"`` for an id outside the vocabulary."""
        token = self.tokenizer.id_to_token(int(token_id))
        return token if token is not None else UNK_TOKEN

    def to_json(self) -> str:
        """The whole tokenizer (model, normalizer, pre-tokenizer, vocabulary) as JSON."""
        return str(self.tokenizer.to_str())

    @classmethod
    def from_json(cls, text: str, kind: StoredTokenizerKind) -> TextTokenizer:
        """Inverse of :meth:`to_json`; ``kind="pretrained"`` gives a :class:`PretrainedTokenizer`.

        Raises:
            ValueError: if ``text`` is not a tokenizer's JSON, or it breaks the kind's id conventions.
        """
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as exc:  # the Rust side raises a bare Exception for any parse error
            raise ValueError(f"tokenizer.json is not a valid tokenizer ({exc})") from exc
        if kind == PRETRAINED:
            return PretrainedTokenizer(tokenizer)
        return cls(tokenizer, kind)


_PAD_CANDIDATES = ("[PAD]", "<pad>", "<PAD>")


class PretrainedTokenizer(TextTokenizer):
    """A pretrained model's own tokenizer (kind ``"pretrained"``): its vocabulary and special tokens.

    Unlike the trained kinds it adds the model's special tokens (``[CLS] text [SEP]`` for BERT,
    through the tokenizer's own post-processor) and keeps the model's ids (``[UNK]`` is 100 in
    BERT's vocabulary; pages mark unknown tokens by their string). Truncation keeps the closing
    special token: the text is cut to ``max_length - num_special`` tokens and then the special
    tokens are added, which is what ``tokenizers``' own ``enable_truncation`` does (done per call
    here because ``max_length`` belongs to the :class:`TextPreprocessing`, not the tokenizer).

    Args:
        tokenizer: the model's ``tokenizers.Tokenizer`` (``tokenizer.json``, or
            ``AutoTokenizer.from_pretrained(...).backend_tokenizer``); copied, not changed.
        name: the model's name, for error messages.
        pad_token: the model's padding token; default: the tokenizer's padding setting, else
            ``[PAD]`` / ``<pad>`` if the vocabulary has one.

    Raises:
        ValueError: the model has no padding token or pads with another id than :data:`PAD_ID`
            (the playground right-pads every batch with 0 and masks id 0 out: BERT, DistilBERT,
            MiniLM and ELECTRA fit; RoBERTa (1) and GPT-2 (none) do not).
    """

    def __init__(self, tokenizer: Tokenizer, name: str = "this model", pad_token: str | None = None) -> None:
        stored = Tokenizer.from_str(tokenizer.to_str())  # a private copy: padding / truncation are set below
        pad_id: int | None = None
        if pad_token is not None:
            pad_id = stored.token_to_id(pad_token)
        elif stored.padding is not None:
            pad_id, pad_token = int(stored.padding["pad_id"]), str(stored.padding["pad_token"])
        else:
            pad_token = next((t for t in _PAD_CANDIDATES if stored.token_to_id(t) is not None), None)
            pad_id = None if pad_token is None else stored.token_to_id(pad_token)
        if pad_id is None or pad_token is None:
            raise ValueError(f"the playground pads with id {PAD_ID}; {name} has no padding token")
        if pad_id != PAD_ID:
            raise ValueError(f"the playground pads with id {PAD_ID}; {name} pads with id {pad_id}")
        # Stored form (tokenizer.json): no truncation, pad to the longest with id 0 on the right.
        stored.no_truncation()
        stored.enable_padding(direction="right", pad_id=PAD_ID, pad_token=pad_token)
        self.tokenizer = stored
        self.kind = PRETRAINED
        self.name = name
        self.pad_token = pad_token
        # Working copy for encoding: no padding (rows are padded by TextPreprocessing.encode_batch).
        self._encoder = Tokenizer.from_str(stored.to_str())
        self._encoder.no_padding()
        self.num_special = int(self._encoder.num_special_tokens_to_add(is_pair=False))
        model_unk = getattr(self._encoder.model, "unk_token", None)
        unk = self._encoder.token_to_id(model_unk) if isinstance(model_unk, str) else None
        self._unk_id = int(unk) if unk is not None else UNK_ID

    @property
    def unk_id(self) -> int:
        """The model's ``[UNK]`` id (100 for BERT's vocabulary)."""
        return self._unk_id

    @property
    def special_ids(self) -> tuple[int, ...]:
        """The ids the post-processor adds around every text: ``(101, 102)``, ``[CLS]`` and ``[SEP]``,
        for BERT's vocabulary (an attribution baseline keeps them: ``explain.baselines.text_baseline``)."""
        empty = self._encoder.encode("", add_special_tokens=False)
        return tuple(dict.fromkeys(int(i) for i in self._encoder.post_process(empty).ids))

    def tokenize(self, text: str) -> tuple[list[str], list[int]]:
        """Tokens and ids of ``text`` without special tokens and without truncation."""
        encoding = self._encoder.encode(text, add_special_tokens=False)
        return list(encoding.tokens), list(encoding.ids)

    def _finish(self, encoding: Any, max_length: int) -> Any:
        """Cut ``encoding`` to leave room for the special tokens, then add them (post-processor)."""
        budget = max_length - self.num_special
        if budget < 1:
            raise ValueError(
                f"max_length must leave room for text beside {self.num_special} special tokens, got {max_length}"
            )
        encoding.truncate(budget)
        return self._encoder.post_process(encoding)

    def encode(self, text: str, max_length: int) -> tuple[list[str], list[int], int]:
        """``[CLS] tokens [SEP]`` (the model's special tokens), at most ``max_length`` in all.

        Returns:
            ``(tokens, ids, num_dropped)``, ``num_dropped`` counting text tokens cut off (the
            special tokens are always kept).

        Raises:
            ValueError: the text gives no token, or ``max_length`` leaves no room for text.
        """
        encoding = self._encoder.encode(text, add_special_tokens=False)
        total = len(encoding.ids)
        if total == 0:
            raise ValueError("the tokenizer found no tokens in this text")
        done = self._finish(encoding, max_length)
        return list(done.tokens), list(done.ids), max(0, total - (max_length - self.num_special))

    def encode_batch(self, texts: list[str], max_length: int) -> list[list[int]]:
        """Ids of many texts with the special tokens, each at most ``max_length`` long."""
        encodings = self._encoder.encode_batch(list(texts), add_special_tokens=False)
        return [list(self._finish(e, max_length).ids) for e in encodings]


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
