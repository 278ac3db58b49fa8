"""torchvision's ResNet-18, MobileNetV3-Small and ViT-B/16, random or with ImageNet weights.

- ResNet-18: He et al. 2015, "Deep Residual Learning for Image Recognition",
  https://arxiv.org/abs/1512.03385 (the ImageNet network, 7x7 stem + max-pool, 4 stages).
- MobileNetV3-Small: Howard et al. 2019, "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244.
- ViT-B/16: Dosovitskiy et al. 2020, "An image is worth 16x16 words", https://arxiv.org/abs/2010.11929
  (12 layers x 12 heads, 16-pixel patches), with its attention readable (``torchvision_vit.TorchvisionViT``).

Model code and weight metadata (URL, transforms, categories) come from torchvision's weights API
(``ResNet18_Weights.IMAGENET1K_V1``, ``MobileNet_V3_Small_Weights.IMAGENET1K_V1``,
``ViT_B_16_Weights.IMAGENET1K_V1``). The weights file
itself is *not* fetched through ``weights.get_state_dict()``: that calls ``torch.hub`` without any
timeout and can hang for minutes offline. :func:`fetch_state_dict` reads torch.hub's own cache
(``torch.hub.get_dir()/checkpoints/<file>``) when the file is there, and otherwise downloads it with
a hard deadline on connecting, a socket timeout on every read and torch.hub's sha256 check; any
failure becomes a :class:`WeightsUnavailableError` that tells the user what to do.

Both entries default to random init (nothing downloads unless ImageNet weights are asked for).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import urlopen

import torch
from torch import nn

from playground.modalities.image.imagenet import imagenet_categories, imagenet_preprocessing
from playground.modalities.image.preprocessing import Preprocessing, simple_preprocessing
from playground.models.adapt import replace_head, replace_stem
from playground.models.base import WeightsUnavailableError, register_model

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

# torchvision is imported by the builders, not with the registry: ``import torchvision`` takes about
# 1 s on 2 cores (its ops pull in ``torch._dynamo``), and the app's first page builds none of these.

DOWNLOAD_TIMEOUT_S = 5.0  # connect deadline and per-read socket timeout, seconds
_CHUNK = 1 << 20  # download chunk, bytes


def hub_checkpoint_path(url: str) -> Path:
    """Where torch.hub caches the file at ``url``: ``torch.hub.get_dir()/checkpoints/<file name>``."""
    name = os.path.basename(urlparse(url).path)
    if not name:
        raise ValueError(f"expected a URL that ends in a file name, got {url!r}")
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _open_url(url: str, timeout: float) -> Any:
    """``urlopen`` with a hard deadline on the whole connection phase.

    A socket timeout does not bound the DNS lookup (``getaddrinfo`` blocks for as long as the
    resolver likes), so the connection is opened in a daemon thread and abandoned after ``timeout``
    seconds. Any exception from ``urlopen`` is re-raised here.

    Raises:
        TimeoutError: no response within ``timeout`` seconds.
        OSError: from ``urlopen`` (``URLError`` is an ``OSError``).
    """
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["response"] = urlopen(url, timeout=timeout)
        except BaseException as exc:  # handed to the caller below, never dropped
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="weights-connect", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no answer from {urlparse(url).netloc} within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"]


def _download(url: str, dest: Path, timeout: float) -> None:
    """Download ``url`` to ``dest`` atomically (temp file + rename), checking torch.hub's sha256 prefix.

    torchvision file names carry the first hex digits of the file's sha256 (``resnet18-f37072fd.pth``,
    ``torch.hub.HASH_REGEX``); a file whose hash does not start with them is refused.

    Raises:
        OSError / TimeoutError: network or disk failures.
        ValueError: hash mismatch.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(dest.name)
    expected = match.group(1) if match else ""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url, timeout) as response:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if expected and not digest.hexdigest().startswith(expected):
            raise ValueError(
                f"the downloaded file's sha256 {digest.hexdigest()[:12]}... does not start with {expected}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _unavailable(what: str, path: Path, url: str, reason: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"{what} are not in the local cache ({path}) and could not be downloaded from {url} ({reason}). "
        f"Connect to the internet and try again, copy that file to {path}, or upload / pass a local "
        f"weights file (.safetensors, .pt or .pth) instead."
    )


