"""RNN states: recomputation against PyTorch, the update formula, find similar, figures, the CLI command."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from playground.bundle import Bundle
from playground.cli.rnn_states import add_parser, run
from playground.core.fingerprint import weights_fingerprint
from playground.data import load_dataset, split_dataset
from playground.data.brackets import nesting_depth
from playground.figures.helpers import display_token
from playground.figures.rnn import (
    colored_tokens_html,
    drawn_steps,
    gates_figure,
    prefix_figure,
    states_heatmap,
    trajectory_figure,
    units_figure,
)
from playground.inspection.predict import predict_text
from playground.inspection.rnn import (
    check_states,
    compute_states,
    dataset_states,
    find_similar,
    pca_trajectory,
    prefix_probabilities,
    recompute,
    select_units,
    states_for_text,
    step_signals,
    strongest_units,
    top_units,
    unit_correlations,
    update_formula,
)
from playground.modalities.text.tokenizer import TokenizerOptions
from playground.models.recurrent import RecurrentClassifier
from playground.training import TrainConfig, train
from playground.training.setup import bundle_for_split

ATOL = 1e-5
CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


# -- an independent reference: PyTorch's own single-step cells, layer by layer -----------------


def _cell_reference(rnn: nn.RNNBase, inputs: torch.Tensor) -> dict[tuple[int, str], dict[str, torch.Tensor]]:
    """Every layer and direction's h_t (and c_t) at every step from nn.RNNCell / LSTMCell / GRUCell.

    A separate PyTorch code path from the stacked module: one cell per layer and direction with the
    module's weights, stepped by hand (right to left for the reverse direction).
    """
    kind = "lstm" if isinstance(rnn, nn.LSTM) else "gru" if isinstance(rnn, nn.GRU) else "rnn"
    directions = ["forward", "reverse"] if rnn.bidirectional else ["forward"]
    steps = inputs.shape[0]
    x = inputs
    out = {}
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            per_direction = []
            for direction in directions:
                suffix = f"_l{layer}" + ("_reverse" if direction == "reverse" else "")
                extra = {"nonlinearity": rnn.nonlinearity} if kind == "rnn" else {}
                cell = CELLS[kind](x.shape[1], rnn.hidden_size, bias=rnn.bias, **extra)
                cell.weight_ih.copy_(getattr(rnn, "weight_ih" + suffix))
                cell.weight_hh.copy_(getattr(rnn, "weight_hh" + suffix))
                if rnn.bias:
                    cell.bias_ih.copy_(getattr(rnn, "bias_ih" + suffix))
                    cell.bias_hh.copy_(getattr(rnn, "bias_hh" + suffix))
                h = torch.zeros(1, rnn.hidden_size)
                c = torch.zeros(1, rnn.hidden_size)
                hs, cs = torch.zeros(steps, rnn.hidden_size), torch.zeros(steps, rnn.hidden_size)
                order = range(steps - 1, -1, -1) if direction == "reverse" else range(steps)
                for t in order:
                    if kind == "lstm":
                        h, c = cell(x[t : t + 1], (h, c))
                    else:
                        h = cell(x[t : t + 1], h)
                    hs[t], cs[t] = h[0], c[0]
                out[(layer, direction)] = {"hidden_state": hs, "cell_state": cs}
                per_direction.append(hs)
            x = torch.cat(per_direction, dim=-1)  # (T, D*H)
    return out


def _classifier(cell: str, layers: int, bidirectional: bool, text: bool, seed: int = 0) -> RecurrentClassifier:
    torch.manual_seed(seed)
    sizes = {"vocab_size": 30, "embedding_dim": 7} if text else {"input_size": 5}
    return RecurrentClassifier(
        cell,
        3,
        hidden_size=6,
        num_layers=layers,
        bidirectional=bidirectional,
        **sizes,  # type: ignore[arg-type]
    ).eval()


def _input(text: bool, steps: int = 11, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if text:
        return torch.randint(1, 30, (steps,), generator=gen)  # (T,) ids, no padding
    return torch.randn(steps, 5, generator=gen)  # (T, F)


CONFIGS = [
    pytest.param(cell, layers, bi, text, id=f"{cell}-{layers}layer{'-bi' if bi else ''}-{'ids' if text else 'values'}")
    for cell in ("rnn", "lstm", "gru")
    for layers in (1, 3)
    for bi in (False, True)
    for text in (True, False)
]


@pytest.mark.parametrize(("cell", "layers", "bidirectional", "text"), CONFIGS)
def test_recomputed_states_equal_pytorch(cell: str, layers: int, bidirectional: bool, text: bool) -> None:
    model = _classifier(cell, layers, bidirectional, text)
    x = _input(text)
    states = compute_states(model, x)
    assert states.cell == cell and states.steps == 11 and len(states.layers) == layers * (2 if bidirectional else 1)

    # the stacked module: its output (last layer, both directions) and h_n / c_n
    with torch.no_grad():
        output, final = model.rnn(states.inputs.unsqueeze(0))
    h_n, c_n = final if isinstance(final, tuple) else (final, None)
    torch.testing.assert_close(states.outputs, output[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(states.final_hidden_state, h_n[:, 0], atol=ATOL, rtol=0)
    if cell == "lstm":
        torch.testing.assert_close(states.final_cell_state, c_n[:, 0], atol=ATOL, rtol=0)
    else:
        assert states.final_cell_state is None

    # every layer, direction and step, against PyTorch's single-step cells
    reference = _cell_reference(model.rnn, states.inputs)
    for s in states.layers:
        ref = reference[(s.layer, s.direction)]
        torch.testing.assert_close(s.hidden_state, ref["hidden_state"], atol=ATOL, rtol=0)
        if cell == "lstm":
            torch.testing.assert_close(s.cell_state, ref["cell_state"], atol=ATOL, rtol=0)

    check = check_states(model, states)
    assert check.ok and check.max_abs_diff < ATOL and check.device == "cpu"


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_gates_rebuild_pytorchs_cell_and_hidden_state(bidirectional: bool) -> None:
    model = _classifier("lstm", 2, bidirectional, text=True)
    states = compute_states(model, _input(True, 15))
    reference = _cell_reference(model.rnn, states.inputs)
    for s in states.layers:
        g = s.gates
        assert set(g) == {"input", "forget", "candidate", "output"}
        for name in ("input", "forget", "output"):
            assert float(g[name].min()) > 0 and float(g[name].max()) < 1
        assert float(g["candidate"].abs().max()) < 1
        # c_t = f c_{t-1} + i g and h_t = o tanh(c_t), from the gates alone, give PyTorch's states
        c_prev = torch.zeros_like(s.cell_state)
        if s.direction == "forward":
            c_prev[1:] = reference[(s.layer, s.direction)]["cell_state"][:-1]
        else:
            c_prev[:-1] = reference[(s.layer, s.direction)]["cell_state"][1:]
        c = g["forget"] * c_prev + g["input"] * g["candidate"]
        torch.testing.assert_close(c, reference[(s.layer, s.direction)]["cell_state"], atol=ATOL, rtol=0)
        torch.testing.assert_close(
            g["output"] * c.tanh(), reference[(s.layer, s.direction)]["hidden_state"], atol=ATOL, rtol=0
        )


def test_gru_gates_rebuild_pytorchs_hidden_state() -> None:
    model = _classifier("gru", 2, True, text=False)
    states = compute_states(model, _input(False, 12))
    reference = _cell_reference(model.rnn, states.inputs)
    for s in states.layers:
        g = s.gates
        assert set(g) == {"reset", "update", "candidate"}
        assert float(g["reset"].min()) > 0 and float(g["update"].max()) < 1 and float(g["candidate"].abs().max()) < 1
        ref = reference[(s.layer, s.direction)]["hidden_state"]
        h_prev = torch.zeros_like(ref)
        if s.direction == "forward":
            h_prev[1:] = ref[:-1]
        else:
            h_prev[:-1] = ref[1:]
        rebuilt = (1 - g["update"]) * g["candidate"] + g["update"] * h_prev
        torch.testing.assert_close(rebuilt, ref, atol=ATOL, rtol=0)


def test_relu_rnn_without_bias_and_a_bare_module() -> None:
    torch.manual_seed(3)
    rnn = nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bias=False, bidirectional=True, batch_first=True).eval()
    x = torch.randn(9, 4)
    states = recompute(rnn, x)
    assert states.nonlinearity == "relu" and states.tokens[:2] == ["t0", "t1"]
    assert float(states.outputs.min()) >= 0  # relu
    with torch.no_grad():
        output, h_n = rnn(x.unsqueeze(0))
    torch.testing.assert_close(states.outputs, output[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(states.final_hidden_state, h_n[:, 0], atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        recompute(rnn, torch.randn(9, 3))
    with pytest.raises(TypeError, match=r"nn\.RNN, nn\.LSTM or nn\.GRU"):
        recompute(nn.Linear(4, 5), x)  # type: ignore[arg-type]


def test_check_catches_states_that_are_off() -> None:
    model = _classifier("lstm", 2, True, text=True)
    states = compute_states(model, _input(True))
    layers = list(states.layers)
    layers[1] = dataclasses.replace(layers[1], hidden_state=layers[1].hidden_state + 0.01)  # layer 0 reverse
    check = check_states(model, dataclasses.replace(states, layers=tuple(layers)))
    assert not check.ok
    assert check.layers_diff == pytest.approx(0.01, abs=1e-5)
    assert check.output_diff < ATOL  # the last layer was left alone: only the per-layer check sees it


def test_padding_ids_are_dropped_and_bad_inputs_refused() -> None:
    model = _classifier("gru", 1, True, text=True)
    ids = _input(True, 6)
    padded = torch.cat([ids, torch.zeros(4, dtype=torch.int64)])
    a, b = compute_states(model, ids), compute_states(model, padded)
    assert b.steps == 6
    torch.testing.assert_close(a.outputs, b.outputs)
    with pytest.raises(ValueError, match="not padding"):
        compute_states(model, torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="token ids"):
        compute_states(model, torch.randn(3, 5))
    with pytest.raises(TypeError, match="recurrent model"):
        compute_states(nn.Linear(3, 3), ids)
    with pytest.raises(ValueError, match="no reverse states for layer 1"):
        a.get(1, "reverse")


@pytest.mark.parametrize(
    ("cell", "direction", "step"),
    [
        ("rnn", "forward", 4),
        ("rnn", "reverse", 10),
        ("lstm", "forward", 0),
        ("lstm", "reverse", 3),
        ("gru", "forward", 7),
        ("gru", "reverse", 5),
    ],
)
def test_update_formula_adds_up_and_equals_pytorch(cell: str, direction: str, step: int) -> None:
    model = _classifier(cell, 2, True, text=True)
    states = compute_states(model, _input(True))
    unit = 4
    f = update_formula(model, states, 1, direction, step, unit)  # type: ignore[arg-type]
    s = states.get(1, direction)  # type: ignore[arg-type]
    for t in f.terms:
        if t.reset is None:
            assert t.preactivation == pytest.approx(t.recurrent + t.input + t.bias, abs=1e-12)
        else:  # the GRU candidate: the reset gate scales the recurrent part
            assert t.preactivation == pytest.approx(
                t.input + t.bias_ih + t.reset * (t.recurrent + t.bias_hh), abs=1e-12
            )
            assert t.reset == f.term("reset").value
        expected = {"sigmoid": 1 / (1 + np.exp(-t.preactivation)), "tanh": np.tanh(t.preactivation)}[t.activation]
        assert t.value == pytest.approx(expected, abs=1e-12)
        if t.name != "hidden":
            assert t.value == pytest.approx(float(s.gates[t.name][step, unit]), abs=1e-6)
    # the first step of a direction starts from zeros
    edge = 0 if direction == "forward" else states.steps - 1
    if step == edge:
        assert f.previous_hidden == 0.0 and all(t.recurrent == 0.0 for t in f.terms)
    if cell == "lstm":
        assert f.cell_state == pytest.approx(
            f.term("forget").value * f.previous_cell + f.term("input").value * f.term("candidate").value, abs=1e-12
        )
        assert f.hidden_state == pytest.approx(f.term("output").value * np.tanh(f.cell_state), abs=1e-12)
        assert f.pytorch_cell_state == pytest.approx(f.cell_state, abs=ATOL)
        assert f.cell_state == pytest.approx(float(s.cell_state[step, unit]), abs=1e-6)
    # h_t from these numbers equals PyTorch's own h_t and the recomputed states
    assert f.pytorch_hidden_state == pytest.approx(f.hidden_state, abs=ATOL)
    assert f.hidden_state == pytest.approx(float(s.hidden_state[step, unit]), abs=1e-6)
    assert f.abs_diff < ATOL
    lines = f.lines()
    assert f"{f.hidden_state:.4f}" in lines[-1]
    with pytest.raises(ValueError, match="unit must be"):
        update_formula(model, states, 0, "forward", 0, 6)


# -- text models: prefixes, batches, brackets ----------------------------------------------------


@pytest.fixture(scope="module")
def brackets_bundle() -> Bundle:
    torch.manual_seed(0)
    split = split_dataset(load_dataset("brackets", n=120, max_len=16), 0.2, 0)
    return bundle_for_split(
        "lstm",
        split,
        tokenizer=TokenizerOptions(kind="char", lowercase=False, max_length=24),
        hparams={"hidden_size": 8, "embedding_dim": 4, "num_layers": 2, "bidirectional": True},
    )


def test_prefix_probabilities_end_with_predict_texts_answer(brackets_bundle: Bundle) -> None:
    text = "(()(()))("
    states = states_for_text(brackets_bundle, text)
    probs = prefix_probabilities(brackets_bundle.model, states.model_input, batch_size=4)  # 3 batches
    assert probs.shape == (len(text), 2)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(len(text)))
    torch.testing.assert_close(probs[-1], predict_text(brackets_bundle, text).prediction.probs, atol=1e-6, rtol=0)
    # every prefix is the model run on that prefix alone (char tokens: the first k characters)
    for k in (1, 4, 7):
        torch.testing.assert_close(
            probs[k - 1], predict_text(brackets_bundle, text[:k]).prediction.probs, atol=1e-6, rtol=0
        )


def test_prefix_probabilities_of_a_numeric_sequence() -> None:
    model = _classifier("gru", 2, False, text=False)
    x = _input(False, 6)
    probs = prefix_probabilities(model, x)
    with torch.no_grad():
        expected = torch.stack([model(x[:k].unsqueeze(0))[0].softmax(-1) for k in range(1, 7)])
    torch.testing.assert_close(probs, expected)


def test_truncated_text_reports_dropped_tokens(brackets_bundle: Bundle) -> None:
    states = states_for_text(brackets_bundle, "()" * 20)  # 40 chars, max_length 24
    assert states.steps == 24 and states.num_dropped == 16 and states.text == "()" * 20


def test_dataset_states_in_padded_batches_equal_one_by_one(brackets_bundle: Bundle) -> None:
    texts = ["()", "(()())((", ")(", "((((()))))()", "("]  # different lengths: padding in every batch
    for layer, direction, kind in [(0, "forward", "hidden"), (1, "reverse", "cell")]:
        found = dataset_states(brackets_bundle, texts, layer, direction, kind, batch_size=3)  # type: ignore[arg-type]
        assert found.tokens == [list(t) for t in texts]
        for text, values in zip(texts, found.values, strict=True):
            s = states_for_text(brackets_bundle, text).get(layer, direction)  # type: ignore[arg-type]
            expected = s.hidden_state if kind == "hidden" else s.cell_state
            np.testing.assert_allclose(values, expected.numpy(), atol=1e-6)
    one_way = RecurrentClassifier("rnn", 2, vocab_size=brackets_bundle.preprocessing.vocab_size, hidden_size=4)
    with pytest.raises(ValueError, match="no reverse direction"):
        dataset_states(dataclasses.replace(brackets_bundle, model=one_way), ["()"], 0, "reverse")
    with pytest.raises(ValueError, match="only an LSTM has a cell state"):
        dataset_states(dataclasses.replace(brackets_bundle, model=one_way), ["()"], 0, "forward", "cell")


@pytest.mark.slow
def test_a_trained_lstm_on_brackets_grows_a_depth_counting_unit() -> None:
    """Karpathy et al. 2015 / LSTMVis: an LSTM trained on brackets keeps the nesting depth in one unit."""
    start = time.perf_counter()
    torch.manual_seed(0)
    data = load_dataset("brackets", n=400, max_len=20, seed=0)
    split = split_dataset(data, 0.2, 0)
    bundle = bundle_for_split(
        "lstm",
        split,
        tokenizer=TokenizerOptions(kind="char", lowercase=False, max_length=64),
        hparams={"hidden_size": 16, "embedding_dim": 8, "pooling": "last"},
    )
    held_out = load_dataset("brackets", n=100, max_len=20, seed=1).texts  # strings the model never saw
    depth = [nesting_depth(t) for t in held_out]

    def best(kind: str) -> tuple[int, float]:
        found = dataset_states(bundle, held_out, kind=kind)  # type: ignore[arg-type]
        return top_units(unit_correlations(found.values, depth), 1)[0]

    before = max(abs(best("hidden")[1]), abs(best("cell")[1]))
    result = train(bundle, split, TrainConfig(epochs=4, lr=1e-2, batch_size=32, seed=0))
    unit, r = best("cell")
    hidden_unit, hidden_r = best("hidden")
    print(
        f"\nbrackets: val_accuracy {result.metrics['val_accuracy']:.3f}; best |r| with depth before training "
        f"{before:.3f}, after: cell unit {unit} r={r:.3f}, hidden unit {hidden_unit} r={hidden_r:.3f} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    assert abs(r) >= 0.8
    assert abs(r) > before + 0.1  # training grew the counter; an untrained LSTM tracks depth far less


# -- find similar, PCA, correlations -------------------------------------------------------------


def test_select_units_takes_the_units_on_over_the_whole_span() -> None:
    values = np.array([[0.5, 0.9, -0.2], [0.4, 0.1, 0.8], [0.6, 0.7, 0.9]])  # (T=3, H=3)
    assert select_units(values, 0, 3, 0.3) == [0]
    assert select_units(values, 1, 3, 0.3) == [0, 2]
    assert select_units(values, 0, 1, 0.3) == [0, 1]
    with pytest.raises(ValueError, match="span"):
        select_units(values, 2, 2, 0.3)


def test_find_similar_ranks_as_lstmvis_does() -> None:
    threshold, selected = 0.5, [1, 2]
    base = np.full((10, 4), -0.5)  # everything off
    a = base.copy()
    a[3:6, [1, 2]] = 0.9  # both selected units on for 3 steps: a perfect match
    b = base.copy()
    b[2:8, [1, 2, 3]] = 0.9  # both on for 6 steps, but unit 3 too: one extra unit
    c = base.copy()
    c[0:4, 1] = 0.9  # only one of the two
    d = base.copy()
    d[5:7, [1, 2]] = 0.9  # perfect, shorter than a
    d[8, [1, 2]] = 0.9  # a single step: shorter than min_length
    tokens = [[f"w{t}" for t in range(10)] for _ in range(4)]
    matches = find_similar([a, b, c, d], selected, threshold, tokens, min_length=2, context=2)
    got = [(m.index, m.start, m.end, m.matched, m.extra) for m in matches]
    # most matched units first, then fewest extra units (smallest union), then the longest span
    assert got == [(0, 3, 6, 2, 0), (3, 5, 7, 2, 0), (1, 2, 8, 2, 1), (2, 0, 4, 1, 0)]
    assert [m.score for m in matches] == [1.0, 1.0, pytest.approx(2 / 3), 0.5]
    assert (
        matches[0].tokens == ["w3", "w4", "w5"]
        and matches[0].before == ["w1", "w2"]
        and matches[0].after == ["w6", "w7"]
    )
    assert len(find_similar([a, b, c, d], selected, threshold, top_k=2)) == 2
    with pytest.raises(ValueError, match="at least one unit"):
        find_similar([a], [], threshold)


def test_pca_trajectory_and_correlations() -> None:
    t = np.linspace(0, 1, 20)
    line = np.outer(t, [1.0, -2.0, 0.5]) + 0.3  # a straight trajectory: one component explains it all
    traj = pca_trajectory(line)
    assert traj.points.shape == (20, 2) and traj.points.dtype == np.float32
    assert traj.explained_variance_ratio[0] == pytest.approx(1.0, abs=1e-6)
    assert np.corrcoef(traj.points[:, 0], t)[0, 1] ** 2 == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 2 steps"):
        pca_trajectory(line[:1])

    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 4))
    values[:, 3] = 7.0  # a constant unit
    signal = rng.normal(size=50)
    r = unit_correlations(values, signal)
    for u in range(3):
        assert r[u] == pytest.approx(np.corrcoef(values[:, u], signal)[0, 1], abs=1e-12)
    assert r[3] == 0.0
    pooled = unit_correlations([values[:20], values[20:]], [signal[:20], signal[20:]])
    np.testing.assert_allclose(pooled, r)
    assert top_units(np.array([0.1, -0.9, 0.5]), 2) == [(1, -0.9), (2, 0.5)]
    assert strongest_units(np.array([[0, 1, 5], [0, -1, -5]]), 2) == [1, 2]
    signals = step_signals(["(", "(", ")", "x"])
    assert signals["nesting depth"].tolist() == [1, 2, 1, 1] and signals["position"].tolist() == [0, 1, 2, 3]


# -- figures -------------------------------------------------------------------------------------


def test_figures_carry_the_values_and_escape_tokens() -> None:
    tokens = ["<b>", "a&b", " ", "x"]
    values = np.linspace(-1, 1, 4 * 3).reshape(4, 3)  # (T, H)
    fig = states_heatmap(values, tokens, [2, 0])
    np.testing.assert_allclose(np.asarray(fig.data[0].z), values[:, [2, 0]].T)
    assert list(fig.layout.xaxis.ticktext) == ["&lt;b&gt;", "a&amp;b", "␣", "x"]
    assert display_token("<script>alert(1)</script>", 40) == "&lt;script&gt;alert(1)&lt;/script&gt;"

    html = colored_tokens_html(["<script>", "ok"], [0.5, -0.5])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "rgba(228, 87, 86, 0.500)" in html and "rgba(76, 120, 168, 0.500)" in html
    with pytest.raises(ValueError, match="one per token"):
        colored_tokens_html(["a"], [0.1, 0.2])

    gates = gates_figure({"input": values, "cell_state": values * 3, "hidden_state": values}, tokens, [0, 1])
    assert len(gates.data) == 6 and list(gates.layout.yaxis.range) == pytest.approx([-0.05, 1.05])
    assert len(units_figure(values, tokens, [1]).data) == 1
    traj = trajectory_figure(np.zeros((4, 2)), tokens, [0.7, 0.2])
    assert traj.layout.xaxis.title.text == "PC 1 (70% of variance)"
    prefix = prefix_figure(np.full((4, 2), 0.5), tokens, ["<neg>", "pos"])
    assert {d.name for d in prefix.data} == {"&lt;neg&gt;", "pos"}
    with pytest.raises(ValueError, match="units must be in"):
        states_heatmap(values, tokens, [3])


def test_a_long_input_stays_small() -> None:
    rng = np.random.default_rng(0)
    values = np.tanh(rng.normal(size=(1000, 128)))  # (T, H)
    tokens = [f"w{t}" for t in range(1000)]
    start = time.perf_counter()
    units = strongest_units(values, 64)
    fig = states_heatmap(values, tokens, units)
    elapsed = time.perf_counter() - start
    assert np.asarray(fig.data[0].z).shape == (64, 250)  # every 4th step, 64 of 128 units
    assert len(fig.layout.xaxis.tickvals) <= 60
    assert drawn_steps(256).tolist() == list(range(256))
    assert elapsed < 2.0


# -- the CLI command -----------------------------------------------------------------------------


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_cli_prints_states_and_the_check(
    brackets_bundle: Bundle, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = brackets_bundle.save(tmp_path / "lstm")
    assert run(_cli(["rnn-states", "--model", str(folder), "--text", "(())", "--layer", "1", "--json"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tokens"] == ["(", "(", ")", ")"] and out["cell"] == "lstm"
    assert [(s["layer"], s["direction"]) for s in out["layers"]] == [(1, "forward"), (1, "reverse")]
    states = states_for_text(brackets_bundle, "(())")
    layer = out["layers"][1]
    np.testing.assert_allclose(layer["hidden_state"], states.get(1, "reverse").hidden_state.numpy(), atol=1e-6)
    np.testing.assert_allclose(layer["gates"]["forget"], states.get(1, "reverse").gates["forget"].numpy(), atol=1e-6)
    assert np.asarray(layer["cell_state"]).shape == (4, 8)
    assert out["check"]["matches"] and out["check"]["max_abs_diff"] < ATOL
    probs = predict_text(brackets_bundle, "(())").prediction.probs
    first = next(row for row in out["top_k"] if row["index"] == 0)
    assert first["label"] == brackets_bundle.labels[0]
    assert first["probability"] == pytest.approx(float(probs[0]), abs=1e-6)

    text_file = tmp_path / "in.txt"
    text_file.write_text("()()", encoding="utf-8")
    assert run(_cli(["rnn-states", "--model", str(folder), "--input", str(text_file)])) == 0
    printed = capsys.readouterr().out
    assert "4 tokens: ( ) ( )" in printed and "matches PyTorch" in printed

    with pytest.raises(ValueError, match="exactly one"):
        run(_cli(["rnn-states", "--model", str(folder), "--text", "()", "--input", str(text_file)]))
    with pytest.raises(ValueError, match="--layer must be in"):
        run(_cli(["rnn-states", "--model", str(folder), "--text", "()", "--layer", "2"]))
    with pytest.raises(ValueError, match="not a recurrent"):
        run(_cli(["rnn-states", "--model", "lenet5", "--text", "()"]))


def test_fingerprint_follows_the_weights() -> None:
    model = _classifier("lstm", 1, False, text=True)
    key = weights_fingerprint(model)
    assert key == weights_fingerprint(_classifier("lstm", 1, False, text=True))
    with torch.no_grad():
        model.head.bias[0] += 1e-3
    assert weights_fingerprint(model) != key
