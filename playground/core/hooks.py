"""Module hooks that act only on the forward passes of the thread that registered them.

The app's models are shared: one EfficientNet-Lite0 (or any cached model) serves every browser
session, each session's script running on its own thread. A forward hook registered on such a model
(to record a layer's output, to end a pass early) also fires on another session's forward pass run
at the same moment: it would record the other user's activations, or end their pass. Wrapped with
:func:`this_thread_only`, a hook ignores every thread but its own. (The explain methods run on a
runtime copy of the model instead, :mod:`playground.explain.runtime`, since Captum registers hooks
of its own.)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def this_thread_only(hook: F) -> F:
    """``hook`` wrapped so that it runs only when called on the current thread (else returns ``None``,
    which leaves a forward hook's output, or a pre-hook's input, as it was)."""
    owner = threading.get_ident()

    @functools.wraps(hook)
    def filtered(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != owner:
            return None
        return hook(*args, **kwargs)

    return filtered  # type: ignore[return-value]
