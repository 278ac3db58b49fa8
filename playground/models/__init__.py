"""Model architectures: the registry and every entry in it.

Importing this package registers every entry; ``MODELS.names()`` lists them.
"""

from playground.models import (  # noqa: F401  (imported for their @register_model side effect)
    efficientnet_lite,
    hf,
    lenet,
    recurrent,
    resnet_cifar,
    seed_cnn,
    torchvision_models,
    transformer,
    vgg,
    vit,
)
from playground.models.base import MODELS, ModelSpec, WeightsUnavailableError, register_model

# The encoder-decoder lives with its tasks in playground.seq2seq (it needs only .attention and .base).
from playground.seq2seq import model as seq2seq_model  # noqa: F401

__all__ = ["MODELS", "ModelSpec", "WeightsUnavailableError", "register_model"]
