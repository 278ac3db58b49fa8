"""The article's CNN, corrected.

The article's example: Conv 3->32, Conv 32->64 (3x3, padding 1, ReLU), a 2x2 max-pool after each,
FC 128, FC 10. As printed it hard-codes the flatten size (right for one input size only) and forgets
``import torch.nn.functional as F``. Here the flatten size follows the input size and channels:
two 2x2 pools halve H and W twice (floor division), so the first FC takes ``64 * (H//4) * (W//4)``.

Source: the tutorial article's "CNN in PyTorch" code example (DESIGN.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from playground.models.base import register_model


class SeedCNN(nn.Module):
    """Conv(in->32) -> pool -> Conv(32->64) -> pool -> FC(hidden) -> FC(num_classes).

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, num_classes)`` logits.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, hidden: int = 128):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        side = image_size // 2 // 2  # two 2x2 pools, floor each time
        self.fc1 = nn.Linear(64 * side * side, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))  # (B, 32, H/2, W/2)
        x = self.pool(F.relu(self.conv2(x)))  # (B, 64, H/4, W/4)
        x = torch.flatten(x, 1)  # (B, 64 * H/4 * W/4)
        x = F.relu(self.fc1(x))  # (B, hidden)
        return self.fc2(x)  # (B, num_classes)


@register_model(
    "seed_cnn",
    family="cnn",
    modality="image",
    source="The article's PyTorch CNN example (Conv 3->32, Conv 32->64, 2x2 max-pool, FC 128, FC 10), flatten size fixed",
    description="The article's two-conv CNN, with its flatten size computed from the input.",
    num_classes=10,
    in_channels=3,
    image_size=32,
    min_image_size=4,
    defaults={"hidden": 128},
)
def seed_cnn(
    num_classes: int, in_channels: int, image_size: int, weights: str | None = None, hidden: int = 128
) -> nn.Module:
    return SeedCNN(num_classes, in_channels, image_size, hidden)
