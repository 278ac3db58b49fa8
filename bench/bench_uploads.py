"""Does an upload stay in the server's memory? RSS before, during and after uploads, in Chromium.

    .venv/bin/python bench/bench_uploads.py [--rounds 3] [--megabytes 40] [--json]

Starts the app (``streamlit run app.py`` with ``.streamlit/config.toml``, as ``tests/e2e`` does) and
headless Chromium, opens Predict with "Upload" in a tab and, ``--rounds`` times:

1. uploads a ``--megabytes`` MB BMP photo (below the image uploader's 50 MiB limit): the page
   predicts it; then picks "Sample photo" again, so the uploader and its file leave the page;
2. offers a 60 MiB file to the same uploader: the browser refuses it (over ``upload_limit_mb("image")``)
   and the server never receives it.

The server's RSS (``VmRSS``) is read after each step; at the end the tab is closed and the RSS
read again once the session is gone (``server.disconnectedSessionTTL`` + 15 s). The issue's
requirement: a refused or finished upload does not stay in server memory. RSS seldom falls back
to its start (glibc keeps freed arenas for reuse), so the measure of "held" is whether the rounds
add up: round k's RSS after the upload has left should not grow with k. A benchmark: never in CI.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import _vm_rss_mb  # noqa: E402
from harness import MAIN, launch_browser, open_page, page_url, start_app, wait_idle  # noqa: E402

from ui.uploads import upload_limit_mb  # noqa: E402

REFUSED_MB = 60  # over the image uploader's limit


def bmp_of_size(megabytes: float) -> bytes:
    """An uncompressed RGB BMP of about ``megabytes`` MB (random pixels, so nothing shrinks it)."""
    side = int((megabytes * 1e6 / 3) ** 0.5)
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="BMP")
    return buffer.getvalue()


def settle_rss(pid: int, seconds: float = 3.0) -> float:
    """The server's RSS in MB after ``seconds`` of quiet."""
    time.sleep(seconds)
    return round(_vm_rss_mb(pid), 1)


def measure(rounds: int, megabytes: float) -> dict[str, Any]:
    photo = bmp_of_size(megabytes)
    ttl = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["disconnectedSessionTTL"]
    steps: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        too_big = folder / "huge.bmp"  # Playwright passes buffers over 50 MB only as files
        too_big.write_bytes(b"BM" + bytes(REFUSED_MB * 2**20))
        with start_app(folder / "runs", folder) as app, launch_browser(folder / "profile", (1440, 900)) as context:
            tab = context.new_page()
            open_page(tab, page_url(app, "pages/predict.py"))
            start = settle_rss(app.pid)
            steps.append({"step": "Predict open", "rss_mb": start})
            for k in range(1, rounds + 1):
                tab.locator(MAIN).get_by_text("Upload", exact=True).click()
                wait_idle(tab)
                dropzone = tab.locator(f"{MAIN} [data-testid='stFileUploaderDropzoneInput']")
                dropzone.set_input_files({"name": f"photo{k}.bmp", "mimeType": "image/bmp", "buffer": photo})
                tab.locator(f"{MAIN} h3").filter(has_text=f"photo{k}.bmp:").first.wait_for(timeout=120_000)
                wait_idle(tab)
                steps.append(
                    {"step": f"round {k}: {len(photo) / 1e6:.0f} MB photo predicted", "rss_mb": settle_rss(app.pid)}
                )
                tab.locator(MAIN).get_by_text("Sample photo", exact=True).click()
                wait_idle(tab)
                steps.append({"step": f"round {k}: back to a sample (upload gone)", "rss_mb": settle_rss(app.pid)})
                tab.locator(MAIN).get_by_text("Upload", exact=True).click()
                wait_idle(tab)
                dropzone.set_input_files(str(too_big))
                refused = tab.locator(MAIN).get_by_text(f"{upload_limit_mb('image')}")
                refused.first.wait_for(timeout=30_000)  # the browser's "File must be ... MB or smaller"
                wait_idle(tab)
                steps.append(
                    {"step": f"round {k}: {REFUSED_MB} MiB file refused by the browser", "rss_mb": settle_rss(app.pid)}
                )
                tab.locator(MAIN).get_by_text("Sample photo", exact=True).click()
                wait_idle(tab)
            tab.close()
            steps.append(
                {"step": f"tab closed, session gone ({ttl} s TTL + 15 s)", "rss_mb": settle_rss(app.pid, ttl + 15)}
            )
    after = [s["rss_mb"] for s in steps if "upload gone" in s["step"]]
    return {
        "megabytes": round(len(photo) / 1e6, 1),
        "rounds": rounds,
        "steps": steps,
        "start_mb": start,
        "growth_per_round_mb": round((after[-1] - after[0]) / (len(after) - 1), 1) if len(after) > 1 else None,
        "end_mb": steps[-1]["rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=40.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.rounds, args.megabytes)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for step in result["steps"]:
        print(f"{step['rss_mb']:8.0f} MB  {step['step']}")
    print(
        f"RSS after each upload left the page grows {result['growth_per_round_mb']} MB per round; "
        f"start {result['start_mb']:.0f} MB, end {result['end_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
