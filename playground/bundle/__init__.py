"""A trained model with everything needed to use it: architecture, weights, labels, preprocessing.

The checkpoint format (``card.json`` + ``model.safetensors`` [+ ``tokenizer.json``]) lives in
:mod:`playground.bundle.core`; the runs folder in :mod:`playground.bundle.runs`; Hugging Face text
models as bundles in :mod:`playground.bundle.hf`.
"""

from playground.bundle.core import (
    CARD_FILE,
    WEIGHTS_FILE,
    Bundle,
    ModelCard,
    bundle_from_files,
    checkpoint_file_names,
    create_bundle,
    create_bundle_for_dataset,
    create_bundle_from_preprocessing,
    default_runs_dir,
    load_bundle,
    load_weights,
    read_state_dict,
)

__all__ = [
    "CARD_FILE",
    "WEIGHTS_FILE",
    "Bundle",
    "ModelCard",
    "bundle_from_files",
    "checkpoint_file_names",
    "create_bundle",
    "create_bundle_for_dataset",
    "create_bundle_from_preprocessing",
    "default_runs_dir",
    "load_bundle",
    "load_weights",
    "read_state_dict",
]
