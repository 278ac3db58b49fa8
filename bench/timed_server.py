"""``streamlit`` with a log of every script run, as the server sees it (for ``bench_load.py``).

    PLAYGROUND_RUN_LOG=runs.jsonl .venv/bin/python bench/timed_server.py run app.py [streamlit options]

The same server as ``python -m streamlit``, with two of Streamlit's own methods wrapped: when a
session's rerun request arrives (``AppSession.handle_backmsg``, a ``rerun_script`` message) and when
one of its runs ends (``AppSession._enqueue_forward_msg``, a ``script_finished`` message), one JSON
line goes to ``$PLAYGROUND_RUN_LOG``: ``{"session": id, "event": "request" | "finished", "t": unix
seconds, "status": script_finished status}``, and one line per full garbage collection
(``{"event": "gc", "t": ..., "seconds": its length}``: the whole process waits for it). The benchmark reads it to time an action from the
moment its request reached the server to the end of its run, without the browser's share of the
machine in it (the browsers run on the same two cores here, on the students' machines in a class).
A benchmark helper: the app never imports it.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.app_session import AppSession
from streamlit.web.cli import main

_LOG = open(os.environ["PLAYGROUND_RUN_LOG"], "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (for the process's life)
_LOCK = threading.Lock()  # runs end on their own threads
_handle_backmsg = AppSession.handle_backmsg
_enqueue_forward_msg = AppSession._enqueue_forward_msg


def _write(session: AppSession, event: str, **fields: Any) -> None:
    line = json.dumps({"session": session.id, "event": event, "t": time.time(), **fields})
    with _LOCK:
        _LOG.write(line + "\n")


def handle_backmsg(self: AppSession, msg: BackMsg) -> None:
    if msg.WhichOneof("type") == "rerun_script":
        _write(self, "request", fragment=bool(msg.rerun_script.fragment_id))
    _handle_backmsg(self, msg)


def enqueue_forward_msg(self: AppSession, msg: ForwardMsg) -> None:
    _enqueue_forward_msg(self, msg)
    if msg.WhichOneof("type") == "script_finished":
        _write(self, "finished", status=int(msg.script_finished))


_gc_started = 0.0


def on_gc(phase: str, info: dict[str, int]) -> None:
    """Log each full collection (generation 2) with its length: every session waits while it runs."""
    global _gc_started
    if info["generation"] != 2:
        return
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        line = json.dumps({"event": "gc", "t": time.time(), "seconds": round(time.perf_counter() - _gc_started, 4)})
        with _LOCK:
            _LOG.write(line + "\n")


gc.callbacks.append(on_gc)
AppSession.handle_backmsg = handle_backmsg  # type: ignore[method-assign]
AppSession._enqueue_forward_msg = enqueue_forward_msg  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(prog_name="streamlit"))
