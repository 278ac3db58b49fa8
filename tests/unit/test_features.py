"""Filters, feature maps via hooks, channel statistics, and predictions."""

import threading

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from playground.bundle import create_bundle
from playground.inspection.features import capture_activations, channel_stats, conv_layers, filters_as_images, get_conv
from playground.inspection.predict import predict_images


def test_conv_layers_in_order() -> None:
    bundle = create_bundle("seed_cnn", image_size=16)
    assert [n for n, _ in conv_layers(bundle.model)] == ["conv1", "conv2"]
    with pytest.raises(ValueError, match="not a conv layer"):
        get_conv(bundle.model, "fc1")


def test_feature_map_equals_direct_convolution() -> None:
    torch.manual_seed(0)
    bundle = create_bundle("seed_cnn", image_size=16)
    x = torch.randn(1, 3, 16, 16)
    maps = capture_activations(bundle.model, x, ["conv1"])
    expected = bundle.model.conv1(x)
    assert torch.allclose(maps["conv1"], expected, atol=1e-6)
    assert maps["conv1"].shape == (1, 32, 16, 16)
    # hooks are removed: no hook left behind on the module
    assert not bundle.model.conv1._forward_hooks


def test_hooks_removed_even_when_forward_fails() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(RuntimeError):
        capture_activations(model, torch.randn(1, 3, 8, 8), ["2"])  # the Linear fails: 144 inputs, not 10
    assert not model[2]._forward_hooks


def test_the_forward_pass_stops_after_the_last_layer_asked_for() -> None:
    calls: list[str] = []
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3), nn.Flatten(), nn.Linear(10, 2))
    for name, module in model.named_children():
        module.register_forward_hook(lambda *_, name=name: calls.append(name))
    x = torch.randn(1, 3, 8, 8)
    maps = capture_activations(model, x, ["2", "0"])
    assert calls == ["0", "1", "2"]  # the (failing) Linear after them never ran
    assert torch.allclose(maps["0"], model[0](x)) and torch.allclose(maps["2"], model[2](model[1](model[0](x))))
    assert len(model[0]._forward_hooks) == 1  # the test's own hook; capture_activations removed its


def test_filters_scaled_per_filter() -> None:
    conv = nn.Conv2d(3, 5, 3)
    rgb = filters_as_images(conv)
    assert rgb.shape == (5, 3, 3, 3)
    assert np.allclose(rgb.reshape(5, -1).min(1), 0) and np.allclose(rgb.reshape(5, -1).max(1), 1)
    gray = filters_as_images(nn.Conv2d(4, 2, 5))
    assert gray.shape == (2, 4, 5, 5)
    with pytest.raises(ValueError, match="3 input channels"):
        filters_as_images(nn.Conv2d(4, 2, 5), rgb=True)


def test_channel_stats_values() -> None:
    fmap = torch.tensor([[[1.0, -1.0], [3.0, 0.0]], [[0.0, 0.0], [0.0, 2.0]]])  # (2, 2, 2)
    stats = channel_stats(fmap)
    assert np.allclose(stats.mean, [0.75, 0.5])
    assert np.allclose(stats.max, [3.0, 2.0])
    assert np.allclose(stats.active_fraction, [0.5, 0.25])
    assert np.allclose(channel_stats(torch.tensor([[1.0, -1.0], [0.0, 2.0]])).mean, [0.0, 1.0])  # (C, T) of a 1-D conv
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        channel_stats(torch.zeros(2))


def test_predict_probabilities_and_topk() -> None:
    torch.manual_seed(0)
    bundle = create_bundle("seed_cnn", image_size=16, num_classes=4, labels=["a", "b", "c", "d"])
    images = [Image.new("RGB", (30, 20), (200, 10, 10)), Image.new("L", (16, 16), 40)]
    predictions = predict_images(bundle, images, top_k=3)
    assert len(predictions) == 2
    for p in predictions:
        assert abs(float(p.probs.sum()) - 1) < 1e-5
        assert [t.probability for t in p.top_k] == sorted((t.probability for t in p.top_k), reverse=True)
        assert p.top_k[0].index == int(p.logits.argmax())
        assert p.top_k[0].label == bundle.labels[p.top_k[0].index]
        assert p.pixels.shape == (3, 16, 16)
    with pytest.raises(ValueError, match="at least one image"):
        predict_images(bundle, [])


class _OtherSessionMidPass(nn.Module):
    """Identity; on its first call it runs the whole model once on another thread (another user's
    session using the same model while this pass has its hooks registered) and keeps the logits."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[nn.Module] = []  # a list, not an attribute: the model is not a sub-module of itself
        self.other_logits: torch.Tensor | None = None
        self.other_error: BaseException | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pending:
            model = self.pending.pop()  # once

            def other_session() -> None:
                try:
                    self.other_logits = model(torch.ones(1, 3, 8, 8))
                except BaseException as exc:  # the test reports it
                    self.other_error = exc

            worker = threading.Thread(target=other_session)
            worker.start()
            worker.join()
        return x


def test_another_threads_pass_on_the_same_model_is_left_alone() -> None:
    """The hooks of a capture see only their own thread: another session's pass through the shared
    model meanwhile is neither recorded nor cut short, and each gets its own numbers."""
    torch.manual_seed(0)
    probe = _OtherSessionMidPass()
    model = nn.Sequential(probe, nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2)).eval()
    x = torch.randn(1, 3, 8, 8)
    probe.pending.append(model)
    maps = capture_activations(model, x, ["1"])
    assert probe.other_error is None  # not ended by this capture's early stop
    with torch.no_grad():
        assert torch.allclose(probe.other_logits, model(torch.ones(1, 3, 8, 8)))
        assert torch.allclose(maps["1"], model[1](x))  # this capture's own input, not the other one
