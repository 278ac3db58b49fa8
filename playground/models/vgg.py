"""A small VGG-style network for 32x32-ish images.

Simonyan & Zisserman 2014, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
https://arxiv.org/abs/1409.1556: stacks of 3x3 convolutions (padding 1, so they keep H and W)
followed by a 2x2 max-pool, with channels doubling after every pool. Batch normalization
(Ioffe & Szegedy 2015, https://arxiv.org/abs/1502.03167) follows each conv as in torchvision's
``vgg*_bn``. Instead of VGG's fixed 7x7x512 flatten, a global average pool feeds the classifier, so
any input of at least ``2**depth`` pixels works.
"""

from __future__ import annotations

import torch
from torch import nn

from playground.models.base import register_model


class VGGSmall(nn.Module):
    """``depth`` blocks of ``[conv3x3 -> BN -> ReLU] * convs_per_block -> maxpool``, then
    global average pool -> dropout -> linear.

    Channels: ``width``, ``2*width``, ``4*width``, ... (block ``i`` has ``width * 2**i``).

    Args:
        num_classes: outputs.
        in_channels: 1 or 3.
        image_size: input side in pixels; must be at least ``2**depth``.
        width: channels of the first block.
        depth: number of conv blocks (1 to 6).
        batch_norm: BatchNorm after every conv (then the convs have no bias).
        convs_per_block: 3x3 convs per block.
        dropout: dropout probability before the final linear layer.

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, num_classes)`` logits.

    Raises:
        ValueError: on out-of-range hyper-parameters or a too small image.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        image_size: int = 32,
        width: int = 32,
        depth: int = 3,
        batch_norm: bool = True,
        convs_per_block: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 1 <= depth <= 6:
            raise ValueError(f"depth must be between 1 and 6 blocks, got {depth}")
        if width < 1:
            raise ValueError(f"width must be at least 1 channel, got {width}")
        if convs_per_block < 1:
            raise ValueError(f"convs_per_block must be at least 1, got {convs_per_block}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if image_size < 2**depth:
            raise ValueError(f"vgg_small with depth {depth} needs inputs of at least {2**depth} px, got {image_size}")
        layers: list[nn.Module] = []
        c_in = in_channels
        for block in range(depth):
            c_out = width * 2**block
            for _ in range(convs_per_block):
                layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU(inplace=False))  # a fresh module per use (hooks, DeepLift)
                c_in = c_out
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # as torchvision's VGG

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, width * 2**(depth-1), H / 2**depth, W / 2**depth)
        x = torch.flatten(self.pool(x), 1)  # (B, width * 2**(depth-1))
        return self.classifier(self.dropout(x))  # (B, num_classes)


@register_model(
    "vgg_small",
    family="cnn",
    modality="image",
    source="Simonyan & Zisserman 2014, Very Deep Convolutional Networks for Large-Scale Image Recognition, "
    "https://arxiv.org/abs/1409.1556",
    description="A small VGG: blocks of 3x3 conv + BatchNorm + ReLU and a max-pool, channels doubling per block.",
    num_classes=10,
    in_channels=3,
    image_size=32,
    min_image_size=8,
    defaults={"width": 32, "depth": 3, "batch_norm": True, "convs_per_block": 2, "dropout": 0.0},
)
def vgg_small(
    num_classes: int,
    in_channels: int,
    image_size: int,
    weights: str | None = None,
    width: int = 32,
    depth: int = 3,
    batch_norm: bool = True,
    convs_per_block: int = 2,
    dropout: float = 0.0,
) -> nn.Module:
    """Build :class:`VGGSmall` (random init; there are no pretrained weights).

    Raises:
        ValueError: see :class:`VGGSmall`, or if ``weights`` is not ``None``.
    """
    if weights is not None:
        raise ValueError(f"vgg_small has no pretrained weights; expected weights=None, got {weights!r}")
    return VGGSmall(num_classes, in_channels, image_size, width, depth, batch_norm, convs_per_block, dropout)
