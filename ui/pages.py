"""The page registry: the navigation in app.py and the AppTest suite walk the same list."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageEntry:
    path: str
    title: str
    icon: str
    default: bool = False


PAGES: list[PageEntry] = [
    PageEntry("pages/home.py", "Home", ":material/home:", default=True),
    PageEntry("pages/models.py", "Models", ":material/account_tree:"),
    PageEntry("pages/train.py", "Train", ":material/model_training:"),
    PageEntry("pages/predict.py", "Predict", ":material/image_search:"),
    PageEntry("pages/features.py", "Filters & feature maps", ":material/grid_view:"),
]
