"""The bundle: the unit every page shares.

A :class:`Bundle` holds the ``nn.Module``, its preprocessing (images:
:class:`~playground.modalities.image.preprocessing.Preprocessing`; text: ``TextPreprocessing`` with its tokenizer;
numeric sequences: ``SequencePreprocessing``), its class labels and a :class:`ModelCard`
(architecture, config, source, training data, metrics, history). On disk it is a folder with
``model.safetensors`` and ``card.json`` (plus ``tokenizer.json`` for text models); pages never need
to know whether it came from a built-in architecture, torchvision, a package that ships weights, a
training run or an upload.

Nothing here unpickles what a user gave: weights are read with ``safetensors`` or with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import datetime as _dt
import errno
import io
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file
from torch import nn

from playground.core.modality import MODALITIES, InputPreprocessing, checkpoint_files
from playground.core.processes import pid_alive
from playground.modalities.image.preprocessing import Preprocessing
from playground.models import MODELS, ModelSpec
from playground.models.adapt import classifier_head

CARD_FILE = "card.json"
WEIGHTS_FILE = "model.safetensors"
CARD_VERSION = 1
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024  # uploads larger than 512 MiB are refused
MAX_JSON_BYTES = 16 * 1024 * 1024  # card.json, tokenizer.json (a 50,000-token BPE tokenizer is ~3 MiB)


def checkpoint_file_names() -> tuple[str, ...]:
    """All a checkpoint folder may hold: the card, the weights and every modality's extra files."""
    return (CARD_FILE, WEIGHTS_FILE, *checkpoint_files())


@dataclass
class ModelCard:
    """What a bundle is and where it came from (stored as ``card.json``).

    Attributes:
        architecture: registry name of the model, e.g. ``"lenet5"``.
        num_classes: number of outputs.
        in_channels: input channels (1 or 3); images only.
        image_size: input side in pixels; images only.
        modality: a registered modality (``playground.core.modality.MODALITIES``): ``"image"``,
            ``"text"`` (token ids in), ``"sequence"`` (numeric ``(T, F)`` in), ``"seq2seq"`` or a plug-in's.
        vocab_size: token ids the embedding takes; text only.
        input_size: features per time step; numeric sequences only.
        weights: pretrained weights loaded at build time (``"imagenet"``) or ``None``.
        hparams: hyper-parameters passed to the builder.
        source: paper / article section of the architecture.
        dataset: name of the training data, if trained here.
        training: training configuration (optimizer, lr, epochs, ...), if trained here.
        metrics: final metrics, e.g. ``{"val_accuracy": 0.97}``.
        history: per-epoch records (``{"epoch": 1, "train_loss": ..., ...}``).
        created: ISO-8601 UTC timestamp.
        title: a short human name for the sidebar.
    """

    architecture: str
    num_classes: int
    in_channels: int | None = None
    image_size: int | None = None
    modality: str = "image"
    vocab_size: int | None = None
    input_size: int | None = None
    weights: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    dataset: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    title: str = ""


