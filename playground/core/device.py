"""Choosing the compute device: CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from typing import Literal

import torch

DeviceChoice = Literal["auto", "cuda", "mps", "cpu"]


def pick_device(choice: str = "auto") -> torch.device:
    """Return the device to run on.

    Args:
        choice: ``"auto"`` picks cuda > mps > cpu; ``"cuda"``, ``"mps"`` or ``"cpu"`` ask for one.

    Raises:
        ValueError: if ``choice`` is unknown or the requested accelerator is not available here.
    """
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but no CUDA GPU is available here")
        return torch.device("cuda")
    if choice == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError("device 'mps' was asked for, but Apple MPS is not available here")
        return torch.device("mps")
    if choice == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {choice!r}; expected one of auto, cuda, mps, cpu")


def describe_device(device: torch.device) -> str:
    """A short human label, e.g. ``"CUDA: NVIDIA H200"`` or ``"CPU (2 threads)"``."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


_THREADS_LOCK = threading.Lock()
_threads_users = 0
_threads_before = 0


@contextlib.contextmanager
def cpu_threads(count: int, device: torch.device | None = None) -> Iterator[None]:
    """Run the block with ``count`` CPU threads in torch, and put the process's count back after.

    With a ``device`` other than the CPU the block runs unchanged (the threads only matter there).

    ``torch.set_num_threads`` is process-wide, and trainings run in worker threads that may overlap
    (two browser tabs): the count in force before the FIRST of them is remembered and restored when
    the LAST one ends, so overlapping runs cannot leave the server on one thread.

    Args:
        count: threads, >= 1.
        device: where the work runs; ``None``: the CPU.
    """
    if device is not None and device.type != "cpu":
        yield
        return
    global _threads_users, _threads_before
    with _THREADS_LOCK:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
        _threads_users += 1
        torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter, else its first buffer (the CPU when it has neither)."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return first.device if first is not None else torch.device("cpu")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an accelerator out-of-memory error (CUDA's own error, or MPS's RuntimeError).

    A CPU allocation failure is a plain ``RuntimeError`` / ``MemoryError`` and is not one of these:
    halving a batch does not help there the way it does on a GPU.
    """
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and "out of memory" in text and ("mps" in text or "cuda" in text)
