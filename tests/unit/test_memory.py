"""playground.core.memory: garbage in reference cycles is collected, and the reclaimer thread runs."""

from __future__ import annotations

import gc
import sys
import threading
import time
import types
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


def test_the_reclaimer_freezes_after_new_imports_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick after an import freezes what is alive; ticks without one leave the collector as it was."""
    freezes: list[int] = []
    monkeypatch.setattr(memory.gc, "freeze", lambda: freezes.append(len(sys.modules)))
    ticks: list[float] = []
    monkeypatch.setattr(memory, "release_memory", lambda: ticks.append(time.monotonic()) or 0)

    def wait_ticks(n: int) -> None:
        deadline = time.monotonic() + 10
        while len(ticks) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    stop = threading.Event()
    thread = memory.start_memory_reclaimer(interval_s=0.05, stop_event=stop)
    try:
        wait_ticks(3)
        assert len(freezes) == 1  # the first tick: everything imported so far
        monkeypatch.setitem(sys.modules, "playground_test_new_module", types.ModuleType("playground_test_new_module"))
        seen = len(ticks)
        wait_ticks(seen + 3)
        assert len(freezes) == 2 and freezes[-1] == len(sys.modules)  # once for the new module, not every tick
    finally:
        stop.set()
        thread.join(timeout=5)


def test_a_full_collection_skips_frozen_objects() -> None:
    """What the freeze buys: the collector no longer walks the objects alive at the freeze."""
    keep = [Node() for _ in range(200_000)]
    gc.collect()
    tracked = len(gc.get_objects())
    gc.freeze()
    try:
        assert gc.get_freeze_count() >= len(keep)
        assert len(gc.get_objects()) < tracked - len(keep)  # out of the collector's sight
        a, b = Node(), Node()
        a.other, b.other = b, a  # new garbage is still collected
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
