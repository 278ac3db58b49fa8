"""ResNet for CIFAR-sized images, as in the ResNet paper's CIFAR-10 experiments.

He et al. 2015, "Deep Residual Learning for Image Recognition", https://arxiv.org/abs/1512.03385,
section 4.2: a 3x3 conv with 16 filters, then three stages of ``n`` basic blocks (two 3x3 convs
each) on 32x32, 16x16 and 8x8 maps with 16, 32 and 64 filters, global average pooling and a linear
layer: ``6n + 2`` weighted layers (ResNet-20, -32, -44, -56, -110). Shortcuts are identities; where
a stage halves the map and doubles the channels the shortcut subsamples by 2 and pads the new
channels with zeros (the paper's "option A", no extra parameters).

Every ReLU is its own module: Captum's DeepLift breaks when one ReLU module is used twice (DESIGN.md),
which is the case in torchvision's ResNets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from playground.models.base import register_model


def resnet_cifar_blocks(depth: int) -> int:
    """Blocks per stage ``n`` for a ``6n + 2``-layer ResNet.

    Raises:
        ValueError: if ``depth`` is not ``6n + 2`` with ``n >= 1`` (8, 14, 20, 32, 44, 56, 110, ...).
    """
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"depth must be an int, got {type(depth).__name__}")
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
    return (depth - 2) // 6


class PadShortcut(nn.Module):
    """Option-A shortcut: subsample by ``stride`` and zero-pad the channels to ``out_channels``.

    ``(B, C, H, W)`` -> ``(B, out_channels, ceil(H / stride), ceil(W / stride))``; no parameters.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"expected out_channels >= in_channels, got {out_channels} < {in_channels}")
        self.stride = stride
        self.extra = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C, H/s, W/s)
        before = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, before, self.extra - before))  # (B, C + extra, H/s, W/s)


class BasicBlock(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`` with 3x3 convs; the first may stride 2."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.shortcut: nn.Module = (
            PadShortcut(in_channels, out_channels, stride)
            if stride != 1 or in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))  # (B, C_out, H/s, W/s)
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    """A ``6n + 2``-layer CIFAR ResNet.

    Args:
        num_classes: outputs.
        in_channels: 1 or 3.
        depth: 6n + 2 (20 gives ResNet-20, 0.27 M parameters at width 1).
        width: channel multiplier on 16 / 32 / 64.

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, num_classes)`` logits.

    Raises:
        ValueError: on a depth that is not 6n + 2 or a non-positive width.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, depth: int = 20, width: float = 1) -> None:
        super().__init__()
        n = resnet_cifar_blocks(depth)
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        base = max(1, round(16 * width))
        self.conv1 = nn.Conv2d(in_channels, base, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU()
        stages: list[nn.Module] = []
        c_in = base
        for i, c_out in enumerate((base, 2 * base, 4 * base)):
            blocks = [
                BasicBlock(c_in if j == 0 else c_out, c_out, stride=2 if (i > 0 and j == 0) else 1) for j in range(n)
            ]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # He et al. 2015 init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # (B, 16w, H, W)
        x = self.layer1(x)  # (B, 16w, H, W)
        x = self.layer2(x)  # (B, 32w, H/2, W/2)
        x = self.layer3(x)  # (B, 64w, H/4, W/4)
        x = torch.flatten(self.pool(x), 1)  # (B, 64w)
        return self.fc(x)  # (B, num_classes)


@register_model(
    "resnet_cifar",
    family="cnn",
    modality="image",
    source="He et al. 2015, Deep Residual Learning for Image Recognition, section 4.2 (CIFAR-10), "
    "https://arxiv.org/abs/1512.03385",
    description="The ResNet paper's CIFAR network: 6n+2 layers in three stages of basic residual blocks.",
    num_classes=10,
    in_channels=3,
    image_size=32,
    min_image_size=8,
    defaults={"depth": 20, "width": 1},
)
def resnet_cifar(
    num_classes: int,
    in_channels: int,
    image_size: int,
    weights: str | None = None,
    depth: int = 20,
    width: float = 1,
) -> nn.Module:
    """Build :class:`ResNetCIFAR` (random init; there are no pretrained weights).

    ``image_size`` is not needed by the layers (global average pooling); it is part of the common
    builder signature.

    Raises:
        ValueError: see :class:`ResNetCIFAR`, or if ``weights`` is not ``None``.
    """
    if weights is not None:
        raise ValueError(f"resnet_cifar has no pretrained weights; expected weights=None, got {weights!r}")
    return ResNetCIFAR(num_classes, in_channels, depth=depth, width=width)
