"""Give a long-running server's freed memory back: a full garbage collection now and then, then
glibc's ``malloc_trim``.

Why by hand: Streamlit's own ``runner.postScriptGC`` runs ``gc.collect(2)`` after *every* script run,
~0.2 CPU-s each in a process holding torch and the models (most of a rerun's cost), so the app
turns it off (``.streamlit/config.toml``). Reference counting still frees almost everything at once;
this collects the rest (reference cycles: tracebacks, figures, closures) every ``interval_s``
seconds for the whole process instead of after each of its users' clicks. glibc keeps freed heap
pages for reuse, so a 40 MB upload that was freed still counts in the RSS until ``malloc_trim(0)``
hands them back (https://man7.org/linux/man-pages/man3/malloc_trim.3.html). No library does this.

A full collection holds the GIL, so every user's run waits for it: ~0.14 s for the objects of the
app's imports alone (torch, Streamlit, plotly, transformers, captum), 0.3 s at times in a busy
server, several times a minute (Python starts them on its own as objects pile up). Those objects
live as long as the process, so after a tick at which new modules had been imported (a page's first
visit loads its libraries) the reclaimer freezes what is left (``gc.freeze``): later full
collections skip them and take ~1 ms for the same imports. What a session held at that moment is
frozen too: still freed by reference counting when the session ends, never if it sat in a reference
cycle. That is bounded by the few ticks at which modules were new, not a leak that grows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
import threading
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` elsewhere (macOS, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_memory() -> int:
    """Collect every generation's garbage, then return free heap pages to the OS where glibc allows.

    Returns:
        The number of unreachable objects the collector found.
    """
    found = gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    return found


def start_memory_reclaimer(interval_s: float = 30.0, stop_event: threading.Event | None = None) -> threading.Thread:
    """A daemon thread that calls :func:`release_memory` every ``interval_s`` seconds.

    After a call that follows new imports it freezes the objects left (see the module docstring).
    It runs until the process exits, or until ``stop_event`` is set.

    Raises:
        ValueError: ``interval_s`` is not positive.
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")

    stop = stop_event or threading.Event()

    def loop() -> None:
        modules = 0  # len(sys.modules) at the last freeze
        while not stop.wait(interval_s):
            try:
                release_memory()
                if len(sys.modules) != modules:  # libraries imported since: their objects live for good
                    gc.freeze()
                    modules = len(sys.modules)
            except Exception:  # never let the reclaimer die silently with the server still up
                log.exception("release_memory failed")

    thread = threading.Thread(target=loop, name="memory-reclaimer", daemon=True)
    thread.start()
    return thread
