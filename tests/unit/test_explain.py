"""Attribution methods: the registry on every kind of model, completeness, safe copies, batching, errors."""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path

import pytest
import torch
from captum.attr import DeepLift
from torch import nn

from playground.bundle import Bundle, create_bundle, load_bundle
from playground.explain import (
    METHODS,
    ExplainParams,
    Explanation,
    ExplanationStopped,
    MethodNotSupportedError,
    ModelView,
    auto_batch_size,
    display_map,
    explain,
    explain_methods,
    explain_work,
    methods_for,
    normalize_attributions,
    token_scores,
)
from playground.explain.base import MAX_IG_STEPS, PAD_ID, Progress, Subject
from playground.explain.baselines import image_baseline, text_baseline
from playground.explain.gradient import DELTA_ATOL, adds_up, next_n_steps
from playground.explain.perturbation import compact_tokens
from playground.explain.segmentation import grid_segments, image_segments, step_segments
from playground.inspection.attention import class_token_map, image_attention, rollout
from playground.modalities.image.decode import decode_image
from playground.modalities.image.pixel_space import PixelSpaceModel
from playground.modalities.image.preprocessing import simple_preprocessing
from playground.models import MODELS
from playground.runner.jobs import BackgroundJob

ROOT = Path(__file__).resolve().parents[2]
# Captum announces the hooks it sets for DeepLift / guided backprop (the library filters this out).
pytestmark = [
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning"),
    pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU:UserWarning"),
]
FAST = ExplainParams(n_steps=16, n_samples=12, n_segments=16)


# -- fixtures: a trained CNN on a real digit, an LSTM on token ids, an LSTM on numeric sequences -------
@pytest.fixture(scope="module")
def lenet() -> Bundle:
    return load_bundle(ROOT / "assets/checkpoints/lenet5-mnist")


@pytest.fixture(scope="module")
def digit(lenet: Bundle) -> torch.Tensor:
    image = decode_image((ROOT / "assets/samples/digit_3.png").read_bytes(), "digit_3.png")
    return lenet.preprocessing.pixels_from_pil(image)  # (1, 28, 28) in [0, 1]


@pytest.fixture(scope="module")
def text_view() -> ModelView:
    torch.manual_seed(0)
    model = MODELS.get("lstm").builder(3, vocab_size=40).eval()
    return ModelView(model, "text", labels=("neg", "neutral", "pos"))


@pytest.fixture(scope="module")
def ids() -> torch.Tensor:
    return torch.tensor([5, 17, 3, 22, 9, 31, 12, 7], dtype=torch.int64)  # (T,), no PAD


@pytest.fixture(scope="module")
def sequence_view() -> ModelView:
    torch.manual_seed(1)
    return ModelView(MODELS.get("gru").builder(2, input_size=3).eval(), "sequence")


@pytest.fixture(scope="module")
def values() -> torch.Tensor:
    return torch.randn(10, 3, generator=torch.Generator().manual_seed(2))  # (T, F)


@pytest.fixture(scope="module")
def transformer_view() -> ModelView:
    torch.manual_seed(3)
    model = MODELS.get("transformer_encoder").builder(3, vocab_size=40).eval()
    return ModelView(model, "text", labels=("neg", "neutral", "pos"))


@pytest.fixture(scope="module")
def vit() -> Bundle:
    torch.manual_seed(4)
    return create_bundle("vit_tiny", weights=None)


def logit(view: ModelView | Bundle, x: torch.Tensor, target: int) -> float:
    """F(x) on the target's logit, computed independently of the explainers."""
    if isinstance(view, Bundle):
        net: nn.Module = PixelSpaceModel.from_bundle(view).eval()
    else:
        net = view.model.eval()
    with torch.no_grad():
        return float(net(x.unsqueeze(0))[0, target])


