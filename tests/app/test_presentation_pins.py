"""Presentation mode folds a page's controls away except the ones the presenter pins (issue 14)."""

from __future__ import annotations

import ast
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.apptools import assert_clean
from tests.app.conftest import ROOT
from tests.app.test_links import open_link
from ui.presentation import CONTROL_NAMES, control_name, css_class


def hiding_styles(at: AppTest) -> str:
    """The CSS rules that hide controls (a style-only ``st.html`` goes to the page's event container)."""
    return "".join(e.proto.body for e in at.get("html") if "display: none" in e.proto.body)


def test_the_features_page_folds_its_controls_until_one_is_pinned(runs_dir: Path, navigation_mode: None) -> None:
    at = open_link("pages/features.py", present="1")
    assert_clean(at)
    pins = at.multiselect(key="pin_features")
    assert {"layer", "colour scale", "order channels by", "input image"} <= set(pins.options)  # their names
    styles = hiding_styles(at)
    assert f".{css_class('f_layer')}" in styles and f".{css_class('f_scale')}" in styles
    assert at.expander[0].label.startswith("Controls: 0 pinned")

    pins.set_value(["f_layer"]).run()
    styles = hiding_styles(at)
    assert f".{css_class('f_layer')}," not in styles and f".{css_class('f_layer')} " not in styles
    assert f".{css_class('f_scale')}" in styles
    assert at.query_params["pin_features"] == '["f_layer"]'
    assert at.expander[0].label.startswith("Controls: 1 pinned")

    at.toggle(key="pin_show_all").set_value(True).run()
    assert hiding_styles(at) == ""


def test_a_link_brings_its_pins_and_no_presentation_draws_no_pins(runs_dir: Path, navigation_mode: None) -> None:
    at = open_link("pages/features.py", present="1", pin_features='["f_scale"]')
    assert at.multiselect(key="pin_features").value == ["f_scale"]
    assert f".{css_class('f_scale')}" not in hiding_styles(at)
    plain = open_link("pages/features.py")
    assert not [m for m in plain.multiselect if m.key.startswith("pin_")] and hiding_styles(plain) == ""


def test_css_class_follows_streamlits_rule() -> None:
    assert css_class("f_in_features.0") == "st-key-f_in_features-0"
    assert css_class(" a b ") == "st-key-a-b"


def linked_keys() -> list[str]:
    """Every literal key the pages and widgets tie to the link (``key=link("...")``)."""
    keys = []
    for path in [*ROOT.joinpath("pages").glob("*.py"), *ROOT.joinpath("ui").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "link" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.append(first.value)
    return keys


def test_every_control_has_a_name_that_reads() -> None:
    keys = linked_keys()
    assert len(keys) > 60
    for key in keys:
        name = control_name(key)
        rest = key.partition("_")[2]
        # a name from the table, or the key's own words where they read ("layer", "seed", "method")
        assert (
            name in CONTROL_NAMES.values()
            or (len(rest) > 2 and name == rest.replace("_", " "))
            or key
            in (
                "present",
                "export",
                "pretrained",
                "checkpoint",
            )
        ), key
    assert control_name("x_p_n_steps") == "n_steps" and control_name("r_adv_eps") == "attack ε"
    assert (
        control_name("x_text_example_sst2") == "example (sst2)"
        and control_name("f_in_conv1") == "input channel (conv1)"
    )
    assert control_name("r_audio_source") == "input source"
