"""Every CLI command's ``--json`` output follows the one schema of ``docs/cli.md``.

Each command runs in-process through ``playground.cli.main.main`` on the shipped checkpoints and
samples; its JSON is checked against the schema below (types, required and optional keys), the
shared objects (``top_k`` / ClassScore, Check) are checked for real values wherever they occur, and
the schema's keys and the parser's flags are checked against the tables of ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from playground.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs/cli.md"
LENET = str(ROOT / "assets/checkpoints/lenet5-mnist")
LSTM = str(ROOT / "assets/checkpoints/lstm-brackets")
VIT = str(ROOT / "assets/checkpoints/vit_tiny-mnist")
DIGIT_7 = str(ROOT / "assets/samples/digit_7.png")
DIGITS = [str(i) for i in range(10)]  # the MNIST checkpoints' labels
BRACKETS = ["invalid", "valid"]  # the lstm-brackets checkpoint's labels

# -- a small schema checker ----------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A JSON number (int or float, not bool), finite unless ``nan_ok``."""


@dataclass(frozen=True)
class Nullable:
    inner: Any


@dataclass(frozen=True)
class ListOf:
    inner: Any


@dataclass(frozen=True)
class Obj:
    """An object with these keys (all required unless in ``optional``); ``open``: other keys allowed."""

    fields: dict[str, Any]
    optional: frozenset[str] = field(default_factory=frozenset)
    open: bool = False


ANY = object()
NUM = Num()
NESTED = ListOf(ANY)  # arrays of numbers (attention maps, states): checked by shape in the tests


def check(value: Any, spec: Any, path: str = "$") -> None:
    """Raise AssertionError where ``value`` does not follow ``spec``."""
    if spec is ANY:
        return
    if isinstance(spec, Nullable):
        if value is not None:
            check(value, spec.inner, path)
    elif isinstance(spec, Num):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: {value!r} is not a number"
        assert math.isfinite(value), f"{path}: {value!r} is not finite"
    elif isinstance(spec, ListOf):
        assert isinstance(value, list), f"{path}: {type(value).__name__} is not a list"
        for i, item in enumerate(value):
            check(item, spec.inner, f"{path}[{i}]")
    elif isinstance(spec, Obj):
        assert isinstance(value, dict), f"{path}: {type(value).__name__} is not an object"
        missing = set(spec.fields) - spec.optional - set(value)
        assert not missing, f"{path}: missing {sorted(missing)}"
        extra = set(value) - set(spec.fields)
        assert spec.open or not extra, f"{path}: undocumented keys {sorted(extra)}"
        for key, item in value.items():
            if key in spec.fields:
                check(item, spec.fields[key], f"{path}.{key}")
    elif spec is bool:
        assert isinstance(value, bool), f"{path}: {value!r} is not a boolean"
    elif spec is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r} is not an integer"
    else:
        assert isinstance(value, spec), f"{path}: {value!r} is not {spec.__name__}"


# -- the shared objects (docs/cli.md, "Shared objects") ------------------------------------------

CLASS_SCORE = Obj({"label": str, "index": int, "probability": NUM})
TOP_K = ListOf(CLASS_SCORE)
CHECK = Obj({"max_abs_diff": NUM, "matches": bool, "tolerance": NUM}, open=True)


def check_top_k(rows: list[dict[str, Any]], labels: list[str] | None = None, k: int = 5) -> None:
    """A Prediction's real values: best first, probabilities in [0, 1] summing to at most 1, index -> label."""
    check(rows, TOP_K, "top_k")
    assert 1 <= len(rows) <= k
    probabilities = [r["probability"] for r in rows]
    assert all(0 <= p <= 1 for p in probabilities)
    assert probabilities == sorted(probabilities, reverse=True), "top_k is not most probable first"
    assert sum(probabilities) <= 1 + 1e-5
    assert len({r["index"] for r in rows}) == len(rows), "a class listed twice"
    if labels is not None:
        assert len(rows) == min(k, len(labels))
        for r in rows:
            assert r["label"] == labels[r["index"]], r
        if len(rows) == len(labels):
            assert sum(probabilities) == pytest.approx(1, abs=1e-5)


