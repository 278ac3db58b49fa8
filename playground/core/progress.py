"""The one progress convention of long-running library work (training, sweeps, explanations, jobs).

``on_progress(done, total, message)``: ``done`` of ``total`` units finished (batches, examples,
forward-pass examples, methods), ``message`` a short line for a progress bar; a ``stop_event``
(``threading.Event``) passed next to it stops the work at its next unit.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``on_progress(done, total, message)``.
ProgressCallback = Callable[[int, int, str], None]
