"""Take the README screenshot and a screenshot of every page, with the browser test's harness.

    .venv/bin/python scripts/screenshots.py                             # docs/screenshot.png only
    .venv/bin/python scripts/screenshots.py --out /tmp/shots            # ... and every page into /tmp/shots
    .venv/bin/python scripts/screenshots.py --readme '' --out /tmp/shots  # the pages only

Starts the app headless (saved runs go to a temporary folder), opens each page of ``ui.pages.PAGES``
in Debian's Chromium at 1280×900 and, with ``--out``, writes ``<page>.png`` (the full page) there. The README
image is the Predict page on the shipped tabby-cat photo with the default EfficientNet-Lite0,
cropped below its last element. Needs ``chromium`` on PATH (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]  # the app's packages and the shared harness

from harness import MAIN, full_screenshot, launch_browser, open_page, page_problems, page_url, start_app  # noqa: E402

from ui.pages import PAGES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for a screenshot of every page")
    parser.add_argument(
        "--readme",
        type=Path,
        default=ROOT / "docs" / "screenshot.png",
        help="where the README screenshot goes ('' to skip it)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="playground-shots-") as tmp:
        work = Path(tmp)
        toolbar = ["--client.toolbarMode", "viewer"]  # no "Deploy" button in the pictures
        with start_app(work / "runs", work, extra_args=toolbar) as app, launch_browser(work / "profile") as browser:
            page = browser.new_page()
            if str(args.readme) not in ("", "."):
                open_page(page, page_url(app, "pages/predict.py"))
                page.locator(f"{MAIN} h3").first.wait_for()  # "<sample>: <label> (<probability>)"
                problems = page_problems(page)
                if problems:
                    raise SystemExit(f"error: the Predict page shows errors: {problems}")
                full_screenshot(page, args.readme, crop=True)
                print(f"wrote {args.readme}: {page.locator(f'{MAIN} h3').first.inner_text()}")
            for entry in PAGES if args.out is not None else []:
                open_page(page, page_url(app, entry.path, entry.default))
                shot = full_screenshot(page, args.out / f"{Path(entry.path).stem}.png")
                problems = page_problems(page)
                print(f"wrote {shot}" + (f"  (shows errors: {problems})" if problems else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