def check_check(obj: dict[str, Any]) -> None:
    """A Check's real values: a non-negative difference, and ``matches`` iff it is within the tolerance."""
    check(obj, CHECK, "check")
    assert obj["max_abs_diff"] >= 0 and obj["tolerance"] > 0
    assert obj["matches"] == (obj["max_abs_diff"] <= obj["tolerance"])


def shared_objects(value: Any) -> dict[str, list[Any]]:
    """Every ``top_k`` and ``check`` anywhere in ``value``, by key."""
    found: dict[str, list[Any]] = {"top_k": [], "check": []}
    if isinstance(value, dict):
        for key, item in value.items():
            if key in found:
                found[key].append(item)
            for k, items in shared_objects(item).items():
                found[k].extend(items)
    elif isinstance(value, list):
        for item in value:
            for k, items in shared_objects(item).items():
                found[k].extend(items)
    return found


def check_shared(out: Any, labels: list[str] | None, k: int = 5) -> None:
    """The shared objects wherever they occur; no old names (``probs``, ``prediction``, ``num_dropped``, ...)."""
    found = shared_objects(out)
    for rows in found["top_k"]:
        check_top_k(rows, labels, k)
    for obj in found["check"]:
        check_check(obj)
    text = json.dumps(out)
    for old in ('"num_dropped"', '"probs"', '"prediction"', '"matches_pytorch"', '"formula_check"'):
        assert old not in text, f"old key {old} in the output"


# -- each command's top-level keys (docs/cli.md, one table per command) --------------------------