def fetch_state_dict(
    url: str, what: str = "the pretrained weights", timeout: float | None = None
) -> dict[str, torch.Tensor]:
    """Load a state dict from torch.hub's cache, downloading it there first if it is missing.

    Args:
        url: the weights' URL (``weights.url`` of a torchvision weights enum).
        what: how to name the weights in an error message.
        timeout: seconds allowed to connect, and per read; ``None``: :data:`DOWNLOAD_TIMEOUT_S`.

    Returns:
        The state dict, read with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        WeightsUnavailableError: not cached and not downloadable (offline, timeout, bad hash), or the
            cached file is unreadable; the message gives the cache path and what to do.
    """
    path = hub_checkpoint_path(url)
    if not path.is_file():
        try:
            _download(url, path, DOWNLOAD_TIMEOUT_S if timeout is None else timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeout, disk, bad hash
            raise _unavailable(what, path, url, f"{type(exc).__name__}: {exc}") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ... from a damaged file
        raise WeightsUnavailableError(
            f"{what} at {path} could not be read as a weights-only PyTorch file ({type(exc).__name__}: {exc}); "
            "delete it to download it again, or upload a local weights file instead."
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsUnavailableError(f"{what} at {path} do not hold a state dict (a mapping of names to tensors)")
    return state


def _build(
    name: str,
    factory: Callable[..., nn.Module],
    weights_enum: WeightsEnum,
    num_classes: int,
    in_channels: int,
    weights: str | None,
) -> nn.Module:
    if weights is None:
        model = factory(weights=None, num_classes=num_classes)
        return replace_stem(model, in_channels, keep_weights=False)
    if weights != "imagenet":
        raise ValueError(f"{name} has no weights {weights!r}; expected None or 'imagenet'")
    model = factory(weights=None)  # 1000 ImageNet classes, filled from the state dict below
    state = fetch_state_dict(weights_enum.url, what=f"ImageNet weights for {name}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsUnavailableError(
            f"the cached file {hub_checkpoint_path(weights_enum.url)} does not fit {name}: {exc}"
        ) from exc
    replace_head(model, num_classes)  # new head when fine-tuning to other classes
    return replace_stem(model, in_channels, keep_weights=True)


def _preprocessing_for(weights_name: str) -> Callable[[int, int, str | None], Preprocessing]:
    """The preprocessing of an entry whose ImageNet weights are ``torchvision.models.<weights_name>.IMAGENET1K_V1``."""

    def preprocessing(in_channels: int, image_size: int, weights: str | None) -> Preprocessing:
        if weights is None:  # trained here from scratch
            return simple_preprocessing(image_size, in_channels)
        from torchvision import models as tvm

        t = getattr(
            tvm, weights_name
        ).IMAGENET1K_V1.transforms()  # ImageClassification: resize 256, crop 224, ImageNet mean/std
        return imagenet_preprocessing(
            in_channels,
            image_size,
            mean=tuple(t.mean),
            std=tuple(t.std),
            resize_size=int(t.resize_size[0]),
            crop_size=int(t.crop_size[0]),
        )

    return preprocessing


@register_model(
    "resnet18",
    family="cnn",
    modality="image",
    source="He et al. 2015, Deep Residual Learning for Image Recognition, https://arxiv.org/abs/1512.03385 "
    "(torchvision.models.resnet18)",
    description="ResNet-18 from torchvision: random init, or ImageNet weights when online or cached.",
    num_classes=1000,
    in_channels=3,
    image_size=224,
    min_image_size=32,
    defaults={},
    weights=("imagenet",),
    default_weights=None,
    preprocessing=_preprocessing_for("ResNet18_Weights"),
    labels=imagenet_categories,
)
def resnet18(num_classes: int, in_channels: int, image_size: int, weights: str | None = None) -> nn.Module:
    """torchvision ResNet-18; ``weights="imagenet"`` loads ``ResNet18_Weights.IMAGENET1K_V1``.

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, num_classes)`` logits.

    Raises:
        WeightsUnavailableError: ImageNet weights asked for but neither cached nor downloadable.
        ValueError: unknown ``weights``.
    """
    from torchvision import models as tvm

    return _build("resnet18", tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1, num_classes, in_channels, weights)


@register_model(
    "mobilenet_v3_small",
    family="cnn",
    modality="image",
    source="Howard et al. 2019, Searching for MobileNetV3, https://arxiv.org/abs/1905.02244 "
    "(torchvision.models.mobilenet_v3_small)",
    description="MobileNetV3-Small from torchvision: a fast phone-sized CNN; random or ImageNet weights.",
    num_classes=1000,
    in_channels=3,
    image_size=224,
    min_image_size=32,
    defaults={},
    weights=("imagenet",),
    default_weights=None,
    preprocessing=_preprocessing_for("MobileNet_V3_Small_Weights"),
    labels=imagenet_categories,
)
def mobilenet_v3_small(num_classes: int, in_channels: int, image_size: int, weights: str | None = None) -> nn.Module:
    """torchvision MobileNetV3-Small; ``weights="imagenet"`` loads ``MobileNet_V3_Small_Weights.IMAGENET1K_V1``.

    Input ``(B, in_channels, H, W)`` float32 (normalized); output ``(B, num_classes)`` logits.

    Raises:
        WeightsUnavailableError: ImageNet weights asked for but neither cached nor downloadable.
        ValueError: unknown ``weights``.
    """
    from torchvision import models as tvm

    return _build(
        "mobilenet_v3_small",
        tvm.mobilenet_v3_small,
        tvm.MobileNet_V3_Small_Weights.IMAGENET1K_V1,
        num_classes,
        in_channels,
        weights,
    )


@register_model(
    "vit_b_16",
    family="transformer",
    modality="image",
    source="Dosovitskiy et al. 2020, An image is worth 16x16 words, https://arxiv.org/abs/2010.11929 "
    "(torchvision.models.vit_b_16)",
    description="ViT-B/16 from torchvision (86M parameters, 12 layers x 12 heads): random init, or ImageNet "
    "weights when online or cached; attention maps over 14x14 patches.",
    num_classes=1000,
    in_channels=3,
    image_size=224,
    min_image_size=32,
    defaults={},
    weights=("imagenet",),
    default_weights=None,
    preprocessing=_preprocessing_for("ViT_B_16_Weights"),
    labels=imagenet_categories,
)
def vit_b_16(num_classes: int, in_channels: int, image_size: int, weights: str | None = None) -> nn.Module:
    """torchvision ViT-B/16 as :class:`~playground.models.torchvision_vit.TorchvisionViT`; ``weights="imagenet"`` loads ``ViT_B_16_Weights.IMAGENET1K_V1``.

    Input ``(B, in_channels, image_size, image_size)`` float32 (normalized); output
    ``(B, num_classes)`` logits.

    Raises:
        WeightsUnavailableError: ImageNet weights asked for but neither cached nor downloadable.
        ValueError: unknown ``weights``; ``image_size`` not a multiple of 16, or not 224 with
            ImageNet weights (their position embeddings are for 14 x 14 patches).
    """
    if image_size % 16:
        raise ValueError(
            f"vit_b_16 cuts images into 16-pixel patches: image_size must be a multiple of 16, got {image_size}"
        )
    if weights is not None and image_size != 224:
        raise ValueError(f"vit_b_16's ImageNet weights take 224-pixel images, got image_size={image_size}")

    from torchvision import models as tvm

    from playground.models.torchvision_vit import TorchvisionViT

    def factory(weights: None = None, num_classes: int = 1000) -> nn.Module:
        return TorchvisionViT(image_size=image_size, num_classes=num_classes)

    return _build("vit_b_16", factory, tvm.ViT_B_16_Weights.IMAGENET1K_V1, num_classes, in_channels, weights)
