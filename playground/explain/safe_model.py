"""A copy of a model on which hook-based methods (DeepLift, guided backprop) can run.

Captum's DeepLift keeps the input and output of every nonlinearity *module* in attributes set by
forward hooks, so a module that runs twice in one forward pass (torchvision's ResNet calls one
``self.relu`` twice per block; EfficientNet-Lite reuses one ``ReLU6`` per block) overwrites its
first use and the backward pass fails. The same hooks break on in-place activations.

:func:`split_reused_modules` fixes both on a copy: one dry forward pass counts how often each
module runs; every parameter-free leaf module that runs more than once is replaced by a
:class:`PerCall` dispatcher holding one fresh copy per use (the k-th call in a forward pass goes to
copy k), and in-place flags are already off on the runtime copy. Parameters are shared with the
original model (nothing is copied), so the result computes exactly the same function.

Two more rewrites make the hooks exact (:func:`prepare_for_hooks`):

* Captum registers its backward hook on the activation's *input tensor*. When that tensor is also
  used elsewhere (``ReLU(x) + x``), the hook sees the gradient of every use and the rule is applied
  to the wrong total (measured: a convergence delta of 0.2 on a sum of 0.19). Each hooked
  activation therefore gets a private copy of its input (:class:`PrivateInput`, ``x.clone()``,
  which passes gradients unchanged).
* ReLU6 (EfficientNet-Lite): Captum's DeepLift has no rule for it and guided backprop hooks only
  ``nn.ReLU``. For DeepLift it becomes ``ReLU(x) − ReLU(x − 6)`` (:class:`ReLU6AsReLUs`), whose two
  rescale multipliers add up to exactly ReLU6's own, ``(relu6(x) − relu6(x'))/(x − x')``; for guided
  backprop it becomes :class:`GuidedReLU6`, an ``nn.ReLU`` that computes ReLU6, so the guided rule
  passes the positive gradient where ``0 < x < 6``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR
from torch import nn
from torch.overrides import TorchFunctionMode

HookKind = Literal["deeplift", "guided"]


class PerCall(nn.Module):
    """Runs copy ``k`` of a parameter-free module on its ``k``-th call within one forward pass.

    Args:
        module: a parameter-free leaf module (activation, pooling, dropout, ...).
        uses: how many times it runs per forward pass.

    The counter is reset by a forward pre-hook on the root model (:func:`split_reused_modules`);
    the modulo keeps it safe should a pass ever call it more often.
    """

    def __init__(self, module: nn.Module, uses: int) -> None:
        super().__init__()
        self.copies = nn.ModuleList(copy.deepcopy(module) for _ in range(uses))
        self.calls = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        module = self.copies[self.calls % len(self.copies)]
        self.calls += 1
        return module(*args, **kwargs)


# Nonlinear functions that module hooks cannot see when a forward calls them directly.
_NONLINEAR_FUNCTIONS: dict[Any, str] = {
    F.relu: "relu",
    torch.relu: "relu",
    torch.relu_: "relu",
    torch.Tensor.relu: "relu",
    torch.Tensor.relu_: "relu",
    F.relu6: "relu6",
    F.hardtanh: "hardtanh",
    F.elu: "elu",
    F.leaky_relu: "leaky_relu",
    F.gelu: "gelu",
    F.silu: "silu",
    F.mish: "mish",
    F.hardswish: "hardswish",
    F.hardsigmoid: "hardsigmoid",
    F.softplus: "softplus",
    F.sigmoid: "sigmoid",
    torch.sigmoid: "sigmoid",
    torch.Tensor.sigmoid: "sigmoid",
    F.tanh: "tanh",
    torch.tanh: "tanh",
    torch.Tensor.tanh: "tanh",
    F.max_pool1d: "max_pool",
    F.max_pool2d: "max_pool",
    F.max_pool3d: "max_pool",
    torch.max_pool2d: "max_pool",
}
_ACTIVATION_MODULE = "torch.nn.modules.activation"
_POOLING_MODULE = "torch.nn.modules.pooling"


class _FunctionalNonlinearities(TorchFunctionMode):
    """Records nonlinear functions called outside activation / pooling modules."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 while inside an activation or pooling module
        self.found: set[str] = set()

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if self.depth == 0:
            try:
                name = _NONLINEAR_FUNCTIONS.get(func)
            except TypeError:  # an unhashable callable
                name = None
            if name is not None:
                self.found.add(name)
        return func(*args, **(kwargs or {}))


