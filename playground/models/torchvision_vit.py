"""torchvision's ViT-B/16 with its attention probabilities readable: the model class of the ``vit_b_16`` entry.

On its own, apart from :mod:`playground.models.torchvision_models`, because a subclass needs
torchvision's ``VisionTransformer`` when the class is defined: the entry imports this module when it
builds a model, so registering the entries does not import torchvision (about 1 s on 2 cores).
Source: Dosovitskiy et al. 2020, "An image is worth 16x16 words", https://arxiv.org/abs/2010.11929.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm

from playground.core.hooks import this_thread_only
from playground.models.attention import AttentionOutput, QueryKey


class TorchvisionViT(tvm.VisionTransformer):
    """torchvision's ``VisionTransformer`` (ViT-B/16 sizes) whose attention probabilities can be read.

    A subclass, not a wrapper, so its state-dict keys are torchvision's own and
    ``ViT_B_16_Weights.IMAGENET1K_V1`` loads strictly. torchvision's ``EncoderBlock`` calls
    ``self_attention(x, x, x, need_weights=False)``, so the probabilities are not returned;
    :meth:`forward_with_attention` records each block's ``ln_1`` output (what the attention took)
    with a forward hook and recomputes ``softmax(Q K^T / sqrt(d_k))`` from the block's
    ``in_proj_weight`` / ``in_proj_bias``: the same numbers ``nn.MultiheadAttention`` computes
    (attention dropout is 0).

    Args:
        image_size: input side in pixels, divisible by 16 (224 for the ImageNet weights).
        num_classes: outputs K.

    Input ``(B, 3, H, W)`` float32 (normalized); output ``(B, K)`` logits. Tokens: ``[CLS]``,
    then the ``(H/16) x (W/16)`` patches row by row.
    """

    prefix_tokens = ("[CLS]",)

    def __init__(self, image_size: int = 224, num_classes: int = 1000) -> None:
        # ViT-B/16's sizes, as torchvision.models.vit_b_16 builds them.
        super().__init__(
            image_size=image_size,
            patch_size=16,
            num_layers=12,
            num_heads=12,
            hidden_dim=768,
            mlp_dim=3072,
            num_classes=num_classes,
        )

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(rows, columns) of patches: (14, 14) at 224 pixels."""
        side = self.image_size // self.patch_size
        return side, side

    def _blocks(self) -> list[Any]:
        # Any: nn.Module's __getattr__ types every sub-module as "Tensor | Module" for mypy.
        return list(self.encoder.layers)  # torchvision EncoderBlock: ln_1, self_attention, ...

    def forward_with_attention(self, x: torch.Tensor) -> AttentionOutput:
        """Logits and every block's attention probabilities.

        Args:
            x: ``(B, C, H, W)`` float32, normalized, of the size the model was built for.

        Returns:
            :class:`AttentionOutput` with ``logits (B, K)`` (the usual forward), one
            ``(B, 12, T, T)`` tensor per block (``T = 1 + (H/16)(W/16)``, 197 at 224 px) and each
            block's ``ln_1`` output ``(B, T, 768)`` as ``attention_inputs``.
        """
        captured: list[torch.Tensor] = []

        def keep(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            captured.append(output)

        # this thread's pass only: a shared model may be running another session's input meanwhile
        hooks = [block.ln_1.register_forward_hook(this_thread_only(keep)) for block in self._blocks()]
        try:
            logits = self(x)
        finally:
            for hook in hooks:
                hook.remove()
        attentions = tuple(
            self._attention_probs(block.self_attention, h) for block, h in zip(self._blocks(), captured, strict=True)
        )
        return AttentionOutput(logits, attentions, tuple(captured))

    @staticmethod
    def _attention_probs(attention: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
        """``softmax(Q K^T / sqrt(d_k))`` of one ``nn.MultiheadAttention`` on its input ``x`` ``(B, T, C)``."""
        b, t, c = x.shape
        nh = attention.num_heads
        hs = c // nh
        qkv = F.linear(x, attention.in_proj_weight, attention.in_proj_bias)  # (B, T, 3C): q, k, v side by side
        q, k, _ = qkv.split(c, dim=-1)
        q = q.reshape(b, t, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.reshape(b, t, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, T)
        return F.softmax(scores, dim=-1)

    def query_key(self, layer: int) -> QueryKey:
        """Block ``layer``'s query / key projections: the first two thirds of ``in_proj_weight`` / ``in_proj_bias``.

        Raises:
            ValueError: ``layer`` out of range.
        """
        blocks = self._blocks()
        if not 0 <= layer < len(blocks):
            raise ValueError(f"layer must be in [0, {len(blocks) - 1}], got {layer}")
        attention: nn.MultiheadAttention = blocks[layer].self_attention
        c = attention.embed_dim
        w, bias = attention.in_proj_weight.detach(), attention.in_proj_bias
        b = bias.detach() if bias is not None else w.new_zeros(3 * c)
        return QueryKey(w[:c], b[:c], w[c : 2 * c], b[c : 2 * c], attention.num_heads)