# -- the registry ------------------------------------------------------------------------------------
def test_every_method_names_its_paper_and_modalities() -> None:
    assert len(METHODS) >= 15
    for name, spec in METHODS.items():
        assert spec.name == name
        assert "http" in spec.source and spec.description and spec.title, name
        assert spec.input_kinds and set(spec.input_kinds) <= {"pixels", "token_ids", "values"}, name
    assert set(methods_for("image")) == set(METHODS.names())  # every method has an image path
    assert "integrated_gradients" in methods_for("text") and "grad_cam" not in methods_for("text")
    with pytest.raises(ValueError, match="known attribution methods"):
        METHODS.get("shap_values")


# Which methods cannot run on which model (with the reason's key words); everything else must run.
EXPECTED_UNSUPPORTED = {
    "cnn": {"attention_rollout": "no attention layers"},
    "text": {
        "deeplift": "recurrent",
        "guided_backprop": "image and sequence",
        "grad_cam": "image",
        "guided_grad_cam": "image",
        "smoothgrad": "image and sequence",
        "smoothgrad_sq": "image and sequence",
        "vargrad": "image and sequence",
        "attention_rollout": "no attention layers",
    },
    "transformer": {
        "deeplift": "GELU",
        "guided_backprop": "image and sequence",
        "grad_cam": "image",
        "guided_grad_cam": "image",
        "smoothgrad": "image and sequence",
        "smoothgrad_sq": "image and sequence",
        "vargrad": "image and sequence",
    },
    "vit": {"deeplift": "GELU", "guided_backprop": "GELU", "guided_grad_cam": "GELU"},
    "sequence": {
        "deeplift": "recurrent",
        "guided_backprop": "built into a recurrent layer",
        "grad_cam": "image",
        "guided_grad_cam": "image",
        "attention_rollout": "image and text",
    },
}


@pytest.mark.parametrize("kind", ["cnn", "text", "sequence", "transformer", "vit"])
@pytest.mark.parametrize("method", METHODS.names())
def test_every_method_runs_or_says_why(
    method: str,
    kind: str,
    lenet: Bundle,
    digit: torch.Tensor,
    text_view: ModelView,
    ids: torch.Tensor,
    sequence_view: ModelView,
    values: torch.Tensor,
    transformer_view: ModelView,
    vit: Bundle,
) -> None:
    model, x = {
        "cnn": (lenet, digit),
        "text": (text_view, ids),
        "sequence": (sequence_view, values),
        "transformer": (transformer_view, ids),
        "vit": (vit, digit),
    }[kind]
    expected = EXPECTED_UNSUPPORTED[kind]
    try:
        result = explain(model, x, method, params=FAST)
    except MethodNotSupportedError as exc:
        assert method in expected, f"{method} refused {kind}: {exc}"
        assert expected[method] in str(exc)
        return
    assert method not in expected, f"{method} ran on {kind} though it should say why not"
    shape = {"cnn": (1, 28, 28), "text": (8,), "sequence": (10, 3), "transformer": (8,), "vit": (1, 28, 28)}[kind]
    assert tuple(result.attributions.shape) == shape
    assert result.attributions.dtype == torch.float32
    assert bool(torch.isfinite(result.attributions).all())
    assert float(result.attributions.abs().sum()) > 0, "an all-zero map explains nothing"
    assert 0.0 <= result.probability <= 1.0 and result.method == method and result.seconds > 0
    if METHODS.get(method).has_delta:
        assert result.convergence_delta is not None


# -- completeness --------------------------------------------------------------------------------------
def test_integrated_gradients_completeness_at_200_steps(lenet: Bundle, digit: torch.Tensor) -> None:
    result = explain(lenet, digit, "integrated_gradients", params=ExplainParams(n_steps=200))
    assert result.label == "3" and result.target == 3 and result.probability > 0.9
    difference = logit(lenet, digit, 3) - logit(lenet, torch.zeros_like(digit), 3)  # black baseline
    total = float(result.attributions.double().sum())
    assert abs(difference) > 1.0
    assert abs(total - difference) <= 0.01 * abs(difference)
    assert result.convergence_delta == pytest.approx(total - difference, abs=1e-3 * abs(difference))
    assert result.relative_delta is not None and result.relative_delta <= 0.01
    assert result.details["batch_size"] == 200  # 784 values per image: all steps in one batch


