"""LeNet-5, in its common modern form.

LeCun et al. 1998, "Gradient-based learning applied to document recognition",
http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf: C1 6@5x5 -> S2 pool -> C3 16@5x5 -> S4 pool ->
C5/F5 120 -> F6 84 -> output. The paper feeds 32x32 inputs; the usual modern variant pads the first
conv by 2 so that 28x28 MNIST digits give the same 28x28 C1 maps, and uses ReLU and max-pooling
(``activation="tanh"``, ``pool="avg"`` get closer to the original). The flatten size follows the
input size: ``16 * s * s`` with ``s = (H // 2 - 4) // 2`` (5 for 28x28).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from playground.models.base import register_model

Activation = Literal["relu", "tanh"]
Pool = Literal["max", "avg"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def lenet_feature_side(image_size: int) -> int:
    """Side of the C3 -> S4 output for an ``image_size`` input: conv(pad 2) keeps H, pool halves,
    5x5 conv takes 4, pool halves (floor each time)."""
    return (image_size // 2 - 4) // 2


class LeNet5(nn.Module):
    """LeNet-5: two conv + pool stages and three fully connected layers.

    Every activation and pooling is its own module (none is reused), so hooks and Captum's DeepLift
    see each use separately.

    Args:
        num_classes: outputs.
        in_channels: 1 or 3.
        image_size: input side H = W in pixels, at least 12.
        width: channel / unit multiplier (1.0 gives 6, 16, 120, 84).
        activation: ``"relu"`` or ``"tanh"``.
        pool: ``"max"`` or ``"avg"``.

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, num_classes)`` logits.

    Raises:
        ValueError: on an unknown activation / pool, a non-positive width or a too small image.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        width: float = 1.0,
        activation: Activation = "relu",
        pool: Pool = "max",
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if pool not in _POOLS:
            raise ValueError(f"pool must be one of {sorted(_POOLS)}, got {pool!r}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        side = lenet_feature_side(image_size)
        if side < 1:
            raise ValueError(f"LeNet-5 needs inputs of at least 12 px, got {image_size}")
        c1, c3, f5, f6 = (max(1, round(n * width)) for n in (6, 16, 120, 84))
        act, pool_cls = _ACTIVATIONS[activation], _POOLS[pool]
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size=5, padding=2)
        self.act1 = act()
        self.pool1 = pool_cls(2, 2)
        self.conv2 = nn.Conv2d(c1, c3, kernel_size=5)
        self.act2 = act()
        self.pool2 = pool_cls(2, 2)
        self.fc1 = nn.Linear(c3 * side * side, f5)
        self.act3 = act()
        self.fc2 = nn.Linear(f5, f6)
        self.act4 = act()
        self.fc3 = nn.Linear(f6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(x)))  # (B, 6w, H/2, W/2)
        x = self.pool2(self.act2(self.conv2(x)))  # (B, 16w, s, s), s = (H/2 - 4)/2
        x = torch.flatten(x, 1)  # (B, 16w * s * s)
        x = self.act3(self.fc1(x))  # (B, 120w)
        x = self.act4(self.fc2(x))  # (B, 84w)
        return self.fc3(x)  # (B, num_classes)


@register_model(
    "lenet5",
    family="cnn",
    modality="image",
    source="LeCun et al. 1998, Gradient-based learning applied to document recognition, "
    "http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf",
    description="LeNet-5: the classic digit recogniser, two conv/pool stages and three dense layers.",
    num_classes=10,
    in_channels=1,
    image_size=28,
    min_image_size=12,
    defaults={"width": 1.0, "activation": "relu", "pool": "max"},
    choices={"activation": ("relu", "tanh"), "pool": ("max", "avg")},
)
def lenet5(
    num_classes: int,
    in_channels: int,
    image_size: int,
    weights: str | None = None,
    width: float = 1.0,
    activation: Activation = "relu",
    pool: Pool = "max",
) -> nn.Module:
    """Build :class:`LeNet5` (random init; there are no pretrained weights).

    Raises:
        ValueError: see :class:`LeNet5`, or if ``weights`` is not ``None``.
    """
    if weights is not None:
        raise ValueError(f"lenet5 has no pretrained weights; expected weights=None, got {weights!r}")
    return LeNet5(num_classes, in_channels, image_size, width=width, activation=activation, pool=pool)
