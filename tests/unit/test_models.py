"""Every registered CNN builds, runs, trains and adapts; the special entries keep their promises."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import threading
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision import models as tvm

from playground.inspection.summary import count_flops, layer_table, summarize
from playground.modalities.image.imagenet import categories_from_source, imagenet_categories
from playground.models import MODELS, ModelSpec, WeightsUnavailableError
from playground.models import torchvision_models as tvm_entries
from playground.models.adapt import classifier_head, freeze_backbone, replace_head, replace_stem
from playground.models.efficientnet_lite import LITE_MEAN, LITE_STD, load_lite0_state_dict
from playground.models.lenet import LeNet5
from playground.models.resnet_cifar import ResNetCIFAR
from playground.models.seed_cnn import SeedCNN
from playground.models.vgg import VGGSmall

ALL_MODELS = [n for n, s in MODELS.items() if s.modality == "image"]  # text / sequence entries: test_recurrent.py


def small_size(spec: ModelSpec) -> int:
    """A small valid input side: fast on CPU, at least the entry's minimum."""
    return min(spec.image_size, max(spec.min_image_size, 16))


def build(
    name: str, num_classes: int | None = None, in_channels: int | None = None, size: int | None = None
) -> nn.Module:
    spec = MODELS.get(name)
    return spec.builder(
        num_classes=spec.num_classes if num_classes is None else num_classes,
        in_channels=spec.in_channels if in_channels is None else in_channels,
        image_size=small_size(spec) if size is None else size,
        weights=None,
        **spec.defaults,
    )


def first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


# -- every entry -------------------------------------------------------------------------------


def test_the_registry_holds_the_cnn_entries() -> None:
    expected = {
        "seed_cnn",
        "lenet5",
        "vgg_small",
        "resnet_cifar",
        "resnet18",
        "mobilenet_v3_small",
        "efficientnet_lite0",
    }
    assert expected <= set(ALL_MODELS)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_spec_is_consistent(name: str) -> None:
    spec = MODELS.get(name)
    assert spec.name == name
    assert spec.source and spec.description
    assert spec.min_image_size <= spec.image_size
    assert spec.default_weights is None or spec.default_weights in spec.weights
    if spec.weights:
        assert spec.labels is not None and len(spec.labels()) == 1000
    pre = spec.preprocessing(spec.in_channels, spec.image_size, spec.default_weights)
    assert (pre.image_size, pre.channels) == (spec.image_size, spec.in_channels)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_and_backward_give_finite_grads(name: str) -> None:
    torch.manual_seed(0)
    spec = MODELS.get(name)
    model = build(name).train()
    size = small_size(spec)
    x = torch.randn(2, spec.in_channels, size, size)
    logits = model(x)
    assert logits.shape == (2, spec.num_classes)
    assert logits.dtype == torch.float32
    F.cross_entropy(logits, torch.tensor([0, 1])).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for n, p in trainable:
        assert p.grad is not None, f"{name}: no gradient reached {n}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {n}"
    assert any(p.grad.abs().sum() > 0 for _, p in trainable if p.grad is not None)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name", ALL_MODELS)
