"""Deep Learning Playground: entry point.

``streamlit run app.py``. Sets the page config, draws the shared sidebar (device, active model)
and runs the page picked in the navigation. Pages live in ``pages/``; the logic in ``playground/``.
"""

import streamlit as st

from playground.bundle import default_runs_dir
from ui.charts import figure_pack_button, start_page_figures
from ui.links import share_box, start_page_links, stop_page_links, write_model_param
from ui.pages import mark_app_entry, navigation, set_page_config
from ui.presentation import display_settings, pinned_controls
from ui.seq2seq_train import seq2seq_status
from ui.state import (
    active_model,
    card_facts,
    count_forwards_once,
    device_label,
    finalize_job,
    keep_widget_state,
    reclaim_memory_once,
    recover_runs_once,
    show_flash,
)

set_page_config()

recover_runs_once(str(default_runs_dir()))  # once per server: what saves killed with the last server left
reclaim_memory_once()  # once per server: a garbage collection every 30 s instead of after every rerun
count_forwards_once()  # bench/bench_app.py counts forward passes (only with PLAYGROUND_FORWARD_COUNT_FILE set)
keep_widget_state()
show_flash()
page = navigation()
figures = start_page_figures()  # the charts this run draws, for the sidebar's figure pack

with st.sidebar:
    st.caption(f"Device: **{device_label()}**")
    model_title = ""
    try:
        active = active_model()
        model_title = active.bundle.title
        facts = card_facts(active.bundle)
        st.markdown(f"**Active model**  \n{active.bundle.title}")
        st.caption(f"{facts['parameters']} parameters · input {facts['input']} · {active.origin}")
        write_model_param(active.link)
        if active.link is None:
            st.caption(":material/link_off: This model cannot travel in a link (an upload or random weights).")
    except Exception as exc:  # the page edge: show, never crash the whole app
        st.error(f"The default model could not be loaded: {exc}")

    job = st.session_state.get("job")
    if job is not None:
        st.caption(f"Training: **{job.status}**")
        finalize_job()  # a run that ended while this page was open is saved here
    elif (status := seq2seq_status()) is not None:
        st.caption(f"Training (string task): **{status}**")
    display_settings()
    figure_pack_button(figures, page.title, model_title)
    share_slot = st.container()  # filled after the page ran: the link then holds the page's settings

pins_slot = st.container()  # presentation mode: the page's controls, folded away but for the pinned ones
mark_app_entry()
controls = start_page_links()
try:
    page.run()
finally:  # also when the page stops early (st.stop)
    stop_page_links()
    with pins_slot:
        pinned_controls(page.url_path, controls)
    with share_slot:
        share_box(page.url_path)
