"""The Learn page's arithmetic: one conv and one max-pool output recomputed equal the model's."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from playground.bundle import load_bundle
from playground.inspection.arithmetic import conv_step, max_pool_step
from playground.inspection.features import capture_input_output
from playground.modalities.image.decode import load_sample

CONVS = [
    {"in_channels": 3, "out_channels": 4, "kernel_size": 3},
    {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "padding": 1, "stride": 2},
    {"in_channels": 4, "out_channels": 6, "kernel_size": (3, 2), "padding": (2, 1), "dilation": 2, "bias": False},
    {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": "same", "groups": 2},
    {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": 1, "groups": 4},  # depthwise
]


@pytest.mark.parametrize("settings", CONVS, ids=[str(i) for i in range(len(CONVS))])
def test_every_conv_output_recomputed_equals_pytorch(settings: dict) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(**settings)
    x = torch.randn(conv.in_channels, 9, 8)
    y = conv(x.unsqueeze(0))[0].detach()  # (C_out, H_out, W_out)
    for c, i, j in itertools.product(range(y.shape[0]), range(y.shape[1]), range(y.shape[2])):
        step = conv_step(conv, x, y, c, i, j)
        assert step.matches, (settings, c, i, j, step.value, step.model_value)
        assert step.window.shape == step.kernel.shape == step.products.shape
    assert abs(step.value - (float(step.products.sum()) + step.bias)) < 1e-5


def test_a_window_in_the_padding_holds_zeros_and_a_wrong_value_does_not_match() -> None:
    conv = nn.Conv2d(1, 1, 3, padding=1)
    x = torch.arange(1.0, 17.0).reshape(1, 4, 4)
    y = conv(x.unsqueeze(0))[0].detach()
    corner = conv_step(conv, x, y, 0, 0, 0)
    assert corner.top_left == (-1, -1) and corner.window[0, 0].tolist() == [0.0, 0.0, 0.0]
    assert corner.window[0, 1:, 1:].tolist() == [[1.0, 2.0], [5.0, 6.0]]
    assert not conv_step(conv, x, y + 0.01, 0, 0, 0).matches
    with pytest.raises(ValueError, match="outside"):
        conv_step(conv, x, y, 0, 4, 0)


@pytest.mark.parametrize(
    "settings",
    [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": 2, "ceil_mode": True}],
)
def test_every_max_pool_output_recomputed_equals_pytorch(settings: dict) -> None:
    pool = nn.MaxPool2d(**settings)
    x = torch.randn(2, 7, 7)
    y = pool(x.unsqueeze(0))[0]
    for c, i, j in itertools.product(range(y.shape[0]), range(y.shape[1]), range(y.shape[2])):
        step = max_pool_step(pool, x, y, c, i, j)
        assert step.matches and step.window[step.argmax] == step.value


def test_lenet5_conv_and_pool_on_a_digit_equal_the_models_own_numbers() -> None:
    bundle = load_bundle("assets/checkpoints/lenet5-mnist")
    pixels = bundle.image_preprocessing.pixels_from_pil(load_sample("digit_3"))
    x = bundle.image_preprocessing.normalize(pixels).unsqueeze(0)  # (1, 1, 28, 28)
    conv_in, conv_out = capture_input_output(bundle.model, x, "conv1")
    assert torch.equal(conv_in, x)  # the first layer sees the normalized digit
    step = conv_step(bundle.model.conv1, conv_in[0], conv_out[0], channel=2, row=14, col=12)
    assert step.matches and step.window.shape == (1, 5, 5)
    pool_in, pool_out = capture_input_output(bundle.model, x, "pool1")
    assert torch.equal(pool_in, torch.relu(conv_out))  # conv -> ReLU -> pool, as the model runs
    pool = max_pool_step(bundle.model.pool1, pool_in[0], pool_out[0], channel=2, row=7, col=6)
    assert pool.matches and pool.top_left == (14, 12) and pool.value == pool_in[0, 2, 14:16, 12:14].max()


def test_the_rnn_output_recomputed_from_the_head_equals_the_models_logits() -> None:
    from playground.inspection.arithmetic import rnn_output_step

    bundle = load_bundle("assets/checkpoints/lstm-brackets")
    ids = bundle.preprocessing.encode("(()(()))").ids  # (T,)
    step = rnn_output_step(bundle.model, ids)
    assert step.matches and step.max_abs_diff < 1e-5
    assert step.features.shape == (bundle.model.head.in_features,) and step.pooling == bundle.model.pooling
    assert abs(float(step.probs.sum()) - 1.0) < 1e-9
    torch.testing.assert_close(step.probs.float(), bundle.model(ids[None])[0].softmax(0), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="recurrent classifier"):
        rnn_output_step(nn.Conv2d(1, 1, 1), ids)
