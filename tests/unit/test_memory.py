"""playground.core.memory: garbage in reference cycles is collected, and the reclaimer thread runs."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from playground.core import memory


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_release_memory_collects_reference_cycles() -> None:
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    gone = weakref.ref(a)
    del a, b
    gc.disable()  # no automatic collection in between: release_memory must do it
    try:
        assert gone() is not None
        assert memory.release_memory() >= 2
        assert gone() is None
    finally:
        gc.enable()


def test_the_reclaimer_calls_release_memory_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(memory, "release_memory", lambda: calls.append(time.monotonic()) or 0)
    stop = threading.Event()
    thread = memory.start_memory_reclaimer(interval_s=0.05, stop_event=stop)
    assert thread.daemon and thread.name == "memory-reclaimer"
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=5)
    assert len(calls) >= 3 and not thread.is_alive()
    with pytest.raises(ValueError, match="positive"):
        memory.start_memory_reclaimer(interval_s=0)
