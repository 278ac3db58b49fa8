"""Per-head numbers that tell heads apart at a glance (Clark et al. 2019, "What does BERT look at?",
https://arxiv.org/abs/1906.04341, sections 3-4; Dosovitskiy et al. 2020, figure 7 for the mean
attention distance of ViT heads).

* entropy: ``-sum_j p_ij log p_ij`` averaged over the queries, in nats: near 0 for a head that
  looks at one token, ``log T`` for one that spreads evenly;
* mean attention distance: ``sum_j p_ij |i - j|`` averaged over the queries, in positions (tokens),
  or in pixels over a patch grid: small for local / positional heads;
* share on special tokens: the attention mass on ``[CLS]`` / ``[SEP]`` / padding-like tokens,
  averaged over the queries: high for the "no-op" delimiter heads Clark et al. found.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HeadSummaries:
    """Per-head summaries of one input's attention.

    Attributes:
        entropy: ``(L, H)`` float64, nats.
        mean_distance: ``(L, H)`` float64, in positions (or pixels when ``patch_grid`` was given).
        special_share: ``(L, H)`` float64 in ``[0, 1]``; zeros when no token is special.
        max_entropy: ``log T``, the entropy of a uniform row (for scaling colour bars).
    """

    entropy: torch.Tensor
    mean_distance: torch.Tensor
    special_share: torch.Tensor
    max_entropy: float


def head_summaries(
    attention_probs: torch.Tensor,
    special: list[bool] | None = None,
    *,
    patch_grid: tuple[int, int] | None = None,
    patch_size: int = 1,
    num_prefix: int = 0,
) -> HeadSummaries:
    """Entropy, mean attention distance and share on special tokens of every head.

    Args:
        attention_probs: ``(L, H, T, T)`` float, rows summing to 1.
        special: ``T`` flags, True at special tokens (``[CLS]``, ``[SEP]``, ...).
        patch_grid: ``(rows, cols)`` for image models: distances between patch centres then are in
            pixels (``patch_size`` per patch) and the ``num_prefix`` leading tokens (``[CLS]``) are
            left out of the distance.
        patch_size: pixels per patch side.
        num_prefix: tokens before the patches.

    Returns:
        :class:`HeadSummaries`.

    Raises:
        ValueError: shapes that do not fit.
    """
    if attention_probs.ndim != 4 or attention_probs.shape[-1] != attention_probs.shape[-2]:
        raise ValueError(f"expected attention of shape (L, H, T, T), got {tuple(attention_probs.shape)}")
    # float32: the sums over T <= 512 keys are accurate to ~1e-6, and float64 doubles the time at 512 tokens
    probs = attention_probs.detach().to("cpu", torch.float32)
    t = probs.shape[-1]
    if special is not None and len(special) != t:
        raise ValueError(f"expected {t} special-token flags, got {len(special)}")
    entropy = -(probs * probs.clamp_min(1e-30).log()).sum(-1).mean(-1)  # (L, H)
    if patch_grid is None:
        pos = torch.arange(t, dtype=torch.float32)
        distance = (pos[:, None] - pos[None, :]).abs()  # (T, T) in positions
        dist = (probs * distance).sum(-1).mean(-1)
    else:
        rows, cols = patch_grid
        if num_prefix + rows * cols != t:
            raise ValueError(f"{num_prefix} prefix tokens + a {rows}x{cols} grid is not {t} tokens")
        r = torch.arange(rows * cols) // cols
        c = torch.arange(rows * cols) % cols
        centres = torch.stack([r, c], dim=1).to(torch.float32) * patch_size  # (N, 2) in pixels
        distance = torch.cdist(centres, centres)  # (N, N)
        patch_probs = probs[..., num_prefix:, num_prefix:]  # (L, H, N, N): patch queries to patch keys
        dist = (patch_probs * distance).sum(-1).mean(-1)
    if special is not None and any(special):
        mask = torch.tensor(special, dtype=torch.float32)
        share = (probs * mask).sum(-1).mean(-1)  # (L, H)
    else:
        share = torch.zeros(probs.shape[:2])
    as64 = torch.float64
    return HeadSummaries(entropy.to(as64), dist.to(as64), share.to(as64), float(torch.log(torch.tensor(float(t)))))
