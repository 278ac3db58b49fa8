"""Text input: cleaning, tokenizers, the text preprocessing and text bundles end to end."""

from __future__ import annotations

import codecs
import json

import pytest
import torch

from playground.bundle import bundle_from_files, create_bundle_from_preprocessing, load_bundle
from playground.data import SequenceDataset, TextDataset, split_dataset
from playground.inspection.predict import predict_sequences, predict_text, predict_texts
from playground.modalities.sequence.preprocessing import SequencePreprocessing
from playground.modalities.text.clean import MAX_TEXT_FILE_BYTES, EmptyTextError, clean_text, decode_text_file
from playground.modalities.text.preprocessing import TOKENIZER_FILE, TextPreprocessing
from playground.modalities.text.tokenizer import PAD_ID, UNK_ID, TextTokenizer, TokenizerOptions, train_tokenizer
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split, tokenizer_options_for, train_config_for

CORPUS = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "the cat chased the mouse",
    "dogs and cats are pets",
    "Tokyo 東京 is a big city",
    "שלום עולם means hello world",
    "we love 👩‍👩‍👧 family emoji",
]


# -- cleaning ------------------------------------------------------------------------------------


def test_clean_text_normalizes_and_drops_control_characters() -> None:
    assert clean_text("  cafe\u0301 \x00\x07 hi\n\tthere  ") == "café hi there"
    assert len(clean_text("cafe\u0301")) == 4  # NFC: one composed code point


@pytest.mark.parametrize("text", ["👩‍👩‍👧 ok", "東京タワー", "שלום עולם", "مرحبا بالعالم", "a\u200fb"])
def test_clean_text_keeps_emoji_cjk_and_right_to_left_text(text: str) -> None:
    assert clean_text(text) == text


@pytest.mark.parametrize("text", ["", "   ", "\n\t \r", "\x00\x01\x02"])
def test_clean_text_refuses_empty_text(text: str) -> None:
    with pytest.raises(EmptyTextError, match="empty"):
        clean_text(text)


def test_clean_text_refuses_non_strings() -> None:
    with pytest.raises(TypeError, match="string"):
        clean_text(b"bytes")  # type: ignore[arg-type]


