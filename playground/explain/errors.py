"""The two exceptions of the explainers (kept apart so every explain module can raise them)."""

from __future__ import annotations


class MethodNotSupportedError(ValueError):
    """The method cannot explain this model or this kind of input; the message says why."""


class ExplanationStopped(Exception):
    """The stop event was set while an explanation was running (not an error: the user cancelled)."""
