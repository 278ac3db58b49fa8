"""Count model forward passes in this process: the benchmark's check that a display-only change runs none.

A forward pass is a call of an outermost ``nn.Module`` that holds parameters (one not called from
inside another such module's forward on the same thread): ``model(x)`` counts once, however many
layers it runs; a transform without parameters (torchvision's ``Resize``, a spectrogram) is not a
model and does not count. Installed
through torch's global module hooks, so it sees every model of every session without touching
them. Off unless asked for: the app installs it only when ``PLAYGROUND_FORWARD_COUNT_FILE`` names a
file, and then writes the running total there after each pass, for ``bench/bench_app.py`` to read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from torch import nn

ENV_VAR = "PLAYGROUND_FORWARD_COUNT_FILE"


class ForwardCounter:
    """Counts outermost module calls on every thread; ``count`` is the total so far.

    Args:
        path: where to write the total after each pass (``None``: keep it in memory only).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.count = 0
        self.path = path
        self._depth = threading.local()  # the module calls open on each thread
        self._lock = threading.Lock()
        self._handles: list[Any] = []

    def install(self) -> ForwardCounter:
        """Register the global hooks (every module, every thread); returns ``self``."""
        self._handles = [
            nn.modules.module.register_module_forward_pre_hook(self._enter),
            # always_call: a forward that raises still closes its level
            nn.modules.module.register_module_forward_hook(self._leave, always_call=True),
        ]
        return self

    def remove(self) -> None:
        """Unregister the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _enter(self, module: nn.Module, args: Any) -> None:
        # per thread: one flag per open module call (does it hold parameters?), and how many of them do
        if not hasattr(self._depth, "stack"):
            self._depth.stack, self._depth.open = [], 0
        has_parameters = next(module.parameters(), None) is not None
        self._depth.stack.append(has_parameters)
        if has_parameters:
            if self._depth.open == 0:
                with self._lock:
                    self.count += 1
                    if self.path is not None:
                        self.path.write_text(str(self.count))
            self._depth.open += 1

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        stack = getattr(self._depth, "stack", None)
        if stack and stack.pop():
            self._depth.open -= 1


def install_from_env() -> ForwardCounter | None:
    """Install a counter writing to ``$PLAYGROUND_FORWARD_COUNT_FILE`` when it is set; else ``None``."""
    target = os.environ.get(ENV_VAR)
    if not target:
        return None
    path = Path(target)
    path.write_text("0")
    return ForwardCounter(path).install()
