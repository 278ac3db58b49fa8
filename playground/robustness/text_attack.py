"""A greedy word-level (or character-level) attack on a text classifier, TextFooler-style.

Jin et al. 2020, "Is BERT Really Robust? A Strong Baseline for Natural Language Attack on Text
Classification and Entailment", https://arxiv.org/abs/1907.11932, Algorithm 1, without its
sentence-encoder check:

1. **Rank the words** by how much deleting each one lowers the probability of the attacked class
   (one query per word).
2. **Replace them greedily**, most important first: ``mode="word"`` tries the word's neighbours in
   an embedding space (:mod:`playground.robustness.word_neighbours`: no stop words, a similarity
   floor); ``mode="char"`` tries typos (two letters swapped, one dropped) and homoglyphs (a Latin letter
   swapped for its Cyrillic / Greek look-alike, TextBugger, Li et al. 2019,
   https://arxiv.org/abs/1812.05271), for character and sub-word tokenizers. The candidate that lowers
   the class's probability most is kept, if it lowers it at all.
3. **Stop** at the first flip (the model's answer is no longer the attacked class), when a share
   ``max_changed`` of the words has changed, or when the query budget is spent.

Every query is a forward pass of the model on a batch of texts (``text_probabilities``); nothing
needs gradients, so any text model can be attacked, pretrained or trained here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

from playground.inspection.predict import text_probabilities
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.robustness.perturbations.text import HOMOGLYPHS
from playground.robustness.word_neighbours import WordSpace, minilm_word_space, stop_words

if TYPE_CHECKING:
    from playground.bundle import Bundle

AttackMode = Literal["word", "char"]
_TOKEN = re.compile(r"[^\W\d_]+|[^\w]+|\w+")  # words of letters, runs of other characters, other word runs


@dataclass(frozen=True)
class WordChange:
    """One word the attack replaced.

    Attributes:
        position: index of the word in :attr:`TextAttackResult.pieces`.
        original: the word in the original text.
        replacement: what it became.
        similarity: cosine similarity of the two in the word space (``mode="word"``); ``None`` for typos.
    """

    position: int
    original: str
    replacement: str
    similarity: float | None


@dataclass(frozen=True)
class TextAttackResult:
    """What the attack did.

    Attributes:
        pieces: the original text cut into words and the runs between them (``"".join`` is the text).
        adversarial_pieces: the same with the changed words replaced.
        changes: the replacements, in the order they were made.
        target: the attacked class (the model's answer on the original text).
        original_probs: ``(K,)`` probabilities on the original text.
        adversarial_probs: ``(K,)`` probabilities on the adversarial text.
        queries: texts the model classified (the budget counts these).
        words: words in the text (the share of changed words is ``len(changes) / words``).
        mode: ``"word"`` or ``"char"``.
    """

    pieces: list[str]
    adversarial_pieces: list[str]
    changes: tuple[WordChange, ...]
    target: int
    original_probs: torch.Tensor
    adversarial_probs: torch.Tensor
    queries: int
    words: int
    mode: AttackMode

    @property
    def original(self) -> str:
        return "".join(self.pieces)

    @property
    def adversarial(self) -> str:
        return "".join(self.adversarial_pieces)

    @property
    def success(self) -> bool:
        """Whether the model's answer on the adversarial text is another class."""
        return int(self.adversarial_probs.argmax()) != self.target

    def marked_html(self, adversarial: bool = True) -> str:
        """The adversarial (or original) text as HTML, changed words in ``<mark>``; everything escaped."""
        pieces = self.adversarial_pieces if adversarial else self.pieces
        changed = {c.position for c in self.changes}
        return "".join(
            f"<mark>{html.escape(p, quote=True)}</mark>" if i in changed else html.escape(p, quote=True)
            for i, p in enumerate(pieces)
        )


def split_words(text: str) -> list[str]:
    """``"It's great!"`` -> ``["It", "'", "s", " ", "great", "!"]``: words of letters and the runs
    between them; ``"".join`` gives the text back."""
    return _TOKEN.findall(text)


def _is_word(piece: str) -> bool:
    return piece.isalpha()


def typo_candidates(word: str) -> list[str]:
    """Character edits of ``word``: each pair of neighbouring inner letters swapped, each inner letter
    dropped, each letter with a look-alike swapped for it (first and last letters kept, as people
    read words by them); distinct, the word itself left out."""
    out: list[str] = []
    inner = range(1, len(word) - 1)
    out += [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in inner if i + 1 < len(word) - 1]
    out += [word[:i] + word[i + 1 :] for i in inner]
    out += [word[:i] + HOMOGLYPHS[ch] + word[i + 1 :] for i, ch in enumerate(word) if ch in HOMOGLYPHS]
    return [c for c in dict.fromkeys(out) if c != word]


def word_attack(
    bundle: Bundle,
    text: str,
    *,
    mode: AttackMode = "word",
    max_queries: int = 500,
    max_changed: float = 0.3,
    neighbours: int = 8,
    floor: float = 0.5,
    space: WordSpace | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> TextAttackResult:
    """Attack the model's answer on ``text`` (see the module docstring for the steps).

    Args:
        bundle: a text classifier.
        text: what a person typed (cleaned and truncated by the model's tokenizer at each query).
        mode: ``"word"`` (embedding neighbours) or ``"char"`` (typos and homoglyphs).
        max_queries: the query budget, >= 1 (the ranking step alone takes one per word).
        max_changed: the largest share of the words that may change, in (0, 1].
        neighbours: candidates tried per word (``mode="word"``).
        floor: the lowest cosine similarity of a replacement (``mode="word"``), in [-1, 1].
        space: the word space (default MiniLM's, :func:`~playground.robustness.word_neighbours.minilm_word_space`).
        on_progress: called as ``on_progress(queries, max_queries, message)``.

    Returns:
        A :class:`TextAttackResult`; ``success`` says whether the answer flipped.

    Raises:
        ValueError: not a text model, an empty text, a text with no word the model knows (all
            ``[UNK]``: nothing to attack), or bad settings.
    """
    if mode not in ("word", "char"):
        raise ValueError(f"mode must be 'word' or 'char', got {mode!r}")
    if max_queries < 1 or not 0 < max_changed <= 1 or neighbours < 1 or not -1 <= floor <= 1:
        raise ValueError("expected max_queries >= 1, 0 < max_changed <= 1, neighbours >= 1 and -1 <= floor <= 1")
    pieces = split_words(text)
    positions = [i for i, p in enumerate(pieces) if _is_word(p)]
    if not positions:
        raise ValueError("the text has no words to attack")
    pre = bundle.preprocessing
    if not isinstance(pre, TextPreprocessing):
        raise ValueError(f"this needs a text model, but {bundle.title} takes {bundle.modality} input")
    if pre.unknown_fraction(pre.encode(text)) >= 1.0:
        raise ValueError("the model knows none of these words (every token is [UNK]): there is nothing to attack")
    queries = 0

    def ask(texts: list[str]) -> torch.Tensor:  # (B, K)
        nonlocal queries
        queries += len(texts)
        if on_progress is not None:
            on_progress(min(queries, max_queries), max_queries, f"{queries} queries")
        return text_probabilities(bundle, texts)

    original_probs = ask([text])[0]
    target = int(original_probs.argmax())
    current = list(pieces)
    current_p = float(original_probs[target])
    # 1. importance: the drop of the target's probability when the word is deleted
    stops = stop_words()
    ranked = [i for i in positions if pieces[i].lower() not in stops and len(pieces[i]) >= 2]
    if ranked and queries + len(ranked) <= max_queries:
        deleted = ["".join(p for j, p in enumerate(pieces) if j != i) or " " for i in ranked]
        drops = current_p - ask(deleted)[:, target]  # (n,)
        ranked = [ranked[int(k)] for k in drops.argsort(descending=True)]
    # 2. greedy replacement
    word_space = (space or minilm_word_space()) if mode == "word" else None
    changes: list[WordChange] = []
    limit = max(1, int(max_changed * len(positions)))
    adversarial_probs = original_probs
    for i in ranked:
        if len(changes) >= limit or queries >= max_queries:
            break
        word = pieces[i]
        options: list[tuple[str, float | None]] = (
            list(word_space.neighbours(word, neighbours, floor))
            if word_space is not None
            else [(c, None) for c in typo_candidates(word)]
        )
        options = options[: max_queries - queries]
        if not options:
            continue
        trials = ["".join([*current[:i], c, *current[i + 1 :]]) for c, _ in options]
        probs = ask(trials)  # (n, K)
        best = int(probs[:, target].argmin())
        if float(probs[best, target]) >= current_p:
            continue  # no candidate helps: keep the word
        replacement, similarity = options[best]
        current[i] = replacement
        current_p = float(probs[best, target])
        adversarial_probs = probs[best]
        changes.append(WordChange(i, word, replacement, similarity))
        if int(adversarial_probs.argmax()) != target:
            break
    return TextAttackResult(
        pieces=pieces,
        adversarial_pieces=current,
        changes=tuple(changes),
        target=target,
        original_probs=original_probs,
        adversarial_probs=adversarial_probs,
        queries=queries,
        words=len(positions),
        mode=mode,
    )