SCHEMAS: dict[str, list[Obj]] = {
    "models": [
        Obj(
            {
                "name": str,
                "family": str,
                "modality": str,
                "input": Obj({"channels": Nullable(int), "image_size": Nullable(int)}),
                "num_classes": int,
                "defaults": Obj({}, open=True),
                "weights": ListOf(str),
                "default_weights": Nullable(str),
                "source": str,
                "description": str,
            }
        )
    ],
    "datasets": [
        Obj(
            {
                "name": str,
                "modality": str,
                "num_classes": Nullable(int),
                "channels": Nullable(int),
                "image_size": Nullable(int),
                "offline": bool,
                "source": str,
                "description": str,
            }
        )
    ],
    "train": [
        Obj(
            {
                "checkpoint": str,
                "val_accuracy": NUM,
                "val_loss": NUM,
                "epochs_completed": int,
                "seconds": NUM,
                "train_accuracy": NUM,
                "train_loss": NUM,
                "samples_per_s": NUM,
                "val_energy_p95": NUM,
                "val_energy_p99": NUM,
            },
            optional=frozenset({"val_energy_p95", "val_energy_p99"}),  # with 100+ validation examples
        )
    ],
    "predict": [
        Obj(
            {
                "model": str,
                "input": str,
                "tokens": ListOf(str),
                "num_dropped_tokens": int,
                "top_k": TOP_K,
                "audio": Obj(
                    {
                        "seconds": NUM,
                        "sample_rate": int,
                        "format": str,
                        "notes": ListOf(str),
                        "padded": bool,
                        "windows": ListOf(Obj({"start_s": NUM, "label": str, "index": int, "probability": NUM})),
                    }
                ),
            },
            optional=frozenset({"input", "tokens", "num_dropped_tokens", "audio"}),
        ),
        Obj({"model": str, "source": str, "output": str}),  # seq2seq
    ],
    "robustness": [
        Obj(
            {
                "model": str,
                "dataset": str,
                "samples": int,
                "clean_accuracy": NUM,
                "points": ListOf(
                    Obj(
                        {
                            "model": str,
                            "perturbation": str,
                            "severity": NUM,
                            "accuracy": NUM,
                            "mean_true_confidence": NUM,
                            "flip_rate": NUM,
                            "n": int,
                            "level": NUM,
                            "unit": str,
                            "median_snr_db": Nullable(NUM),
                        },
                        optional=frozenset({"level", "unit", "median_snr_db"}),  # audio: the severity's level
                    )
                ),
            }
        )
    ],
    "attack": [
        Obj(
            {
                "model": str,
                "input": str,
                "method": str,
                "norm": str,
                "epsilon_255": NUM,
                "steps": int,
                "target_class": Nullable(int),
                "clean": Obj({"top_k": TOP_K}),
                "adversarial": Obj({"top_k": TOP_K}),
                "success": bool,
                "linf_255": NUM,
                "l2": NUM,
                "out": Nullable(str),
            }
        ),
        Obj(  # an audio clip, attacked on its waveform
            {
                "model": str,
                "input": str,
                "method": str,
                "norm": str,
                "epsilon_amplitude": NUM,
                "steps": int,
                "clean": Obj({"top_k": TOP_K}),
                "adversarial": Obj({"top_k": TOP_K}),
                "success": bool,
                "linf_amplitude": NUM,
                "snr_db": Nullable(NUM),
                "out": Nullable(str),
            }
        ),
        Obj(  # a text, attacked word by word
            {
                "model": str,
                "input": Nullable(str),
                "method": str,
                "clean": Obj({"top_k": TOP_K}),
                "adversarial": Obj({"top_k": TOP_K}),
                "success": bool,
                "text": str,
                "adversarial_text": str,
                "changes": ListOf(
                    Obj({"position": int, "original": str, "replacement": str, "similarity": Nullable(NUM)})
                ),
                "words": int,
                "queries": int,
            }
        ),
    ],
    "rnn-states": [
        Obj(
            {
                "model": str,
                "input": str,
                "example": int,
                "cell": str,
                "tokens": ListOf(str),
                "num_dropped_tokens": int,
                "num_layers": int,
                "num_directions": int,
                "hidden_size": int,
                "layers": ListOf(
                    Obj(
                        {
                            "layer": int,
                            "direction": str,
                            "hidden_state": NESTED,
                            "cell_state": Nullable(NESTED),
                            "gates": Obj({}, open=True),
                        }
                    )
                ),
                "top_k": TOP_K,
                "check": Obj(
                    {
                        **CHECK.fields,
                        "device": str,
                        "output_diff": NUM,
                        "final_state_diff": NUM,
                        "layers_diff": NUM,
                    }
                ),
            },
            optional=frozenset({"input", "example"}),
        )
    ],
    "explain": [
        Obj(
            {
                "model": str,
                "method": str,
                "modality": str,
                "target": CLASS_SCORE,
                "shape": ListOf(int),
                "summary": Obj({"sum": NUM, "min": NUM, "max": NUM, "mean_abs": NUM}),
                "convergence_delta": Nullable(NUM),
                "relative_delta": Nullable(NUM),
                "params": Obj({"n_steps": int, "n_samples": Nullable(int), "n_segments": int, "seed": int}, open=True),
                "details": Obj({}, open=True),
                "seconds": NUM,
                "out": Nullable(str),
                "completeness": Obj({"sum": NUM, "output_difference": NUM}),
                "top_tokens": ListOf(Obj({"token": str, "position": int, "attribution": NUM})),
                "audio": Obj(
                    {
                        "seconds": NUM,
                        "notes": ListOf(str),
                        "start_s": NUM,
                        "window_s": NUM,
                        "top_times": ListOf(Obj({"time_s": NUM, "attribution": NUM})),
                        "keep": NUM,
                        "listen": Obj({}, open=True),
                    }
                ),
            },
            optional=frozenset({"completeness", "top_tokens", "audio"}),
        )
    ],
    "attention": [
        Obj(
            {
                "model": str,
                "input": str,
                "patch_grid": ListOf(int),
                "patch_size": int,
                "num_dropped_tokens": int,
                "tokens": ListOf(str),
                "top_k": TOP_K,
                "shape": ListOf(int),
                "layers": ListOf(int),
                "heads": ListOf(int),
                "max_row_sum_error": NUM,
                "check": Obj({**CHECK.fields, "layer": int, "head": int, "query_index": int}),
                "attention_probs": NESTED,
                "rollout": NESTED,
            },
            optional=frozenset({"input", "patch_grid", "patch_size", "num_dropped_tokens"}),
        ),
        Obj(  # seq2seq
            {
                "model": str,
                "source_tokens": ListOf(str),
                "output": str,
                "output_tokens": ListOf(str),
                "encoder_shape": ListOf(int),
                "cross_shape": ListOf(int),
                "encoder_attention": NESTED,
                "decoder_attention": NESTED,
                "cross_attention": NESTED,
            }
        ),
    ],
}
LIST_COMMANDS = {"models", "datasets"}  # print a list of objects


