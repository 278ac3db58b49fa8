"""``vit_tiny``: a small Vision Transformer for the playground's image datasets.

Dosovitskiy et al. 2020, "An image is worth 16x16 words", https://arxiv.org/abs/2010.11929:
the image is cut into P x P patches, each patch becomes a token by a linear map (a P-strided
convolution), a learned class token ``[CLS]`` is put in front, learned positions are added, and
pre-LN transformer blocks mix the tokens; the class token's final vector goes to the head.

Token order: ``[CLS]`` first, then the ``(H/P) x (W/P)`` patches row by row, so the class token's
attention row, minus its first entry, reshapes to the patch grid. Inputs and patches may be
rectangular (``image_size=(H, W)``, ``patch_size=(P_h, P_w)``): ``audio_transformer`` is this model
over a spectrogram's mel bands x frames (Gong et al. 2021, AST).
"""

from __future__ import annotations

import torch
from torch import nn

from playground.models.attention import AttentionOutput, Block, QueryKey, block_query_key, run_blocks
from playground.models.base import register_model


class VisionTransformer(nn.Module):
    """ViT classifier whose attention probabilities can be read.

    Args:
        num_classes: outputs K.
        in_channels: 1 or 3.
        image_size: input side H = W in pixels, or ``(H, W)``; a remainder that no whole patch
            covers (``H mod P_h`` rows at the bottom, ``W mod P_w`` columns at the right) is
            left out, as a strided convolution leaves it.
        patch_size: P, the side of a patch in pixels, or ``(P_h, P_w)``.
        d_model: C.
        num_layers: blocks.
        num_heads: must divide ``d_model``.
        dropout: in ``[0, 1)``.

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, K)`` logits.

    Raises:
        ValueError: a patch larger than the input, or sizes out of range.
    """

    prefix_tokens = ("[CLS]",)

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        image_size: int | tuple[int, int],
        patch_size: int | tuple[int, int] = 4,
        d_model: int = 64,
        num_layers: int = 4,
        num_heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        patch_h, patch_w = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
        if not (1 <= patch_h <= height and 1 <= patch_w <= width):
            raise ValueError(f"patches of {patch_h} x {patch_w} do not fit inputs of {height} x {width}")
        if d_model < 1 or num_layers < 1:
            raise ValueError(f"d_model and num_layers must be at least 1, got {d_model} and {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.patch_size = (patch_h, patch_w)
        self.grid = (height // patch_h, width // patch_w)  # (rows, columns) of patches
        num_patches = self.grid[0] * self.grid[1]
        self.patch_embed = nn.Conv2d(in_channels, d_model, kernel_size=self.patch_size, stride=self.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.positions = nn.Parameter(torch.randn(1, num_patches + 1, d_model) * 0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(d_model, num_heads, dropout) for _ in range(num_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(rows, columns) of patches."""
        return self.grid

    def forward_with_attention(self, x: torch.Tensor) -> AttentionOutput:
        """Logits and every layer's attention probabilities over ``1 + (H/P)(W/P)`` tokens.

        Args:
            x: ``(B, C_in, H, W)`` float32.

        Returns:
            :class:`AttentionOutput` with ``logits (B, K)`` and one ``(B, nh, 1+N, 1+N)`` tensor
            per layer (token 0 is ``[CLS]``).

        Raises:
            ValueError: an input of another size than the model was built for.
        """
        (rows, cols), (patch_h, patch_w) = self.grid, self.patch_size
        if x.ndim != 4 or x.shape[-2] // patch_h != rows or x.shape[-1] // patch_w != cols:
            raise ValueError(
                f"expected inputs of shape (B, C, {rows * patch_h}, {cols * patch_w}), got {tuple(x.shape)}"
            )
        patches = self.patch_embed(x)  # (B, C, H/P, W/P)
        h = patches.flatten(2).transpose(1, 2)  # (B, N, C): patches row by row
        h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1)  # (B, 1+N, C)
        h, attentions, inputs = run_blocks(self.blocks, self.drop(h + self.positions))
        logits = self.head(self.ln_f(h[:, 0]))  # (B, K): the class token's vector
        return AttentionOutput(logits, attentions, inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W)`` float32 -> ``(B, num_classes)`` logits."""
        return self.forward_with_attention(x).logits

    def query_key(self, layer: int) -> QueryKey:
        """Block ``layer``'s query / key projections."""
        return block_query_key(self.blocks, layer)


@register_model(
    "vit_tiny",
    family="transformer",
    modality="image",
    source="Dosovitskiy et al. 2020, https://arxiv.org/abs/2010.11929",
    description="A tiny Vision Transformer: 4x4-pixel patches as tokens, a class token, 4 blocks of 4 heads.",
    in_channels=1,
    image_size=28,
    min_image_size=8,
    defaults={"patch_size": 4, "d_model": 64, "num_layers": 4, "num_heads": 4, "dropout": 0.0},
    choices={"patch_size": (2, 4, 7, 8, 16), "num_heads": (1, 2, 4, 8)},
    # A ViT has no image prior: on 4,500 MNIST digits it needs augmentation and a longer cosine
    # schedule (0.956 validation accuracy with these; 0.908 with the plain 15-epoch Adam run).
    train_defaults={
        "epochs": 45,
        "optimizer": "adamw",
        "lr": 2e-3,
        "weight_decay": 0.05,
        "schedule": "cosine",
        "augment_crop": True,
        "augment_rotation": 10.0,
    },
)
def vit_tiny(
    num_classes: int, in_channels: int, image_size: int, weights: str | None = None, **hparams: int
) -> nn.Module:
    patch = int(hparams.get("patch_size", 4))
    if image_size % patch:
        raise ValueError(
            f"vit_tiny cuts {image_size}-pixel images into {patch}-pixel patches, which does not divide: "
            f"pick a patch size that divides {image_size}"
        )
    return VisionTransformer(num_classes, in_channels, image_size, **hparams)
