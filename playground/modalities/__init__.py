"""One sub-package per kind of input: decoding, preprocessing and the modality's registry entry.

Importing this package registers the built-in modalities in
:data:`~playground.core.modality.MODALITIES`, in this order (the order menus and messages list
them in); each ``<name>/spec.py`` holds one :class:`~playground.core.modality.ModalitySpec`.
"""

import importlib

BUILT_IN = ("image", "text", "sequence", "seq2seq", "audio")

for _name in BUILT_IN:
    importlib.import_module(f"playground.modalities.{_name}.spec")
