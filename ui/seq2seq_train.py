"""The Train page's "String tasks" section: ``transformer_seq2seq`` on reverse / sort / copy / add.

A generated task, a few settings (defaults: the task's smallest reliable run), training in a
background job with a progress bar and live curves, then the saved checkpoint as the active model,
ready for the Attention page's cross-attention view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from playground.bundle import Bundle
from playground.bundle.runs import new_run_folder
from playground.modalities.seq2seq.tasks import TASKS, make_examples
from playground.runner.jobs import BackgroundJob
from playground.training.seq2seq import TASK_DEFAULTS, train_seq2seq
from ui.state import set_active_model, show_error

TASK_TITLES = {
    "reverse": "reverse (12345 → 54321)",
    "sort": "sort (31425 → 12345)",
    "copy": "copy (12345 → 12345)",
    "add": "add (123+45 → 168)",
}
JOB_KEY = "s2s_job"


def _work(task: str, settings: dict[str, Any], history: list[dict[str, Any]]) -> Callable[..., Bundle]:
    def work(report: Callable[[int, int, str], None], stop: threading.Event) -> Bundle:
        epochs = int(settings["epochs"])

        def on_epoch(record: dict[str, Any]) -> None:
            history.append(dict(record))  # the page reads a copy; appends are atomic in CPython
            report(int(record["epoch"]), epochs, f"val token accuracy {record['val_token_accuracy']:.3f}")

        bundle = train_seq2seq(task, on_epoch=on_epoch, stop_event=stop, **settings)
        bundle.save(new_run_folder(bundle))
        return bundle

    return work


def seq2seq_section() -> None:
    """Task, settings, Start / Stop, progress and the result."""
    st.caption(
        "A tiny encoder-decoder transformer (Vaswani et al. 2017) learns a string task from generated examples; "
        "its decoder's cross-attention then shows which source character each output character reads."
    )
    task = st.selectbox("Task", list(TASKS), format_func=TASK_TITLES.get, key="s2s_task")
    defaults = TASK_DEFAULTS[task]
    examples = make_examples(task, 5, seed=7, max_length=defaults.max_length, alphabet=defaults.alphabet)
    st.dataframe(pd.DataFrame(examples, columns=["source", "target"]), hide_index=True)
    c1, c2, c3 = st.columns(3)
    epochs = int(c1.number_input("Epochs", 1, 200, defaults.epochs, key=f"s2s_epochs_{task}"))
    num_examples = int(
        c2.number_input("Training examples", 100, 100_000, defaults.num_examples, step=500, key=f"s2s_n_{task}")
    )
    lr = float(
        c3.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2], defaults.lr, key=f"s2s_lr_{task}")
    )
    job: BackgroundJob[Bundle] | None = st.session_state.get(JOB_KEY)
    running = job is not None and job.status in ("pending", "running")
    if st.button("Start training", type="primary", disabled=running, key="s2s_start", icon=":material/play_arrow:"):
        history: list[dict[str, Any]] = []
        settings = {"epochs": epochs, "num_examples": num_examples, "lr": lr}
        job = BackgroundJob(_work(task, settings, history), name=f"seq2seq-{task}").start()
        st.session_state[JOB_KEY] = job
        st.session_state["s2s_history"] = history
        running = True
    if job is not None:
        _progress(running)


@st.fragment(run_every=1.0)
def _progress(running: bool) -> None:
    job: BackgroundJob[Bundle] | None = st.session_state.get(JOB_KEY)
    if job is None:
        return
    done, total, message = job.progress
    history = list(st.session_state.get("s2s_history", []))
    if job.status in ("pending", "running"):
        st.progress(done / total if total else 0.0, text=f"epoch {done}/{total or '?'} · {message}")
        if st.button("Stop", key="s2s_stop", icon=":material/stop:"):
            job.stop()
    if history:
        frame = pd.DataFrame(history).set_index("epoch")
        st.line_chart(frame[["val_token_accuracy", "val_sequence_accuracy"]], height=220)
    if job.status == "failed":
        show_error(job.error or RuntimeError(job.error_message), "train the seq2seq model")
    elif job.status in ("done", "stopped") and job.result is not None:
        bundle = job.result
        metrics = bundle.card.metrics
        st.success(
            f"{bundle.title}: validation token accuracy {metrics.get('val_token_accuracy', float('nan')):.3f}, "
            f"whole strings right {metrics.get('val_sequence_accuracy', float('nan')):.1%}. Saved under runs/.",
            icon=":material/check_circle:",
        )
        if st.button("Use this model (then open the Attention page)", key="s2s_use", type="primary"):
            set_active_model(bundle, "trained on the Train page")
    if running and job.status not in ("pending", "running"):
        st.rerun()  # the whole page: the Start button is enabled again
