"""The seq2seq modality's registry entry: character strings in, character strings out.

Its models are trained by ``training.seq2seq.train_seq2seq`` on generated task examples, so no
preprocessing is fitted on a dataset; the entry is what checkpoints and the explainers look up.
"""

from __future__ import annotations

from playground.core.modality import ModalitySpec, register_modality
from playground.modalities.seq2seq.tasks import Seq2SeqPreprocessing
from playground.modalities.text.clean import decode_text_file


def read_sources(data: bytes, filename: str) -> list[str]:
    """A ``.txt`` file as a batch of one source string (surrounding white space removed).

    Raises:
        ValueError: empty, binary or oversized files.
    """
    return [decode_text_file(data, filename).strip()]


SEQ2SEQ = register_modality(
    ModalitySpec(
        name="seq2seq",
        description="sequence-to-sequence strings: (S,) character ids in, a generated string out",
        input_kind="token_ids",
        preprocessing=Seq2SeqPreprocessing,
        read_inputs=read_sources,
        explain=None,  # a generated string has no single class score to attribute (attention maps show it)
    )
)
