"""Perturbations: the registry and every entry in it (image, text and audio corruptions).

Importing this package registers every entry; :func:`image_perturbations`,
:func:`text_perturbations` and :func:`audio_perturbations` list them by modality. Apply one with
:func:`perturb_images`, :func:`perturb_text` or :func:`perturb_audio` at a severity in ``[0, 5]``
(0 is the identity) and a seed.
"""

# Imported for their @register_perturbation side effect; the order of the modules here is the
# registry's order (audio: noise and level, then timing, then transmission; then images and text).
from playground.robustness.perturbations import (  # noqa: F401
    audio,
    audio_timing,
    audio_transmission,
    image,
    image_geometry,
    text,
)
from playground.robustness.perturbations.audio import perturb_audio
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
    "audio_perturbations",
    "image_perturbations",
    "perturb_audio",
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


def audio_perturbations() -> list[str]:
    """Names of the registered audio perturbations, in registration order."""
    return [name for name, spec in PERTURBATIONS.items() if spec.modality == "audio"]