def test_decode_text_file_reads_utf8_utf16_and_windows_1252() -> None:
    assert decode_text_file("naïve 東京".encode()) == "naïve 東京"
    assert decode_text_file(codecs.BOM_UTF8 + b"hello") == "hello"
    assert decode_text_file("שלום".encode("utf-16")) == "שלום"
    assert decode_text_file("café".encode("cp1252")) == "café"


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"ab\x00cd", "binary"), (b"x" * (MAX_TEXT_FILE_BYTES + 1), "MiB")],
)
def test_decode_text_file_refuses_bad_files(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_text_file(data, "notes.txt")


# -- tokenizers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece", "char"])
def test_tokenizers_reserve_pad_and_unk_and_round_trip_through_json(kind: str) -> None:
    tokenizer = train_tokenizer(CORPUS, TokenizerOptions(kind=kind, vocab_size=200))  # type: ignore[arg-type]
    assert tokenizer.id_to_token(PAD_ID) == "[PAD]"
    assert tokenizer.id_to_token(UNK_ID) == "[UNK]"
    tokens, ids = tokenizer.tokenize("the cat 東京 👩‍👩‍👧")
    assert len(tokens) == len(ids) > 0
    assert PAD_ID not in ids
    again = TextTokenizer.from_json(tokenizer.to_json(), tokenizer.kind)
    assert again.tokenize("the cat 東京") == tokenizer.tokenize("the cat 東京")
    assert again.vocab_size == tokenizer.vocab_size


def test_word_tokenizer_splits_cjk_characters_and_keeps_emoji_sequences() -> None:
    tokenizer = train_tokenizer(CORPUS, TokenizerOptions(kind="word"))
    tokens, ids = tokenizer.tokenize("the cat 東京 👩‍👩‍👧 zebra")
    assert tokens[:4] == ["the", "cat", "東", "京"]
    assert "👩\u200d👩\u200d👧" in tokens  # the joiners survive: one family emoji
    assert ids[-1] == UNK_ID  # never seen in training


def test_char_tokenizer_keeps_case_and_spaces() -> None:
    tokenizer = train_tokenizer(["(()) ()", "Ab"], TokenizerOptions(kind="char", lowercase=False))
    assert tokenizer.tokenize("(A )")[0] == ["(", "A", " ", ")"]


def test_vocab_size_caps_the_vocabulary() -> None:
    assert train_tokenizer(CORPUS, TokenizerOptions(kind="word", vocab_size=10)).vocab_size == 10


@pytest.mark.parametrize(
    "options", [{"kind": "sentencepiece"}, {"vocab_size": 2}, {"max_length": 0}, {"min_frequency": 0}]
)
def test_tokenizer_options_are_checked(options: dict) -> None:
    with pytest.raises(ValueError):
        TokenizerOptions(**options)


def test_from_json_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        TextTokenizer.from_json("{not json", "word")


# -- text preprocessing --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_pre() -> TextPreprocessing:
    return TextPreprocessing(train_tokenizer(CORPUS, TokenizerOptions(kind="word")), max_length=5)


def test_encode_truncates_and_counts_the_dropped_tokens(text_pre: TextPreprocessing) -> None:
    encoded = text_pre.encode("the cat sat on the mat and the dog")
    assert encoded.tokens == ["the", "cat", "sat", "on", "the"]
    assert encoded.num_dropped == 4 and encoded.truncated
    assert encoded.ids.dtype == torch.int64 and encoded.ids.shape == (5,)
    assert text_pre.tokens_of(encoded.ids) == encoded.tokens


def test_encode_refuses_empty_text(text_pre: TextPreprocessing) -> None:
    with pytest.raises(EmptyTextError):
        text_pre.encode(" \n ")


def test_encode_batch_right_pads_with_zeros(text_pre: TextPreprocessing) -> None:
    ids, lengths = text_pre.encode_batch(["the cat", "a dog ran in the park today"])
    assert ids.shape == (2, 5) and lengths.tolist() == [2, 5]
    assert ids[0, 2:].tolist() == [PAD_ID] * 3
    assert (ids[1] != PAD_ID).all()


# -- numeric sequences ---------------------------------------------------------------------------


def test_sequence_preprocessing_standardizes_per_feature() -> None:
    values = torch.randn(50, 20, 3) * torch.tensor([1.0, 10.0, 0.1]) + torch.tensor([5.0, -3.0, 0.0])
    pre = SequencePreprocessing.fit(values)
    out = pre.normalize(values).reshape(-1, 3)  # (N*T, F)
    assert torch.allclose(out.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(out.std(0, unbiased=False), torch.ones(3), atol=1e-4)
    assert SequencePreprocessing.from_dict(pre.to_dict()) == pre
    with pytest.raises(ValueError, match="3 features"):
        pre.normalize(torch.zeros(2, 20, 4))


# -- bundles, training, prediction ---------------------------------------------------------------


def _toy_text_dataset(n: int = 200) -> TextDataset:
    """'good' texts mention good words, 'bad' texts bad ones: learnable in a few epochs."""
    gen = torch.Generator().manual_seed(0)
    good, bad, filler = ["great", "lovely", "superb"], ["awful", "poor", "terrible"], ["the", "film", "was", "plot"]
    texts, targets = [], []
    for i in range(n):
        label = i % 2
        words = [filler[int(j)] for j in torch.randint(0, len(filler), (6,), generator=gen)]
        key = (bad if label else good)[int(torch.randint(0, 3, (1,), generator=gen))]
        words.insert(int(torch.randint(0, 6, (1,), generator=gen)), key)
        texts.append(" ".join(words))
        targets.append(label)
    return TextDataset("toy_reviews", texts, torch.tensor(targets), ["positive", "negative"])


@pytest.mark.parametrize("architecture", ["rnn", "lstm", "gru"])
def test_a_text_model_learns_a_toy_task_saves_and_reloads(architecture: str, tmp_path) -> None:
    data = _toy_text_dataset()
    split = split_dataset(data, 0.2, 0)
    bundle = bundle_for_split(architecture, split, tokenizer=TokenizerOptions(kind="word", max_length=16))
    assert bundle.modality == "text" and bundle.card.vocab_size == bundle.preprocessing.vocab_size
    result = train(bundle, split, TrainConfig(epochs=8, lr=1e-2, batch_size=16))
    assert result.metrics["val_accuracy"] >= 0.9
    folder = bundle.save(tmp_path / "run")
    assert (folder / TOKENIZER_FILE).is_file()
    again = load_bundle(folder)
    text = "the plot was superb"
    assert again.modality == "text"
    assert torch.allclose(predict_text(again, text).prediction.probs, predict_text(bundle, text).prediction.probs)
    assert predict_text(again, text).prediction.label == "positive"
    assert predict_text(again, "the plot was terrible").prediction.label == "negative"


def test_a_text_checkpoint_without_its_tokenizer_is_refused(tmp_path) -> None:
    data = _toy_text_dataset(40)
    bundle = bundle_for_split("gru", split_dataset(data, 0.2, 0))
    folder = bundle.save(tmp_path / "run")
    card, weights = (folder / "card.json").read_bytes(), (folder / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match=TOKENIZER_FILE):
        bundle_from_files(card, weights)
    raw = json.loads(card)
    raw["vocab_size"] = 3
    with pytest.raises(ValueError, match="vocab_size"):
        bundle_from_files(
            json.dumps(raw).encode(), weights, files={TOKENIZER_FILE: (folder / TOKENIZER_FILE).read_bytes()}
        )


def test_batch_text_prediction_matches_one_by_one_and_names_the_bad_row() -> None:
    data = _toy_text_dataset(40)
    bundle = bundle_for_split("lstm", split_dataset(data, 0.2, 0))
    texts = ["the film was great", "awful", "the plot the plot the plot was poor"]
    batch = predict_texts(bundle, texts)
    for text, got in zip(texts, batch, strict=True):
        assert torch.allclose(got.prediction.probs, predict_text(bundle, text).prediction.probs, atol=1e-6)
    with pytest.raises(ValueError, match="text 2 of 3"):
        predict_texts(bundle, ["fine", "   ", "ok"])


def test_an_image_model_refuses_text_and_a_text_model_refuses_image_data() -> None:
    data = _toy_text_dataset(40)
    with pytest.raises(ValueError, match="takes image"):
        bundle_for_split("lenet5", split_dataset(data, 0.2, 0))
    text_bundle = bundle_for_split("lstm", split_dataset(data, 0.2, 0))
    with pytest.raises(ValueError, match="image model"):
        _ = text_bundle.image_preprocessing


def test_a_sequence_model_learns_waves_of_two_kinds(tmp_path) -> None:
    t = torch.linspace(0, 6.28, 30)
    gen = torch.Generator().manual_seed(0)
    phase = torch.rand(120, 1, generator=gen) * 6.28
    sine = torch.sin(t + phase)  # (60, T)
    square = torch.sign(torch.sin(t + phase))
    values = torch.cat([sine[:60], square[60:]]).unsqueeze(-1) + 0.1 * torch.randn(120, 30, 1, generator=gen)
    data = SequenceDataset("two_waves", values, torch.tensor([0] * 60 + [1] * 60), ["sine", "square"])
    split = split_dataset(data, 0.25, 0)
    bundle = bundle_for_split("gru", split, hparams={"hidden_size": 16})
    assert bundle.modality == "sequence" and bundle.card.input_size == 1
    result = train(bundle, split, TrainConfig(epochs=15, lr=1e-2, batch_size=16))
    assert result.metrics["val_accuracy"] >= 0.9
    again = load_bundle(bundle.save(tmp_path / "seq"))
    assert [p.label for p in predict_sequences(again, values[:2])] == [
        p.label for p in predict_sequences(bundle, values[:2])
    ]


def test_create_bundle_from_preprocessing_checks_the_architecture() -> None:
    pre = SequencePreprocessing.fit(torch.randn(4, 5, 2))
    with pytest.raises(ValueError, match="takes image"):
        create_bundle_from_preprocessing("resnet18", pre, ["a", "b"])
    with pytest.raises(ValueError, match="unknown hyper-parameters"):
        create_bundle_from_preprocessing("lstm", pre, ["a", "b"], hparams={"heads": 2})


def test_dataset_defaults_fill_in_what_was_not_given() -> None:
    assert train_config_for("no_such_dataset", epochs=None, lr=0.5) == TrainConfig(lr=0.5)
    assert tokenizer_options_for("no_such_dataset", kind="char").kind == "char"
    with pytest.raises(ValueError, match="unknown training settings"):
        train_config_for("no_such_dataset", epochz=3)


def test_a_dataset_s_model_defaults_apply_unless_given() -> None:
    from playground.data import load_dataset
    from playground.training.setup import model_hparams_for

    assert model_hparams_for("parity", "lstm")["pooling"] == "last"
    assert model_hparams_for("parity", "lstm", pooling="mean")["pooling"] == "mean"
    assert model_hparams_for("parity", "lenet5") == model_hparams_for("mnist", "lenet5")  # no pooling there
    split = split_dataset(load_dataset("parity", n=40), 0.25, 0)
    assert bundle_for_split("gru", split).model.pooling == "last"
    assert bundle_for_split("gru", split, hparams={"pooling": "max"}).model.pooling == "max"


def test_training_a_recurrent_model_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    data = _toy_text_dataset(40)
    split = split_dataset(data, 0.2, 0)
    train(bundle_for_split("rnn", split), split, TrainConfig(epochs=1, device="cpu"))
    assert torch.get_num_threads() == before
