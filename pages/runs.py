"""Runs: every training run of the runs folder, live or finished, read from its folder.

Runs train in worker processes (playground.runner), so this page survives reloads, new tabs and
server restarts: it lists what the folders say. Select runs to overlay their curves and compare
their settings; select one to stop it, use it, download it or delete it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from playground.bundle import default_runs_dir, load_bundle
from playground.figures.training import runs_comparison_figure
from playground.runner.folder import RunFolder, list_runs
from playground.runner.launcher import schedule, stop_run
from playground.runner.overview import checkpoint_zip, delete_run, run_row, settings_table
from ui.charts import plotly_chart
from ui.links import model_link
from ui.pages import ensure_app_entry
from ui.state import set_active_model, show_error

ensure_app_entry()
st.title("Runs")
runs_dir = default_runs_dir()
st.caption(
    f"Every training run in `{runs_dir}`. Each one trains in a process of its own: leaving or reloading "
    "the page does not stop it. Select runs in the table to compare them."
)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"


LIVE = ("queued", "running")


def _any_live(runs: list[RunFolder]) -> bool:
    """Whether a run is queued or training (a folder whose spec cannot be read is not)."""
    for run in runs:
        try:
            if run_row(run).status in LIVE:
                return True
        except ValueError:
            continue
    return False


# Redrawn every 2 s while a run is queued or training, and not at all when none is: a redraw dims
# the page for a moment (an open "Delete…" question faded every 2 s) and costs the server a rerun.
POLLING = _any_live(list_runs(runs_dir))


@st.fragment(run_every=2.0 if POLLING else None)
def runs_view() -> None:
    """The table and what is selected in it (only reads files); stops polling after the last live run."""
    live = draw_runs()
    # Last, after the page's own buttons: a click handled in this run must not be lost to the rerun.
    if POLLING and not live:
        st.rerun()  # the last live run ended: redraw once, then stop polling


def draw_runs() -> bool:
    """The table and what is selected in it; returns whether a run in the table is queued or training."""
    schedule(runs_dir)  # start queued runs whose turn has come (a worker that ended may not have)
    runs = list_runs(runs_dir)
    if not runs:
        st.info("No runs yet: start one on the Train page.", icon=":material/model_training:")
        st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
        return False
    rows, readable, live = [], [], False
    for run in runs:
        try:
            row = run_row(run)
        except ValueError:
            continue  # a folder with an unreadable spec.json is not a run this page can show
        readable.append(run)
        live = live or row.status in LIVE
        status = row.status + (f" (#{row.queue_position} in queue)" if row.queue_position else "")
        rows.append(
            {
                "run": row.title,
                "status": status,
                "progress": row.progress,
                "ETA": _eta(row.eta_s),
                "epochs": row.epochs,
                "val accuracy": row.val_accuracy,
                "started": row.started.replace("T", " ").removesuffix("+00:00"),
                "folder": row.name,
            }
        )
    event = st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="r_table",
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "val accuracy": st.column_config.NumberColumn(format="percent"),
        },
    )
    chosen = [readable[i] for i in event.selection.rows if i < len(readable)]  # type: ignore[attr-defined]
    if not chosen:
        st.caption("Select one run to act on it, several to compare them.")
        return live
    histories = {f"{r.spec().title} ({r.name[-6:]})": r.epochs() for r in chosen}
    if any(histories.values()):
        plotly_chart(runs_comparison_figure(histories), key="r_curves")
    if len(chosen) > 1:
        table, differing = settings_table(chosen)
        frame = pd.DataFrame(table, index=[r.name for r in chosen]).T.astype(str)
        st.markdown(f"**Settings** ({len(differing)} differ, highlighted)")
        st.dataframe(
            frame.style.apply(
                lambda row: ["background-color: #fde2a7" if row.name in differing else "" for _ in row], axis=1
            ),
            key="r_settings",
        )
    else:
        actions(chosen[0])
    return live


def actions(run: RunFolder) -> None:
    """Stop, use, download or delete one run."""
    row = run_row(run)
    if row.error:
        st.error(f"{row.title} failed: {row.error}", icon=":material/error:")
        tail = run.status().get("log_tail") or run.log_tail(10)
        if tail:
            st.code(tail, language=None)
    c1, c2, c3, c4 = st.columns(4)
    if row.status in ("queued", "running"):
        label = "Cancel" if row.status == "queued" else "Stop"
        if c1.button(label, icon=":material/stop:", key="r_stop"):
            st.toast(f"{row.title}: {stop_run(run)}")
    checkpoint = run.checkpoint()
    if checkpoint is not None:
        if c2.button("Use as the active model", type="primary", key="r_use"):
            try:
                bundle = load_bundle(checkpoint)
            except ValueError as exc:
                show_error(exc, "load the checkpoint")
            else:
                set_active_model(bundle, f"run {run.name}", model_link("checkpoint", run.name))  # reruns the app
        c3.download_button(
            "Download checkpoint (.zip)",
            data=lambda: checkpoint_zip(run),
            file_name=f"{run.name}.zip",
            mime="application/zip",
            key="r_zip",
            on_click="ignore",
        )
    if row.status not in ("queued", "running"):
        with c4.popover("Delete…", icon=":material/delete:"):  # asks first: a deleted run cannot come back
            st.markdown(f"Delete **{row.title}** (`{run.name}`): its checkpoint, curves and log?")
            if st.button("Delete for good", type="primary", key="r_delete"):
                try:
                    delete_run(run)
                except (ValueError, OSError) as exc:
                    show_error(exc, "delete the run")
                else:
                    st.toast(f"Deleted {run.name}")
                    st.rerun()


runs_view()