def run_json(capsys: pytest.CaptureFixture[str], *argv: str, variant: int = 0) -> Any:
    """Run ``python -m playground argv --json`` in-process; the parsed JSON, checked against its schema."""
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    schema = SCHEMAS[argv[0]][variant]
    check(out, ListOf(schema) if argv[0] in LIST_COMMANDS else schema)
    return out


# -- docs/cli.md ---------------------------------------------------------------------------------


def doc_sections() -> dict[str, str]:
    """``docs/cli.md``'s ``## `command` `` sections by command."""
    parts = re.split(r"^## ", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {m.group(1): part for part in parts if (m := re.match(r"`([\w-]+)`\n", part))}


def table_keys(section: str, header: str) -> set[str]:
    """The first-column names of the tables of ``section`` whose header starts with ``| header |``."""
    keys: set[str] = set()
    in_table = False
    for line in section.splitlines():
        if line.startswith(f"| {header} |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and (m := re.match(r"\| `([\w-]+)` \|", line)):
            keys.add(m.group(1))
    return keys


def test_docs_list_every_command_its_flags_and_its_json_keys() -> None:
    sections = doc_sections()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sections) == set(sub.choices) == set(SCHEMAS)
    for command, parser in sub.choices.items():
        flags = {
            s.removeprefix("--")
            for a in parser._actions
            if a.help != argparse.SUPPRESS and a.dest != "help"
            for s in a.option_strings
        }
        assert {f.removeprefix("--") for f in table_keys(sections[command], "flag")} == flags, command
        documented = table_keys(sections[command], "key")
        assert documented == {k for schema in SCHEMAS[command] for k in schema.fields}, command
    shared = re.split(r"^## ", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    objects = next(part for part in shared if part.startswith("Shared objects"))
    assert table_keys(objects, "key") == set(CLASS_SCORE.fields) | set(CHECK.fields)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/cli.md" in readme


def test_flags_are_named_after_the_fields_they_set() -> None:
    """``--top-k`` -> ``top_k`` and so on: every visible flag's ``dest`` is its own name."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in sub.choices.items():
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or action.dest == "help":
                continue
            names = {s.removeprefix("--").replace("-", "_") for s in action.option_strings}
            assert action.dest in names, (command, action.option_strings, action.dest)


# -- every command -------------------------------------------------------------------------------


def test_models_and_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    models = {m["name"]: m for m in run_json(capsys, "models")}
    assert models["lenet5"]["input"] == {"channels": 1, "image_size": 28} and models["lenet5"]["num_classes"] == 10
    assert models["efficientnet_lite0"]["default_weights"] == "imagenet" and models["lstm"]["modality"] == "text"
    datasets = {d["name"]: d for d in run_json(capsys, "datasets")}
    assert (
        datasets["mnist"]["offline"] and datasets["mnist"]["num_classes"] == 10 and datasets["mnist"]["channels"] == 1
    )
    assert datasets["waves"]["modality"] == "sequence"


def test_train_a_tiny_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "run"
    out = run_json(capsys, "train", "--model", "gru", "--dataset", "waves", "--epochs", "1", "--out", str(folder))
    assert out["checkpoint"] == str(folder) and (folder / "card.json").is_file()
    assert out["epochs_completed"] == 1 and out["samples_per_s"] > 0 and out["seconds"] > 0
    assert 0 <= out["val_accuracy"] <= 1 and 0 <= out["train_accuracy"] <= 1 and out["val_loss"] > 0
    check_shared(out, None)


def test_predict_image_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    image = run_json(capsys, "predict", "--model", LENET, "--input", DIGIT_7, "--top-k", "3")
    assert image["input"] == DIGIT_7 and "tokens" not in image
    check_shared(image, DIGITS, k=3)
    assert image["top_k"][0]["label"] == "7" and image["top_k"][0]["probability"] > 0.9

    text = run_json(capsys, "predict", "--model", LSTM, "--text", "(()())")
    assert text["tokens"] == list("(()())") and text["num_dropped_tokens"] == 0
    check_shared(text, BRACKETS)  # 2 classes: all listed, summing to 1
    assert text["top_k"][0]["label"] == "valid"


def test_predict_audio_clips_of_any_format_and_length(capsys: pytest.CaptureFixture[str]) -> None:
    model = str(ROOT / "assets/checkpoints/audio_cnn-fsdd")
    mp3 = run_json(capsys, "predict", "--model", model, "--input", str(ROOT / "assets/samples/audio/three_theo.mp3"))
    assert mp3["top_k"][0]["label"] == "3" and mp3["audio"]["format"].startswith("MP3")
    assert mp3["audio"]["padded"] and len(mp3["audio"]["windows"]) == 1
    long = run_json(
        capsys, "predict", "--model", model, "--input", str(ROOT / "assets/samples/audio/one_four_nine_espeak_f5.flac")
    )
    windows = long["audio"]["windows"]
    assert not long["audio"]["padded"] and len(windows) > 5 and long["audio"]["seconds"] > 5
    assert [w["start_s"] for w in windows[:3]] == [0.0, 0.5, 1.0]  # 1 s windows every 0.5 s
    check_shared(mp3, [str(d) for d in range(10)])


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that must fail; its one ``error:`` line (without the prefix)."""
    assert main(list(argv)) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: "), err
    return err[-1].removeprefix("error: ")


AUDIO_CNN = str(ROOT / "assets/checkpoints/audio_cnn-fsdd")
FIVE = str(ROOT / "assets/samples/audio/five_lucas.ogg")  # a voice outside FSDD, read as 5


def test_explain_an_audio_clip_and_listen_to_the_explanation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["explain", "--model", AUDIO_CNN, "--input", FIVE, "--method", "integrated_gradients"]
    out = run_json(capsys, *argv, "--listen", str(tmp_path / "five"), "--keep", "0.3")
    assert out["modality"] == "audio" and out["target"]["label"] == "5" and out["shape"] == [1, 40, 101]
    assert out["relative_delta"] <= 0.01  # completeness: the attributions sum to F(x) - F(baseline)
    audio = out["audio"]
    assert audio["start_s"] == 0 and audio["window_s"] == 1.0 and audio["keep"] == 0.3
    assert all(0 <= t["time_s"] <= 1 for t in audio["top_times"]) and len(audio["top_times"]) == 10
    assert abs(audio["top_times"][0]["attribution"]) >= abs(audio["top_times"][-1]["attribution"])
    kept, removed = audio["listen"]["kept"], audio["listen"]["removed"]
    assert kept["path"] == str(tmp_path / "five-kept.wav") and (tmp_path / "five-removed.wav").stat().st_size > 1000
    # the 30 % of cells that made the decision still say "5"; the model hears less of it in the rest
    assert kept["heard"]["label"] == "5" and kept["heard"]["probability"] > removed["heard"]["probability"]
    assert refused(capsys, *argv, "--out", str(tmp_path / "map.png")).endswith("use --listen PREFIX or --json")
    assert "are for audio models" in refused(
        capsys, "explain", "--model", LENET, "--input", DIGIT_7, "--method", "saliency", "--listen", "x"
    )


def test_attack_an_audio_clip_on_its_waveform(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wav = tmp_path / "adv.wav"
    argv = ["attack", "--model", AUDIO_CNN, "--input", FIVE, "--method", "pgd", "--steps", "10"]
    out = run_json(capsys, *argv, "--epsilon-amplitude", "0.002", "--out", str(wav), variant=1)
    assert out["clean"]["top_k"][0]["label"] == "5" and out["epsilon_amplitude"] == 0.002 and out["steps"] == 10
    assert out["linf_amplitude"] <= 0.002 + 1e-6 and out["snr_db"] > 20  # a quiet perturbation
    assert out["success"] == (out["adversarial"]["top_k"][0]["index"] != out["clean"]["top_k"][0]["index"])
    assert wav.read_bytes()[:4] == b"RIFF"
    tiny = run_json(capsys, *argv, "--epsilon-amplitude", "0", variant=1)
    assert not tiny["success"] and tiny["linf_amplitude"] == 0 and tiny["snr_db"] is None  # no budget, no change
    assert "untargeted in L∞" in refused(capsys, *argv, "--norm", "L2")


def test_attack_a_text_word_by_word(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from tests.unit.test_text_attack import trained_reviews_lstm

    folder = trained_reviews_lstm().save(tmp_path / "reviews-lstm")
    out = run_json(capsys, "attack", "--model", str(folder), "--text", "The acting was good.", variant=2)
    assert out["method"] == "word" and out["input"] is None and out["success"] and out["queries"] <= 500
    assert out["clean"]["top_k"][0]["label"] == "positive" and out["adversarial"]["top_k"][0]["label"] == "negative"
    assert out["changes"][0]["original"] == "good" and out["adversarial_text"] != out["text"] == "The acting was good."
    note = tmp_path / "review.txt"
    note.write_text("the plot was great and the story was excellent")
    typos = run_json(capsys, "attack", "--model", str(folder), "--input", str(note), "--method", "char", variant=2)
    assert typos["input"] == str(note) and all(c["similarity"] is None for c in typos["changes"])
    assert "attacks text models" in refused(capsys, "attack", "--model", LENET, "--input", DIGIT_7, "--method", "word")
    assert "word or char" in refused(capsys, "attack", "--model", str(folder), "--text", "good", "--method", "pgd")


def test_robustness_of_an_audio_model_gives_each_level_with_its_unit(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["robustness", "--model", AUDIO_CNN, "--dataset", "fsdd", "--samples", "60", "--severities", "0,5"]
    out = run_json(capsys, *argv, "--perturbations", "white_noise,gain")
    assert out["samples"] == 60 and out["clean_accuracy"] >= 0.95  # FSDD's official test recordings
    by_name = {(p["perturbation"], p["severity"]): p for p in out["points"]}
    assert by_name["white_noise", 5.0]["level"] == 0.0 and "ratio in dB" in by_name["white_noise", 5.0]["unit"]
    assert by_name["white_noise", 5.0]["accuracy"] < by_name["white_noise", 0.0]["accuracy"]  # 0 dB SNR hurts
    attacked = run_json(capsys, *argv, "--attack", "pgd", "--epsilons", "0.005,0.001", "--steps", "5")
    curve = [(p["severity"], p["accuracy"], p["median_snr_db"]) for p in attacked["points"]]
    assert [c[0] for c in curve] == [0.0, 0.001, 0.005] and curve[0][2] is None  # ε = 0 always: the clean clips
    assert curve[0][1] == attacked["clean_accuracy"] == out["clean_accuracy"] and curve[2][1] < curve[0][1]
    assert curve[1][2] > curve[2][2] > 20  # a larger budget: a louder perturbation, still quiet
    assert "drop --norm L2" in refused(capsys, *argv, "--attack", "pgd", "--norm", "L2")


def test_predict_and_attention_of_a_seq2seq_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from playground.training.seq2seq import train_seq2seq

    folder = train_seq2seq("reverse", epochs=1, num_examples=64, device="cpu").save(tmp_path / "s2s")
    out = run_json(capsys, "predict", "--model", str(folder), "--text", "123", variant=1)
    assert out["source"] == "123"
    attention = run_json(capsys, "attention", "--model", str(folder), "--text", "123", variant=1)
    assert attention["source_tokens"] == ["1", "2", "3"] and attention["output"] == out["output"]
    layers, heads, t_out, t_src = attention["cross_shape"]
    assert t_src == 3 and t_out == len(attention["output_tokens"])
    assert attention["encoder_shape"] == [layers, heads, 3, 3]
    check_shared(attention, None)


def test_robustness(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["robustness", "--model", LENET, "--dataset", "mnist", "--severities", "0,5", "--samples", "20"]
    out = run_json(capsys, *argv, "--perturbations", "rotation,gaussian_noise")
    assert out["samples"] == 20 and out["dataset"] == "mnist"
    assert [(p["perturbation"], p["severity"]) for p in out["points"]] == [
        ("rotation", 0.0),
        ("rotation", 5.0),
        ("gaussian_noise", 0.0),
        ("gaussian_noise", 5.0),
    ]
    for point in out["points"]:
        assert 0 <= point["accuracy"] <= 1 and 0 <= point["flip_rate"] <= 1 and point["n"] == 20
        if point["severity"] == 0:
            assert point["accuracy"] == out["clean_accuracy"] and point["flip_rate"] == 0
    assert run_json(capsys, *argv, "--perturbation", "rotation")["points"] == out["points"][:2]  # the old name


def test_robustness_attack_gives_accuracy_against_epsilon_in_the_sweep_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["robustness", "--model", LENET, "--dataset", "mnist", "--samples", "20", "--attack", "pgd"]
    out = run_json(capsys, *argv, "--epsilons", "76,8", "--steps", "10")
    assert [(p["perturbation"], p["severity"]) for p in out["points"]] == [
        ("pgd Linf", 0.0),  # always measured: the clean accuracy
        ("pgd Linf", 8.0),
        ("pgd Linf", 76.0),
    ]
    accuracy = [p["accuracy"] for p in out["points"]]
    assert out["clean_accuracy"] == accuracy[0] and accuracy[0] >= accuracy[1] >= accuracy[2]
    assert accuracy[2] <= 0.1 and out["points"][0]["flip_rate"] == 0.0


def test_attack(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "adv.png"
    out = run_json(
        capsys,
        "attack",
        "--model",
        LENET,
        "--input",
        DIGIT_7,
        "--epsilon-255",
        "76",
        "--steps",
        "10",
        "--out",
        str(png),
    )
    assert (out["method"], out["norm"], out["epsilon_255"], out["steps"]) == ("pgd", "Linf", 76, 10)
    assert out["target_class"] is None and out["out"] == str(png) and png.stat().st_size > 0
    check_shared(out, DIGITS)
    clean, adversarial = out["clean"]["top_k"][0], out["adversarial"]["top_k"][0]
    assert clean["label"] == "7" and out["success"] == (adversarial["index"] != clean["index"])
    assert out["linf_255"] <= 76 + 1e-3 and out["l2"] > 0

    targeted = run_json(
        capsys,
        "attack",
        "--model",
        LENET,
        "--input",
        DIGIT_7,
        "--epsilon",
        "76",
        "--target-class",
        "3",
        "--top-k",
        "2",
        "--steps",
        "10",
    )  # --epsilon: the earlier name of --epsilon-255
    assert targeted["epsilon_255"] == 76 and targeted["target_class"] == 3 and targeted["out"] is None
    check_shared(targeted, DIGITS, k=2)
    assert targeted["success"] == (targeted["adversarial"]["top_k"][0]["index"] == 3)


def test_rnn_states(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "rnn-states", "--model", LSTM, "--text", "(()(()))", "--top-k", "1")
    assert out["tokens"] == list("(()(()))") and out["num_dropped_tokens"] == 0 and out["cell"] == "lstm"
    assert len(out["layers"]) == out["num_layers"] * out["num_directions"]
    for state in out["layers"]:
        assert len(state["hidden_state"]) == 8 and len(state["hidden_state"][0]) == out["hidden_size"]
        assert set(state["gates"]) == {"input", "forget", "candidate", "output"}
        assert all(len(gate) == 8 for gate in state["gates"].values())
        assert all(0 <= v <= 1 for v in state["gates"]["forget"][0])  # a sigmoid
    check_shared(out, BRACKETS, k=1)
    assert out["top_k"][0]["label"] == "valid"
    assert out["check"]["matches"] and out["check"]["device"] == "cpu"
    diffs = (out["check"]["output_diff"], out["check"]["final_state_diff"], out["check"]["layers_diff"])
    assert out["check"]["max_abs_diff"] == max(diffs)


def test_explain_image_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    image = run_json(capsys, "explain", "--model", LENET, "--input", DIGIT_7, "--method", "integrated_gradients")
    assert image["modality"] == "image" and image["shape"] == [1, 28, 28] and image["out"] is None
    check(image["target"], CLASS_SCORE)
    assert image["target"]["label"] == DIGITS[image["target"]["index"]] == "7"
    assert 0.9 < image["target"]["probability"] <= 1
    completeness = image["completeness"]
    assert completeness["sum"] == pytest.approx(image["summary"]["sum"], rel=1e-6)
    assert completeness["sum"] - completeness["output_difference"] == pytest.approx(image["convergence_delta"])
    assert image["params"]["n_steps"] == 50 and image["relative_delta"] <= 0.01

    text = run_json(
        capsys,
        "explain",
        "--model",
        LSTM,
        "--text",
        "(()",
        "--method",
        "occlusion",
        "--target",
        "1",
        "--n-samples",
        "8",
    )
    assert text["modality"] == "text" and text["shape"] == [3] and text["params"]["n_samples"] == 8
    assert text["target"]["index"] == 1 and text["target"]["label"] == "valid"
    assert sorted(t["position"] for t in text["top_tokens"]) == [0, 1, 2]
    check_shared(text, BRACKETS)


def test_attention_text_and_image(capsys: pytest.CaptureFixture[str]) -> None:
    text = run_json(capsys, "attention", "--model", "minilm", "--text", "The cat sat.", "--decimals", "4")
    tokens = text["tokens"]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and text["num_dropped_tokens"] == 0
    assert text["shape"] == [6, 12, len(tokens), len(tokens)] and text["max_row_sum_error"] < 1e-5
    assert len(text["rollout"]) == len(tokens)
    assert text["check"]["matches"] and (text["check"]["layer"], text["check"]["head"]) == (5, 0)
    check_shared(text, None)

    image = run_json(capsys, "attention", "--model", VIT, "--input", DIGIT_7, "--top-k", "10")
    assert image["patch_grid"] == [7, 7] and image["input"] == DIGIT_7 and len(image["tokens"]) == 50
    check_shared(image, DIGITS, k=10)  # every class: the probabilities sum to 1
    assert image["top_k"][0]["label"] == "7"
