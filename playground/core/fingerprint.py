"""A short key for a model's weights, for caches of views derived from them."""

from __future__ import annotations

import hashlib

import torch
from torch import nn


def weights_fingerprint(model: nn.Module) -> str:
    """A short sha256 hex digest of the model's parameters and buffers (names, shapes, dtypes, values).

    A cache key for views derived from a model's weights: the same weights give the same key, any
    change to a weight another one (training a model in place included).
    """
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
