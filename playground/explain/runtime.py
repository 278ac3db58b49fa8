"""The model an explanation runs on: a runtime copy that shares the weights, and the layers methods hook.

Every method runs on a *runtime copy* of the model: it shares the parameters and buffers (no
weights are copied) but has its own modules, in ``eval()`` mode (:func:`runtime_copy`, reused
through :data:`COPIES`). Hooks (Grad-CAM, DeepLift, guided backprop, the embedding layer)
therefore never touch a model that another page or thread is using.
"""

from __future__ import annotations

import copy
import itertools
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from playground.explain.errors import MethodNotSupportedError


def runtime_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that shares every parameter and buffer, in ``eval()`` mode.

    Only the module objects are new (``copy.deepcopy`` with the tensors pre-filled in its memo), so
    this costs no memory for weights and sees any later update of them. Hooks, ``train``/``eval``
    and ``inplace`` flags set on the copy leave the original alone.

    Raises:
        MethodNotSupportedError: if the model cannot be copied.
    """
    memo: dict[int, Any] = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    try:
        clone = copy.deepcopy(model, memo)
    except Exception as exc:  # deepcopy raises TypeError, RuntimeError, PicklingError, ...
        raise MethodNotSupportedError(
            f"the model cannot be copied for explaining ({type(exc).__name__}: {exc})"
        ) from exc
    return clone.eval()


def disable_inplace(model: nn.Module) -> int:
    """Switch off ``inplace`` on every module of ``model`` (a runtime copy); returns how many.

    In-place activations (``ReLU(inplace=True)``) break the full backward hooks of DeepLift and
    guided backprop; elsewhere they are kept, since they save memory and time (~20 % of a ResNet-18
    forward and backward pass here).
    """
    changed = 0
    for module in model.modules():
        if getattr(module, "inplace", False) is True:
            module.inplace = False  # type: ignore[assignment]
            changed += 1
    return changed


class CopyPool:
    """Reuses clean runtime copies of a model (building one costs ~6 ms for ResNet-18 here).

    A copy is handed out to one explanation at a time and comes back only when that explanation
    finished normally without changing it (DeepLift and guided backprop rewrite their copy). The
    pool is keyed by the identity of the model's modules and tensors, so a model whose structure or
    tensors were replaced (``model.to(device)`` replaces the buffers) gets a fresh copy.
    """

    def __init__(self, size: int = 2) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._entries: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[int, ...], list[nn.Module]]] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def _key(model: nn.Module) -> tuple[int, ...]:
        return tuple(id(x) for x in itertools.chain(model.modules(), model.parameters(), model.buffers()))

    def acquire(self, model: nn.Module) -> nn.Module:
        """A runtime copy of ``model`` for exclusive use."""
        key = self._key(model)
        with self._lock:
            entry = self._entries.get(model)
            if entry is not None and entry[0] == key and entry[1]:
                return entry[1].pop()
        return runtime_copy(model)

    def release(self, model: nn.Module, clone: nn.Module) -> None:
        """Give back a copy that is as :func:`runtime_copy` made it."""
        key = self._key(model)
        with self._lock:
            entry = self._entries.get(model)
            if entry is None or entry[0] != key:
                entry = (key, [])
                self._entries[model] = entry
            if len(entry[1]) < self._size:
                entry[1].append(clone)


COPIES = CopyPool()


def has_recurrent(model: nn.Module) -> bool:
    """Whether the model holds a ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``."""
    return any(isinstance(m, nn.RNNBase) for m in model.modules())


@contextmanager
def backward_ready(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Let gradients flow through recurrent layers on CUDA.

    cuDNN refuses the backward pass of an RNN in ``eval()`` mode ("cudnn RNN backward can only be
    called in training mode"); for models with recurrent layers on CUDA, cuDNN is switched off for
    the duration (PyTorch's own kernels then run). Elsewhere this does nothing.
    """
    if device.type == "cuda" and has_recurrent(model):
        with torch.backends.cudnn.flags(enabled=False):
            yield
    else:
        yield


def embedding_or_none(model: nn.Module) -> nn.Module | None:
    """The token embedding of a text model, or ``None`` (see :func:`find_embedding`)."""
    getter = getattr(model, "get_input_embeddings", None)
    if callable(getter):
        found = getter()
        if isinstance(found, nn.Module):
            return found
    attr = getattr(model, "embedding", None)
    if isinstance(attr, nn.Embedding):
        return attr
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    return embeddings[0] if len(embeddings) == 1 else None


def find_embedding(model: nn.Module) -> nn.Module:
    """The token embedding of a text model.

    Looks for Hugging Face's ``get_input_embeddings()``, then an ``embedding`` attribute, then the
    model's only ``nn.Embedding``.

    Raises:
        MethodNotSupportedError: if none is found, or several ``nn.Embedding`` make it ambiguous.
    """
    found = embedding_or_none(model)
    if found is None:
        count = sum(isinstance(m, nn.Embedding) for m in model.modules())
        reason = "has no nn.Embedding" if not count else f"has {count} nn.Embedding modules"
        raise MethodNotSupportedError(
            f"text attributions are computed on the token embedding, but this model {reason}; "
            "give it an `embedding` attribute or a get_input_embeddings() method"
        )
    return found


def module_name(model: nn.Module, module: nn.Module) -> str:
    """The dotted name of ``module`` inside ``model`` (``""`` for the model itself)."""
    for name, candidate in model.named_modules():
        if candidate is module:
            return name
    raise ValueError(f"{type(module).__name__} is not a submodule of {type(model).__name__}")
