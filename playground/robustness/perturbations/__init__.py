"""Perturbations: the registry and every entry in it (image corruptions and text perturbations).

Importing this package registers every entry; :func:`image_perturbations` and
:func:`text_perturbations` list them by modality. Apply one with :func:`perturb_images` or
:func:`perturb_text` at a severity in ``[0, 5]`` (0 is the identity) and a seed.
"""

from playground.robustness.perturbations import (  # noqa: F401  (imported for their @register_perturbation side effect)
    image,
    image_geometry,
    text,
)
from playground.robustness.perturbations.base import (
    MAX_SEVERITY,
    PERTURBATIONS,
    PerturbationSpec,
    perturb_images,
    perturb_text,
    register_perturbation,
)

__all__ = [
    "MAX_SEVERITY",
    "PERTURBATIONS",
    "PerturbationSpec",
    "image_perturbations",
    "perturb_images",
    "perturb_text",
    "register_perturbation",
    "text_perturbations",
]


def image_perturbations() -> list[str]:
    """Names of the registered image perturbations, in registration order."""
    return [name for name, spec in PERTURBATIONS.items() if spec.modality == "image"]


def text_perturbations() -> list[str]:
    """Names of the registered text perturbations, in registration order."""
    return [name for name, spec in PERTURBATIONS.items() if spec.modality == "text"]