def test_ig_cuts_the_path_until_the_map_adds_up(lenet: Bundle, digit: torch.Tensor) -> None:
    coarse = explain(lenet, digit, "integrated_gradients", params=ExplainParams(n_steps=4, delta_tolerance=None))
    assert coarse.relative_delta is not None and coarse.relative_delta > 0.01  # 4 steps are not enough
    assert coarse.details["n_steps"] == 4 and "path_segments" not in coarse.details
    checked = explain(lenet, digit, "integrated_gradients", params=ExplainParams(n_steps=4))
    segments = checked.details["path_segments"]
    assert segments[0][0] == 0.0 and segments[-1][1] == 1.0  # they cover the path, in order, without gaps
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segments))
    assert checked.details["n_steps"] == 4 + 8 * (len(segments) - 1) <= MAX_IG_STEPS  # each cut: two new halves
    difference = logit(lenet, digit, 3) - logit(lenet, torch.zeros_like(digit), 3)  # black baseline
    assert abs(checked.total - difference) <= 0.01 * abs(difference)  # independent of the reported delta
    assert checked.convergence_delta == pytest.approx(checked.total - difference, abs=1e-3 * abs(difference))
    assert checked.relative_delta is not None and checked.relative_delta <= 0.01


def test_text_ig_raises_its_steps_until_the_map_adds_up() -> None:
    brackets = load_bundle(ROOT / "assets/checkpoints/lstm-brackets")  # trained: F(x) - F(PAD) is logits apart
    ids = torch.as_tensor(brackets.preprocessing.encode("(()(()))((").ids)
    coarse = explain(brackets, ids, "integrated_gradients", params=ExplainParams(n_steps=1, delta_tolerance=None))
    assert coarse.relative_delta is not None and coarse.relative_delta > 0.1  # one step is far off
    checked = explain(brackets, ids, "integrated_gradients", params=ExplainParams(n_steps=1))
    tried = checked.details["n_steps_tried"]
    assert tried[0] == 1 and tried == sorted(tried) and checked.details["n_steps"] == tried[-1]
    assert sum(tried) <= MAX_IG_STEPS
    assert checked.relative_delta is not None and checked.relative_delta <= 0.01


def test_next_n_steps_and_when_a_map_adds_up() -> None:
    # (total, delta) with F(x) - F(baseline) = total - delta = 1
    assert next_n_steps(50, 1.005, 0.005, 0.01) is None  # within the tolerance
    assert next_n_steps(50, 1.5, 0.5, None) is None  # no check
    assert next_n_steps(50, 1.115, 0.115, 0.01) == math.ceil(50 * 11.5 * 1.25)  # scaled by the excess, 25 % margin
    assert next_n_steps(50, 1.011, 0.011, 0.01) == 100  # at least doubled
    assert next_n_steps(50, 11.0, 10.0, 0.01) == MAX_IG_STEPS - 50  # capped: all tries together
    assert next_n_steps(50, 1.115, 0.115, 0.01, spent=600) == MAX_IG_STEPS - 600  # what is left of the budget
    assert next_n_steps(50, 1.115, 0.115, 0.01, spent=950) is None  # less than 2 x 50 left: report as it is
    assert next_n_steps(MAX_IG_STEPS, 1.5, 0.5, 0.01) is None  # at the cap: the delta is reported as it is
    # F(x) ~ F(baseline): a delta under DELTA_ATOL logits adds up, however large relative to the difference
    assert adds_up(0.0012, 0.0002, 0.01) and next_n_steps(50, 0.0012, 0.0002, 0.01) is None
    assert adds_up(0.0, 0.0, 0.01) and not adds_up(0.1, 0.1, 0.01)  # (F(x) = F(baseline) and δ above the floor)
    assert next_n_steps(50, 0.1, 0.1, 0.01) == 100  # relative delta infinite: twice the steps
    assert DELTA_ATOL == 1e-3
    with pytest.raises(ValueError, match="delta_tolerance"):
        ExplainParams(delta_tolerance=1.5)


