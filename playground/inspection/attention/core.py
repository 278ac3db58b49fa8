"""One input's attention, read from a transformer bundle: what every attention view starts from.

:func:`attention_maps` runs the bundle's model once on a text or an image and returns
:class:`AttentionMaps`: the tokens (or the patch grid), every layer's attention probabilities
``(L, H, T, T)`` with padding removed, and enough to recompute any row with the article's formula.
Models expose their attention through the
:class:`~playground.models.attention.AttentionModel` protocol (the built-in encoder and ViT, the
Hugging Face wrappers, torchvision's ViT); a model without it is refused with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image

from playground.core.device import model_device
from playground.inspection.attention.formula import AttentionFormula, attention_formula
from playground.modalities.text.preprocessing import TextPreprocessing
from playground.models.attention import AttentionModel, AttentionOutput, NoAttentionError

if TYPE_CHECKING:
    from playground.bundle import Bundle

SPECIAL_TOKENS = frozenset({"[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "<s>", "</s>", "<pad>", "[BOS]", "[EOS]"})


@dataclass(frozen=True)
class AttentionMaps:
    """Every layer's attention for one input.

    Attributes:
        tokens: T labels: the tokens the model saw (text), or ``"[CLS]"`` and ``"patch r,c"`` (images).
        attention_probs: ``(L, H, T, T)`` float32 on the CPU, rows summing to 1 over the keys.
        special: T flags, True at special tokens (``[CLS]``, ``[SEP]``, ...).
        logits: ``(K,)`` float32, the model's output for this input.
        labels: the K class names.
        output: the raw forward pass (batch of 1), for :meth:`formula`.
        model: the model (for its query / key weights).
        patch_grid: images: ``(rows, cols)`` of patches; ``None`` for text.
        patch_size: images: pixels per patch side.
        num_prefix: tokens before the patches (1 for the class token); 0 for text.
        pixels: images: ``(C, H, W)`` float32 in ``[0, 1]``, what the model saw; else ``None``.
        num_dropped: text: tokens cut off because the text is longer than the model takes.
    """

    tokens: list[str]
    attention_probs: torch.Tensor
    special: list[bool]
    logits: torch.Tensor
    labels: list[str]
    output: AttentionOutput
    model: AttentionModel
    patch_grid: tuple[int, int] | None = None
    patch_size: int = 1
    num_prefix: int = 0
    pixels: torch.Tensor | None = None
    num_dropped: int = 0

    @property
    def num_layers(self) -> int:
        """L."""
        return int(self.attention_probs.shape[0])

    @property
    def num_heads(self) -> int:
        """H."""
        return int(self.attention_probs.shape[1])

    @property
    def predicted(self) -> str:
        """The most probable class's name."""
        return self.labels[int(self.logits.argmax())]

    def formula(self, layer: int, head: int, query_index: int) -> AttentionFormula:
        """The article's formula recomputed for one row (see :func:`attention_formula`).

        Raises:
            ValueError: an index out of range.
        """
        return attention_formula(
            self.output, self.model.query_key(layer), layer=layer, head=head, query_index=query_index
        )


def supports_attention(model: torch.nn.Module) -> bool:
    """Whether ``model`` exposes its attention (implements ``forward_with_attention``)."""
    return isinstance(model, AttentionModel)


def attention_model(bundle: Bundle) -> AttentionModel:
    """The bundle's model as an :class:`AttentionModel`.

    Raises:
        NoAttentionError: the model does not expose its attention.
    """
    model = bundle.model
    if not isinstance(model, AttentionModel):
        raise NoAttentionError(
            f"{bundle.title} has no attention layers to show: pick a transformer "
            "(transformer_encoder, vit_tiny, minilm, ...)"
        )
    return model


@torch.no_grad()
def run_attention(model: AttentionModel, x: torch.Tensor) -> AttentionOutput:
    """One forward pass with attention, in eval mode on the model's device (``x``: a batch of one).

    Raises:
        NoAttentionError: the model gave no attention probabilities (a fused kernel).
    """
    module = model if isinstance(model, torch.nn.Module) else None
    if module is not None:
        module.eval()
        x = x.to(model_device(module))
    output = model.forward_with_attention(x)
    if not output.attentions:
        # transformers' SDPA attention returns an empty tuple for output_attentions=True.
        raise NoAttentionError(
            "the model returned no attention probabilities (a fused attention kernel such as SDPA "
            "does not expose them); load it with attn_implementation='eager'"
        )
    return output


def stack_attention(output: AttentionOutput, keep: torch.Tensor | None = None) -> torch.Tensor:
    """The first input's ``(L, H, T, T)`` float32 attention on the CPU; ``keep``: ``(T,)`` token indices."""
    probs = torch.stack([a[0].detach().float().cpu() for a in output.attentions])  # (L, H, T, T)
    if keep is not None:
        probs = probs[:, :, keep][:, :, :, keep]  # padding rows and columns out
    return probs


