"""The tiny encoder-decoder: its tasks, vocabulary, attention maps, training and checkpoints.

The training test trains ``reverse`` with the task's defaults (``TASK_DEFAULTS``) once per
module and checks that the cross-attention learned the alignment a person expects: output
position ``i`` reads source position ``n - 1 - i`` (an anti-diagonal).
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from playground.bundle import CARD_FILE, WEIGHTS_FILE, Bundle, bundle_from_files, load_bundle
from playground.modalities.seq2seq.tasks import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    TASKS,
    Seq2SeqPreprocessing,
    Seq2SeqVocab,
    make_examples,
    preprocessing_for,
    task_lengths,
)
from playground.models import MODELS
from playground.models.seq2seq import Seq2SeqTransformer
from playground.training.seq2seq import TASK_DEFAULTS, train_seq2seq, translate

# -- tasks --------------------------------------------------------------------------------------


def test_each_task_makes_the_right_targets() -> None:
    for source, target in make_examples("reverse", 50, seed=1):
        assert target == source[::-1]
    for source, target in make_examples("sort", 50, seed=2):
        assert target == "".join(sorted(source)) and sorted(target) == sorted(source)
        assert all(a <= b for a, b in itertools.pairwise(target))
    for source, target in make_examples("copy", 50, seed=3):
        assert target == source
    for source, target in make_examples("add", 200, max_length=8, seed=4):
        a, b = source.split("+")
        assert int(target) == int(a) + int(b)
        assert 1 <= len(a) <= 4 and 1 <= len(b) <= 4
        assert (len(a) == 1 or a[0] != "0") and (len(b) == 1 or b[0] != "0")


def test_examples_respect_lengths_alphabet_and_seed() -> None:
    pairs = make_examples("reverse", 300, min_length=2, max_length=5, alphabet="ab", seed=7)
    assert {len(s) for s, _ in pairs} == {2, 3, 4, 5}
    assert set("".join(s for s, _ in pairs)) == {"a", "b"}
    assert pairs == make_examples("reverse", 300, min_length=2, max_length=5, alphabet="ab", seed=7)
    assert pairs != make_examples("reverse", 300, min_length=2, max_length=5, alphabet="ab", seed=8)
    assert task_lengths("add", 8) == (9, 5)  # "9999+9999" -> "19998"
    assert max(len(s) for s, _ in make_examples("add", 500, max_length=8)) <= 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "rotate"}, "unknown task 'rotate'; known tasks: reverse, sort, copy, add"),
        ({"task": "copy", "min_length": 0}, "min_length must be a positive integer"),
        ({"task": "copy", "min_length": 5, "max_length": 4}, "min_length (5) must not exceed max_length (4)"),
        ({"task": "add", "max_length": 1}, "add task needs max_length >= 2"),
        ({"task": "copy", "alphabet": "AB"}, "outside the vocabulary: ['A', 'B']"),
        ({"task": "copy", "n": -1}, "n must be a non-negative integer"),
    ],
)
def test_make_examples_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"n": 3, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        make_examples(kwargs.pop("task"), kwargs.pop("n"), **kwargs)


# -- vocabulary and preprocessing ------------------------------------------------------------------


def test_vocab_ids_and_round_trip() -> None:
    vocab = Seq2SeqVocab()
    assert vocab.tokens[:4] == ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    assert (PAD_ID, BOS_ID, EOS_ID) == (0, 2, 3)
    assert vocab.size == len(vocab.tokens) == 4 + 10 + 26 + 1
    assert vocab.encode("09az+") == [4, 13, 14, 39, 40]
    assert vocab.decode(vocab.encode("hello+42")) == "hello+42"
    assert vocab.decode([BOS_ID, 5, 6, EOS_ID, 7, PAD_ID]) == "12"  # stops at [EOS], skips [BOS]
    assert vocab.decode(torch.tensor([5, PAD_ID, 6])) == "12"
    assert vocab.encode("A1") == [1, 5]  # unknown -> [UNK]
    assert vocab.unknown("a?b!?") == ["?", "!"]
    with pytest.raises(ValueError, match=r"token id 41 is outside the vocabulary \[0, 41\)"):
        vocab.decode([41])
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        Seq2SeqVocab("aba")


def test_preprocessing_encodes_sources_and_batches() -> None:
    pre = preprocessing_for("reverse", 8)
    ids, tokens = pre.encode_source("120")
    assert ids.dtype == torch.int64 and ids.tolist() == [5, 6, 4] and tokens == ["1", "2", "0"]
    src, tgt_in, tgt_out = pre.encode_batch([("12", "21"), ("345", "543")])
    assert src.tolist() == [[5, 6, 0], [7, 8, 9]]
    assert tgt_in.tolist() == [[BOS_ID, 6, 5, 0], [BOS_ID, 9, 8, 7]]
    assert tgt_out.tolist() == [[6, 5, EOS_ID, 0], [9, 8, 7, EOS_ID]]
    chars = (tgt_out[:, :-1] != PAD_ID) & (tgt_out[:, :-1] != EOS_ID)  # teacher forcing: input t+1 = target t
    assert torch.equal(tgt_in[:, 1:][chars], tgt_out[:, :-1][chars])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the source is empty"),
        ("12 3?", r"characters this model does not know: ' ', '\?'"),
        ("123456789", "has 9 characters; this model takes at most 8"),
    ],
)
def test_preprocessing_refuses_bad_sources(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        preprocessing_for("reverse", 8).encode_source(text)


def test_preprocessing_round_trips_through_a_dict() -> None:
    pre = Seq2SeqPreprocessing(Seq2SeqVocab("abc"), 5, 6)
    again = Seq2SeqPreprocessing.from_dict(pre.to_dict(), pre.files())
    assert again == pre and again.vocab_size == 7 and pre.files() == {}
    with pytest.raises(ValueError, match="invalid seq2seq preprocessing entry"):
        Seq2SeqPreprocessing.from_dict({"kind": "seq2seq", "characters": "abc"}, {})


# -- the model ------------------------------------------------------------------------------------


def small_model(**hparams: Any) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    model = MODELS.get("transformer_seq2seq").builder(
        num_classes=41, vocab_size=41, input_size=None, weights=None, **{"d_model": 32, **hparams}
    )
    assert isinstance(model, Seq2SeqTransformer)
    return model.eval()


def test_registry_entry() -> None:
    spec = MODELS.get("transformer_seq2seq")
    assert (spec.family, spec.modality, spec.num_classes) == ("transformer", "seq2seq", 41)
    assert "arxiv.org/abs/1706.03762" in spec.source
    with pytest.raises(ValueError, match="must equal vocab_size"):
        spec.builder(num_classes=41, vocab_size=40)


def test_attention_shapes_rows_and_masks() -> None:
    model = small_model(num_layers=2, num_heads=4)
    pre = preprocessing_for("reverse", 8)
    src, tgt_in, _ = pre.encode_batch([("1234567", "7654321"), ("12", "21")])
    out = model.forward_with_attention(src, tgt_in)
    assert out.logits.shape == (2, 8, 41)
    assert torch.allclose(out.logits, model(src, tgt_in), atol=1e-6)
    assert len(out.attentions) == len(out.decoder_attentions) == len(out.cross_attentions) == 2
    assert out.key_mask is not None and out.key_mask.tolist()[1] == [True, True] + [False] * 5
    for enc, dec, cross in zip(out.attentions, out.decoder_attentions, out.cross_attentions, strict=True):
        assert enc.shape == (2, 4, 7, 7) and dec.shape == (2, 4, 8, 8) and cross.shape == (2, 4, 8, 7)
        for probs in (enc, dec, cross):
            assert torch.allclose(probs.sum(-1), torch.ones(probs.shape[:-1]), atol=1e-5)
        assert torch.equal(dec.triu(1), torch.zeros_like(dec))  # causal: exactly zero above the diagonal
        assert torch.equal(cross[1, :, :, 2:], torch.zeros(4, 8, 5))  # padded source positions get nothing
        assert torch.equal(enc[1, :, :, 2:], torch.zeros(4, 7, 5))
    qk = model.query_key(0)
    x = out.attention_inputs[0]  # (B, S, C)
    q = (x @ qk.w_q.T + qk.b_q).view(2, 7, 4, 8).transpose(1, 2)  # (B, nh, S, hs)
    k = (x @ qk.w_k.T + qk.b_k).view(2, 7, 4, 8).transpose(1, 2)
    scores = (q @ k.transpose(-2, -1)) / qk.head_dim**0.5
    scores = scores.masked_fill(~out.key_mask[:, None, None, :], float("-inf"))
    assert torch.allclose(scores.softmax(-1), out.attentions[0], atol=1e-5)


def test_generate_matches_teacher_forcing_on_its_own_output() -> None:
    model = small_model()
    pre = preprocessing_for("reverse", 8)
    src, _, _ = pre.encode_batch([("1234", "4321"), ("98", "89")])
    generation = model.generate(src, 6)
    t = generation.ids.shape[1]
    assert generation.ids.shape == (2, t) and 1 <= t <= 6
    assert generation.cross_attentions.shape == (2, 2, 4, t, 4)
    assert generation.decoder_attention.shape == (2, 4, t, t)
    tgt_in = torch.cat([torch.full((2, 1), BOS_ID), generation.ids[:, :-1]], dim=1)  # (B, T')
    out = model.forward_with_attention(src, tgt_in)
    assert torch.equal(out.logits[0].argmax(-1), generation.ids[0])
    assert torch.allclose(torch.stack(out.cross_attentions, 1)[0], generation.cross_attention, atol=1e-5)
    with pytest.raises(ValueError, match=r"max_new_tokens must be in \[1, 64\]"):
        model.generate(src, 0)


# -- training -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reverse_bundle() -> Bundle:
    return train_seq2seq("reverse", seed=0)


def anti_diagonal_mass(bundle: Bundle, pairs: list[tuple[str, str]]) -> list[float]:
    """Per decoder layer: mean head-averaged cross-attention on source position ``n - 1 - i``.

    Over real output positions ``i < n`` only (the ``[EOS]`` step is left out).
    """
    assert isinstance(bundle.preprocessing, Seq2SeqPreprocessing) and isinstance(bundle.model, Seq2SeqTransformer)
    src, tgt_in, _ = bundle.preprocessing.encode_batch(pairs)
    with torch.no_grad():
        out = bundle.model.forward_with_attention(src, tgt_in)
    lengths = torch.tensor([len(s) for s, _ in pairs])  # (B,)
    masses = []
    for cross in out.cross_attentions:
        mean = cross.mean(dim=1)  # (B, T, S): averaged over heads
        total = 0.0
        for b, n in enumerate(lengths.tolist()):
            i = torch.arange(n)
            total += float(mean[b, i, n - 1 - i].sum())
        masses.append(total / float(lengths.sum()))
    return masses


@pytest.mark.slow
def test_reverse_learns_and_its_cross_attention_is_the_anti_diagonal(reverse_bundle: Bundle) -> None:
    card = reverse_bundle.card
    assert card.metrics["val_token_accuracy"] >= 0.99
    assert card.metrics["val_sequence_accuracy"] >= 0.9
    assert [r["epoch"] for r in card.history] == list(range(1, TASK_DEFAULTS["reverse"].epochs + 1))
    assert card.history[-1]["train_loss"] < card.history[0]["train_loss"]
    val = make_examples("reverse", 200, seed=12345, alphabet=TASK_DEFAULTS["reverse"].alphabet)
    assert max(anti_diagonal_mass(reverse_bundle, val)) >= 0.8
    result = translate(reverse_bundle, "1234567")
    assert result.output == "7654321" and result.finished
    assert result.output_tokens == [*"7654321", "[EOS]"] and result.source_tokens == list("1234567")
    L, nh = card.hparams["num_layers"], card.hparams["num_heads"]
    assert result.cross_attention.shape == (L, nh, 8, 7) and result.cross_attention.dtype == torch.float32
    assert result.decoder_attention.shape == (L, nh, 8, 8) and result.encoder_attention.shape == (L, nh, 7, 7)


@pytest.mark.slow
def test_trained_bundle_saves_and_loads_with_identical_output(reverse_bundle: Bundle, tmp_path: Path) -> None:
    folder = reverse_bundle.save(tmp_path / "reverse")
    loaded = load_bundle(folder)
    assert loaded.modality == "seq2seq" and loaded.labels == reverse_bundle.labels
    assert loaded.preprocessing == reverse_bundle.preprocessing
    assert loaded.card.metrics == reverse_bundle.card.metrics
    assert isinstance(loaded.model, Seq2SeqTransformer) and isinstance(reverse_bundle.model, Seq2SeqTransformer)
    assert isinstance(reverse_bundle.preprocessing, Seq2SeqPreprocessing)
    src, _, _ = reverse_bundle.preprocessing.encode_batch(make_examples("reverse", 32, seed=5))
    a, b = reverse_bundle.model.generate(src, 9), loaded.model.generate(src, 9)
    assert torch.equal(a.ids, b.ids) and torch.equal(a.cross_attentions, b.cross_attentions)
    assert translate(loaded, "abc123").output == "321cba"

    card = json.loads((folder / CARD_FILE).read_text())
    weights = (folder / WEIGHTS_FILE).read_bytes()
    with pytest.raises(ValueError, match="says vocab_size 40 and num_classes 41 but its vocabulary has 41 tokens"):
        bundle_from_files(json.dumps({**card, "vocab_size": 40}).encode(), weights)
    with pytest.raises(
        ValueError, match="modality must be 'image', 'text', 'sequence', 'seq2seq' or 'audio', got 'video'"
    ):
        bundle_from_files(json.dumps({**card, "modality": "video"}).encode(), weights)


def test_stop_event_ends_training_after_the_current_batch() -> None:
    stop = threading.Event()
    records: list[dict[str, Any]] = []

    def progress(record: dict[str, Any]) -> None:
        records.append(record)
        stop.set()

    before = torch.get_num_threads()
    bundle = train_seq2seq(
        "copy",
        epochs=5,
        num_examples=64,
        batch_size=32,
        seed=1,
        hparams={"d_model": 16},
        on_epoch=progress,
        stop_event=stop,
    )
    assert torch.get_num_threads() == before
    assert [r["epoch"] for r in records] == [1] and len(bundle.card.history) == 1
    assert bundle.card.training["stopped"] and bundle.card.training["epochs_completed"] == 1
    assert set(records[0]) >= {"epoch", "train_loss", "val_token_accuracy", "val_sequence_accuracy", "seconds"}

    stop = threading.Event()
    stop.set()
    bundle = train_seq2seq("copy", epochs=3, num_examples=64, batch_size=32, hparams={"d_model": 16}, stop_event=stop)
    assert bundle.card.history == [] and 0.0 <= bundle.card.metrics["val_token_accuracy"] <= 1.0


class StopAfter(threading.Event):
    """An event that reads as set from its ``n``-th check on (the trainer checks after each batch)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.checks, self.n = 0, n

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks >= self.n