@pytest.mark.parametrize("baseline", ["blurred", "noise", "uniform"])
def test_ig_baselines_are_images_and_completeness_holds(lenet: Bundle, digit: torch.Tensor, baseline: str) -> None:
    result = explain(lenet, digit, "integrated_gradients", params=ExplainParams(n_steps=100, baseline=baseline))
    assert result.baseline is not None and result.baseline.shape == digit.shape
    assert float(result.baseline.min()) >= 0.0 and float(result.baseline.max()) <= 1.0
    assert not torch.equal(result.baseline, torch.zeros_like(digit))
    difference = logit(lenet, digit, result.target) - logit(lenet, result.baseline, result.target)
    assert result.convergence_delta == pytest.approx(result.total - difference, abs=1e-3 + 1e-3 * abs(difference))


def test_text_layer_ig_sums_to_the_pad_baseline_difference(text_view: ModelView, ids: torch.Tensor) -> None:
    result = explain(text_view, ids, "integrated_gradients", target=2, params=ExplainParams(n_steps=200))
    assert tuple(result.attributions.shape) == (8,)  # one number per token
    model = text_view.model
    with torch.no_grad():
        f_x = float(model(ids[None])[0, 2])
        # F(baseline): every token's embedding replaced by the PAD embedding, on the input's length.
        pad_row = model.embedding(torch.tensor([[PAD_ID]]))  # (1, 1, E)
        handle = model.embedding.register_forward_hook(lambda _m, _i, out: pad_row.expand_as(out))
        f_b = float(model(ids[None])[0, 2])
        handle.remove()
    assert abs(f_x - f_b) > 1e-3
    assert result.total == pytest.approx(f_x - f_b, rel=0.01)
    assert result.convergence_delta is not None and abs(result.convergence_delta) <= 0.01 * abs(f_x - f_b)
    assert torch.equal(result.baseline, torch.zeros(8, dtype=torch.int64))


def test_text_through_the_real_tokenizer(text_view: ModelView) -> None:
    from playground.modalities.text.preprocessing import TextPreprocessing
    from playground.modalities.text.tokenizer import TokenizerOptions, train_tokenizer

    texts = ["the market rallied on strong earnings", "the team lost the final", "shares fell after the report"]
    tokenizer = train_tokenizer(texts, TokenizerOptions(vocab_size=40))
    encoded = TextPreprocessing(tokenizer, max_length=32).encode("Shares rallied after the final report")
    model = MODELS.get("gru").builder(2, vocab_size=tokenizer.vocab_size).eval()
    result = explain(ModelView(model, "text"), encoded.ids, "occlusion")
    assert tuple(result.attributions.shape) == (len(encoded.tokens),)