def text_attention(bundle: Bundle, text: str) -> AttentionMaps:
    """Attention of a text model on one text.

    Args:
        bundle: a text transformer (``transformer_encoder``, ``minilm``, ...).
        text: as a person typed it; cleaned, tokenized and truncated as for prediction.

    Returns:
        :class:`AttentionMaps` over the T tokens the model saw.

    Raises:
        NoAttentionError: the model has no attention to show.
        ValueError: not a text model, or an empty text.
    """
    if not isinstance(bundle.preprocessing, TextPreprocessing):
        raise ValueError(f"this needs a text model, but {bundle.title} takes {bundle.modality} input")
    model = attention_model(bundle)
    encoded = bundle.preprocessing.encode(text)
    output = run_attention(model, encoded.ids.unsqueeze(0))  # (1, T)
    tokens = list(encoded.tokens)
    return AttentionMaps(
        tokens=tokens,
        attention_probs=stack_attention(output),
        special=[tok in SPECIAL_TOKENS for tok in tokens],
        logits=output.logits[0].detach().float().cpu(),
        labels=list(bundle.labels),
        output=output,
        model=model,
        num_dropped=encoded.num_dropped,
    )


def image_attention(bundle: Bundle, image: Image.Image | torch.Tensor) -> AttentionMaps:
    """Attention of an image transformer (ViT) on one image.

    Args:
        bundle: an image model with attention and a patch grid (``vit_tiny``, ``vit_b_16``).
        image: a decoded PIL image, or ``(C, H, W)`` float32 pixels in ``[0, 1]`` (any size;
            resized like any input).

    Returns:
        :class:`AttentionMaps` over ``[CLS]`` and the patches, row by row.

    Raises:
        NoAttentionError: the model has no attention to show.
        ValueError: not an image model.
    """
    preprocessing = bundle.image_preprocessing
    model = attention_model(bundle)
    if isinstance(image, Image.Image):
        pixels = preprocessing.pixels_from_pil(image)  # (C, H, W)
    else:
        pixels = preprocessing.pixels_from_batch(image.unsqueeze(0))[0]
    output = run_attention(model, preprocessing.normalize(pixels).unsqueeze(0))  # (1, C, H, W) in
    cols = getattr(model, "patch_grid", (0, 1))[1] or 1
    return grid_attention(bundle, model, output, "patch {r},{c}", pixels, pixels.shape[-1] // cols, "image patches")


def grid_attention(
    bundle: Bundle,
    model: AttentionModel,
    output: AttentionOutput,
    token_name: str,
    pixels: torch.Tensor,
    patch_size: int,
    what: str,
) -> AttentionMaps:
    """:class:`AttentionMaps` of a model whose tokens are its prefix (``[CLS]``) then a grid of patches,
    row by row (a ViT on an image, an AST on a spectrogram).

    Args:
        output: the model's forward pass with attention on one input.
        token_name: each patch's label, formatted with its row ``r`` and column ``c`` (``"patch {r},{c}"``).
        pixels: ``(C, H, W)`` in [0, 1], what the patches cover (for the overlays).
        patch_size: pixels per patch side, for distances in the head summaries (1: in patches).
        what: what the patches are, for the error message.

    Raises:
        NoAttentionError: the attention does not have one token per patch plus the prefix.
    """
    probs = stack_attention(output)
    rows, cols = getattr(model, "patch_grid", (0, 0))
    prefix = len(getattr(model, "prefix_tokens", ()))
    if rows * cols + prefix != probs.shape[-1]:
        raise NoAttentionError(f"{bundle.title}'s attention does not map onto a grid of {what}")
    names = [token_name.format(r=r, c=c) for r in range(rows) for c in range(cols)]
    tokens = list(getattr(model, "prefix_tokens", ())) + names
    return AttentionMaps(
        tokens=tokens,
        attention_probs=probs,
        special=[i < prefix for i in range(len(tokens))],
        logits=output.logits[0].detach().float().cpu(),
        labels=list(bundle.labels),
        output=output,
        model=model,
        patch_grid=(rows, cols),
        patch_size=patch_size,
        num_prefix=prefix,
        pixels=pixels.detach().cpu(),
    )


def class_token_map(maps: AttentionMaps, matrix: torch.Tensor) -> torch.Tensor:
    """The class token's row of a ``(T, T)`` map (one head, a mean, or a rollout) over the patch grid.

    Args:
        maps: image attention (with a patch grid and a class token).
        matrix: ``(T, T)`` attention-like matrix over the same tokens.

    Returns:
        ``(rows, cols)`` float32: how much the class token takes from each patch.

    Raises:
        ValueError: text attention, or a model without a class token.
    """
    if maps.patch_grid is None or maps.num_prefix < 1:
        raise ValueError("a class-token map needs an image model with a class token")
    rows, cols = maps.patch_grid
    return matrix[0, maps.num_prefix :].float().reshape(rows, cols)  # (N,) -> (rows, cols)