def test_rebuild_for_other_classes_and_channels(name: str, in_channels: int) -> None:
    spec = MODELS.get(name)
    model = build(name, num_classes=3, in_channels=in_channels).eval()
    size = small_size(spec)
    assert first_conv(model).in_channels == in_channels
    assert classifier_head(model)[1].out_features == 3
    with torch.no_grad():
        out = model(torch.randn(2, in_channels, size, size))
    assert out.shape == (2, 3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_layer_table_params_sum_to_the_total(name: str) -> None:
    spec = MODELS.get(name)
    model = build(name)
    size = small_size(spec)
    rows = layer_table(model, (1, spec.in_channels, size, size))
    total = sum(p.numel() for p in model.parameters())
    assert sum(r.num_params for r in rows) == total
    convs = [r for r in rows if "Conv2d" in r.type]  # nn.Conv2d and its subclasses
    assert convs, "feature-map hooks need the conv layers as rows"
    assert convs[0].output_shape is not None and convs[0].output_shape[0] == 1
    assert model.training  # the table restores train mode


# -- seed CNN and LeNet-5 -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [28, 32, 37])
def test_seed_cnn_flatten_follows_the_input_size(size: int) -> None:
    model = SeedCNN(num_classes=10, in_channels=3, image_size=size)
    assert model.fc1.in_features == 64 * (size // 4) ** 2
    assert model(torch.randn(2, 3, size, size)).shape == (2, 10)


def test_lenet5_has_the_classic_parameter_count() -> None:
    model = LeNet5(num_classes=10, in_channels=1, image_size=28)
    # conv1 6*(25+1) + conv2 16*(6*25+1) + fc 400*120+120 + 120*84+84 + 84*10+10 = 61,706
    expected = 6 * 26 + 16 * (6 * 25 + 1) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected == 61706
    assert model.fc1.in_features == 16 * 5 * 5


@pytest.mark.parametrize(("size", "side"), [(12, 1), (28, 5), (32, 6), (37, 7)])
def test_lenet5_flatten_follows_the_input_size(size: int, side: int) -> None:
    model = LeNet5(num_classes=4, in_channels=3, image_size=size)
    assert model.fc1.in_features == 16 * side * side
    assert model(torch.randn(2, 3, size, size)).shape == (2, 4)


def test_lenet5_variants_and_bad_options() -> None:
    classic = LeNet5(activation="tanh", pool="avg")
    assert isinstance(classic.act1, nn.Tanh) and isinstance(classic.pool1, nn.AvgPool2d)
    wide = LeNet5(width=2.0)
    assert (wide.conv1.out_channels, wide.conv2.out_channels, wide.fc1.out_features) == (12, 32, 240)
    with pytest.raises(ValueError, match="activation"):
        LeNet5(activation="gelu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 12"):
        LeNet5(image_size=11)


# -- VGG and the CIFAR ResNet -----------------------------------------------------------------


def test_vgg_small_channels_double_per_block_and_size_is_checked() -> None:
    model = VGGSmall(num_classes=10, width=8, depth=3, convs_per_block=2)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 6
    assert model.classifier.in_features == 32
    plain = VGGSmall(width=8, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert all(c.bias is not None for c in plain.modules() if isinstance(c, nn.Conv2d))
    with pytest.raises(ValueError, match="at least 16 px"):
        VGGSmall(depth=4, image_size=15)
    with pytest.raises(ValueError, match="depth"):
        VGGSmall(depth=0)
    # global average pooling: another input size works with the same weights
    assert VGGSmall(width=8)(torch.randn(2, 3, 40, 40)).shape == (2, 10)


@pytest.mark.parametrize("depth", [8, 14, 20, 32])
def test_resnet_cifar_has_6n_plus_2_weighted_layers(depth: int) -> None:
    model = ResNetCIFAR(num_classes=10, depth=depth)
    weighted = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    assert weighted == depth


def test_resnet20_has_the_papers_parameter_count() -> None:
    params = sum(p.numel() for p in ResNetCIFAR(num_classes=10, depth=20).parameters())
    assert round(params / 1e6, 2) == 0.27  # He et al. 2015, Table 6: ResNet-20 has 0.27M


@pytest.mark.parametrize("depth", [0, 2, 7, 9, 21, 100])
def test_resnet_cifar_refuses_invalid_depth(depth: int) -> None:
    with pytest.raises(ValueError, match="6n"):
        ResNetCIFAR(depth=depth)
    with pytest.raises(ValueError, match="6n"):
        MODELS.get("resnet_cifar").builder(num_classes=10, in_channels=3, image_size=32, depth=depth)


def test_resnet_cifar_uses_each_relu_module_once() -> None:
    model = ResNetCIFAR(num_classes=10, depth=8).eval()
    calls: dict[str, int] = {}
    relus = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
    handles = [m.register_forward_hook(lambda *_, n=n: calls.__setitem__(n, calls.get(n, 0) + 1)) for n, m in relus]
    with torch.no_grad():
        model(torch.randn(1, 3, 16, 16))
    for h in handles:
        h.remove()
    assert len(relus) == 1 + 2 * 3  # stem + two per block, n = 1 block per stage
    assert calls == {n: 1 for n, _ in relus}


# -- adaptation helpers -------------------------------------------------------------------------


def test_freeze_backbone_leaves_only_the_head_trainable() -> None:
    model = ResNetCIFAR(num_classes=7, depth=8)
    head_name, head = classifier_head(model)
    assert head_name == "fc"
    left = freeze_backbone(model)
    assert left == head.weight.numel() + head.bias.numel() == 64 * 7 + 7
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fc.weight", "fc.bias"}
    assert freeze_backbone(model, freeze=False) == sum(p.numel() for p in model.parameters())


def test_replace_head_keeps_in_features_and_changes_outputs() -> None:
    model = LeNet5(num_classes=10)
    old_fc2 = model.fc2.weight.clone()
    replace_head(model, 4)
    assert (model.fc3.in_features, model.fc3.out_features) == (84, 4)
    assert torch.equal(model.fc2.weight, old_fc2)
    with pytest.raises(ValueError, match="at least 1"):
        replace_head(model, 0)
    with pytest.raises(ValueError, match=r"nn\.Linear"):
        classifier_head(nn.Sequential(nn.Conv2d(1, 2, 3)))


def test_replace_stem_keeps_the_response_to_gray_images() -> None:
    torch.manual_seed(0)
    rgb = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 2))
    gray_img = torch.rand(2, 1, 8, 8)
    expected = rgb(gray_img.repeat(1, 3, 1, 1))  # a gray picture given as R = G = B
    gray = replace_stem(rgb, 1)
    assert first_conv(gray).in_channels == 1 and gray is rgb  # changed in place
    assert torch.allclose(gray(gray_img), expected, atol=1e-5)
    back = replace_stem(gray, 3)  # 1 -> 3 repeats / 3: same response again
    assert torch.allclose(back(gray_img.repeat(1, 3, 1, 1)), expected, atol=1e-5)
    fresh = replace_stem(nn.Sequential(nn.Conv2d(3, 4, 3)), 1, keep_weights=False)
    assert first_conv(fresh).weight.shape == (4, 1, 3, 3)
    with pytest.raises(ValueError, match="1 or 3"):
        replace_stem(rgb, 2)


# -- summary ------------------------------------------------------------------------------------


def test_count_flops_of_a_linear_layer() -> None:
    assert count_flops(nn.Linear(10, 5), (1, 10)) == 2 * 10 * 5


def test_count_flops_of_a_conv_matches_the_formula() -> None:
    c_in, c_out, k, stride, size = 3, 8, 3, 2, 17
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=1)
    out = (size + 2 * 1 - k) // stride + 1  # 9
    assert count_flops(conv, (1, c_in, size, size)) == 2 * c_in * k * k * c_out * out * out


