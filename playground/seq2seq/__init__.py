"""Sequence-to-sequence: a tiny encoder-decoder transformer trained on string tasks.

The article explains cross-attention (decoder queries reading the encoder's output); these
modules make it visible: :mod:`~playground.seq2seq.tasks` (reverse, sort, copy, add; the character
vocabulary and preprocessing), :mod:`~playground.seq2seq.model` (``transformer_seq2seq``) and
:mod:`~playground.seq2seq.train` (``train_seq2seq``, ``translate``).

Only the tasks are imported here, so ``playground.bundle`` can read a seq2seq card without a cycle.
"""

from playground.seq2seq.tasks import TASKS, Seq2SeqPreprocessing, Seq2SeqVocab, make_examples

__all__ = ["TASKS", "Seq2SeqPreprocessing", "Seq2SeqVocab", "make_examples"]
