"""The classroom in the browser: presentation mode reads on a projector, and F5 restores the view.

One server and one browser for the module (conftest.py). Fonts are measured as Chromium draws
them: the computed ``font-size`` of every visible text element of every Plotly chart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from harness import MAIN, App, open_page, page_problems, page_url, wait_idle, wait_page, wait_rendered
from playwright.sync_api import Page

pytestmark = pytest.mark.e2e
Shoot = Callable[[Page, str], Path]

#: Each page with a link that gives it something to draw (an RNN, a transformer).
PAGE_LINKS: dict[str, str] = {
    "pages/home.py": "",
    "pages/learn.py": "",
    "pages/models.py": "",
    "pages/train.py": "",
    "pages/runs.py": "",
    "pages/predict.py": "",
    "pages/features.py": "",
    "pages/rnn_states.py": "model=checkpoint:lstm-brackets&rs_input_text=(()(()))",
    "pages/attention.py": "model=checkpoint:vit_tiny-mnist",
    "pages/explain.py": "",
    "pages/robustness.py": "",
    "pages/compare.py": "model=checkpoint:lenet5-mnist&cmp_model=checkpoint:vit_tiny-mnist",
}
CHART_TEXT_FONTS = """() => {
  const sizes = [];
  document.querySelectorAll('[data-testid="stPlotlyChart"] svg text, [data-testid="stPlotlyChart"] svg tspan').forEach(t => {
    const box = t.getBoundingClientRect();
    if (!t.textContent.trim() || box.width === 0) return;  // empty or hidden text is not projected
    sizes.push([parseFloat(getComputedStyle(t).fontSize), t.textContent.slice(0, 30)]);
  });
  return sizes;
}"""


def open_link(page: Page, app: App, script: str, query: str) -> None:
    url = page_url(app, script, default=script == "pages/home.py")
    open_page(page, f"{url}?{query}" if query else url)
    wait_rendered(page, timeout_s=60)
    wait_idle(page)


@pytest.mark.parametrize("viewport", [(1920, 1080), (1280, 720)], ids=["1920x1080", "1280x720"])
def test_presentation_mode_has_no_chart_label_under_18_px(
    app_server: App, page: Page, shoot: Shoot, viewport: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    texts = 0
    # Every page at 1920x1080; at 1280x720 the pages with the most chart kinds (fonts do not depend
    # on the width, and each page visit costs the suite ~5 s).
    small = ("pages/predict.py", "pages/features.py", "pages/attention.py", "pages/learn.py")
    for script, query in PAGE_LINKS.items():
        if viewport != (1920, 1080) and script not in small:
            continue
        open_link(page, app_server, script, "&".join(q for q in (query, "present=1") if q))
        assert page_problems(page) == [], f"{script}: {page_problems(page)}"
        root_px = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert root_px == 22, script  # Streamlit's text (sized in rem) is larger too
        sizes = page.evaluate(CHART_TEXT_FONTS)
        small = [s for s in sizes if s[0] < 18]
        assert small == [], f"{script}: {small[:5]}"
        texts += len(sizes)
        if viewport == (1920, 1080):
            shoot(page, f"present_{Path(script).stem}")
    assert texts > (200 if viewport == (1920, 1080) else 100)  # the pages drew their charts: real labels measured


#: A link per page whose settings are not the defaults, and how the restored page shows them.
RESTORED: list[tuple[str, str, str, str]] = [
    # (page, query, a CSS selector on the page, the text it must contain)
    ("pages/predict.py", "model=checkpoint:lenet5-mnist&predict_top_k=3", '[data-testid="stSlider"]', "3"),
    ("pages/features.py", "f_scale=shared", '[data-testid="stRadio"] label:has(input:checked)', "one for all"),
    (
        "pages/rnn_states.py",
        "model=checkpoint:lstm-brackets&rs_input_text=(()())&rs_unit=5",
        '[data-testid="stNumberInput"]',
        "5",
    ),
    (
        "pages/attention.py",
        "model=checkpoint:vit_tiny-mnist&at_view=rollout",
        '[data-testid="stRadio"] label:has(input:checked)',
        "ollout",
    ),
    ("pages/robustness.py", "r_pert=gaussian_blur", '[data-testid="stSelectbox"]', "blur"),
    ("pages/explain.py", "x_method=saliency", '[data-testid="stSelectbox"]', "Saliency"),
    ("pages/train.py", "t_dataset=digits", '[data-testid="stSelectbox"]', "digits"),
    ("pages/models.py", "m_arch=resnet18", '[data-testid="stSelectbox"]', "resnet18"),
]


def widget_texts(page: Page, selector: str) -> list[str]:
    """The text of each widget ``selector`` finds, with the value of its inputs (a select box shows
    its choice in an ``<input>``, which is not text)."""
    return page.evaluate(
        """sel => Array.from(document.querySelectorAll(sel)).map(w =>
            w.innerText + ' ' + Array.from(w.querySelectorAll('input')).map(i => i.value).join(' '))""",
        selector,
    )


@pytest.mark.parametrize(("script", "query", "selector", "shown"), RESTORED, ids=[r[0] for r in RESTORED])
def test_f5_restores_the_model_and_settings(
    app_server: App, page: Page, script: str, query: str, selector: str, shown: str
) -> None:
    open_link(page, app_server, script, query)
    for _ in range(2):  # as opened from the link, then after F5
        assert page_problems(page) == [], f"{script}: {page_problems(page)}"
        assert any(shown in t for t in widget_texts(page, selector)), f"{script}: {shown!r} not shown"
        for pair in query.split("&"):
            assert pair in unquote(page.url), f"{script}: {pair} dropped from {page.url}"
        if "model=checkpoint" in query:
            sidebar = page.locator('[data-testid="stSidebarUserContent"]').inner_text()
            assert query.split("model=checkpoint:")[1].split("-")[0].split("&")[0] in sidebar, sidebar
        page.reload(wait_until="domcontentloaded")
        wait_page(page)


def test_a_choice_made_on_the_page_survives_f5(app_server: App, page: Page) -> None:
    open_link(page, app_server, "pages/features.py", "")
    page.locator('[data-testid="stRadio"] label').filter(has_text="strongest mean activation").click()
    wait_idle(page)
    assert "f_order=strongest" in page.url
    page.reload(wait_until="domcontentloaded")
    wait_page(page)
    checked = page.locator(f'{MAIN} [data-testid="stRadio"] label:has(input:checked)').all_inner_texts()
    assert any("strongest mean activation" in c for c in checked), checked


def test_the_share_box_gives_a_link_that_opens_the_same_view_in_another_tab(app_server: App, page: Page) -> None:
    open_link(page, app_server, "pages/features.py", "")
    page.locator('[data-testid="stRadio"] label').filter(has_text="one for all").click()
    wait_idle(page)
    page.get_by_role("button", name="Share this view").click()
    shared = page.locator('[data-testid="stPopoverBody"] code').first.inner_text().strip()
    assert shared.startswith(app_server.url + "/features?") and "f_scale=shared" in shared, shared
    student = page.context.new_page()  # another tab: a new session, as a student's browser
    try:
        open_link(student, app_server, "pages/features.py", shared.split("?", 1)[1])
        checked = student.locator(f'{MAIN} [data-testid="stRadio"] label:has(input:checked)').all_inner_texts()
        assert any("one for all" in c for c in checked), checked
    finally:
        student.close()
