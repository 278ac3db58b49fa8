"""The word-level text attack (TextFooler-style) flips a trained LSTM within its budget, and stays honest."""

from __future__ import annotations

import pytest
import torch

from playground.bundle import Bundle
from playground.data import TextDataset, split_dataset
from playground.inspection.predict import predict_text, text_probabilities
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.robustness.text_attack import split_words, typo_candidates, word_attack
from playground.robustness.word_neighbours import minilm_word_space, stop_words
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split

GOOD, BAD = ["good", "great", "excellent"], ["bad", "awful", "terrible"]
FILLER = ["the", "film", "plot", "acting", "story", "music"]


def reviews(n: int = 240, seed: int = 0) -> tuple[list[str], list[int]]:
    """Seven-word texts with one good (class 1) or bad (class 0) word among six neutral ones."""
    gen = torch.Generator().manual_seed(seed)
    texts, labels = [], []
    for i in range(n):
        words = [FILLER[int(j)] for j in torch.randint(0, len(FILLER), (6,), generator=gen)]
        key = (BAD if i % 2 else GOOD)[int(torch.randint(0, 3, (1,), generator=gen))]
        words.insert(int(torch.randint(0, 7, (1,), generator=gen)), key)
        texts.append(" ".join(words))
        labels.append(0 if i % 2 else 1)
    return texts, labels


def trained_reviews_lstm() -> Bundle:
    """An LSTM (word tokenizer) trained on :func:`reviews` to >= 0.95 validation accuracy (~2 s)."""
    texts, labels = reviews()
    split = split_dataset(TextDataset("reviews", texts, torch.tensor(labels), ["negative", "positive"]), 0.2, 0)
    torch.manual_seed(0)
    bundle = bundle_for_split("lstm", split, tokenizer=TokenizerOptions(kind="word", max_length=16))
    assert train(bundle, split, TrainConfig(epochs=12, lr=1e-2, batch_size=16)).metrics["val_accuracy"] >= 0.95
    return bundle


@pytest.fixture(scope="module")
def lstm() -> Bundle:
    return trained_reviews_lstm()


def test_the_attack_flips_a_trained_lstm_within_its_budget(lstm: Bundle) -> None:
    text = "The acting was good, and the music too."
    assert predict_text(lstm, text).prediction.top_k[0].label == "positive"  # classified right
    result = word_attack(lstm, text, max_queries=100)
    assert result.success and result.target == 1 and result.queries <= 100
    assert result.changes[0].original == "good"  # the word that mattered
    assert len(result.changes) <= max(1, int(0.3 * result.words))
    assert result.adversarial != text and result.original == text
    probs = text_probabilities(lstm, [result.adversarial])[0]
    assert torch.allclose(probs, result.adversarial_probs, atol=1e-6) and int(probs.argmax()) == 0  # it does flip
    change = result.changes[0]
    assert change.similarity is not None and change.similarity >= 0.5
    assert change.replacement.lower() not in stop_words()


def test_the_budget_stops_it_and_char_mode_uses_typos(lstm: Bundle) -> None:
    text = "the plot was great and the story was excellent"
    tight = word_attack(lstm, text, max_queries=3)
    assert tight.queries <= 3 and not tight.changes  # ranking alone needs more: nothing changed
    typos = word_attack(lstm, text, mode="char", max_queries=60)
    assert typos.queries <= 60 and all(c.similarity is None for c in typos.changes)
    for change in typos.changes:
        assert change.replacement in typo_candidates(change.original)


def test_nothing_to_attack_is_refused_and_the_marked_text_is_escaped(lstm: Bundle) -> None:
    with pytest.raises(ValueError, match="none of these words"):
        word_attack(lstm, "zyxx qwvv blorp")  # every token [UNK]
    with pytest.raises(ValueError, match="no words"):
        word_attack(lstm, "!!! ...")
    hostile = "<img src=x onerror=alert(1)> good film"
    result = word_attack(lstm, hostile, max_queries=50)
    marked = result.marked_html()
    assert "<img" not in marked and "&lt;img" in marked
    if result.changes:
        assert f"<mark>{result.changes[0].replacement}</mark>" in marked


def test_words_and_neighbours() -> None:
    assert split_words("It's great!") == ["It", "'", "s", " ", "great", "!"]
    assert "".join(split_words("a  b,c 42")) == "a  b,c 42"
    space = minilm_word_space()
    near = dict(space.neighbours("terrible", 5, 0.5))
    assert "horrible" in near and all(v >= 0.5 for v in near.values())
    assert space.neighbours("Terrible", 1, 0.5)[0][0] == "Horrible"  # the case follows the word
    assert space.neighbours("the") == [] and space.neighbours("qwzxv") == []  # a stop word; an unknown word
    word = typo_candidates("word")  # inner letters swapped, dropped; then look-alikes (first and last kept)
    assert word[:3] == ["wrod", "wrd", "wod"] and word[3] == "w\u043erd" and "word" not in word
    assert typo_candidates("good") == ["god", "g\u043eod", "go\u043ed"]  # the swap of "oo" changes nothing
