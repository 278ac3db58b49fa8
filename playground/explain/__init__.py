"""Explainability: attribution methods over Captum for every model and modality, with trust checks.

Typical use::

    from playground.explain import ExplainParams, explain, display_map, methods_for

    pixels = bundle.preprocessing.pixels_from_pil(image)  # (C, H, W) in [0, 1]
    result = explain(bundle, pixels, "integrated_gradients", params=ExplainParams(n_steps=200))
    result.attributions.shape, result.convergence_delta   # (C, H, W), sum - (F(x) - F(baseline))
    heat = display_map(result.attributions, "signed")       # (H, W) in [-1, 1]

The names below load on first use (PEP 562), and with them Captum and every method of
:data:`METHODS`: importing ``playground.cli.explain`` for the CLI's parser stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playground.explain.base import (
        BASELINES,
        METHODS,
        ExplainParams,
        Explanation,
        MethodSpec,
        ModelView,
        auto_batch_size,
        baselines_for,
        methods_for,
        register_method,
    )
    from playground.explain.core import check_inputs, explain, explain_methods, explain_work
    from playground.explain.display import DISPLAY_MODES, display_map, normalize_attributions, token_scores
    from playground.explain.errors import ExplanationStopped, MethodNotSupportedError

_WHERE = {
    **dict.fromkeys(
        [
            "BASELINES",
            "METHODS",
            "ExplainParams",
            "Explanation",
            "MethodSpec",
            "ModelView",
            "auto_batch_size",
            "baselines_for",
            "methods_for",
            "register_method",
        ],
        "playground.explain.base",
    ),
    **dict.fromkeys(["ExplanationStopped", "MethodNotSupportedError"], "playground.explain.errors"),
    **dict.fromkeys(["check_inputs", "explain", "explain_methods", "explain_work"], "playground.explain.core"),
    **dict.fromkeys(
        ["DISPLAY_MODES", "display_map", "normalize_attributions", "token_scores"], "playground.explain.display"
    ),
}

__all__ = [
    "BASELINES",
    "DISPLAY_MODES",
    "METHODS",
    "ExplainParams",
    "Explanation",
    "ExplanationStopped",
    "MethodNotSupportedError",
    "MethodSpec",
    "ModelView",
    "auto_batch_size",
    "baselines_for",
    "check_inputs",
    "display_map",
    "explain",
    "explain_methods",
    "explain_work",
    "methods_for",
    "normalize_attributions",
    "register_method",
    "token_scores",
]

if set(__all__) != set(_WHERE):  # the two lists name the same things
    raise ImportError("playground.explain: __all__ and the lazy table differ")


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'playground.explain' has no attribute {name!r}")
    importlib.import_module("playground.explain.core")  # imports (registers) every method
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
