"""What a training run is, written down: everything needed to run it again (``spec.json``).

A :class:`RunSpec` is built from what a person asked for (:meth:`RunSpec.resolve`: the model,
the dataset and the settings they changed) with every default filled in from the dataset's and
the architecture's registry entries, so that the file alone reproduces the run even after the
defaults change. The worker (:mod:`playground.runner.worker`) and ``python -m playground train``
run a spec through :func:`playground.runner.execute.execute`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

SPEC_VERSION = 1
RunKind = Literal["classification", "seq2seq"]
SEQ2SEQ_MODEL = "transformer_seq2seq"
#: The settings a seq2seq run takes (``train_seq2seq``'s keyword arguments).
SEQ2SEQ_SETTINGS = ("epochs", "num_examples", "batch_size", "lr", "seed", "device")


def code_version() -> str:
    """The checkout's ``git describe --always --dirty``, or ``"unknown"`` outside a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


@dataclass(frozen=True)
class RunSpec:
    """One training run, fully resolved.

    Attributes:
        model: architecture registry name.
        dataset: dataset registry name (a seq2seq task for ``transformer_seq2seq``).
        kind: ``"classification"`` (``training.train``) or ``"seq2seq"`` (``training.train_seq2seq``).
        config: classification: every :class:`~playground.training.config.TrainConfig` field;
            seq2seq: ``epochs``, ``num_examples``, ``batch_size``, ``lr``, ``seed``, ``device``
            (``None``: the task's default).
        tokenizer: text datasets: every ``TokenizerOptions`` field; ``None`` otherwise.
        weights: pretrained weights to start from (``"imagenet"``) or ``None``.
        hparams: builder hyper-parameters given (over the registry's and the dataset's defaults).
        dataset_options: the loader's JSON-ready options (``{"path": "..."}``, ``{"image_size": 64}``).
        dataset_files: loader options whose value is a file's bytes, by the file's name in the run
            folder's ``data/`` (an upload: ``{"zip_bytes": "upload.zip"}``).
        threads: CPU threads of the worker (set once, at its start; shared by its processes).
        nproc_per_node: processes on this machine; above 1 the worker runs under torchrun with
            DistributedDataParallel (``training.distributed``).
        nnodes, node_rank, rdzv_endpoint: more than one machine: how many, which one this is, and
            ``host:port`` of the rendezvous (torchrun's ``--nnodes``, ``--node-rank``, ``--rdzv-endpoint``).
        code_version: the checkout that wrote the spec (``git describe``).
        created: ISO-8601 UTC time of the request.
    """

    model: str
    dataset: str
    kind: RunKind = "classification"
    config: dict[str, Any] = field(default_factory=dict)
    tokenizer: dict[str, Any] | None = None
    weights: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    dataset_files: dict[str, str] = field(default_factory=dict)
    threads: int = 1
    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    code_version: str = "unknown"
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "seq2seq"):
            raise ValueError(f"kind must be 'classification' or 'seq2seq', got {self.kind!r}")
        for name in ("threads", "nproc_per_node", "nnodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.node_rank, int) or not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"node_rank must be in [0, {self.nnodes}), got {self.node_rank!r}")
        if self.nnodes > 1 and not str(self.rdzv_endpoint or "").rpartition(":")[2].isdigit():
            raise ValueError(
                f"a run on several machines needs rdzv_endpoint host:port of node 0, got {self.rdzv_endpoint!r}"
            )
        if self.kind == "seq2seq" and self.world_size > 1:
            raise ValueError("seq2seq runs train in one process; data-parallel training is for classification")

    @property
    def world_size(self) -> int:
        """Processes over every machine."""
        return self.nproc_per_node * self.nnodes

    @classmethod
    def resolve(
        cls,
        model: str,
        dataset: str,
        *,
        weights: str | None = None,
        hparams: dict[str, Any] | None = None,
        tokenizer: dict[str, Any] | None = None,
        dataset_options: dict[str, Any] | None = None,
        dataset_files: dict[str, str] | None = None,
        threads: int | None = None,
        nproc_per_node: int = 1,
        nnodes: int = 1,
        node_rank: int = 0,
        rdzv_endpoint: str | None = None,
        **settings: Any,
    ) -> RunSpec:
        """A spec with every default filled in.

        Args:
            model, dataset, weights, hparams, dataset_options, dataset_files: as the attributes.
            threads: CPU threads of the worker; ``None``: every core (one run at a time on a CPU machine).
            nproc_per_node, nnodes, node_rank, rdzv_endpoint: as the attributes.
            tokenizer: ``TokenizerOptions`` fields given (text datasets); ``None`` values keep the default.
            settings: ``TrainConfig`` fields given (``epochs=8``, ``lr=1e-3``, ...); ``None`` keeps
                the default.

        Raises:
            ValueError: an unknown model, dataset or setting, or a value out of range.
        """
        from playground.data import DATASETS
        from playground.models import MODELS

        MODELS.get(model)  # an unknown name fails here, with the known ones listed
        threads = threads or os.cpu_count() or 1
        if model == SEQ2SEQ_MODEL:
            unknown = {k for k, v in settings.items() if v is not None} - set(SEQ2SEQ_SETTINGS)
            if unknown:
                raise ValueError(f"a seq2seq run takes {', '.join(SEQ2SEQ_SETTINGS)}; not {sorted(unknown)}")
            config = {name: settings.get(name) for name in SEQ2SEQ_SETTINGS}
            config["seed"] = 0 if config["seed"] is None else config["seed"]
            config["device"] = config["device"] or "auto"
            return cls(
                model,
                dataset,
                "seq2seq",
                config,
                hparams=dict(hparams or {}),
                threads=threads,
                nproc_per_node=nproc_per_node,
                code_version=code_version(),
            )
        from playground.training.setup import tokenizer_options_for, train_config_for

        spec = DATASETS.get(dataset)
        train_config = train_config_for(dataset, model, **settings)
        options = None
        if spec.modality == "text":
            options = asdict(tokenizer_options_for(dataset, **(tokenizer or {})))
        return cls(
            model,
            dataset,
            "classification",
            train_config.to_dict(),
            options,
            weights,
            dict(hparams or {}),
            {k: str(v) if isinstance(v, Path) else v for k, v in (dataset_options or {}).items()},
            dict(dataset_files or {}),
            threads,
            nproc_per_node,
            nnodes,
            node_rank,
            rdzv_endpoint,
            code_version(),
        )

    def to_json(self) -> str:
        """``spec.json``'s text."""
        return json.dumps({"version": SPEC_VERSION, **asdict(self)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Read ``spec.json``.

        Raises:
            ValueError: not JSON, not an object, a missing or unknown field, or a value out of range.
        """
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"spec.json is not valid JSON ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError("spec.json must hold a JSON object")
        raw.pop("version", None)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"spec.json has unknown fields {sorted(unknown)}")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise ValueError(f"spec.json is missing a field ({exc})") from exc

    @property
    def title(self) -> str:
        """``"lenet5 · mnist"``."""
        return f"{self.model} · {self.dataset}"