def test_summary_of_lenet() -> None:
    model = LeNet5().train()
    freeze_backbone(model)
    s = summarize(model, (1, 1, 28, 28))
    assert s.total_params == 61706
    assert s.trainable_params == 84 * 10 + 10
    conv_macs = 6 * 25 * 28 * 28 + 16 * 6 * 25 * 10 * 10
    fc_macs = 400 * 120 + 120 * 84 + 84 * 10
    assert s.flops == 2 * (conv_macs + fc_macs)
    rows = {r.name: r for r in s.rows}
    assert rows["conv1"].output_shape == (1, 6, 28, 28)
    assert rows["pool2"].output_shape == (1, 16, 5, 5)
    assert rows["fc3"].trainable and not rows["conv1"].trainable
    assert model.training
    with pytest.raises(ValueError, match="batch of 1"):
        layer_table(model, (2, 1, 28, 28))


# -- torchvision entries: weights offline ---------------------------------------------------------


def _offline(*_args: object, **_kwargs: object) -> object:
    raise urllib.error.URLError(OSError(101, "Network is unreachable (simulated)"))


def test_resnet18_imagenet_weights_offline_fail_fast(empty_torch_hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tvm_entries, "urlopen", _offline)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as info:
        MODELS.get("resnet18").builder(num_classes=1000, in_channels=3, image_size=224, weights="imagenet")
    assert time.monotonic() - start < 15.0
    message = str(info.value)
    expected_path = empty_torch_hub / "checkpoints" / "resnet18-f37072fd.pth"
    assert str(expected_path) in message
    assert "not in the local cache" in message and "could not be downloaded" in message
    assert "upload" in message
    assert not list((empty_torch_hub / "checkpoints").glob("*"))  # no partial file left


