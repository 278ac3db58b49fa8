"""Draw assets/favicon.png: a small network (three layers of nodes joined by lines) on the theme's red.

    .venv/bin/python scripts/make_favicon.py

The app's own icon, so that no browser fetches a Material icon from fonts.gstatic.com for the tab.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "assets" / "favicon.png"
SIZE = 64
RED = (255, 75, 75, 255)  # Streamlit's primary colour
WHITE = (255, 255, 255, 255)


def main() -> None:
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([0, 0, SIZE - 1, SIZE - 1], radius=14, fill=RED)
    layers = [[(14, y) for y in (16, 32, 48)], [(32, y) for y in (22, 42)], [(50, 32)]]
    for left, right in itertools.pairwise(layers):
        for a in left:
            for b in right:
                draw.line([a, b], fill=(255, 255, 255, 200), width=2)
    for layer in layers:
        for x, y in layer:
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=WHITE)
    image.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
