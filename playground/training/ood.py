"""Is an input unlike what the model was trained on? The energy score against the model's own
validation set, stored with the checkpoint.

A classifier gives every input a class, a cat photo to a digit model included. The energy score
``E(x) = -logsumexp(logits)`` (Liu et al. 2020, "Energy-based Out-of-distribution Detection",
https://arxiv.org/abs/2010.03759, eq. 4 with T = 1) is low for inputs like the training data
and higher for others; it separates them better than the maximum softmax probability baseline
(Hendrycks & Gimpel 2017, https://arxiv.org/abs/1610.02136), which an over-confident model keeps
high on anything. Training stores the 95th and 99th percentiles of the validation examples'
energies in ``card.metrics`` (:data:`REFERENCE_KEYS`); a prediction whose energy is above them is
flagged. A hint, not a detector: some unlike inputs score low and some odd training-like ones high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: card.metrics keys -> the share of validation examples with a lower energy.
REFERENCE_KEYS: dict[str, float] = {"val_energy_p95": 0.95, "val_energy_p99": 0.99}
#: Fewer validation examples give no reference: a 99th percentile of a few dozen energies is one of
#: its largest values, and the hint would fire on ordinary inputs.
MIN_REFERENCE_EXAMPLES = 100


def energy_score(logits: torch.Tensor) -> torch.Tensor:
    """``(..., K)`` logits -> ``(...)`` float32 energies ``-logsumexp(logits)`` (higher: less like the training data)."""
    return -torch.logsumexp(logits.detach().float(), dim=-1)


def reference_metrics(energies: np.ndarray) -> dict[str, float]:
    """The percentiles of :data:`REFERENCE_KEYS` of validation energies ``(N,)``; ``{}`` for fewer than
    :data:`MIN_REFERENCE_EXAMPLES` finite ones."""
    values = np.asarray(energies, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < MIN_REFERENCE_EXAMPLES:
        return {}
    return {key: float(np.quantile(values, share)) for key, share in REFERENCE_KEYS.items()}


@dataclass(frozen=True)
class OodCheck:
    """One input's energy against the model's validation energies.

    Attributes:
        energy: the input's energy score.
        share_below: the largest share of validation examples known to have a lower energy (0.95 or
            0.99), or 0.0 when the input is within the 95th percentile.
        reference: the percentile it was compared with (the 95th or 99th energy).
    """

    energy: float
    share_below: float
    reference: float

    @property
    def unusual(self) -> bool:
        return self.share_below > 0


def check_input(metrics: dict[str, float], logits: torch.Tensor) -> OodCheck | None:
    """Compare one input's ``(K,)`` logits with the card's validation energies.

    Returns:
        ``None`` when the card has no reference (trained before the reference was stored, or a
        pretrained model whose training data is not here).
    """
    references = {key: metrics[key] for key in REFERENCE_KEYS if isinstance(metrics.get(key), int | float)}
    if not references:
        return None
    energy = float(energy_score(logits.reshape(-1)))
    passed = [(REFERENCE_KEYS[k], v) for k, v in references.items() if energy > v]
    if not passed:
        return OodCheck(energy, 0.0, min(references.values()))
    share, reference = max(passed)
    return OodCheck(energy, share, reference)
