"""A recurrent model's states, step by step: recomputed from its weights, checked against PyTorch, explored.

``compute_states`` / ``states_for_text`` / ``states_for_sequence`` recompute every layer's hidden
states, cell states and gates (:mod:`~playground.inspection.rnn.states`); ``check_states`` compares
them with PyTorch's forward pass (:mod:`~playground.inspection.rnn.check`); ``update_formula`` writes
one unit's update with real numbers (:mod:`~playground.inspection.rnn.formula`); ``dataset_states``,
``select_units`` and ``find_similar`` search like LSTMVis (:mod:`~playground.inspection.rnn.search`);
``pca_trajectory`` (:mod:`~playground.inspection.rnn.projection`), ``prefix_probabilities``
(:mod:`~playground.inspection.rnn.prefixes`) and the unit signals (:mod:`~playground.inspection.rnn.units`)
feed the other views.
"""

from playground.inspection.rnn.check import TOLERANCE, StatesCheck, check_states, pytorch_step_state
from playground.inspection.rnn.formula import GATE_SYMBOLS, GateTerms, UpdateFormula, update_formula
from playground.inspection.rnn.prefixes import prefix_probabilities
from playground.inspection.rnn.projection import Trajectory, pca_trajectory
from playground.inspection.rnn.search import DatasetStates, SpanMatch, dataset_states, find_similar, select_units
from playground.inspection.rnn.states import (
    BATCH_SIZE,
    DIRECTIONS,
    GATE_NAMES,
    CellKind,
    Direction,
    LayerStates,
    RecurrentStates,
    StateKind,
    compute_states,
    is_recurrent,
    recompute,
    recurrent_model,
    states_for_sequence,
    states_for_text,
)
from playground.inspection.rnn.units import step_signals, strongest_units, top_units, unit_correlations

__all__ = [
    "BATCH_SIZE",
    "DIRECTIONS",
    "GATE_NAMES",
    "GATE_SYMBOLS",
    "TOLERANCE",
    "CellKind",
    "DatasetStates",
    "Direction",
    "GateTerms",
    "LayerStates",
    "RecurrentStates",
    "SpanMatch",
    "StateKind",
    "StatesCheck",
    "Trajectory",
    "UpdateFormula",
    "check_states",
    "compute_states",
    "dataset_states",
    "find_similar",
    "is_recurrent",
    "pca_trajectory",
    "prefix_probabilities",
    "pytorch_step_state",
    "recompute",
    "recurrent_model",
    "select_units",
    "states_for_sequence",
    "states_for_text",
    "step_signals",
    "strongest_units",
    "top_units",
    "unit_correlations",
    "update_formula",
]
