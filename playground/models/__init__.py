"""Model architectures: the registry and every entry in it.

Importing this package registers every entry; ``MODELS.names()`` lists them.
"""

from playground.models import (  # noqa: F401  (imported for their @register_model side effect)
    audio,
    efficientnet_lite,
    hf,
    lenet,
    recurrent,
    resnet_cifar,
    seed_cnn,
    seq2seq,
    torchvision_models,
    transformer,
    vgg,
    vit,
)
from playground.models.base import MODELS, ModelSpec, WeightsUnavailableError, register_model

__all__ = ["MODELS", "ModelSpec", "WeightsUnavailableError", "register_model"]