def count_calls(model: nn.Module, run: Any) -> tuple[Counter[int], set[str]]:
    """One forward pass (``run()``) watched: how often each submodule runs, and functional nonlinearities.

    Returns:
        ``(calls keyed by id(module), names of nonlinear functions called outside activation and
        pooling modules, e.g. {"relu"} for F.relu inside a forward)``.
    """
    counts: Counter[int] = Counter()
    mode = _FunctionalNonlinearities()

    def enter(_module: nn.Module, _inputs: Any) -> None:
        mode.depth += 1

    def leave(_module: nn.Module, _inputs: Any, _output: Any) -> None:
        mode.depth -= 1

    handles = [m.register_forward_hook(lambda module, _i, _o: counts.update([id(module)])) for m in model.modules()]
    for m in model.modules():
        if type(m).__module__ in (_ACTIVATION_MODULE, _POOLING_MODULE):
            handles += [m.register_forward_pre_hook(enter), m.register_forward_hook(leave)]
    try:
        with torch.no_grad(), mode:
            run()
    finally:
        for h in handles:
            h.remove()
    return counts, mode.found


def split_reused_modules(model: nn.Module, run: Any) -> tuple[list[str], set[str]]:
    """Give every reused parameter-free leaf module of ``model`` one copy per use, in place.

    Args:
        model: a runtime copy (``playground.explain.base.runtime_copy``), changed in place.
        run: a function that runs one forward pass through ``model`` (e.g. on the input).

    Returns:
        ``(the dotted names of the modules that were split, the functional nonlinearities seen)``
        (see :func:`count_calls`).
    """
    counts, functional = count_calls(model, run)
    references: dict[int, list[tuple[nn.Module, str, str]]] = {}
    for parent_name, parent in model.named_modules(remove_duplicate=False):
        for child_name, child in parent.named_children():
            full = f"{parent_name}.{child_name}" if parent_name else child_name
            references.setdefault(id(child), []).append((parent, child_name, full))
    split: list[str] = []
    done: set[int] = set()
    for module in list(model.modules()):
        key = id(module)
        uses = counts.get(key, 0)
        is_leaf = next(module.children(), None) is None
        has_params = next(module.parameters(recurse=False), None) is not None
        if uses < 2 or not is_leaf or has_params or key in done or key not in references:
            continue
        dispatcher = PerCall(module, uses)
        for parent, child_name, full in references[key]:
            setattr(parent, child_name, dispatcher)
            split.append(full)
        done.add(key)
    if split:
        dispatchers = [m for m in model.modules() if isinstance(m, PerCall)]

        def reset(_module: nn.Module, _inputs: Any) -> None:
            for d in dispatchers:
                d.calls = 0

        model.register_forward_pre_hook(reset)
    return split, functional


class PrivateInput(nn.Module):
    """Runs ``module`` on a private copy of its input, so hooks on that input see only this use."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.module(x.clone())
        return out


class ReLU6AsReLUs(nn.Module):
    """``ReLU6(x) = ReLU(x) − ReLU(x − 6)``, with two ReLU modules that DeepLift has a rule for."""

    def __init__(self) -> None:
        super().__init__()
        self.low = nn.ReLU()
        self.high = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.low(x.clone()) - self.high(x - 6.0)
        return out


class GuidedReLU6(nn.ReLU):
    """An ``nn.ReLU`` (so guided backprop hooks it) that computes ReLU6."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x)


def _replace_children(
    model: nn.Module, match: Callable[[nn.Module], bool], make: Callable[[nn.Module], nn.Module]
) -> list[str]:
    replaced: list[str] = []
    new: dict[int, nn.Module] = {}
    for parent_name, parent in list(model.named_modules(remove_duplicate=False)):
        for child_name, child in list(parent.named_children()):
            if match(child):
                if id(child) not in new:
                    new[id(child)] = make(child)
                setattr(parent, child_name, new[id(child)])
                replaced.append(f"{parent_name}.{child_name}" if parent_name else child_name)
    return replaced


def prepare_for_hooks(model: nn.Module, run: Callable[[], Any], kind: HookKind) -> tuple[list[str], set[str]]:
    """Make a runtime copy safe for DeepLift (``"deeplift"``) or guided backprop (``"guided"``), in place.

    Splits reused parameter-free modules (one dry forward pass through ``run``), rewrites ReLU6 as
    described in the module docstring and gives every hooked activation a private input.

    Returns:
        ``(the dotted names of the modules that were split or rewritten, the nonlinear functions the
        forward pass calls outside modules)``: the hooks cannot reach the latter, so a caller
        should refuse to run when there are any.
    """
    changed, functional = split_reused_modules(model, run)
    if kind == "deeplift":
        changed += _replace_children(model, lambda m: type(m) is nn.ReLU6, lambda _m: ReLU6AsReLUs())

        def hooked(m: nn.Module) -> bool:
            return type(m) in SUPPORTED_NON_LINEAR
    else:
        changed += _replace_children(model, lambda m: type(m) is nn.ReLU6, lambda _m: GuidedReLU6())

        def hooked(m: nn.Module) -> bool:
            return isinstance(m, nn.ReLU)

    # Wrap after the rewrites; ReLU6AsReLUs already gives its ReLUs their own inputs.
    private = {id(m) for r in model.modules() if isinstance(r, ReLU6AsReLUs) for m in (r.low, r.high)}
    _replace_children(model, lambda m: hooked(m) and id(m) not in private, PrivateInput)
    return changed, functional