@dataclass
class Bundle:
    """A model with everything needed to feed it and read its output.

    Attributes:
        model: maps the model input to ``(B, num_classes)`` logits. The input is normalized
            ``(B, C, H, W)`` float32 for images, ``(B, T)`` int64 token ids (right-padded with 0)
            for text, ``(B, T, F)`` float32 standardized values for numeric sequences.
        preprocessing: how raw inputs become that input (and, for images, back).
        labels: ``num_classes`` class names, index-aligned with the logits.
        card: description and provenance.
    """

    model: nn.Module
    preprocessing: InputPreprocessing
    labels: list[str]
    card: ModelCard

    def __post_init__(self) -> None:
        if len(self.labels) != self.card.num_classes:
            raise ValueError(f"expected {self.card.num_classes} labels, got {len(self.labels)}")

    @property
    def modality(self) -> str:
        """The registered modality of what the model takes (``"image"``, ``"text"``, ...)."""
        return self.card.modality

    @property
    def image_preprocessing(self) -> Preprocessing:
        """The image preprocessing, for code that works on images only.

        Raises:
            ValueError: if this is not an image model (the message names what it takes).
        """
        if not isinstance(self.preprocessing, Preprocessing):
            raise ValueError(f"this needs an image model, but {self.title} takes {self.modality} input")
        return self.preprocessing

    @property
    def title(self) -> str:
        """A short display name, e.g. ``"lenet5 · mnist"``."""
        if self.card.title:
            return self.card.title
        suffix = self.card.dataset or self.card.weights
        return f"{self.card.architecture} · {suffix}" if suffix else self.card.architecture

    @property
    def num_parameters(self) -> int:
        """Total number of parameters (trainable or not)."""
        return sum(p.numel() for p in self.model.parameters())

    def save(self, folder: str | Path, *, head_only: bool = False) -> Path:
        """Write ``model.safetensors``, ``card.json`` (and ``tokenizer.json``) into ``folder``, atomically.

        ``head_only``: write only the classifier head's weights (the last ``nn.Linear``), for a model
        whose other weights are still the pretrained ones its card names (``card.weights``, e.g. a
        MiniLM head trained on frozen embeddings: kilobytes instead of 90 MB); loading builds the
        pretrained model first and puts the head on it (the card records ``head_only``).

        The files are written to a temporary sibling folder that then replaces ``folder`` by a
        rename, so an interrupted save never leaves a half-written checkpoint.

        Only an existing checkpoint folder (nothing but the files of :func:`checkpoint_file_names`)
        is ever replaced; anything else at ``folder`` is left alone.

        Returns:
            The folder's path.

        Raises:
            ValueError: if ``folder`` is a file, or a folder that holds anything but a checkpoint.
            OSError: the disk is full (``errno.ENOSPC``, saying so; the previous checkpoint is
                kept), or another write error.
        """
        folder = Path(folder)
        if folder.is_file() or folder.is_symlink():
            raise ValueError(f"{folder} is a file; give a new folder name for the checkpoint")
        if folder.is_dir():
            allowed = checkpoint_file_names()
            extra = sorted(p.name for p in folder.iterdir() if p.name not in allowed)
            if extra:
                raise ValueError(
                    f"{folder} already exists and holds other files ({', '.join(extra[:3])}); "
                    "a checkpoint only replaces an earlier checkpoint: give a new folder name"
                )
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / _partial_name(folder.name, "tmp")
        tmp.mkdir()
        try:
            # safetensors refuses shared / non-contiguous storage: clone each tensor.
            state = {k: v.detach().to("cpu").contiguous().clone() for k, v in self.model.state_dict().items()}
            if head_only:
                if self.card.weights is None:
                    raise ValueError("head_only needs a model that starts from pretrained weights (card.weights)")
                head_name, _ = classifier_head(self.model)
                state = {k: v for k, v in state.items() if k.startswith(head_name + ".")}
            save_file(state, str(tmp / WEIGHTS_FILE))
            card = {
                "version": CARD_VERSION,
                **asdict(self.card),
                "labels": self.labels,
                "preprocessing": self.preprocessing.to_dict(),
                **({"head_only": True} if head_only else {}),
            }
            (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, default=_json_default))
            for name, data in self.preprocessing.files().items():
                (tmp / name).write_bytes(data)
            if folder.exists():
                old = folder.parent / _partial_name(folder.name, "old")
                os.replace(folder, old)
                os.replace(tmp, folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, folder)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            kept = "the previous checkpoint is kept" if folder.exists() else "nothing was saved"
            raise OSError(errno.ENOSPC, f"no space left on the disk to save {folder}; {kept}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return folder


def _partial_name(name: str, kind: str) -> str:
    """``.<name>.<kind>-<pid>-<random>``: a save's temporary sibling, named by the process that writes it."""
    return f".{name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def recover_interrupted_saves(parent: Path) -> list[str]:
    """Finish what saves into ``parent`` left when their process died (kill -9, a crash, a power cut).

    :meth:`Bundle.save` writes ``.<name>.tmp-<pid>-*`` and, when it replaces a checkpoint, moves the
    previous one to ``.<name>.old-<pid>-*`` for the moment between two renames. For each such folder
    whose process is gone: a ``tmp`` is deleted (the save never finished); an ``old`` is moved back
    to ``<name>`` when the process died between the renames (the previous checkpoint is the good
    one), else deleted. Folders of live processes are left alone: their saves are still running.

    Returns:
        What was done, one line per folder (``"removed .x.tmp-…"``, ``"restored x"``).
    """
    parent = Path(parent)
    done: list[str] = []
    for partial in sorted(parent.glob(".*.tmp-*")) + sorted(parent.glob(".*.old-*")):
        name, kind, writer = _parse_partial(partial.name)
        if name is None or not partial.is_dir() or (writer is not None and pid_alive(writer)):
            continue
        target = parent / name
        if kind == "old" and not target.exists():
            os.replace(partial, target)
            done.append(f"restored {name}")
        else:
            shutil.rmtree(partial, ignore_errors=True)
            done.append(f"removed {partial.name}")
    return done


def _parse_partial(filename: str) -> tuple[str | None, str, int | None]:
    """(checkpoint name, "tmp" | "old", writer's pid or None for the older pid-less names) of a save's sibling."""
    for kind in ("tmp", "old"):
        head, sep, tail = filename.rpartition(f".{kind}-")
        if sep and head.startswith(".") and len(head) > 1:
            pid = tail.split("-", 1)[0]
            return head[1:], kind, int(pid) if "-" in tail and pid.isdigit() else None
    return None, "", None


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in card.json")


def create_bundle(
    architecture: str,
    *,
    num_classes: int | None = None,
    in_channels: int | None = None,
    image_size: int | None = None,
    weights: str | None = "default",
    labels: list[str] | None = None,
    hparams: dict[str, Any] | None = None,
    weights_file: str | Path | None = None,
) -> Bundle:
    """Build a registered architecture into a bundle.

    Args:
        architecture: registry name (see ``python -m playground models``).
        num_classes: outputs; defaults to the entry's (e.g. 1000 for ImageNet weights).
        in_channels: 1 or 3; defaults to the entry's.
        image_size: input side in pixels; defaults to the entry's.
        weights: ``"default"`` for the entry's default weights, ``None`` for random init, or a
            name from the entry's ``weights``. With a head of another size than the pretrained one,
            the backbone keeps its weights and the head is new (fine-tuning).
        labels: class names; default: the weights' labels, else ``"0"``, ``"1"``, ...
        hparams: builder hyper-parameters overriding the entry's defaults.
        weights_file: a local ``.safetensors`` / ``.pt`` / ``.pth`` state dict to load afterwards.

    Raises:
        ValueError: unknown architecture, bad sizes, unknown hyper-parameter or weights.
        WeightsUnavailableError: pretrained weights cannot be had offline.
    """
    spec: ModelSpec = MODELS.get(architecture)
    if spec.text_preprocessing is not None:  # a pretrained text transformer (minilm, ...): its own tokenizer
        from playground.bundle.hf import pretrained_text_bundle  # here: importing transformers is slow

        bundle = pretrained_text_bundle(architecture, num_classes=num_classes, labels=labels, hparams=hparams)
        if weights_file is not None:
            path = Path(weights_file)
            load_weights(bundle.model, path.read_bytes(), path.name)
        return bundle
    if not spec.accepts("image"):
        # A text model's embedding is sized by a tokenizer trained on data, a sequence model's first
        # layer by the data's features, a seq2seq model's by its task's characters: train it first.
        raise ValueError(
            f"{architecture} takes {' or '.join(spec.inputs or (spec.modality,))} input and is sized by its training "
            f"data: train it first (python -m playground train --model {architecture} --dataset ...) and use the "
            "checkpoint folder"
        )
    if weights == "default":
        weights = spec.default_weights
    if weights is not None and weights not in spec.weights:
        known = ", ".join(spec.weights) or "none"
        raise ValueError(f"{architecture} has no weights {weights!r}; available: {known}")
    pretrained_labels = spec.labels() if (weights is not None and spec.labels is not None) else None
    if num_classes is None:
        num_classes = len(pretrained_labels) if pretrained_labels else spec.num_classes
    in_channels = spec.in_channels if in_channels is None else in_channels
    image_size = spec.image_size if image_size is None else image_size
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    if image_size < spec.min_image_size:
        raise ValueError(f"{architecture} needs inputs of at least {spec.min_image_size} px, got {image_size}")
    merged = {**spec.defaults, **(hparams or {})}
    unknown = set(merged) - set(spec.defaults)
    if unknown:
        raise ValueError(
            f"unknown hyper-parameters for {architecture}: {sorted(unknown)}; known: {sorted(spec.defaults)}"
        )
    model = spec.builder(
        num_classes=num_classes, in_channels=in_channels, image_size=image_size, weights=weights, **merged
    )
    if labels is None:
        if pretrained_labels and len(pretrained_labels) == num_classes:
            labels = list(pretrained_labels)
        else:
            labels = [str(i) for i in range(num_classes)]
    card = ModelCard(
        architecture=architecture,
        num_classes=num_classes,
        in_channels=in_channels,
        image_size=image_size,
        weights=weights,
        hparams=merged,
        source=spec.source,
    )
    bundle = Bundle(model.eval(), spec.preprocessing(in_channels, image_size, weights), list(labels), card)
    if weights_file is not None:
        path = Path(weights_file)
        load_weights(bundle.model, path.read_bytes(), path.name)
    return bundle


def read_state_dict(data: bytes, filename: str) -> dict[str, torch.Tensor]:
    """Decode a state dict from a ``.safetensors`` or ``.pt``/``.pth`` file's bytes, safely.

    ``.pt`` files go through ``torch.load(weights_only=True)``: tensors and plain containers only,
    never arbitrary pickled objects.

    Raises:
        ValueError: empty, oversized, corrupt or unsupported files, or files holding no tensors.
    """
    if not data:
        raise ValueError(f"{filename} is empty")
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"{filename} is {len(data) / 2**20:.0f} MiB; the limit is {MAX_CHECKPOINT_BYTES // 2**20} MiB")
    suffix = Path(filename).suffix.lower()
    if suffix == ".safetensors":
        try:
            return load_safetensors_bytes(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise ValueError(f"{filename} is not a valid safetensors file ({exc})") from exc
    if suffix in (".pt", ".pth", ".bin"):
        try:
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
            raise ValueError(
                f"{filename} could not be read as a weights-only PyTorch file: only tensors and plain "
                f"containers are accepted, never pickled code ({type(exc).__name__})"
            ) from exc
        if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise ValueError(f"{filename} does not hold a state dict (a mapping of names to tensors)")
        return obj
    raise ValueError(
        f"{filename}: unsupported checkpoint type {suffix or '(no extension)'}; use .safetensors, .pt or .pth"
    )


def load_weights(model: nn.Module, data: bytes, filename: str, *, head_only: bool = False) -> None:
    """Load a state dict file's bytes into ``model``, strictly.

    Args:
        head_only: the file holds only the classifier head (:meth:`Bundle.save` with ``head_only``)
            and ``model`` already has the pretrained rest; every other key may be missing.

    Raises:
        ValueError: unreadable file, keys / shapes that do not match the model (the message
            names the first few), or NaN / infinite values (a diverged run, a damaged file).
    """
    state = read_state_dict(data, filename)
    if head_only:
        head_name, _ = classifier_head(model)
        state = {**{k: v for k, v in model.state_dict().items() if not k.startswith(head_name + ".")}, **state}
    broken = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise ValueError(
            f"{filename} holds NaN or infinite values in {len(broken)} tensor(s) (e.g. {', '.join(broken[:3])}): "
            "the run that wrote it diverged or the file is damaged; such a model cannot predict"
        )
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k}: expected {tuple(own[k].shape)}, got {tuple(state[k].shape)}"
        for k in own
        if k in state and own[k].shape != state[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} with the wrong shape (e.g. {'; '.join(wrong[:3])})")
        raise ValueError(f"{filename} does not fit this architecture: " + ", ".join(parts))
    model.load_state_dict(state, strict=True)


