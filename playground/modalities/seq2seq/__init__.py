"""Sequence-to-sequence string tasks: the data side of the tiny encoder-decoder transformer.

The article explains cross-attention (decoder queries reading the encoder's output); these
modules make it visible: :mod:`~playground.modalities.seq2seq.tasks` (reverse, sort, copy, add; the character
vocabulary and preprocessing), :mod:`~playground.models.seq2seq` (``transformer_seq2seq``) and
:mod:`~playground.training.seq2seq` (``train_seq2seq``, ``translate``).
"""

from playground.modalities.seq2seq.tasks import TASKS, Seq2SeqPreprocessing, Seq2SeqVocab, make_examples

__all__ = ["TASKS", "Seq2SeqPreprocessing", "Seq2SeqVocab", "make_examples"]
