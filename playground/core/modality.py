"""The modality registry: the kinds of input the playground takes, and what the library needs to know of each.

A modality is one sub-package of :mod:`playground.modalities` (``image``, ``text``, ``sequence``,
``seq2seq``; a plug-in may live anywhere) that registers one :class:`ModalitySpec`::

    register_modality(ModalitySpec(
        name="sequence", description="numeric sequences (T, F)", input_kind="values",
        preprocessing=SequencePreprocessing, explain=ExplainHooks(input_shape="(T, F)"),
        fit_preprocessing=fit_sequence_preprocessing,
    ))

Training, checkpoints, prediction, the explainers and the CLI look these facts up instead of
testing ``modality == "text"``; a dataset class says which modality it holds with a ``modality``
class attribute, a bundle with ``card.modality``. ``docs/architecture.md`` gives the recipe for a
new modality and ``tests/unit/test_toy_modality.py`` registers one inside a test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import torch

from playground.core.registry import Registry

#: A registered modality's name (``"image"``, ``"text"``, ``"sequence"``, ``"seq2seq"``, plug-ins).
#: A plain ``str`` rather than a ``Literal``: a plug-in adds names at run time; :data:`MODALITIES`
#: is the one list of the valid ones.
Modality = str

#: What the model's input tensor is, which decides how it is explained and perturbed:
#: ``"pixels"``: ``(C, H, W)`` float32 in [0, 1], normalized inside the explained function;
#: ``"token_ids"``: ``(T,)`` int64 ids through an embedding layer (attributions on the embedding);
#: ``"values"``: float32 values of any fixed rank, fed to the model as they are.
InputKind = Literal["pixels", "token_ids", "values"]
INPUT_KINDS: tuple[InputKind, ...] = ("pixels", "token_ids", "values")


@runtime_checkable
class InputPreprocessing(Protocol):
    """What every modality's preprocessing offers (``Preprocessing``, ``TextPreprocessing``, ...).

    ``kind`` is the modality's name; ``model_input`` turns a batch of raw inputs (what a dataset's
    ``take`` returns) into the model's input tensor; ``model_sizes`` gives the builder keyword
    arguments the preprocessing fixes (``{"vocab_size": 5000, "input_size": None}``);
    ``example_input`` one model input for the layer table (a batch-of-1 shape, zeros of float32,
    or a tensor, e.g. token ids); ``to_dict``
    and ``files`` are what a checkpoint stores, read back by the class's
    ``from_dict(data, files=None)``.
    """

    kind: str

    def model_input(self, inputs: Any) -> torch.Tensor: ...

    def model_sizes(self) -> dict[str, Any]: ...

    def example_input(self) -> torch.Tensor | tuple[int, ...]: ...

    def to_dict(self) -> dict[str, Any]: ...

    def files(self) -> dict[str, bytes]: ...


@dataclass(frozen=True)
class ExplainHooks:
    """What the explainers need to know of a modality beyond its :data:`InputKind`.

    Attributes:
        input_shape: one input's shape as a readable string without the batch dimension, e.g.
            ``"(C, H, W)"``, ``"(T,)"``, ``"(F,)"``; its number of dimensions is the input rank
            that ``explain.check_inputs`` asks for.
        baselines: the baselines (``ExplainParams.baseline`` names) that make sense for this
            modality, the default first; empty: every baseline of its input kind.
    """

    input_shape: str
    baselines: tuple[str, ...] = ()

    @property
    def input_rank(self) -> int:
        """Dimensions of one input, without the batch: ``"(C, H, W)"`` → 3."""
        inner = self.input_shape.strip().strip("()")
        return len([part for part in inner.split(",") if part.strip()])


#: ``fit_preprocessing(train_inputs, dataset, options) -> InputPreprocessing``: preprocessing
#: fitted on the TRAINING part's raw inputs (a tokenizer, per-feature statistics); ``options`` are
#: the caller's fitting options (text: ``TokenizerOptions``), ignored where there are none.
FitPreprocessing = Callable[[Any, Any, Any], InputPreprocessing]
#: ``read_inputs(data, filename) -> raw batch``: a user's file (CLI ``predict --input``, uploads)
#: as a batch of raw inputs, the same type a dataset's ``take`` returns; raises ``ValueError``.
ReadInputs = Callable[[bytes, str], Any]


@dataclass(frozen=True)
class ModalitySpec:
    """One registry entry: a kind of input.

    Attributes:
        name: registry key, the value of ``dataset.modality`` and ``card.modality``.
        description: one sentence for the UI and the docs.
        input_kind: see :data:`InputKind`.
        preprocessing: the preprocessing class; ``preprocessing.from_dict(data, files)`` rebuilds
            a checkpoint's.
        explain: see :class:`ExplainHooks`; ``None`` when its models cannot be explained.
        fit_preprocessing: see :data:`FitPreprocessing`; ``None`` when the preprocessing comes with
            the model instead (images: size and normalization are the architecture's).
        read_inputs: see :data:`ReadInputs`; ``None`` when the modality reads no files this way.
        files: names of the extra files its checkpoints hold (``("tokenizer.json",)``).
    """

    name: str
    description: str
    input_kind: InputKind
    preprocessing: type[Any]
    explain: ExplainHooks | None
    fit_preprocessing: FitPreprocessing | None = None
    read_inputs: ReadInputs | None = None
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {', '.join(INPUT_KINDS)}, got {self.input_kind!r}")
        if not callable(getattr(self.preprocessing, "from_dict", None)):
            raise TypeError(f"{self.preprocessing.__name__} needs a from_dict(data, files=None) class method")


MODALITIES: Registry[ModalitySpec] = Registry("modality")


def register_modality(spec: ModalitySpec) -> ModalitySpec:
    """Add ``spec`` to :data:`MODALITIES` and return it.

    Raises:
        ValueError: if a modality of that name is already registered.
    """
    return MODALITIES.add(spec.name, spec)


def unregister_modality(name: str) -> None:
    """Remove a modality (tests that register a plug-in clean up with it); unknown names are ignored."""
    MODALITIES.remove(name)


def checkpoint_files() -> tuple[str, ...]:
    """The extra file names any registered modality's checkpoints may hold, in registration order."""
    names: list[str] = []
    for _, spec in MODALITIES.items():
        names.extend(name for name in spec.files if name not in names)
    return tuple(names)


def explainable_modalities(kinds: Sequence[InputKind] = INPUT_KINDS) -> list[str]:
    """Names of the registered modalities with explain hooks whose input kind is in ``kinds``."""
    return [name for name, spec in MODALITIES.items() if spec.explain is not None and spec.input_kind in kinds]