def test_a_hanging_connection_is_abandoned(empty_torch_hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(*_args: object, **_kwargs: object) -> object:  # like a DNS lookup that never returns
        release.wait(30)
        raise urllib.error.URLError("released")

    monkeypatch.setattr(tvm_entries, "urlopen", hang)
    monkeypatch.setattr(tvm_entries, "DOWNLOAD_TIMEOUT_S", 0.3)
    start = time.monotonic()
    try:
        with pytest.raises(WeightsUnavailableError, match="TimeoutError"):
            MODELS.get("mobilenet_v3_small").builder(
                num_classes=1000, in_channels=3, image_size=224, weights="imagenet"
            )
        assert time.monotonic() - start < 5.0
    finally:
        release.set()


def _serve(data: bytes) -> Callable[[str, float], io.BytesIO]:
    """A fake ``urlopen`` that serves ``data``."""

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        assert timeout > 0  # the real call must always carry a timeout
        return io.BytesIO(data)

    return fake_urlopen


def test_download_checks_the_hash_and_lands_in_the_hub_cache(
    empty_torch_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(6.0).view(2, 3)}, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:8]
    monkeypatch.setattr(tvm_entries, "urlopen", _serve(data))
    good = f"https://example.invalid/models/tiny-{digest}.pth"
    state = tvm_entries.fetch_state_dict(good)
    assert torch.equal(state["w"], torch.arange(6.0).view(2, 3))
    assert (empty_torch_hub / "checkpoints" / f"tiny-{digest}.pth").read_bytes() == data
    bad = "https://example.invalid/models/tiny-deadbeef.pth"
    with pytest.raises(WeightsUnavailableError, match="sha256"):
        tvm_entries.fetch_state_dict(bad)
    assert sorted(p.name for p in (empty_torch_hub / "checkpoints").iterdir()) == [f"tiny-{digest}.pth"]


def test_cached_imagenet_weights_load_and_adapt(empty_torch_hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tvm_entries, "urlopen", _offline)  # only the cache may be used
    torch.manual_seed(0)
    reference = tvm.mobilenet_v3_small(weights=None).state_dict()
    url = tvm.MobileNet_V3_Small_Weights.IMAGENET1K_V1.url
    path = tvm_entries.hub_checkpoint_path(url)
    path.parent.mkdir(parents=True)
    torch.save(reference, path)
    builder = MODELS.get("mobilenet_v3_small").builder
    same = builder(num_classes=1000, in_channels=3, image_size=224, weights="imagenet").state_dict()
    assert same.keys() == reference.keys()
    assert all(torch.equal(same[k], reference[k]) for k in reference)
    tuned = builder(num_classes=4, in_channels=1, image_size=64, weights="imagenet")
    stem, head = first_conv(tuned), classifier_head(tuned)[1]
    assert torch.allclose(stem.weight, reference["features.0.0.weight"].sum(dim=1, keepdim=True))
    assert head.out_features == 4
    assert torch.equal(tuned.state_dict()["classifier.0.weight"], reference["classifier.0.weight"])
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="could not be read"):
        builder(num_classes=1000, in_channels=3, image_size=224, weights="imagenet")


