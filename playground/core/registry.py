"""A generic name -> entry registry, in the style of torchvision's ``register_model``.

Architectures, datasets, modalities, attribution methods and perturbations each live in one
``Registry``. Adding an entry is one decorator; duplicates are refused and unknown names raise a
``ValueError`` that lists the known ones, so a typo in the UI or the CLI says what would have worked.

Source: ``torchvision/models/_api.py`` (``register_model``, ``get_model``, ``list_models``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered mapping from names to entries of one kind.

    Args:
        kind: what the entries are, used in error messages ("model", "dataset", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``.

        Raises:
            ValueError: if ``name`` is empty or already registered.
        """
        if not name or not name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@REGISTRY.register("lenet5")``."""

        def decorator(entry: T) -> T:
            return self.add(name, entry)

        return decorator

    def get(self, name: str) -> T:
        """Return the entry called ``name``.

        Raises:
            ValueError: if no entry has that name; the message lists the known names.
        """
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "(none)"
            raise ValueError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}") from None

    def remove(self, name: str) -> None:
        """Drop the entry called ``name`` (a plug-in registered by a test cleans up); unknown names are ignored."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """``(name, entry)`` pairs, in registration order."""
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