def test_deeplift_is_exact_where_captum_alone_is_not() -> None:
    """ReLU(x) + x: the activation's input is used twice, which breaks Captum's input hooks; and ReLU6."""

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, padding=1)
            self.act = nn.ReLU6()
            self.relu = nn.ReLU()
            self.head = nn.Linear(6, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.conv(x) * 8
            h = self.relu(h) + h + self.act(h)  # (B, 6, H, W)
            return self.head(h.mean(dim=(2, 3)))

    torch.manual_seed(0)
    model = Residual().eval()
    x = torch.rand(3, 8, 8)
    ours = explain(ModelView(model, "image"), x, "deeplift", target=0)
    difference = logit(ModelView(model, "image"), x, 0) - logit(ModelView(model, "image"), torch.zeros_like(x), 0)
    assert abs(ours.total - difference) <= 1e-4 * max(1.0, abs(difference))
    assert abs(ours.convergence_delta or 0.0) <= 1e-4 * max(1.0, abs(difference))
    _, raw_delta = DeepLift(model).attribute(
        x[None].clone().requires_grad_(), baselines=torch.zeros(1, 3, 8, 8), target=0, return_convergence_delta=True
    )
    assert abs(float(raw_delta)) > 100 * abs(ours.convergence_delta or 1e-9)  # Captum alone misses it
    assert not list(model._forward_hooks) and not list(model.act._forward_hooks)  # the model is untouched


def test_deeplift_on_torchvision_resnet18_runs_on_the_safe_copy() -> None:
    bundle = create_bundle("resnet18", weights=None, image_size=64, num_classes=10)
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    x = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0))
    result = explain(bundle, x, "deeplift", target=1)
    assert tuple(result.attributions.shape) == (3, 64, 64) and bool(torch.isfinite(result.attributions).all())
    assert "layer1.0.relu" in result.details["split_modules"]  # the reused ReLU got one copy per use
    assert "maxpool" in result.details["note"]  # why the delta is not ~0: the stem's overlapping windows
    assert result.convergence_delta is not None
    assert isinstance(bundle.model.layer1[0].relu, nn.ReLU)  # the original model is unchanged
    assert all(torch.equal(v, before[k]) for k, v in bundle.model.state_dict().items())


def test_unsupported_models_say_why() -> None:
    seed = create_bundle("seed_cnn", weights=None, num_classes=3)
    with pytest.raises(MethodNotSupportedError, match=r"F\.relu"):
        explain(seed, torch.rand(3, 32, 32), "guided_backprop")
    with pytest.raises(MethodNotSupportedError, match=r"F\.relu"):
        explain(seed, torch.rand(3, 32, 32), "deeplift")
    mobile = create_bundle("mobilenet_v3_small", weights=None, num_classes=3, image_size=32)
    with pytest.raises(MethodNotSupportedError, match="Hardswish"):
        explain(mobile, torch.rand(3, 32, 32), "deeplift")
    mlp = ModelView(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), "image")
    with pytest.raises(MethodNotSupportedError, match="feature map"):
        explain(mlp, torch.rand(3, 2, 2), "grad_cam")
    result = explain(seed, torch.rand(3, 32, 32), "grad_cam")  # seed_cnn reuses its pool: conv2 runs once
    assert result.details["layer"] == "conv2"


def test_explain_methods_collects_reasons(text_view: ModelView, ids: torch.Tensor) -> None:
    results = explain_methods(text_view, ids, ["saliency", "grad_cam", "feature_ablation"], params=FAST)
    assert isinstance(results["grad_cam"], MethodNotSupportedError)
    first, third = results["saliency"], results["feature_ablation"]
    assert isinstance(first, Explanation) and isinstance(third, Explanation)
    assert first.target == third.target  # one predicted class for all


# -- perturbation details ------------------------------------------------------------------------------
def test_token_removal_matches_an_independent_forward(text_view: ModelView, ids: torch.Tensor) -> None:
    result = explain(text_view, ids, "feature_ablation", target=0)
    model = text_view.model
    with torch.no_grad():
        full = float(model(ids[None])[0, 0])
        without_third = float(model(torch.cat([ids[:2], ids[3:]])[None])[0, 0])  # the token removed
    assert float(result.attributions[2]) == pytest.approx(full - without_third, abs=1e-5)
    assert torch.equal(compact_tokens(torch.tensor([[4, 0, 5, 0, 6]])), torch.tensor([[4, 5, 6, 0, 0]]))


def test_superpixels_and_steps() -> None:
    grid = grid_segments(28, 28, 49)
    assert int(grid.max()) + 1 == 49 and torch.bincount(grid.flatten()).min() == 16  # 7 x 7 cells of 4 x 4
    assert torch.equal(step_segments(6, 3), torch.tensor([0, 0, 1, 1, 2, 2]))
    grid_params = ExplainParams(segmentation="grid")
    result = explain(
        create_bundle("lenet5", weights=None), torch.rand(1, 28, 28), "feature_ablation", params=grid_params
    )
    assert result.details["segments"] == 49 and result.details["segmentation"] == "grid"
    assert int(result.attributions.unique().numel()) <= 49  # one value per superpixel