def test_imagenet_preprocessing_of_torchvision_entries() -> None:
    spec = MODELS.get("resnet18")
    pre = spec.preprocessing(3, 224, "imagenet")
    assert (pre.resize, pre.image_size) == (256, 224)
    assert pre.mean == pytest.approx((0.485, 0.456, 0.406))
    gray = spec.preprocessing(1, 224, "imagenet")
    assert gray.mean == pytest.approx((sum((0.485, 0.456, 0.406)) / 3,))
    assert spec.preprocessing(3, 32, None).resize is None
    assert imagenet_categories()[281] == "tabby"


def test_imagenet_categories_read_from_torchvision_source_are_its_weights_own() -> None:
    """Read as data (no torchvision import, for the app's first paint), the same 1,000 names in the same order."""
    assert categories_from_source() == tuple(tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


# -- EfficientNet-Lite0: real weights, offline ----------------------------------------------------


@pytest.fixture(scope="module")
def lite0() -> nn.Module:
    spec = MODELS.get("efficientnet_lite0")
    return spec.builder(num_classes=1000, in_channels=3, image_size=224, weights="imagenet").eval()


def test_efficientnet_lite0_loads_its_weights_strictly(lite0: nn.Module) -> None:
    state = load_lite0_state_dict()
    own = lite0.state_dict()
    assert own.keys() == state.keys()
    assert all(torch.equal(own[k], state[k]) for k in state)
    assert MODELS.get("efficientnet_lite0").default_weights == "imagenet"


def test_efficientnet_lite0_outputs_probabilities(lite0: nn.Module) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        probs = lite0(torch.randn(2, 3, 224, 224)).softmax(dim=1)
    assert probs.shape == (2, 1000)
    assert torch.allclose(probs.sum(dim=1), torch.ones(2), atol=1e-5)


def test_efficientnet_lite0_recognises_a_real_photo(lite0: nn.Module) -> None:
    # scikit-learn's sample photo of a Chinese palace (CC-BY), read without importing sklearn (slow)
    sklearn_spec = importlib.util.find_spec("sklearn")
    assert sklearn_spec is not None and sklearn_spec.submodule_search_locations
    path = Path(sklearn_spec.submodule_search_locations[0]) / "datasets" / "images" / "china.jpg"
    with Image.open(path) as image:
        photo = image.convert("RGB")
    pre = MODELS.get("efficientnet_lite0").preprocessing(3, 224, "imagenet")
    assert pre.mean == pytest.approx(LITE_MEAN) and pre.std == pytest.approx(LITE_STD)
    with torch.no_grad():
        probs = lite0(pre(photo)[None]).softmax(dim=1)[0]
    top5 = [imagenet_categories()[i] for i in probs.topk(5).indices.tolist()]
    assert {"palace", "monastery", "bell cote", "church", "castle"} & set(top5), top5


def test_efficientnet_lite0_fine_tune_head_and_gray_stem() -> None:
    state = load_lite0_state_dict()
    model = MODELS.get("efficientnet_lite0").builder(num_classes=5, in_channels=1, image_size=64, weights="imagenet")
    own = model.state_dict()
    assert own["_fc.weight"].shape == (5, 1280)
    assert torch.allclose(own["_conv_stem.weight"], state["_conv_stem.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(own["_blocks.3._depthwise_conv.weight"], state["_blocks.3._depthwise_conv.weight"])
    assert freeze_backbone(model) == 1280 * 5 + 5
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 1, 64, 64)).shape == (1, 5)


@pytest.mark.parametrize("name", MODELS.names())
def test_hparam_choices_hold_their_default(name: str) -> None:
    spec = MODELS.get(name)
    for key, options in spec.choices.items():
        assert spec.defaults[key] in options, f"{name}.{key}: default {spec.defaults[key]!r} not in {options}"
