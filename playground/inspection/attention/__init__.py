"""Attention of transformer models: maps per layer and head, rollout, per-head summaries, the formula.

``text_attention`` / ``image_attention`` / ``audio_attention`` read one input's attention from a bundle; ``rollout``
follows it through the layers; ``head_summaries`` gives entropy, distance and special-token share
per head; ``attention_formula`` recomputes one row from the weights (the article's formula).
"""

from playground.inspection.attention.audio import audio_attention
from playground.inspection.attention.core import (
    AttentionMaps,
    NoAttentionError,
    class_token_map,
    image_attention,
    supports_attention,
    text_attention,
)
from playground.inspection.attention.formula import FORMULA_TOLERANCE, AttentionFormula, attention_formula
from playground.inspection.attention.rollout import rollout
from playground.inspection.attention.summaries import HeadSummaries, head_summaries

__all__ = [
    "FORMULA_TOLERANCE",
    "AttentionFormula",
    "AttentionMaps",
    "HeadSummaries",
    "NoAttentionError",
    "attention_formula",
    "audio_attention",
    "class_token_map",
    "head_summaries",
    "image_attention",
    "rollout",
    "supports_attention",
    "text_attention",
]