def test_slic_superpixels_follow_the_object() -> None:
    """SLIC (the default: scikit-image is a requirement) keeps a red square and the blue around it apart."""
    pixels = torch.zeros(3, 32, 32)
    pixels[2] = 1.0  # blue background
    pixels[:, 5:19, 7:21] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # a red square off the grid's lines
    square = pixels[0] > 0.5
    labels, used = image_segments(pixels, 16)
    assert used == "slic" and 4 <= int(labels.max()) + 1 <= 32
    for segment in labels.unique():
        inside = square[labels == segment]
        assert bool(inside.all()) or not bool(inside.any()), f"segment {int(segment)} straddles the edge"
    grid, _ = image_segments(pixels, 16, "grid")
    assert any(0 < float(square[grid == g].float().mean()) < 1 for g in grid.unique())  # the grid does straddle


def test_kernel_shap_with_one_segment_says_why_and_segments_are_bounded(lenet: Bundle, digit: torch.Tensor) -> None:
    one = ExplainParams(n_segments=1, segmentation="grid")
    with pytest.raises(MethodNotSupportedError, match="at least 2 feature groups"):
        explain(lenet, digit, "kernel_shap", params=one)
    assert explain(lenet, digit, "lime", params=one).attributions.unique().numel() == 1  # LIME: one group is fine
    with pytest.raises(ValueError, match="at most 1000"):
        ExplainParams(n_segments=100_000)


def test_occlusion_window_defaults(lenet: Bundle, digit: torch.Tensor) -> None:
    result = explain(lenet, digit, "occlusion")
    assert result.details["window"] == (1, 3, 3) and result.details["strides"] == (1, 1, 1)  # side/8, half


def test_image_baselines_keep_the_pixels_memory_format() -> None:
    """PIL-decoded pixels are channels-last; a baseline in another format slows IG's path points down."""
    pixels = torch.rand(1, 8, 8, 3).permute(0, 3, 1, 2)  # (1, 3, 8, 8) viewed from HWC, as PIL gives them
    g = torch.Generator().manual_seed(0)
    for kind in ("black", "blurred", "noise", "uniform"):
        base = image_baseline(pixels, kind, g)
        assert base.is_contiguous(memory_format=torch.channels_last) and not base.is_contiguous(), kind
        assert image_baseline(pixels.contiguous(), kind, g).is_contiguous(), kind


def test_baselines() -> None:
    pixels = torch.rand(1, 3, 16, 16)
    g = torch.Generator().manual_seed(0)
    for kind in ("black", "blurred", "noise", "uniform"):
        b = image_baseline(pixels, kind, g, count=2)
        assert b.shape == (2, 3, 16, 16) and float(b.min()) >= 0 and float(b.max()) <= 1
    assert float(image_baseline(pixels, "blurred", g).std()) < float(pixels.std())
    ids = torch.tensor([[2, 7, 8, 3, 0]])
    assert text_baseline(ids, "pad", special_ids=(2, 3)).tolist() == [[2, 0, 0, 3, 0]]  # CLS / SEP kept
    assert text_baseline(ids, "unk").tolist() == [[1, 1, 1, 1, 0]]