def load_bundle(folder: str | Path) -> Bundle:
    """Load a bundle saved by :meth:`Bundle.save`.

    Raises:
        ValueError: missing files, an invalid ``card.json``, or weights that do not fit.
    """
    folder = Path(folder)
    card_path, weights_path = folder / CARD_FILE, folder / WEIGHTS_FILE
    if not card_path.is_file() or not weights_path.is_file():
        raise ValueError(f"{folder} is not a checkpoint folder: it needs {CARD_FILE} and {WEIGHTS_FILE}")
    extra = {name: (folder / name).read_bytes() for name in checkpoint_files() if (folder / name).is_file()}
    return bundle_from_files(card_path.read_bytes(), weights_path.read_bytes(), files=extra)


def bundle_from_files(
    card_json: bytes, weights: bytes, weights_name: str = WEIGHTS_FILE, *, files: dict[str, bytes] | None = None
) -> Bundle:
    """Rebuild a bundle from the bytes of a ``card.json`` and a weights file (e.g. two uploads).

    Args:
        card_json: the card's bytes.
        weights: the weights file's bytes (``.safetensors``, or ``.pt`` / ``.pth`` read safely).
        weights_name: the weights file's name (its suffix picks the reader).
        files: other checkpoint files by name; a text model needs ``tokenizer.json``.

    Raises:
        ValueError: an invalid card, unknown architecture, a missing tokenizer, weights that do not
            fit, or a card or other file over :data:`MAX_JSON_BYTES`.
    """
    for name, data in {"card.json": card_json, **(files or {})}.items():
        if len(data) > MAX_JSON_BYTES:
            raise ValueError(f"{name} is {len(data) / 2**20:.0f} MiB; the limit is {MAX_JSON_BYTES // 2**20} MiB")
    try:
        raw = json.loads(card_json.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"card.json is not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise ValueError("card.json must hold a JSON object")
    try:
        labels = [str(x) for x in raw.pop("labels")]
        preprocessing_entry = raw.pop("preprocessing")
        head_only = raw.pop("head_only", False) is True
        raw.pop("version", None)
        known = set(ModelCard.__dataclass_fields__)
        card = ModelCard(**{k: v for k, v in raw.items() if k in known})
    except (KeyError, TypeError) as exc:
        raise ValueError(f"card.json is missing a field or has a wrong one ({exc})") from exc
    if not isinstance(card.num_classes, int) or card.num_classes < 1:
        raise ValueError(f"card.json: num_classes must be a positive integer, got {card.num_classes!r}")
    if len(labels) != card.num_classes:
        raise ValueError(f"card.json: {card.num_classes} classes but {len(labels)} labels")
    if not isinstance(preprocessing_entry, dict):
        raise ValueError("card.json: the preprocessing entry must be a JSON object")
    # Build with random init (no download), then load the saved weights over it; a head-only
    # checkpoint builds its pretrained model first (offline only where the weights ship, e.g. MiniLM).
    spec = MODELS.get(card.architecture)
    if head_only and card.weights not in spec.weights:
        raise ValueError(
            f"card.json: a head-only checkpoint needs {card.architecture}'s pretrained weights, got {card.weights!r}"
        )
    if card.modality not in MODALITIES:
        *others, last = (repr(name) for name in MODALITIES.names())
        raise ValueError(f"card.json: modality must be {', '.join(others)} or {last}, got {card.modality!r}")
    preprocessing = MODALITIES.get(card.modality).preprocessing.from_dict(preprocessing_entry, files or {})
    sizes = preprocessing.model_sizes()
    _check_card_sizes(card, sizes, spec)
    start = card.weights if head_only else None
    model = spec.builder(num_classes=card.num_classes, weights=start, **sizes, **{**spec.defaults, **card.hparams})
    load_weights(model, weights, weights_name, head_only=head_only)
    return Bundle(model.eval(), preprocessing, labels, card)


def _check_card_sizes(card: ModelCard, sizes: dict[str, Any], spec: ModelSpec) -> None:
    """The card's size fields must agree with what its preprocessing fixes (a hand-edited card, a mixed-up upload).

    Raises:
        ValueError: a size that differs, or an image side below the architecture's minimum.
    """
    vocab_size = sizes.get("vocab_size")
    if card.modality == "seq2seq" and (card.vocab_size != vocab_size or card.num_classes != vocab_size):
        # A seq2seq model's outputs are its vocabulary's tokens.
        raise ValueError(
            f"card.json says vocab_size {card.vocab_size!r} and num_classes {card.num_classes!r} "
            f"but its vocabulary has {vocab_size} tokens"
        )
    for name, value in sizes.items():
        stored = getattr(card, name, None)
        if stored is not None and stored != value:
            raise ValueError(f"card.json says {name} {stored!r} but its preprocessing gives {value!r}")
    image_size = sizes.get("image_size")
    if isinstance(image_size, int) and image_size < spec.min_image_size:
        raise ValueError(f"card.json: image_size must be at least {spec.min_image_size}, got {image_size!r}")


def create_bundle_from_preprocessing(
    architecture: str,
    preprocessing: InputPreprocessing,
    classes: list[str],
    *,
    hparams: dict[str, Any] | None = None,
) -> Bundle:
    """Build an architecture sized by a fitted preprocessing, ready to train (text, sequences, plug-ins).

    The builder gets ``preprocessing.model_sizes()`` as keyword arguments (a text model's
    ``vocab_size``, a sequence model's ``input_size``, ...), and the card records the ones it has
    fields for.

    Args:
        architecture: registry name of an entry that accepts the preprocessing's modality.
        preprocessing: fitted on the training data: a ``TextPreprocessing`` (the embedding gets one
            row per token id), a ``SequencePreprocessing`` (the first layer takes its F features)
            or a plug-in modality's.
        classes: class names; one output per class.
        hparams: builder hyper-parameters overriding the entry's defaults.

    Raises:
        ValueError: unknown architecture, an entry that does not take this modality, no classes,
            or an unknown hyper-parameter.
    """
    spec: ModelSpec = MODELS.get(architecture)
    modality = preprocessing.kind
    if not spec.accepts(modality):
        raise ValueError(f"{architecture} takes {spec.modality} inputs, not {modality}; pick a model for {modality}")
    if not classes:
        raise ValueError("expected at least one class, got none")
    merged = {**spec.defaults, **(hparams or {})}
    unknown = set(merged) - set(spec.defaults)
    if unknown:
        raise ValueError(
            f"unknown hyper-parameters for {architecture}: {sorted(unknown)}; known: {sorted(spec.defaults)}"
        )
    sizes = preprocessing.model_sizes()
    model = spec.builder(num_classes=len(classes), weights=None, **sizes, **merged)
    card = ModelCard(
        architecture=architecture,
        num_classes=len(classes),
        modality=modality,
        hparams=merged,
        source=spec.source,
        **{name: value for name, value in sizes.items() if name in ModelCard.__dataclass_fields__},
    )
    return Bundle(model.eval(), preprocessing, list(classes), card)


def create_bundle_for_dataset(
    architecture: str,
    classes: list[str],
    channels: int,
    image_side: int,
    *,
    weights: str | None = None,
    hparams: dict[str, Any] | None = None,
) -> Bundle:
    """Build ``architecture`` sized for a dataset: one output per class, ready to train.

    From scratch (``weights=None``) the model takes the dataset's own channels and image size
    (raised to the architecture's minimum). With pretrained weights it keeps the size and RGB input
    those weights were trained on, only the head is replaced, and gray images are repeated to RGB by
    the preprocessing (fine-tuning).

    Args:
        architecture: registry name.
        classes: the dataset's class names.
        channels: the dataset's channels (1 or 3).
        image_side: the dataset's image side in pixels (the larger of H and W).
        weights: pretrained weights to start from, or ``None``.
        hparams: builder hyper-parameters.

    Raises:
        ValueError: as :func:`create_bundle`.
    """
    spec = MODELS.get(architecture)
    if weights is None:
        in_channels, image_size = channels, max(image_side, spec.min_image_size)
    else:
        in_channels, image_size = spec.in_channels, spec.image_size
    return create_bundle(
        architecture,
        num_classes=len(classes),
        in_channels=in_channels,
        image_size=image_size,
        weights=weights,
        labels=list(classes),
        hparams=hparams,
    )


def default_runs_dir() -> Path:
    """Where training runs are saved: ``$PLAYGROUND_RUNS`` or ``./runs``."""
    return Path(os.environ.get("PLAYGROUND_RUNS", "runs"))
