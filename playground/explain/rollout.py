"""Attention rollout as an explanation, side by side with the gradient methods.

Abnar & Zuidema 2020, "Quantifying attention flow in transformers", https://arxiv.org/abs/2005.00928:
the attention maps of every layer, mixed with the identity for the residual connection and
multiplied through the layers (:func:`playground.inspection.attention.rollout`). The row of the position the
head reads (the class token of a ViT or a CLS-pooled BERT; the mean of the rows for a mean-pooled
encoder) says how much of each input token reaches the output. Unlike the gradient methods it does
not depend on the target class: it shows where the model looks, not what speaks for one class.
Images: the class token's row over the patches, upsampled to the input (nearest: one value per
patch). Captum has no rollout; this wrapper is the few lines between the model's attention and the
explanation's shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from playground.explain.base import ExplainParams, RawAttribution, Subject, register_method
from playground.explain.errors import MethodNotSupportedError
from playground.inspection.attention.rollout import rollout
from playground.models.attention import AttentionModel


@register_method(
    "attention_rollout",
    title="Attention rollout",
    family="attention",
    input_kinds=("pixels", "token_ids"),
    source="Abnar & Zuidema 2020, https://arxiv.org/abs/2005.00928 (playground.inspection.attention.rollout)",
    description="How much of each token or patch flows through every layer's attention to the output (transformers).",
)
def attention_rollout(subject: Subject, params: ExplainParams) -> RawAttribution:
    model = subject.model
    if not isinstance(model, AttentionModel):
        raise MethodNotSupportedError(
            "attention rollout needs a transformer's attention maps; this model has no attention layers"
        )
    subject.progress.expect(1)
    x = subject.inputs  # (1, C, H, W) pixels in [0, 1] or (1, T) ids
    if subject.input_kind == "pixels" and subject.view.preprocessing is not None:
        x = subject.view.preprocessing.normalize(x)
    with torch.no_grad():
        output = model.forward_with_attention(x)
    if not output.attentions:
        raise MethodNotSupportedError("the model returned no attention probabilities (a fused attention kernel)")
    probs = torch.stack([a[0] for a in output.attentions]).float()  # (L, H, T, T)
    rolled = rollout(probs)[-1].float()  # (T, T)
    prefix = len(getattr(model, "prefix_tokens", ()))
    if subject.input_kind == "pixels":
        rows, cols = getattr(model, "patch_grid", (0, 0))
        if prefix < 1 or rows * cols + prefix != rolled.shape[-1]:
            raise MethodNotSupportedError("attention rollout over an image needs a class token and a patch grid (ViT)")
        grid = rolled[0, prefix:].reshape(1, 1, rows, cols)  # (1, 1, rows, cols): the class token's row
        height, width = subject.inputs.shape[-2:]
        up = F.interpolate(grid, size=(height, width), mode="nearest")  # (1, 1, H, W)
        channels = subject.inputs.shape[1]
        attributions = (up.expand(-1, channels, -1, -1) / channels).contiguous()  # (1, C, H, W)
        return RawAttribution(attributions.cpu(), details={"read_row": "[CLS]", "patch_grid": (rows, cols)})
    reads_cls = prefix > 0 or getattr(model, "pooling", "mean") == "cls"
    row = rolled[0] if reads_cls else rolled.mean(dim=0)  # (T,)
    return RawAttribution(row.unsqueeze(0).cpu(), details={"read_row": "[CLS]" if reads_cls else "mean of the rows"})
