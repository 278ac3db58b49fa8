"""The text modality's registry entry: token ids through an embedding, a tokenizer fitted on the training texts."""

from __future__ import annotations

from typing import Any

from playground.core.modality import ExplainHooks, ModalitySpec, register_modality
from playground.modalities.text.clean import decode_text_file
from playground.modalities.text.preprocessing import TOKENIZER_FILE, TextPreprocessing
from playground.modalities.text.tokenizer import TokenizerOptions, train_tokenizer


def fit_text_preprocessing(texts: list[str], dataset: Any, options: TokenizerOptions | None) -> TextPreprocessing:
    """A tokenizer of ``options`` (default :class:`TokenizerOptions`) trained on the TRAINING texts only.

    Validation words the model never saw therefore stay unknown, as they would in use.
    """
    options = options or TokenizerOptions()
    return TextPreprocessing(train_tokenizer(texts, options), options.max_length)


def read_texts(data: bytes, filename: str) -> list[str]:
    """A ``.txt`` file (UTF-8, UTF-16 with BOM, Latin-1 fallback) as a batch of one text.

    Raises:
        ValueError: empty, binary or oversized files.
    """
    return [decode_text_file(data, filename)]


TEXT = register_modality(
    ModalitySpec(
        name="text",
        description="text: token ids (T,) from a tokenizer, attributions on the embedding layer",
        input_kind="token_ids",
        preprocessing=TextPreprocessing,
        fit_preprocessing=fit_text_preprocessing,
        read_inputs=read_texts,
        files=(TOKENIZER_FILE,),
        explain=ExplainHooks(input_shape="(T,)"),
    )
)