# -- progress, stop, batching ------------------------------------------------------------------------
def test_progress_and_stop(lenet: Bundle, digit: torch.Tensor) -> None:
    seen: list[tuple[int, int]] = []
    explain(lenet, digit, "occlusion", on_progress=lambda d, t, m: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] and len(seen) > 3
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))

    stop = threading.Event()

    def stop_halfway(done: int, total: int, message: str) -> None:
        if done >= total // 2:
            stop.set()

    with pytest.raises(ExplanationStopped):
        explain(
            lenet, digit, "occlusion", params=ExplainParams(batch_size=4), on_progress=stop_halfway, stop_event=stop
        )
    assert not list(lenet.model._forward_hooks)

    job = BackgroundJob(explain_work(lenet, digit, "lime", params=ExplainParams(n_samples=400, batch_size=2)))
    job.stop()  # before it starts: the first forward pass stops it
    job.start().join(30)
    assert job.status == "stopped" and job.result is None


def test_auto_batch_and_oom_retry(lenet: Bundle, digit: torch.Tensor) -> None:
    assert auto_batch_size(3 * 224 * 224, 200) == 16  # the measured setting
    assert auto_batch_size(784, 200) == 200 and auto_batch_size(784, 1000) == 256
    assert auto_batch_size(784, 200, requested=7) == 7
    subject = Subject(ModelView.from_bundle(lenet), digit[None], 3, Progress(None, None))
    tried: list[int] = []

    def run(size: int) -> int:
        tried.append(size)
        if size > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return size

    assert subject.with_oom_retry(run, 32) == (4, 4)
    assert tried == [32, 16, 8, 4]
    with pytest.raises(RuntimeError, match="shape mismatch"):
        subject.with_oom_retry(lambda size: (_ for _ in ()).throw(RuntimeError("shape mismatch")), 8)


@pytest.mark.parametrize("method", ["gradient_shap", "smoothgrad", "lime", "kernel_shap"])
def test_random_methods_follow_their_seed(method: str, lenet: Bundle, digit: torch.Tensor) -> None:
    import numpy as np

    np.random.seed(123)
    outside = np.random.get_state()[1].copy()
    same = [explain(lenet, digit, method, params=ExplainParams(n_samples=12, seed=s)).attributions for s in (5, 5, 6)]
    assert torch.equal(same[0], same[1]) and not torch.equal(same[0], same[2])
    assert np.array_equal(np.random.get_state()[1], outside)  # the global generator is left as it was


def test_runtime_copies_are_reused_only_while_valid() -> None:
    from playground.explain.runtime import COPIES

    model = create_bundle("lenet5", weights=None).model
    first = COPIES.acquire(model)
    assert first is not model and first.fc1.weight is model.fc1.weight  # new modules, shared weights
    COPIES.release(model, first)
    assert COPIES.acquire(model) is first
    COPIES.release(model, first)
    model.fc3.bias = nn.Parameter(model.fc3.bias.detach().clone())  # a replaced tensor: the copy is stale
    fresh = COPIES.acquire(model)
    assert fresh is not first and fresh.fc3.bias is model.fc3.bias


def test_ig_on_224_pixels_batches_its_steps() -> None:
    torch.manual_seed(0)  # (random weights: F(x) - F(0) must not be near 0 for a relative delta to mean much)
    model = nn.Sequential(nn.Conv2d(3, 4, 8, stride=8), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 28 * 28, 3))
    view = ModelView(model, "image", simple_preprocessing(224, 3))
    batches: list[int] = []
    model.register_forward_pre_hook(lambda _m, inputs: batches.append(inputs[0].shape[0]))
    result = explain(view, torch.rand(3, 224, 224), "integrated_gradients", target=0, params=ExplainParams(n_steps=200))
    assert result.details["batch_size"] == 16 and max(batches) <= 16
    assert result.relative_delta is not None and result.relative_delta < 0.01


