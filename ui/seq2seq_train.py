"""The Train page's "String tasks" section: ``transformer_seq2seq`` on reverse / sort / copy / add.

A generated task, a few settings (defaults: the task's smallest reliable run), training in a worker
process (a run folder under the runs directory, like every other run: it keeps going through a
reload and shows on the Runs page) with a progress bar and live curves, then the saved checkpoint
as the active model, ready for the Attention page's cross-attention view.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from playground.bundle import default_runs_dir, load_bundle
from playground.modalities.seq2seq.tasks import TASKS, make_examples
from playground.runner.folder import RunFolder
from playground.runner.launcher import start_run, stop_run
from playground.runner.spec import SEQ2SEQ_MODEL, RunSpec
from playground.training.seq2seq import TASK_DEFAULTS
from ui.links import model_link
from ui.state import set_active_model, show_error

TASK_TITLES = {
    "reverse": "reverse (12345 → 54321)",
    "sort": "sort (31425 → 12345)",
    "copy": "copy (12345 → 12345)",
    "add": "add (123+45 → 168)",
}
RUN_KEY = "s2s_run"  # the run folder's path; the folder is the truth, never a thread object
LIVE = ("queued", "running")


def seq2seq_section() -> None:
    """Task, settings, Start / Stop, progress and the result."""
    st.caption(
        "A tiny encoder-decoder transformer (Vaswani et al. 2017) learns a string task from generated examples; "
        "its decoder's cross-attention then shows which source character each output character reads."
    )
    task = st.selectbox("Task", list(TASKS), format_func=TASK_TITLES.get, key="s2s_task")
    defaults = TASK_DEFAULTS[task]
    examples = make_examples(task, 5, seed=7, max_length=defaults.max_length, alphabet=defaults.alphabet)
    st.dataframe([{"source": source, "target": target} for source, target in examples], hide_index=True)
    c1, c2, c3 = st.columns(3)
    epochs = int(c1.number_input("Epochs", 1, 200, defaults.epochs, key=f"s2s_epochs_{task}"))
    num_examples = int(
        c2.number_input("Training examples", 100, 100_000, defaults.num_examples, step=500, key=f"s2s_n_{task}")
    )
    lr = float(
        c3.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2], defaults.lr, key=f"s2s_lr_{task}")
    )
    run = _run()
    running = run is not None and str(run.status().get("status")) in LIVE
    if st.button("Start training", type="primary", disabled=running, key="s2s_start", icon=":material/play_arrow:"):
        try:
            spec = RunSpec.resolve(SEQ2SEQ_MODEL, task, epochs=epochs, num_examples=num_examples, lr=lr)
            run = start_run(spec, default_runs_dir())
        except (ValueError, OSError) as exc:
            show_error(exc, "start training")
            return
        st.session_state[RUN_KEY] = str(run.path)
        st.session_state.job = None  # the sidebar shows this run's status now, not an earlier run's
        running = True
    if run is not None:
        _progress(running)


def seq2seq_status() -> str | None:
    """The status of this session's string-task run (``"running"``, ``"done"`` ...), if it started one."""
    run = _run()
    return None if run is None else str(run.status().get("status"))


def _run() -> RunFolder | None:
    path = st.session_state.get(RUN_KEY)
    return RunFolder(Path(path)) if path and Path(path).is_dir() else None


@st.fragment(run_every=1.0)
def _progress(running: bool) -> None:
    run = _run()
    if run is None:
        return
    state = run.status()
    status = str(state.get("status"))
    if status in LIVE:
        progress = next((r for r in reversed(run.metrics()) if r.get("type") == "progress"), None)
        total = int(progress["total"]) if progress else 0
        done = int(progress["done"]) if progress else 0
        text = f"epoch {done}/{total} · {progress['message']}" if progress else "starting the worker process…"
        if status == "queued":
            text = f"queued ({run.queue_position() or '?'} in line): one run trains at a time on this machine"
        st.progress(done / total if total else 0.0, text=text)
        if st.button("Stop", key="s2s_stop", icon=":material/stop:"):
            stop_run(run)
        st.caption(f"Run folder: `{run.path}`: it keeps training if you leave or reload this page.")
    history = run.epochs()
    if history:  # rows as they are: this module is imported on every start, and pandas costs ~0.15 s there
        st.line_chart(history, x="epoch", y=["val_token_accuracy", "val_sequence_accuracy"], height=220)
    checkpoint = run.checkpoint()
    if status == "failed":
        show_error(
            RuntimeError(f"{state.get('error', 'the worker stopped')}\n{run.log_tail(5)}"), "train the seq2seq model"
        )
    elif status in ("done", "stopped") and checkpoint is not None:
        metrics = state.get("metrics") or {}
        st.success(
            f"{run.spec().dataset}: validation token accuracy {metrics.get('val_token_accuracy', float('nan')):.3f}, "
            f"whole strings right {metrics.get('val_sequence_accuracy', float('nan')):.1%}. Saved in `{checkpoint}`.",
            icon=":material/check_circle:",
        )
        if st.button("Use this model (then open the Attention page)", key="s2s_use", type="primary"):
            set_active_model(
                load_bundle(checkpoint), f"trained on the Train page ({run.name})", model_link("checkpoint", run.name)
            )
    if running and status not in LIVE:
        st.rerun()  # the whole page: the Start button is enabled again
