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


def test_presentation_mode_folds_the_controls_but_the_pinned(app_server: App, page: Page) -> None:
    open_link(page, app_server, "pages/features.py", 'present=1&pin_features=["f_scale"]')
    assert page.locator(".st-key-f_scale").is_visible()
    assert not page.locator(".st-key-f_layer").is_visible() and not page.locator(".st-key-f_order").is_visible()
    assert page.locator(".st-key-f_layer").count() == 1  # folded away, not gone: the page still reads it
    page.locator('[data-testid="stExpander"] summary').filter(has_text="Controls: 1 pinned").click()
    page.locator(".st-key-pin_show_all label").click()
    wait_idle(page)
    # The hiding style is replaced at the end of the rerun: wait for it rather than read at once.
    page.locator(".st-key-f_layer").wait_for(state="visible", timeout=30_000)
    assert page.locator(".st-key-f_layer").is_visible() and "pin_show_all=1" in page.url


#: In the dark theme: chart backgrounds that are light (opaque, luminance > 0.8) and markers whose
#: fill and outline are both near-black (luminance < 0.1): either leaves a label or a marker unreadable.
DARK_THEME_MISFITS = """() => {
  const luminance = c => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1].split(',').map(Number);
    return a === 0 ? null : (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const out = {backgrounds: 0, marks: 0, light_backgrounds: [], dark_marks: []};
  document.querySelectorAll('[data-testid="stPlotlyChart"] svg rect.bg').forEach(r => {
    const s = getComputedStyle(r);
    out.backgrounds += 1;
    const l = parseFloat(s.fillOpacity) === 0 ? null : luminance(s.fill);
    if (l !== null && l > 0.8) out.light_backgrounds.push(s.fill);
  });
  document.querySelectorAll('[data-testid="stPlotlyChart"] svg .scatterlayer path.point').forEach(p => {
    const s = getComputedStyle(p);
    out.marks += 1;
    const shown = [[s.fill, s.fillOpacity], [s.stroke, s.strokeOpacity]]
      .map(([colour, opacity]) => (parseFloat(opacity) === 0 || colour === 'none' ? null : luminance(colour)))
      .filter(l => l !== null);
    if (shown.length && shown.every(l => l < 0.1)) out.dark_marks.push(s.fill);  // a readable outline is enough
  });
  return out;
}"""


def test_charts_read_in_the_dark_theme(app_server: App, page: Page, shoot: Shoot) -> None:
    page.emulate_media(color_scheme="dark")  # Streamlit's default theme follows the system's
    backgrounds = marks = 0
    for script, query in [
        ("pages/attention.py", "model=checkpoint:vit_tiny-mnist&at_view=head"),
        ("pages/attention.py", "model=checkpoint:vit_tiny-mnist&at_view=formula"),
        ("pages/rnn_states.py", PAGE_LINKS["pages/rnn_states.py"]),
        ("pages/learn.py", ""),
    ]:
        open_link(page, app_server, script, query)
        found = page.evaluate(DARK_THEME_MISFITS)
        assert found["light_backgrounds"] == [] and found["dark_marks"] == [], f"{script}?{query}: {found}"
        backgrounds += found["backgrounds"]
        marks += found["marks"]
        shoot(page, f"dark_{Path(script).stem}_{query.rsplit('=', 1)[-1][:8]}")
    assert backgrounds > 10 and marks > 20  # charts were drawn and their colours read