# -- bad input ---------------------------------------------------------------------------------------
def test_bad_inputs_are_refused_with_words(lenet: Bundle, digit: torch.Tensor, text_view: ModelView) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        explain(lenet, digit * 3, "saliency")
    with pytest.raises(ValueError, match="shape"):
        explain(lenet, torch.rand(2, 1, 28, 28), "saliency")
    with pytest.raises(TypeError, match="int64"):
        explain(text_view, torch.rand(5), "saliency")
    with pytest.raises(ValueError, match="no tokens"):
        explain(text_view, torch.zeros(4, dtype=torch.int64), "saliency")
    with pytest.raises(ValueError, match="vocabulary"):
        explain(text_view, torch.tensor([3, 400]), "saliency")
    with pytest.raises(ValueError, match="class index"):
        explain(lenet, digit, "saliency", target=10)
    with pytest.raises(ValueError, match=r"class index in \[0, 3\)"):  # no labels: checked on the logits
        explain(ModelView(text_view.model, "text"), torch.tensor([3, 4]), "occlusion", target=3)
    with pytest.raises(MethodNotSupportedError, match="does not apply"):
        explain(lenet, digit, "integrated_gradients", params=ExplainParams(baseline="pad"))
    with pytest.raises(ValueError, match="n_steps"):
        ExplainParams(n_steps=0)
    with pytest.raises(ValueError, match="unknown baseline"):
        ExplainParams(baseline="grey")
    with pytest.raises(ValueError, match="Grad-CAM: no layer"):
        explain(lenet, digit, "grad_cam", params=ExplainParams(layer="fc1"))


# -- display -----------------------------------------------------------------------------------------
def test_display_maps() -> None:
    a = torch.zeros(3, 4, 4)
    a[:, 0, 0], a[:, 3, 3], a[:, 1, 1] = 1.0, -2.0, 0.5
    signed = display_map(a, "signed", outlier_percentile=0)
    assert signed.shape == (4, 4) and float(signed.min()) == -1.0 and float(signed[0, 0]) == pytest.approx(0.5)
    positive = display_map(a, "positive", outlier_percentile=0)
    assert float(positive.min()) == 0.0 and float(positive[0, 0]) == 1.0 and float(positive[3, 3]) == 0.0
    absolute = display_map(a, "absolute", outlier_percentile=0)
    assert float(absolute[3, 3]) == 1.0 and float(absolute.min()) == 0.0
    assert torch.equal(display_map(torch.zeros(2, 2)), torch.zeros(2, 2))
    spiky = torch.ones(100)
    spiky[0] = 1000.0
    # The spike holds 91% of the total: with 95% allowed above the threshold, the ones set the scale.
    assert float(normalize_attributions(spiky, "absolute", outlier_percentile=95)[1]) == 1.0
    assert float(normalize_attributions(spiky, "absolute", outlier_percentile=2)[1]) == pytest.approx(0.001)
    assert token_scores(torch.tensor([1.0, -3.0, 0.0])).tolist() == pytest.approx([1 / 3, -1.0, 0.0])
    with pytest.raises(ValueError, match="mode"):
        display_map(a, "loud")  # type: ignore[arg-type]


# -- attention rollout -------------------------------------------------------------------------------
def test_attention_rollout_is_the_rollout_of_the_models_attention(transformer_view: ModelView, vit: Bundle) -> None:
    ids = torch.tensor([5, 17, 3, 22, 9], dtype=torch.int64)
    result = explain(transformer_view, ids, "attention_rollout")
    with torch.no_grad():
        out = transformer_view.model.forward_with_attention(ids.unsqueeze(0))
    probs = torch.stack([a[0] for a in out.attentions])  # (L, H, T, T)
    expected = rollout(probs)[-1].mean(dim=0).float()  # mean-pooled encoder: the mean of the rows
    torch.testing.assert_close(result.attributions, expected)
    assert float(result.attributions.sum()) == pytest.approx(1.0, abs=1e-5)  # rows of a rollout sum to 1
    # ViT: the class token's row over the 7x7 patches, one value per 4x4-pixel patch
    pixels = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    image = explain(vit, pixels, "attention_rollout")
    maps = image_attention(vit, pixels)
    grid = class_token_map(maps, rollout(maps.attention_probs)[-1])  # (7, 7)
    torch.testing.assert_close(image.attributions[0, ::4, ::4], grid)
    assert image.details["patch_grid"] == (7, 7)