def test_stop_in_the_middle_of_an_epoch_keeps_that_epoch() -> None:
    stop = StopAfter(3)  # checked before epoch 1, then after batches 1 and 2
    bundle = train_seq2seq("copy", epochs=4, num_examples=160, batch_size=32, hparams={"d_model": 16}, stop_event=stop)
    assert stop.checks == 3
    assert len(bundle.card.history) == 1 and bundle.card.history[0]["complete"] is False
    assert bundle.card.training["stopped"] and bundle.card.metrics["val_token_accuracy"] >= 0.0


def test_train_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown task 'rotate'"):
        train_seq2seq("rotate")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train_seq2seq("copy", epochs=0)
    with pytest.raises(ValueError, match=r"unknown hyper-parameters for transformer_seq2seq: \['width'\]"):
        train_seq2seq("copy", hparams={"width": 2})


@pytest.mark.slow
def test_translate_refuses_bad_text(reverse_bundle: Bundle) -> None:
    with pytest.raises(ValueError, match="does not know: 'X'"):
        translate(reverse_bundle, "12X")


def test_every_task_has_defaults() -> None:
    assert set(TASK_DEFAULTS) == set(TASKS)


def test_on_progress_reports_every_batch_of_the_run() -> None:
    calls: list[tuple[int, int, str]] = []
    train_seq2seq(
        "copy",
        epochs=2,
        num_examples=80,
        batch_size=32,
        hparams={"d_model": 16},
        on_progress=lambda done, total, message: calls.append((done, total, message)),
    )
    # 80 pairs in batches of 32: 3 steps per epoch, 6 in all.
    assert [(done, total) for done, total, _ in calls] == [(s, 6) for s in range(1, 7)]
    assert calls[3][2].startswith("epoch 2 · step 4/6 · loss ")
