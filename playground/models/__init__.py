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

# The encoder-decoder lives with its tasks in playground.seq2seq; imported last (it imports
# playground.models.attention / .base, which are loaded by now) so it registers with the rest.
import playground.seq2seq.model  # noqa: E402, F401, I001

__all__ = ["MODELS", "ModelSpec", "WeightsUnavailableError", "register_model"]
