"""The generic registry: order, duplicates, unknown names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from playground.core.registry import Registry


def test_entries_keep_registration_order_and_lookup_returns_the_entry() -> None:
    reg: Registry[int] = Registry("widget")
    for i, name in enumerate(["zeta", "alpha", "mid"]):
        assert reg.add(name, i) == i
    assert reg.names() == ["zeta", "alpha", "mid"]
    assert list(reg) == ["zeta", "alpha", "mid"]
    assert reg.items() == [("zeta", 0), ("alpha", 1), ("mid", 2)]
    assert reg.get("alpha") == 1
    assert len(reg) == 3
    assert "mid" in reg
    assert "nope" not in reg


def test_decorator_registers_and_returns_the_function_unchanged() -> None:
    reg: Registry[Callable[[int], int]] = Registry("method")

    @reg.register("double")
    def double(x: int) -> int:
        return 2 * x

    assert reg.get("double") is double
    assert double(4) == 8


def test_duplicate_names_are_refused_and_the_first_entry_stays() -> None:
    reg: Registry[str] = Registry("model")
    reg.add("lenet5", "first")
    with pytest.raises(ValueError, match="'lenet5' is already registered"):
        reg.add("lenet5", "second")
    assert reg.get("lenet5") == "first"
    assert len(reg) == 1


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_names_are_refused(bad: str) -> None:
    reg: Registry[int] = Registry("dataset")
    with pytest.raises(ValueError, match="non-empty"):
        reg.add(bad, 1)
    assert len(reg) == 0


def test_unknown_name_lists_the_known_ones() -> None:
    reg: Registry[int] = Registry("dataset")
    reg.add("mnist", 1)
    reg.add("fashion_mnist", 2)
    with pytest.raises(ValueError) as info:
        reg.get("cifar10")
    message = str(info.value)
    assert "unknown dataset 'cifar10'" in message
    assert "mnist" in message
    assert "fashion_mnist" in message


def test_unknown_name_in_an_empty_registry_says_none() -> None:
    with pytest.raises(ValueError, match=r"\(none\)"):
        Registry[int]("attack").get("fgsm")


def test_registries_are_independent() -> None:
    a: Registry[int] = Registry("a")
    b: Registry[int] = Registry("b")
    a.add("x", 1)
    b.add("x", 2)  # the same name in another registry is fine
    assert (a.get("x"), b.get("x")) == (1, 2)
